"""Bad input of every kind, and what its refusal must say: what the tests of refused answers and actions share.

Hypothesis generates payloads for every update of both workflows: wrong people (strangers, the partner, a
coordinator answering for a participant, look-alike addresses), ratings out of range, cycles that are not open,
empty and oversized lists and text, missing consent, answers at the wrong stage, and values of the wrong type or
shape sent as raw JSON, which the SDK would otherwise fail to decode. Each must be refused with a readable sentence
(an ApplicationError of type "Refused"), add no event to the history and fail no workflow task. The updates go to
workflows waiting in known stages on a local dev server, which drops a rejected update without a trace, as
production does (`waiting_at_every_stage`; tests/integration/conftest.py shares them as the `stages` fixture).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, get_origin

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import answers
from domain.pairing import PairingInput, PairingTerms
from domain.people import Participant
from domain.prompts import PendingPrompt
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, S0, S1, roster, spec
from tests.helpers.programs import Handle, awaiting_approval, settled_history_length, start_pairing, start_program
from tests.helpers.servers import SHUTDOWN_LIMIT, start_dev_server, stop_within
from tests.helpers.waiting import eventually
from worker import build_worker

T = TypeVar("T")
BOSS = "boss@example.com"  # senior01's manager in the program in recruitment; not on its roster
EVERYONE = {J0, S0, J1, S1, BOSS, COORDINATOR}
MODULES = spec().training_modules
PLAN_SKILLS = ["digital tools"]  # what the mentee rates at close-out
EXAMPLES = 12  # per rule an update keeps (171 rules in three files: two to three minutes on two cores)
UPDATE_TIMEOUT = 30.0  # seconds; an update stuck behind a failing workflow task fails the test instead of hanging
MAX_MESSAGE = 2000  # characters: a refusal quotes what was sent, cut short, never all of it
NOT_READABLE = (
    "Traceback",
    "<class",
    "object at 0x",
    "Failed decoding",
    "validation error for",
    "errors.pydantic.dev",
    "[type=",
    "input_value",
    "NoneType",
    "positional argument",
    "Error:",
)


# What is sent, and what its refusal must say


@dataclass(frozen=True)
class Bad:
    stage: str  # which waiting workflow it is sent to
    args: tuple[Any, ...]  # the update's arguments, as raw JSON values
    names: tuple[str, ...]  # the refusal must mention one of these: the field, the person or the rule broken


def assert_readable(message: str, names: tuple[str, ...]) -> None:
    """A sentence for a person: one line, of a sensible length, no Python in it, and it says what was wrong."""
    assert message.strip() == message and message, f"empty or padded: {message!r}"
    assert "\n" not in message, f"more than one line: {message!r}"
    assert len(message) <= MAX_MESSAGE, f"{len(message)} characters: {message[:200]!r}..."
    for marker in NOT_READABLE:
        assert marker not in message, f"{marker!r} in {message!r}"
    assert any(name.lower() in message.lower() for name in names), f"{message!r} mentions none of {names}"


async def history(handle: Handle) -> list[Any]:
    return [event async for event in handle.fetch_history_events()]


async def assert_refused_without_trace(handle: Handle, update: str, bad: Bad) -> str:
    before = await history(handle)
    try:
        reply = await asyncio.wait_for(
            handle.execute_update(update, args=list(bad.args), result_type=str), UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
    else:
        raise AssertionError(f"{update} accepted {bad.args!r}: {reply}")
    after = await history(handle)
    assert isinstance(cause, ApplicationError) and cause.type == "Refused", f"not a refusal: {cause!r}"
    assert_readable(cause.message, bad.names)
    assert len(after) == len(before), f"{len(after) - len(before)} events added by a refused {update}"
    failed_tasks = [e for e in after if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert not failed_tasks, f"a workflow task failed: {failed_tasks[0]}"
    return cause.message


# People: who is sent in the participant or coordinator field


def cased(email: str) -> st.SearchStrategy[str]:
    """The same address as someone might type it: any letter case, stray spaces around it."""
    return st.tuples(
        st.lists(st.booleans(), min_size=len(email), max_size=len(email)),
        st.sampled_from(["", " ", "\t", "  "]),
        st.sampled_from(["", " ", "\n"]),
    ).map(lambda t: t[1] + "".join(c.upper() if up else c for c, up in zip(email, t[0], strict=True)) + t[2])


# A different address that looks like `email`: never the same person once trimmed and lower-cased.
LOOKALIKES: list[Callable[[str], str]] = [
    lambda e: e.replace("@", "\u200b@", 1),  # zero-width space
    lambda e: e.replace("e", "\u0435", 1),  # Cyrillic e
    lambda e: e.replace("i", "\u0130", 1),  # Turkish dotted capital I, which lower-cases to two characters
    lambda e: e.replace("@", "\uff20", 1),  # full-width @
    lambda e: "\uff4a" + e[1:],  # full-width first letter
    lambda e: e + ".",
    lambda e: e.replace("@", " @", 1),
    lambda e: e.replace("@", "\x00@", 1),
]


def lookalike(email: str) -> st.SearchStrategy[str]:
    return st.sampled_from(LOOKALIKES).map(lambda edit: edit(email)).filter(lambda e: e != email)  # letter absent


def someone_else(refusal: str, *known: str, looks_like: str = J0) -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    """Someone the update is not for, and what its refusal says about them.

    `known` are people of the program who are still the wrong ones here (the coordinator for a participant's
    answer, a participant for a coordinator's action, someone outside this pairing).
    """
    wrong_people = [st.sampled_from(["stranger@example.com", "junior00@example.org", "x@y.z"])]
    if known:
        wrong_people.append(st.sampled_from(known).flatmap(cased))
    return st.one_of(
        *wrong_people,
        st.emails().filter(lambda e: e.strip().lower() not in EVERYONE),
        lookalike(looks_like),
        st.text(max_size=30).filter(lambda t: "@" not in t),  # not even an address
        st.integers(250, 20_000).map(lambda n: "a" * n + "@example.com"),  # too long for the message to repeat
    ).map(lambda who: (who, (refusal,)))


# Values: text, ratings and cycles that break a rule

LONG_TEXT = st.integers(answers.MAX_TEXT + 1, 5 * answers.MAX_TEXT).map(lambda n: "word " * (n // 5 + 1))
CONTROLS = st.sampled_from(["\x00", "\x07", "\x1b[31m", "\x7f", "\x0b"])
CONTROL_TEXT = st.tuples(st.text(max_size=10), CONTROLS, st.text(max_size=10)).map("".join)
BAD_TEXT = st.one_of(LONG_TEXT, CONTROL_TEXT)  # a reason, comment or recap that must be refused
LONG_ITEM = st.integers(answers.MAX_SHORT + 1, 3 * answers.MAX_SHORT).map(lambda n: "y" * n)
OUT_OF_RANGE = st.one_of(st.integers(max_value=0), st.integers(min_value=6))  # a 1-5 rating
NOT_CYCLE_ONE = st.integers().filter(lambda c: c != 1)


# Values of the wrong type for each kind of field: none of them decodes (pydantic's lax mode would read a
# "4" as 4, or true as 1, so those are left out).
WRONG_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "text": st.one_of(st.integers(), st.sampled_from([1.5, True, [], {}, None, ["a"]])),
    "bool": st.sampled_from(["maybe", "neither", 2, 1.5, [], {}, None]),
    "int": st.one_of(st.sampled_from([4.5, [], {}, None, "", "1e400"]), st.text("abcxyz", min_size=1)),
    "list": st.sampled_from(["a, b", 5, {}, None, True]),
    "object": st.sampled_from(["text", 5, [], None, True]),
    "duration?": st.sampled_from([5, "soon", "3x", "-1d", [], {}, True, "99999999999999w"]),
    "list?": st.sampled_from(["a, b", 5, {}, True]),
}
NOT_OBJECTS = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


def kind_of(model: type[BaseModel], field: str) -> str:
    annotation = model.model_fields[field].annotation
    if annotation in (str, bool, int):
        return {str: "text", bool: "bool", int: "int"}[annotation]  # type: ignore[index]
    if get_origin(annotation) is list:
        return "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return "list?" if "list" in str(annotation) else "duration?"


Rules = dict[str, st.SearchStrategy[Bad]]  # each rule an update must keep, and payloads that break it


def misshapen(stage: str, model: type[BaseModel], good: dict[str, Any]) -> Rules:
    """`good` spoilt in its shape: not an object, a field missing or of the wrong type, or not one argument."""
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    return {
        "not an object": NOT_OBJECTS.map(lambda v: Bad(stage, (v,), ("object",))),
        "a field missing": st.sampled_from(required).map(
            lambda f: Bad(stage, ({k: v for k, v in good.items() if k != f},), (f,))
        ),
        "a field of the wrong type": st.sampled_from(sorted(good)).flatmap(
            lambda f: WRONG_TYPE[kind_of(model, f)].map(lambda v: Bad(stage, ({**good, f: v},), (f,)))
        ),
        "not one argument": st.sampled_from([(), (good, good), (good, None)]).map(
            lambda args: Bad(stage, args, ("one answer",))
        ),
    }


def any_of(*strategies: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """One of `strategies`, each as likely as the others: st.one_of flattens nested ones, favouring the bigger."""
    return st.sampled_from(strategies).flatmap(lambda chosen: chosen)


def to(stage: str, names: tuple[str, ...], **fields: Any) -> Bad:
    return Bad(stage, (fields,), names)


GOOD_PLAN = {
    "participant": S0,
    "goals": ["Use the team's tools"],
    "skills": PLAN_SKILLS,
    "meeting_every": "1h",
    "channel": "video",
    "accept_ground_rules": True,
}


def broken_rules(workflow: str, updates: dict[str, Rules]) -> list[Any]:
    """One test parameter per rule of each update, named "<workflow>.<update>: <rule>"."""
    return [
        pytest.param(update, rule, id=f"{workflow}.{update}: {rule}")
        for update, rules in updates.items()
        for rule in rules
    ]


# The waiting workflows. A program's stages: "recruiting" (J0 opted in, S0 and S1 invited, J1 withdrew), "training"
# (self-select, paused; J0, S0 and J1 opted in and must train, S1 did not join), "approving" (a proposal waits for
# approval). A pairing's: "introduction" (J0, the mentor, accepted; S0 has not answered), "planning" (both accepted,
# no plan yet), "mentoring" (check-in 1, J0's pulse 1 and the mid-point survey open for both), "closing" (the
# close-out survey open for both).


def has_prompts(handle: Handle, email: str, *prompt_ids: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        prompts = await handle.query("pending_prompts", email, result_type=list[PendingPrompt])
        return set(prompt_ids) <= {p.id for p in prompts}

    return check


async def send(handle: Handle, update: str, **fields: Any) -> str:
    reply: str = await handle.execute_update(update, fields, result_type=str)
    return reply


async def invited(h: Harness, name: str, people: list[Participant], **overrides: Any) -> Handle:
    handle = await start_program(h, spec(name=name, **overrides), people)
    await eventually(has_prompts(handle, S0, "opt-in"), f"{name}: invitations")
    return handle


async def recruiting(h: Harness) -> Handle:
    people = roster(2)
    people[3] = people[3].model_copy(update={"manager_email": BOSS})  # senior01
    handle = await invited(h, "Bad input recruiting", people)
    await send(handle, "opt_in", participant=J0, consent_to_ground_rules=True)
    await send(handle, "withdraw", participant=J1, reason="changed team")
    return handle


async def training(h: Harness) -> Handle:
    handle = await invited(h, "Bad input training", roster(2), matching={"mode": "self_select"})
    for email in (J0, S0, J1):
        await send(handle, "opt_in", participant=email, consent_to_ground_rules=True)
    await send(handle, "close_recruitment", coordinator=COORDINATOR)
    await eventually(has_prompts(handle, J0, "training", "preferences"), "training opens")
    await send(handle, "pause", coordinator=COORDINATOR)
    return handle


async def approving(h: Harness, name: str = "Bad input approving") -> Handle:
    handle = await invited(h, name, roster(1))
    for email in (J0, S0):
        await send(handle, "opt_in", participant=email, consent_to_ground_rules=True)
    await send(handle, "close_recruitment", coordinator=COORDINATOR)
    await eventually(has_prompts(handle, S0, "training"), "training opens")
    for email in (J0, S0):
        await send(handle, "complete_training", participant=email, modules=MODULES)
    await eventually(lambda: awaiting_approval(handle), "a proposal to approve")
    return handle


PAIRING_STAGES = ["introduction", "planning", "mentoring", "closing"]


async def pairing(h: Harness, stage: str) -> Handle:
    """A pairing started on its own (as bench/lifecycle.py does), answered up to `stage`."""
    mentor, mentee = roster(1)
    closing = stage == "closing"  # two one-second cycles, then the close-out survey
    terms = PairingTerms(
        program_id="program-bad-input",
        coordinators=[COORDINATOR],
        ground_rules=["Taking part is voluntary"],
        answer_window=timedelta(hours=1),
        nudge_before=timedelta(minutes=5),
        default_cadence=timedelta(seconds=1) if closing else timedelta(hours=1),
        cadence_min=timedelta(minutes=30),
        cadence_max=timedelta(hours=2),
        missed_alert_after=2,
        low_answer=2,
        mentoring_length=timedelta(seconds=2) if closing else timedelta(hours=10),
        midpoint_after=timedelta(0),
    )
    inp = PairingInput(
        pairing_id=f"pairing-bad-input-{stage}-{h.settings.task_queue[-8:]}", mentor=mentor, mentee=mentee, terms=terms
    )
    handle = await start_pairing(h.client, inp, h.settings.task_queue)
    await eventually(has_prompts(handle, S0, "accept-match"), f"{stage}: introduction")
    await send(handle, "answer_match", participant=J0, accept=True)
    if stage == "introduction":
        return handle
    await send(handle, "answer_match", participant=S0, accept=True)
    await eventually(has_prompts(handle, S0, "plan"), f"{stage}: planning")
    if stage == "planning":
        return handle
    await send(handle, "propose_plan", **{**GOOD_PLAN, "meeting_every": None})
    await send(handle, "agree_plan", participant=J0, accept_ground_rules=True)
    waiting_for = ["closeout-survey"] if closing else ["check-in-1", "pulse-1", "midpoint-survey"]
    await eventually(has_prompts(handle, J0, *waiting_for), f"{stage}: {', '.join(waiting_for)}")
    return handle


@asynccontextmanager
async def waiting_at_every_stage(folder: Path) -> AsyncIterator[dict[str, Handle]]:
    """Workflows waiting at every stage, by stage, on a dev server of their own, with a worker: nothing there moves
    by time, so a module's or a package's tests can share them."""
    dev_env = await start_dev_server()
    h = Harness(dev_env, folder)
    try:
        async with build_worker(dev_env.client, h.settings, channel=h.channel, store=h.store):
            built = await asyncio.gather(
                recruiting(h), training(h), approving(h), *(pairing(h, stage) for stage in PAIRING_STAGES)
            )
            handles = dict(zip(["recruiting", "training", "approving", *PAIRING_STAGES], built, strict=True))
            for handle in handles.values():
                await settled_history_length(handle)
            yield handles
    finally:
        h.store.dispose()
        await stop_within(dev_env.shutdown(), SHUTDOWN_LIMIT)


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
