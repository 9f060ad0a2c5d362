"""Every update refuses bad input with a sentence a person can read, and leaves no trace of it.

These run on the local dev server (`dev_harness`): it drops the workflow task of an update its validator
rejects, as production does, so "no new history event" can be checked exactly. Programs here move only by
answers and coordinator actions, never by time.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from demo.personas import Persona
from domain.answers import Approval, CheckIn, OptIn
from domain.metrics import PairingSummary
from domain.pair_record import PairRecord
from domain.pairing import PairingStage
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt, PromptKind
from domain.views import MemberStatus
from flipside_client import Refused, build_answer, new_answer_id, prompts_for, send_answer
from tests.helpers.driving import answer_until, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, S0, roster, spec
from tests.helpers.programs import (
    AS_COORDINATOR,
    Handle,
    history_length,
    member,
    once_started,
    pairing_of,
    pairing_view,
    refusal,
    settled_history_length,
    start_program,
    status,
)

PEOPLE = roster(1)


# Reading a workflow's state


def dumped(results: list[Any]) -> list[Any]:
    return [
        [r.model_dump(mode="json") for r in x] if isinstance(x, list) else x.model_dump(mode="json") for x in results
    ]


async def program_state(program: Handle) -> list[Any]:
    results: list[Any] = [await status(program)]
    for email in (J0, S0, COORDINATOR):
        results.append(await program.query("pending_prompts", email, result_type=list[PendingPrompt]))
    results += [await member(program, email) for email in (J0, S0)]
    return dumped(results)


async def pairing_state(pairing: Handle) -> list[Any]:
    results: list[Any] = [await pairing_view(pairing), await pairing.query("summary", result_type=PairingSummary)]
    for email in (J0, S0):
        results.append(await pairing.query("pending_prompts", email, result_type=list[PendingPrompt]))
        results.append(await pairing.query("pair_record", email, result_type=PairRecord))
    return dumped(results)


async def assert_refused_without_trace(
    target: Handle, read_state: Callable[[], Awaitable[Any]], send: Callable[[], Awaitable[object]], *words: str
) -> None:
    """`send()` is refused with a message holding `words`; the target's history and state stay as they were."""
    events_before = await settled_history_length(target)
    state_before = await read_state()

    message = await refusal(send())

    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert await history_length(target) == events_before
    assert await read_state() == state_before


# Getting a program to the point each refusal is about


async def invited(h: Harness) -> Handle:
    handle = await start_program(h, spec(), PEOPLE)

    async def invitations_out() -> bool:
        return len(await prompts_for(h.client, handle.id, J0)) == 1

    await answer_until(h, handle, {}, invitations_out)
    return handle


async def awaiting_approval(h: Harness) -> Handle:
    handle = await invited(h)
    participants = {p.email: Persona(p.email) for p in PEOPLE}  # the coordinator does not approve yet

    async def all_opted_in() -> bool:
        return (await status(handle)).funnel.opted_in == len(PEOPLE)

    async def proposal_waiting() -> bool:
        current = await status(handle)
        return current.phase == ProgramPhase.MATCHING and current.proposal is not None and current.awaiting_approval

    await answer_until(h, handle, participants, all_opted_in)
    await handle.execute_update("close_recruitment", AS_COORDINATOR)
    await answer_until(h, handle, participants, proposal_waiting)
    return handle


async def paired_until(h: Harness, stage: PairingStage, silent: set[PromptKind]) -> tuple[Handle, Handle]:
    """A program whose one pairing reached `stage`, where both people leave the `silent` prompts open."""
    handle = await awaiting_approval(h)
    personas = personas_for(PEOPLE, junior00=Persona(J0, silent=silent), senior00=Persona(S0, silent=silent))

    async def reached() -> bool:
        pairing_id = (await member(handle, J0)).pairing_id
        if pairing_id is None:
            return False
        view = await pairing_view(h.client.get_workflow_handle(pairing_id))
        return view.stage == stage and (stage != PairingStage.MENTORING or view.cycle == 1)

    await answer_until(h, handle, personas, once_started(reached))
    return handle, await pairing_of(h, handle, J0)


async def prompt_of(h: Harness, handle: Handle, email: str, kind: PromptKind) -> PendingPrompt:
    return next(p for p in await prompts_for(h.client, handle.id, email) if p.kind == kind)


# Program updates


async def test_opting_in_without_consenting_to_the_ground_rules_is_refused(dev_harness: Harness) -> None:
    handle = await invited(dev_harness)
    prompt = await prompt_of(dev_harness, handle, J0, PromptKind.OPT_IN)
    no_consent = build_answer(prompt, J0, {"consent_to_ground_rules": False})

    await assert_refused_without_trace(
        handle,
        lambda: program_state(handle),
        lambda: send_answer(dev_harness.client, prompt, no_consent),
        "consent to the ground rules",
    )


async def test_someone_not_on_the_roster_cannot_opt_in(dev_harness: Harness) -> None:
    handle = await invited(dev_harness)
    stranger = OptIn(participant="stranger@example.com", consent_to_ground_rules=True)

    await assert_refused_without_trace(
        handle,
        lambda: program_state(handle),
        lambda: handle.execute_update("opt_in", stranger),
        "stranger@example.com is not a participant",
    )


async def test_opting_in_twice_is_refused(dev_harness: Harness) -> None:
    handle = await invited(dev_harness)
    prompt = await prompt_of(dev_harness, handle, J0, PromptKind.OPT_IN)
    await send_answer(dev_harness.client, prompt, build_answer(prompt, J0, {"consent_to_ground_rules": True}))
    again = OptIn(participant=J0, consent_to_ground_rules=True)

    await assert_refused_without_trace(
        handle,
        lambda: program_state(handle),
        lambda: handle.execute_update("opt_in", again),
        J0,
        "already answered the invitation",
    )


async def test_only_a_coordinator_can_approve_matches(dev_harness: Harness) -> None:
    handle = await awaiting_approval(dev_harness)
    by_participant = Approval(coordinator=J0)

    await assert_refused_without_trace(
        handle,
        lambda: program_state(handle),
        lambda: handle.execute_update("approve_matches", by_participant),
        J0,
        "is not a coordinator",
    )


async def test_pausing_a_paused_program_is_refused(dev_harness: Harness) -> None:
    handle = await invited(dev_harness)
    await handle.execute_update("pause", AS_COORDINATOR)

    await assert_refused_without_trace(
        handle,
        lambda: program_state(handle),
        lambda: handle.execute_update("pause", AS_COORDINATOR),
        "already paused",
    )


# Pairing updates


async def test_a_plan_without_goals_is_refused(dev_harness: Harness) -> None:
    handle, pairing = await paired_until(dev_harness, PairingStage.PLANNING, silent={PromptKind.PROPOSE_PLAN})
    prompt = await prompt_of(dev_harness, handle, J0, PromptKind.PROPOSE_PLAN)
    no_goals = build_answer(
        prompt, J0, {"goals": [" "], "skills": ["ai tools"], "channel": "video", "accept_ground_rules": True}
    )

    await assert_refused_without_trace(
        pairing,
        lambda: pairing_state(pairing),
        lambda: send_answer(dev_harness.client, prompt, no_goals),
        "at least one goal",
    )


async def test_a_check_in_rating_of_7_is_refused(dev_harness: Harness) -> None:
    handle, pairing = await paired_until(dev_harness, PairingStage.MENTORING, silent={PromptKind.CHECK_IN})
    prompt = await prompt_of(dev_harness, handle, S0, PromptKind.CHECK_IN)
    seven = build_answer(prompt, S0, {"met": True, "progress": 7})

    await assert_refused_without_trace(
        pairing,
        lambda: pairing_state(pairing),
        lambda: send_answer(dev_harness.client, prompt, seven),
        "from 1 to 5",
        "not 7",
    )


async def test_a_check_in_for_a_cycle_that_is_not_open_is_refused(dev_harness: Harness) -> None:
    _, pairing = await paired_until(dev_harness, PairingStage.MENTORING, silent={PromptKind.CHECK_IN})
    cycle_five = CheckIn(participant=S0, cycle=5, met=True, progress=4)

    await assert_refused_without_trace(
        pairing,
        lambda: pairing_state(pairing),
        lambda: pairing.execute_update("log_checkin", cycle_five),
        "check-in 5 is not open",
        "the open one is cycle 1",
    )


async def test_the_same_answer_sent_twice_is_applied_once_and_not_refused(harness: Harness) -> None:
    """A client unsure whether its answer arrived (a timeout, a server restart) sends it again: same update id."""
    people = roster(1)
    handle = await start_program(harness, spec(), people)
    junior = people[0].email
    (prompt,) = [p for p in await prompts_for(harness.client, handle.id, junior) if p.kind == PromptKind.OPT_IN]
    answer = build_answer(prompt, junior, {"consent_to_ground_rules": True})
    sent_as = new_answer_id()
    first = await send_answer(harness.client, prompt, answer, sent_as)
    again = await send_answer(harness.client, prompt, answer, sent_as)  # the prompt is closed: a new id is refused
    assert again == first
    with pytest.raises(Refused):
        await send_answer(harness.client, prompt, answer)  # a new request, not a re-send
    assert (await member(handle, junior)).status == MemberStatus.OPTED_IN
    assert (await status(handle)).funnel.opted_in == 1
