"""The projector: what the projections write, held until `flush` and then written in bulk.

New rows of append-only tables (check-ins, answers, alerts, ...) wait in lists. Rows that later events change
(programs, participants, pairings) are kept by primary key as they stand, and a change lands on the kept row:
a participant invited, opted in and trained within one batch is inserted once with its final values, and a
pairing accepted twice, given a plan and closed is updated once. A row no event of the batch inserted is read
once if a projection needs to see it (on PostgreSQL, pairings come ahead with the events insert), and otherwise
changed blind, as an UPDATE by key would change it.

`flush` inserts the new rows, then updates each changed row once. No row is both inserted and updated in one
flush (a new row carries its changes) and none is updated twice, so the order of those statements does not
matter and the rows come out as statements run event by event in id order would leave them: rebuild and
append, which both project through here, agree row for row.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table

from adapters.store.bulk import (
    Key,
    Known,
    Row,
    commit_together,
    delete_rows,
    insert_rows,
    read_row,
    together,
    update_rows,
)


class Projector:
    def __init__(self, conn: Connection, changing: Iterable[Table], known: Known | None = None) -> None:
        """`known`: rows already read in this transaction (on PostgreSQL, with the events insert)."""
        self.conn = conn
        self.keys = {table: [column.name for column in table.primary_key] for table in changing}
        self.known: Known = {table: dict((known or {}).get(table, {})) for table in self.keys}  # None: no such row
        self.pending: dict[Table, list[Row]] = {}  # rows to insert at the next flush
        self.fresh: dict[Table, set[Key]] = {table: set() for table in self.keys}  # kept rows among them
        self.changes: dict[Table, dict[Key, Row]] = {table: {} for table in self.keys}  # to set on stored rows
        self.gone: dict[Table, set[Key]] = {table: set() for table in self.keys}  # stored rows to delete

    def insert(self, table: Table, **values: Any) -> None:
        if table in self.keys:
            key = tuple(values[name] for name in self.keys[table])
            if key in self.changes[table] or self.known[table].get(key) is not None:
                # Changed before it was inserted here, or inserted twice: the statements in event order decide
                # (no change, or the database refusing the duplicate, as before).
                self.flush()
            self.known[table][key] = values
            self.fresh[table].add(key)
        self.pending.setdefault(table, []).append(values)

    def update(self, table: Table, key: Key, **values: Any) -> None:
        """Set columns of the row with this primary key; no row, no change."""
        known = self.known[table]
        if key in known:
            row = known[key]
            if row is None:
                return
            row.update(values)
            if key in self.fresh[table]:  # its insert carries the change
                return
        self.changes[table].setdefault(key, {}).update(values)

    def delete(self, table: Table, key: Key) -> None:
        """Remove the row with this primary key, if there is one: a row inserted in this batch never reaches the
        database; a stored one is deleted at the flush, before the inserts (which may put one back)."""
        if key in self.fresh[table]:
            self.pending[table] = [r for r in self.pending[table] if self._key(table, r) != key]
            self.fresh[table].discard(key)
        else:
            self.gone[table].add(key)
        self.changes[table].pop(key, None)
        self.known[table][key] = None

    def _key(self, table: Table, row: Row) -> Key:
        return tuple(row[name] for name in self.keys[table])

    def row(self, table: Table, key: Key) -> Row | None:
        """The row with this primary key as it stands, changes not yet written included; None if there is none."""
        known = self.known[table]
        if key not in known:
            stored = read_row(self.conn, table, self.keys[table], key)
            if stored is None:
                self.changes[table].pop(key, None)  # changes to no row change nothing
            known[key] = None if stored is None else {**stored, **self.changes[table].get(key, {})}
        return known[key]

    def flush(self, *, commit: bool = False) -> None:
        """Write what waits; with `commit`, these are the transaction's last writes and on PostgreSQL the COMMIT
        goes to the server with them, not after their answer: the program's lock is released a wait sooner."""
        if not self.pending and not any(self.changes.values()) and not any(self.gone.values()):
            return
        with together(self.conn):
            for table, keys in self.gone.items():
                if keys:
                    delete_rows(self.conn, table, self.keys[table], keys)
            for table, rows in self.pending.items():
                insert_rows(self.conn, table, rows)
            for table, changes in self.changes.items():
                if changes:
                    update_rows(self.conn, table, self.keys[table], changes)
            if commit:
                commit_together(self.conn)
        self.pending = {}
        self.fresh = {table: set() for table in self.keys}
        self.changes = {table: {} for table in self.keys}
        self.gone = {table: set() for table in self.keys}
