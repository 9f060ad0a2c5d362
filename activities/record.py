"""The program record: domain events appended once each, keyed by workflow id and sequence number."""

from pathlib import Path
from typing import Protocol

import structlog
from temporalio import activity

from activities.keyed_file import KeyedJsonlFile
from activities.messages import EventBatch
from domain.events import DomainEvent

log = structlog.get_logger()


class EventStore(Protocol):
    def append(self, events: list[DomainEvent]) -> int: ...


class JsonlEventStore:
    """A file of events; the SQL store of a later release takes the same events and the same keys."""

    def __init__(self, path: Path) -> None:
        self.file = KeyedJsonlFile(path)

    def append(self, events: list[DomainEvent]) -> int:
        rows = [{"key": e.key, **e.model_dump(mode="json")} for e in events]
        return len(self.file.append_new(rows))

    def read(self) -> list[DomainEvent]:
        return [DomainEvent.model_validate(row) for row in self.file.read_all()]


class RecordActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="append_events")
    async def append_events(self, batch: EventBatch) -> int:
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
