"""Test servers, isolation and limits: what every test of the suite stands on.

- Temporal: a time-skipping server (`env`) and a local dev server (`dev_env`), one of each per test process
  (pytest-xdist runs several), each checked before every test that asks for it and replaced when a test left it
  stuck (tests/servers.py). Tests that must see the history exactly as production writes it (a refused update
  leaves no event) use the dev server: the time-skipping server records a workflow task even for an update its
  validator rejects.
- A harness per test: a fresh worker on a fresh task queue and data folder; what the test left running is
  cancelled and awaited, never terminated (a terminate with an activity in flight stalls the time-skipping
  server).
- Limits: an async test that runs past its limit is cancelled after every asyncio task's stack is printed, so a
  hang fails within minutes and shows where it waits; pytest-timeout stops anything else (see pyproject.toml).
"""

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from adapters.channels import OutboxFileChannel
from adapters.store.sql import SqlEventStore
from settings import Settings
from tests.servers import SHUTDOWN_LIMIT, CheckedServer, start_dev_server, start_time_skipping, stop_within
from worker import build_worker

TEARDOWN_ROOM = 60.0  # seconds between an async test's cancellation and pytest-timeout's hard stop
END_LIMIT = 30.0  # seconds for a cancelled workflow to close before it is terminated
DRAIN_LIMIT = 10.0  # seconds to wait for a workflow's activities to finish before cancelling it anyway

# Property tests try the same examples on every run, so the suite's verdict never depends on the draw (one run
# once drew a score of 1.13 that a test compared as 112.99999999999999). HYPOTHESIS_PROFILE=explore draws anew.
hypothesis_settings.register_profile("repeatable", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what waits on real time, and order the tests for several test processes.

    The long tests (a limit above the default: minutes each) go first, longest first, each followed by a short
    one: a test process runs one test while the next waits in its queue (pytest-xdist, --maxschedchunk 1), so
    each long test starts beside a short one and never queues behind another long one. The short partners come
    from the end of the collection (unit tests with no module fixture to build); the rest keep their order, so
    a module's fixtures are built once per process.
    """
    default = _default_limit(items[0].config) if items else 0.0
    for item in items:
        if "dev_env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    long = sorted((i for i in items if _hard_limit(i, default) > default), key=lambda i: -_hard_limit(i, default))
    short = [i for i in items if _hard_limit(i, default) <= default]
    partners, rest = short[len(short) - len(long) :], short[: len(short) - len(long)]
    paired = [test for pair in zip(long, partners, strict=False) for test in pair]
    items[:] = paired + long[len(partners) :] + rest


def _default_limit(config: pytest.Config) -> float:
    """pytest-timeout's limit: `--timeout`, else the `timeout` setting in pyproject.toml."""
    return float(config.getoption("timeout", None) or config.getini("timeout"))


def _hard_limit(item: pytest.Item, default: float) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker else default


def _overran(item: pytest.Item, limit: float) -> None:
    """Print where every task waits, then cancel the test's own task: its teardown still runs."""
    print(f"\n{item.nodeid} ran past its limit of {limit:g} s; every asyncio task:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    for task in asyncio.all_tasks():
        coroutine = task.get_coro()
        if getattr(getattr(coroutine, "cr_code", None), "co_name", None) == getattr(item, "originalname", ""):
            task.cancel(f"ran past its limit of {limit:g} s")


@pytest.fixture(autouse=True)
async def time_limit(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    limit = _hard_limit(request.node, _default_limit(request.config)) - TEARDOWN_ROOM
    timer = asyncio.get_running_loop().call_later(limit, _overran, request.node, limit)
    yield
    timer.cancel()


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own. It starts in about a tenth of a second, and whatever a test does
    to it (a run closed with an activity in flight stops its clock for good: temporalio/sdk-java#1138) can
    reach no other test."""
    environment = await start_time_skipping()
    yield environment
    await stop_within(environment.shutdown(), SHUTDOWN_LIMIT)


_dev = CheckedServer("dev server", start_dev_server, canary_sleep=0.01)


@pytest.fixture(scope="session")
async def _dev_server() -> AsyncIterator[CheckedServer]:
    yield _dev
    await _dev.stop()


@pytest.fixture
async def dev_env(_dev_server: CheckedServer, request: pytest.FixtureRequest) -> WorkflowEnvironment:
    """The dev server of this test process (real time, histories as production writes them), shared by its tests
    since it takes a second to start: checked before each test, and replaced when one left it unable to answer.
    """
    return await _dev_server.healthy(request.node.nodeid)


async def end_workflows(client: Client, workflow_ids: Iterable[str], limit: float = END_LIMIT) -> None:
    """End what a test left running the way production would: cancel each run, then wait for it to close.

    Each run is cancelled once it has no activity in flight (a run closed mid-activity can stop a time-skipping
    server's clock for good: temporalio/sdk-java#1138), and terminated only if still open after `limit` seconds.
    """
    running = []
    for workflow_id in dict.fromkeys(workflow_ids):
        handle = client.get_workflow_handle(workflow_id)
        try:
            if await _settled(handle, DRAIN_LIMIT):
                await handle.cancel()
                running.append(handle)
        except RPCError as error:  # never started (a pairing named before its kick-off), or already gone
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
    for handle in running:
        try:
            async with asyncio.timeout(limit):
                await handle.result()
        except WorkflowFailureError:  # cancelled, as asked
            pass
        except TimeoutError:
            await handle.terminate("still open after a cancel at the end of its test")


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


async def _settled(handle: WorkflowHandle[Any, Any], limit: float) -> bool:
    """Whether the run is still open, once it has no activity in flight and no workflow task under way (which
    could start one), or `limit` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return False
        raw = described.raw_description
        busy = raw.pending_activities or raw.HasField("pending_workflow_task")
        if not busy or asyncio.get_running_loop().time() > deadline:
            return True
        await asyncio.sleep(0.05)


@asynccontextmanager
async def ending(client: Client, workflow_ids: Callable[[], Iterable[str]]) -> AsyncIterator[None]:
    """On the way out, end the workflows `workflow_ids()` names then: put it after the worker in an `async with`,
    so it runs while the worker can still close them."""
    try:
        yield
    finally:
        await end_workflows(client, workflow_ids())


class Harness:
    """One test's worker, task queue and data folder, with the outbox and event log it writes."""

    def __init__(self, env: WorkflowEnvironment, data_dir: Path, database_url: str = "") -> None:
        self.env = env
        self.client = env.client
        self.settings = Settings(task_queue=f"tq-{uuid.uuid4()}", data_dir=data_dir, database_url=database_url)
        self.channel = OutboxFileChannel(self.settings.outbox_path)
        self.store = SqlEventStore(self.settings.database)
        self.inbox: Callable[[], list[dict[str, Any]]] = self.channel.outbox.read_all
        self.programs: list[str] = []  # workflow ids of the programs this test started

    def notices(self) -> list[dict[str, Any]]:
        """Every notice sent so far: JSON rows of the outbox file, or what a test of another channel reads."""
        return self.inbox()

    async def end_leftovers(self) -> None:
        """End what the test left running (its programs, and the pairings its notices name)."""
        pairings = sorted({str(n["pairing_id"]) for n in self.notices() if n["pairing_id"]})
        await end_workflows(self.client, [*self.programs, *pairings])


@asynccontextmanager
async def _running(env: WorkflowEnvironment, data_dir: Path, shared: bool) -> AsyncIterator[Harness]:
    """A worker for the test; on a shared server, what the test left running is ended while the worker is up."""
    h = Harness(env, data_dir)
    try:
        async with build_worker(env.client, h.settings, channel=h.channel, store=h.store):
            yield h
            if shared:
                await h.end_leftovers()
    finally:
        h.store.dispose()


@pytest.fixture
async def harness(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    async with _running(env, tmp_path, shared=False) as h:  # the server goes with the test
        yield h


@pytest.fixture
async def dev_harness(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    async with _running(dev_env, tmp_path, shared=True) as h:
        yield h
