"""The program record on SQLite and PostgreSQL: exactly once, rebuildable, and confidential by construction."""

from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from adapters.store import tables as t
from adapters.store.projections import HANDLERS
from adapters.store.sql import SqlEventStore
from demo.personas import Persona
from domain.events import DomainEvent, Fact
from domain.program import ProgramPhase
from domain.spec import ProgramSpec
from tests.helpers.driving import drive, personas_for
from tests.helpers.durability import assert_exactly_once
from tests.helpers.harness import Harness
from tests.helpers.people import roster, spec
from tests.helpers.programs import start_program
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
    assert all(before[table.name] for table in t.PROJECTIONS if table is not t.alerts), "every projection filled"
    replayed = store.rebuild()
    assert replayed == len(before["events"])
    assert table_rows(store) == before

    stored = everything_stored(store)  # every column of every table, the event log included
    assert RECAP not in stored and COMMENT not in stored
    with store.engine.connect() as conn:
        written = conn.execute(select(t.checkins.c.recap_written)).scalars().all()
    assert written and all(written)  # the record knows a recap was written, never what it said
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


def test_every_kind_of_domain_event_has_a_projection() -> None:
    """A fact a workflow records that no projection knows would stop the store at its first append: each kind,
    including every kind a Matched fact takes, is named in the projections (those no table needs, as ignored)."""
    (union, _discriminator) = get_args(Fact)
    kinds = {kind for fact in get_args(union) for kind in get_args(fact.model_fields["kind"].annotation)}
    assert len(kinds) >= 24  # the 23 facts, one of them with two kinds
    assert kinds == set(HANDLERS)
