"""A guard on the time of workflow tasks: a live activation that carries an earlier task's time is failed.

Seen here in most runs of the sequence below (docs/incidents/2026-12-06-replay-diverges-after-worker-kill,
tests/integration/test_task_time.py): a worker that first meets a run through a query
loads it from a history that already holds an activity's result but not the start of the task that follows. The
SDK then runs the workflow past that result, live, at the time of the last task in that history, seconds old, and
sends what it decided with the next task. A replay runs the same code at that task's own start time, so a
decision on the clock (is a reminder due?) came out otherwise on replay, and the run could not be replayed.

A live activation on new history is the start of a new workflow task, whose start is later than any task before
it. So `GuardedRunner` fails a live activation that brings more history than the one before it but no later
time, before the workflow sees it (queries, which decide nothing, pass): the SDK drops the run from its cache and
takes the task again from the whole history, as a replay would, with the true time. The query the step was
loaded for is refused (`STALE_STEP_REFUSED`); asked again, it is answered.
"""

from collections.abc import Sequence
from typing import Any

import structlog
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info, _Definition

from domain.replies import STALE_STEP_REFUSED

log = structlog.get_logger()


def _live_without_new_time(act: WorkflowActivation, before: tuple[int, int] | None) -> bool:
    """A live step on new history (more events than the activation before) at no later a time: a query's load.
    A second activation of one task (the same history) may share its time; a query decides nothing."""
    if act.is_replaying or before is None or not act.HasField("timestamp"):
        return False
    if all(job.HasField("query_workflow") or job.HasField("remove_from_cache") for job in act.jobs):
        return False
    time_before, length_before = before
    return act.timestamp.ToNanoseconds() <= time_before and act.history_length > length_before


class _Guarded(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner
        self.last: tuple[int, int] | None = None  # time (ns) and history length of the activation before

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        if _live_without_new_time(act, self.last):
            log.warning("stale task time refused", run_id=act.run_id, history_length=act.history_length)
            completion = WorkflowActivationCompletion(run_id=act.run_id)
            completion.failed.failure.message = STALE_STEP_REFUSED
            return completion
        if act.HasField("timestamp"):
            self.last = (act.timestamp.ToNanoseconds(), act.history_length)
        return self.inner.activate(act)

    # The rest of the instance's interface, unchanged.
    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        return self.inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


class GuardedRunner(WorkflowRunner):
    """The sandboxed runner, with every workflow instance behind the guard above."""

    def __init__(self, inner: WorkflowRunner | None = None) -> None:
        self.inner = inner or SandboxedWorkflowRunner()

    def prepare_workflow(self, defn: _Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Guarded(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self.inner.set_worker_level_failure_exception_types(types)
