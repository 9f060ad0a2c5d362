"""The program record: domain events appended once each, keyed by workflow id and sequence number."""

from typing import Protocol

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messages import EventBatch, Failure
from adapters.store.sql import ConflictingRun
from domain.events import DomainEvent

log = structlog.get_logger()


class EventStore(Protocol):
    def append(self, events: list[DomainEvent]) -> int: ...


class RecordActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    # Synchronous on purpose: the SQL driver blocks, so the worker runs this in its thread pool, never on the
    # event loop that drives the workflows.
    @activity.defn(name="append_events")
    def append_events(self, batch: EventBatch) -> int:
        try:
            added = self.store.append(batch.events)
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
