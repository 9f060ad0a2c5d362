"""The baseline for bench/lifecycle.py: the least a Temporal workflow can do for the same check-in rounds.

Each round it sends one notification through an activity, then waits the cadence on a timer while it takes the
round's three answers (two check-ins and the mentor's pulse) as updates with a validator. What PairingWorkflow
costs beyond this is the price of its domain: prompts, reminders, events and search attributes.
"""

from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

ANSWERS_PER_ROUND = ("mentor/check-in", "mentee/check-in", "mentor/pulse")


class BareInput(BaseModel):
    rounds: int
    cadence: timedelta


class RoundOpened(BaseModel):
    workflow_id: str
    round: int


class BareAnswer(BaseModel):
    round: int
    slot: str  # one of ANSWERS_PER_ROUND


@workflow.defn
class BareLoopWorkflow:
    def __init__(self) -> None:
        self.round = 0
        self.answered: set[str] = set()

    @workflow.run
    async def run(self, inp: BareInput) -> int:
        taken = 0
        for number in range(1, inp.rounds + 1):
            taken += len(self.answered)
            self.round, self.answered = number, set()
            await workflow.execute_activity(
                "open_round",
                RoundOpened(workflow_id=workflow.info().workflow_id, round=number),
                start_to_close_timeout=timedelta(seconds=30),
            )
            await workflow.sleep(inp.cadence)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return taken + len(self.answered)

    @workflow.query
    def open_slots(self) -> list[str]:
        return [slot for slot in ANSWERS_PER_ROUND if slot not in self.answered]

    @workflow.update
    def answer(self, answer: BareAnswer) -> str:
        self.answered.add(answer.slot)
        return "ok"

    @answer.validator
    def _check_answer(self, answer: BareAnswer) -> None:
        if answer.round != self.round or answer.slot in self.answered or answer.slot not in ANSWERS_PER_ROUND:
            raise ApplicationError(f"round {answer.round} slot {answer.slot} is not open", non_retryable=True)


class RoundChannel:
    """Hands each opened round to the bench's driver, once per round however often the activity retries."""

    def __init__(self, on_round: Callable[[RoundOpened], None]) -> None:
        self.on_round = on_round
        self.seen: set[tuple[str, int]] = set()

    @activity.defn(name="open_round")
    async def open_round(self, opened: RoundOpened) -> None:
        key = (opened.workflow_id, opened.round)
        if key not in self.seen:
            self.seen.add(key)
            self.on_round(opened)
