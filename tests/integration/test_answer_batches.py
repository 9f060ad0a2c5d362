"""Recruitment answers sent at the same moment reach the program in batches (domain/batches.py), and each is still
taken, refused or answered again exactly as if it had been sent alone.

On the local dev server (`dev_harness`), which enforces the server's ten updates in flight per workflow and drops
the task of an update its validator refuses, as production does.
"""

import asyncio
import gc
import weakref

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import replies
from domain.batches import BATCH_LIMIT, AnswerBatch, BatchedAnswer
from domain.prompts import PendingPrompt, PromptKind
from domain.views import MemberStatus
from flipside_client import Refused, build_answer, new_answer_id, prompts_for, send_answer
from tests.helpers.driving import answer_until
from tests.helpers.harness import Harness
from tests.helpers.people import J0, S0, roster, spec
from tests.helpers.programs import Handle, history_length, member, refusal, settled_history_length, start_program

PEOPLE = roster(12)  # 24 people: more than the server's ten updates in flight per workflow


async def opt_in_prompts(h: Harness) -> tuple[Handle, dict[str, PendingPrompt]]:
    """A program whose every invitation is open; each person's opt-in prompt."""
    handle = await start_program(h, spec(), PEOPLE)

    async def invitations_out() -> bool:
        return len(await prompts_for(h.client, handle.id, PEOPLE[-1].email)) == 1

    await answer_until(h, handle, {}, invitations_out)
    prompts = {p.email: (await prompts_for(h.client, handle.id, p.email))[0] for p in PEOPLE}
    assert {p.kind for p in prompts.values()} == {PromptKind.OPT_IN}
    return handle, prompts


async def opt_in(
    h: Harness, prompt: PendingPrompt, email: str, consent: bool = True, answer_id: str | None = None
) -> str:
    return await send_answer(
        h.client, prompt, build_answer(prompt, email, {"consent_to_ground_rules": consent}), answer_id
    )


async def accepted_updates(handle: Handle) -> int:
    kind = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return len([e async for e in handle.fetch_history_events() if e.event_type == kind])


async def test_everyone_opting_in_at_once_is_taken_in_a_few_updates(dev_harness: Harness) -> None:
    handle, prompts = await opt_in_prompts(dev_harness)
    before = await accepted_updates(handle)

    answered = await asyncio.gather(*(opt_in(dev_harness, prompt, email) for email, prompt in prompts.items()))

    assert answered == [replies.WELCOME_TRAINING_NEXT] * len(PEOPLE)
    assert [(await member(handle, p.email)).status for p in PEOPLE] == [MemberStatus.OPTED_IN] * len(PEOPLE)
    assert await accepted_updates(handle) - before <= 3, "24 answers sent together go in one batch, or a few"


async def test_a_refused_answer_among_others_is_refused_alone_and_leaves_no_trace(dev_harness: Harness) -> None:
    handle, prompts = await opt_in_prompts(dev_harness)
    consenting = {email: p for email, p in prompts.items() if email != J0}

    sent = [opt_in(dev_harness, prompts[J0], J0, consent=False)]
    sent += [opt_in(dev_harness, prompt, email) for email, prompt in consenting.items()]
    refused, *taken = await asyncio.gather(*sent, return_exceptions=True)

    assert isinstance(refused, Refused) and "consent to the ground rules" in refused.sentence
    assert refused.field == "consent_to_ground_rules"
    assert taken == [replies.WELCOME_TRAINING_NEXT] * len(consenting)
    assert (await member(handle, J0)).status == MemberStatus.INVITED
    assert (await member(handle, S0)).status == MemberStatus.OPTED_IN


async def test_an_answer_sent_twice_is_taken_once_with_one_reply(dev_harness: Harness) -> None:
    handle, prompts = await opt_in_prompts(dev_harness)
    answer_id = new_answer_id()

    together = await asyncio.gather(*(opt_in(dev_harness, prompts[J0], J0, answer_id=answer_id) for _ in range(3)))
    again = await opt_in(dev_harness, prompts[J0], J0, answer_id=answer_id)  # after its batch, alone

    assert together == [replies.WELCOME_TRAINING_NEXT] * 3
    assert (await member(handle, J0)).status == MemberStatus.OPTED_IN
    assert again == replies.WELCOME_TRAINING_NEXT, "a re-sent answer gets its first reply, not 'already answered'"
    second = await refusal(opt_in(dev_harness, prompts[J0], J0))  # a new answer, not a re-send
    assert "already answered the invitation" in second


async def test_two_answers_to_one_invitation_in_one_batch_take_the_first(dev_harness: Harness) -> None:
    """Both pass the batch's check against the program as it was; the second is refused as the first is taken."""
    handle, prompts = await opt_in_prompts(dev_harness)

    first, second = await asyncio.gather(
        *(opt_in(dev_harness, prompts[J0], J0) for _ in range(2)), return_exceptions=True
    )

    assert first == replies.WELCOME_TRAINING_NEXT
    assert isinstance(second, Refused) and "already answered the invitation" in second.sentence
    assert (await member(handle, J0)).status == MemberStatus.OPTED_IN


async def test_a_batch_the_program_cannot_read_is_refused_in_words_before_history(dev_harness: Harness) -> None:
    handle, _ = await opt_in_prompts(dev_harness)
    yes = {"participant": J0, "consent_to_ground_rules": True}
    check_in = BatchedAnswer(request_id="a", kind=PromptKind.CHECK_IN, answer={})
    too_many = [BatchedAnswer(request_id=str(i), kind=PromptKind.OPT_IN, answer=yes) for i in range(BATCH_LIMIT + 1)]
    cases = {
        "at least one answer": AnswerBatch(answers=[]),
        f"at most {BATCH_LIMIT} answers": AnswerBatch(answers=too_many),
        "not check_in": AnswerBatch(answers=[check_in]),
        "a list": {"answers": "everyone"},
    }
    length = await settled_history_length(handle)

    for words, batch in cases.items():
        try:
            await handle.execute_update("answer_batch", batch)
        except WorkflowUpdateFailedError as failed:
            assert isinstance(failed.cause, ApplicationError) and failed.cause.type == "Refused"
            assert words in failed.cause.message, f"{words!r} not in {failed.cause.message!r}"
        else:
            raise AssertionError(f"a batch that should say {words!r} was taken")

    assert await history_length(handle) == length
    assert (await member(handle, J0)).status == MemberStatus.INVITED


async def test_a_client_that_sent_answers_in_batches_can_be_let_go(dev_harness: Harness) -> None:
    """The gateway keeps its batches per client without holding on to the client (a CLI command's, a test's)."""
    _, prompts = await opt_in_prompts(dev_harness)
    client = Client(**dev_harness.client.config())
    assert await opt_in(dev_harness, prompts[J0], J0) == replies.WELCOME_TRAINING_NEXT  # the harness's own client
    answer = build_answer(prompts[S0], S0, {"consent_to_ground_rules": True})
    assert await send_answer(client, prompts[S0], answer) == replies.WELCOME_TRAINING_NEXT

    let_go = weakref.ref(client)
    del client
    gc.collect()
    assert let_go() is None
