"""The SQL event store: append domain events exactly once, keep the read model in step, rebuild it on demand.

SQLite (a file, zero set-up) by default, PostgreSQL in production; `DATABASE_URL` chooses. Appending and
projecting happen in one transaction, so the read model never shows an event the log lacks, or the reverse.
"""

import fcntl
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, select, text
from sqlalchemy.dialects import sqlite

from adapters.store import tables as t
from adapters.store.bulk import Inserted, Known, event_arrays, lock_insert_and_read
from adapters.store.projections import project, projector, read_ahead
from domain.events import DomainEvent

log = structlog.get_logger()
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
REBUILD_BATCH = 5000
MIGRATION_LOCK = zlib.crc32(b"flipside-migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Every write transaction here starts with a write, so SQLite takes its lock at once and a second
        # appender waits (up to the timeout) instead of failing half-way through.
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (reports) never block the worker's appends
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrate(url: str) -> None:
    """Bring the schema to the newest migration; safe to run on every start, by several workers at once."""
    # Imported here: only processes that migrate need Alembic, and a command line starts faster without it.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = make_engine(url)
    try:
        with _sqlite_file_lock(url), engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # processes starting together take turns
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """Processes migrating one SQLite file take turns. SQLite's own lock does not serialise them: each reads the
    schema version before its first write, and Python's sqlite3 runs DDL outside a transaction, so a portal and
    a worker started together both created the tables ("table alerts already exists")."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def program_lock(program_id: str) -> int:
    """The key of the PostgreSQL advisory lock an append of the program holds until it commits."""
    return zlib.crc32(program_id.encode())


class ConflictingRun(Exception):
    """Events offered under keys that another run of the same workflow id already holds in the record."""


class SqlEventStore:
    def __init__(self, url: str, *, migrate_schema: bool = True) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if migrate_schema:
            migrate(url)
        self.url = url
        self.engine = make_engine(url)

    def append(self, events: list[DomainEvent]) -> int:
        """Append the events not yet in the log and project them; return how many were new."""
        if not events:
            return 0
        insert_new = self._inserter(events)  # encoded before the lock: other appends wait only for the writes
        with self.engine.begin() as conn:
            added, known = insert_new(conn)
            if len(added) < len(events):  # a retry, or another run under the same id: raising rolls back
                _check_same_run(conn, events, {(workflow_id, seq) for _, workflow_id, seq in added})
            by_key = {(e.workflow_id, e.seq): e for e in events}
            p = projector(conn, known)
            for event_id, workflow_id, seq in sorted(added):
                project(p, event_id, by_key[(workflow_id, seq)])
            p.flush(commit=True)
        return len(added)

    def _inserter(self, events: list[DomainEvent]) -> Callable[[Connection], tuple[Inserted, Known]]:
        """What inserts the events the log does not hold yet: their ids and keys, and rows read on the way."""
        rows = _rows(events)
        if self.engine.dialect.name != "postgresql":  # one writer at a time: SQLite locks the file
            return lambda conn: (_insert_sqlite(conn, rows), {})
        # Appends of one program take turns (a lock until commit), so id order is commit order and rebuild
        # replays the log in the order appends projected it. The rows projecting may read come with the insert:
        # the lock's holder waits for the server once less.
        lock, arrays, reads = program_lock(events[0].program_id), event_arrays(rows), read_ahead(events)
        return lambda conn: lock_insert_and_read(conn, lock, arrays, reads)

    def read(self, program_id: str | None = None) -> list[DomainEvent]:
        with self.engine.connect() as conn:
            return [event for _, event in _stream(conn, program_id)]

    def rebuild(self) -> int:
        """Empty every projection and replay the whole log into it, in one transaction; return events replayed."""
        replayed = 0
        with self.engine.begin() as conn:
            for table in t.PROJECTIONS:
                conn.execute(delete(table))
            p = projector(conn)
            for event_id, domain_event in _stream(conn):
                project(p, event_id, domain_event)
                replayed += 1
                if replayed % REBUILD_BATCH == 0:  # rows wait in memory until a flush: a page's worth at most
                    p.flush()
            p.flush()
        log.info("read model rebuilt", events=replayed)
        return replayed

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()


def _insert_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> Inserted:
    statement = (
        sqlite.insert(t.events)
        .on_conflict_do_nothing(index_elements=["workflow_id", "seq"])
        .returning(t.events.c.id, t.events.c.workflow_id, t.events.c.seq)
    )
    return [(row.id, row.workflow_id, row.seq) for row in conn.execute(statement, rows)]


def _rows(events: list[DomainEvent]) -> list[dict[str, Any]]:
    return [
        {
            "workflow_id": e.workflow_id,
            "seq": e.seq,
            "kind": e.kind,
            "at": e.at,
            "program_id": e.program_id,
            "pairing_id": e.pairing_id,
            "participant": e.participant,
            "origin": e.origin,
            "fact": e.fact.model_dump(mode="json"),
        }
        for e in events
    ]


def _check_same_run(conn: Connection, events: list[DomainEvent], added: set[tuple[str, int]]) -> None:
    """Keys already in the record must have been written by the run offering them again (a retried append).

    A second run that reused a workflow id numbers its events from 1 again: without this its facts would be
    dropped as duplicates of the first run's, silently.
    """
    repeated: dict[str, dict[int, str | None]] = {}
    for e in events:
        if (e.workflow_id, e.seq) not in added:
            repeated.setdefault(e.workflow_id, {})[e.seq] = e.origin
    c = t.events.c
    for workflow_id, offered in repeated.items():
        # A range, not IN (one parameter a number): psycopg parses a statement of over 50 parameters anew each time
        # (a third of a retried append's time); a batch's numbers run on, so the range holds little else.
        seqs = c.seq.between(min(offered), max(offered))
        held = conn.execute(select(c.seq, c.origin).where(c.workflow_id == workflow_id, seqs)).all()
        for seq, origin in held:
            if seq in offered and origin != offered[seq]:
                raise ConflictingRun(
                    f"{workflow_id} #{seq} is already in the record from run {origin or 'before run ids'}; "
                    f"run {offered[seq]} reuses that workflow id"
                )


def _stream(conn: Connection, program_id: str | None = None) -> Iterator[tuple[int, DomainEvent]]:
    """The log in id order, a page at a time (keyset paging: the connection stays free for writes between)."""
    last_id = 0
    while True:
        query = select(t.events).where(t.events.c.id > last_id).order_by(t.events.c.id).limit(REBUILD_BATCH)
        if program_id is not None:
            query = query.where(t.events.c.program_id == program_id)
        rows = conn.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield row.id, _event_of(row)
        last_id = rows[-1].id


def _event_of(row: Any) -> DomainEvent:
    at: datetime = row.at
    return DomainEvent.model_validate(
        {
            "workflow_id": row.workflow_id,
            "seq": row.seq,
            "at": at if at.tzinfo else at.replace(tzinfo=UTC),  # SQLite keeps no zone; every event is UTC
            "program_id": row.program_id,
            "pairing_id": row.pairing_id,
            "participant": row.participant,
            "origin": row.origin,
            "fact": row.fact,
        }
    )
