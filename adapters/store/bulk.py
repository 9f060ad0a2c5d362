"""Writes in bulk: many rows in one statement, COPY on PostgreSQL.

Measured on 30,000 bench events (bench/results/events.md): SQLAlchemy's multi-row INSERT ... RETURNING put
1,800 parameters in a statement of its own text per batch, which psycopg parses with a regular expression
every time (it caches statements of at most 50 parameters), and psycopg's executemany sends and converts each
row apart. One array per column, unnested by a statement whose text never changes, and COPY, do the same work
in a fraction of the client's time. SQLite, in process, needs none of it and keeps the plain statements.
"""

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection, Table, bindparam, insert, update

Row = dict[str, Any]
Key = tuple[Any, ...]

# One array per column, sent in binary (%b: text arrays would be escaped by a regular expression, value by
# value), unnested in the order given so that ids follow the batch, as a multi-row VALUES list gives them.
INSERT_EVENTS = """
INSERT INTO events (workflow_id, seq, kind, at, program_id, pairing_id, participant, origin, fact)
SELECT workflow_id, seq, kind, at, program_id, pairing_id, participant, origin, fact::jsonb
FROM unnest(%b::text[], %b::int[], %b::text[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::text[],
            %b::text[])
    WITH ORDINALITY AS batch(workflow_id, seq, kind, at, program_id, pairing_id, participant, origin, fact, n)
ORDER BY n
ON CONFLICT (workflow_id, seq) DO NOTHING
RETURNING id, workflow_id, seq
"""
EVENT_COLUMNS = ("workflow_id", "seq", "kind", "at", "program_id", "pairing_id", "participant", "origin", "fact")


def insert_events_returning(conn: Connection, rows: list[Row]) -> list[tuple[int, str, int]]:
    """PostgreSQL: insert the event rows whose key is new, in the order given; the (id, workflow id, seq) of each.

    `fact` goes as the text json.dumps makes of it, what SQLAlchemy would send for the JSONB column.
    """
    columns = [[row[name] for row in rows] for name in EVENT_COLUMNS[:-1]]
    columns.append([json.dumps(row["fact"]) for row in rows])
    with driver(conn).cursor() as cursor:
        cursor.execute(INSERT_EVENTS, columns)
        return [(event_id, workflow_id, seq) for event_id, workflow_id, seq in cursor.fetchall()]


def insert_rows(conn: Connection, table: Table, rows: list[Row]) -> None:
    """Insert the rows, each group of rows that name the same columns in one statement (COPY on PostgreSQL)."""
    for names, group in _by_columns(rows).items():
        if conn.dialect.name == "postgresql" and not _client_defaults(table):
            _copy(conn, table, names, group)
        else:
            conn.execute(insert(table), group)


def update_rows(conn: Connection, table: Table, key_columns: Sequence[str], changes: dict[Key, Row]) -> None:
    """Set columns of rows found by primary key (no row, no change), one executemany per set of columns named.

    Each row appears once, so the order of the statements does not matter.
    """
    groups: dict[tuple[str, ...], list[Row]] = {}
    for key, values in changes.items():
        where = {f"key_{name}": part for name, part in zip(key_columns, key, strict=True)}
        groups.setdefault(tuple(sorted(values)), []).append({**values, **where})
    statement = update(table).where(*(table.c[name] == bindparam(f"key_{name}") for name in key_columns))
    for group in groups.values():
        conn.execute(statement, group)


def driver(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under SQLAlchemy's, in the same transaction."""
    connection = conn.connection.driver_connection
    assert isinstance(connection, psycopg.Connection)
    return connection


def _by_columns(rows: list[Row]) -> dict[tuple[str, ...], list[Row]]:
    # A row a later event changed may name columns its first values left out (a participant's opted_in_at).
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups


def _client_defaults(table: Table) -> bool:
    """Whether a column takes a default from SQLAlchemy, which COPY would not apply."""
    return any(column.default is not None or column.onupdate is not None for column in table.columns)


def _copy(conn: Connection, table: Table, names: tuple[str, ...], rows: list[Row]) -> None:
    preparer = conn.dialect.identifier_preparer
    statement = f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(n) for n in names)}) FROM STDIN"
    as_json = [isinstance(table.c[name].type, JSON) for name in names]  # else a list would go as an array
    with driver(conn).cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Jsonb(row[n]) if j else row[n] for n, j in zip(names, as_json, strict=True)])
