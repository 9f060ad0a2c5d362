"""Test servers, isolation and limits: what every test of the suite stands on (the helpers are in tests/helpers/).

- Temporal: a time-skipping server (`env`) of each test's own and a local dev server (`dev_env`) per test process
  (pytest-xdist runs several), checked before every test that asks for it and replaced when a test left it stuck
  (tests/helpers/servers.py). Tests that must see the history exactly as production writes it (a refused update
  leaves no event) use the dev server: the time-skipping server records a workflow task even for an update its
  validator rejects.
- A harness per test: a fresh worker on a fresh task queue and data folder; what the test left running is
  cancelled and awaited, never terminated (a terminate with an activity in flight stalls the time-skipping
  server; tests/helpers/harness.py).
- Limits: an async test that runs past its limit is cancelled after every asyncio task's stack is printed, so a
  hang fails within minutes and shows where it waits; pytest-timeout stops anything else (see pyproject.toml).
"""

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from temporalio.testing import WorkflowEnvironment

from tests.helpers.databases import postgres_schema
from tests.helpers.harness import Harness, running
from tests.helpers.servers import SHUTDOWN_LIMIT, CheckedServer, start_dev_server, start_time_skipping, stop_within

TEARDOWN_ROOM = 60.0  # seconds between an async test's cancellation and pytest-timeout's hard stop

# Property tests try the same examples on every run, so the suite's verdict never depends on the draw (one run
# once drew a score of 1.13 that a test compared as 112.99999999999999). HYPOTHESIS_PROFILE=explore draws anew.
hypothesis_settings.register_profile("repeatable", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


# The layers, one folder each, from no server to a real browser. A test needs what its layer gives and nothing
# above it: a test that needs more goes further down this list (or is split).
LAYERS = ("domain", "workflows", "integration", "browser")
BEYOND = {  # what tests in a layer may not use
    "domain": {"env", "dev_env", "database_url"},  # no Temporal server, no database
    "workflows": {"dev_env", "database_url"},  # the time-skipping server only, nothing in real time
}
TESTS = Path(__file__).parent
MISPLACED = pytest.StashKey[str]()  # why a test is not in the layer its file is in


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what waits on real time, keep each test in its layer, and order the tests for several test processes.

    `slow` marks a test that waits on real time: every browser test, every test on the dev server (`dev_env`),
    and tests marked so by hand (processes of their own). Only integration and browser tests may be slow, so
    `make test-fast` can select by folder and marker alike.

    The long tests (a limit above the default: minutes each) go first, longest first, each followed by a short
    one: a test process runs one test while the next waits in its queue (pytest-xdist, --maxschedchunk 1), so
    each long test starts beside a short one and never queues behind another long one. The short partners come
    from the end of the domain layer (unit tests with no module fixture to build); the rest keep their order, so
    a module's fixtures are built once per process.
    """
    for item in items:
        layer, fixtures = _layer(item), set(getattr(item, "fixturenames", ()))
        if layer == "browser" or "dev_env" in fixtures:
            item.add_marker(pytest.mark.slow)
        beyond = BEYOND.get(layer or "", set())
        if fixtures & beyond or (beyond and item.get_closest_marker("slow")):
            needs = ", ".join(sorted(fixtures & beyond)) or "real time (it is marked slow)"
            item.stash[MISPLACED] = f"a test in tests/{layer}/ uses {needs}: it belongs in a later layer of {LAYERS}"
    default = _default_limit(items[0].config) if items else 0.0
    long = sorted((i for i in items if _hard_limit(i, default) > default), key=lambda i: -_hard_limit(i, default))
    short = [i for i in items if _hard_limit(i, default) <= default]
    units = [i for i in short if _layer(i) == "domain"] or short
    partners = units[len(units) - len(long) :]
    chosen = set(partners)
    rest = [i for i in short if i not in chosen]
    paired = [test for pair in zip(long, partners, strict=False) for test in pair]
    items[:] = paired + long[len(partners) :] + rest


def _layer(item: pytest.Item) -> str | None:
    """The layer a test's file is in (None for tests outside tests/, as a pytester session's own)."""
    parts = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
    return parts[0] if len(parts) > 1 and parts[0] in LAYERS else None


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
def in_its_layer(request: pytest.FixtureRequest) -> None:
    """Fails a test that needs more than its layer gives (see LAYERS), before anything is started for it."""
    if MISPLACED in request.node.stash:
        pytest.fail(request.node.stash[MISPLACED], pytrace=False)


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each SQL test runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'record.db'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
async def harness(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(env, tmp_path, shared=False) as h:  # the server goes with the test
        yield h


@pytest.fixture
async def dev_harness(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(dev_env, tmp_path, shared=True) as h:
        yield h
