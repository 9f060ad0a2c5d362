"""The program record: domain events appended once each, keyed by workflow id and sequence number."""

from typing import Protocol

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messages import EventBatch, Failure
from adapters.codec import Sealer
from adapters.store.sql import ConflictingRun
from domain.events import DomainEvent, PairRecordShown, PromptShown

log = structlog.get_logger()


class EventStore(Protocol):
    def append(self, events: list[DomainEvent]) -> int: ...


class RecordActivities:
    def __init__(self, store: EventStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    # Synchronous on purpose: the SQL driver blocks, so the worker runs this in its thread pool, never on the
    # event loop that drives the workflows.
    @activity.defn(name="append_events")
    def append_events(self, batch: EventBatch) -> int:
        try:
            added = self.store.append([self._sealed(e) for e in batch.events])
        except ConflictingRun as error:  # no retry can fix it: the workflow tells its coordinators and stops
            raise ApplicationError(str(error), type=Failure.CONFLICTING_RUN, non_retryable=True) from error
        if batch.events:
            first = batch.events[0]
            log.debug(
                "events appended",
                program_id=first.program_id,
                pairing_id=first.pairing_id,
                added=added,
                offered=len(batch.events),
            )
        return added

    def _sealed(self, event: DomainEvent) -> DomainEvent:
        """A prompt's view and a pair's record go to the record sealed: they may hold a partner's name, a plan a
        partner wrote or a recap."""
        fact = event.fact
        if not isinstance(fact, PromptShown | PairRecordShown) or fact.view is None:
            return event
        sealed = fact.model_copy(update={"view": None, "sealed": self.sealer.seal(fact.view)})
        return event.model_copy(update={"fact": sealed})
