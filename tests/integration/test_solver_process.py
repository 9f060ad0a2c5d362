"""The solver process ends with its worker: a worker killed (or ended by exit_with, which skips teardown) must not
leave a solver behind, holding its memory, for ever (activities/matching.py)."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.helpers.waiting import eventually

# A worker's part, alone: start the solver pool, say the solver's pid, then wait to be killed.
WORKER = """
import os, time
from activities.matching import solver_pool
print(solver_pool().submit(os.getpid).result(), flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, waiting for its new parent to reap it, has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
async def test_a_killed_worker_leaves_no_solver_process_behind() -> None:
    root = Path(__file__).resolve().parents[2]
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, cwd=root, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert worker.stdout is not None
        solver = int((await asyncio.wait_for(worker.stdout.readline(), 60)).decode())
        assert solver != worker.pid and _running(solver)
        os.kill(worker.pid, signal.SIGKILL)
        await worker.wait()
        await eventually(lambda: not _running(solver), "the solver process ending with its worker", every=0.1)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
