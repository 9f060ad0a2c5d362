"""Recruitment answers sent to a program in batches.

When a program opens, hundreds of people answer its invitation within a minute, and each answer goes to the one
program workflow. Sent one update each, they queue behind the server's ten updates in flight per workflow, and
a burst of them had the server abort updates faster than the program could take them
(docs/incidents/2026-12-06-opt-in-burst-update-aborts/). The gateway therefore gathers the answers that arrive
while one batch is on its way and sends them as the next one: one update, one workflow task, many answers.

Every answer in a batch keeps its own request id, so a re-sent answer is still taken once (workflows/receipts.py),
and its own reply or refusal. A batch with an answer the rules refuse is refused as a whole before it reaches the
program's history, naming each refused answer; the gateway hands those back and sends the rest again.
"""

from typing import Any

from pydantic import BaseModel

from domain.answers import Refusal
from domain.prompts import PromptKind

# The answers a program takes in batches: the ones everybody sends, in the program's first days.
BATCHED_KINDS = frozenset({PromptKind.OPT_IN, PromptKind.TRAINING, PromptKind.PREFERENCES})

# The type of the error that refuses a batch; its details map each refused answer's request id to a RefusedAnswer.
BATCH_REFUSED = "RefusedAnswers"

# At most this many answers in one update: a few hundred bytes each, and one workflow task applies them all.
BATCH_LIMIT = 100


class BatchedAnswer(BaseModel):
    request_id: str
    kind: PromptKind
    answer: dict[str, Any]  # read as the kind's answer model by the program, which refuses a wrong shape in words


class AnswerBatch(BaseModel):
    answers: list[BatchedAnswer]


class RefusedAnswer(BaseModel):
    sentence: str
    field: str | None = None


class BatchReply(BaseModel):
    """What each answer of a batch got, by request id: its reply, or why it was refused."""

    replies: dict[str, str] = {}
    refused: dict[str, RefusedAnswer] = {}


def check_batch(batch: AnswerBatch) -> None:
    """A batch as a whole (the answers in it are checked one by one, by the program's rules)."""
    if not batch.answers:
        raise Refusal("a batch holds at least one answer")
    if len(batch.answers) > BATCH_LIMIT:
        raise Refusal(f"a batch holds at most {BATCH_LIMIT} answers, not {len(batch.answers)}")
    strays = sorted({a.kind.value for a in batch.answers if a.kind not in BATCHED_KINDS})
    if strays:
        raise Refusal(f"only opt-ins, training and preferences are taken in a batch, not {', '.join(strays)}")
