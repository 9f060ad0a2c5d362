"""A large match stalls no workflow of its worker: the solver runs in a process of its own.

On the dev server, in real time, beside pairings that take a signal every few milliseconds from another process.
"""

import asyncio
import sys
import uuid
from datetime import UTC, datetime

import pytest

from activities import matching
from activities.messages import MatchRequest
from adapters.store.pages import PageShelf
from bootstrap import sealer
from domain.clock import ActiveClock
from domain.pairing import PairingInput
from domain.people import Role
from domain.program import ProgramInput, ProgramPhase, handover_ref, new_program_state
from domain.spec import ProgramSpec
from domain.views import MemberStatus
from tests.helpers.harness import Harness
from tests.helpers.people import pairing_terms, roster, spec
from tests.helpers.programs import Handle, awaiting_approval, status
from workflows import search
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_large_match_beside_running_pairings_fails_no_activation(dev_harness: Harness) -> None:
    """Ten pairings take a signal every few milliseconds (from another process) while the same worker matches
    4,000 people, one in five open to either side. Solved on the worker's threads, this match held the GIL for
    3.3 s at a time (see also bench/results/matching-stall.md): a pairing's task then took 3.9 s, past the SDK's
    2-second deadlock limit, and the SDK failed it. Solved in its own process, no task fails. How long the tasks
    take is a figure for the benchmark, not a pass mark here: on a loaded machine every task takes longer."""
    h, tag = dev_harness, uuid.uuid4().hex[:6]
    mentors, mentees = roster(1)
    pairings: list[Handle] = []
    for n in range(10):
        inp = PairingInput(
            pairing_id=f"pairing-busy-{tag}-{n}", mentor=mentors, mentee=mentees, terms=pairing_terms("p")
        )
        pairings.append(
            await h.client.start_workflow(
                PairingWorkflow.run,
                inp,
                id=inp.pairing_id,
                task_queue=h.settings.task_queue,
                search_attributes=search.initial("program-busy", "introduction", "pairing"),
            )
        )
    program = spec(slug=f"large-match-{tag}", training_modules=[], durations={"program_length": "3w"})
    matching_input = await _ready_to_match(h, program, 2000)

    # Signals from a process of their own: a match that stalls this process would stall a signaller here too.
    address = h.client.service_client.config.target_host
    signaller = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KEEP_SIGNALLING, address, *(p.id for p in pairings), stdout=asyncio.subprocess.PIPE
    )
    try:
        handle = await h.client.start_workflow(
            ProgramWorkflow.run,
            matching_input,
            id=program.program_id,
            task_queue=h.settings.task_queue,
            search_attributes=search.initial(program.program_id, "matching", "program"),
        )
        h.programs.append(handle.id)
        for _ in range(600):  # the bound only stops a test that can never get there
            if await awaiting_approval(handle):
                break
            await asyncio.sleep(0.5)
    finally:
        signaller.terminate()
        out, _ = await signaller.communicate()
    signals = int(out.decode().split()[-1]) if out.strip() else 0
    current = await status(handle)
    assert current.proposal is not None, (current.phase, current.awaiting_approval, current.funnel)
    assert len(current.proposal.pairs) >= 1900
    assert signals > 100  # the pairings were busy all along
    assert await _failed_tasks_of([*pairings, handle]) == {}
    # The solve went to the worker's spawned solver process (this harness runs the worker in the test's process).
    assert matching._pool is not None
    request = await _match_request(h, handle)  # 4,000 people are 1.2 MB: they went to matching in pages
    assert request.people == [] and request.people_ref is not None and request.size == 4000


async def _ready_to_match(h: Harness, program: ProgramSpec, pairs: int) -> ProgramInput:
    """A program whose people have all opted in and trained, one in five open to either side, about to match.

    Its members wait in pages, as a run gets them from the run before: 4,000 people inline (2.7 MB) are decoded
    in one workflow step, which on a loaded machine took the program itself past the deadlock limit.
    """
    people = [p.model_copy(update={"role": Role.EITHER}) if n % 5 == 0 else p for n, p in enumerate(roster(pairs))]
    state = new_program_state(ProgramInput(spec=program, roster=people))
    for m in state.members.values():
        m.status, m.opted_in, m.trained = MemberStatus.TRAINED, True, True
    state.phase, state.clock = ProgramPhase.MATCHING, ActiveClock.started(datetime.now(UTC))
    ref = handover_ref(program.program_id, 1, "members", len(state.members))
    members = [m.model_dump(mode="json") for m in state.members.values()]
    await asyncio.to_thread(PageShelf(h.store.engine, sealer(h.settings)).put_all, ref, members)
    return ProgramInput(spec=program, roster=[], state=state.model_copy(update={"members": {}}), members_ref=ref)


async def _match_request(h: Harness, program: Handle) -> MatchRequest:
    async for e in program.fetch_history_events():
        scheduled = e.activity_task_scheduled_event_attributes
        if e.HasField("activity_task_scheduled_event_attributes") and scheduled.activity_type.name == "propose_matches":
            [request] = await h.client.data_converter.decode(scheduled.input.payloads, [MatchRequest])
            assert isinstance(request, MatchRequest)
            return request
    raise AssertionError("no matching was scheduled")


async def _failed_tasks_of(workflows: list[Handle]) -> dict[str, list[str]]:
    """Each workflow whose tasks failed, with why."""
    failed = {w.id: await _failed_tasks(w) for w in workflows}
    return {workflow_id: why for workflow_id, why in failed.items() if why}


async def _failed_tasks(workflow: Handle) -> list[str]:
    """Why each of a workflow's tasks failed (a potential deadlock, say), from its history."""
    return [
        e.workflow_task_failed_event_attributes.failure.message[:80]
        async for e in workflow.fetch_history_events()
        if e.HasField("workflow_task_failed_event_attributes")
    ]


KEEP_SIGNALLING = """
import asyncio, signal, sys
from temporalio.client import Client

async def main() -> None:
    client = await Client.connect(sys.argv[1])
    sent, stopping = 0, asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    while not stopping.is_set():
        for workflow_id in sys.argv[2:]:
            await client.get_workflow_handle(workflow_id).signal("pause" if sent % 2 == 0 else "resume")
            sent += 1
        await asyncio.sleep(0.02)
    print(sent, flush=True)

asyncio.run(main())
"""  # pause and resume each pairing over and over until terminated; prints how many signals went out
