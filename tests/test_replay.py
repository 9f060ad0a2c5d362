"""Every recorded history replays on today's workflow code: a change that would break running programs fails here.

The histories in tests/histories/ were recorded by `python -m tests.histories.record`. When a change to a
workflow alters the commands it issues, guard it with `workflow.patched` so programs already running keep
their old path (docs/ARCHITECTURE.md, "Changing workflow code"), and keep the old histories.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from activities.codec import DATA_CONVERTER
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*/*.json"))


def test_histories_cover_every_path_and_both_workflows() -> None:
    scenarios = {path.parent.name for path in HISTORIES}
    assert scenarios >= {"lifecycle", "decline-and-rematch", "withdrawal", "missed-checkins", "pause-and-resume"}
    assert "cancel" in scenarios
    assert {p.name.split("-")[0] for p in HISTORIES} == {"program", "pairing"}


@pytest.mark.parametrize("scenario", sorted({p.parent.name for p in HISTORIES}))
async def test_recorded_histories_replay_without_nondeterminism(scenario: str) -> None:
    histories = [
        WorkflowHistory.from_json(path.stem, path.read_text()) for path in HISTORIES if path.parent.name == scenario
    ]
    replayer = Replayer(workflows=[ProgramWorkflow, PairingWorkflow], data_converter=DATA_CONVERTER)
    failures = {}
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            failures[history.workflow_id] = str(result.replay_failure)
    assert len(histories) >= 5 and failures == {}
