"""A program's members travel in pages in the record, never in its workflow input (domain/program.py, PagesRef).

A program runs on the dev server under ShortRunProgram, which hands over to a fresh run every 60 events, so a
twelve-person program continues as new before its pairs are approved and again after. Each run's input is read
back from its history: no person in it, only the reference. Answers sent before the members load are taken, or
refused in the same words as later. (Not on the time-skipping server: when a query meets a program's
continue-as-new there, the server keeps a hold on its clock for good.)
"""

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import flipside_client
from adapters.store import tables as t
from adapters.store.pages import PageShelf
from bootstrap import sealer
from domain import replies
from domain.answers import CoordinatorAction, NewParticipant, OptIn, Withdrawal
from domain.metrics import PairingOutcome
from domain.people import Participant
from domain.program import ProgramInput, ProgramPhase, ProgramResult, ProgramStatus
from domain.spec import ProgramSpec
from domain.views import MemberStatus
from flipside_client import Action, act, program_status
from tests.helpers.driving import opt_in_everyone
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, NEWCOMER, roster, spec
from tests.helpers.replaying import ended_by_continue_as_new, numbered, replay_failures, runs_of
from tests.helpers.short_runs import ShortRunProgram
from tests.helpers.waiting import found
from worker import build_worker
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

SHORT_RUNS = (ShortRunProgram, PairingWorkflow)
AS_COORDINATOR = CoordinatorAction(coordinator=COORDINATOR)
UNANSWERED = PairingOutcome.UNANSWERED.value


async def input_of(h: Harness, run: WorkflowHistory) -> ProgramInput:
    payloads = run.events[0].workflow_execution_started_event_attributes.input.payloads
    [inp] = await h.client.data_converter.decode(payloads, [ProgramInput])
    assert isinstance(inp, ProgramInput)
    return inp


async def opt_in(h: Harness, program_id: str, email: str) -> str:
    """The program's reply to an opt-in, or "refused: " and the sentence a refusal shows."""
    answer = OptIn(participant=email, consent_to_ground_rules=True)
    try:
        return await h.client.get_workflow_handle(program_id).execute_update(ProgramWorkflow.opt_in, answer)
    except WorkflowUpdateFailedError as failed:
        assert isinstance(failed.cause, ApplicationError) and failed.cause.type == "Refused"
        return f"refused: {failed.cause.message}"


@dataclass
class Played:
    early: list[str]  # the replies to two opt-ins sent before the members loaded: one on the roster, one not
    late: str  # the reply to the stranger's opt-in once they had
    pairings: int
    outcome: ProgramResult
    final: ProgramStatus
    first_run: ProgramStatus  # the first run's status, asked of that run after the program ended


async def play(h: Harness, program: ProgramSpec, people: list[Participant]) -> Played:
    """Early answers, a newcomer, everyone opting in, a withdrawal; pairings that end unanswered; a cancel."""
    program_id = program.program_id
    # Started with no worker polling, so the first answers reach the program in its first step, before its
    # members have loaded: validators cannot check them yet, and the handlers do once the members are in.
    await flipside_client.start_program(
        h.client, program, people, h.settings.task_queue, PageShelf(h.store.engine, sealer(h.settings))
    )
    h.programs.append(program_id)
    early = asyncio.gather(opt_in(h, program_id, people[0].email), opt_in(h, program_id, "stranger@example.com"))
    # Caching nothing, the worker replays the program's history for every task: what it decided live while the
    # members loaded and were handed over must come out the same in replay.
    async with build_worker(
        h.client, h.settings, channel=h.channel, store=h.store, workflows=SHORT_RUNS, max_cached_workflows=0
    ):
        answers = await early
        late = await opt_in(h, program_id, "stranger@example.com")  # refused by the validator
        newcomer = NewParticipant(coordinator=COORDINATOR, participant=NEWCOMER)
        await act(h.client, program_id, Action.ADD_PARTICIPANT, newcomer)
        await opt_in_everyone(h.client, program_id, [*people[1:], NEWCOMER])
        await act(h.client, program_id, Action.WITHDRAW, Withdrawal(participant=people[2].email))
        await act(h.client, program_id, Action.CLOSE_RECRUITMENT, AS_COORDINATOR)

        async def all_reported() -> int | None:  # nobody answers their match: each pairing ends unanswered
            reported = (await program_status(h.client, program_id)).pairings_by_outcome.get(UNANSWERED, 0)
            return reported if reported == len(people) // 2 else None

        pairings: int = await found(all_reported, "every pairing reported back", attempts=1200, every=0.1)
        await act(h.client, program_id, Action.CANCEL, CoordinatorAction(coordinator=COORDINATOR, reason="done"))
        outcome = await flipside_client.program_result(h.client, program_id)
        final = await program_status(h.client, program_id)
        # A run lets go of its members as it hands over (`_let_go_of_members`); asked later, it replays and has them.
        first_run_id = (await runs_of(h.client, program_id))[0].run_id
        first_run = await h.client.get_workflow_handle(program_id, run_id=first_run_id).query(ProgramWorkflow.status)
        await h.end_leftovers()
    return Played(list(answers), late, pairings, outcome, final, first_run)


def check_handovers(inputs: list[ProgramInput], members: int) -> list[ProgramPhase]:
    """Nobody in any run's input, only a reference to pages; the phases the program handed over in."""
    assert all(not inp.roster and inp.members_ref is not None for inp in inputs)
    first = inputs[0].members_ref
    assert first is not None and first.batch.startswith("roster-") and first.count == members - 1
    for inp in inputs[1:]:
        assert inp.state is not None and inp.state.members == {} and inp.state.pairings == {}
        n = inp.state.handovers
        assert inp.members_ref is not None and inp.members_ref.batch == f"handover-{n}-members"
        assert inp.pairings_ref is not None and inp.pairings_ref.batch == f"handover-{n}-pairings"
        assert inp.members_ref.count + len(inp.members_changed) >= members  # the newcomer travels too
    return [inp.state.phase for inp in inputs if inp.state is not None]


def batches_kept(h: Harness, program_id: str) -> set[str]:
    c = t.state_pages.c
    with h.store.engine.connect() as conn:
        return set(conn.execute(select(c.batch).where(c.workflow_id == program_id)).scalars())


async def test_a_program_from_the_record_hands_its_members_over_in_pages_and_loses_nobody(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    h = Harness(dev_env, tmp_path)
    people = roster(6)
    durations = {"answer_window": "3s", "checkin_cadence": "1w", "program_length": "2w"}
    slug, auto = f"pages-{uuid.uuid4().hex[:8]}", {"auto_approve": True}
    program = spec(slug=slug, training_modules=[], matching=auto, durations=durations)
    try:
        played = await play(h, program, people)
        runs = await runs_of(h.client, program.program_id)
        inputs = [await input_of(h, run) for run in runs]
        failures = await replay_failures(numbered(runs), workflows=SHORT_RUNS)
        batches = batches_kept(h, program.program_id)
    finally:
        h.store.dispose()

    refusal = "refused: stranger@example.com is not a participant of Digital Fluency 2026"
    assert played.early == [replies.WELCOME_MATCHING_NEXT, refusal] and played.late == refusal
    assert failures == {}
    assert len(runs) >= 3 and all(ended_by_continue_as_new(run) for run in runs[:-1])
    handed_over_in = check_handovers(inputs, len(people) + 1)
    print(f"\n{len(runs)} runs, events {[len(r.events) for r in runs]}, handed over in {handed_over_in}")
    # Each stretch, before the pairs were approved and after, is longer than a run: both were handed over.
    with_pairings = [inp.pairings_ref.count for inp in inputs[1:] if inp.pairings_ref is not None]
    assert 0 in with_pairings and max(with_pairings) == len(people) // 2

    final = played.final
    assert played.outcome.cancelled and final.phase == ProgramPhase.CANCELLED
    assert final.funnel.invited == final.funnel.opted_in == len(people) + 1 and final.funnel.withdrawn == 1
    assert final.funnel.matched == 2 * played.pairings == len(people)
    assert final.members_by_status == {MemberStatus.INACTIVE.value: len(people), MemberStatus.WITHDRAWN.value: 1}
    assert played.first_run.phase == handed_over_in[0] and played.first_run.funnel.invited >= len(people) - 1

    first, last = inputs[0].members_ref, inputs[-1].state  # pages kept: the roster, and the last two handovers
    assert first is not None and last is not None
    handed = {f"handover-{n}-{kind}" for n in (last.handovers, last.handovers - 1) for kind in ("members", "pairings")}
    assert batches == {first.batch, *handed}
