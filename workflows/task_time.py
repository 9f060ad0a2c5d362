"""A guard on the time of workflow tasks: a live step that a query, not a workflow task, made is failed.

Seen here in most runs of the sequence below (docs/incidents/2026-12-06-replay-diverges-after-worker-kill,
tests/integration/test_task_time.py): a worker that first meets a run through a *legacy* query (one the server
sends on its own, not attached to a task) loads it from a history that already holds an activity's result but not
the start of the task that follows. The SDK then runs the workflow past that result, live, at the time of the last
task in that history, seconds old, and sends what it decided with the next task. A replay runs the same code at
that task's own start time, so a decision on the clock (is a reminder due?) came out otherwise on replay, and the
run could not be replayed.

`GuardedRunner` fails such a step before the workflow sees it, which drops the run from the SDK's cache; the real
task then replays the whole history and decides at its own time. The query the step was loaded for is refused
(`STALE_STEP_REFUSED`); asked again, it is answered. Two rules:

1. A live activation that brings more history than the one before it but no later time is a query's load: a
   new workflow task starts later than any task before it. (Queries, which decide nothing, pass.)
2. After rule 1 has fired for a run, a legacy query that follows straight after the first live step of a fresh
   instance, on the same history, is refused too. The SDK's core drops a workflow task that waited behind the
   evicted run when another legacy query waited with it (`There were leftover buffered tasks when evicting run`);
   the next query then loads a history that holds that task's start and steps live at the right time, but the
   task itself times out, and its retry sent what the query's step decided, ten seconds stale. A live step
   cannot tell a query's load from a task; the legacy query that follows it can. The mark on the run is cleared
   once one of its instances takes a second live step, which only a task from the server brings.
"""

from collections import OrderedDict
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
LEGACY_QUERY_ID = "legacy_query"  # the id the SDK's core gives a query the server sent without a task
SUSPECTS_KEPT = 10_000  # runs marked by rule 1 and not yet cleared; the oldest marks go first


def _only_queries(act: WorkflowActivation) -> bool:
    return all(job.HasField("query_workflow") or job.HasField("remove_from_cache") for job in act.jobs)


def _live_step(act: WorkflowActivation) -> bool:
    return not act.is_replaying and not _only_queries(act)


def _live_without_new_time(act: WorkflowActivation, before: tuple[int, int] | None) -> bool:
    """Rule 1: a live step on new history (more events than the activation before) at no later a time.
    A second activation of one task (the same history) may share its time; a query decides nothing."""
    if before is None or not act.HasField("timestamp") or not _live_step(act):
        return False
    time_before, length_before = before
    return act.timestamp.ToNanoseconds() <= time_before and act.history_length > length_before


def _legacy_query_on(act: WorkflowActivation, history_length: int) -> bool:
    """Rule 2's shape: a legacy query on a history of this length."""
    return (
        act.history_length == history_length
        and bool(act.jobs)
        and all(job.query_workflow.query_id == LEGACY_QUERY_ID for job in act.jobs)
    )


class _Suspects:
    """Runs rule 1 fired for, shared by the instances a worker creates for them (bounded: oldest first out)."""

    def __init__(self) -> None:
        self.runs: OrderedDict[str, None] = OrderedDict()

    def mark(self, run_id: str) -> None:
        self.runs[run_id] = None
        while len(self.runs) > SUSPECTS_KEPT:
            self.runs.popitem(last=False)

    def clear(self, run_id: str) -> None:
        self.runs.pop(run_id, None)

    def __contains__(self, run_id: str) -> bool:
        return run_id in self.runs


class _Guarded(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance, suspects: _Suspects) -> None:
        self.inner = inner
        self.suspects = suspects
        self.last: tuple[int, int] | None = None  # time (ns) and history length of the activation before
        self.steps = 0  # live steps this instance has taken
        self.first_step = 0  # history length of the first

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        if _live_without_new_time(act, self.last):
            self.suspects.mark(act.run_id)
            return _refused(act, "stale task time refused")
        if act.run_id in self.suspects and self.steps == 1 and _legacy_query_on(act, self.first_step):
            return _refused(act, "query after a query's step refused")
        self._note(act)
        return self.inner.activate(act)

    def _note(self, act: WorkflowActivation) -> None:
        if act.HasField("timestamp"):
            self.last = (act.timestamp.ToNanoseconds(), act.history_length)
        if _live_step(act):
            self.steps += 1
            if self.steps == 1:
                self.first_step = act.history_length
            else:
                self.suspects.clear(act.run_id)

    # The rest of the instance's interface, unchanged.
    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        return self.inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


def _refused(act: WorkflowActivation, event: str) -> WorkflowActivationCompletion:
    log.warning(event, run_id=act.run_id, history_length=act.history_length)
    completion = WorkflowActivationCompletion(run_id=act.run_id)
    completion.failed.failure.message = STALE_STEP_REFUSED
    return completion


class GuardedRunner(WorkflowRunner):
    """The sandboxed runner, with every workflow instance behind the guard above."""

    def __init__(self, inner: WorkflowRunner | None = None) -> None:
        self.inner = inner or SandboxedWorkflowRunner()
        self.suspects = _Suspects()

    def prepare_workflow(self, defn: _Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Guarded(self.inner.create_instance(det), self.suspects)

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self.inner.set_worker_level_failure_exception_types(types)
