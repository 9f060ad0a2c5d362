"""The gateway: the one module that talks to Flipside's workflows, for every surface (portal, CLI, demo, tests).

Calls name workflow methods, never strings; every update carries an id, so a request sent twice (a double click,
a retry after a timeout) is taken once (workflows/receipts.py); and a refusal comes back as one typed error,
`Refused`, with the sentence to show and the answer's field it is about.
"""

import asyncio
import uuid
import weakref
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from adapters.store.pages import PageShelf
from domain.answers import (
    Approval,
    CheckIn,
    CloseoutAnswers,
    MatchAnswer,
    MidpointAnswers,
    OptIn,
    PlanAgreement,
    PlanProposal,
    Preferences,
    Pulse,
    TrainingCompleted,
    Withdrawal,
)
from domain.batches import (
    BATCH_LIMIT,
    BATCH_REFUSED,
    BATCHED_KINDS,
    AnswerBatch,
    BatchedAnswer,
    BatchReply,
    RefusedAnswer,
)
from domain.metrics import PairingSummary
from domain.pair_record import PairRecord
from domain.pairing import PairingView
from domain.people import Participant
from domain.program import Member, ProgramInput, ProgramResult, ProgramStatus, roster_ref
from domain.prompts import CLOSED_PROMPT, PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from domain.summaries import program_details, program_summary
from domain.views import MemberView
from workflows import search
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

T = TypeVar("T")

# An update handler as the SDK takes it: a workflow method that replies with a sentence.
Update = UpdateMethodMultiParam[..., str]

ANSWERS: dict[PromptKind, tuple[type[BaseModel], Update]] = {
    PromptKind.OPT_IN: (OptIn, ProgramWorkflow.opt_in),
    PromptKind.TRAINING: (TrainingCompleted, ProgramWorkflow.complete_training),
    PromptKind.PREFERENCES: (Preferences, ProgramWorkflow.submit_preferences),
    PromptKind.APPROVE_MATCHES: (Approval, ProgramWorkflow.approve_matches),
    PromptKind.ACCEPT_MATCH: (MatchAnswer, PairingWorkflow.answer_match),
    PromptKind.PROPOSE_PLAN: (PlanProposal, PairingWorkflow.propose_plan),
    PromptKind.AGREE_PLAN: (PlanAgreement, PairingWorkflow.agree_plan),
    PromptKind.CHECK_IN: (CheckIn, PairingWorkflow.log_checkin),
    PromptKind.PULSE: (Pulse, PairingWorkflow.answer_pulse),
    PromptKind.MIDPOINT_SURVEY: (MidpointAnswers, PairingWorkflow.answer_midpoint_survey),
    PromptKind.CLOSEOUT_SURVEY: (CloseoutAnswers, PairingWorkflow.answer_closeout_survey),
}
ANSWER_TYPES = {kind: model for kind, (model, _) in ANSWERS.items()}


class Action(StrEnum):
    """What a program can be asked to do outside a prompt: coordinators' actions, and a participant's withdrawal."""

    APPROVE = "approve"
    CLOSE_RECRUITMENT = "close-recruitment"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    ADD_PARTICIPANT = "add-participant"
    REMATCH = "rematch"
    NUDGE = "nudge"
    WITHDRAW = "withdraw"


ACTIONS: dict[Action, Update] = {
    Action.APPROVE: ProgramWorkflow.approve_matches,
    Action.CLOSE_RECRUITMENT: ProgramWorkflow.close_recruitment,
    Action.PAUSE: ProgramWorkflow.pause,
    Action.RESUME: ProgramWorkflow.resume,
    Action.CANCEL: ProgramWorkflow.cancel,
    Action.ADD_PARTICIPANT: ProgramWorkflow.add_participant,
    Action.REMATCH: ProgramWorkflow.rematch,
    Action.NUDGE: ProgramWorkflow.nudge,
    Action.WITHDRAW: ProgramWorkflow.withdraw,
}

PROGRAM_GONE = "This program has ended, or never ran here."


class Refused(Exception):
    """A request a workflow refused: `sentence` is what to show the person; `field` the answer's field it is
    about ("progress", "skill_ratings.0.after"), or None when it is about the request as a whole."""

    def __init__(self, sentence: str, field: str | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.field = field


class EarlierRun(BaseModel):
    """The run that holds a program id: when it started, its status in Temporal, and its phase."""

    started_at: datetime
    status: str  # "running", "completed", "terminated", ...
    phase: str | None


class AlreadyStarted(Exception):
    """A program id Temporal still remembers, even of a closed run; `earlier` says which run holds it."""

    def __init__(self, earlier: EarlierRun) -> None:
        super().__init__(f"the id is taken by a run started {earlier.started_at:%Y-%m-%d %H:%M}")
        self.earlier = earlier


def new_request_id() -> str:
    """A fresh update id: random, so the history shows neither who sent it nor what (an id made from the answer
    could be recomputed from a roster and the few answers a prompt allows). Send a request again after a failure
    that left you unsure (a timeout, a restart) with the id it was first sent with: it is then taken once, in a
    later run too (workflows/receipts.py)."""
    return uuid.uuid4().hex


new_answer_id = new_request_id


def _refusal(error: WorkflowUpdateFailedError) -> Refused | None:
    cause = error.cause
    if not (isinstance(cause, ApplicationError) and cause.type == "Refused"):
        return None
    details = cause.details[0] if cause.details else None  # histories before refusals named a field have none
    field = details.get("field") if isinstance(details, dict) else None
    return Refused(cause.message, field if isinstance(field, str) else None)


# The server takes ten updates in flight per workflow. An eleventh is refused, and the refusal clears the
# workflow's state on the server: every update in flight is aborted with it, and the task the worker holds is
# lost (docs/incidents/2026-12-06-opt-in-burst-update-aborts/). One process keeps below that; two stay for others.
IN_FLIGHT_PER_WORKFLOW = 8
_gates: "weakref.WeakValueDictionary[tuple[asyncio.AbstractEventLoop, str], asyncio.Semaphore]" = (
    weakref.WeakValueDictionary()
)


def _in_flight(workflow_id: str) -> asyncio.Semaphore:
    """The gate of one workflow's updates from this process (kept while anyone holds or waits at it)."""
    key = (asyncio.get_running_loop(), workflow_id)
    gate = _gates.get(key)
    if gate is None:
        gate = _gates[key] = asyncio.Semaphore(IN_FLIGHT_PER_WORKFLOW)
    return gate


class RefusedAnswers(Exception):
    """A batch of answers refused before it reached the program, for the answers named here (domain/batches.py)."""

    def __init__(self, answers: dict[str, RefusedAnswer]) -> None:
        super().__init__(f"{len(answers)} answers refused")
        self.answers = answers


def _refused_answers(error: WorkflowUpdateFailedError) -> RefusedAnswers | None:
    cause = error.cause
    if not (isinstance(cause, ApplicationError) and cause.type == BATCH_REFUSED and cause.details):
        return None
    return RefusedAnswers({rid: RefusedAnswer.model_validate(why) for rid, why in dict(cause.details[0]).items()})


async def _update(
    client: Client,
    workflow_id: str,
    update: UpdateMethodMultiParam[..., T],
    payload: BaseModel,
    request_id: str | None,
    gone: str,
) -> T:
    """Run an update; a refusal, or no open run to take it (`gone` says so), comes back as Refused."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        async with _in_flight(workflow_id):
            return await handle.execute_update(update, args=[payload], id=request_id or new_request_id())
    except WorkflowUpdateFailedError as error:
        batch_refused = _refused_answers(error)
        if batch_refused is not None:
            raise batch_refused from error
        refused = _refusal(error)
        if refused is None:
            raise
        raise refused from error
    except RPCError as error:  # the workflow closed after the request was made
        if error.status == RPCStatusCode.NOT_FOUND:
            raise Refused(gone) from error
        raise


# Answers
def build_answer(prompt: PendingPrompt, person: str, fields: dict[str, Any]) -> BaseModel:
    """An answer model for a prompt from loose fields; who answers and the cycle come from the prompt."""
    model = ANSWER_TYPES[prompt.kind]
    data = dict(fields)
    data.setdefault("coordinator" if prompt.kind == PromptKind.APPROVE_MATCHES else "participant", person)
    if "cycle" in model.model_fields and prompt.context.cycle is not None:
        data.setdefault("cycle", prompt.context.cycle)
    return model.model_validate(data)


async def send_answer(client: Client, prompt: PendingPrompt, answer: BaseModel, answer_id: str | None = None) -> str:
    """Send a participant's answer to the workflow that asked; the reply to show, or Refused.

    Recruitment answers go to the program in batches, with whatever else arrives at the same moment (see
    domain/batches.py); the caller sees no difference.
    """
    if prompt.kind in BATCHED_KINDS:
        return await send_recruitment_answer(client, prompt.workflow_id, prompt.kind, answer, answer_id)
    _, update = ANSWERS[prompt.kind]
    return await _update(client, prompt.workflow_id, update, answer, answer_id, CLOSED_PROMPT)


async def send_recruitment_answer(
    client: Client, program_id: str, kind: PromptKind, answer: BaseModel, answer_id: str | None = None
) -> str:
    """An opt-in, training or preferences answer to a program, in the next batch (domain/batches.py)."""
    item = BatchedAnswer(request_id=answer_id or new_request_id(), kind=kind, answer=answer.model_dump(mode="json"))
    return await _desk(client, program_id).send(item)


class _Desk:
    """The recruitment answers on their way from this process to one program: one batch in flight at a time,
    and every answer that arrives meanwhile waits for the next (a group commit). A burst of a thousand opt-ins
    becomes a dozen updates rather than a thousand competing for the server's ten in flight per workflow."""

    def __init__(self, client: Client, program_id: str) -> None:
        # Weakly: the desks are kept in a dict keyed weakly by this client, which a strong reference here would
        # keep alive for good (and its connection with it). Whoever is waiting on the desk holds the client.
        self.client, self.program_id = weakref.ref(client), program_id
        self.waiting: dict[str, tuple[BatchedAnswer, list[asyncio.Future[str]]]] = {}
        self.sending: asyncio.Task[None] | None = None

    async def send(self, item: BatchedAnswer) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(item.request_id, (item, []))[1].append(future)  # a double click: answered once
        if self.sending is None or self.sending.done():
            self.sending = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        while self.waiting:
            batch = dict(islice(self.waiting.items(), BATCH_LIMIT))
            for request_id in batch:
                del self.waiting[request_id]
            try:
                await self._send_batch(batch)
            except Exception as error:  # every answer of the batch fails as the update did; later batches go on
                for _, futures in batch.values():
                    _settle(futures, error=error)

    async def _send_batch(self, batch: dict[str, tuple[BatchedAnswer, list[asyncio.Future[str]]]]) -> None:
        """Send the batch; answers refused before it reached the program are settled, and the rest sent again."""
        while batch:
            payload, client = AnswerBatch(answers=[item for item, _ in batch.values()]), self.client()
            if client is None:
                raise RuntimeError("the client these answers were sent through is gone")
            try:
                reply: BatchReply = await _update(
                    client, self.program_id, ProgramWorkflow.answer_batch, payload, None, CLOSED_PROMPT
                )
            except RefusedAnswers as refused:
                for request_id, why in refused.answers.items():
                    _settle(batch.pop(request_id)[1], error=Refused(why.sentence, why.field))
                continue
            for request_id, text in reply.replies.items():
                _settle(batch[request_id][1], result=text)
            for request_id, why in reply.refused.items():
                _settle(batch[request_id][1], error=Refused(why.sentence, why.field))
            return


def _settle(futures: list[asyncio.Future[str]], result: str = "", error: BaseException | None = None) -> None:
    for future in futures:
        if future.done():  # its caller gave up waiting (a closed page); the answer went all the same
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


# One desk per client, event loop and program; weakly by client, so a client's desks go with it. By loop too: a
# desk's sender is a task of one loop, and a client may outlive a loop (a test's, a CLI command's).
_desks: "weakref.WeakKeyDictionary[Client, dict[tuple[asyncio.AbstractEventLoop, str], _Desk]]" = (
    weakref.WeakKeyDictionary()
)


def _desk(client: Client, program_id: str) -> _Desk:
    desks = _desks.setdefault(client, {})
    for closed in [key for key in desks if key[0].is_closed()]:
        del desks[closed]
    key = (asyncio.get_running_loop(), program_id)
    if key not in desks:
        desks[key] = _Desk(client, program_id)
    return desks[key]


async def act(
    client: Client, program_id: str, action: Action, payload: BaseModel, request_id: str | None = None
) -> str:
    """A coordinator's action on a program (or a participant's withdrawal): the sentence it replies with."""
    return await _update(client, program_id, ACTIONS[action], payload, request_id, PROGRAM_GONE)


async def leave_pairing(client: Client, pairing_id: str, withdrawal: Withdrawal, request_id: str | None = None) -> str:
    """A participant steps back from one pairing (the program then counts them withdrawn, as from the program)."""
    return await _update(client, pairing_id, PairingWorkflow.withdraw, withdrawal, request_id, CLOSED_PROMPT)


# Starting
async def start_program(
    client: Client, spec: ProgramSpec, roster: list[Participant], task_queue: str, shelf: PageShelf | None = None
) -> None:
    """Start a program run; AlreadyStarted when Temporal still remembers the id, even of a closed run.

    With a `shelf` (the record's), the roster waits there in pages and the program's input names it: a large
    roster would take too long to decode in one step, or pass the 2 MB payload limit.
    """
    summary = program_summary(spec.program_id, spec, len(roster))
    try:
        await client.start_workflow(
            ProgramWorkflow.run,
            await _program_input(spec, roster, shelf),
            id=spec.program_id,
            task_queue=task_queue,
            search_attributes=search.initial(spec.program_id, "recruitment", "program", summary),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary,
            static_details=program_details(spec.program_id, spec, len(roster)),
        )
    except WorkflowAlreadyStartedError as error:
        run = await client.get_workflow_handle(spec.program_id).describe()
        status = run.status.name.lower().replace("_", " ") if run.status else "unknown"
        phase = run.typed_search_attributes.get(search.PHASE)
        raise AlreadyStarted(EarlierRun(started_at=run.start_time, status=status, phase=phase)) from error


async def _program_input(spec: ProgramSpec, roster: list[Participant], shelf: PageShelf | None) -> ProgramInput:
    if shelf is None:
        return ProgramInput(spec=spec, roster=roster)
    ref = roster_ref(spec.program_id, roster)
    await asyncio.to_thread(shelf.put_all, ref, [Member(person=p).model_dump(mode="json") for p in roster])
    return ProgramInput(spec=spec, roster=[], members_ref=ref)


async def program_result(client: Client, program_id: str) -> ProgramResult:
    return await _program(client, program_id).result()


# Reading
# Handles typed by workflow and result. (Not get_workflow_handle_for(ProgramWorkflow.run, ...): mypy 2.4 infers its
# type parameters as Never when it happens to check this module before the workflow's decorators are resolved.)
def _program(client: Client, program_id: str) -> WorkflowHandle[ProgramWorkflow, ProgramResult]:
    return client.get_workflow_handle(program_id, result_type=ProgramResult)


def _pairing(client: Client, pairing_id: str) -> WorkflowHandle[PairingWorkflow, PairingSummary]:
    return client.get_workflow_handle(pairing_id, result_type=PairingSummary)


async def program_status(client: Client, program_id: str) -> ProgramStatus:
    return await _program(client, program_id).query(ProgramWorkflow.status)


async def program_spec(client: Client, program_id: str) -> ProgramSpec:
    return await _program(client, program_id).query(ProgramWorkflow.program_spec)


async def member_view(client: Client, program_id: str, person: str) -> MemberView | None:
    """A participant's view of their place in the program; None for someone who is not a participant."""
    handle = _program(client, program_id)
    try:
        return await handle.query(ProgramWorkflow.member, person)
    except WorkflowQueryFailedError:
        return None


async def pairing_view(client: Client, pairing_id: str) -> PairingView:
    return await _pairing(client, pairing_id).query(PairingWorkflow.view)


async def pair_record(client: Client, pairing_id: str, person: str) -> PairRecord:
    handle = _pairing(client, pairing_id)
    return await handle.query(PairingWorkflow.pair_record, person)


async def pairing_summary(client: Client, pairing_id: str) -> PairingSummary:
    return await _pairing(client, pairing_id).query(PairingWorkflow.summary)


async def prompts_for(client: Client, program_id: str, person: str) -> list[PendingPrompt]:
    """Every prompt waiting for a person: the program's, and their pairings' (a group mentor has several)."""
    return await prompts_of(client, program_id, person, await member_view(client, program_id, person))


async def prompts_of(client: Client, program_id: str, person: str, member: MemberView | None) -> list[PendingPrompt]:
    """A person's prompts when their member view is already known (None for a coordinator): the program and
    each pairing are asked at once, which keeps the program workflow's query load to one per call."""
    program = _program(client, program_id)
    pairing_ids = [] if member is None else [*([member.pairing_id] if member.pairing_id else []), *member.pairing_ids]
    found = await asyncio.gather(
        program.query(ProgramWorkflow.pending_prompts, person),
        *(_pairing_prompts(client, pairing_id, person) for pairing_id in dict.fromkeys(pairing_ids)),
    )
    return [prompt for prompts in found for prompt in prompts]


async def _pairing_prompts(client: Client, pairing_id: str, person: str) -> list[PendingPrompt]:
    """A pairing's prompts for a person. An approved pairing is named in the member view a moment before its
    workflow starts at kick-off; until then it has no prompts, rather than an error."""
    try:
        handle = _pairing(client, pairing_id)
        return await handle.query(PairingWorkflow.pending_prompts, person)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return []
