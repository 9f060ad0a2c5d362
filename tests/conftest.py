"""A session-wide time-skipping Temporal server, and a fresh worker on a fresh task queue for each test."""

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.notify import OutboxFileChannel
from activities.record import JsonlEventStore
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
        test_server_existing_path=_binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(environment.client)
    yield environment
    await environment.shutdown()


class Harness:
    """One test's worker, task queue and data folder, with the outbox and event log it writes."""

    def __init__(self, env: WorkflowEnvironment, data_dir: Path) -> None:
        self.env = env
        self.client = env.client
        self.settings = Settings(task_queue=f"tq-{uuid.uuid4()}", data_dir=data_dir)
        self.channel = OutboxFileChannel(self.settings.outbox_path)
        self.store = JsonlEventStore(self.settings.events_path)

    def notices(self) -> list[dict[str, object]]:
        return self.channel.outbox.read_all()


@pytest.fixture
async def harness(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(env, tmp_path)
    async with build_worker(env.client, h.settings, channel=h.channel, store=h.store):
        yield h
