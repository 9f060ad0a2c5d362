"""Starting programs and pairings, and reading them: as a test does through its harness, or as an operator does.

Through the harness, a program's workflow id carries the test's task queue, so the same spec can run in many
tests on one shared server; `start_on` starts one on any client and queue, under the spec's own id by default.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from bootstrap import connect
from domain.answers import CoordinatorAction
from domain.pairing import PairingInput, PairingView
from domain.people import Participant
from domain.program import ProgramInput, ProgramResult, ProgramStatus
from domain.prompts import PendingPrompt
from domain.spec import ProgramSpec
from domain.summaries import program_details, program_summary
from domain.views import MemberView
from flipside_client import Refused
from settings import Settings
from tests.helpers import ROOT
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR
from tests.helpers.waiting import found
from worker import build_worker
from workflows import search
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

Handle = WorkflowHandle[Any, Any]
AS_COORDINATOR = CoordinatorAction(coordinator=COORDINATOR)


# Starting


async def start_program(h: Harness, spec: ProgramSpec, roster: list[Participant]) -> Handle:
    """A program on the test's worker, under an id unique to the test; ended with the test (h.programs)."""
    unique = f"{spec.program_id}-{h.settings.task_queue[-8:]}"  # unique per test on the shared server
    handle = await start_on(h.client, spec, roster, h.settings.task_queue, unique)
    h.programs.append(handle.id)
    return handle


async def start_on(
    client: Client, spec: ProgramSpec, roster: list[Participant], task_queue: str, workflow_id: str | None = None
) -> Handle:
    """A program on any client and task queue, under the spec's own program id unless told another; with the
    summary and details flipside_client.start_program gives it, for the Temporal UI."""
    workflow_id = workflow_id or spec.program_id
    return await client.start_workflow(
        ProgramWorkflow.run,
        ProgramInput(spec=spec, roster=roster),
        id=workflow_id,
        task_queue=task_queue,
        search_attributes=search.initial(
            spec.program_id, "recruitment", "program", program_summary(workflow_id, spec, len(roster))
        ),
        static_summary=program_summary(workflow_id, spec, len(roster)),
        static_details=program_details(workflow_id, spec, len(roster)),
    )


async def start_pairing(client: Client, inp: PairingInput, task_queue: str, **options: Any) -> Handle:
    """A pairing on its own, without a program (as bench/lifecycle.py starts them); `options` go to
    `start_workflow` (a `start_signal` arrives with the start, in the pairing's first activation)."""
    return await client.start_workflow(
        PairingWorkflow.run,
        inp,
        id=inp.pairing_id,
        task_queue=task_queue,
        search_attributes=search.initial(inp.terms.program_id, "introduction", "pairing"),
        **options,
    )


# Reading


async def status(handle: Handle) -> ProgramStatus:
    current: ProgramStatus = await handle.query("status", result_type=ProgramStatus)
    return current


async def member(handle: Handle, email: str) -> MemberView:
    view: MemberView = await handle.query("member", email, result_type=MemberView)
    return view


async def pending_prompts(handle: Handle, email: str) -> list[PendingPrompt]:
    """What waits for the person in this program or pairing, as the portal asks."""
    prompts: list[PendingPrompt] = await handle.query("pending_prompts", email, result_type=list[PendingPrompt])
    return prompts


async def awaiting_approval(handle: Handle) -> bool:
    """A proposal is there to approve (the phase says matching from the moment matching starts)."""
    current = await status(handle)
    return current.awaiting_approval and current.proposal is not None


def once_started(condition: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    """`condition`, false while the workflow it asks has not been started yet (a pairing a program names the moment
    it approves the match, before its workflow starts)."""

    async def check() -> bool:
        try:
            return await condition()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return False

    return check


def pairing_handle(h: Harness, pairing_id: str | None) -> Handle:
    assert pairing_id is not None, "this person has no pairing"
    return h.client.get_workflow_handle(pairing_id)


async def pairing_of(h: Harness, handle: Handle, email: str) -> Handle:
    """The pairing a person is in now."""
    return pairing_handle(h, (await member(handle, email)).pairing_id)


async def pairing_view(pairing: Handle) -> PairingView:
    view: PairingView = await pairing.query("view", result_type=PairingView)
    return view


async def result(handle: Handle) -> ProgramResult:
    outcome = await handle.result()
    assert isinstance(outcome, ProgramResult)
    return outcome


async def history_length(handle: Handle) -> int:
    return len([event async for event in handle.fetch_history_events()])


async def settled_history_length(handle: Handle, attempts: int = 200) -> int:
    """The history length once nothing is in flight, so a later change can only come from what the test sends."""

    async def settled() -> int | None:
        raw = (await handle.describe()).raw_description
        if raw.pending_activities or raw.HasField("pending_workflow_task"):
            return None
        length = await history_length(handle)
        return length if length == await history_length(handle) else None

    return await found(settled, f"a settled history of {handle.id}", attempts)


async def refusal(call: Awaitable[object]) -> str:
    """The sentence a refused answer or action shows the person; fails the test when it was accepted."""
    try:
        await call
    except Refused as refused:  # through flipside_client.send_answer
        return str(refused)
    except WorkflowUpdateFailedError as failed:  # a direct execute_update
        cause = failed.cause
        assert isinstance(cause, ApplicationError) and cause.type == "Refused", f"not a refusal: {cause!r}"
        return cause.message
    raise AssertionError("the update was accepted")


# As an operator starts one: the demo's files through `starter.py`, with a worker of the test's own

DEMO = ROOT / "demo"
DEMO_COORDINATOR = "coach@flipside.example"
WEEKS = {"recruitment": "2w", "training": "2w", "answer_window": "1w", "checkin_cadence": "1w", "program_length": "12w"}


def demo_spec(path: Path, slug: str) -> Path:
    """The demo's spec file under `slug`, its phases weeks long rather than seconds (nothing moves on mid-test)."""
    text = (DEMO / "program.toml").read_text(encoding="utf-8")
    durations = text[text.index("[durations]") : text.index("[reminders]")]
    weeks = "\n".join(["[durations]", *(f'{phase} = "{length}"' for phase, length in WEEKS.items()), "", ""])
    path.write_text(f'slug = "{slug}"\n' + text.replace(durations, weeks), encoding="utf-8")
    return path


def address(environment: WorkflowEnvironment) -> str:
    return environment.client.service_client.config.target_host


def settings_for(environment: WorkflowEnvironment, folder: Path) -> Settings:
    """What a worker and `starter.py` of the test's own read: its server, a task queue, data folder and record."""
    return Settings(
        temporal_address=address(environment),
        task_queue=f"own-{uuid.uuid4()}",
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'record.db'}",
    )


@asynccontextmanager
async def worker_for(settings: Settings) -> AsyncIterator[Client]:
    """A worker as `python worker.py` builds it (encrypted payloads, the settings' record and outbox)."""
    client = await connect(settings)
    async with build_worker(client, settings):
        yield client
