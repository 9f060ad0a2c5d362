"""The Alembic migrations build exactly the schema in adapters/store/tables.py, on SQLite and PostgreSQL.

A column, index or table added to tables.py without a migration (or the reverse) shows up here as a diff.
"""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from adapters.store.sql import make_engine, migrate
from adapters.store.tables import metadata


def test_the_migrations_build_exactly_the_tables_in_the_metadata(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # a second start finds nothing to do
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diff: list[Any] = compare_metadata(context, metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert tables == {*metadata.tables, "alembic_version"}
