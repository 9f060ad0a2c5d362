"""Every recorded history replays on today's workflow code: a change that would break running programs fails here.

The histories in tests/histories/ were recorded by `python -m tests.histories.record`. When a change to a
workflow alters the commands it issues, guard it with `workflow.patched` so programs already running keep
their old path (docs/ARCHITECTURE.md, "Changing workflow code"), and keep the old histories.
"""

import itertools

import pytest
from temporalio.client import WorkflowHistory

from demo.personas import Persona
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import J0, S0, roster, spec
from tests.helpers.programs import member, start_program
from tests.helpers.replaying import RECORDED, replay_failures
from workflows.pairing import CANCEL_SERIES_AT_EARLY_END, CYCLE_CLOSE_SENDS_AT_ONCE


def test_histories_cover_every_path_and_both_workflows() -> None:
    scenarios = {path.parent.name for path in RECORDED}
    assert scenarios >= {"lifecycle", "decline-and-rematch", "withdrawal", "missed-checkins", "pause-and-resume"}
    assert {
        "cancel",
        "temporal-cancel",
        "pairing-ended-outside",
        "nobody-opts-in",
        "pause-through-kickoff",
        "withdrawn-with-series",
        "cancelled-with-series",
    } <= scenarios
    assert {p.name.split("-")[0] for p in RECORDED} == {"program", "pairing"}


@pytest.mark.parametrize("scenario", sorted({p.parent.name for p in RECORDED}))
async def test_recorded_histories_replay_without_nondeterminism(scenario: str) -> None:
    histories = [
        WorkflowHistory.from_json(path.stem, path.read_text()) for path in RECORDED if path.parent.name == scenario
    ]
    failures = await replay_failures((h.workflow_id, h) for h in histories)
    # The program, and its pairings where it formed any (one pair of two runs for two years)
    expected = {"nobody-opts-in": 1, "two-years-weekly": 3}.get(scenario, 5)
    assert len(histories) >= expected and failures == {}


def test_the_early_ends_recorded_with_a_meeting_series_took_the_path_that_cancels_it() -> None:
    """Pairings that ended while meetings were ahead, recorded after `CANCEL_SERIES_AT_EARLY_END`: their replay
    covers the cancel (the older "withdrawal" and "cancel" histories cover the path without it)."""
    patched = {
        (path.parent.name, path.stem.split("-")[-2])  # the mentor's handle
        for path in RECORDED
        if path.parent.name.endswith("-with-series")
        and any(
            CANCEL_SERIES_AT_EARLY_END.encode() in e.SerializeToString()
            for e in WorkflowHistory.from_json(path.stem, path.read_text()).events
            if e.HasField("marker_recorded_event_attributes")
        )
    }
    assert patched == {("withdrawn-with-series", "junior01")} | {
        ("cancelled-with-series", f"junior0{n}") for n in range(4)
    }


async def test_new_runs_take_the_patched_path_and_replay_too(harness: Harness) -> None:
    """The one change made with `workflow.patched` so far: at a cycle's close, notices and events go at once."""
    people = roster(1)
    stopping = {"junior00": Persona(J0, stop_checkins_after=0), "senior00": Persona(S0, stop_checkins_after=0)}
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, personas_for(people, **stopping))
    pairing = (await member(handle, J0)).pairing_id
    assert pairing is not None
    history = await harness.client.get_workflow_handle(pairing).fetch_history()

    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert any(CYCLE_CLOSE_SENDS_AT_ONCE.encode() in e.SerializeToString() for e in markers)
    scheduled_together = False  # a missed-streak alert and the cycle's events scheduled in one workflow task
    for first, second in itertools.pairwise(history.events):
        names = {
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in (first, second)
            if e.HasField("activity_task_scheduled_event_attributes")
        }
        scheduled_together |= names == {"send_notices", "append_events"}
    assert scheduled_together

    assert await replay_failures([(history.workflow_id, history)]) == {}
