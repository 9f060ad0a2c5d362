"""Garbage-collector figures for every Python process started with this folder on PYTHONPATH (bench only).

    PYTHONPATH=bench/collector:. BENCH_COLLECTOR=700,10,10 BENCH_GC_STATS=/tmp/gc \\
        .venv/bin/python -m bench.large_program --pairs 5000

- `BENCH_COLLECTOR=a,b,c`: the thresholds a process gets whatever it sets itself (`worker.COLLECTOR_THRESHOLDS`
  included), to compare settings on the same code.
- `BENCH_GC_STATS=DIR`: each process writes `DIR/<pid>.json` every few seconds: full collections, their total and
  longest pause, the young ones' total and longest, objects collected, and its command line.
- `BENCH_GC_CENSUS=DIR`: the collector keeps what it finds unreachable instead of freeing it, and each process writes
  `DIR/<pid>-census.json` after every full collection: that garbage counted by type, and which modules and classes
  were made again and dropped. Memory only grows with it on: a run of a few hundred pairings is enough.

Python imports `sitecustomize` at start from the first folder on its path that has one; nothing else imports it.
"""

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_THRESHOLDS = os.environ.get("BENCH_COLLECTOR")
_STATS = os.environ.get("BENCH_GC_STATS")

if _THRESHOLDS:
    _set_threshold = gc.set_threshold
    _wanted = tuple(int(n) for n in _THRESHOLDS.split(","))

    def _keep_wanted(*_ignored: int) -> None:
        _set_threshold(*_wanted)

    _set_threshold(*_wanted)
    gc.set_threshold = _keep_wanted

if _STATS:
    _out = Path(_STATS) / f"{os.getpid()}.json"
    _figures: dict[str, Any] = {
        "command": " ".join(sys.argv)[:120],
        "thresholds": list(gc.get_threshold()),
        "full": 0,
        "full_s": 0.0,
        "longest_full_s": 0.0,
        "young_s": 0.0,
        "longest_young_s": 0.0,
        "collected": 0,
    }
    _started, _written = [0.0], [0.0]

    def _timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        took = time.perf_counter() - _started[0]
        kind = "full" if info["generation"] == 2 else "young"
        _figures["full"] += kind == "full"
        _figures[f"{kind}_s"] += took
        _figures[f"longest_{kind}_s"] = max(_figures[f"longest_{kind}_s"], took)
        _figures["collected"] += info.get("collected", 0)
        if time.monotonic() - _written[0] > 2:
            _written[0] = time.monotonic()
            _figures["thresholds"] = list(gc.get_threshold())
            _out.parent.mkdir(parents=True, exist_ok=True)
            _out.write_text(json.dumps(_figures))

    gc.callbacks.append(_timed)

_CENSUS = os.environ.get("BENCH_GC_CENSUS")

if _CENSUS:
    # Every object the collector finds unreachable is kept in gc.garbage instead of freed, so what the cycles are
    # made of can be counted: `DIR/<pid>-census.json`, by type, written after each full collection. A short run only.
    gc.set_debug(gc.DEBUG_SAVEALL)
    _census_out = Path(_CENSUS) / f"{os.getpid()}-census.json"

    def _census(phase: str, info: dict[str, int]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        counts: dict[str, list[int]] = {}
        for thing in gc.garbage:
            kind = type(thing)
            key = f"{kind.__module__}.{kind.__qualname__}"
            entry = counts.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += sys.getsizeof(thing)
        named: dict[str, int] = {}  # which modules and classes were made again and dropped
        for thing in gc.garbage:
            if isinstance(thing, type) or type(thing).__name__ == "module":
                name = f"{type(thing).__name__} {getattr(thing, '__module__', '')}.{getattr(thing, '__name__', '?')}"
                named[name] = named.get(name, 0) + 1
        ranked = sorted(counts.items(), key=lambda item: -item[1][1])
        _census_out.parent.mkdir(parents=True, exist_ok=True)
        _census_out.write_text(
            json.dumps(
                {
                    "command": " ".join(sys.argv)[:120],
                    "objects": len(gc.garbage),
                    "bytes": sum(entry[1] for _, entry in ranked),
                    "by_type": [[key, n, size] for key, (n, size) in ranked[:60]],
                    "modules_and_classes": sorted(named.items(), key=lambda item: -item[1])[:60],
                },
                indent=1,
            )
        )

    gc.callbacks.append(_census)
