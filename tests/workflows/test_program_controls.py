"""What a coordinator steers: pause and resume, cancel, closing recruitment, adding people, editing matches."""

from datetime import timedelta
from typing import Any

from domain.answers import Approval, CoordinatorAction, NewParticipant, OptIn, PairChoice
from domain.metrics import PairingOutcome, PairingSummary
from domain.pairing import PairingStage
from domain.people import Role
from domain.program import ProgramPhase
from domain.prompts import PromptKind
from domain.views import MemberStatus
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, NEWCOMER, S0, S1, roster, spec
from tests.helpers.programs import (
    AS_COORDINATOR,
    Handle,
    member,
    pairing_of,
    pairing_view,
    pending_prompts,
    refusal,
    result,
    start_program,
    status,
)
from tests.helpers.waiting import skip


async def act(handle: Handle, update: str, arg: Any) -> str:
    reply: str = await handle.execute_update(update, arg, result_type=str)
    return reply


# Pause and resume


async def test_pause_during_recruitment_stops_the_clock_until_resumed(harness: Harness) -> None:
    handle = await start_program(harness, spec(durations={"recruitment": "2d"}), roster(1))
    await act(handle, "opt_in", OptIn(participant=J0, consent_to_ground_rules=True))  # so training has work
    await skip(harness.env, timedelta(days=1))

    await act(handle, "pause", AS_COORDINATOR)
    await skip(harness.env, timedelta(days=5))  # far past the two-day recruitment window

    paused = await status(handle)
    assert (paused.phase, paused.paused) == (ProgramPhase.RECRUITMENT, True)
    [opt_in] = await pending_prompts(handle, S0)
    assert (opt_in.kind, opt_in.paused, opt_in.due_at) == (PromptKind.OPT_IN, True, None)

    await act(handle, "resume", AS_COORDINATOR)
    [opt_in] = await pending_prompts(handle, S0)
    assert opt_in.due_at is not None and not opt_in.paused
    left = opt_in.due_at - await harness.env.get_current_time()
    assert abs(left - timedelta(days=1)) < timedelta(minutes=1)  # what was left at the pause
    await skip(harness.env, timedelta(hours=20))
    assert (await status(handle)).phase == ProgramPhase.RECRUITMENT
    await skip(harness.env, timedelta(hours=6))
    assert (await status(handle)).phase == ProgramPhase.TRAINING


async def test_pause_during_mentoring_holds_every_pairing_and_its_cycle(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    personas = personas_for(people)

    async def mentoring_started() -> bool:
        pairing_id = (await member(handle, J0)).pairing_id
        return pairing_id is not None and (await pairing_view(await pairing_of(harness, handle, J0))).cycle == 1

    await drive(harness, handle, personas, until_true=mentoring_started)
    pairings = [await pairing_of(harness, handle, e) for e in (J0, J1)]

    await act(handle, "pause", AS_COORDINATOR)
    await skip(harness.env, timedelta(weeks=3))  # longer than the whole program

    for pairing in pairings:
        view = await pairing_view(pairing)
        assert (view.paused, view.cycle, view.stage) == (True, 1, PairingStage.MENTORING)
        assert all(p.paused and p.due_at is None for p in await pending_prompts(pairing, view.mentee))
    await act(handle, "resume", AS_COORDINATOR)
    assert [(await pairing_view(p)).paused for p in pairings] == [False, False]
    check_in = next(p for p in await pending_prompts(pairings[0], S0) if p.kind == PromptKind.CHECK_IN)
    assert check_in.due_at is not None
    left = check_in.due_at - await harness.env.get_current_time()
    await skip(harness.env, left - timedelta(hours=1))
    assert (await pairing_view(pairings[0])).cycle == 1
    await skip(harness.env, timedelta(hours=2))
    assert (await pairing_view(pairings[0])).cycle == 2
    await drive(harness, handle, personas)
    assert (await result(handle)).metrics.pairings_completed == 2


# Cancel


async def test_cancel_tells_everyone_ends_running_pairings_and_reports_cancelled(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MENTORING)
    pairings = [await pairing_of(harness, handle, e) for e in (J0, J1)]

    await act(handle, "cancel", CoordinatorAction(coordinator=COORDINATOR, reason="budget freeze"))

    outcome = await result(handle)
    assert outcome.cancelled and outcome.outcome == "cancelled: budget freeze"
    assert (await status(handle)).phase == ProgramPhase.CANCELLED
    for pairing in pairings:
        await pairing.result()
        ended = await pairing.query("summary", result_type=PairingSummary)
        assert ended.outcome == PairingOutcome.CANCELLED
    told = [n for n in harness.notices() if n["kind"] == "info" and "cancelled" in str(n["key"])]
    assert sorted(n["to"] for n in told) == sorted([*(p.email for p in people), COORDINATOR])
    assert all("budget freeze" in str(n["body"]) for n in told)


# Recruitment


async def test_closing_recruitment_early_moves_to_training_and_refuses_late_opt_ins(harness: Harness) -> None:
    handle = await start_program(harness, spec(), roster(2))
    for email in (J0, S0):
        await act(handle, "opt_in", OptIn(participant=email, consent_to_ground_rules=True))

    reply = await act(handle, "close_recruitment", AS_COORDINATOR)
    await skip(harness.env, timedelta(minutes=1))  # let the workflow act on it; nowhere near the 2-day window

    assert "2 opted in" in reply
    assert (await status(handle)).phase == ProgramPhase.TRAINING
    message = await refusal(act(handle, "opt_in", OptIn(participant=J1, consent_to_ground_rules=True)))
    assert "recruitment" in message and "has closed" in message
    assert (await member(handle, J1)).status == MemberStatus.NOT_JOINED
    assert await pending_prompts(handle, J1) == []


async def test_adding_a_participant_invites_them_while_recruitment_is_open_only(harness: Harness) -> None:
    handle = await start_program(harness, spec(), roster(1))

    reply = await act(handle, "add_participant", NewParticipant(coordinator=COORDINATOR, participant=NEWCOMER))

    assert "New Comer is invited" in reply
    assert [p.kind for p in await pending_prompts(handle, NEWCOMER.email)] == [PromptKind.OPT_IN]
    await act(handle, "opt_in", OptIn(participant=NEWCOMER.email, consent_to_ground_rules=True))
    await act(handle, "close_recruitment", AS_COORDINATOR)
    await skip(harness.env, timedelta(minutes=1))
    late = NEWCOMER.model_copy(update={"email": "later@example.com"})
    message = await refusal(act(handle, "add_participant", NewParticipant(coordinator=COORDINATOR, participant=late)))
    assert "only be added while recruitment is open" in message
    assert (await member(handle, NEWCOMER.email)).status == MemberStatus.OPTED_IN
    assert [n["prompt_id"] for n in harness.notices() if n["to"] == NEWCOMER.email][:1] == ["opt-in"]
    assert (await status(handle)).funnel.invited == 3


# Matching


async def test_an_edited_match_must_keep_the_hard_constraints_and_starts_exactly_as_edited(harness: Harness) -> None:
    people = [p.model_copy(update={"role": Role.EITHER}) if p.email == S1 else p for p in roster(2)]
    handle = await start_program(harness, spec(), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MATCHING)
    proposal = (await status(handle)).proposal
    assert proposal is not None and {(p.mentor, p.mentee) for p in proposal.pairs} == {(J0, S0), (J1, S1)}

    senior_mentors_senior = Approval(coordinator=COORDINATOR, pairs=[PairChoice(mentor=S1, mentee=S0)])
    message = await refusal(act(handle, "approve_matches", senior_mentors_senior))
    assert f"{S1} cannot mentor {S0}" in message and "the mentor must be less senior than the mentee" in message
    assert (await status(handle)).awaiting_approval

    swapped = [PairChoice(mentor=J0, mentee=S1), PairChoice(mentor=J1, mentee=S0)]
    await act(handle, "approve_matches", Approval(coordinator=COORDINATOR, pairs=swapped))
    await skip(harness.env, timedelta(minutes=1))

    started = {
        (v.mentor, v.mentee) for v in [await pairing_view(await pairing_of(harness, handle, e)) for e in (J0, J1)]
    }
    assert started == {(J0, S1), (J1, S0)}
    assert (await status(handle)).pairings_running == 2
