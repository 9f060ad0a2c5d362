"""How long each workflow activation holds its thread: a pytest plugin for finding the steps that come near the
SDK's 2-second deadlock limit on a loaded machine.

    .venv/bin/pytest -p bench.activation_times tests/integration/test_long_programs.py -k two_thousand

writes the slowest activations (thread CPU and wall time, the workflow, the kinds of job and the line the
workflow was on when it yielded) to bench/results/activation-times.md. CPU time is the figure to compare: it
does not grow with the machine's load, and the deadlock limit is wall time, which does.
"""

import cProfile
import gc
import io
import os
import pstats
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.worker import _workflow, _workflow_instance

from bench.output import RESULTS

KEEP = 40


@dataclass(frozen=True)
class Activation:
    cpu: float
    wall: float
    workflow: str
    jobs: str
    replaying: bool


_seen: list[Activation] = []
_totals: dict[tuple[str, bool], list[float]] = {}  # (workflow type, replaying) -> [activations, CPU s]
# FLIPSIDE_PROFILE=ProgramWorkflow profiles every activation of that workflow type into one table.
_profiled = os.environ.get("FLIPSIDE_PROFILE", "")
_collections: dict[int, list[float]] = {0: [], 1: [], 2: []}  # the garbage collector's pauses, by generation
_collecting: list[float] = []


def _on_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collecting[:] = [time.perf_counter()]
    elif _collecting:
        _collections[info["generation"]].append(time.perf_counter() - _collecting[0])


_profiles: list[tuple[float, str, str]] = []  # (CPU s, what ran, its profile): the slowest few
_original = _workflow_instance._WorkflowInstanceImpl.activate
_original_evict = _workflow._WorkflowWorker._handle_cache_eviction
_evictions: dict[str, int] = {}  # why the worker dropped a run from its cache (each drop costs a replay)


def _keep_profile(profile: cProfile.Profile, cpu: float, jobs: str, replaying: bool) -> None:
    if len(_profiles) >= 8 and cpu <= _profiles[-1][0]:
        return
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(45)
    _profiles.append((cpu, f"{jobs} (replaying: {replaying})", text.getvalue()))
    _profiles.sort(key=lambda p: -p[0])
    del _profiles[8:]


def _job_kinds(act: Any) -> str:
    kinds: dict[str, int] = {}
    for job in act.jobs:
        kind = job.WhichOneof("variant") or "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{k}×{n}" if n > 1 else k for k, n in sorted(kinds.items()))


def _timed(self: Any, act: Any) -> Any:
    cpu, wall = time.thread_time(), time.perf_counter()
    profiling = self._info.workflow_type == _profiled
    profile = cProfile.Profile()
    if profiling:
        profile.enable()
    try:
        return _original(self, act)
    finally:
        if profiling:
            profile.disable()
            _keep_profile(profile, time.thread_time() - cpu, _job_kinds(act), act.is_replaying)
        spent = Activation(
            cpu=time.thread_time() - cpu,
            wall=time.perf_counter() - wall,
            workflow=f"{self._info.workflow_type} {self._info.workflow_id}",
            jobs=_job_kinds(act),
            replaying=act.is_replaying,
        )
        _seen.append(spent)
        total = _totals.setdefault((self._info.workflow_type, act.is_replaying), [0, 0.0])
        total[0] += 1
        total[1] += spent.cpu
        if len(_seen) > 20 * KEEP:
            _seen.sort(key=lambda a: a.cpu, reverse=True)
            del _seen[KEEP:]


async def _evict(self: Any, act: Any, job: Any) -> None:
    reason = f"{job.reason} {job.message[:120]}"
    _evictions[reason] = _evictions.get(reason, 0) + 1
    await _original_evict(self, act, job)


def pytest_configure(config: pytest.Config) -> None:
    _workflow_instance._WorkflowInstanceImpl.activate = _timed  # type: ignore[method-assign]
    _workflow._WorkflowWorker._handle_cache_eviction = _evict  # type: ignore[method-assign]
    gc.callbacks.append(_on_collection)


def _rows() -> Iterator[str]:
    yield "| workflow type | replaying | activations | CPU s |"
    yield "|---|---|---:|---:|"
    for (kind, replaying), (count, cpu) in sorted(_totals.items()):
        yield f"| {kind} | {replaying} | {count:.0f} | {cpu:.1f} |"
    yield ""
    yield "| GC generation | collections | total s | longest s |"
    yield "|---:|---:|---:|---:|"
    for generation, pauses in _collections.items():
        yield f"| {generation} | {len(pauses)} | {sum(pauses):.2f} | {max(pauses, default=0):.3f} |"
    yield ""
    yield "| evictions | reason |"
    yield "|---:|---|"
    for reason, count in sorted(_evictions.items(), key=lambda e: -e[1]):
        yield f"| {count} | {reason} |"
    yield ""
    yield "| CPU s | wall s | workflow | jobs | replaying |"
    yield "|---:|---:|---|---|---|"
    for a in sorted(_seen, key=lambda a: a.cpu, reverse=True)[:KEEP]:
        yield f"| {a.cpu:.3f} | {a.wall:.3f} | {a.workflow} | {a.jobs} | {a.replaying} |"


def pytest_unconfigure(config: pytest.Config) -> None:
    _workflow_instance._WorkflowInstanceImpl.activate = _original  # type: ignore[method-assign]
    _workflow._WorkflowWorker._handle_cache_eviction = _original_evict  # type: ignore[method-assign]
    RESULTS.mkdir(exist_ok=True)
    header = f"# Slowest workflow activations\n\n`pytest -p bench.activation_times {' '.join(config.args)}`\n\n"
    (RESULTS / "activation-times.md").write_text(header + "\n".join(_rows()) + "\n")
    if _profiled:
        with (RESULTS / "activation-profile.txt").open("w") as out:
            for cpu, what, text in _profiles:
                out.write(f"=== {cpu:.3f} s CPU (profiled): {what}\n{text}\n")
