"""Garbage-collector figures for every Python process started with this folder on PYTHONPATH (bench only).

    PYTHONPATH=bench/collector:. BENCH_COLLECTOR=700,10,10 BENCH_GC_STATS=/tmp/gc \\
        .venv/bin/python -m bench.large_program --pairs 5000

- `BENCH_COLLECTOR=a,b,c`: the thresholds a process gets whatever it sets itself (`worker.COLLECTOR_THRESHOLDS`
  included), to compare settings on the same code.
- `BENCH_GC_STATS=DIR`: each process writes `DIR/<pid>.json` every few seconds: full collections, their total and
  longest pause, the young ones' total and longest, objects collected, and its command line.

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
