"""State every Flipside workflow keeps: its pausable clock, open prompts, unsent notices and events, and the
receipts of the requests it took."""

from pydantic import BaseModel

from domain.clock import ActiveClock
from domain.events import EventJournal
from domain.notices import Notice
from domain.prompts import PromptBook

RECEIPTS_KEPT = 500  # a re-send comes within minutes of the first; a busy program takes hundreds an hour


class WorkflowCore(BaseModel):
    clock: ActiveClock = ActiveClock()
    prompts: PromptBook = PromptBook()
    journal: EventJournal = EventJournal()
    outbox: list[Notice] = []
    # Update id -> the reply it got, for the latest requests taken. Temporal deduplicates an update id within
    # one run only: these answer a request re-sent after a continue-as-new as the first was answered.
    receipts: dict[str, str] = {}

    def receipt(self, update_id: str) -> str | None:
        return self.receipts.get(update_id)

    def keep_receipt(self, update_id: str, reply: str) -> None:
        self.receipts[update_id] = reply
        for oldest in list(self.receipts)[: max(0, len(self.receipts) - RECEIPTS_KEPT)]:
            del self.receipts[oldest]
