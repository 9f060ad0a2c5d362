"""Where the suite's CPU goes: a pytest plugin that charges each test with the CPU its process and every process
below it used while it ran (servers, workers, CLI runs, browsers), read from /proc (Linux only).

    .venv/bin/python -m pytest -n 4 --maxschedchunk 1 -p bench.suite_cpu

Each test process writes its rows to bench/results/suite-cpu/<pid>.json; at the end the controlling process
writes bench/results/suite-cpu.md, the 25 costliest tests and the total. Wall time alone hides what a test
costs the others when tests share two cores: a test that waits a minute on a timer costs them little, one that
spends a minute of CPU costs them half a minute each. (A shared dev server's CPU is charged to whichever test
of its process was running.)
"""

import json
import os
import time
from collections.abc import Generator
from pathlib import Path

import pytest

RESULTS = Path(__file__).parent / "results"
ROWS = RESULTS / "suite-cpu"
TICK = os.sysconf("SC_CLK_TCK")
SHOWN = 25


def _stat(pid: str) -> tuple[int, list[int]]:
    """(parent pid, [utime, stime, cutime, cstime]) in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), [int(x) for x in fields[11:15]]


def process_tree_cpu(root: int) -> float:
    """CPU seconds of `root` (with its reaped children) and of every live process below it."""
    stats: dict[int, tuple[int, list[int]]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stats[int(name)] = _stat(name)
            except OSError:  # gone while we looked
                continue
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    ticks, below = sum(stats[root][1]), list(children.get(root, []))
    while below:
        pid = below.pop()
        ticks += sum(stats[pid][1][:2])
        below += children.get(pid, [])
    return ticks / TICK


_rows: list[dict[str, object]] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    cpu, wall = process_tree_cpu(os.getpid()), time.monotonic()
    yield
    _rows.append(
        {
            "test": item.nodeid,
            "cpu_s": round(process_tree_cpu(os.getpid()) - cpu, 1),
            "wall_s": round(time.monotonic() - wall, 1),
        }
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a test process: its rows, for the controller to add up
        ROWS.mkdir(parents=True, exist_ok=True)
        (ROWS / f"{os.getpid()}.json").write_text(json.dumps(_rows))
        return
    rows = list(_rows)
    for path in ROWS.glob("*.json") if ROWS.exists() else []:
        rows += json.loads(path.read_text())
        path.unlink()
    if ROWS.exists():
        ROWS.rmdir()
    if rows:
        write_summary(rows)


def write_summary(rows: list[dict[str, object]]) -> None:
    rows.sort(key=lambda r: -float(str(r["cpu_s"])))
    total = sum(float(str(r["cpu_s"])) for r in rows)
    lines = [
        f"# Suite CPU ({time.strftime('%Y-%m-%d %H:%M')}, {len(rows)} tests, {total:.0f} CPU-s charged)",
        "",
        "| CPU-s | wall s | test |",
        "|---:|---:|---|",
        *(f"| {r['cpu_s']} | {r['wall_s']} | {r['test']} |" for r in rows[:SHOWN]),
    ]
    (RESULTS / "suite-cpu.md").write_text("\n".join(lines) + "\n")
