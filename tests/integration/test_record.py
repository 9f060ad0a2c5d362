"""The program record on SQLite and PostgreSQL: exactly once, rebuildable, and confidential by construction.

(That every kind of fact has a projection is checked without a database: tests/domain/test_projections.py.)
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select, text
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from adapters.store import sql
from adapters.store import tables as t
from adapters.store.sql import SqlEventStore, program_lock
from demo.personas import Persona
from domain.events import Accepted, DomainEvent, Fact, Invited, Matched, OptedIn, PairingClosed, PromptShown
from domain.metrics import PairingOutcome
from domain.program import ProgramPhase
from domain.spec import ProgramSpec
from tests.helpers.databases import postgres_schema
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import J0, S0, roster, spec
from tests.helpers.programs import start_program
from tests.helpers.record import assert_exactly_once, read_model_outcome
from tests.helpers.report_record import GOALS, MAIN, TINY, main_program, tiny_program
from tests.helpers.report_record import pairing as report_pairing
from worker import build_worker

RECAP = "confided-recap-text-7f3a"  # what pairs write to each other; must never reach the record
COMMENT = "survey-comment-text-91bc"


class FailsAfterCommit:
    """A store that commits a batch, then fails every other call as if the worker died before reporting it.

    Temporal retries the activity with the same events; only the unique key keeps them from landing twice.
    """

    def __init__(self, store: SqlEventStore) -> None:
        self.store = store
        self.calls = 0
        self.failures = 0

    def append(self, events: list[DomainEvent]) -> int:
        added = self.store.append(events)
        self.calls += 1
        if self.calls % 2 == 0:
            self.failures += 1
            raise ConnectionError("lost the connection after commit (injected by the test)")
        return added


def personas(people: list[Any]) -> dict[str, Persona]:
    cast = personas_for(people)
    for persona in cast.values():
        persona.recap, persona.comment = RECAP, COMMENT
    return cast


async def run_program_with_a_restart(env: WorkflowEnvironment, tmp_path: Path, url: str, program: ProgramSpec) -> int:
    """Run a whole program: the first worker's store fails after commits, then a new worker takes over.

    Returns how many appends failed after committing.
    """
    h = Harness(env, tmp_path, url)
    people = roster(4)
    cast = personas(people)
    first = FailsAfterCommit(h.store)
    async with build_worker(env.client, h.settings, channel=h.channel, store=first, max_cached_workflows=0):
        handle = await start_program(h, program, people)
        await drive(h, handle, cast, until=ProgramPhase.MENTORING)
    second = FailsAfterCommit(SqlEventStore(url))  # a new worker process: new store, same database
    async with build_worker(env.client, h.settings, channel=h.channel, store=second):
        await drive(h, handle, cast, step=timedelta(days=1))
        await handle.result()
        await h.end_leftovers()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    second.store.dispose()
    h.store.dispose()
    return first.failures + second.failures


def table_rows(store: SqlEventStore) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in t.metadata.sorted_tables
        }


async def test_every_event_lands_once_under_retries_and_a_worker_restart(
    env: WorkflowEnvironment, tmp_path: Path, database_url: str
) -> None:
    failures = await run_program_with_a_restart(env, tmp_path, database_url, spec(durations={"program_length": "3w"}))
    assert failures >= 10

    store = SqlEventStore(database_url)
    kinds = assert_exactly_once(store.read())
    assert kinds["program_started"] == 1 and kinds["program_closed"] == 1
    assert kinds["invited"] == kinds["opted_in"] == kinds["training_completed"] == 8
    assert kinds["matched"] == 4 and kinds["accepted"] == 8 and kinds["plan_agreed"] == 4
    assert kinds["pairing_closed"] == 4 and kinds["completed"] == 8
    assert kinds["checkin_logged"] == 2 * kinds["cycle_closed"] > 0
    assert kinds["survey_answered"] == 8 * 2 + kinds["cycle_closed"]  # mid-point, close-out, a pulse a cycle
    assert kinds["metrics_snapshot"] >= 3  # every cycle, the mid-point and the close-out

    rows = table_rows(store)
    assert len(rows["participants"]) == 8 and {r[6] for r in rows["participants"]} == {"completed"}
    assert len(rows["pairings"]) == 4 and {r[7] for r in rows["pairings"]} == {"closed"}
    assert len(rows["checkins"]) == kinds["checkin_logged"]
    assert len(rows["skill_ratings"]) == 4 * (1 + 2)  # the mentee's plan skill, the mentor's two leadership skills
    store.dispose()


def everything_stored(store: SqlEventStore) -> str:
    return repr(table_rows(store))


async def test_rebuild_gives_the_same_rows_and_no_recap_is_stored(
    env: WorkflowEnvironment, tmp_path: Path, database_url: str
) -> None:
    await run_program_with_a_restart(env, tmp_path, database_url, spec(durations={"program_length": "2w"}))
    store = SqlEventStore(database_url)
    before = table_rows(store)
    # Every projection filled, but alerts (none raised) and open prompts (none left open at the end).
    assert all(before[table.name] for table in t.PROJECTIONS if table not in (t.alerts, t.open_prompts))
    replayed = store.rebuild()
    assert replayed == len(before["events"])
    assert table_rows(store) == before

    stored = everything_stored(store)  # every column of every table, the event log included
    assert RECAP not in stored and COMMENT not in stored
    with store.engine.connect() as conn:
        written = conn.execute(select(t.checkins.c.recap_written)).scalars().all()
    assert written and all(written)  # the record knows a recap was written, never what it said
    shown = [e.fact for e in store.read() if isinstance(e.fact, PromptShown)]
    assert shown and all(f.view is None and f.sealed for f in shown)  # a prompt's view only ever sealed
    store.dispose()


async def test_survey_comments_are_kept_when_the_spec_says_so(env: WorkflowEnvironment, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    program = spec(durations={"program_length": "2w"}, keep_survey_comments=True)
    await run_program_with_a_restart(env, tmp_path, url, program)
    store = SqlEventStore(url)
    with store.engine.connect() as conn:
        comments = conn.execute(select(t.survey_answers.c.comment)).scalars().all()
    assert comments and set(comments) == {COMMENT}
    assert RECAP not in everything_stored(store)
    store.dispose()


def test_a_pairing_closes_once_in_the_record_and_what_it_recorded_itself_stands(database_url: str) -> None:
    """A pairing that recorded its end and was then ended before it could report back: the program's later
    close of it, as cancelled, changes nothing in the read model."""
    program, pairing = "program-closes-once", "pairing-closes-once-j0-s0"

    def event(workflow_id: str, seq: int, fact: Fact) -> DomainEvent:
        at = datetime(2026, 3, seq, tzinfo=UTC)
        pairing_id = None if fact.kind == "matched" else pairing
        return DomainEvent(
            workflow_id=workflow_id, seq=seq, at=at, program_id=program, pairing_id=pairing_id, origin="run", fact=fact
        )

    store = SqlEventStore(database_url)
    try:
        store.append([event(program, 1, Matched(pairing=pairing, mentor=J0, mentee=S0, score=0.9))])
        itself = PairingClosed(outcome=PairingOutcome.COMPLETED, ended_by=[], cycles_run=3, cycles_met=3)
        store.append([event(pairing, 1, itself)])
        assert read_model_outcome(store, pairing) == ("closed", "completed")

        by_program = PairingClosed(outcome=PairingOutcome.CANCELLED, ended_by=[], cycles_run=0, cycles_met=0)
        store.append([event(program, 2, by_program)])
        assert read_model_outcome(store, pairing) == ("closed", "completed")
        store.rebuild()
        assert read_model_outcome(store, pairing) == ("closed", "completed")
    finally:
        store.dispose()


def test_the_read_model_is_the_same_whatever_the_batches_and_after_a_rebuild(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The projector writes a batch's rows once, with every change of the batch on them (the record of
    tests/helpers/report_record.py holds nearly every kind of fact). One event per append, each change is an
    UPDATE of a stored row and each read a SELECT; a rebuild a few events a page updates rows it wrote pages
    before; a rebuild in one page inserts every row with its final values. All three give the same rows."""
    events = main_program() + tiny_program()
    store = SqlEventStore(database_url)
    try:
        assert sum(store.append([event]) for event in events) == len(events)
        assert store.read() == events  # ids follow the order given; facts, times and runs come back as written
        one_by_one = table_rows(store)
        monkeypatch.setattr(sql, "REBUILD_BATCH", 7)
        assert store.rebuild() == len(events)
        assert table_rows(store) == one_by_one
        monkeypatch.setattr(sql, "REBUILD_BATCH", len(events) + 1)
        store.rebuild()
        assert table_rows(store) == one_by_one
    finally:
        store.dispose()
    pairings = {row["pairing_id"]: row for row in named(one_by_one, t.pairings)}
    assert len(pairings) == 8 and {row["accepted"] for row in pairings.values()} == {2}
    assert (pairings[report_pairing(6)]["stage"], pairings[report_pairing(6)]["outcome"]) == ("closed", "withdrawn")
    assert pairings[report_pairing(5)]["at_risk"] and pairings[report_pairing(1)]["plan_skills"] == ["sql"]
    statuses = Counter((row["program_id"], row["status"]) for row in named(one_by_one, t.participants))
    assert statuses[(MAIN, "completed")] == 10 and statuses[(MAIN, "withdrawn")] == 1
    assert statuses[(TINY, "matched")] == 4 and statuses[(TINY, "excluded")] == 1
    programs = {row["program_id"]: row for row in named(one_by_one, t.programs)}
    assert programs[MAIN]["goals"] == [goal.model_dump() for goal in GOALS] and programs[MAIN]["phase"] == "completed"


def named(rows: dict[str, list[tuple[Any, ...]]], table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.c.keys(), row, strict=True)) for row in rows[table.name]]


def test_a_change_to_a_row_not_yet_projected_changes_nothing(database_url: str) -> None:
    """Events that change a participant or a pairing before the event that adds it (no workflow sends them so,
    but the log may hold them): the change finds no row, as an UPDATE before the INSERT would, in one append
    and in a rebuild."""
    program, pairing_id = "program-out-of-order", "pairing-out-of-order-j0-s0"

    def event(workflow_id: str, seq: int, fact: Fact) -> DomainEvent:
        at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=seq)
        in_pairing = None if workflow_id == program else pairing_id
        return DomainEvent(
            workflow_id=workflow_id,
            seq=seq,
            at=at,
            program_id=program,
            pairing_id=in_pairing,
            participant=J0,
            fact=fact,
        )

    store = SqlEventStore(database_url)
    try:
        invited = Invited(name="J", role="mentee", seniority=1, department="ops")
        store.append([event(program, 1, OptedIn()), event(program, 2, invited)])
        matched = Matched(pairing=pairing_id, mentor=S0, mentee=J0, score=0.9)
        store.append([event(pairing_id, 1, Accepted()), event(program, 3, matched)])
        rows = table_rows(store)
        assert [(row["status"], row["opted_in_at"]) for row in named(rows, t.participants)] == [("matched", None)]
        assert [(row["stage"], row["accepted"]) for row in named(rows, t.pairings)] == [("introduction", 0)]
        store.rebuild()
        assert table_rows(store) == rows
    finally:
        store.dispose()


def test_a_whole_number_where_a_fraction_is_kept_is_stored_as_one(database_url: str) -> None:
    """A float field that holds an int (a fact made without validation) beside floats in one batch: PostgreSQL
    takes a batch's values of a column as one array, of one type, so the store makes the int a float first."""
    program = "program-whole-scores"

    def matched(seq: int, score: float) -> DomainEvent:
        fact = Matched.model_construct(pairing=f"pairing-{seq}", mentor=S0, mentee=J0, score=score, reasons=[])
        at = datetime(2026, 3, 1, tzinfo=UTC)
        return DomainEvent(workflow_id=program, seq=seq, at=at, program_id=program, fact=fact)

    store = SqlEventStore(database_url)
    try:
        store.append([matched(1, 0.5), matched(2, 3)])
        with store.engine.connect() as conn:
            scores = conn.execute(select(t.pairings.c.score).order_by(t.pairings.c.pairing_id)).scalars().all()
    finally:
        store.dispose()
    assert scores == [0.5, 3.0]


def test_an_append_on_postgresql_waits_while_another_of_its_program_is_under_way() -> None:
    """Rebuild replays the log in id order what appends projected in commit order: the two agree because an
    append of a program takes the program's lock before its events get ids and keeps it until it commits. Here
    another transaction holds that lock; the append waits for it, then lands. (SQLite has one writer at a
    time.)"""
    program = "program-waits-its-turn"
    event = DomainEvent(
        workflow_id=program, seq=1, at=datetime(2026, 3, 1, tzinfo=UTC), program_id=program, fact=OptedIn()
    )
    with postgres_schema() as url, ThreadPoolExecutor(1) as pool:
        store = SqlEventStore(url)
        try:
            with store.engine.connect() as other:
                other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": program_lock(program)})
                appending = pool.submit(store.append, [event])
                with pytest.raises(TimeoutError):
                    appending.result(timeout=1)
                other.rollback()  # the lock goes with the transaction
            assert appending.result(timeout=60) == 1
        finally:
            store.dispose()
