"""Writes in bulk: many rows in one statement, and on PostgreSQL many statements in one round trip.

Measured on 30,000 bench events (bench/results/events.md): SQLAlchemy's multi-row INSERT ... RETURNING put
1,800 parameters in a statement of its own text per batch, which psycopg parses with a regular expression
every time (it caches statements of at most 50 parameters), and psycopg's executemany converted and sent
each projection row apart. Here a batch goes as one array per column, sent in binary and unnested by a
statement whose text never changes (so the server prepares it once); and a flush's statements go together in
psycopg's pipeline mode, waiting once for the server instead of once per statement, which matters because
appends of one program take turns (the lock in sql.py): only what runs under the lock limits them.
SQLite, in process, needs none of it and keeps SQLAlchemy's statements.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import Identifier
from psycopg.types.json import Jsonb
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)

Row = dict[str, Any]
Key = tuple[Any, ...]
Inserted = list[tuple[int, str, int]]  # (id, workflow id, seq) of each event the log did not hold
Reads = dict[Table, list[Any]]  # rows to read ahead, by table: values of its one-column primary key
Known = dict[Table, dict[Key, Row | None]]  # rows read, by table and key; None: no such row

# Ids follow the order given, as a multi-row VALUES list gives them.
INSERT_EVENTS = """
INSERT INTO events (workflow_id, seq, kind, at, program_id, pairing_id, participant, origin, fact)
SELECT workflow_id, seq, kind, at, program_id, pairing_id, participant, origin, fact::jsonb
FROM unnest(%b::text[], %b::int4[], %b::text[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::text[],
            %b::text[])
    WITH ORDINALITY AS batch(workflow_id, seq, kind, at, program_id, pairing_id, participant, origin, fact, n)
ORDER BY n
ON CONFLICT (workflow_id, seq) DO NOTHING
RETURNING id, workflow_id, seq
"""
EVENT_COLUMNS = ("workflow_id", "seq", "kind", "at", "program_id", "pairing_id", "participant", "origin")


def event_arrays(rows: list[Row]) -> list[list[Any]]:
    """The parameters of INSERT_EVENTS: `fact` as the text json.dumps makes, what SQLAlchemy sends for JSONB."""
    arrays = [[row[name] for row in rows] for name in EVENT_COLUMNS]
    arrays.append([json.dumps(row["fact"]) for row in rows])
    return arrays


def lock_insert_and_read(conn: Connection, lock: int, arrays: list[list[Any]], reads: Reads) -> tuple[Inserted, Known]:
    """PostgreSQL, in one round trip: take the transaction's advisory lock, insert the events whose key is new in
    the order given, and read the rows projecting them may need (`reads`: keys of one column, by table).

    Returns the (id, workflow id, seq) of each event inserted, and each row read by key (None: no such row).
    """
    connection = driver(conn)
    with connection.pipeline():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        inserted = connection.execute(INSERT_EVENTS, arrays)
        found = {
            table: connection.cursor(row_factory=dict_row).execute(_select_any(table), [keys])
            for table, keys in reads.items()
            if keys
        }
    known: Known = {}
    for table, cursor in found.items():
        (key,) = (column.name for column in table.primary_key)
        with cursor:
            rows = {row[key]: row for row in cursor.fetchall()}
        known[table] = {(value,): rows.get(value) for value in reads[table]}
    return [(event_id, workflow_id, seq) for event_id, workflow_id, seq in inserted.fetchall()], known


def read_row(conn: Connection, table: Table, key_columns: Sequence[str], key: Key) -> Row | None:
    """The row with this primary key, or None."""
    if conn.dialect.name == "postgresql":  # a tenth of SQLAlchemy's time, under the lock
        with driver(conn).cursor(row_factory=dict_row) as cursor:
            return cursor.execute(_select_by_key(table, tuple(key_columns)), key).fetchone()
    match = [table.c[name] == part for name, part in zip(key_columns, key, strict=True)]
    stored = conn.execute(select(table).where(*match)).first()
    return None if stored is None else stored._asdict()


@contextmanager
def together(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, the writes inside go to the server together and are waited for once, at the end."""
    if conn.dialect.name != "postgresql":
        yield
        return
    with driver(conn).pipeline():
        yield


def commit_together(conn: Connection) -> None:
    """Inside `together` on PostgreSQL: COMMIT with the writes before it (SQLAlchemy's commit, as the transaction
    ends, then finds psycopg's transaction over and sends nothing). Elsewhere nothing: SQLAlchemy commits."""
    if conn.dialect.name == "postgresql":
        driver(conn).commit()


def insert_rows(conn: Connection, table: Table, rows: list[Row]) -> None:
    """Insert the rows, each group of rows that name the same columns in one statement."""
    for names, group in _by_columns(rows).items():
        if conn.dialect.name == "postgresql" and not _client_defaults(table):
            arrays = [_array(table.c[name], [row[name] for row in group]) for name in names]
            driver(conn).execute(_unnest_insert(table, names), arrays)
        else:
            conn.execute(insert(table), group)


def update_rows(conn: Connection, table: Table, key_columns: Sequence[str], changes: dict[Key, Row]) -> None:
    """Set columns of rows found by primary key (no row, no change), one executemany per set of columns named.

    Each row appears once, so the order of the statements does not matter.
    """
    postgres = conn.dialect.name == "postgresql"
    groups: dict[tuple[str, ...], list[Row]] = {}
    for key, values in changes.items():
        where = {f"key_{name}": part for name, part in zip(key_columns, key, strict=True)}
        if postgres:  # psycopg would send a list as an array
            values = {name: Jsonb(value) if _is_json(table, name) else value for name, value in values.items()}
        groups.setdefault(tuple(sorted(values)), []).append({**values, **where})
    for names, group in groups.items():
        if postgres:
            with driver(conn).cursor() as cursor:
                cursor.executemany(_update_by_key(table, names, tuple(key_columns)), group)
        else:
            statement = update(table).where(*(table.c[name] == bindparam(f"key_{name}") for name in key_columns))
            conn.execute(statement, group)


def delete_rows(conn: Connection, table: Table, key_columns: Sequence[str], keys: Iterable[Key]) -> None:
    """Delete the rows with these primary keys (one executemany); a key with no row deletes nothing."""
    params = [{f"key_{name}": part for name, part in zip(key_columns, key, strict=True)} for key in keys]
    conn.execute(delete(table).where(*(table.c[name] == bindparam(f"key_{name}") for name in key_columns)), params)


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
    """Whether a column takes a default from SQLAlchemy, which the statements here would not apply."""
    return any(column.default is not None or column.onupdate is not None for column in table.columns)


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _array(column: Column[Any], values: list[Any]) -> list[Any]:
    """One column's values as psycopg sends an array: of one type (an int among floats would stop it)."""
    if isinstance(column.type, JSON):
        return [json.dumps(value) for value in values]  # None too: JSON null, as SQLAlchemy writes it
    if isinstance(column.type, Float):
        return [None if value is None else float(value) for value in values]
    return values


@cache
def _unnest_insert(table: Table, names: tuple[str, ...]) -> str:
    """INSERT ... SELECT FROM unnest(one array per column): the arrays go as the types Python values make, cast
    to a type without a length, so that the insert itself checks lengths and ranges as it would a value."""
    arrays = ", ".join(f"%b::{_array_type(table.c[name])}" for name in names)
    values = ", ".join(quote(n) + ("::jsonb" if _is_json(table, n) else "") for n in names)
    columns = ", ".join(quote(name) for name in names)
    into = f"{_name(table)} ({columns})"
    return f"INSERT INTO {into} SELECT {values} FROM unnest({arrays}) AS batch({columns})"


@cache
def _select_any(table: Table) -> str:
    (key,) = (quote(column.name) for column in table.primary_key)
    return f"SELECT * FROM {_name(table)} WHERE {key} = ANY(%b::text[])"


@cache
def _select_by_key(table: Table, key_columns: tuple[str, ...]) -> str:
    match = " AND ".join(f"{quote(name)} = %s" for name in key_columns)
    return f"SELECT * FROM {_name(table)} WHERE {match}"


@cache
def _update_by_key(table: Table, names: tuple[str, ...], key_columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{quote(name)} = %({name})s" for name in names)
    match = " AND ".join(f"{quote(name)} = %(key_{name})s" for name in key_columns)
    return f"UPDATE {_name(table)} SET {assignments} WHERE {match}"


def quote(name: str) -> str:
    return Identifier(name).as_string()


def _name(table: Table) -> str:
    return Identifier(*(part for part in (table.schema, table.name) if part)).as_string()


def _array_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JSON | String):
        return "text[]"  # JSON as its text, made jsonb in the select list
    if isinstance(kind, Boolean):
        return "bool[]"
    if isinstance(kind, DateTime):
        return "timestamptz[]" if kind.timezone else "timestamp[]"
    if isinstance(kind, BigInteger):
        return "int8[]"
    if isinstance(kind, Integer):
        return "int4[]"
    if isinstance(kind, Float):
        return "float8[]"
    raise TypeError(f"no array type for {column}: {kind}")
