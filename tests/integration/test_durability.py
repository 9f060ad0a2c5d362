"""Durability on real processes: a worker killed again and again, the Temporal server restarted mid-program,
and the notification channel and the SQL store failing for a while.

After each, the program has completed and the record agrees with what people did: every answer the workflows
accepted left exactly one fact, no fact came from nowhere, each workflow's events are numbered 1..n without a
gap or a repeat, and every notice went out exactly once. Figures are printed (`pytest -s` shows them).
"""

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from adapters.channels import Channel
from adapters.keyed_file import KeyedJsonlFile
from adapters.store.sql import SqlEventStore
from bench.events import synthetic_program
from domain.events import DomainEvent
from domain.notices import Notice
from domain.program import ProgramPhase, ProgramStatus
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from tests.helpers import ROOT
from tests.helpers.durability import (
    Participants,
    activity_attempts,
    assert_answers_kept,
    assert_notices_once,
    build_ids,
    cast_of,
    delivered_rows,
    pairing_ids,
    workflow_task_troubles,
)
from tests.helpers.harness import Harness
from tests.helpers.people import roster, spec
from tests.helpers.processes import WorkerProcess, deployed
from tests.helpers.programs import start_on
from tests.helpers.record import assert_exactly_once
from tests.helpers.waiting import eventually
from worker import build_worker

SEED = int(os.environ.get("FLIPSIDE_DURABILITY_SEED", "20260501"))
MIN_KILLS = 10


def short_program(name: str, **durations: str) -> ProgramSpec:
    """A whole program in a few minutes of real time; recruitment and training end early once all answered."""
    settings = {"recruitment": "120s", "training": "120s", **durations}
    nudge = settings.pop("nudge_before", "10s")
    return spec(slug=f"{name}-{uuid.uuid4().hex[:6]}", durations=settings, reminders={"nudge_before": nudge})


def report(title: str, figures: dict[str, Any]) -> None:
    print(f"\n{title}: {json.dumps(figures, indent=1, default=str)}")


async def check_record(
    client: Client, participants: Participants, events: list[DomainEvent], people: int
) -> dict[str, Any]:
    """What every durability test asserts once its program has completed.

    Whether every pairing completed depends on how late answers came (a deadline may pass while a worker is
    down, and that pairing then closes another way); the record must agree with whatever happened.
    """
    kinds = assert_exactly_once(events)
    kept = assert_answers_kept(participants, events)
    notices = assert_notices_once(participants, events)
    status: ProgramStatus = await participants.handle.query("status", result_type=ProgramStatus)
    assert status.phase == ProgramPhase.COMPLETED and status.pairings_running == 0
    pairings = kinds["matched"] + kinds["rematched"]
    assert kinds["program_started"] == kinds["program_closed"] == 1
    assert kinds["invited"] == people and kinds["opted_in"] == kinds["training_completed"] == people
    assert kinds["pairing_closed"] == pairings == sum(status.pairings_by_outcome.values())
    assert kinds["completed"] == 2 * status.pairings_by_outcome.get("completed", 0)
    assert kinds["checkin_logged"] <= 2 * kinds["cycle_closed"]
    return {
        "answers_kept": kept,
        "pairings": status.pairings_by_outcome,
        "events": len(events),
        "events_per_workflow": dict(Counter(e.workflow_id for e in events)),
        **notices,
    }


def sqlite_intact(url: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# 0. What SIGKILL can do to the files a worker writes: a transaction or a line cut off half-way.
# The projector writes once the log rows are in (on PostgreSQL they go through psycopg, not SQLAlchemy, so no
# SQLAlchemy event sees them); the child stops there until killed, so the kill always lands before the commit.
APPEND_THEN_DIE = """
import sys, time
from adapters.store.projector import Projector
from adapters.store.sql import SqlEventStore
from bench.events import synthetic_program

store = SqlEventStore(sys.argv[1])
events = [e for batch in synthetic_program(int(sys.argv[2])) for e in batch]

def inserted(projector, *args, **kwargs):
    print("inserted", flush=True)  # the log rows are in; the read model's writes and the commit are to come
    time.sleep(60)

Projector.flush = inserted
store.append(events)
print("committed", flush=True)
"""


@pytest.mark.slow
async def test_a_worker_killed_mid_append_leaves_the_record_whole(tmp_path: Path, database_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", APPEND_THEN_DIE, database_url, "20000"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = await asyncio.to_thread(child.stdout.readline)
    assert line == "inserted\n", line
    child.kill()  # SIGKILL; nothing if the writer has already finished (and been reaped by poll)
    child.wait(10)
    assert "committed" not in child.stdout.read()

    if database_url.startswith("sqlite"):
        sqlite_intact(database_url)
    store = SqlEventStore(database_url)
    try:
        assert store.count() == 0  # the killed transaction left nothing, not half a batch
        events = [e for batch in synthetic_program(20000) for e in batch]
        assert store.append(events) == len(events)  # the retried activity lands it, once
        assert store.append(events) == 0
        kinds = assert_exactly_once(store.read())
        assert sum(kinds.values()) == len(events)
    finally:
        store.dispose()


WRITE_THEN_DIE = """
import sys
from pathlib import Path
from adapters.keyed_file import KeyedJsonlFile

rows = [{"key": f"notice-{i}", "body": "x" * int(sys.argv[3])} for i in range(int(sys.argv[2]))]
print("writing", flush=True)
KeyedJsonlFile(Path(sys.argv[1])).append_new(rows)
"""
BIG_LINE = 8 * 2**20  # one write(2) of several pages: a SIGKILL during it leaves part of the line behind


async def kill_mid_write(outbox: Path, rows: int) -> None:
    command = [sys.executable, "-c", WRITE_THEN_DIE, str(outbox), str(rows), str(BIG_LINE)]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert await asyncio.to_thread(child.stdout.readline) == "writing\n"
    size = outbox.stat().st_size if outbox.exists() else 0
    while (outbox.stat().st_size if outbox.exists() else 0) == size and child.poll() is None:
        await asyncio.sleep(0)  # kill as soon as the first write has begun
    child.kill()  # SIGKILL; nothing if the writer has already finished (and been reaped by poll)
    child.wait(10)


@pytest.mark.slow
async def test_an_outbox_line_torn_by_a_kill_is_repaired_and_written_once(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    rows = [{"key": f"notice-{i}", "body": "x" * BIG_LINE} for i in range(3)]
    for _ in range(20):  # more than half the kills land inside a write; try again when one did not
        await kill_mid_write(outbox, len(rows))
        if not outbox.read_bytes().endswith(b"\n"):
            break
    assert not outbox.read_bytes().endswith(b"\n"), "no kill tore a line"
    whole = outbox.read_bytes().count(b"\n")

    again = KeyedJsonlFile(outbox).append_new(rows)  # the activity's retry, in the next worker
    keys = [row["key"] for row in KeyedJsonlFile(outbox).read_all()]
    assert sorted(keys) == sorted(r["key"] for r in rows)  # every notice once, the torn one included
    assert len(again) == len(rows) - whole and outbox.read_bytes().endswith(b"\n")


# 1. The worker is killed with SIGKILL at random moments, and started again each time.
def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def busy_moment(worker: WorkerProcess, rng: random.Random, limit: float = 6) -> None:
    """Just after the worker wrote a notice: it is then finishing an activity, or a workflow task is on its way.

    A worker waiting on timers is idle most of the time; these kills land where a crash does harm.
    """
    size, deadline = _size(worker.outbox), time.monotonic() + limit
    while _size(worker.outbox) == size and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    await asyncio.sleep(rng.uniform(0, 0.01))


async def kill_at_random(worker: WorkerProcess, rng: random.Random, done: asyncio.Event, kills: list[str]) -> None:
    """Kill 6-14 s after the worker is up (half the kills at the next busy moment), then start a new worker within
    1.5 s. Counted from the worker's readiness, not its start: on a loaded machine start-up takes seconds, and
    kills counted from the start left each worker too little time to move the program on."""
    started = time.monotonic()
    while True:
        await worker.until_running()
        try:
            await asyncio.wait_for(done.wait(), rng.uniform(6, 14))
            return
        except TimeoutError:
            pass
        busy = rng.random() < 0.5
        if busy:
            await busy_moment(worker, rng)
        await worker.kill()
        kills.append(f"{time.monotonic() - started:.1f}s{' busy' if busy else ''}")
        await asyncio.sleep(rng.uniform(0, 1.5))
        worker.start()


@pytest.mark.timeout(600)  # minutes of real time, longer when the machine is busy
@pytest.mark.slow
async def test_a_program_completes_through_repeated_worker_kills(tmp_path: Path) -> None:
    began = time.monotonic()
    async with deployed(tmp_path) as (_server, worker, client):
        database = worker.settings.database_url
        people = roster(3)
        # Windows of 40 s: a kill costs a cached workflow up to 10 s (the server waits that long before it gives
        # up on the dead worker's sticky queue) plus the new worker's start-up, and kills come every 6-20 s.
        program = short_program(
            "crash", answer_window="40s", checkin_cadence="40s", program_length="160s", nudge_before="15s"
        )
        program_id = (await start_on(client, program, people, worker.settings.task_queue)).id
        # People find their prompts in the portal; a notice delayed by a kill does not hold them up.
        participants = Participants(client, program_id, cast_of(people), worker.outbox, wait_for_notices=False)

        done, kills, rng = asyncio.Event(), list[str](), random.Random(SEED)
        killing = asyncio.create_task(kill_at_random(worker, rng, done, kills))
        try:
            await participants.play()
        finally:
            done.set()
            await killing
        assert worker.running

        assert len(kills) >= MIN_KILLS, f"only {len(kills)} kills before the program completed"
        sqlite_intact(database)
        store = SqlEventStore(database, migrate_schema=False)
        events = store.read(program_id)
        store.dispose()
        figures = await check_record(client, participants, events, people=6)

        workflows = [program_id, *pairing_ids(events)]
        assert len(await build_ids(client, workflows)) == 1  # every restart ran the same release
        retried = [a for a in await activity_attempts(client, workflows) if a.attempt > 1]
        report(
            "worker kills",
            {
                "seed": SEED,
                "kills": len(kills),
                "killed_at": kills,
                "worker_starts": worker.starts,
                "activities_retried": Counter(f"{a.activity}: {a.last_failure}" for a in retried),
                "workflow_tasks_lost": await workflow_task_troubles(client, workflows),
                **participants.summary(),
                **figures,
                "wall_seconds": round(time.monotonic() - began),
            },
        )


# 2. The Temporal server is stopped and started again on the same file while people are answering.
# The client SDK retries a call for this long before it raises; the server stays down longer, so the answers
# sent meanwhile fail at least once and are sent again by the participants.
SDK_RETRIES_FOR = timedelta(milliseconds=RetryConfig().max_elapsed_time_millis or 0)


async def timers_fired_late(client: Client, workflow_id: str, down: datetime, up: datetime) -> list[str]:
    """Timers due while the server was down, and when they fired (after it came back)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    due: dict[int, datetime] = {}
    late = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            due[event.event_id] = event.event_time.ToDatetime(tzinfo=UTC) + timeout
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            when = due[event.timer_fired_event_attributes.started_event_id]
            fired = event.event_time.ToDatetime(tzinfo=UTC)
            if down <= when <= up:
                assert fired >= up, "a timer fired while the server was down"
                late.append(f"due {when:%H:%M:%S.%f}, fired {fired:%H:%M:%S.%f}")
    return late


def first_cycle(prompt: PendingPrompt) -> bool:
    return prompt.kind in (PromptKind.CHECK_IN, PromptKind.PULSE) and prompt.id.endswith("-1")


@pytest.mark.timeout(600)  # minutes of real time, longer when the machine is busy
@pytest.mark.slow
async def test_a_program_completes_across_a_server_restart(tmp_path: Path) -> None:
    began = time.monotonic()
    async with deployed(tmp_path) as (server, worker, client):
        database = worker.settings.database_url
        people = roster(2)
        # A check-in is due 60 s after it opens and reminded halfway: the server goes down just after the
        # check-ins open and comes back once the reminder time has passed, with about 25 s left to answer.
        program = short_program(
            "restart", answer_window="40s", checkin_cadence="60s", program_length="120s", nudge_before="30s"
        )
        program_id = (await start_on(client, program, people, worker.settings.task_queue)).id
        participants = Participants(client, program_id, cast_of(people), worker.outbox, wait_for_notices=False)
        participants.hold = first_cycle  # the first check-ins are answered while the server is down
        playing = asyncio.create_task(participants.play())
        held = "two check-ins and a pulse per pairing, held"
        await eventually(lambda: len(participants.held) == 6, held, attempts=1500, every=0.2)  # up to 5 minutes

        quiet, answering = sorted({a.workflow_id for a in participants.held.values()})
        due = min(a.prompt.due_at for a in participants.held.values() if a.prompt and a.prompt.due_at)
        reminder_at = due - program.reminders.nudge_before
        stopping = time.monotonic()
        await server.stop()
        stop_seconds = time.monotonic() - stopping
        down = datetime.now(UTC)
        # One pair answers while the server is away (the client retries); the other stays quiet this cycle.
        released = participants.release(lambda answer: answer.workflow_id == answering)
        back_at = max(reminder_at, down + SDK_RETRIES_FOR) + timedelta(seconds=2)
        await asyncio.sleep((back_at - datetime.now(UTC)).total_seconds())
        up = datetime.now(UTC)  # from here the server may fire timers again
        await server.start()
        await playing

        assert worker.running and worker.starts == 1  # the worker rode out the outage by itself
        assert released and all(a.accepted and a.errors for a in released), [vars(a) for a in released]
        late_timers = await timers_fired_late(client, quiet, down, up)
        assert late_timers, "no timer of the quiet pair fell due while the server was down"

        store = SqlEventStore(database, migrate_schema=False)
        events = store.read(program_id)
        store.dispose()
        figures = await check_record(client, participants, events, people=4)
        assert figures["pairings"] == {"completed": 2} and participants.summary()["refused"] == []
        _reminded_after_the_outage(participants, events, quiet)
        closed = {(e.workflow_id, e.fact.cycle): e.fact.met for e in events if e.fact.kind == "cycle_closed"}
        assert closed[(quiet, 1)] is False and closed[(answering, 1)] is True
        report(
            "server restart",
            {
                "server_stop_seconds": round(stop_seconds, 1),
                "down_seconds": round((up - down).total_seconds(), 1),
                "answers_sent_while_down": len(released),
                "their_tries": [a.tries for a in released],
                "their_errors": Counter(e for a in released for e in a.errors),
                "seconds_from_send_to_accepted": [round(a.settled - a.first_sent, 1) for a in released],
                "timers_due_while_down_fired_after": late_timers,
                **participants.summary(),
                **figures,
                "wall_seconds": round(time.monotonic() - began),
            },
        )


def _reminded_after_the_outage(participants: Participants, events: list[Any], quiet: str) -> None:
    """The reminders of the quiet pair's check-ins fell due while the server was down; they went out after."""
    reminded = {row["key"] for row in delivered_rows(participants.outbox) if row["kind"] == "reminder"}
    [pair] = [e.fact for e in events if e.fact.kind == "matched" and e.fact.pairing == quiet]
    for prompt, person in (("check-in-1", pair.mentor), ("check-in-1", pair.mentee), ("pulse-1", pair.mentor)):
        assert f"{quiet}/{prompt}/reminder/{person}" in reminded


# 3. A dependency fails for a while: activities retry with backoff, workflows wait, nothing is lost.
class ChannelOutage:
    """The real outbox channel behind a switch: while the outage lasts, every delivery fails the way a mail
    server refusing connections does. Nothing is faked after it ends."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.ends = 0.0
        self.ends_at = datetime.now(UTC)
        self.failures = 0
        self.attempts: list[int] = []
        self.first_delivery: float | None = None

    def begin(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.ends_at = datetime.now(UTC) + timedelta(seconds=seconds)

    async def deliver(self, notices: list[Notice]) -> list[Notice]:
        self.attempts.append(activity.info().attempt)
        if time.monotonic() < self.ends:
            self.failures += 1
            raise ConnectionRefusedError("the notification channel is down (injected by the test)")
        sent = await self.channel.deliver(notices)
        self.first_delivery = self.first_delivery or time.monotonic()
        return sent


@asynccontextmanager
async def in_process_worker(h: Harness, channel: Channel) -> AsyncIterator[None]:
    try:
        async with build_worker(h.client, h.settings, channel=channel, store=h.store):
            yield
            await h.end_leftovers()
    finally:
        h.store.dispose()


CHANNEL_OUTAGE = 12.0  # seconds; retries come 1, 2, 4, 8 s apart, so the 5th attempt is the first after it


@pytest.mark.timeout(420)  # a minute or more of real time
@pytest.mark.slow
async def test_notices_wait_out_a_channel_outage(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    began = time.monotonic()
    h = Harness(dev_env, tmp_path)
    outage = ChannelOutage(h.channel)
    people = roster(2)
    program = short_program("channel", answer_window="20s", checkin_cadence="10s", program_length="30s")
    async with in_process_worker(h, outage):
        outage.begin(CHANNEL_OUTAGE)  # the invitations are the first notices: they wait for the channel
        program_id = (await start_on(h.client, program, people, h.settings.task_queue)).id
        h.programs.append(program_id)
        participants = Participants(h.client, program_id, cast_of(people), h.settings.outbox_path)
        await participants.play()
        events = h.store.read(program_id)
        figures = await check_record(h.client, participants, events, people=4)
        retried = [a for a in await activity_attempts(h.client, [program_id]) if a.attempt > 1]

    assert figures["pairings"] == {"completed": 2} and participants.summary()["refused"] == []
    assert outage.failures >= 4 and max(outage.attempts) >= 5
    assert outage.first_delivery is not None and outage.first_delivery >= outage.ends
    assert [a.activity for a in retried] == ["send_notices"]
    assert "injected by the test" in retried[0].last_failure
    assert min(e.at for e in events if e.kind == "opted_in") >= outage.ends_at  # nobody could answer before
    report(
        "channel outage",
        {
            "outage_seconds": CHANNEL_OUTAGE,
            "failed_deliveries": outage.failures,
            "attempts_seen": outage.attempts[: outage.failures + 1],
            "first_delivery_after_outage_seconds": round(outage.first_delivery - outage.ends, 1),
            **participants.summary(),
            **figures,
            "wall_seconds": round(time.monotonic() - began),
        },
    )


class DatabaseLock:
    """Another session holds the record's database so no one else may write: SQLite `BEGIN EXCLUSIVE` on the
    file, or PostgreSQL `LOCK TABLE events IN ACCESS EXCLUSIVE MODE`, in a transaction kept open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.taken_at: datetime | None = None
        self.released_at: datetime | None = None
        self._holding: asyncio.Task[None] | None = None

    def hold_for(self, seconds: float) -> None:
        self._holding = asyncio.create_task(self._hold(seconds, self._take()))
        self.taken_at = datetime.now(UTC)

    def _take(self) -> Callable[[], None]:
        """Lock now; return what lets go."""
        if self.url.startswith("sqlite"):
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")

            def release_file() -> None:
                conn.execute("ROLLBACK")
                conn.close()

            return release_file
        engine = create_engine(self.url)
        session = engine.connect()
        session.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))

        def release_table() -> None:
            session.rollback()
            session.close()
            engine.dispose()

        return release_table

    async def _hold(self, seconds: float, release: Callable[[], None]) -> None:
        await asyncio.sleep(seconds)
        release()
        self.released_at = datetime.now(UTC)

    async def __aenter__(self) -> "DatabaseLock":
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._holding is not None:
            await self._holding


DATABASE_LOCK = 40.0  # seconds: past the store's 30 s SQLite busy timeout and the activity's 30 s start-to-close


@pytest.mark.timeout(420)  # a minute or more of real time
@pytest.mark.slow
async def test_events_wait_out_a_locked_database(
    dev_env: WorkflowEnvironment, tmp_path: Path, database_url: str
) -> None:
    began = time.monotonic()
    h = Harness(dev_env, tmp_path, database_url)
    people = roster(2)
    program = short_program("locked", answer_window="20s", checkin_cadence="10s", program_length="30s")
    async with DatabaseLock(database_url) as lock, in_process_worker(h, h.channel):
        program_id = (await start_on(h.client, program, people, h.settings.task_queue)).id
        h.programs.append(program_id)
        participants = Participants(h.client, program_id, cast_of(people), h.settings.outbox_path)

        async def lock_then_close() -> None:  # the close of recruitment hands the first events to the store
            lock.hold_for(DATABASE_LOCK)

        participants.before_closing_recruitment = lock_then_close
        await participants.play()
        events = h.store.read(program_id)
        figures = await check_record(h.client, participants, events, people=4)
        appends = [a for a in await activity_attempts(h.client, [program_id]) if a.activity == "append_events"]

    assert figures["pairings"] == {"completed": 2} and participants.summary()["refused"] == []
    assert lock.taken_at is not None and lock.released_at is not None
    retried = [a for a in appends if a.attempt > 1]
    assert retried, "no append was retried"
    assert all("locked" in a.last_failure or "timeout" in a.last_failure.lower() for a in retried)
    # Training opens only after the close of recruitment is stored: the program waited for the database.
    assert min(e.at for e in events if e.kind == "training_completed") >= lock.released_at
    report(
        f"database lock ({database_url.split(':')[0]})",
        {
            "lock_seconds": DATABASE_LOCK,
            "appends": len(appends),
            "appends_retried": [(a.attempt, a.last_failure) for a in retried],
            **participants.summary(),
            **figures,
            "wall_seconds": round(time.monotonic() - began),
        },
    )
