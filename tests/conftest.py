"""A session-wide time-skipping Temporal server, and a fresh worker on a fresh task queue for each test.

Tests that must see the history exactly as production writes it (a refused update leaves no event) use a local
dev server instead, through the `dev_harness` fixture: the time-skipping server records a workflow task even
for an update its validator rejects.
"""

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.codec import DATA_CONVERTER
from activities.notify import OutboxFileChannel
from activities.store.sql import SqlEventStore
from settings import Settings
from worker import build_worker
from workflows import search


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(__file__).parents[1] / ".venv" / "bin"))
    if path is None:
        pytest.fail(f"{name} is not installed; run `make test`, which installs it from PyPI")
    return path


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search.ALL},
        )
    )


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"), data_converter=DATA_CONVERTER
    )
    await register_search_attributes(environment.client)
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=DATA_CONVERTER,
        search_attributes=search.ALL,
        dev_server_log_level="error",
    )
    yield environment
    await environment.shutdown()


# PostgreSQL runs on every machine of this project (CI included); a test of the SQL layer fails, never skips,
# when it cannot be reached.
POSTGRES_URL = os.environ.get("FLIPSIDE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each SQL test runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'record.db'}"
    else:
        with postgres_schema() as url:
            yield url


class Harness:
    """One test's worker, task queue and data folder, with the outbox and event log it writes."""

    def __init__(self, env: WorkflowEnvironment, data_dir: Path, database_url: str = "") -> None:
        self.env = env
        self.client = env.client
        self.settings = Settings(task_queue=f"tq-{uuid.uuid4()}", data_dir=data_dir, database_url=database_url)
        self.channel = OutboxFileChannel(self.settings.outbox_path)
        self.store = SqlEventStore(self.settings.database)
        self.programs: list[str] = []  # workflow ids of the programs this test started

    def notices(self) -> list[dict[str, Any]]:  # JSON rows of the outbox
        return self.channel.outbox.read_all()

    async def terminate_leftovers(self) -> None:
        """Stop what a test left running, so no workflow outlives its worker on the shared server."""
        pairings = {str(n["pairing_id"]) for n in self.notices() if n["pairing_id"]}
        for workflow_id in [*self.programs, *sorted(pairings)]:
            handle = self.client.get_workflow_handle(workflow_id)
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")


@asynccontextmanager
async def _running(env: WorkflowEnvironment, data_dir: Path) -> AsyncIterator[Harness]:
    h = Harness(env, data_dir)
    try:
        async with build_worker(env.client, h.settings, channel=h.channel, store=h.store):
            yield h
            await h.terminate_leftovers()
    finally:
        h.store.dispose()


@pytest.fixture
async def harness(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    async with _running(env, tmp_path) as h:
        yield h


@pytest.fixture
async def dev_harness(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    async with _running(dev_env, tmp_path) as h:
        yield h
