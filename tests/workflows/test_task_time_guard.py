"""Which activations the runner guard refuses (`workflows/task_time.py`): a live step that brings new history at
no later a time (rule 1), and on a run rule 1 fired for, a legacy query straight after a fresh instance's first
live step (rule 2). These are the sequences the SDK's core sends, as logged in
docs/incidents/2026-12-06-replay-diverges-after-worker-kill; the live sequence itself is reproduced in
tests/integration/test_task_time.py."""

from temporalio.bridge.proto.workflow_activation import WorkflowActivation, WorkflowActivationJob
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion

from workflows.task_time import LEGACY_QUERY_ID, SUSPECTS_KEPT, _Guarded, _live_without_new_time, _Suspects

SECOND = 1_000_000_000


def _activation(
    seconds: int, length: int, *, replaying: bool = False, query: str = "", start: bool = False
) -> WorkflowActivation:
    act = WorkflowActivation(run_id="run", is_replaying=replaying, history_length=length)
    act.timestamp.FromNanoseconds(seconds * SECOND)
    job = WorkflowActivationJob()
    if query:
        job.query_workflow.query_id = query
    elif start:
        job.initialize_workflow.workflow_type = "Gated"
    else:
        job.resolve_activity.seq = 1
    act.jobs.append(job)
    return act


class _Workflow:
    """Stands in for the workflow behind the guard: counts what reaches it."""

    def __init__(self) -> None:
        self.seen = 0

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        self.seen += 1
        return WorkflowActivationCompletion(run_id=act.run_id)


def _instance(suspects: _Suspects) -> tuple[_Guarded, _Workflow]:
    workflow = _Workflow()
    return _Guarded(workflow, suspects), workflow  # type: ignore[arg-type]  # only activate() is used


def _refused(guard: _Guarded, act: WorkflowActivation) -> bool:
    return guard.activate(act).HasField("failed")


def test_a_live_step_on_new_history_at_the_time_before_is_refused() -> None:
    assert _live_without_new_time(_activation(100, 8), before=(100 * SECOND, 3))


def test_a_new_task_with_its_own_later_time_passes() -> None:
    assert not _live_without_new_time(_activation(107, 9), before=(100 * SECOND, 3))


def test_a_second_activation_of_the_same_task_passes() -> None:
    assert not _live_without_new_time(_activation(100, 3), before=(100 * SECOND, 3))


def test_replays_queries_and_a_first_activation_pass() -> None:
    assert not _live_without_new_time(_activation(100, 8, replaying=True), before=(100 * SECOND, 3))
    assert not _live_without_new_time(_activation(100, 8, query="q"), before=(100 * SECOND, 3))
    assert not _live_without_new_time(_activation(100, 8), before=None)


def test_after_a_stale_step_a_legacy_query_behind_the_next_instances_first_step_is_refused() -> None:
    suspects = _Suspects()
    first, _ = _instance(suspects)
    assert not _refused(first, _activation(100, 3, replaying=True, start=True))
    assert _refused(first, _activation(100, 8))  # rule 1: a query's load, at the time before
    second, workflow = _instance(suspects)  # the run loaded again, by the next legacy query
    assert not _refused(second, _activation(100, 3, replaying=True, start=True))
    assert not _refused(second, _activation(107, 9))  # the right time, but a query's step, not a task's
    assert _refused(second, _activation(107, 9, replaying=True, query=LEGACY_QUERY_ID))
    assert workflow.seen == 2


def test_without_a_stale_step_a_legacy_query_after_the_first_step_is_answered() -> None:
    guard, workflow = _instance(_Suspects())  # a worker's cached run, asked while it waits: every query's shape
    assert not _refused(guard, _activation(100, 3, start=True))
    assert not _refused(guard, _activation(100, 3, replaying=True, query=LEGACY_QUERY_ID))
    assert workflow.seen == 2


def test_a_query_sent_with_a_task_is_answered_on_a_marked_run() -> None:
    suspects = _Suspects()
    suspects.mark("run")
    guard, _ = _instance(suspects)
    assert not _refused(guard, _activation(100, 3, replaying=True, start=True))
    assert not _refused(guard, _activation(110, 12))
    assert not _refused(guard, _activation(110, 12, replaying=True, query="5bd0c2f1"))


def test_a_second_live_step_clears_the_mark() -> None:
    suspects = _Suspects()
    suspects.mark("run")
    guard, _ = _instance(suspects)
    for act in (_activation(100, 3, replaying=True, start=True), _activation(107, 9), _activation(108, 15)):
        assert not _refused(guard, act)
    assert "run" not in suspects
    assert not _refused(guard, _activation(108, 15, replaying=True, query=LEGACY_QUERY_ID))


def test_marks_are_bounded() -> None:
    suspects = _Suspects()
    for n in range(SUSPECTS_KEPT + 1):
        suspects.mark(f"run-{n}")
    assert "run-0" not in suspects and f"run-{SUSPECTS_KEPT}" in suspects and len(suspects.runs) == SUSPECTS_KEPT
