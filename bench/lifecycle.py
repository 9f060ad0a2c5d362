"""How fast pairings run: N PairingWorkflows for R check-in rounds on a local dev server, answered by simulated people.

    python -m bench.lifecycle --pairings 200 --rounds 5

Every prompt notice reaches an in-process channel; a driver then does what a person's portal does (reads the
person's pending prompts, answers the one notified) and times each update from send to result. The same N and
R then run through bench/bare_loop.py, the least a Temporal workflow can do for the same rounds, so the report
shows what Flipside's own code costs. Figures go to bench/results/lifecycle-<N>p-<R>r.json and a line is added
to bench/results/lifecycle.md.
"""

import argparse
import asyncio
import logging
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.codec import DATA_CONVERTER
from bench.bare_loop import ANSWERS_PER_ROUND, BareAnswer, BareInput, BareLoopWorkflow, RoundChannel, RoundOpened
from bench.output import RESULTS, latency_ms, save_figures
from demo.personas import Persona
from domain.metrics import PairingOutcome, PairingSummary
from domain.notices import Notice, NoticeKind
from domain.pairing import PairingInput, PairingTerms
from domain.people import Participant, Role
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import Refused, build_answer, send_answer
from settings import Settings, configure_logging
from worker import build_worker
from workflows import search
from workflows.pairing import PairingWorkflow

PROGRAM_ID = "program-bench"


@dataclass
class Samples:
    """Update latencies in seconds by kind of answer, when each update finished, and what was refused."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    finished_at: list[float] = field(default_factory=list)
    query_latencies: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    async def timed_update(self, kind: str, call: Awaitable[object]) -> None:
        start = time.perf_counter()
        await call
        end = time.perf_counter()
        self.latencies[kind].append(end - start)
        self.finished_at.append(end)

    @property
    def count(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    def report(self, wall: float, round_kinds: set[str]) -> dict[str, Any]:
        every = [v for values in self.latencies.values() for v in values]
        in_rounds = [v for kind in round_kinds for v in self.latencies.get(kind, [])]
        per_second = Counter(int(t) for t in self.finished_at)
        return {
            "wall_s": round(wall, 2),
            "updates": len(every),
            "updates_per_s": round(len(every) / wall, 1),
            "peak_updates_per_s": max(per_second.values(), default=0),
            "latency_ms": latency_ms(every),
            "round_latency_ms": latency_ms(in_rounds),
            "by_kind": {kind: {"n": len(v), **latency_ms(v)} for kind, v in sorted(self.latencies.items())},
            "query_latency_ms": latency_ms(self.query_latencies),
            "refused": dict(self.refused),
        }


class Driver:
    """Runs each job as its own task, at most `concurrency` at a time, and collects the first failure."""

    def __init__(self, concurrency: int) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: list[BaseException] = []

    def submit(self, job: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            async with self.slots:
                try:
                    await job()
                except Exception as error:  # kept and raised at the end: one failure must not hang the bench
                    self.failures.append(error)

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def check(self) -> None:
        if self.failures:
            raise RuntimeError(f"{len(self.failures)} answers failed; first: {self.failures[0]!r}")


class PromptChannel:
    """A notification channel that hands every prompt straight to the simulated person it is for."""

    def __init__(self, on_prompt: Callable[[Notice], None]) -> None:
        self.on_prompt = on_prompt
        self.sent: set[str] = set()

    async def deliver(self, notices: list[Notice]) -> list[Notice]:
        fresh = [n for n in notices if n.key not in self.sent]
        for notice in fresh:
            self.sent.add(notice.key)
            if notice.kind == NoticeKind.PROMPT:
                self.on_prompt(notice)
        return fresh


# Flipside's pairings
def pairing_input(index: int, rounds: int, cadence: timedelta) -> PairingInput:
    mentor = Participant(
        email=f"mentor{index:04d}@bench.example",
        name=f"Mentor {index}",
        role=Role.MENTOR,
        seniority=1,
        skills_offered=["ai tools"],
        skills_wanted=["strategy"],
    )
    mentee = Participant(
        email=f"mentee{index:04d}@bench.example",
        name=f"Mentee {index}",
        role=Role.MENTEE,
        seniority=7,
        skills_offered=["strategy"],
        skills_wanted=["ai tools"],
    )
    length = cadence * rounds
    terms = PairingTerms(
        program_id=PROGRAM_ID,
        coordinators=["coach@bench.example"],
        ground_rules=["Voluntary", "Confidential"],
        answer_window=timedelta(minutes=30),
        nudge_before=cadence / 5,
        default_cadence=cadence,
        cadence_min=cadence,
        cadence_max=cadence,
        missed_alert_after=2,
        low_answer=2,
        mentoring_length=length,
        midpoint_after=length / 2,
        match_reasons=["the bench paired them"],
    )
    return PairingInput(pairing_id=f"pairing-bench-{index:04d}", mentor=mentor, mentee=mentee, terms=terms)


async def answer_prompt(client: Client, notice: Notice, samples: Samples) -> None:
    """What a person does on a prompt notice: open their pending prompts, answer the one they were sent."""
    assert notice.pairing_id is not None and notice.prompt_id is not None
    handle = client.get_workflow_handle(notice.pairing_id)
    start = time.perf_counter()
    pending = await handle.query("pending_prompts", notice.to, result_type=list[PendingPrompt])
    samples.query_latencies.append(time.perf_counter() - start)
    prompt = next((p for p in pending if p.id == notice.prompt_id), None)
    if prompt is None or (prompt.kind == PromptKind.PROPOSE_PLAN and notice.to.startswith("mentor")):
        return  # answered already, or the mentee proposes the plan and the mentor agrees it
    fields = Persona(notice.to).fields_for(prompt)
    assert fields is not None
    try:
        await samples.timed_update(
            prompt.kind.value, send_answer(client, prompt, build_answer(prompt, notice.to, fields))
        )
    except Refused:
        samples.refused[prompt.kind.value] += 1


async def run_flipside(
    env: WorkflowEnvironment, n: int, rounds: int, cadence: timedelta, concurrency: int, data_dir: Path
) -> dict[str, Any]:
    samples, driver = Samples(), Driver(concurrency)
    channel = PromptChannel(lambda notice: driver.submit(lambda: answer_prompt(env.client, notice, samples)))
    settings = Settings(task_queue="bench-flipside", data_dir=data_dir)
    async with build_worker(env.client, settings, channel=channel):
        start = time.perf_counter()
        handles = [
            await env.client.start_workflow(
                PairingWorkflow.run,
                pairing_input(i, rounds, cadence),
                id=f"pairing-bench-{i:04d}",
                task_queue=settings.task_queue,
                search_attributes=search.initial(PROGRAM_ID, "introduction", "pairing"),
            )
            for i in range(n)
        ]
        summaries = await _await_all(handles, samples, driver, "flipside")
        wall = time.perf_counter() - start
    completed = sum(1 for s in summaries if isinstance(s, PairingSummary) and s.outcome == PairingOutcome.COMPLETED)
    report = samples.report(wall, {PromptKind.CHECK_IN.value, PromptKind.PULSE.value})
    report["completed_pairings"] = completed
    report["history_events_per_pairing"] = await _history_length(handles)
    return report


# The bare loop
async def run_bare(
    env: WorkflowEnvironment, n: int, rounds: int, cadence: timedelta, concurrency: int
) -> dict[str, Any]:
    samples, driver = Samples(), Driver(concurrency)

    async def answer(opened: RoundOpened, slot: str) -> None:  # read what is open, then answer: as Flipside's driver
        handle = env.client.get_workflow_handle(opened.workflow_id)
        start = time.perf_counter()
        if slot in await handle.query("open_slots", result_type=list[str]):
            samples.query_latencies.append(time.perf_counter() - start)
            await samples.timed_update(
                "round", handle.execute_update("answer", BareAnswer(round=opened.round, slot=slot))
            )

    def on_round(opened: RoundOpened) -> None:
        for slot in ANSWERS_PER_ROUND:
            driver.submit(lambda s=slot: answer(opened, s))  # type: ignore[misc]

    rounds_channel = RoundChannel(on_round)
    async with Worker(
        env.client, task_queue="bench-bare", workflows=[BareLoopWorkflow], activities=[rounds_channel.open_round]
    ):
        start = time.perf_counter()
        handles = [
            await env.client.start_workflow(
                BareLoopWorkflow.run,
                BareInput(rounds=rounds, cadence=cadence),
                id=f"bare-{i:04d}",
                task_queue="bench-bare",
            )
            for i in range(n)
        ]
        await _await_all(handles, samples, driver, "bare loop")
        wall = time.perf_counter() - start
    report = samples.report(wall, {"round"})
    report["history_events_per_pairing"] = await _history_length(handles)
    return report


async def _await_all(
    handles: list[WorkflowHandle[Any, Any]], samples: Samples, driver: Driver, label: str
) -> list[Any]:
    results = asyncio.gather(*(h.result() for h in handles))
    while not results.done():
        await asyncio.wait([results], timeout=5)
        driver.check()
        print(f"  {label}: {samples.count} answers so far", flush=True)
    while driver.tasks:  # answers still in flight when the last workflow finished
        await asyncio.wait(list(driver.tasks))
    driver.check()
    return list(results.result())


async def _history_length(handles: list[WorkflowHandle[Any, Any]], sample: int = 5) -> float:
    lengths = [len((await h.fetch_history()).events) for h in handles[:sample]]
    return statistics.mean(lengths)


# Entry point
def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(__file__).parents[1] / ".venv" / "bin"))
    if path is None:
        raise SystemExit(f"{name} is not installed; `make test` or `make run` installs it")
    return path


async def bench(n: int, rounds: int, cadence: timedelta, concurrency: int) -> dict[str, Any]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=DATA_CONVERTER,
        search_attributes=search.ALL,
        dev_server_log_level="error",
    )
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            print(f"Flipside: {n} pairings x {rounds} rounds of {cadence.total_seconds():g}s", flush=True)
            flipside = await run_flipside(env, n, rounds, cadence, concurrency, Path(data_dir))
        print(f"Bare loop: {n} workflows x {rounds} rounds", flush=True)
        bare = await run_bare(env, n, rounds, cadence, concurrency)
    finally:
        await env.shutdown()
    ratio = {
        k: round(flipside["round_latency_ms"][k] / max(bare["round_latency_ms"][k], 0.1), 2) for k in ("p50", "p99")
    }
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pairings": n,
        "rounds": rounds,
        "cadence_s": cadence.total_seconds(),
        "concurrency": concurrency,
        "flipside": flipside,
        "bare_loop": bare,
        "round_latency_ratio": ratio,
    }


def write_results(figures: dict[str, Any]) -> Path:
    path = save_figures(f"lifecycle-{figures['pairings']}p-{figures['rounds']}r", figures)
    table = RESULTS / "lifecycle.md"
    if not table.exists():
        table.write_text(
            "# bench/lifecycle.py results\n\n"
            "Latencies in ms from sending an update to its result; round = check-ins and pulses.\n\n"
            "| measured | pairings | rounds | cadence s | wall s | updates | upd/s | peak upd/s | p50 | p99 "
            "| round p50 | round p99 | bare round p50 | bare round p99 | ratio p50 | ratio p99 |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
    f, b, r = figures["flipside"], figures["bare_loop"], figures["round_latency_ratio"]
    row = [
        figures["measured_at"],
        figures["pairings"],
        figures["rounds"],
        figures["cadence_s"],
        f["wall_s"],
        f["updates"],
        f["updates_per_s"],
        f["peak_updates_per_s"],
        f["latency_ms"]["p50"],
        f["latency_ms"]["p99"],
        f["round_latency_ms"]["p50"],
        f["round_latency_ms"]["p99"],
        b["round_latency_ms"]["p50"],
        b["round_latency_ms"]["p99"],
        r["p50"],
        r["p99"],
    ]
    with table.open("a") as out:
        out.write("| " + " | ".join(str(v) for v in row) + " |\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairings", type=int, default=200, help="pairings to run at once (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="check-in rounds per pairing (default 5)")
    parser.add_argument("--cadence", type=float, default=10.0, help="seconds per check-in round (default 10)")
    parser.add_argument("--concurrency", type=int, default=64, help="answers in flight at once (default 64)")
    args = parser.parse_args()
    if args.pairings < 1 or args.rounds < 1 or args.cadence <= 0 or args.concurrency < 1:
        parser.error("--pairings, --rounds, --cadence and --concurrency must be positive")
    configure_logging("console", level=logging.WARNING)  # a line per notice would drown the figures
    figures = asyncio.run(bench(args.pairings, args.rounds, timedelta(seconds=args.cadence), args.concurrency))
    path = write_results(figures)
    f, b = figures["flipside"], figures["bare_loop"]
    print(
        f"\nFlipside: {f['completed_pairings']}/{figures['pairings']} pairings completed in {f['wall_s']} s, "
        f"{f['updates']} updates, {f['updates_per_s']}/s (peak {f['peak_updates_per_s']}/s), "
        f"p50 {f['latency_ms']['p50']} ms, p99 {f['latency_ms']['p99']} ms"
    )
    print(
        f"Check-in rounds: Flipside p50 {f['round_latency_ms']['p50']} ms / p99 {f['round_latency_ms']['p99']} ms; "
        f"bare loop p50 {b['round_latency_ms']['p50']} ms / p99 {b['round_latency_ms']['p99']} ms "
        f"(ratio {figures['round_latency_ratio']['p50']} / {figures['round_latency_ratio']['p99']})"
    )
    print(f"Written to {path}")


if __name__ == "__main__":
    main()
