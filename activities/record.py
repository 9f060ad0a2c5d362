"""The program record: domain events appended once each, keyed by workflow id and sequence number."""

from typing import Protocol

import structlog
from temporalio import activity

from activities.messages import EventBatch
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
        added = self.store.append(batch.events)
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
