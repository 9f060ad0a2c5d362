"""Replaying histories on today's workflow code, as a worker would on restart: what determinism tests share."""

from collections import Counter
from collections.abc import Iterable, Sequence

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from adapters.codec import DATA_CONVERTER
from tests.helpers import ROOT
from worker import WORKFLOW_INTERCEPTORS
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

RECORDED = sorted((ROOT / "tests" / "histories").glob("*/*.json"))  # one file a run; its folder names the path


async def replay_failures(
    histories: Iterable[tuple[str, WorkflowHistory]],
    data_converter: DataConverter = DATA_CONVERTER,
    workflows: Sequence[type] = (ProgramWorkflow, PairingWorkflow),
) -> dict[str, str]:
    """Each (name, history) replayed on today's code; the names of those that failed, with why.

    debug_mode lifts the SDK's 2-second deadlock limit and nothing else: determinism is what a replay checks, and
    replaying a 4,000-person run's first step beside three busy test processes once took longer.
    """
    replayer = Replayer(
        workflows=workflows,
        data_converter=data_converter,
        interceptors=WORKFLOW_INTERCEPTORS,  # as the worker runs them: receipts change what a re-sent update does
        debug_mode=True,
    )
    failures = {}
    for name, history in histories:
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if replayed.replay_failure is not None:
            failures[name] = str(replayed.replay_failure)
    return failures


async def runs_of(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, first to last, following continue-as-new back from the latest run."""
    run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    runs = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        run_id = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    return runs[::-1]


def ended_by_continue_as_new(run: WorkflowHistory) -> bool:
    return run.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")


def numbered(runs: list[WorkflowHistory]) -> list[tuple[str, WorkflowHistory]]:
    """Each run named by its workflow and its place: run 1 is the first."""
    return [(f"{run.workflow_id} run {number}", run) for number, run in enumerate(runs, start=1)]


def child_starts(runs: list[WorkflowHistory]) -> Counter[str]:
    """How many times each child workflow id was started across the runs."""
    return Counter(
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for run in runs
        for e in run.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    )
