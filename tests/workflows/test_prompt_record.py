"""The record keeps every person's open prompts as the workflows hold them, so pages can read them there.

Whole programs run on the time-skipping server while, at every step, each person's prompts read from the record
(adapters/store/prompts.py, opened with the codec's keys) are compared with what the workflows answer to a query.
The record follows a workflow by an append's round trip, so each comparison waits (bounded) for them to agree.
"""

import asyncio
from datetime import timedelta
from typing import Any

from adapters.store import tables as t
from adapters.store.prompts import PromptShelf
from bootstrap import sealer
from demo.personas import Persona
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import build_answer, new_request_id, prompts_for, send_answer
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, roster, spec
from tests.helpers.programs import AS_COORDINATOR, Handle, start_program
from tests.helpers.waiting import skip

AGREE_LIMIT = 10.0  # seconds for the record to catch up with the workflows; only stops a test that never would


def rebuilt_the_same(h: Harness) -> bool:
    def rows() -> list[tuple[Any, ...]]:
        with h.store.engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(t.open_prompts.select()))

    before = rows()
    h.store.rebuild()
    return bool(before) and rows() == before


def keyed(prompts: list[PendingPrompt]) -> dict[tuple[str, str], PendingPrompt]:
    return {(p.workflow_id, p.id): p for p in prompts}


async def differences(h: Harness, shelf: PromptShelf, program_id: str, people: list[str]) -> tuple[dict[str, Any], int]:
    """Who sees different prompts in the record than in the workflows, and how many prompts the workflows hold."""
    found, held_in_all = {}, 0
    for email in people:
        held = keyed(await prompts_for(h.client, program_id, email))
        recorded = shelf.for_person(program_id, email)
        held_in_all += len(held)
        if recorded is None or keyed(recorded) != held:
            found[email] = {"workflows": held, "record": recorded}
    return found, held_in_all


async def record_agrees(h: Harness, handle: Handle, people: list[str]) -> int:
    """Wait until the record shows everyone exactly the prompts the workflows hold; return how many are open."""
    shelf = PromptShelf(h.store.engine, sealer(h.settings))
    deadline = asyncio.get_running_loop().time() + AGREE_LIMIT
    while True:
        found, held = await differences(h, shelf, handle.id, people)
        if not found:
            return held
        assert asyncio.get_running_loop().time() < deadline, f"record and workflows disagree: {found}"
        await asyncio.sleep(0.05)


async def test_the_record_shows_each_person_the_prompts_the_workflows_hold_at_every_step(harness: Harness) -> None:
    people = roster(4)
    emails = [p.email for p in people] + [COORDINATOR]
    cast = personas_for(people, junior01=Persona("junior01@example.com", withdraw_at_cycle=2))
    handle = await start_program(harness, spec(durations={"program_length": "4w"}), people)
    seen: list[int] = []

    async def compare() -> bool:
        seen.append(await record_agrees(harness, handle, emails))
        return False

    await drive(harness, handle, cast, until_true=compare)
    assert len(seen) > 20 and max(seen) >= len(people)  # many steps compared, with prompts open in them
    assert seen[-1] == 0  # a finished program waits for nobody, in the record too
    with harness.store.engine.connect() as conn:
        assert conn.execute(t.open_prompts.select()).first() is None


async def test_a_pause_shows_no_due_dates_and_a_resume_moves_them_on(harness: Harness) -> None:
    people = roster(2)
    emails = [p.email for p in people] + [COORDINATOR]
    handle = await start_program(harness, spec(), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MENTORING)
    before = await prompts_for(harness.client, handle.id, people[0].email)
    assert before and all(p.due_at is not None for p in before)

    await handle.execute_update("pause", AS_COORDINATOR)
    assert await record_agrees(harness, handle, emails) > 0
    paused = PromptShelf(harness.store.engine, sealer(harness.settings)).for_person(handle.id, people[0].email)
    assert paused and all(p.due_at is None and p.paused for p in paused)
    assert rebuilt_the_same(harness)  # open prompts rebuild from the log row for row

    await skip(harness.env, timedelta(seconds=3600))
    await handle.execute_update("resume", AS_COORDINATOR)
    await record_agrees(harness, handle, emails)
    resumed = PromptShelf(harness.store.engine, sealer(harness.settings)).for_person(handle.id, people[0].email)
    assert resumed and {p.id: p.due_at for p in resumed} != {p.id: p.due_at for p in before}


async def test_a_training_module_done_shows_in_the_recorded_prompt(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.TRAINING)
    email = people[0].email
    (training,) = [p for p in await prompts_for(harness.client, handle.id, email) if p.kind == PromptKind.TRAINING]
    first = training.context.modules[0]

    await send_answer(harness.client, training, build_answer(training, email, {"modules": [first]}), new_request_id())
    await record_agrees(harness, handle, [email])
    recorded = PromptShelf(harness.store.engine, sealer(harness.settings)).for_person(handle.id, email)
    assert recorded is not None
    assert [p.context.modules_done for p in recorded if p.kind == PromptKind.TRAINING] == [[first]]
