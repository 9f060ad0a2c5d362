"""A program id is never used twice: refused at the start by the record and by Temporal, and, should two runs of
one id meet in the record anyway, the second stops loudly before anyone hears from it.

(Before this, a program cancelled and started again from the same files ran with the earlier run's notice and
event keys: the outbox sent no invitation and the record kept no event, and nobody was told.)
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

import starter
from activities.messages import Failure
from adapters.store.sql import ConflictingRun, SqlEventStore
from domain.answers import CoordinatorAction
from domain.events import DomainEvent, OptedIn
from domain.program import ProgramInput
from settings import Settings
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, roster, spec
from tests.helpers.programs import (
    DEMO,
    DEMO_COORDINATOR,
    address,
    demo_spec,
    result,
    settings_for,
    start_program,
    worker_for,
)
from tests.helpers.servers import start_time_skipping
from tests.helpers.waiting import eventually
from worker import build_worker
from workflows import search
from workflows.program import ProgramWorkflow


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """The demo's spec under a slug of this test's own, and its roster."""
    slug = f"ids-{uuid.uuid4().hex[:8]}"
    yield demo_spec(tmp_path / "program.toml", slug), DEMO / "roster.csv", slug


def use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """What `starter.py` reads from the environment."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", settings.temporal_address)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", settings.task_queue)
    monkeypatch.setenv("FLIPSIDE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)


async def cli(*args: str) -> int:
    """`python starter.py ARGS` in this process (its own event loop, in a thread); the exit status."""
    return await asyncio.to_thread(starter.main, list(args))


def notices(settings: Settings) -> list[str]:
    path = settings.outbox_path
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def count_events(settings: Settings) -> int:
    store = SqlEventStore(settings.database, migrate_schema=False)
    try:
        return store.count()
    finally:
        store.dispose()


async def test_starting_again_under_a_used_id_is_refused_before_anything_starts(
    dev_env: WorkflowEnvironment,
    env: WorkflowEnvironment,
    files: tuple[Path, Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec_path, roster_path, slug = files
    program_id = f"program-{slug}"
    first = settings_for(dev_env, tmp_path)
    use(monkeypatch, first)
    async with worker_for(first) as client:
        assert await cli("start", str(spec_path), str(roster_path)) == 0
        started = datetime.now(UTC)
        await eventually(lambda: asyncio.to_thread(lambda: count_events(first) > 0), "the start in the record")
        cancel = ("cancel", program_id, "--coordinator", DEMO_COORDINATOR, "--reason", "started by mistake")
        assert await cli(*cancel) == 0
        await client.get_workflow_handle(program_id).result()
        await eventually(lambda: asyncio.to_thread(lambda: "cancelled" in starter.list_programs(first)), "cancelled")
    capsys.readouterr()
    sent, recorded = len(notices(first)), count_events(first)

    # Again, with the same files, Temporal and record: the record names the earlier run
    assert await cli("start", str(spec_path), str(roster_path)) == 2
    refusal = capsys.readouterr().err
    assert refusal.startswith(f"error: {program_id} was used before: a run started {started:%Y-%m-%d}")
    assert "now cancelled" in refusal and f'slug = "{slug}-2"' in refusal and len(refusal.splitlines()) == 1

    # A record that never heard of it (another database): Temporal remembers the closed run and refuses it too
    use(monkeypatch, first.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"}))
    assert await cli("start", str(spec_path), str(roster_path)) == 2
    refusal = capsys.readouterr().err
    assert refusal.startswith(f"error: {program_id} was used before: a run started {started:%Y-%m-%d}")
    assert "now cancelled" in refusal

    # A Temporal that never heard of it (as after the namespace's retention): the record refuses it
    use(monkeypatch, first.model_copy(update={"temporal_address": address(env)}))
    assert await cli("start", str(spec_path), str(roster_path)) == 2
    assert f"error: {program_id} was used before" in capsys.readouterr().err
    with pytest.raises(RPCError) as unknown:
        await env.client.get_workflow_handle(program_id).describe()
    assert unknown.value.status == RPCStatusCode.NOT_FOUND

    # Nothing was sent, recorded or started by the refused attempts
    assert (len(notices(first)), count_events(first)) == (sent, recorded)
    runs = [w async for w in dev_env.client.list_workflows(f"WorkflowId = '{program_id}'")]
    assert len(runs) == 1


async def test_a_second_run_that_meets_the_first_in_the_record_stops_and_alerts_its_coordinators(
    harness: Harness,
) -> None:
    program = spec(slug=f"twice-{uuid.uuid4().hex[:8]}")
    first = await start_program(harness, program, roster(2))
    stop = CoordinatorAction(coordinator=COORDINATOR, reason="started by mistake")
    await first.execute_update("cancel", stop, result_type=str)
    assert (await result(first)).cancelled
    invitations = [n for n in harness.notices() if n["prompt_id"] == "opt-in"]
    recorded = harness.store.count()

    # The same id on a server that forgot it, started past the CLI's checks (the API, say), over the same record
    forgetful = await start_time_skipping()
    try:
        second = Harness(forgetful, harness.settings.data_dir)
        async with build_worker(forgetful.client, second.settings, channel=second.channel, store=second.store):
            handle = await forgetful.client.start_workflow(
                ProgramWorkflow.run,
                ProgramInput(spec=program, roster=roster(2)),
                id=first.id,
                task_queue=second.settings.task_queue,
                search_attributes=search.initial(first.id, "recruitment", "program"),
            )
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
        second.store.dispose()
    finally:
        await forgetful.shutdown()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == Failure.CONFLICTING_RUN
    assert f"{first.id} stopped: its name was used before" in cause.message
    alerts = [n for n in harness.notices() if "conflicting-run" in n["key"]]
    assert [(n["to"], n["kind"]) for n in alerts] == [(COORDINATOR, "alert")]
    assert "Nobody was invited by this run" in alerts[0]["body"]
    assert [n for n in harness.notices() if n["prompt_id"] == "opt-in"] == invitations  # no invitation went out
    assert harness.store.count() == recorded  # and the record is the first run's alone


def event(seq: int, origin: str) -> DomainEvent:
    return DomainEvent(
        workflow_id="program-x",
        seq=seq,
        at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=seq),
        program_id="program-x",
        participant=f"p{seq}@example.com",
        origin=origin,
        fact=OptedIn(),
    )


def test_the_record_takes_a_retried_append_once_and_refuses_another_runs_events(database_url: str) -> None:
    store = SqlEventStore(database_url)
    try:
        assert store.append([event(1, "run-a"), event(2, "run-a")]) == 2
        assert store.append([event(2, "run-a"), event(3, "run-a")]) == 1  # a retry: only the new one is added
        with pytest.raises(ConflictingRun, match=r"program-x #1 is already in the record from run run-a"):
            store.append([event(1, "run-b"), event(4, "run-b")])  # another run numbering from 1 again
        assert [(e.seq, e.origin) for e in store.read("program-x")] == [(1, "run-a"), (2, "run-a"), (3, "run-a")]
    finally:
        store.dispose()
