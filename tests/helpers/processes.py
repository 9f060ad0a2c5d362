"""Real processes for durability tests: a Temporal dev server on a SQLite file, and `python worker.py`.

Both run as subprocesses the test can stop, kill with SIGKILL and start again, on the same files and port, the
way an operator or a crash would. Their output goes to log files in the test's folder (read them on failure).
"""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from temporalio.client import Client

from bootstrap import connect
from settings import Settings
from tests.helpers import ROOT
from tests.helpers.ports import free_port, port_open
from tests.helpers.servers import binary
from workflows import search

CONFIG_PREFIXES = ("FLIPSIDE_", "TEMPORAL_", "SMTP_")
NOT_RELEASED = (
    ".venv",
    ".git",
    ".hypothesis",
    ".ci",
    ".flipside",
    "__pycache__",
    ".*_cache",
    "tests",
    "bench",
    "docs",
    "*.db",
    "*.log",
)
STARTUP_LIMIT = 60.0  # seconds; only stops a test whose server can never come up


class Process:
    """A subprocess with its output appended to one log file across restarts."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _spawn(self, command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        assert not self.running, f"{self.name} is already running"
        with self.log.open("ab") as out:
            out.write(f"\n===== {self.name} start {self.starts + 1} at {time.time():.3f} =====\n".encode())
            out.flush()
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def _wait_exit(self, limit: float) -> int:
        assert self.process is not None
        deadline = time.monotonic() + limit
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} (pid {self.pid}) did not exit within {limit} s")
            await asyncio.sleep(0.05)
        return self.process.returncode

    async def kill(self) -> int:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        if not self.running:
            return 0
        os.kill(self.pid, signal.SIGKILL)
        return await self._wait_exit(10)

    async def stop(self, limit: float = 30) -> int:
        """SIGTERM and wait: an orderly shutdown."""
        if not self.running:
            return 0
        os.kill(self.pid, signal.SIGTERM)
        return await self._wait_exit(limit)

    def ensure_dead(self) -> None:
        """Cleanup after a test, failed or not: this process only, by its own pid."""
        if self.running:
            os.kill(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(10)


class DevServer(Process):
    """`temporal server start-dev` keeping its history in a SQLite file, on a port fixed across restarts."""

    def __init__(self, folder: Path) -> None:
        super().__init__("temporal", folder / "temporal.log")
        self.db = folder / "temporal.db"
        self.port = free_port()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [binary("temporal"), "server", "start-dev", "--db-filename", str(self.db), "--ip", "127.0.0.1"]
        command += ["--port", str(self.port), "--headless", "--log-level", "warn"]
        for attribute in search.ALL:
            command += ["--search-attribute", f"{attribute.name}=Keyword"]
        return command

    async def start(self) -> None:
        self._spawn(self.command())
        deadline = time.monotonic() + STARTUP_LIMIT
        while not port_open(self.port):
            if not self.running:
                raise AssertionError(f"the dev server exited; see {self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the dev server did not open port {self.port}; see {self.log}")
            await asyncio.sleep(0.1)
        while True:  # the frontend answers, not only listens
            try:
                await Client.connect(self.address)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def release(folder: Path) -> Path:
    """A copy of the code as it is now: every restart of a worker runs this same release, as a deployment does.

    (Workers started from the working tree would pick up whatever was edited since the last start, and a change
    to workflow code mid-program is a nondeterminism error, not a crash to recover from.)
    """
    target = folder / "release"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*NOT_RELEASED))
    return target


class WorkerProcess(Process):
    """`python worker.py` from a release copy, configured through the environment exactly as in production."""

    def __init__(self, folder: Path, server: DevServer, task_queue: str, database_url: str) -> None:
        super().__init__("worker", folder / "worker.log")
        self.code = release(folder)
        self.data_dir = folder / "data"
        # Nothing inherited configures it, so the test's own client (built from `settings`) matches it exactly.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES) and k != "DATABASE_URL"}
        self.env = {
            **inherited,
            "TEMPORAL_ADDRESS": server.address,
            "TEMPORAL_TASK_QUEUE": task_queue,
            "FLIPSIDE_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": database_url,
            "FLIPSIDE_NOTIFY": "file",
            "FLIPSIDE_LOG_FORMAT": "json",
        }
        self.settings = Settings(
            temporal_address=server.address, task_queue=task_queue, data_dir=self.data_dir, database_url=database_url
        )

    @property
    def outbox(self) -> Path:
        return self.settings.outbox_path

    def start(self) -> None:
        self._spawn([sys.executable, "worker.py"], env=self.env, cwd=self.code)

    async def until_running(self, limit: float = STARTUP_LIMIT) -> None:
        """Until this start of the worker logs that it polls for tasks (start-up takes seconds on a busy machine)."""
        marker = f"===== {self.name} start {self.starts} at".encode()
        deadline = time.monotonic() + limit
        while b'"worker running"' not in self.log.read_bytes().rpartition(marker)[2]:
            if not self.running or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} start {self.starts} is not running after {limit} s: see {self.log}")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def deployed(
    folder: Path, task_queue: str = "durability"
) -> AsyncIterator[tuple[DevServer, WorkerProcess, Client]]:
    """A dev server on a SQLite file and a worker process with a SQLite record, both started, and a client of theirs
    (as `python worker.py` connects); neither process outlives the block."""
    server = DevServer(folder)
    worker = WorkerProcess(folder, server, task_queue, f"sqlite:///{folder / 'data' / 'flipside.db'}")
    with cleaned_up(worker, server):
        await server.start()
        worker.start()
        yield server, worker, await connect(worker.settings)


@contextmanager
def cleaned_up(*processes: Process) -> Iterator[None]:
    """Whatever happens in the test, none of its processes outlives it."""
    try:
        yield
    finally:
        for process in processes:
            process.ensure_dead()
