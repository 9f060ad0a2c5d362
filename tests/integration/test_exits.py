"""Every entry point ends with its real status, every time: 0 after success, 2 for a mistake the person can fix,
1 when Temporal or the record cannot be reached, each with one line and never a traceback.

Real processes, as a script or an operator runs them. (About 2 runs in 10 of a command that used a Temporal
client used to end with "Fatal Python error: PyGILState_Release" and status 134 after doing its work.)
"""

import asyncio
import os
import re
import signal
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.helpers import ROOT
from tests.helpers.ports import free_port
from tests.helpers.processes import CONFIG_PREFIXES
from tests.helpers.programs import DEMO, DEMO_COORDINATOR, demo_spec, settings_for, worker_for

TIMES = 20
FEW = 3  # for commands added since: they share the code the 20 runs of the others proved; the test's CPU is the limit
AT_ONCE = 2  # processes at a time: each is a second of CPU, and other tests run beside this one
CLOSED = "127.0.0.1:9"  # nothing listens here
NOBODY_LISTENS = "postgresql+psycopg://nobody@127.0.0.1:9/none"
STARTED_LIMIT = 60.0  # seconds for a server process to come up; only stops a test that can never get there


@dataclass
class Exit:
    args: tuple[str, ...]
    status: int
    out: str
    err: str

    @property
    def said(self) -> str:
        """What the process said at the end: its output after success, else its error (from its "error: " line
        on: a bad file's problems are listed under it, one a line)."""
        if self.status == 0:
            return self.out
        start = self.err.rfind("error: ")
        return self.err[start:] if start >= 0 else ""

    def problem(self) -> str | None:
        """What is wrong with how the process ended, beside its status; None if nothing. (A server's log lines
        may come before its error; the error comes last, once.)"""
        if "Traceback" in self.err or "Fatal Python error" in self.err:
            return f"{self.args}: {self.err[-600:]}"
        if self.status != 0 and (self.err.count("error: ") != 1 or not self.said):
            return f"{self.args}: no single error at the end: {self.err[-600:]}"
        return None


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any Flipside or Temporal setting, then `settings`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES) and k != "DATABASE_URL"}
    return {**kept, "FLIPSIDE_LOG_FORMAT": "json", **settings}


def environment_of(settings: Settings) -> dict[str, str]:
    return clean_environment(
        TEMPORAL_ADDRESS=settings.temporal_address,
        TEMPORAL_TASK_QUEUE=settings.task_queue,
        FLIPSIDE_DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.database_url,
    )


async def run(environment: dict[str, str], *args: str) -> Exit:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await process.communicate()
    finally:
        ended(process)
    assert process.returncode is not None
    return Exit(args, process.returncode, out.decode(), err.decode())


def ended(process: asyncio.subprocess.Process) -> None:
    """A process of a test that failed or ran out of time never outlives it."""
    if process.returncode is None:
        process.kill()


async def cli_runs(environment: dict[str, str], commands: Iterable[tuple[str, ...]]) -> list[Exit]:
    """`python starter.py COMMAND` for each command, AT_ONCE at a time."""
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(command: tuple[str, ...]) -> Exit:
        async with slots:
            return await run(environment, sys.executable, "starter.py", *command)

    return await asyncio.gather(*(one(command) for command in commands))


def assert_exits(exits: list[Exit], status: int, says: str = "") -> None:
    problems = [p for p in (e.problem() for e in exits) if p]
    assert problems == [], problems[:3]
    wrong = [(e.args, e.status, e.err[-300:]) for e in exits if e.status != status]
    assert wrong == [], wrong[:3]
    assert all(says in e.said for e in exits), [e.said for e in exits][:3]


# 270 interpreters, each a second of CPU: about 310 s alone on 2 cores, 560 s beside a benchmark, 778 s in the suite
# alone on a slow day (2026-12-06; 1,005 s when the newer commands ran 20 times each). The limit only stops a run
# that can never finish.
@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_every_command_exits_with_its_real_status_every_time(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = settings_for(dev_env, tmp_path)
    environment = environment_of(settings)
    tag = uuid.uuid4().hex[:6]
    specs = [demo_spec(tmp_path / f"program-{n}.toml", f"exits-{tag}-{n}") for n in range(TIMES)]
    programs = [f"program-exits-{tag}-{n}" for n in range(TIMES)]
    person, coordinator = "ana.lopez@flipside.example", ("--coordinator", DEMO_COORDINATOR)
    roster = str(DEMO / "roster.csv")

    async with worker_for(settings):
        assert_exits(await cli_runs(environment, [("start", str(s), roster) for s in specs]), 0, "started program-")
        steps: list[tuple[str, list[tuple[str, ...]], int, str]] = [
            ("status", [("status", p) for p in programs], 0, "recruitment"),
            ("prompts", [("prompts", p, person) for p in programs], 0, "opt-in [opt_in]"),
            (
                "respond",
                [("respond", p, person, "opt-in", "--answer", '{"consent_to_ground_rules": true}') for p in programs],
                0,
                "Welcome aboard",
            ),
            ("nudge", [("nudge", p, *coordinator) for p in programs[:FEW]], 0, "Reminded"),
            ("pause", [("pause", p, *coordinator) for p in programs], 0, "Paused"),
            ("resume", [("resume", p, *coordinator) for p in programs], 0, "Resumed"),
            ("close-recruitment", [("close-recruitment", p, *coordinator) for p in programs], 0, "Recruitment closed"),
            ("approve", [("approve", p, *coordinator) for p in programs], 2, "error: refused"),  # nothing proposed yet
            ("add-participant", [("add-participant", p, roster, *coordinator) for p in programs[:FEW]], 2, "not added"),
            ("rematch", [("rematch", p, "pairing-none", *coordinator) for p in programs[:FEW]], 2, "no pairing"),
            ("schema", [("schema",)] * TIMES, 0, '"title": "ProgramSpec"'),
            ("programs", [("programs",)] * TIMES, 0, programs[0]),
            ("report", [("report", p, "--out", str(tmp_path / "reports" / p)) for p in programs], 0, "report: file://"),
            ("rebuild", [("rebuild",)] * TIMES, 0, "read model rebuilt from"),
            (
                "cancel",
                [("cancel", p, *coordinator, "--reason", "the test is over") for p in programs],
                0,
                "Cancelling",
            ),
        ]
        for name, commands, status, says in steps:
            assert len(commands) in (TIMES, FEW), name
            assert_exits(await cli_runs(environment, commands), status, says)

    # A mistake of the person's: 2. Temporal or the record away: 1. One line each, every time.
    assert_exits(await cli_runs(environment, [("status", "program-nobody-started")] * 3), 2, "no such program")
    assert_exits(await cli_runs(environment, [("start", str(specs[0]), "missing.csv")] * 3), 2, "cannot read")
    away = {**environment, "TEMPORAL_ADDRESS": CLOSED}
    assert_exits(await cli_runs(away, [("status", programs[0])] * 3), 1, f"cannot reach Temporal at {CLOSED}")
    assert_exits(await cli_runs(away, [("start", str(specs[0]), roster)] * 3), 1, f"cannot reach Temporal at {CLOSED}")
    no_record = {**environment, "DATABASE_URL": NOBODY_LISTENS}
    assert_exits(await cli_runs(no_record, [("programs",)] * 3), 1, "cannot reach the program record at")


async def started(process: asyncio.subprocess.Process, port: int) -> None:
    """Until the process listens on `port`; fails if it exits first."""
    deadline = asyncio.get_running_loop().time() + STARTED_LIMIT
    while True:
        assert process.returncode is None, f"exited with {process.returncode} before listening"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            assert asyncio.get_running_loop().time() < deadline, f"nothing listened on {port}"
            await asyncio.sleep(0.1)


async def stopped_by_sigterm(environment: dict[str, str], args: tuple[str, ...], ready: str | int) -> Exit:
    """Start a long-running process, wait until it is ready (a port it listens on, or a line in its log), then
    stop it as `docker stop` or `make stop` does."""
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        if isinstance(ready, int):
            await started(process, ready)
        else:
            async with asyncio.timeout(STARTED_LIMIT):
                while ready not in (await process.stderr.readline()).decode():
                    assert process.returncode is None
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), STARTED_LIMIT)
    finally:
        ended(process)
    assert process.returncode is not None
    return Exit(args, process.returncode, out.decode(), err.decode())


@pytest.mark.slow
async def test_the_worker_portal_codec_server_and_demo_end_with_their_real_status(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = settings_for(dev_env, tmp_path)
    base = environment_of(settings)
    portal_port, codec_port = free_port(), free_port()
    portal = {**base, "FLIPSIDE_PORTAL_URL": f"http://127.0.0.1:{portal_port}"}
    codec = {**base, "FLIPSIDE_CODEC_PORT": str(codec_port)}
    python = sys.executable

    # Stopped with SIGTERM after starting well: 0
    worker = await stopped_by_sigterm(base, (python, "worker.py"), "worker running")
    assert (worker.status, worker.problem()) == (0, None) and "worker stopped" in worker.err
    served = await stopped_by_sigterm(portal, (python, "-m", "portal"), portal_port)
    assert (served.status, served.problem()) == (0, None)
    decoding = await stopped_by_sigterm(codec, (python, "codec_server.py"), codec_port)
    assert (decoding.status, decoding.problem()) == (0, None)

    # Temporal away: 1, in one line
    away = {**portal, "TEMPORAL_ADDRESS": CLOSED}
    for args in [(python, "worker.py"), (python, "-m", "portal"), (python, "-m", "demo.run")]:
        assert_exits([await run(away, *args)], 1, f"cannot reach Temporal at {CLOSED}")
    # The record away: 1
    for args in [(python, "worker.py"), (python, "-m", "portal")]:
        assert_exits(
            [await run({**portal, "DATABASE_URL": NOBODY_LISTENS}, *args)], 1, "cannot reach the program record"
        )
    # A setting that cannot be right: 2, naming it
    assert_exits([await run({**base, "SMTP_PORT": "abc"}, python, "worker.py")], 2, "SMTP_PORT must be a whole number")
    assert_exits(
        [await run({**base, "FLIPSIDE_NOTIFY": "emial"}, python, "-m", "portal")], 2, "FLIPSIDE_NOTIFY must be"
    )
    short_token = {**codec, "FLIPSIDE_CODEC_TOKEN": "short"}
    assert_exits([await run(short_token, python, "codec_server.py")], 2, "FLIPSIDE_CODEC_TOKEN is too short")


ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.mark.slow
@pytest.mark.timeout(900)  # two demos of about a minute and a half each, in real time
async def test_make_run_twice_in_one_clone_ends_well_both_times(tmp_path: Path) -> None:
    """The two commands of the README, the first one twice in a row, on ports and a data folder of the test's own
    (a person's own `make run` on the default ports is left alone)."""
    ports = {name: str(free_port()) for name in ("TEMPORAL_PORT", "UI_PORT", "PORTAL_PORT", "CODEC_PORT")}
    options = [f"DATA={tmp_path / 'run'}", *(f"{name}={port}" for name, port in ports.items())]
    environment = clean_environment()
    try:
        for attempt in (1, 2):
            ran = await run(environment, "make", "--no-print-directory", "run", *options)
            assert ran.status == 0, f"make run #{attempt} ended {ran.status}: {ran.err[-1500:]}"
            assert "Fatal Python error" not in ran.err and "Traceback" not in ran.err
            assert "completed" in ran.out and "all business goals met" in ran.out, ran.out[-1500:]
    finally:
        stopped = await run(environment, "make", "--no-print-directory", "stop", *options)
    assert stopped.status == 0 and "stopped" in stopped.out
    # A whole demo program's logs, worker, portal and codec server: programs and pairings by id, nobody by address.
    logs = {name: (tmp_path / "run" / f"{name}.log").read_text() for name in ("worker", "portal", "codec")}
    assert "notice out" in logs["worker"]
    assert {name: ADDRESS.findall(text)[:3] for name, text in logs.items()} == {name: [] for name in logs}
    # The data folder holds live sign-in links (the outbox), the record and the logs: its owner's alone.
    data = tmp_path / "run"
    shared = [str(p.relative_to(tmp_path)) for p in [data, *data.rglob("*")] if p.stat().st_mode & 0o077]
    assert shared == []
    assert {"outbox.jsonl", "flipside.db", "worker.log"} <= {p.name for p in data.iterdir()}


@pytest.mark.slow
async def test_temporal_lost_part_way_ends_with_one_line_and_status_1() -> None:
    """A question Temporal stops answering mid-run (a query timing out on a busy machine once failed the demo
    with a traceback): one line, status 1."""
    lost = (
        "from temporalio.service import RPCError, RPCStatusCode\n"
        "from settings import exit_with\n"
        "def main() -> None:\n"
        "    raise RPCError('Timeout expired', RPCStatusCode.CANCELLED, b'')\n"
        "exit_with(main)\n"
    )
    ended = await run(clean_environment(), sys.executable, "-c", lost)
    assert (ended.status, ended.problem()) == (1, None)
    assert ended.err.strip() == "error: lost Temporal: Timeout expired"
