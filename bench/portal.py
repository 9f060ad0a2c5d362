"""How the portal holds up: N participants answering a whole program through it, at once, on loopback.

    python -m bench.portal --participants 200

A local Temporal dev server (headless, free ports, the search attributes), a worker (`worker.py`) and the portal
(`python -m portal`) run as processes of their own, wired as in production (encrypted payloads, the SQLite
record) except that notices go to the outbox file, whose lines carry the sign-in link an email would. One
program of N people (N/2 pairs, auto-approved, no training) runs in real time with a short check-in cadence.
Each participant is an httpx client of its own: it waits for its first message, signs in with its link
(GET the Continue page, POST it), and from then on, on every prompt message, loads My prompts and answers every
form there (opt-in, match, plan, check-ins, pulse, surveys) as a browser would post it. Every request is timed
from send to response: the answer round trip (POST to the portal's reply, which includes the workflow update),
the page load of My prompts, and sign-in. Figures go to bench/results/portal.json and bench/results/portal.md.
"""

import argparse
import asyncio
import html
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, func, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from adapters.store import tables
from adapters.store.prompts import CATCH_UP_LIMIT, CATCH_UP_POLL, PromptShelf
from adapters.store.sql import SqlEventStore, make_engine
from bench.output import RESULTS, latency_ms, save_figures
from bootstrap import connect, sealer
from domain.answers import CoordinatorAction
from domain.people import Participant, Role
from domain.program import ProgramResult
from domain.prompts import PendingPrompt
from domain.spec import ProgramSpec
from flipside_client import Refused, build_answer, send_answer
from portal.forms import PromptCard, answer_fields, form_values
from settings import Settings
from starter import start_program
from workflows import search

ROOT = Path(__file__).resolve().parents[1]
COORDINATOR = "coach@bench.example"
SECRET = "bench-portal-signing-key"
SKILLS = ["ai tools", "data dashboards", "social media", "collaboration apps", "video editing"]
FORM = re.compile(r'<form method="post" action="(/prompts/[^/"]+/([^"]+))"[^>]*>(.*?)</form>', re.DOTALL)
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
ASKING = {"prompt", "reminder"}  # the messages a person answers; information needs no visit
BARE_EVERY = 10  # one participant in ten answers through the gateway without the portal: the bare update
RETRIES, RETRY_PAUSE_S = 20, 3.0  # a person meeting a server error tries again a few seconds later
EMPTY_LOOKS = 5  # after a message, a person who finds nothing to answer looks again a few times, as people reload


# What was measured
@dataclass
class Timings:
    """Seconds per request by what it was, when each finished, and the status of each answer by prompt kind."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    finished_at: list[float] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    bare_answers: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    async def timed(self, what: str, call: Awaitable[httpx.Response]) -> httpx.Response | None:
        """The response, timed; None when the connection failed (counted, and tried again like a server error)."""
        start = time.perf_counter()
        try:
            response = await call
        except httpx.TransportError as error:
            self.statuses[f"{what} {type(error).__name__}"] += 1
            return None
        end = time.perf_counter()
        self.seconds[what].append(end - start)
        self.finished_at.append(end)
        return response

    def report(self) -> dict[str, Any]:
        every = [v for what, values in self.seconds.items() if what != "bare_answer" for v in values]
        wall = max(self.finished_at) - min(self.finished_at) if len(self.finished_at) > 1 else 0.0
        per_second = Counter(int(t) for t in self.finished_at)
        answers = self.seconds.get("answer", [])
        return {
            "requests": len(every),
            "active_s": round(wall, 1),
            "requests_per_s": round(len(every) / wall, 1) if wall else 0.0,
            "peak_requests_per_s": max(per_second.values(), default=0),
            "answers": len(answers),
            "answers_per_s": round(len(answers) / wall, 1) if wall else 0.0,
            "answer_ms": latency_ms(answers),
            "my_prompts_ms": latency_ms(self.seconds.get("my_prompts", [])),
            "signin_page_ms": latency_ms(self.seconds.get("signin_page", [])),
            "signin_ms": latency_ms(self.seconds.get("signin", [])),
            "prompt_page_ms": latency_ms(self.seconds.get("prompt_page", [])),
            "answer_by_kind": {kind: {"n": len(v), **latency_ms(v)} for kind, v in sorted(self.answers.items())},
            "bare_answer_ms": latency_ms(self.seconds.get("bare_answer", [])),
            "bare_answers": len(self.seconds.get("bare_answer", [])),
            "bare_by_kind": {kind: {"n": len(v), **latency_ms(v)} for kind, v in sorted(self.bare_answers.items())},
            "statuses": dict(sorted(self.statuses.items())),
            "forms_left_to_the_partner": dict(self.skipped),
            "refusals": dict(self.refusals.most_common()),
        }


# A participant, as their browser would behave
def kind_of(prompt_id: str) -> str:
    """ "check-in-3" -> "check-in"; "accept-match" stays."""
    return re.sub(r"-\d+$", "", prompt_id)


def answer_form(kind: str, form: str, mentor: bool) -> dict[str, str] | None:
    """The fields a participant posts for one prompt's form (names as portal/app.py documents them); None when
    they leave it: the mentee proposes the plan and the mentor agrees it, so the two never race."""
    if kind == "opt-in":
        return {"consent_to_ground_rules": "yes"}
    if kind == "accept-match":
        return {"accept": "yes", "reason": ""}
    if kind == "plan":
        if mentor:
            return None
        return {
            "goals": "Use AI tools in my weekly report\nBuild a dashboard",
            "skills": "ai tools, data dashboards",
            "meeting_every": "",
            "channel": "video",
            "accept_ground_rules": "yes",
        }
    if kind == "agree-plan":
        return {"accept_ground_rules": "yes"}
    if kind == "check-in":
        return {"met": "yes", "progress": "4", "recap": "We practised together."}
    if kind == "pulse":
        return {"safe_and_useful": "5", "comment": ""}
    if kind == "midpoint-survey":
        return {"satisfaction": "4", "usefulness": "4", "comment": ""}
    if kind == "closeout-survey":
        skills = sorted(set(re.findall(r'name="before_(\d+)"', form)))
        ratings = {f"{side}_{n}": value for n in skills for side, value in (("before", "2"), ("after", "4"))}
        return {"satisfaction": "4", "would_recommend": "yes", "comment": "", **ratings}
    raise ValueError(f"the bench does not answer {kind} prompts")


def refusal_of(page: str) -> str:
    """What a refused answer's page says is wrong (its error summary), with the cycle numbers taken out."""
    found = re.search(r'class="error-summary".*?<ul>(.*?)</ul>', page, re.DOTALL)
    words = html.unescape(re.sub(r"<[^>]+>", " ", found[1])) if found else "no error summary"
    return re.sub(r"\d+", "N", re.sub(r"\S+@\S+", "PERSON", " ".join(words.split())))


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    if found is None:
        raise ValueError(f"no hidden field {name} in the page")
    return html.unescape(found.group(1))


class Person:
    """One participant's browser: its own cookies (the session), reading its own messages."""

    def __init__(self, email: str, portal_url: str, timings: Timings) -> None:
        self.email = email
        self.mentor = email.startswith("mentor")
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, as browsers do, so a request never
        # goes out on a connection the server is closing.
        self.http = httpx.AsyncClient(base_url=portal_url, timeout=120, limits=httpx.Limits(keepalive_expiry=2))
        self.timings = timings
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.failures_in_a_row = 0
        self.empty_looks = 0
        self.landing: str | None = None  # where signing in sent the person: the prompt its link was about

    async def take_part(self) -> None:
        """Sign in with the first message's link, then answer what waits on every prompt message. A server error
        is what a person would meet: they wait a moment and open My prompts again."""
        first = await self.inbox.get()
        await self.sign_in(str(first["link"]))
        while True:
            seen = await self.answer_what_waits()
            if seen is not None:
                self.failures_in_a_row = 0
                if seen == 0 and self.empty_looks < EMPTY_LOOKS:  # the message outran the record: look again soon
                    self.empty_looks += 1
                    await asyncio.sleep(RETRY_PAUSE_S * random.uniform(0.5, 1.5))
                    continue
                self.empty_looks = 0
                await self.next_prompt_message()
            else:
                self.failures_in_a_row += 1
                if self.failures_in_a_row > RETRIES:
                    raise RuntimeError(f"{self.email}: the portal failed {RETRIES} times in a row")
                await asyncio.sleep(RETRY_PAUSE_S * random.uniform(0.5, 1.5))

    async def sign_in(self, link: str) -> None:
        parts = urlsplit(link)
        page = await self.timings.timed("signin_page", self.http.get(f"{parts.path}?{parts.query}"))
        if page is None or not self.check(page, 200, "sign-in page"):
            raise RuntimeError(f"{self.email}: the sign-in page failed")
        data = {"token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token")}
        response = await self.timings.timed("signin", self.http.post("/signin", data=data))
        if response is None or not self.check(response, 303, "sign-in"):
            raise RuntimeError(f"{self.email}: signing in failed")
        self.landing = response.headers["location"]

    async def answer_what_waits(self) -> int | None:
        """Load the page signing in landed on (as a browser follows the redirect), or else My prompts, and answer
        every form on it: how many forms it held; None when the portal failed on any of it."""
        url, what, self.landing = self.landing or "/", "prompt_page" if self.landing else "my_prompts", None
        page = await self.timings.timed(what, self.http.get(url))
        if page is None or not self.check(page, 200, what, also=(404,)):  # 404: the prompt is not shown yet
            return None
        forms = list(FORM.finditer(page.text))
        answered = [await self.answer(m[1], m[2], m[3]) for m in forms]
        return len(forms) if all(answered) else None

    async def answer(self, action: str, prompt_id: str, form: str) -> bool:
        kind = kind_of(prompt_id)
        fields = answer_form(kind, form, self.mentor)
        if fields is None:
            self.timings.skipped[kind] += 1
            return True
        found = CSRF.search(form)
        assert found is not None, f"no CSRF token in the {kind} form"
        start = time.perf_counter()
        response = await self.timings.timed("answer", self.http.post(action, data={**fields, "csrf_token": found[1]}))
        if response is None:
            return False
        self.timings.answers[kind].append(time.perf_counter() - start)
        if response.status_code == 422:  # refused: the prompt closed between the page and the post, as can happen
            self.timings.refusals[refusal_of(response.text)] += 1
        # 404: the prompt closed meanwhile (the partner's proposal closes both plan prompts); nothing to redo
        return self.check(response, 200, kind, also=(404, 422))

    async def next_prompt_message(self) -> None:
        """Wait for a message that asks something; whatever else came meanwhile is read with it."""
        while (await self.inbox.get())["kind"] not in ASKING:
            pass
        while not self.inbox.empty():
            self.inbox.get_nowait()

    def check(self, response: httpx.Response, status: int, what: str, also: tuple[int, ...] = ()) -> bool:
        """Count the response; False on a server error (worth another try), an error on anything unexpected."""
        self.timings.statuses[f"{what} {response.status_code}"] += 1
        if response.status_code >= 500:
            return False
        if response.status_code != status and response.status_code not in also:
            raise RuntimeError(f"{self.email}: {what} answered {response.status_code}: {response.text[:300]}")
        return True


@dataclass(frozen=True)
class Gateway:
    """What a participant answering without the portal uses: the bench's client, and the record's prompts."""

    client: Client
    shelf: PromptShelf
    program_id: str


class GatewayPerson(Person):
    """One participant in ten answers without the portal: the same answers, read from the record as the portal
    reads them, sent straight through the gateway (`flipside_client.send_answer`) from the bench's process. Their
    round trip is the bare update under the same load, so the portal's cost is a ratio."""

    def __init__(self, email: str, portal_url: str, timings: Timings, gateway: "Gateway") -> None:
        super().__init__(email, portal_url, timings)
        self.gateway = gateway

    async def sign_in(self, link: str) -> None:
        """No browser, no session: the gateway is the bench's own client."""

    async def answer_what_waits(self) -> int | None:
        prompts = await self.waiting_prompts()
        answered = [await self.answer_directly(prompt) for prompt in prompts]
        return len(prompts) if all(answered) else None

    async def waiting_prompts(self) -> list[PendingPrompt]:
        """What the record shows waiting; a message can be ahead of the record by a moment, as a page can."""
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while True:
            found = await asyncio.to_thread(self.gateway.shelf.for_person, self.gateway.program_id, self.email)
            if found or time.monotonic() > deadline:
                return found or []
            await asyncio.sleep(CATCH_UP_POLL)

    async def answer_directly(self, prompt: PendingPrompt) -> bool:
        kind = kind_of(prompt.id)
        card = PromptCard(prompt=prompt)
        fields = answer_form(kind, "".join(f'name="before_{i}"' for i in range(len(card.skills))), self.mentor)
        if fields is None:
            self.timings.skipped[kind] += 1
            return True
        answer = build_answer(prompt, self.email, answer_fields(card, form_values(list(fields.items()))))
        start = time.perf_counter()
        try:
            await send_answer(self.gateway.client, prompt, answer)
        except Refused as refused:  # the prompt closed between reading it and answering, as on a page
            self.timings.refusals[f"bare: {refused.sentence}"] += 1
        except Exception as error:  # what the portal would answer with a 500: counted, and tried again
            self.timings.statuses[f"bare answer {type(error).__name__}"] += 1
            return False
        took = time.perf_counter() - start
        self.timings.seconds["bare_answer"].append(took)
        self.timings.bare_answers[kind].append(took)
        return True


class Postman:
    """Reads the outbox file as the worker appends it and hands each message to the person it is for."""

    def __init__(self, path: Path, people: dict[str, Person]) -> None:
        self.path, self.people, self.offset, self.delivered = path, people, 0, 0

    async def run(self) -> None:
        while True:
            self.deliver_new()
            await asyncio.sleep(0.05)

    def deliver_new(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        whole = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next look
        self.offset += len(whole)
        for line in whole.splitlines():
            message = json.loads(line)
            if (person := self.people.get(message["to"])) is not None:
                person.inbox.put_nowait(message)
                self.delivered += 1


# The program
def roster(participants: int) -> list[Participant]:
    """Newer colleagues (mentors) and senior ones (mentees), each mentee wanting what one kind of mentor teaches."""
    people = []
    for i in range(participants // 2):
        skill = SKILLS[i % len(SKILLS)]
        people.append(
            Participant(
                email=f"mentor{i:04d}@bench.example",
                name=f"Mentor {i}",
                role=Role.MENTOR,
                seniority=1 + i % 2,
                department=f"team-{i % 7}",
                skills_offered=[skill],
                skills_wanted=["strategy"],
            )
        )
        people.append(
            Participant(
                email=f"mentee{i:04d}@bench.example",
                name=f"Mentee {i}",
                role=Role.MENTEE,
                seniority=6 + i % 3,
                department=f"team-{(i + 3) % 7}",
                skills_offered=["strategy"],
                skills_wanted=[skill],
            )
        )
    return people


def program_spec(cadence_s: int, cycles: int, window_s: int, run: str) -> ProgramSpec:
    """A program whose pairings get `cycles` full check-in cycles: the program's length counts from kick-off, and
    each pairing's mentoring period is what is left of it after two answer windows (introduction and plan)."""
    return ProgramSpec.model_validate(
        {
            "name": f"Portal load {run}",
            "purpose": "Measure the portal with every participant answering through it.",
            "coordinators": [COORDINATOR],
            "business_goals": [{"goal": "Pairs keep meeting", "kpi": "checkin_adherence", "target": 0.6}],
            "ground_rules": ["Taking part is voluntary", "What we say stays between us"],
            "training_modules": [],
            "durations": {
                "recruitment": "1h",  # closed by the coordinator once everyone has opted in
                "training": "1h",  # no modules: over at once
                "answer_window": f"{window_s}s",
                "checkin_cadence": f"{cadence_s}s",
                "program_length": f"{cadence_s * cycles + 2 * window_s}s",
            },
            "reminders": {"nudge_before": f"{max(1, cadence_s // 6)}s"},
            "matching": {"mode": "algorithm", "auto_approve": True},
        }
    )


# The processes
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(ROOT / ".venv" / "bin"))
    if path is None:
        raise SystemExit(f"{name} is not installed; `make test` or `make run` installs it")
    return path


@contextmanager
def process(name: str, args: list[str], environ: dict[str, str], logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in a log file; stopped (by its own pid) when the block ends."""
    with (logs / f"{name}.log").open("wb") as log:
        child = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=environ, stdout=log, stderr=log)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def temporal_pid(known: set[int]) -> int | None:
    """The dev server: the child of this process that is neither the worker nor the portal."""
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in map(int, children.read_text().split()):
            if pid not in known and Path(f"/proc/{pid}/comm").read_text().strip() == "temporal":
                return pid
    return None


def cpu_use(pids: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds so far of each process, and of this one (the participants' clients)."""
    use = {name: cpu_seconds(pid) for name, pid in pids.items() if pid is not None}
    me = resource.getrusage(resource.RUSAGE_SELF)
    return {**use, "participants (this process)": me.ru_utime + me.ru_stime}


async def wait_for_portal(url: str, portal: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        for _ in range(300):
            if portal.poll() is not None:
                raise RuntimeError(f"the portal exited with {portal.returncode}; see its log")
            with suppress(httpx.TransportError):
                if (await http.get("/healthz")).text == "ok":
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the portal did not answer /healthz")


@asynccontextmanager
async def dev_server() -> AsyncIterator[str]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"), search_attributes=search.ALL, dev_server_log_level="error"
    )
    try:
        yield env.client.service_client.config.target_host
    finally:
        await env.shutdown()


# The run
async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(1)
    raise RuntimeError(f"{what} did not happen within {seconds:g} s")


async def drive(client: Client, settings: Settings, spec: ProgramSpec, n: int, budget: float) -> dict[str, Any]:
    """Start the program, let everyone take part through the portal, and wait for the program to finish."""
    timings = Timings()
    everyone = roster(n)
    record = make_engine(settings.database)  # what the gateway's people read, and how recruitment is watched
    gateway = Gateway(client, PromptShelf(record, sealer(settings)), spec.program_id)
    people = {
        p.email: GatewayPerson(p.email, settings.portal_url, timings, gateway)
        if i % BARE_EVERY == BARE_EVERY - 1
        else Person(p.email, settings.portal_url, timings)
        for i, p in enumerate(everyone)
    }
    postman = Postman(settings.outbox_path, people)
    started = time.perf_counter()
    program_id = await start_program(client, settings, spec, everyone)
    tasks = [asyncio.create_task(person.take_part()) for person in people.values()]
    delivering = asyncio.create_task(postman.run())
    reporting = asyncio.create_task(progress(timings, started))
    handle = client.get_workflow_handle(program_id, result_type=ProgramResult)
    phases: dict[str, float] = {}
    try:
        await _watch(until(lambda: _opted_in(record, program_id, n), "every opt-in", budget), tasks)
        phases["recruitment_s"] = round(time.perf_counter() - started, 1)
        await handle.execute_update("close_recruitment", CoordinatorAction(coordinator=COORDINATOR), result_type=str)
        result = await _watch(asyncio.wait_for(handle.result(), budget), tasks)
        phases["program_s"] = round(time.perf_counter() - started, 1)
    finally:
        for task in [*tasks, delivering, reporting]:
            task.cancel()
        await asyncio.gather(*tasks, delivering, reporting, return_exceptions=True)
        await asyncio.gather(*(person.http.aclose() for person in people.values()))
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("bench finished")
        record.dispose()
    assert isinstance(result, ProgramResult)
    return {
        **timings.report(),
        **phases,
        "messages_read": postman.delivered,
        "pairings_completed": result.metrics.pairings_completed,
        "checkin_cycles": result.metrics.checkin_cycles,
        "checkins_met": result.metrics.checkins_met,
    }


async def progress(timings: Timings, started: float) -> None:
    while True:
        await asyncio.sleep(15)
        answers, requests = len(timings.seconds["answer"]), sum(len(v) for v in timings.seconds.values())
        print(f"  {time.perf_counter() - started:5.0f} s: {answers} answers, {requests} requests", flush=True)


async def _opted_in(record: Engine, program_id: str, n: int) -> bool:
    """Whether the record shows everyone opted in: read as the portal reads, never by a query to the program,
    which would meet the opt-in burst (a busy workflow's queries wait for its task, or are refused)."""
    opted_in = select(func.count()).where(
        tables.participants.c.program_id == program_id, tables.participants.c.opted_in_at.is_not(None)
    )
    with record.connect() as conn:
        return int(conn.execute(opted_in).scalar_one()) >= n


def rebuilt_the_same(settings: Settings) -> dict[str, Any]:
    """After the run, with the worker stopped: the projections as the load left them, then rebuilt from the log.
    A difference would be a projection that depends on how appends were batched or raced: the bench fails."""
    store = SqlEventStore(settings.database, migrate_schema=False)

    def rows() -> dict[str, list[tuple[Any, ...]]]:
        with store.engine.connect() as conn:
            return {
                table.name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
                for table in tables.PROJECTIONS
            }

    try:
        under_load = rows()
        replayed = store.rebuild()
        differing = sorted(name for name, rebuilt in rows().items() if rebuilt != under_load[name])
    finally:
        store.dispose()
    if differing:
        raise RuntimeError(f"the projections differ from a rebuild of the log in {', '.join(differing)}")
    return {"rebuild": {"events": replayed, "rows": sum(len(r) for r in under_load.values()), "equal": True}}


def portal_errors(log: Path) -> dict[str, int]:
    """The Temporal errors behind the portal's server errors, from its log (one traceback per failed request)."""
    found = Counter(m[1] for m in re.finditer(r"^temporalio\.service\.RPCError: (.*)$", log.read_text(), re.MULTILINE))
    return dict(found.most_common())


async def _watch(waiting: Awaitable[Any], tasks: list[asyncio.Task[None]]) -> Any:
    """Await `waiting`, but stop at once when a participant failed: its error says more than a timeout."""
    main = asyncio.ensure_future(waiting)
    while not main.done():
        await asyncio.wait([main], timeout=1)
        failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
        if failed:
            main.cancel()
            raise RuntimeError(f"{len(failed)} participants failed") from failed[0].exception()
    return main.result()


async def bench(n: int, cadence_s: int, cycles: int, window_s: int, budget: float, keep: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    try:
        figures = await run_processes(data_dir, n, cadence_s, cycles, window_s, budget)
    except BaseException:
        keep = True
        raise
    finally:
        if keep:
            print(f"The worker's and the portal's logs, and the outbox, are kept in {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "participants": n,
        "pairs": n // 2,
        "cadence_s": cadence_s,
        "cycles": cycles,
        "answer_window_s": window_s,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        **figures,
    }


async def run_processes(
    data_dir: Path, n: int, cadence_s: int, cycles: int, window_s: int, budget: float
) -> dict[str, Any]:
    """The dev server, the worker and the portal, for one run of the program."""
    async with dev_server() as address:
        portal_port = free_port()
        settings = Settings(
            temporal_address=address,
            task_queue="bench-portal",
            data_dir=data_dir,
            notify="file",
            portal_url=f"http://127.0.0.1:{portal_port}",
            secret_key=SECRET,
            log_format="json",
        )
        settings.codec_keyring()  # made once here, read by the worker and the portal
        environ = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": settings.task_queue,
            "FLIPSIDE_DATA_DIR": str(data_dir),
            "FLIPSIDE_NOTIFY": "file",
            "FLIPSIDE_PORTAL_URL": settings.portal_url,
            "FLIPSIDE_SECRET_KEY": SECRET,
            "FLIPSIDE_LOG_FORMAT": "json",
        }
        logs = data_dir / "logs"
        logs.mkdir()
        with (
            process("worker", ["worker.py"], environ, logs) as worker,
            process("portal", ["-m", "portal"], environ, logs) as portal,
        ):
            await wait_for_portal(settings.portal_url, portal)
            client = await connect(settings)
            print(f"{n} participants, {cycles} check-in cycles of {cadence_s} s, portal {settings.portal_url}")
            spec = program_spec(cadence_s, cycles, window_s, datetime.now(UTC).strftime("%H%M%S"))
            pids = {"portal": portal.pid, "worker": worker.pid, "temporal": temporal_pid({portal.pid, worker.pid})}
            before, load_before = cpu_use(pids), os.getloadavg()[0]
            figures = await drive(client, settings, spec, n, budget)
            after, load_after = cpu_use(pids), os.getloadavg()[0]
    return {
        **figures,
        **rebuilt_the_same(settings),
        "cpu_s": {name: round(after[name] - before[name], 1) for name in after},
        "load_average_1m": {"start": round(load_before, 1), "end": round(load_after, 1)},
        "portal_errors": portal_errors(logs / "portal.log"),
    }


def ratios(figures: dict[str, Any]) -> dict[str, float]:
    """The portal's answer round trip over the bare update's, at p50 and p99 (0 when either is missing)."""
    a, bare = figures["answer_ms"], figures["bare_answer_ms"]
    return {q: round(a[q] / bare[q], 2) if a[q] and bare[q] else 0.0 for q in ("p50", "p99")}


def bare_line(figures: dict[str, Any]) -> str:
    bare, ratio = figures["bare_answer_ms"], ratios(figures)
    by_kind = ", ".join(f"{k} {v['n']} ({v['p50']} / {v['p99']})" for k, v in figures["bare_by_kind"].items())
    return (
        f"Beside them, one participant in {BARE_EVERY} answered without the portal: the same answers sent straight "
        f"through the gateway (`flipside_client.send_answer`) from the bench's process, timed around the update "
        f"alone. Bare update round trip: {figures['bare_answers']} answers, p50 {bare['p50']} ms, p99 {bare['p99']} "
        f"ms, max {bare['max']} ms (by kind, p50 / p99: {by_kind or 'none'}). The portal's answer round trip is "
        f"**{ratio['p50']}x** the bare update at p50 and **{ratio['p99']}x** at p99."
    )


def write_results(figures: dict[str, Any], command: str) -> Path:
    path = save_figures("portal", figures)
    a, page = figures["answer_ms"], figures["my_prompts_ms"]
    kinds = "\n".join(
        f"| {kind} | {v['n']} | {v['p50']} | {v['p99']} | {v['max']} |" for kind, v in figures["answer_by_kind"].items()
    )
    refused = ", ".join(f"{k} ({v})" for k, v in figures["refusals"].items()) or "none"
    errors = ", ".join(f"{k} ({v})" for k, v in figures["portal_errors"].items()) or "none"
    cpu = ", ".join(f"{k} {v}" for k, v in figures["cpu_s"].items())
    load = figures["load_average_1m"]
    (RESULTS / "portal.md").write_text(
        "# bench/portal.py results\n\n"
        f"`{command}`\n\n"
        f"{figures['participants']} participants ({figures['pairs']} pairs) answer a whole program through the portal "
        "at once, each an httpx client with its own session, on loopback: sign in with their link, then on every "
        "prompt message load My prompts and post every form there. The portal (`python -m portal`, one uvicorn "
        "process), the worker (`worker.py`) and a Temporal dev server are separate processes on the same machine; "
        "notices go to the outbox file, so no SMTP is in the path. An answer's round trip is from sending the POST "
        "to the portal's reply: the workflow update, then the wait for the record to show it (read-your-writes). "
        "Pages are read from the record (SQLite here), never by a workflow query.\n\n"
        f"Measured {figures['measured_at']} on {figures['machine']}; {figures['cycles']} check-in cycles of "
        f"{figures['cadence_s']} s; everyone opted in after {figures['recruitment_s']} s, program finished after "
        f"{figures['program_s']} s ({figures['pairings_completed']} pairings completed).\n\n"
        "| requests | active s | requests/s | peak requests/s | answers | answers/s | answer p50 ms | answer p99 ms "
        "| My prompts p50 ms | My prompts p99 ms | sign-in p50 ms | sign-in p99 ms |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {figures['requests']} | {figures['active_s']} | {figures['requests_per_s']} "
        f"| {figures['peak_requests_per_s']} | {figures['answers']} | {figures['answers_per_s']} | {a['p50']} "
        f"| {a['p99']} | {page['p50']} | {page['p99']} | {figures['signin_ms']['p50']} "
        f"| {figures['signin_ms']['p99']} |\n\n"
        f"{bare_line(figures)}\n\n"
        "Answer round trip by prompt kind (ms):\n\n"
        "| kind | answers | p50 | p99 | max |\n|---|---|---|---|---|\n"
        f"{kinds}\n\n"
        f"Responses: {', '.join(f'{k}: {v}' for k, v in figures['statuses'].items())}.\n\n"
        f"Refused (422; the prompt closed between loading the page and posting it): {refused}.\n\n"
        f"Temporal errors behind the portal's server errors (500), from its log: {errors}.\n\n"
        f"After the run, with the worker stopped, the projections ({figures['rebuild']['rows']:,} rows) equal a "
        f"rebuild from the log ({figures['rebuild']['events']:,} events), row for row.\n\n"
        f"CPU seconds used while the program ran ({figures['program_s']} s of wall time, "
        f"{os.cpu_count()} cores): {cpu}. The machine's 1-minute load average was {load['start']} at the start and "
        f"{load['end']} at the end (other work shares it: figures from a busy machine are pessimistic).\n"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=200, help="people in the program (default 200)")
    parser.add_argument("--cadence", type=int, default=30, help="seconds per check-in cycle (default 30)")
    parser.add_argument("--cycles", type=int, default=2, help="check-in cycles per pairing (default 2)")
    parser.add_argument("--window", type=int, default=45, help="seconds to accept a match or agree a plan (45)")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the outbox (kept on failure)")
    parser.add_argument("--budget", type=float, default=600, help="seconds each phase may take at most")
    args = parser.parse_args()
    if args.participants < 2 or args.participants % 2 or args.cadence < 1 or args.cycles < 1 or args.window < 1:
        parser.error("--participants must be even and at least 2; --cadence, --cycles and --window positive")
    figures = asyncio.run(bench(args.participants, args.cadence, args.cycles, args.window, args.budget, args.keep))
    command = (
        f".venv/bin/python -m bench.portal --participants {args.participants} --cadence {args.cadence} "
        f"--cycles {args.cycles} --window {args.window}"
    )
    path = write_results(figures, command)
    a, page = figures["answer_ms"], figures["my_prompts_ms"]
    print(
        f"\n{figures['requests']} requests in {figures['active_s']} s: {figures['requests_per_s']} requests/s "
        f"(peak {figures['peak_requests_per_s']}/s); {figures['answers']} answers, {figures['answers_per_s']}/s\n"
        f"Answer round trip p50 {a['p50']} ms, p99 {a['p99']} ms; My prompts p50 {page['p50']} ms, "
        f"p99 {page['p99']} ms\nBare update p50 {figures['bare_answer_ms']['p50']} ms, "
        f"p99 {figures['bare_answer_ms']['p99']} ms; portal / bare {ratios(figures)}\n"
        f"Written to {path} and {RESULTS / 'portal.md'}"
    )


if __name__ == "__main__":
    main()
