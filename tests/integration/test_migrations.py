"""The Alembic migrations build exactly the schema in adapters/store/tables.py, on SQLite and PostgreSQL.

A column, index or table added to tables.py without a migration (or the reverse) shows up here as a diff.
"""

import subprocess
import sys
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from adapters.store.sql import make_engine, migrate
from adapters.store.tables import metadata
from tests.helpers import ROOT


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


def test_processes_starting_together_all_migrate_one_fresh_record(database_url: str) -> None:
    """A portal and workers started together (make run, compose) each migrate on start: they take turns, and
    none fails on a table another just made ("table alerts already exists" stopped the portal bench's portal)."""
    script = "import sys; from adapters.store.sql import migrate; migrate(sys.argv[1])"
    starts = [
        subprocess.Popen([sys.executable, "-c", script, database_url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    failures = [err for p in starts if (err := p.communicate(timeout=120)[1]) and p.returncode != 0]
    assert failures == []
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
    finally:
        engine.dispose()
