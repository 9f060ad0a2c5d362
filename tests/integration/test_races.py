"""No race a caller must sleep through: an answer sent the instant its prompt exists lands, once."""

import asyncio
import uuid

from temporalio.api.enums.v1 import EventType

from domain.answers import OptIn
from domain.views import MemberStatus
from tests.helpers.harness import Harness
from tests.helpers.people import J0, roster, spec
from tests.helpers.programs import member, start_program

TRIES = 50
UPDATE_ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED


async def test_an_opt_in_sent_the_instant_a_program_starts_lands_once_every_time(dev_harness: Harness) -> None:
    """Fifty programs, each answered by its first invitee as soon as `start` returns, with no look at the prompts
    first (as a script that knows the prompt would): the answer often reaches the program before its first step
    has run. Before invitations opened in the program's first moment, such an answer was refused."""
    tag = uuid.uuid4().hex[:6]
    opt_in = OptIn(participant=J0, consent_to_ground_rules=True)

    async def start_and_answer(n: int) -> tuple[str, str]:
        handle = await start_program(dev_harness, spec(slug=f"instant-{tag}-{n}"), roster(1))
        reply: str = await handle.execute_update("opt_in", opt_in, id=f"{J0}/opt-in", result_type=str)
        return handle.id, reply

    answered = await asyncio.gather(*(start_and_answer(n) for n in range(TRIES)))

    for program_id, reply in answered:
        assert reply.startswith("Welcome aboard"), reply
        handle = dev_harness.client.get_workflow_handle(program_id)
        assert (await member(handle, J0)).status == MemberStatus.OPTED_IN
        history = await handle.fetch_history()
        accepted = [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
        assert len(accepted) == 1, f"{program_id}: {len(accepted)} answers applied"
