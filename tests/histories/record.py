"""Record the histories the replay test checks workflow code against.

    .venv/bin/python -m tests.histories.record [SCENARIO ...]

Runs each scenario below (or only those named) as a whole program on a time-skipping Temporal test server (no
real time passes), with simulated people answering, and writes the history of the program and of every pairing
it started to tests/histories/<scenario>/<workflow id>.json. Record again only on purpose: a history recorded by
older code is what proves a change keeps running programs working (see docs/ARCHITECTURE.md, "Changing workflow
code").
"""

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Interceptor

import flipside_client
from adapters.store.pages import PageShelf
from bootstrap import sealer
from demo.personas import Persona
from domain.answers import Approval, CoordinatorAction, PairChoice
from domain.people import Participant
from domain.program import ProgramPhase, ProgramStatus
from domain.prompts import PromptKind
from domain.spec import ProgramSpec
from tests.helpers.driving import drive, personas_for
from tests.helpers.failures import MatchingFails
from tests.helpers.harness import DRAIN_LIMIT, Harness, settled
from tests.helpers.people import COORDINATOR, roster, spec
from tests.helpers.programs import Handle, awaiting_approval, pairing_of, start_program
from tests.helpers.replaying import runs_of
from tests.helpers.servers import start_time_skipping
from worker import build_worker

HERE = Path(__file__).parent
AS_COORDINATOR = CoordinatorAction(coordinator=COORDINATOR, reason="the team is reorganising")
Steer = Callable[[Harness, Handle, dict[str, Persona]], Awaitable[None]]


async def run_to_the_end(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    await drive(h, handle, cast)


async def pause_then_resume(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    await drive(h, handle, cast, until=ProgramPhase.MENTORING)
    await h.env.sleep(timedelta(days=3))
    await handle.execute_update("pause", AS_COORDINATOR, result_type=str)
    await h.env.sleep(timedelta(days=10))
    await handle.execute_update("resume", AS_COORDINATOR, result_type=str)
    await drive(h, handle, cast)


async def cancel_while_mentoring(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    await drive(h, handle, cast, until=ProgramPhase.MENTORING)
    await h.env.sleep(timedelta(days=8))
    await handle.execute_update("cancel", AS_COORDINATOR, result_type=str)


async def cancel_after_check_ins(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """A coordinator cancels once the pairs have had a check-in: each pairing cancels its meeting series."""

    async def second_check_in_open() -> bool:
        return any(n["prompt_id"] == "check-in-2" for n in h.notices())

    await drive(h, handle, cast, until_true=second_check_in_open)
    await handle.execute_update("cancel", AS_COORDINATOR, result_type=str)
    for pairing_id in sorted({str(n["pairing_id"]) for n in h.notices() if n["pairing_id"]}):
        await h.client.get_workflow_handle(pairing_id).result()  # the program does not wait for them to close


async def cancel_from_temporal(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """An operator cancels the run from the Temporal UI: the program ends its pairings first."""
    await drive(h, handle, cast, until=ProgramPhase.MENTORING)
    await h.env.sleep(timedelta(days=8))
    await handle.cancel()


async def pairing_ended_outside(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """An operator terminates one pairing; the program closes it on its side and rematches its people."""
    await drive(h, handle, cast, until=ProgramPhase.MENTORING)
    pairing = await pairing_of(h, handle, "junior00@example.com")
    assert await settled(pairing, DRAIN_LIMIT)
    await pairing.terminate("ended by an operator")
    await drive(h, handle, cast)


async def pause_through_kickoff(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """Paused while matches wait for approval: the pairings start paused, and all resume together."""
    await drive(h, handle, cast, until=ProgramPhase.MATCHING)
    await handle.execute_update("pause", AS_COORDINATOR, result_type=str)
    await drive(h, handle, cast, until=ProgramPhase.MENTORING)
    await h.env.sleep(timedelta(days=5))
    await handle.execute_update("resume", AS_COORDINATOR, result_type=str)
    await drive(h, handle, cast)


async def nobody_opts_in(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """Nobody takes up the invitation: matching finds nobody to pair and the program ends, saying why."""
    for persona in cast.values():
        persona.silent = {PromptKind.OPT_IN}
    await drive(h, handle, cast)


TWO_YEARS = spec(training_modules=[], durations={"program_length": "742d", "answer_window": "1w"})


async def two_years_weekly(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """Weekly check-ins for two years: the pairing continues as new, so its runs replay one after the other."""
    await drive(h, handle, cast, step=timedelta(days=3), max_steps=400)


async def pair_by_hand(h: Harness, handle: Handle, cast: dict[str, Persona]) -> None:
    """Matching cannot run (MatchingFails): the coordinator names the pairs, and the program goes on."""
    await drive(h, handle, cast, until=ProgramPhase.MATCHING)
    await drive(h, handle, {}, until_true=lambda: awaiting_approval(handle))
    pairs = [PairChoice(mentor=f"junior0{n}@example.com", mentee=f"senior0{n}@example.com") for n in range(4)]
    await handle.execute_update("approve_matches", Approval(coordinator=COORDINATOR, pairs=pairs), result_type=str)
    await drive(h, handle, cast)


# Scenarios whose worker makes an activity fail, as the tests of those paths do. (A worker that holds a moment
# open with a workflow interceptor records a history that only replays with that interceptor: none here.)
held: defaultdict[str, list[Interceptor]] = defaultdict(list)
held["matching-fails"] = [MatchingFails()]


SCENARIOS: dict[str, tuple[dict[str, Persona], Steer]] = {
    "lifecycle": ({"junior02": Persona("junior02@example.com", low_pulse=True)}, run_to_the_end),
    "decline-and-rematch": ({"senior00": Persona("senior00@example.com", decline_match=True)}, run_to_the_end),
    "withdrawal": ({"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)}, run_to_the_end),
    "missed-checkins": (
        {
            "junior00": Persona("junior00@example.com", stop_checkins_after=1),
            "senior00": Persona("senior00@example.com", stop_checkins_after=1),
        },
        run_to_the_end,
    ),
    "pause-and-resume": ({}, pause_then_resume),
    "cancel": ({}, cancel_while_mentoring),
    "temporal-cancel": ({}, cancel_from_temporal),
    "pairing-ended-outside": ({}, pairing_ended_outside),
    "nobody-opts-in": ({}, nobody_opts_in),
    "pause-through-kickoff": ({}, pause_through_kickoff),
    "two-years-weekly": ({}, two_years_weekly),
    "matching-fails": ({}, pair_by_hand),
    # As "lifecycle", recorded after low pulses began to alert once per streak (workflow.patched).
    "low-pulse-streak": ({"junior02": Persona("junior02@example.com", low_pulse=True)}, run_to_the_end),
    # A pair that meets but rates its progress low: flagged at risk once the streak is long enough.
    "low-progress": (
        {
            "junior01": Persona("junior01@example.com", progress=2),
            "senior01": Persona("senior01@example.com", progress=1),
        },
        run_to_the_end,
    ),
    # As "withdrawal" and "cancel", recorded after an early end began to cancel the pair's meeting series
    # (workflow.patched): the people invited get a calendar cancel.
    "withdrawn-with-series": ({"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)}, run_to_the_end),
    "cancelled-with-series": ({}, cancel_after_check_ins),
    # As "lifecycle", recorded after pairings began to carry their summary in a search attribute (workflow.patched).
    "summary-on-the-list": ({}, run_to_the_end),
    # Recorded after events began to go to the record as they happen, and a cancel to await the pairings' reports
    # (workflow.patched), with a withdrawal on the way.
    "live-record": ({"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)}, run_to_the_end),
    "live-record-cancel": ({}, cancel_after_check_ins),
    # Started as the gateway starts a program: its roster in the record, its input a reference (PagesRef).
    "members-from-the-record": ({"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)}, run_to_the_end),
    # Recorded after a wait began to keep one timer per deadline across wakes (workflow.patched): with a withdrawal,
    # and with a pause that stops the timer and a resume that sets a new one.
    "one-timer-per-deadline": (
        {"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)},
        run_to_the_end,
    ),
    "one-timer-paused": ({}, pause_then_resume),
    # Recorded after invitations began to go out a batch a step and a batch of events to show a bounded number of
    # prompts (workflow.patched): a pause and a resume touch every open prompt.
    "small-steps": ({"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)}, pause_then_resume),
    # Recorded after the program began to show each member's view, and each pairing its pair's record, in the
    # record (workflow.patched): with a withdrawal.
    "views-in-the-record": ({"junior01": Persona("junior01@example.com", withdraw_at_cycle=2)}, run_to_the_end),
}
FROM_THE_RECORD = {
    "members-from-the-record",
    "one-timer-per-deadline",
    "one-timer-paused",
    "small-steps",
    "views-in-the-record",
}


async def record(env: WorkflowEnvironment, name: str, special: dict[str, Persona], steer: Steer) -> int:
    with tempfile.TemporaryDirectory() as folder:
        h = Harness(env, Path(folder))
        # Five newer colleagues and four senior ones: one waits unmatched, so a decline can end in a rematch.
        people = [p for p in roster(5) if p.email != "senior04@example.com"]
        program = spec(durations={"program_length": "3w"})
        if name in FROM_THE_RECORD - {"members-from-the-record"}:  # the gateway's id is the spec's: one per scenario
            program = spec(durations={"program_length": "3w"}, slug=name)
        if name == "two-years-weekly":  # one pair, 104 weekly cycles: the pairing's history passes its bound
            people, program = roster(1), TWO_YEARS
        try:
            worker = build_worker(env.client, h.settings, channel=h.channel, store=h.store, interceptors=held[name])
            async with worker:
                handle = await start(h, program, people, from_the_record=name in FROM_THE_RECORD)
                await steer(h, handle, personas_for(people, **special))
                with contextlib.suppress(WorkflowFailureError):  # cancelled from Temporal, as its scenario asked
                    await handle.result()
                status: ProgramStatus = await handle.query("status", result_type=ProgramStatus)
                pairings = sorted({str(n["pairing_id"]) for n in h.notices() if n["pairing_id"]})
                written = await save(env.client, HERE / name, [handle.id, *pairings])
        finally:
            h.store.dispose()
        print(f"{name}: {status.phase.value}, {written} histories")
        return written


async def start(h: Harness, program: ProgramSpec, people: list[Participant], from_the_record: bool) -> Handle:
    if not from_the_record:
        return await start_program(h, program, people)
    shelf = PageShelf(h.store.engine, sealer(h.settings))
    await flipside_client.start_program(h.client, program, people, h.settings.task_queue, shelf)
    h.programs.append(program.program_id)
    return h.client.get_workflow_handle(program.program_id)


async def save(client: Client, folder: Path, workflow_ids: list[str]) -> int:
    """Every run of each workflow: `<id>.json` for one that never continued as new, else `<id>.run<N>.json`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    written = 0
    for workflow_id in workflow_ids:
        runs = await runs_of(client, workflow_id)
        for number, history in enumerate(runs, start=1):
            name = workflow_id if len(runs) == 1 else f"{workflow_id}.run{number}"
            (folder / f"{name}.json").write_text(history.to_json())
            written += 1
    return written


async def main() -> None:
    env = await start_time_skipping()
    try:
        # Only the scenarios named, when some are: a history recorded by older code is worth keeping.
        for name, (special, steer) in SCENARIOS.items():
            if name in sys.argv[1:] or not sys.argv[1:]:
                await record(env, name, special, steer)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
