"""State every Flipside workflow keeps: its pausable clock, open prompts, unsent notices and events."""

from pydantic import BaseModel

from domain.clock import ActiveClock
from domain.events import EventJournal
from domain.notices import Notice
from domain.prompts import PromptBook


class WorkflowCore(BaseModel):
    clock: ActiveClock = ActiveClock()
    prompts: PromptBook = PromptBook()
    journal: EventJournal = EventJournal()
    outbox: list[Notice] = []
