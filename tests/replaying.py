"""Replaying histories on today's workflow code, as a worker would on restart: what determinism tests share."""

from collections.abc import Iterable

from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from activities.codec import DATA_CONVERTER
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow


async def replay_failures(
    histories: Iterable[tuple[str, WorkflowHistory]], data_converter: DataConverter = DATA_CONVERTER
) -> dict[str, str]:
    """Each (name, history) replayed on today's code; the names of those that failed, with why.

    debug_mode lifts the SDK's 2-second deadlock limit and nothing else: determinism is what a replay checks, and
    replaying a 4,000-person run's first step beside three busy test processes once took longer.
    """
    replayer = Replayer(workflows=[ProgramWorkflow, PairingWorkflow], data_converter=data_converter, debug_mode=True)
    failures = {}
    for name, history in histories:
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if replayed.replay_failure is not None:
            failures[name] = str(replayed.replay_failure)
    return failures
