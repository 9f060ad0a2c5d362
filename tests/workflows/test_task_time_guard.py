"""Which activations the runner guard refuses (`workflows/task_time.py`): only a live step that brings new history
at no later a time, which is what the SDK sends when a query loads a run mid-hand-over. The live sequence itself
is reproduced in tests/integration/test_task_time.py."""

from temporalio.bridge.proto.workflow_activation import WorkflowActivation, WorkflowActivationJob

from workflows.task_time import _live_without_new_time

SECOND = 1_000_000_000


def _activation(seconds: int, length: int, *, replaying: bool = False, query: bool = False) -> WorkflowActivation:
    act = WorkflowActivation(run_id="run", is_replaying=replaying, history_length=length)
    act.timestamp.FromNanoseconds(seconds * SECOND)
    job = WorkflowActivationJob()
    if query:
        job.query_workflow.query_id = "q"
    else:
        job.resolve_activity.seq = 1
    act.jobs.append(job)
    return act


def test_a_live_step_on_new_history_at_the_time_before_is_refused() -> None:
    assert _live_without_new_time(_activation(100, 8), before=(100 * SECOND, 3))


def test_a_new_task_with_its_own_later_time_passes() -> None:
    assert not _live_without_new_time(_activation(107, 9), before=(100 * SECOND, 3))


def test_a_second_activation_of_the_same_task_passes() -> None:
    assert not _live_without_new_time(_activation(100, 3), before=(100 * SECOND, 3))


def test_replays_queries_and_a_first_activation_pass() -> None:
    assert not _live_without_new_time(_activation(100, 8, replaying=True), before=(100 * SECOND, 3))
    assert not _live_without_new_time(_activation(100, 8, query=True), before=(100 * SECOND, 3))
    assert not _live_without_new_time(_activation(100, 8), before=None)
