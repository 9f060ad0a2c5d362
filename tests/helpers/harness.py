"""One test's worker, task queue and data folder, and ending what a test left running.

What a test leaves running on a shared server is cancelled and awaited, never terminated while busy: a run
closed with an activity in flight can stop a time-skipping server's clock for good (temporalio/sdk-java#1138).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from adapters.channels import OutboxFileChannel
from adapters.store.sql import SqlEventStore
from settings import Settings
from worker import build_worker

END_LIMIT = 30.0  # seconds for a cancelled workflow to close before it is terminated
DRAIN_LIMIT = 10.0  # seconds to wait for a workflow's activities to finish before cancelling it anyway


class Harness:
    """One test's worker, task queue and data folder, with the outbox and event log it writes."""

    def __init__(self, env: WorkflowEnvironment, data_dir: Path, database_url: str = "") -> None:
        self.env = env
        self.client = env.client
        self.settings = Settings(task_queue=f"tq-{uuid.uuid4()}", data_dir=data_dir, database_url=database_url)
        self.channel = OutboxFileChannel(self.settings.outbox_path)
        self.store = SqlEventStore(self.settings.database)
        self.inbox: Callable[[], list[dict[str, Any]]] = self.channel.outbox.read_all
        self.programs: list[str] = []  # workflow ids of the programs this test started

    def notices(self) -> list[dict[str, Any]]:
        """Every notice sent so far: JSON rows of the outbox file, or what a test of another channel reads."""
        return self.inbox()

    async def end_leftovers(self) -> None:
        """End what the test left running (its programs, and the pairings its notices name)."""
        pairings = sorted({str(n["pairing_id"]) for n in self.notices() if n["pairing_id"]})
        await end_workflows(self.client, [*self.programs, *pairings])


@asynccontextmanager
async def running(env: WorkflowEnvironment, data_dir: Path, shared: bool) -> AsyncIterator[Harness]:
    """A worker for the test; on a shared server, what the test left running is ended while the worker is up."""
    h = Harness(env, data_dir)
    try:
        async with build_worker(env.client, h.settings, channel=h.channel, store=h.store):
            yield h
            if shared:
                await h.end_leftovers()
    finally:
        h.store.dispose()


async def end_workflows(client: Client, workflow_ids: Iterable[str], limit: float = END_LIMIT) -> None:
    """End what a test left running the way production would: cancel each run, then wait for it to close.

    Each run is cancelled once it has no activity in flight (a run closed mid-activity can stop a time-skipping
    server's clock for good: temporalio/sdk-java#1138), and terminated only if still open after `limit` seconds.
    """
    open_runs = []
    for workflow_id in dict.fromkeys(workflow_ids):
        handle = client.get_workflow_handle(workflow_id)
        try:
            if await settled(handle, DRAIN_LIMIT):
                await handle.cancel()
                open_runs.append(handle)
        except RPCError as error:  # never started (a pairing named before its kick-off), or already gone
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
    for handle in open_runs:
        if not await closed_within(handle, limit):
            await handle.terminate("still open after a cancel at the end of its test")


async def closed_within(handle: WorkflowHandle[Any, Any], limit: float) -> bool:
    """Whether the run closes within `limit` seconds. Waiting on its result lets a time-skipping server move its
    clock; that server once answered the wait with a page holding no close event ("No completion event found"),
    so then the run's status is asked instead."""
    try:
        async with asyncio.timeout(limit):
            await handle.result()
        return True
    except WorkflowFailureError:  # cancelled, as asked
        return True
    except TimeoutError:
        return False
    except RuntimeError:
        return await _closed_by_status(handle, limit)


async def _closed_by_status(handle: WorkflowHandle[Any, Any], limit: float) -> bool:
    deadline = asyncio.get_running_loop().time() + limit
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


@asynccontextmanager
async def ending(client: Client, workflow_ids: Callable[[], Iterable[str]]) -> AsyncIterator[None]:
    """On the way out, end the workflows `workflow_ids()` names then: put it after the worker in an `async with`,
    so it runs while the worker can still close them."""
    try:
        yield
    finally:
        await end_workflows(client, workflow_ids())


async def settled(handle: WorkflowHandle[Any, Any], limit: float = DRAIN_LIMIT) -> bool:
    """Whether the run is still open, once it has no activity in flight and no workflow task under way (which
    could start one), or `limit` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return False
        raw = described.raw_description
        busy = raw.pending_activities or raw.HasField("pending_workflow_task")
        if not busy or asyncio.get_running_loop().time() > deadline:
            return True
        await asyncio.sleep(0.05)
