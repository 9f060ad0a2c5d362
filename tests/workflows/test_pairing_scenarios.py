"""Pairings when people do not follow the happy path: declines, silence, low pulses, missed check-ins, withdrawal."""

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from demo.personas import Persona
from domain.answers import Pulse, TrainingCompleted, Withdrawal
from domain.metrics import PairingOutcome, PairingSummary
from domain.pair_record import PairRecord
from domain.pairing import PairingStage
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from domain.views import MemberStatus
from tests.helpers.driving import Condition, drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, S0, S1, roster, spec
from tests.helpers.programs import (
    Handle,
    member,
    pairing_handle,
    pairing_of,
    pairing_view,
    pending_prompts,
    result,
    start_program,
    status,
)

DECLINE_REASON = "I would prefer someone outside my own team"  # what Persona gives as the reason


def short_spec() -> ProgramSpec:
    """Three weeks of mentoring: enough for three check-in cycles, a mid-point and a rematch."""
    return spec(durations={"program_length": "3w"})


def notices_to(harness: Harness, email: str) -> list[dict[str, Any]]:
    return [n for n in harness.notices() if n["to"] == email]


def pairing_ids(harness: Harness) -> list[str]:
    return sorted({str(n["pairing_id"]) for n in harness.notices() if n["pairing_id"]})


async def everything_people_can_read(harness: Harness, program: Handle, people: list[str]) -> str:
    """Every query result of the program and of every pairing it started, as one JSON text."""
    results: list[Any] = [(await status(program)).model_dump(mode="json")]
    for email in people:
        results.append((await member(program, email)).model_dump(mode="json"))
        results.append([p.model_dump(mode="json") for p in await pending_prompts(program, email)])
    for pairing_id in pairing_ids(harness):
        pairing = pairing_handle(harness, pairing_id)
        view = await pairing_view(pairing)
        results += [view.model_dump(mode="json"), (await summary(pairing)).model_dump(mode="json")]
        for email in (view.mentor, view.mentee):
            results.append((await pair_record(pairing, email)).model_dump(mode="json"))
            results.append([p.model_dump(mode="json") for p in await pending_prompts(pairing, email)])
    return json.dumps(results)


async def pair_record(pairing: Handle, email: str) -> PairRecord:
    record: PairRecord = await pairing.query("pair_record", email, result_type=PairRecord)
    return record


async def summary(pairing: Handle) -> PairingSummary:
    found: PairingSummary = await pairing.query("summary", result_type=PairingSummary)
    return found


# Declines and silence


async def test_a_decline_ends_the_pairing_tells_only_the_coordinator_why_and_rematches_both(harness: Harness) -> None:
    people = roster(2)  # junior00+senior00 and junior01+senior01 fit best; both mentors decline their first match
    handle = await start_program(harness, short_spec(), people)
    personas = personas_for(people, junior00=Persona(J0, decline_match=True), junior01=Persona(J1, decline_match=True))
    await drive(harness, handle, personas, until=ProgramPhase.MENTORING)
    first = await pairing_of(harness, handle, J0)
    assert (await pairing_view(first)).mentee == S0

    await drive(harness, handle, personas)
    outcome = await result(handle)

    assert (await summary(first)).outcome == PairingOutcome.DECLINED
    assert (await summary(first)).ended_by == [J0]
    rematched = {
        (v.mentor, v.mentee) for v in [await pairing_view(await pairing_of(harness, handle, e)) for e in (J0, J1)]
    }
    assert rematched == {(J0, S1), (J1, S0)}
    assert (await member(handle, S0)).status == MemberStatus.COMPLETED
    assert outcome.metrics.pairings_completed == 2
    assert (await status(handle)).pairings_by_outcome == {"declined": 2, "completed": 2}
    to_coordinator = [n for n in notices_to(harness, COORDINATOR) if DECLINE_REASON in n["body"]]
    assert len(to_coordinator) == 2 and all(n["kind"] == "alert" for n in to_coordinator)
    assert not [n for n in harness.notices() if n["to"] != COORDINATOR and DECLINE_REASON in json.dumps(n)]
    assert DECLINE_REASON not in await everything_people_can_read(harness, handle, [p.email for p in people])
    assert DECLINE_REASON not in json.dumps([e.model_dump(mode="json") for e in harness.store.read()])
    partner_told = [n for n in notices_to(harness, S0) if "declined" in n["key"]]
    assert len(partner_told) == 1 and "nobody is at fault" in partner_told[0]["body"]


async def test_silence_makes_the_silent_person_inactive_and_the_responder_is_rematched(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, short_spec(), people)
    personas = personas_for(  # senior00 never answers the match; junior01 declines, which frees senior01
        people,
        senior00=Persona(S0, silent={PromptKind.ACCEPT_MATCH}),
        junior01=Persona(J1, decline_match=True),
    )
    await drive(harness, handle, personas, until=ProgramPhase.MENTORING)
    first = await pairing_of(harness, handle, J0)

    await drive(harness, handle, personas)
    await result(handle)

    assert (await summary(first)).outcome == PairingOutcome.UNANSWERED
    assert (await summary(first)).ended_by == [S0]
    assert (await member(handle, S0)).status == MemberStatus.INACTIVE
    rematch = await pairing_view(await pairing_of(harness, handle, J0))
    assert (rematch.mentor, rematch.mentee, rematch.outcome) == (J0, S1, PairingOutcome.COMPLETED)
    assert (await member(handle, J1)).status == MemberStatus.UNMATCHED  # nobody left who fits
    silent_told = [n for n in notices_to(harness, S0) if "unanswered" in n["key"]]
    responder_told = [n for n in notices_to(harness, J0) if "unanswered" in n["key"]]
    assert len(silent_told) == 1 and "did not hear from you" in silent_told[0]["body"]
    assert len(responder_told) == 1 and "another partner" in responder_told[0]["body"]


# What the coordinator hears about, and what the mentee never sees


def without_times(value: Any) -> Any:
    """A query result with its wall-clock fields removed, so two reads compare on content alone."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k != "due_at"}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


async def what_the_mentee_can_read(program: Handle, pairing: Handle, mentee: str) -> Any:
    results: list[Any] = [
        await pairing_view(pairing),
        await pending_prompts(pairing, mentee),
        await pair_record(pairing, mentee),
        await summary(pairing),
        await status(program),
        await member(program, mentee),
        await pending_prompts(program, mentee),
    ]
    dumped = [
        [r.model_dump(mode="json") for r in x] if isinstance(x, list) else x.model_dump(mode="json") for x in results
    ]
    return without_times(dumped)


def in_mentoring(program: Handle, harness: Harness, email: str, cycle: int) -> Condition:
    """True once the person's pairing has opened check-in `cycle`."""

    async def reached() -> bool:
        pairing_id = (await member(program, email)).pairing_id
        return pairing_id is not None and (await pairing_view(pairing_handle(harness, pairing_id))).cycle >= cycle

    return reached


async def test_a_low_pulse_alerts_the_coordinator_once_and_changes_nothing_the_mentee_can_see(
    harness: Harness,
) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    personas = personas_for(people)
    await drive(harness, handle, personas, until_true=in_mentoring(handle, harness, J0, cycle=1))
    pairing = await pairing_of(harness, handle, J0)
    before = await what_the_mentee_can_read(handle, pairing, S0)

    reply = await pairing.execute_update(
        "answer_pulse", Pulse(participant=J0, cycle=1, safe_and_useful=1), result_type=str
    )

    assert "Only your coordinator" in reply
    assert await what_the_mentee_can_read(handle, pairing, S0) == before
    await drive(harness, handle, personas)  # later pulses are answered 5: no further alert
    await result(handle)
    alerts = [n for n in harness.notices() if n["kind"] == "alert" and "pulse" in n["key"]]
    assert [(n["to"], n["key"].split("/")[1]) for n in alerts] == [(COORDINATOR, "pulse-1")]
    to_mentee = json.dumps(notices_to(harness, S0)).lower()
    assert "pulse" not in to_mentee and "safe and useful" not in to_mentee and "private" not in to_mentee


async def test_a_mentor_who_answers_low_every_cycle_raises_one_alert_for_the_streak(harness: Harness) -> None:
    """The demo raised six alerts for one mentor: the coordinator hears when a streak of low pulses begins."""
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    await drive(harness, handle, personas_for(people, junior00=Persona(J0, low_pulse=True)))
    await result(handle)

    pulses = [e for e in harness.store.read(handle.id) if e.kind == "survey_answered" and e.fact.survey == "pulse"]  # type: ignore[union-attr]
    alerts = [n for n in harness.notices() if n["kind"] == "alert" and "/pulse-" in n["key"]]
    assert len(pulses) >= 3  # a low answer every cycle
    assert [n["key"].split("/")[1] for n in alerts] == ["pulse-1"]


async def test_a_pair_that_meets_but_rates_its_progress_low_is_flagged_at_risk_once(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    low = {"junior00": Persona(J0, progress=2), "senior00": Persona(S0, progress=1)}
    await drive(harness, handle, personas_for(people, **low))
    await result(handle)

    alerts = [n for n in harness.notices() if n["kind"] == "alert" and "/low-progress-" in n["key"]]
    assert [(n["to"], n["key"].split("/")[1]) for n in alerts] == [(COORDINATOR, "low-progress-2")]
    assert "rated their progress low 2 check-ins in a row" in alerts[0]["body"]
    pairing = await pairing_of(harness, handle, J0)
    assert (await summary(pairing)).at_risk
    assert (await status(handle)).pairings_by_outcome == {"completed": 1}


@dataclass
class MeetsExcept(Persona):
    """Answers every check-in, saying the pair did not meet in the given cycles."""

    missed: set[int] = field(default_factory=set)

    def fields_for(self, prompt: PendingPrompt) -> dict[str, Any] | None:
        fields = super().fields_for(prompt)
        if fields is not None and prompt.kind == PromptKind.CHECK_IN and prompt.context.cycle in self.missed:
            return {**fields, "met": False, "progress": 2}
        return fields


async def test_missed_check_ins_raise_one_alert_per_streak(harness: Harness) -> None:
    people = roster(1)
    every_three_days = spec(
        durations={"checkin_cadence": "3d", "program_length": "4w"}, reminders={"missed_checkins_alert": 2}
    )
    handle = await start_program(harness, every_three_days, people)
    missed = {2, 3, 4, 5, 7, 8}  # a streak of four, one meeting, then a streak of two
    personas = personas_for(people, junior00=MeetsExcept(J0, missed=missed), senior00=MeetsExcept(S0, missed=missed))

    def missed_alerts() -> list[int]:
        keys = [str(n["key"]) for n in harness.notices() if n["kind"] == "alert" and "missed" in n["key"]]
        return sorted(int(key.split("/")[1].removeprefix("missed-")) for key in keys)

    await drive(harness, handle, personas, until_true=in_mentoring(handle, harness, J0, cycle=7))
    assert missed_alerts() == [3]  # the four-cycle streak alerted once, when it reached two
    await drive(harness, handle, personas)
    await result(handle)

    assert missed_alerts() == [3, 8]
    final = await summary(await pairing_of(harness, handle, J0))
    assert (final.cycles_run, final.cycles_met) == (8, 2)


# Withdrawal: anyone may leave at any time; what they answered stays


async def withdraw(handle: Handle, email: str) -> str:
    reply: str = await handle.execute_update(
        "withdraw", Withdrawal(participant=email, reason="workload"), result_type=str
    )
    return reply


def status_is(handle: Handle, email: str, wanted: MemberStatus) -> Condition:
    async def reached() -> bool:
        return (await member(handle, email)).status == wanted

    return reached


async def finish(harness: Harness, handle: Handle) -> None:
    """Everyone else answers as usual until the program completes."""
    await drive(harness, handle, personas_for(roster(2)))
    outcome = await result(handle)
    assert not outcome.cancelled
    assert (await status(handle)).phase == ProgramPhase.COMPLETED


async def test_withdrawing_during_recruitment_keeps_the_opt_in_and_the_program_completes(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(2))
    await drive(harness, handle, personas_for(roster(2)), until_true=status_is(handle, J0, MemberStatus.OPTED_IN))

    reply = await withdraw(handle, J0)

    assert "Nothing you wrote is lost" in reply
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    await finish(harness, handle)
    final = await status(handle)
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    assert (final.funnel.opted_in, final.funnel.withdrawn) == (4, 1)
    assert final.pairings_by_outcome == {"completed": 1}
    assert not [n for n in notices_to(harness, J0) if n["kind"] == "prompt" and n["prompt_id"] != "opt-in"]


async def test_withdrawing_during_training_keeps_the_modules_done_and_the_program_completes(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(2))
    await drive(harness, handle, personas_for(roster(2)), until=ProgramPhase.TRAINING)
    await handle.execute_update(
        "complete_training", TrainingCompleted(participant=J0, modules=["reverse-mentoring-101"])
    )

    await withdraw(handle, J0)

    assert await pending_prompts(handle, J0) == []
    await finish(harness, handle)
    withdrawn = await member(handle, J0)
    assert (withdrawn.status, withdrawn.modules_done) == (MemberStatus.WITHDRAWN, ["reverse-mentoring-101"])
    assert (await status(handle)).pairings_by_outcome == {"completed": 1}


async def test_withdrawing_from_a_proposed_pair_shrinks_the_proposal_and_the_partner_is_told(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(2))
    await drive(harness, handle, personas_for(roster(2)), until=ProgramPhase.MATCHING)
    proposal = (await status(handle)).proposal
    assert proposal is not None and (J0, S0) in {(p.mentor, p.mentee) for p in proposal.pairs}

    await withdraw(handle, J0)

    shrunk = (await status(handle)).proposal
    assert shrunk is not None and {(p.mentor, p.mentee) for p in shrunk.pairs} == {(J1, S1)}
    await finish(harness, handle)
    partner = await member(handle, S0)
    assert partner.status == MemberStatus.UNMATCHED and "withdrew" in (partner.unmatched_reason or "")
    told = [n for n in notices_to(harness, S0) if "unmatched" in n["key"]]
    assert len(told) == 1 and "withdrew" in told[0]["body"]
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    assert (await status(handle)).pairings_by_outcome == {"completed": 1}


async def test_withdrawing_at_the_introduction_ends_the_pairing_and_the_partner_is_told(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(2))
    await drive(harness, handle, personas_for(roster(2)), until=ProgramPhase.MENTORING)
    pairing = await pairing_of(harness, handle, J0)
    assert (await pairing_view(pairing)).stage == PairingStage.INTRODUCTION

    await withdraw(handle, J0)

    await finish(harness, handle)
    ended = await summary(pairing)
    assert (ended.outcome, ended.ended_by) == (PairingOutcome.WITHDRAWN, [J0])
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    assert (await member(handle, S0)).status == MemberStatus.UNMATCHED  # back in the pool; nobody else was free
    told = [n for n in notices_to(harness, S0) if "withdrawn" in n["key"]]
    assert len(told) == 1 and "stepped back" in told[0]["subject"]
    assert [n["to"] for n in harness.notices() if n["key"] == f"{pairing.id}/withdrawn/{COORDINATOR}"] == [COORDINATOR]


async def test_withdrawing_while_mentoring_keeps_the_check_ins_for_the_partner(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(2))
    await drive(harness, handle, personas_for(roster(2)), until_true=in_mentoring(handle, harness, J0, cycle=2))
    pairing = await pairing_of(harness, handle, J0)
    logged = (await pair_record(pairing, S0)).checkins
    assert {(c.cycle, c.participant) for c in logged} == {(1, J0), (1, S0)}

    await withdraw(pairing, J0)  # from the pairing itself, as a participant answering there would

    await finish(harness, handle)
    assert (await pair_record(pairing, S0)).checkins == logged
    ended = await summary(pairing)
    assert (ended.outcome, ended.ended_by, ended.cycles_met) == (PairingOutcome.WITHDRAWN, [J0], 1)
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    assert len([n for n in notices_to(harness, S0) if "withdrawn" in n["key"]]) == 1
    assert (await status(handle)).pairings_by_outcome == {"withdrawn": 1, "completed": 1}


async def test_someone_who_withdraws_while_waiting_in_the_pool_is_never_rematched(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(2))
    await drive(harness, handle, personas_for(roster(2)), until=ProgramPhase.MENTORING)
    await withdraw(handle, J0)  # senior00 goes back to the pool ...
    nobody_answers: dict[str, Persona] = {}
    await drive(
        harness,
        handle,
        nobody_answers,
        step=timedelta(hours=1),
        until_true=status_is(handle, S0, MemberStatus.UNMATCHED),
    )
    await withdraw(handle, S0)  # ... and leaves from there

    # junior01 declines senior01, so junior01 is free and senior00 would fit them
    await drive(harness, handle, personas_for(roster(2), junior01=Persona(J1, decline_match=True)))

    left = await member(handle, S0)
    assert (left.status, left.pairing_id) == (MemberStatus.WITHDRAWN, None)
    match_prompts = [n for n in notices_to(harness, S0) if n["prompt_id"] == "accept-match" and n["kind"] == "prompt"]
    assert len(match_prompts) == 1  # the first match only
    assert (await member(handle, J1)).status == MemberStatus.UNMATCHED
    assert (await status(handle)).phase == ProgramPhase.COMPLETED
