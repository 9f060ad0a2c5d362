"""Participants who keep going through outages, and what the record must show afterwards.

`Participants` plays the personas on a real-time server the way people use the portal: each looks at their
pending prompts (by default answering only those whose notice has reached them), and an answer that fails for
a technical reason (no worker, no server) is sent again with the same update id, so Temporal applies it once
however many times it is sent. Every answer ends accepted or refused, and the tests compare that list, and the
outbox, with the program record.
"""

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from demo.personas import Persona
from domain.answers import CoordinatorAction
from domain.events import DomainEvent
from domain.people import Participant, Role
from domain.program import ProgramPhase, ProgramStatus
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import build_answer, prompts_for
from tests.helpers.people import COORDINATOR

QUERY_LIMIT = 10.0  # seconds; with no worker polling, the server holds a query about 30 s before failing it
LOOK_EVERY = 1.0  # seconds between rounds: prompts stay open 40 s or more, and each round is 3 queries a person
UPDATE_LIMIT = 30.0  # seconds per try of one answer; the answer is sent again with the same id after it
GIVE_UP_AFTER = 300.0  # seconds of failed tries before an answer counts as lost (the test then fails)
TRANSIENT = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError)


def cast_of(people: list[Participant]) -> dict[str, Persona]:
    """Everyone answers everything; mentors propose the plan and mentees agree it (no two proposals race)."""
    cast = {p.email: Persona(p.email) for p in people}
    for person in people:
        if person.role == Role.MENTEE:
            cast[person.email].silent = {PromptKind.PROPOSE_PLAN}
    cast[COORDINATOR] = Persona(COORDINATOR)
    return cast


def notice_key(prompt: PendingPrompt) -> str:
    """The key of the notice that told the person about this prompt (workflows/base.py `notify`)."""
    return f"{prompt.workflow_id}/{prompt.id}/{prompt.participant}"


def delivered_rows(outbox: Path) -> list[dict[str, Any]]:
    """Complete lines of the outbox file; a line still being written is left for the next look."""
    if not outbox.exists():
        return []
    with outbox.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.endswith("\n") and line.strip()]


@dataclass
class Answer:
    """One answer (or coordinator action), sent until the workflow accepts or refuses it."""

    update_id: str
    workflow_id: str
    update: str
    model: BaseModel
    prompt: PendingPrompt | None = None
    reply: str | None = None
    refusal: str | None = None
    lost: str | None = None  # never settled: the test fails on any
    tries: int = 0
    errors: list[str] = field(default_factory=list)
    first_sent: float = 0.0
    settled: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.reply is not None


def _describe(error: BaseException) -> str:
    if isinstance(error, RPCError):
        return f"RPCError {error.status.name}: {error.message[:80]}"
    return type(error).__name__


Hold = Callable[[PendingPrompt], bool]


class Participants:
    def __init__(
        self,
        client: Client,
        program_id: str,
        personas: dict[str, Persona],
        outbox: Path,
        wait_for_notices: bool = True,
    ) -> None:
        self.client = client
        self.program_id = program_id
        self.personas = personas
        self.outbox = outbox
        # People answer what they were told about; False: they also find prompts in the portal on their own.
        self.wait_for_notices = wait_for_notices
        self.answers: dict[str, Answer] = {}
        self.seen: set[str] = set()  # notice keys of every prompt a person saw pending
        self.query_failures = 0
        self.rounds = 0
        self.hold: Hold = lambda prompt: False  # prompts answered only when the test releases them
        self.held: dict[str, Answer] = {}
        self.before_closing_recruitment: Callable[[], Awaitable[None]] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.program_id)

    # Playing
    async def play(self, limit: float = 900.0) -> None:
        """Answer until the program has completed and every answer has settled."""
        deadline = time.monotonic() + limit
        while not await self._completed():
            assert time.monotonic() < deadline, f"program not completed after {limit} s"
            await self.play_round()
            await asyncio.sleep(LOOK_EVERY)
        await self.settle()

    async def _completed(self) -> bool:
        try:
            description = await asyncio.wait_for(self.handle.describe(), QUERY_LIMIT)
        except TRANSIENT:
            return False
        assert description.status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)
        return description.status == WorkflowExecutionStatus.COMPLETED

    async def settle(self) -> None:
        while self._sending:
            await asyncio.gather(*list(self._sending))

    async def play_round(self) -> None:
        """Each person looks at their prompts and answers those they were notified of. A failed look ends the
        round: the worker or the server is away, and the next round tries again."""
        self.rounds += 1
        notified = {row["key"] for row in delivered_rows(self.outbox)}
        try:
            await self._close_recruitment_when_everyone_answered()
            for email, persona in self.personas.items():
                for prompt in await asyncio.wait_for(prompts_for(self.client, self.program_id, email), QUERY_LIMIT):
                    self.seen.add(notice_key(prompt))
                    if notice_key(prompt) in notified or not self.wait_for_notices:
                        await self._answer(persona, prompt)
        except TRANSIENT:
            self.query_failures += 1

    async def _answer(self, persona: Persona, prompt: PendingPrompt) -> None:
        update_id = f"{prompt.workflow_id}/{prompt.id}/{prompt.participant}"
        if update_id in self.answers or update_id in self.held:
            return
        fields = persona.fields_for(prompt)
        if fields is None:
            return
        answer = Answer(
            update_id,
            prompt.workflow_id,
            prompt.update,
            build_answer(prompt, prompt.participant, fields),
            prompt=prompt,
        )
        if self.hold(prompt):
            self.held[update_id] = answer
        else:
            self.send(answer)

    def release(self, which: Callable[[Answer], bool]) -> list[Answer]:
        """Send held answers now, whether or not the server can be reached: they retry until it can."""
        released = [a for a in self.held.values() if which(a)]
        for answer in released:
            del self.held[answer.update_id]
            self.send(answer)
        return released

    async def _close_recruitment_when_everyone_answered(self) -> None:
        if "close-recruitment" in self.answers:
            return
        status: ProgramStatus = await asyncio.wait_for(
            self.handle.query("status", result_type=ProgramStatus), QUERY_LIMIT
        )
        funnel = status.funnel
        if status.phase == ProgramPhase.RECRUITMENT and funnel.invited and funnel.opted_in == funnel.invited:
            if self.before_closing_recruitment is not None:
                await self.before_closing_recruitment()
            self.send(
                Answer(
                    "close-recruitment",
                    self.program_id,
                    "close_recruitment",
                    CoordinatorAction(coordinator=COORDINATOR),
                )
            )

    # Sending
    def send(self, answer: Answer) -> None:
        self.answers[answer.update_id] = answer
        task = asyncio.create_task(self._deliver(answer))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, answer: Answer) -> None:
        handle = self.client.get_workflow_handle(answer.workflow_id)
        answer.first_sent = time.monotonic()
        pause = 0.5
        while True:
            answer.tries += 1
            try:
                answer.reply = await asyncio.wait_for(
                    handle.execute_update(answer.update, answer.model, id=answer.update_id, result_type=str),
                    UPDATE_LIMIT,
                )
                break
            except WorkflowUpdateFailedError as failed:
                cause = failed.cause
                if not (isinstance(cause, ApplicationError) and cause.type == "Refused"):
                    raise
                answer.refusal = cause.message
                break
            except TRANSIENT as error:
                if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
                    answer.refusal = f"the workflow has finished: {error.message}"  # too late, and told so
                    break
                answer.errors.append(_describe(error))
                if time.monotonic() - answer.first_sent > GIVE_UP_AFTER:
                    answer.lost = answer.errors[-1]
                    break
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
        answer.settled = time.monotonic()

    # Results
    @property
    def accepted(self) -> list[Answer]:
        return [a for a in self.answers.values() if a.accepted]

    def summary(self) -> dict[str, Any]:
        answers = list(self.answers.values())
        return {
            "answers": len(answers),
            "accepted": len(self.accepted),
            "refused": [(a.update_id, a.refusal) for a in answers if a.refusal],
            "lost": [(a.update_id, a.lost) for a in answers if a.lost],
            "answers_retried": sum(a.tries > 1 for a in answers),
            "tries": sum(a.tries for a in answers),
            "query_failures": self.query_failures,
            "rounds": self.rounds,
        }


# What the record must show
Signature = tuple[str, str, str | None, int | None]  # workflow, fact, participant, cycle

FACT_OF_ANSWER = {
    PromptKind.OPT_IN: "opted_in",
    PromptKind.TRAINING: "training_completed",
    PromptKind.APPROVE_MATCHES: "approved",
    PromptKind.ACCEPT_MATCH: "accepted",
    PromptKind.AGREE_PLAN: "plan_agreed",
    PromptKind.CHECK_IN: "checkin_logged",
    PromptKind.PULSE: "survey_answered:pulse",
    PromptKind.MIDPOINT_SURVEY: "survey_answered:midpoint",
    PromptKind.CLOSEOUT_SURVEY: "survey_answered:closeout",
}
PER_WORKFLOW = {"approved", "plan_agreed"}  # facts of the workflow, not of the person who answered
PER_CYCLE = {"checkin_logged", "survey_answered:pulse"}


def answer_signature(answer: Answer) -> Signature | None:
    """The fact an accepted answer must have left in the record (a plan proposal leaves none by itself)."""
    prompt = answer.prompt
    if prompt is None or prompt.kind not in FACT_OF_ANSWER:
        return None
    fact = FACT_OF_ANSWER[prompt.kind]
    person = None if fact in PER_WORKFLOW else prompt.participant
    return (prompt.workflow_id, fact, person, prompt.context.cycle if fact in PER_CYCLE else None)


def event_signature(event: DomainEvent) -> Signature | None:
    fact = event.fact
    name = f"survey_answered:{fact.survey}" if fact.kind == "survey_answered" else fact.kind
    if name not in FACT_OF_ANSWER.values() or (fact.kind == "plan_agreed" and fact.by_default):
        return None
    person = None if name in PER_WORKFLOW else event.participant
    cycle = getattr(fact, "cycle", None) if name in PER_CYCLE else None
    return (event.workflow_id, name, person, cycle)


def assert_answers_kept(participants: Participants, events: list[DomainEvent]) -> int:
    """Every accepted answer left exactly one fact, and every such fact came from an accepted answer."""
    assert not [a.update_id for a in participants.answers.values() if a.lost], "answers never settled"
    answered = Counter(s for a in participants.accepted if (s := answer_signature(a)) is not None)
    recorded = Counter(s for e in events if (s := event_signature(e)) is not None)
    assert answered - recorded == Counter(), f"answers missing from the record: {answered - recorded}"
    assert recorded - answered == Counter(), f"facts nobody answered, or twice: {recorded - answered}"
    return sum(answered.values())


def notices_the_record_implies(events: list[DomainEvent], program_id: str) -> tuple[set[str], set[str]]:
    """Prompt notices and other notices that the facts in the record say went out.

    Invited -> opt-in prompt; opted in -> training; approved -> the approval prompt; matched -> both asked to
    accept; accepted -> asked for a plan; a plan agreed -> the mentee asked to agree it; a cycle closed -> both
    asked to check in and the mentor for a pulse; completed -> close-out surveys and recognition; closed ->
    the coordinator's report.
    """
    prompts: set[str] = set()
    others: set[str] = set()
    sides: dict[str, tuple[str, str]] = {}
    for e in events:
        if e.fact.kind in ("matched", "rematched"):
            sides[e.fact.pairing] = (e.fact.mentor, e.fact.mentee)
    for e in events:
        fact, wf, person = e.fact, e.workflow_id, e.participant
        if fact.kind == "invited":
            prompts.add(f"{program_id}/opt-in/{person}")
        elif fact.kind == "opted_in":
            prompts.add(f"{program_id}/training/{person}")
        elif fact.kind == "approved":
            prompts.add(f"{program_id}/approve-matches/{COORDINATOR}")
        elif fact.kind in ("matched", "rematched"):
            prompts |= {f"{fact.pairing}/accept-match/{p}" for p in sides[fact.pairing]}
        elif fact.kind == "accepted":
            prompts.add(f"{wf}/plan/{person}")
        elif fact.kind == "plan_agreed" and not fact.by_default:
            prompts.add(f"{wf}/agree-plan/{sides[wf][1]}")
        elif fact.kind == "cycle_closed":
            mentor, mentee = sides[wf]
            prompts |= {f"{wf}/check-in-{fact.cycle}/{mentor}", f"{wf}/check-in-{fact.cycle}/{mentee}"}
            prompts.add(f"{wf}/pulse-{fact.cycle}/{mentor}")
        elif fact.kind == "survey_answered" and fact.survey == "midpoint":
            prompts.add(f"{wf}/midpoint-survey/{person}")
        elif fact.kind == "pairing_closed" and fact.outcome.value == "completed":
            prompts |= {f"{wf}/closeout-survey/{p}" for p in sides[wf]}
        elif fact.kind == "completed":
            others.add(f"{program_id}/recognition/{person}")
        elif fact.kind == "program_closed":
            others.add(f"{program_id}/final-report/{COORDINATOR}")
    return prompts, others


ASKED_AGAIN = re.compile(r"/again-\d+(?=/)")


def assert_notices_once(participants: Participants, events: list[DomainEvent]) -> dict[str, Any]:
    """No notice twice; every prompt the record implies, or a person saw, was notified; no notice went out for a
    prompt the record does not show asked."""
    rows = delivered_rows(participants.outbox)
    keys = [row["key"] for row in rows]
    twice = [k for k, n in Counter(keys).items() if n > 1]
    assert not twice, f"notices sent twice: {twice}"
    implied_prompts, implied_others = notices_the_record_implies(events, participants.program_id)
    # A prompt asked again once overdue (an approval held up by the kills) is the same prompt, asked again: the
    # record implies the prompt, and its repeat carries the asking in its key.
    sent_prompts = {ASKED_AGAIN.sub("", row["key"]) for row in rows if row["kind"] == "prompt"}
    expected = implied_prompts | participants.seen
    # A prompt nobody answered in time (people held up by the kills) implies nothing by its answer; the record
    # shows it was asked all the same. fresh28: a pair missed a whole cycle, mid-point survey included.
    asked = {f"{e.workflow_id}/{e.fact.prompt_id}/{e.participant}" for e in events if e.fact.kind == "prompt_shown"}
    assert expected <= sent_prompts, f"prompt notices not sent: {sorted(expected - sent_prompts)}"
    unexplained = sent_prompts - expected - asked
    assert not unexplained, f"prompt notices for prompts never asked: {sorted(unexplained)}"
    assert implied_others <= set(keys), f"notices missing: {sorted(implied_others - set(keys))}"
    return {
        "notices": len(keys),
        "prompt_notices": len(sent_prompts),
        "prompt_notices_expected": len(expected),
        "notices_by_kind": dict(Counter(r["kind"] for r in rows)),
    }


# Histories
@dataclass
class Attempt:
    workflow_id: str
    activity: str
    attempt: int
    last_failure: str


async def activity_attempts(client: Client, workflow_ids: list[str]) -> list[Attempt]:
    """Each activity's final attempt as the histories record it, with the failure of the attempt before."""
    found: list[Attempt] = []
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        names: dict[int, str] = {}
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                names[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = event.activity_task_started_event_attributes
                failure = started.last_failure.message if started.HasField("last_failure") else ""
                found.append(Attempt(workflow_id, names[started.scheduled_event_id], started.attempt, failure))
    return found


async def workflow_task_troubles(client: Client, workflow_ids: list[str]) -> Counter[str]:
    """Workflow tasks that timed out or failed: what a worker dying mid-task leaves in a history."""
    troubles: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = event.workflow_task_timed_out_event_attributes.timeout_type
                troubles[f"workflow task timed out: {TimeoutType.Name(kind)}"] += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                troubles["workflow task failed"] += 1
    return troubles


async def build_ids(client: Client, workflow_ids: list[str]) -> set[str]:
    """The build ids (a hash of the code a worker loaded) of the workers that completed workflow tasks."""
    found: set[str] = set()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                found.add(event.workflow_task_completed_event_attributes.worker_version.build_id)
    return found


def pairing_ids(events: list[DomainEvent]) -> list[str]:
    return sorted({e.fact.pairing for e in events if e.fact.kind in ("matched", "rematched")})
