"""What a client of Flipside does: find a person's pending prompts across workflows and answer them.

Used by the coordinator CLI, the demo and the tests; the web portal of a later release uses it too.
"""

import asyncio
import uuid
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

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
)
from domain.program import MemberView, ProgramStatus
from domain.prompts import CLOSED_PROMPT, PendingPrompt, PromptKind

ANSWER_TYPES: dict[PromptKind, type[BaseModel]] = {
    PromptKind.OPT_IN: OptIn,
    PromptKind.TRAINING: TrainingCompleted,
    PromptKind.PREFERENCES: Preferences,
    PromptKind.APPROVE_MATCHES: Approval,
    PromptKind.ACCEPT_MATCH: MatchAnswer,
    PromptKind.PROPOSE_PLAN: PlanProposal,
    PromptKind.AGREE_PLAN: PlanAgreement,
    PromptKind.CHECK_IN: CheckIn,
    PromptKind.PULSE: Pulse,
    PromptKind.MIDPOINT_SURVEY: MidpointAnswers,
    PromptKind.CLOSEOUT_SURVEY: CloseoutAnswers,
}


# A query that met a busy worker or a run changing hands, where asking again is safe and soon answered: the
# client's deadline ("Timeout expired"), the server's, and "buffered query cleared, please retry" (seen as both
# UNAVAILABLE and FAILED_PRECONDITION when the workflow's task failed or its run continued as new).
PASSING_QUERY_ERRORS = frozenset(
    {
        RPCStatusCode.CANCELLED,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.FAILED_PRECONDITION,
    }
)


class Refused(Exception):
    """An answer the workflow refused; str() is the sentence to show the person."""


def cycle_of(prompt: PendingPrompt) -> int | None:
    """The check-in cycle a prompt belongs to ("check-in-3" -> 3)."""
    tail = prompt.id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def build_answer(prompt: PendingPrompt, person: str, fields: dict[str, Any]) -> BaseModel:
    """An answer model for a prompt from loose fields; who answers and the cycle come from the prompt."""
    model = ANSWER_TYPES[prompt.kind]
    data = dict(fields)
    key = "coordinator" if prompt.kind == PromptKind.APPROVE_MATCHES else "participant"
    data.setdefault(key, person)
    if "cycle" in model.model_fields and cycle_of(prompt) is not None:
        data.setdefault("cycle", cycle_of(prompt))
    return model.model_validate(data)


def new_answer_id() -> str:
    """A fresh update id for an answer: random, so the history shows neither who answered nor what (an id made
    from the answer could be recomputed from a roster and the few answers a prompt allows). Send an answer again
    after a failure that left you unsure (a timeout, a restart) with the id it was first sent with: it is then
    taken once, in a later run too (workflows/receipts.py)."""
    return uuid.uuid4().hex


async def send_answer(client: Client, prompt: PendingPrompt, answer: BaseModel, answer_id: str | None = None) -> str:
    handle = client.get_workflow_handle(prompt.workflow_id)
    update_id = answer_id or new_answer_id()
    try:
        result: str = await handle.execute_update(prompt.update, answer, id=update_id, result_type=str)
        return result
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "Refused":
            raise Refused(cause.message) from error
        raise
    except RPCError as error:  # no open run to take it: the workflow closed after the prompt was read
        if error.status == RPCStatusCode.NOT_FOUND:
            raise Refused(CLOSED_PROMPT) from error
        raise


async def program_status(client: Client, program_id: str) -> ProgramStatus:
    status: ProgramStatus = await client.get_workflow_handle(program_id).query("status", result_type=ProgramStatus)
    return status


async def prompts_for(client: Client, program_id: str, person: str) -> list[PendingPrompt]:
    """Every prompt waiting for a person: the program's, and their pairings' (a group mentor has several)."""
    try:
        member = await client.get_workflow_handle(program_id).query("member", person, result_type=MemberView)
    except WorkflowQueryFailedError:  # coordinators are not members; their prompts are all on the program
        return await prompts_of(client, program_id, person, None)
    return await prompts_of(client, program_id, member.email, member)


async def prompts_of(client: Client, program_id: str, person: str, member: MemberView | None) -> list[PendingPrompt]:
    """A person's prompts when their member view is already known (None for a coordinator): the program and
    each pairing are asked at once, which keeps the program workflow's query load to one per call."""
    program = client.get_workflow_handle(program_id)
    pairing_ids = [] if member is None else [*([member.pairing_id] if member.pairing_id else []), *member.pairing_ids]
    found = await asyncio.gather(
        program.query("pending_prompts", person, result_type=list[PendingPrompt]),
        *(_pairing_prompts(client, pairing_id, person) for pairing_id in dict.fromkeys(pairing_ids)),
    )
    return [prompt for prompts in found for prompt in prompts]


async def _pairing_prompts(client: Client, pairing_id: str, person: str) -> list[PendingPrompt]:
    """A pairing's prompts for a person. An approved pairing is named in the member view a moment before its
    workflow starts at kick-off; until then it has no prompts, rather than an error."""
    try:
        found: list[PendingPrompt] = await client.get_workflow_handle(pairing_id).query(
            "pending_prompts", person, result_type=list[PendingPrompt]
        )
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return []
    return found
