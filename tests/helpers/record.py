"""Reading the program record (the SQL store) the way tests check it."""

from collections import Counter, defaultdict

from sqlalchemy import select

from adapters.store import tables as t
from adapters.store.sql import SqlEventStore
from domain.events import DomainEvent


def assert_exactly_once(events: list[DomainEvent]) -> Counter[str]:
    """Each workflow's events are numbered 1..n, none twice and none missing; returns how many of each kind."""
    seqs: dict[str, list[int]] = defaultdict(list)
    for event in events:
        seqs[event.workflow_id].append(event.seq)
    for workflow_id, numbers in seqs.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), workflow_id
    return Counter(e.kind for e in events)


def read_model_outcome(store: SqlEventStore, pairing_id: str) -> tuple[str, str | None]:
    query = select(t.pairings.c.stage, t.pairings.c.outcome).where(t.pairings.c.pairing_id == pairing_id)
    with store.engine.connect() as conn:
        stage, outcome = conn.execute(query).one()
    return stage, outcome
