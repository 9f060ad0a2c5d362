"""A large program from recruitment to close-out on one dev server, as production runs it.

    python -m bench.large_program --pairs 5000

A Temporal dev server with per-workflow time skipping, the worker (`worker.py`, its own process, encrypted
payloads, the SQLite record) and this process as everyone involved. The program is started as `starter.py start`
starts one (its roster stored in the record, the workflow given a reference); everyone opts in at once (the
gateway batches them), the coordinator closes recruitment, matching proposes and auto-approves, and every pairing
starts. Nobody answers their match, so each pairing ends after one answer window and reports back; then the
program's clock is fast-forwarded through the rest of its two weeks.

Figures (bench/results/large-program.json and .md): the time each phase took, how many runs the program's history
took and the most events in one, whether every pairing started exactly once, and the worker's peak memory
(VmHWM of the worker process and of its solver process).
"""

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.codec import data_converter
from bench.output import RESULTS, save_figures
from bench.portal import COORDINATOR, cpu_seconds, process, roster
from domain.answers import CoordinatorAction, OptIn
from domain.program import ProgramResult, ProgramStatus
from domain.prompts import PromptKind
from domain.spec import ProgramSpec
from flipside_client import Action, act, program_status, send_recruitment_answer
from settings import Settings
from starter import start_program
from tests.helpers.replaying import child_starts, runs_of
from tests.helpers.servers import start_per_workflow_skipping

POLL = 2.0  # seconds between status reads while the program works


def quiet_spec(run: str) -> ProgramSpec:
    return ProgramSpec.model_validate(
        {
            "name": f"Large program {run}",
            "purpose": "Measure a program of thousands from recruitment to close-out.",
            "coordinators": [COORDINATOR],
            "business_goals": [{"goal": "Pairs keep meeting", "kpi": "checkin_adherence", "target": 0.6}],
            "ground_rules": ["Taking part is voluntary", "What we say stays between us"],
            "training_modules": [],
            "durations": {
                "recruitment": "2d",  # closed by the coordinator once everyone has opted in
                "training": "2d",  # no modules: over at once
                "answer_window": "5s",
                "checkin_cadence": "1w",
                "program_length": "2w",
            },
            "reminders": {"nudge_before": "1d", "missed_checkins_alert": 2},
            "matching": {"mode": "algorithm", "auto_approve": True},
        }
    )


def memory_mb(pid: int, field: str) -> float | None:
    """A memory figure of a process from /proc (VmHWM: the most it has held; VmRSS: what it holds now), in MB;
    None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    return memory_mb(pid, "VmHWM")


async def sample_rss(pid: int, started: float, samples: list[tuple[float, float]]) -> None:
    """The worker's resident memory every half second, so the report can say in which phase it peaked."""
    while True:
        if (now := memory_mb(pid, "VmRSS")) is not None:
            samples.append((time.monotonic() - started, now))
        await asyncio.sleep(0.5)


def rss_by_moment(marks: dict[str, float], samples: list[tuple[float, float]]) -> dict[str, float]:
    """The most memory the worker held up to each moment since the one before."""
    peaks, since = {}, 0.0
    for moment, at in marks.items():
        held = [mb for t, mb in samples if since <= t <= at]
        peaks[moment], since = max(held, default=0.0), at
    return peaks


def children_of(pid: int) -> list[int]:
    return [int(c) for f in Path(f"/proc/{pid}/task").glob("*/children") for c in f.read_text().split()]


async def opt_in_everyone(client: Client, program_id: str, emails: list[str]) -> None:
    """Everyone at once, as after a launch email: the gateway sends them to the program in batches."""

    async def opt_in(email: str) -> None:
        answer = OptIn(participant=email, consent_to_ground_rules=True)
        await send_recruitment_answer(client, program_id, PromptKind.OPT_IN, answer, f"opt-in-{email}")

    await asyncio.gather(*(opt_in(e) for e in emails))


async def watch_phases(client: Client, program_id: str, pairs: int, started: float) -> dict[str, float]:
    """Seconds from the start at which each phase was first seen, until every pairing has reported back."""
    seen: dict[str, float] = {}
    while True:
        current: ProgramStatus = await program_status(client, program_id)
        seen.setdefault(current.phase.value, round(time.monotonic() - started, 1))
        if sum(current.pairings_by_outcome.values()) >= pairs:
            seen["every pairing reported back"] = round(time.monotonic() - started, 1)
            return seen
        await asyncio.sleep(POLL)


async def play(env: WorkflowEnvironment, settings: Settings, pairs: int, worker_pid: int) -> dict[str, Any]:
    client, spec = env.client, quiet_spec(uuid.uuid4().hex[:6])
    people = roster(2 * pairs)
    started = time.monotonic()
    samples: list[tuple[float, float]] = []
    sampling = asyncio.create_task(sample_rss(worker_pid, started, samples))
    with env.with_time_skipping_disabled():  # the program runs on the wall clock until its pairings are done
        program_id = await start_program(client, settings, spec, people)
    marks = {"started": round(time.monotonic() - started, 1)}
    await opt_in_everyone(client, program_id, [p.email for p in people])
    marks["everyone opted in"] = round(time.monotonic() - started, 1)
    await act(client, program_id, Action.CLOSE_RECRUITMENT, CoordinatorAction(coordinator=COORDINATOR))
    marks |= await watch_phases(client, program_id, pairs, started)
    solver_rss = {pid: peak_rss_mb(pid) for pid in children_of(worker_pid)}
    await env.fast_forward(client.get_workflow_handle(program_id), spec.durations.program_length * 2)
    result = await client.get_workflow_handle(program_id, result_type=ProgramResult).result()
    marks["completed"] = round(time.monotonic() - started, 1)
    sampling.cancel()
    runs = await runs_of(client, program_id)
    starts = child_starts(runs)
    return {
        "seconds_from_start": marks,
        "outcome": result.outcome,
        "runs": len(runs),
        "events_per_run": [len(r.events) for r in runs],
        "pairings_started": len(starts),
        "pairings_started_twice": sum(1 for n in starts.values() if n > 1),
        "worker_peak_rss_mb": peak_rss_mb(worker_pid),
        "worker_rss_mb_by_moment": rss_by_moment(marks, samples),
        "solver_peak_rss_mb": max((v for v in solver_rss.values() if v is not None), default=None),
    }


async def bench(pairs: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-large-"))
    settings = Settings(task_queue="bench-large", data_dir=data_dir, notify="file", log_format="json")
    converter = data_converter(settings.codec_keyring())  # the worker reads the same keys from the data folder
    env = await start_per_workflow_skipping(converter)
    address = env.client.service_client.config.target_host
    settings = settings.model_copy(update={"temporal_address": address})
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": settings.task_queue,
        "FLIPSIDE_DATA_DIR": str(data_dir),
        "FLIPSIDE_NOTIFY": "file",
        "FLIPSIDE_LOG_FORMAT": "json",
    }
    (data_dir / "logs").mkdir()
    try:
        with process("worker", ["worker.py"], environ, data_dir / "logs") as worker:
            await asyncio.sleep(3)  # the worker migrates the record and starts polling
            cpu_before = cpu_seconds(worker.pid)
            figures = await play(env, settings, pairs, worker.pid)
            figures["worker_cpu_s"] = round(cpu_seconds(worker.pid) - cpu_before, 1)
    finally:
        await env.shutdown()
    print(f"logs and the record are kept in {data_dir}", file=sys.stderr)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pairs": pairs,
        "people": 2 * pairs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1m_end": round(os.getloadavg()[0], 1),
        **figures,
    }


def write_results(figures: dict[str, Any], command: str) -> None:
    save_figures("large-program", figures)
    rss = figures["worker_rss_mb_by_moment"]
    marks = "\n".join(f"| {what} | {s} | {rss.get(what, '')} |" for what, s in figures["seconds_from_start"].items())
    (RESULTS / "large-program.md").write_text(
        "# bench/large_program.py results\n\n"
        f"`{command}`\n\n"
        f"{figures['people']} people ({figures['pairs']} pairs), measured {figures['measured_at']} on "
        f"{figures['machine']}; load average {figures['load_average_1m_end']} at the end.\n\n"
        "| moment | seconds from start | worker RSS MB, most since the moment before |\n|---|---|---|\n"
        f"{marks}\n\n"
        f"- Outcome: {figures['outcome']}; {figures['runs']} runs, events per run {figures['events_per_run']} "
        f"(most {max(figures['events_per_run'])}).\n"
        f"- Pairings started: {figures['pairings_started']}, started twice: {figures['pairings_started_twice']}.\n"
        f"- Worker peak RSS {figures['worker_peak_rss_mb']} MB (solver process {figures['solver_peak_rss_mb']} MB); "
        f"worker CPU {figures['worker_cpu_s']} s.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5000)
    args = parser.parse_args()
    figures = asyncio.run(bench(args.pairs))
    write_results(figures, f"python -m bench.large_program --pairs {args.pairs}")
    print(figures)


if __name__ == "__main__":
    main()
