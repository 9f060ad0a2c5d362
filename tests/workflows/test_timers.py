"""A wait leaves the timers it no longer needs to ring, and never cancels one (workflows/base.py, Alarm).

A cancel that meets the timer's firing within one workflow task strands the time-skipping test server
(sdk-java#3088): the server refuses the task's completion and never hands the task out again. With no cancel
there is no such race, whatever the timing of answers, pauses and withdrawals.
"""

from datetime import timedelta

from temporalio.api.enums.v1 import EventType

from demo.personas import Persona
from domain.answers import CoordinatorAction
from domain.program import ProgramPhase
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, roster, spec
from tests.helpers.programs import start_program

AS_COORDINATOR = CoordinatorAction(coordinator=COORDINATOR, reason="the quarter's close")


async def test_a_program_and_its_pairings_never_cancel_a_timer(harness: Harness) -> None:
    people = roster(3)
    cast = personas_for(people, junior01=Persona("junior01@example.com", withdraw_at_cycle=2))
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, cast, until=ProgramPhase.MENTORING)
    await harness.env.sleep(timedelta(days=3))
    await handle.execute_update("pause", AS_COORDINATOR, result_type=str)
    await harness.env.sleep(timedelta(days=10))  # the timers set before the pause ring into nothing
    await handle.execute_update("resume", AS_COORDINATOR, result_type=str)
    await drive(harness, handle, cast)

    ids = [handle.id, *sorted({str(n["pairing_id"]) for n in harness.notices() if n["pairing_id"]})]
    assert len(ids) == 4
    for workflow_id in ids:
        history = await harness.client.get_workflow_handle(workflow_id).fetch_history()
        kinds = [event.event_type for event in history.events]
        assert EventType.EVENT_TYPE_TIMER_STARTED in kinds, workflow_id
        assert EventType.EVENT_TYPE_TIMER_CANCELED not in kinds, workflow_id
        assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, workflow_id
