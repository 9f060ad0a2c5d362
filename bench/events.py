"""How fast the program record takes events and rebuilds its read model, on SQLite and PostgreSQL.

    python -m bench.events --events 100000

A synthetic program (invitations, matches, weekly check-ins with pulses, surveys with skill ratings, closes)
is cut into batches per workflow, the way workflows hand events to the `append_events` activity, and appended
by a pool of threads like the worker's. Then every batch is appended again (what a retried activity does:
nothing may land twice), and `rebuild` drops and replays every projection. Figures go to
bench/results/events.json and a line per database to bench/results/events.md.
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from adapters.store.sql import SqlEventStore
from bench.output import RESULTS, save_figures
from domain import events as ev
from domain.metrics import PairingOutcome

BATCH = 200  # what a workflow hands the activity at most (EventJournal.take)
CYCLES = 20
POSTGRES_URL = os.environ.get("FLIPSIDE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


class Journal:
    """Numbers one workflow's events, as EventJournal does, and keeps them for batching."""

    def __init__(self, workflow_id: str, program_id: str, pairing_id: str | None = None) -> None:
        self.workflow_id, self.program_id, self.pairing_id = workflow_id, program_id, pairing_id
        self.events: list[ev.DomainEvent] = []

    def add(self, fact: ev.Fact, at: datetime, participant: str | None = None) -> None:
        self.events.append(
            ev.DomainEvent(
                workflow_id=self.workflow_id,
                seq=len(self.events) + 1,
                at=at,
                program_id=self.program_id,
                pairing_id=self.pairing_id,
                participant=participant,
                fact=fact,
            )
        )


def _pairing(program: Journal, number: int) -> Journal:
    mentor, mentee = f"mentor{number:05d}@example.com", f"mentee{number:05d}@example.com"
    pairing_id = f"pairing-bench-mentor{number:05d}-mentee{number:05d}"
    for email, role, level in ((mentor, "mentor", 2), (mentee, "mentee", 7)):
        program.add(ev.Invited(name=email[:11], role=role, seniority=level, department="ops"), START, email)
        program.add(ev.OptedIn(), START + timedelta(days=1), email)
        program.add(ev.TrainingCompleted(modules=["basics"]), START + timedelta(days=3), email)
    program.add(
        ev.Matched(pairing=pairing_id, mentor=mentor, mentee=mentee, score=3.5, reasons=["teaches ai tools"]),
        START + timedelta(days=5),
    )
    pairing = Journal(pairing_id, program.program_id, pairing_id)
    day = START + timedelta(days=6)
    for email in (mentor, mentee):
        pairing.add(ev.Accepted(), day, email)
    pairing.add(ev.PlanAgreed(by_default=False, goals=2, skills=["ai tools"], cadence_seconds=604800), day)
    for cycle in range(1, CYCLES + 1):
        at = day + timedelta(weeks=cycle)
        met = (number + cycle) % 7 != 0
        for email in (mentor, mentee):
            pairing.add(ev.CheckinLogged(cycle=cycle, met=met, progress=3 + cycle % 3, recap_written=True), at, email)
        pairing.add(ev.SurveyAnswered(survey="pulse", cycle=cycle, ratings={"safe_and_useful": 4}), at, mentor)
        pairing.add(ev.CycleClosed(cycle=cycle, met=met, missed_streak=0 if met else 1), at)
    end = day + timedelta(weeks=CYCLES + 1)
    for email in (mentor, mentee):
        pairing.add(ev.SurveyAnswered(survey="midpoint", ratings={"satisfaction": 4, "usefulness": 4}), end, email)
        skills = [ev.SkillChange(skill="ai tools", before=2, after=4)]
        pairing.add(ev.SurveyAnswered(survey="closeout", ratings={"satisfaction": 5}, skills=skills), end, email)
    pairing.add(ev.PairingClosed(outcome=PairingOutcome.COMPLETED, ended_by=[], cycles_run=CYCLES, cycles_met=17), end)
    for email in (mentor, mentee):
        program.add(ev.Recognised(pairing=pairing_id), end, email)
    return pairing


def synthetic_program(target_events: int) -> list[list[ev.DomainEvent]]:
    """Batches of one workflow's events each, program batches first, as the workflows would send them."""
    program = Journal("program-bench", "program-bench")
    program.add(
        ev.ProgramStarted(
            name="Bench",
            purpose="Measure the record",
            matching_mode="algorithm",
            goals=[ev.GoalTarget(goal="meet", kpi="checkin_adherence", target=0.7)],
            checkin_cadence_seconds=604800,
            program_length_seconds=CYCLES * 604800,
        ),
        START,
    )
    pairings: list[Journal] = []
    while len(program.events) + sum(len(p.events) for p in pairings) < target_events:
        pairings.append(_pairing(program, len(pairings)))
    return [list(chunk) for journal in (program, *pairings) for chunk in _chunks(journal.events)]


def _chunks(items: list[ev.DomainEvent]) -> Iterator[list[ev.DomainEvent]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def measure(url: str, batches: list[list[ev.DomainEvent]], threads: int) -> dict[str, Any]:
    store = SqlEventStore(url)
    total = sum(len(b) for b in batches)
    program_batches, pairing_batches = (
        batches[: _program_batch_count(batches)],
        batches[_program_batch_count(batches) :],
    )
    started = time.perf_counter()
    added = sum(store.append(b) for b in program_batches)  # matches land before their pairings' events
    with ThreadPoolExecutor(threads) as pool:
        added += sum(pool.map(store.append, pairing_batches))
    append_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        again = sum(pool.map(store.append, batches))
    retry_seconds = time.perf_counter() - started

    started = time.perf_counter()
    replayed = store.rebuild()
    rebuild_seconds = time.perf_counter() - started
    stored = store.count()
    store.dispose()
    assert added == total == stored == replayed and again == 0, (added, total, stored, replayed, again)
    return {
        "events": total,
        "batches": len(batches),
        "threads": threads,
        "append_seconds": round(append_seconds, 2),
        "append_events_per_second": round(total / append_seconds),
        "retry_seconds": round(retry_seconds, 2),
        "retry_events_per_second": round(total / retry_seconds),
        "rebuild_seconds": round(rebuild_seconds, 2),
        "rebuild_events_per_second": round(total / rebuild_seconds),
    }


def _program_batch_count(batches: list[list[ev.DomainEvent]]) -> int:
    return sum(1 for b in batches if b[0].pairing_id is None)


def postgres_schema_url() -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    with create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8, help="appenders at once, like the worker's thread pool")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    batches = synthetic_program(args.events)
    print(f"{sum(len(b) for b in batches):,} events in {len(batches):,} batches")
    figures: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "code": code_version(),
        # Other work on the machine slows every figure here: the 1-minute load average before and after says how much.
        "load_average": [round(os.getloadavg()[0], 2)],
    }
    for database in args.databases.split(","):
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                figures[database] = measure(f"sqlite:///{folder}/bench.db", batches, args.threads)
        else:
            url, schema = postgres_schema_url()
            try:
                figures[database] = measure(url, batches, args.threads)
            finally:
                drop_schema(schema)
        print(database, json.dumps(figures[database]))
    figures["load_average"].append(round(os.getloadavg()[0], 2))
    save_figures("events", figures)
    with (RESULTS / "events.md").open("a") as table:
        table.writelines(table_line(figures, database) for database in args.databases.split(","))


def table_line(figures: dict[str, Any], database: str) -> str:
    f, (start, end) = figures[database], figures["load_average"]
    return (
        f"| {figures['when'][:10]} | {figures['code']} | {database} | {f['events']:,} "
        f"| {f['append_events_per_second']:,}/s | {f['retry_events_per_second']:,}/s | {f['rebuild_seconds']} s "
        f"| {figures['machine']} | {start} → {end} |\n"
    )


def code_version() -> str:
    """The commit measured; `-dirty` when files other than the results differ from it."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}-dirty" if _git("status", "--porcelain", "--", ".", ":(exclude)bench/results") else commit


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=Path(__file__).parents[1], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
