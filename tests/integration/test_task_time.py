"""A live task that the SDK hands an earlier task's time is failed and taken again by a replay (`task_time`).

The sequence that gives a stale time (docs/incidents/2026-12-06-replay-diverges-after-worker-kill): the worker
running a workflow stops while the workflow waits for an activity; queries wait on the server; the activity
completes; a new worker starts and answers the queries first, loading the run from a history that holds the
activity's result but not the next task's start; the next task then ran with the time of that load. Here the
workflow records the time it reads right after the activity, as the input of another activity, so the history
shows what the live task saw beside the start time of that task. Without `GuardedRunner` the task read the time
of the query's load, about 3 s before its own start, in 2 of 3 runs here (the sequence is a race).
"""

import asyncio
import json
import uuid
from datetime import datetime, timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from bootstrap import PatientQueries
from workflows.task_time import GuardedRunner

RUNNER = GuardedRunner(UnsandboxedWorkflowRunner())  # the test's workflow runs outside the sandbox
GATES: dict[str, bytes] = {}  # workflow id -> task token of its gate, completed by the test


@activity.defn
async def gate() -> None:
    GATES[activity.info().workflow_id or ""] = activity.info().task_token
    activity.raise_complete_async()


@activity.defn
async def record(seen: str) -> str:
    return seen


@workflow.defn(sandboxed=False)
class Gated:
    def __init__(self) -> None:
        self.step = "waiting at the gate"

    @workflow.run
    async def run(self, activities: str) -> str:
        await workflow.execute_activity(gate, task_queue=activities, start_to_close_timeout=timedelta(minutes=2))
        self.step = "through the gate"
        seen = workflow.now().isoformat()
        return await workflow.execute_activity(
            record, seen, task_queue=activities, start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.query
    def where(self) -> str:
        return self.step


def _worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Gated], unsandboxed_workflow_runner=RUNNER)


async def _through_a_restart_with_queries_waiting(client: Client) -> WorkflowHandle[Gated, str]:
    task_queue, activities = f"gated-{uuid.uuid4().hex[:8]}", f"gate-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=activities, activities=[gate, record]):
        async with _worker(client, task_queue):
            handle = await client.start_workflow(Gated.run, activities, id=task_queue, task_queue=task_queue)
            while handle.id not in GATES:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the first worker finishes its task, then stops
        queries = [asyncio.create_task(handle.query(Gated.where, rpc_timeout=timedelta(seconds=5))) for _ in range(3)]
        await asyncio.sleep(2)  # the queries wait on the server: no worker polls
        await client.get_async_activity_handle(task_token=GATES.pop(handle.id)).complete(None)
        await asyncio.sleep(0.5)
        async with _worker(client, task_queue):
            await asyncio.wait_for(handle.result(), 60)
            # One that met the stale step was refused (the guard fails it), others found no worker for a while:
            # each is asked again (`PatientQueries`), and answered while the worker runs.
            assert set(await asyncio.gather(*queries)) <= {"waiting at the gate", "through the gate"}
    return handle


def _seen_and_task_started(history: WorkflowHistory) -> tuple[datetime, datetime]:
    """The time the workflow recorded, and the start time of the task that scheduled the recording."""
    events = {e.event_id: e for e in history.events}
    scheduled = next(
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "record"
    )
    completed = events[scheduled.workflow_task_completed_event_id].workflow_task_completed_event_attributes
    started = events[completed.started_event_id].event_time.ToDatetime()
    seen = datetime.fromisoformat(json.loads(scheduled.input.payloads[0].data)).replace(tzinfo=None)
    return seen, started


async def test_a_task_after_a_restart_and_waiting_queries_reads_its_own_start_time(
    dev_env: WorkflowEnvironment,
) -> None:
    client = Client(  # the test's own payloads; queries asked again as the app asks them
        dev_env.client.service_client, namespace=dev_env.client.namespace, interceptors=[PatientQueries(30)]
    )
    handle = await _through_a_restart_with_queries_waiting(client)
    history = await handle.fetch_history()
    seen, started = _seen_and_task_started(history)
    # The same instant (the history keeps nanoseconds, a datetime microseconds); a stale time is seconds old.
    assert abs(seen - started) < timedelta(milliseconds=1), f"the task read {seen}, but started at {started}"
    await Replayer(workflows=[Gated], unsandboxed_workflow_runner=RUNNER).replay_workflow(history)
