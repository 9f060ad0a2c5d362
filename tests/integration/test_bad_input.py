"""Bad input of every kind is refused in words and leaves no trace.

Hypothesis generates payloads for every update of both workflows: wrong people (strangers, the partner, a
coordinator answering for a participant, look-alike addresses), ratings out of range, cycles that are not
open, empty and oversized lists and text, missing consent, answers at the wrong stage, and values of the
wrong type or shape sent as raw JSON, which the SDK would otherwise fail to decode. Each must be refused with
a readable sentence (an ApplicationError of type "Refused"), add no event to the history and fail no workflow
task. The updates run on the local dev server (`dev_env`), which drops a rejected update without a trace, as
production does; the workflows wait in known stages for the whole module, and nothing there moves by time.

Program specs and rosters go through `starter.py`'s own loading path: a bad file is reported by line or field,
nothing starts, and the good files they were spoilt from still load.
"""

import asyncio
import csv
import io
import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import starter
from domain import answers
from domain.metrics import PairingSummary
from domain.pairing import MENTOR_SKILLS, PairingInput, PairingTerms
from domain.people import ROSTER_HEADER, Participant
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt
from domain.spec import Kpi, MatchingMode
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, S0, S1, roster, spec
from tests.helpers.programs import Handle, member, once_started, settled_history_length, start_program, status
from tests.helpers.servers import SHUTDOWN_LIMIT, start_dev_server, stop_within
from tests.helpers.waiting import eventually
from worker import build_worker
from workflows import search
from workflows.pairing import PairingWorkflow

T = TypeVar("T")
BOSS = "boss@example.com"  # senior01's manager in the program in recruitment; not on its roster
EVERYONE = {J0, S0, J1, S1, BOSS, COORDINATOR}
MODULES = spec().training_modules
PLAN_SKILLS = ["digital tools"]  # what the mentee rates at close-out
EXAMPLES = 12  # per rule an update keeps (171 rules); the whole file takes two to three minutes on two cores
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


# Program updates. Stages: "recruiting" (J0 opted in, S0 and S1 invited, J1 withdrew), "training" (self-select,
# paused; J0, S0 and J1 opted in and must train, S1 did not join), "approving" (a proposal waits for approval).

NOT_PARTICIPANT = "is not a participant"
NOT_COORDINATOR = "is not a coordinator"
COORDINATOR_GOOD = {"coordinator": COORDINATOR, "reason": "as planned"}
NEWCOMER = {"email": "newcomer@example.com", "name": "New Comer", "role": "mentor", "seniority": 2}


def by_participant() -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    return someone_else(NOT_PARTICIPANT, COORDINATOR, BOSS, looks_like=S0)


def by_non_coordinator() -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    return someone_else(NOT_COORDINATOR, J0, S0, J1, looks_like=COORDINATOR)


def opt_in() -> Rules:
    good = {"participant": S0, "consent_to_ground_rules": True}
    return {
        "someone not invited": st.tuples(by_participant(), st.booleans()).map(
            lambda t: to("recruiting", t[0][1], participant=t[0][0], consent_to_ground_rules=t[1])
        ),
        "no consent": st.tuples(cased(S0), st.sampled_from([{}, {"consent_to_ground_rules": False}])).map(
            lambda t: to("recruiting", ("consent to the ground rules",), participant=t[0], **t[1])
        ),
        "answered already": st.tuples(st.sampled_from([J0, J1]).flatmap(cased), st.booleans()).map(
            lambda t: to("recruiting", ("already answered",), participant=t[0], consent_to_ground_rules=t[1])
        ),
        "after recruitment": st.just(
            to("training", ("recruitment", "closed"), participant=S1, consent_to_ground_rules=True)
        ),
        **misshapen("recruiting", answers.OptIn, good),
    }


def complete_training() -> Rules:
    misspelt = ["Reverse-Mentoring-101", " giving-candid-feedback", "reverse-mentoring-101\n", "line\nbreak", ""]
    unknown = st.one_of(st.sampled_from(misspelt), st.text(max_size=40).filter(lambda m: m not in MODULES))
    with_unknown = st.tuples(st.lists(st.sampled_from(MODULES), max_size=3), st.lists(unknown, min_size=1)).flatmap(
        lambda t: st.permutations(t[0] + t[1])
    )
    too_many = st.integers(answers.MAX_ITEMS + 1, 60).map(lambda n: [MODULES[0]] * n)
    return {
        "an unknown module": st.tuples(cased(J0), with_unknown).map(
            lambda t: to("training", ("unknown module", "modules"), participant=t[0], modules=t[1])
        ),
        "too many modules": st.tuples(cased(J0), too_many).map(
            lambda t: to("training", ("at most 20 modules",), participant=t[0], modules=t[1])
        ),
        "no module": st.just(to("training", ("at least one module",), participant=J0, modules=[])),
        "someone who did not join": st.just(
            to("training", ("no training to complete",), participant=S1, modules=MODULES)
        ),
        "someone not invited": by_participant().map(lambda p: to("training", p[1], participant=p[0], modules=MODULES)),
        "before training": st.just(to("recruiting", ("training is not open",), participant=J0, modules=MODULES)),
        **misshapen("training", answers.TrainingCompleted, {"participant": J0, "modules": MODULES}),
    }


def submit_preferences() -> Rules:
    """J0 may rank S0 alone; every list here breaks one rule, and the refusal names that rule."""
    others = [f"person{i}@example.com" for i in range(8)]
    maybe_s0 = st.lists(st.just(S0), max_size=1)

    def ranking(ranked: st.SearchStrategy[list[str]], why: str) -> st.SearchStrategy[Bad]:
        return st.tuples(cased(J0), ranked).map(lambda t: to("training", (why,), participant=t[0], ranked=t[1]))

    return {
        "nobody ranked": ranking(st.just([]), "at least one"),
        "more than five": ranking(st.integers(6, 8).map(lambda n: others[:n]), "at most 5"),
        "someone twice": ranking(cased(S0).map(lambda s: [S0, s]), "once"),
        "themselves": ranking(maybe_s0.map(lambda rest: [J0, *rest]), "yourself"),
        "a stranger": ranking(maybe_s0.map(lambda rest: ["stranger@example.com", *rest]), "not taking part"),
        "someone who did not join": ranking(st.just([S1]), "not taking part"),
        "someone the rules rule out": ranking(maybe_s0.map(lambda rest: [J1, *rest]), "do not let you be paired"),
        "not an address": ranking(
            st.text(max_size=20).filter(lambda t: "@" not in t).map(lambda t: [S0, t]), "not taking part"
        ),
        "without a prompt": st.just(to("training", ("no pending list",), participant=S1, ranked=[S0])),
        "someone not invited": by_participant().map(lambda p: to("training", p[1], participant=p[0], ranked=[S0])),
        "matched by algorithm": st.just(to("recruiting", ("by algorithm",), participant=J0, ranked=[S0])),
        **misshapen("training", answers.Preferences, {"participant": J0, "ranked": [S0]}),
    }


def program_withdraw() -> Rules:
    return {
        "someone not invited": st.tuples(st.sampled_from(["recruiting", "training"]), by_participant()).map(
            lambda t: to(t[0], t[1][1], participant=t[1][0])
        ),
        "withdrawn already": cased(J1).map(lambda p: to("recruiting", ("already withdrawn",), participant=p)),
        "a reason that cannot be kept": st.tuples(st.sampled_from([J0, S0]), BAD_TEXT).map(
            lambda t: to("recruiting", ("reason",), participant=t[0], reason=t[1])
        ),
        **misshapen("recruiting", answers.Withdrawal, {"participant": S0, "reason": "workload"}),
    }


def approve_matches() -> Rules:
    pool = st.sampled_from([J0, S0, J1, "stranger@example.com"]).flatmap(cased)
    pairs = st.lists(st.tuples(pool, pool), min_size=1, max_size=30).filter(
        lambda ps: [(m.strip().lower(), e.strip().lower()) for m, e in ps] != [(J0, S0)]  # the one good edit
    )
    pair_problems = ("cannot mentor", "not taking part", "not available", "more than one pair", "would mentor more")
    good_pairs = [{"mentor": J0, "mentee": S0}]
    return {
        "not a coordinator": by_non_coordinator().map(lambda c: to("approving", c[1], coordinator=c[0])),
        "no pairs": st.just(to("approving", ("at least one pair",), coordinator=COORDINATOR, pairs=[])),
        "pairs that break the rules": pairs.map(
            lambda ps: to(
                "approving",
                pair_problems,
                coordinator=COORDINATOR,
                pairs=[{"mentor": m, "mentee": e} for m, e in ps],
            )
        ),
        "no proposal": st.just(to("recruiting", ("no proposal",), coordinator=COORDINATOR)),
        **misshapen("approving", answers.Approval, {"coordinator": COORDINATOR, "pairs": good_pairs}),
    }


def add_participant() -> Rules:
    roles = {"mentor", "mentee", "either"}

    def adding(person: st.SearchStrategy[dict[str, Any]], *why: str) -> st.SearchStrategy[Bad]:
        return person.map(lambda p: to("recruiting", why, coordinator=COORDINATOR, participant=p))

    return {
        "not a coordinator": by_non_coordinator().map(
            lambda c: to("recruiting", c[1], coordinator=c[0], participant=NEWCOMER)
        ),
        "someone invited already": adding(
            st.sampled_from([J0, S0, J1, S1]).flatmap(cased).map(lambda e: {**NEWCOMER, "email": e}), "already invited"
        ),
        "their own manager": adding(st.just({**NEWCOMER, "manager_email": NEWCOMER["email"]}), "own manager"),
        "a loop of managers": adding(
            st.just({**NEWCOMER, "email": BOSS, "seniority": 9, "manager_email": S1}), "loops back"
        ),
        "a seniority out of range": adding(
            st.integers().filter(lambda n: not 0 <= n <= 20).map(lambda n: {**NEWCOMER, "seniority": n}),
            "participant.seniority",
        ),
        "an unknown role": adding(
            st.text(max_size=10).filter(lambda r: r not in roles).map(lambda r: {**NEWCOMER, "role": r}),
            "participant.role",
        ),
        "not an address": adding(
            st.sampled_from(["", "newcomer", "new comer@example.com"]).map(lambda e: {**NEWCOMER, "email": e}),
            "participant.email",
        ),
        "no name": adding(
            st.sampled_from(["", " ", "\t\n"]).map(lambda n: {**NEWCOMER, "name": n}), "participant.name"
        ),
        "a name that cannot be kept": adding(
            st.one_of(LONG_ITEM, CONTROL_TEXT).map(lambda n: {**NEWCOMER, "name": n}), "participant.name"
        ),
        "a department that cannot be kept": adding(
            CONTROL_TEXT.map(lambda d: {**NEWCOMER, "department": d}), "participant.department"
        ),
        "skills that are not a list": adding(
            st.sampled_from(["a, b", 5, {}, True]).map(lambda v: {**NEWCOMER, "skills_offered": v}),
            "participant.skills_offered",
        ),
        "after recruitment": st.just(
            to("training", ("while recruitment is open",), coordinator=COORDINATOR, participant=NEWCOMER)
        ),
        **misshapen("recruiting", answers.NewParticipant, {"coordinator": COORDINATOR, "participant": NEWCOMER}),
    }


def coordinator_action(wrong_stages: dict[str, str], live: str) -> Rules:
    """A coordinator's control: by someone else, with a reason that cannot be kept, or where it does not apply."""
    rules = {
        "not a coordinator": st.tuples(
            st.sampled_from(["recruiting", "training", "approving"]), by_non_coordinator()
        ).map(lambda t: to(t[0], t[1][1], coordinator=t[1][0])),
        "a reason that cannot be kept": BAD_TEXT.map(
            lambda r: to(live, ("reason",), coordinator=COORDINATOR, reason=r)
        ),
        **misshapen(live, answers.CoordinatorAction, COORDINATOR_GOOD),
    }
    if wrong_stages:
        rules["at the wrong time"] = st.sampled_from(sorted(wrong_stages.items())).flatmap(
            lambda item: cased(COORDINATOR).map(lambda c: to(item[0], (item[1],), coordinator=c))
        )
    return rules


def rematch() -> Rules:
    good = {"coordinator": COORDINATOR, "pairing_id": "pairing-x", "reason": ""}
    return {
        "no such pairing": st.text(max_size=300).map(
            lambda p: to("approving", ("no pairing",), coordinator=COORDINATOR, pairing_id=p)
        ),
        "not a coordinator": by_non_coordinator().map(
            lambda c: to("approving", c[1], coordinator=c[0], pairing_id="pairing-x")
        ),
        **misshapen("approving", answers.RematchRequest, good),
    }


# Pairing updates. Stages: "introduction" (J0, the mentor, accepted; S0 has not answered), "planning" (both
# accepted, no plan yet), "mentoring" (check-in 1, J0's pulse 1 and the mid-point survey open for both),
# "closing" (the close-out survey open for both).

NOT_IN_PAIRING = "not part of this pairing"
GOOD_PLAN = {
    "participant": S0,
    "goals": ["Use the team's tools"],
    "skills": PLAN_SKILLS,
    "meeting_every": "1h",
    "channel": "video",
    "accept_ground_rules": True,
}


def by_outsider() -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    return someone_else(NOT_IN_PAIRING, COORDINATOR, J1, S1, looks_like=S0)


def pair_member() -> st.SearchStrategy[str]:
    return st.sampled_from([J0, S0]).flatmap(cased)


def answer_match() -> Rules:
    return {
        "someone outside the pairing": st.tuples(by_outsider(), st.booleans()).map(
            lambda t: to("introduction", t[0][1], participant=t[0][0], accept=t[1])
        ),
        "answered already": st.tuples(cased(J0), st.booleans()).map(
            lambda t: to("introduction", ("no pending match",), participant=t[0], accept=t[1])
        ),
        "a reason that cannot be kept": st.tuples(st.booleans(), BAD_TEXT).map(
            lambda t: to("introduction", ("reason",), participant=S0, accept=t[0], reason=t[1])
        ),
        "after the introduction": st.tuples(st.sampled_from(["planning", "mentoring"]), pair_member()).map(
            lambda t: to(t[0], ("no pending match",), participant=t[1], accept=True)
        ),
        **misshapen("introduction", answers.MatchAnswer, {"participant": S0, "accept": True}),
    }


def propose_plan() -> Rules:
    blanks = st.lists(st.sampled_from(["", " ", "\t", "\n "]), max_size=3)

    def plan(changes: st.SearchStrategy[dict[str, Any]], why: str) -> st.SearchStrategy[Bad]:
        def spoil(who: str, change: dict[str, Any]) -> Bad:
            proposal = {**GOOD_PLAN, "participant": who, **change}
            if not change:  # consent left out altogether
                proposal.pop("accept_ground_rules")
            return Bad("planning", (proposal,), (why,))

        return st.tuples(pair_member(), changes).map(lambda t: spoil(*t))

    return {
        "no goal": plan(blanks.map(lambda g: {"goals": g}), "goal"),
        "no skill": plan(blanks.map(lambda sk: {"skills": sk}), "skill"),
        "no channel": plan(st.sampled_from(["", "  "]).map(lambda c: {"channel": c}), "how you will meet"),
        "no consent": plan(st.sampled_from([{"accept_ground_rules": False}, {}]), "ground rules"),
        "too many goals": plan(
            st.integers(answers.MAX_ITEMS + 1, 50).map(lambda n: {"goals": [f"goal {i}" for i in range(n)]}), "goals"
        ),
        "a goal that cannot be kept": plan(
            st.one_of(LONG_ITEM, CONTROL_TEXT).map(lambda g: {"goals": ["Learn", g]}), "goals"
        ),
        "a channel that cannot be kept": plan(
            st.one_of(LONG_ITEM, CONTROL_TEXT).map(lambda c: {"channel": c}), "how you will meet"
        ),
        "a skill twice": plan(
            st.sampled_from(["AI tools", " ai tools "]).map(lambda sk: {"skills": ["ai tools", sk]}), "skill"
        ),
        "a cadence out of range": plan(
            st.sampled_from(["0s", "10m", "29m", "2h1m", "3h", "1w", "52w"]).map(lambda d: {"meeting_every": d}),
            "meet every",
        ),
        "someone outside the pairing": by_outsider().map(
            lambda p: Bad("planning", ({**GOOD_PLAN, "participant": p[0]},), p[1])
        ),
        "before planning": st.just(Bad("introduction", (GOOD_PLAN,), ("no pending mentoring plan",))),
        **misshapen("planning", answers.PlanProposal, GOOD_PLAN),
    }


def agree_plan() -> Rules:
    return {
        "no plan proposed": st.tuples(st.sampled_from(["planning", "mentoring"]), pair_member(), st.booleans()).map(
            lambda t: to(t[0], ("no pending plan to agree",), participant=t[1], accept_ground_rules=t[2])
        ),
        "someone outside the pairing": by_outsider().map(
            lambda p: to("planning", p[1], participant=p[0], accept_ground_rules=True)
        ),
        **misshapen("planning", answers.PlanAgreement, {"participant": J0, "accept_ground_rules": True}),
    }


def log_checkin() -> Rules:
    good = {"participant": J0, "cycle": 1, "met": True, "progress": 4, "recap": "practised"}

    def checkin(
        field: str, values: st.SearchStrategy[Any], why: str, stage: str = "mentoring"
    ) -> st.SearchStrategy[Bad]:
        return st.tuples(pair_member(), values).map(
            lambda t: Bad(stage, ({**good, "participant": t[0], field: t[1]},), (why,))
        )

    return {
        "progress out of range": checkin("progress", OUT_OF_RANGE, "progress"),
        "a cycle that is not open": checkin("cycle", NOT_CYCLE_ONE, "not open"),
        "a recap that cannot be kept": checkin("recap", BAD_TEXT, "recap"),
        "before mentoring": checkin("cycle", st.just(1), "not open", stage="introduction"),
        "someone outside the pairing": by_outsider().map(
            lambda p: Bad("mentoring", ({**good, "participant": p[0]},), p[1])
        ),
        **misshapen("mentoring", answers.CheckIn, good),
    }


def answer_pulse() -> Rules:
    good = {"participant": J0, "cycle": 1, "safe_and_useful": 4}

    def pulse(field: str, values: st.SearchStrategy[Any], why: str) -> st.SearchStrategy[Bad]:
        return values.map(lambda v: Bad("mentoring", ({**good, field: v},), (why,)))

    return {
        "the mentee": pulse("participant", cased(S0), "only the mentor"),
        "a cycle that is not open": pulse("cycle", NOT_CYCLE_ONE, "not open"),
        "an answer out of range": pulse("safe_and_useful", OUT_OF_RANGE, "1 to 5"),
        "a comment that cannot be kept": pulse("comment", BAD_TEXT, "comment"),
        "someone outside the pairing": by_outsider().map(
            lambda p: Bad("mentoring", ({**good, "participant": p[0]},), p[1])
        ),
        **misshapen("mentoring", answers.Pulse, good),
    }


def answer_midpoint_survey() -> Rules:
    good = {"participant": J0, "satisfaction": 4, "usefulness": 4}

    def answer(field: str, values: st.SearchStrategy[Any], why: str) -> st.SearchStrategy[Bad]:
        return st.tuples(pair_member(), values).map(
            lambda t: Bad("mentoring", ({**good, "participant": t[0], field: t[1]},), (why,))
        )

    return {
        "satisfaction out of range": answer("satisfaction", OUT_OF_RANGE, "satisfaction"),
        "usefulness out of range": answer("usefulness", OUT_OF_RANGE, "usefulness"),
        "a comment that cannot be kept": answer("comment", BAD_TEXT, "comment"),
        "someone outside the pairing": by_outsider().map(
            lambda p: Bad("mentoring", ({**good, "participant": p[0]},), p[1])
        ),
        "before the mid-point": pair_member().map(
            lambda p: Bad("introduction", ({**good, "participant": p},), ("no pending mid-point survey",))
        ),
        **misshapen("mentoring", answers.MidpointAnswers, good),
    }


def ratings_for(skills: list[str]) -> list[dict[str, Any]]:
    return [{"skill": s, "before": 2, "after": 4} for s in skills]


def answer_closeout_survey() -> Rules:
    """The mentor rates MENTOR_SKILLS, the mentee the plan's skills: each exactly once, from 1 to 5."""
    good = {"participant": J0, "satisfaction": 4, "would_recommend": True, "skill_ratings": ratings_for(MENTOR_SKILLS)}
    asked = {J0: MENTOR_SKILLS, S0: PLAN_SKILLS}

    def survey(spoil: Callable[[list[str]], st.SearchStrategy[dict[str, Any]]], why: str) -> st.SearchStrategy[Bad]:
        return st.sampled_from([J0, S0]).flatmap(
            lambda who: spoil(asked[who]).map(
                lambda change: Bad("closing", ({**good, "participant": who, **change},), (why,))
            )
        )

    return {
        "a skill left out": survey(
            lambda mine: st.sampled_from(range(len(mine))).map(
                lambda i: {"skill_ratings": ratings_for(mine[:i] + mine[i + 1 :])}
            ),
            "missing",
        ),
        "a skill not asked": survey(
            lambda mine: (
                st.text(min_size=1, max_size=30)
                .filter(lambda sk: sk.strip().lower() not in mine)
                .map(lambda sk: {"skill_ratings": ratings_for([*mine, sk])})
            ),
            "rate only",
        ),
        "a skill twice": survey(
            lambda mine: st.sampled_from(mine).map(lambda sk: {"skill_ratings": ratings_for([*mine, sk.upper()])}),
            "once",
        ),
        "a rating out of range": survey(
            lambda mine: st.tuples(st.sampled_from(["before", "after"]), OUT_OF_RANGE).map(
                lambda t: {"skill_ratings": [{**ratings_for(mine)[0], t[0]: t[1]}, *ratings_for(mine)[1:]]}
            ),
            "rating of",
        ),
        "satisfaction out of range": survey(
            lambda mine: OUT_OF_RANGE.map(lambda r: {"satisfaction": r, "skill_ratings": ratings_for(mine)}),
            "satisfaction",
        ),
        "a comment that cannot be kept": survey(
            lambda mine: BAD_TEXT.map(lambda c: {"comment": c, "skill_ratings": ratings_for(mine)}), "comment"
        ),
        "someone outside the pairing": by_outsider().map(
            lambda p: Bad("closing", ({**good, "participant": p[0]},), p[1])
        ),
        "before the close-out": st.just(Bad("mentoring", (good,), ("no pending close-out survey",))),
        **misshapen("closing", answers.CloseoutAnswers, good),
    }


def pairing_withdraw() -> Rules:
    return {
        "someone outside the pairing": st.tuples(st.sampled_from(["introduction", "mentoring"]), by_outsider()).map(
            lambda t: to(t[0], t[1][1], participant=t[1][0])
        ),
        "a reason that cannot be kept": st.tuples(pair_member(), BAD_TEXT).map(
            lambda t: to("mentoring", ("reason",), participant=t[0], reason=t[1])
        ),
        **misshapen("mentoring", answers.Withdrawal, {"participant": J0}),
    }


PROGRAM_UPDATES: dict[str, Rules] = {
    "opt_in": opt_in(),
    "complete_training": complete_training(),
    "submit_preferences": submit_preferences(),
    "withdraw": program_withdraw(),
    "approve_matches": approve_matches(),
    "add_participant": add_participant(),
    "close_recruitment": coordinator_action({"training": "not open", "approving": "not open"}, live="recruiting"),
    "pause": coordinator_action({"training": "already paused"}, live="recruiting"),
    "resume": coordinator_action({"recruiting": "not paused", "approving": "not paused"}, live="training"),
    "cancel": coordinator_action({}, live="recruiting"),
    "rematch": rematch(),
}
PAIRING_UPDATES: dict[str, Rules] = {
    "answer_match": answer_match(),
    "propose_plan": propose_plan(),
    "agree_plan": agree_plan(),
    "log_checkin": log_checkin(),
    "answer_pulse": answer_pulse(),
    "answer_midpoint_survey": answer_midpoint_survey(),
    "answer_closeout_survey": answer_closeout_survey(),
    "withdraw": pairing_withdraw(),
}
BROKEN_RULES = [
    pytest.param(workflow, update, rule, id=f"{workflow}.{update}: {rule}")
    for workflow, updates in (("program", PROGRAM_UPDATES), ("pairing", PAIRING_UPDATES))
    for update, rules in updates.items()
    for rule in rules
]


# The waiting workflows


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

    async def proposal_waiting() -> bool:
        now = await status(handle)
        return now.phase == ProgramPhase.MATCHING and now.proposal is not None and now.awaiting_approval

    await eventually(proposal_waiting, "a proposal to approve")
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
    handle = await h.client.start_workflow(
        PairingWorkflow.run,
        inp,
        id=inp.pairing_id,
        task_queue=h.settings.task_queue,
        search_attributes=search.initial(terms.program_id, "introduction", "pairing"),
    )
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


@pytest.fixture(scope="module")
async def stages(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Handle]]:
    """Workflows waiting at every stage, on a dev server of this module's own: its tests share them."""
    dev_env = await start_dev_server()
    h = Harness(dev_env, tmp_path_factory.mktemp("bad-input"))
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


@pytest.mark.slow
@pytest.mark.parametrize(("workflow", "update", "rule"), BROKEN_RULES)
@HYPOTHESIS
@given(data=st.data())
async def test_a_bad_update_is_refused_in_words_and_leaves_no_trace(
    stages: dict[str, Handle], workflow: str, update: str, rule: str, data: st.DataObject
) -> None:
    rules = (PROGRAM_UPDATES if workflow == "program" else PAIRING_UPDATES)[update]
    bad = data.draw(rules[rule], label=rule)
    await assert_refused_without_trace(stages[bad.stage], update, bad)


@pytest.mark.slow
async def test_the_same_person_in_other_letter_case_is_still_that_person(dev_harness: Harness) -> None:
    """What the bad input above is told apart from: trimmed and lower-cased, an address is the same person's.

    A withdrawal typed in capitals used to reach the pairing as typed, where it matched nobody: the program
    counted the person withdrawn while their pairing went on.
    """
    program = await approving(dev_harness, "Odd case")
    await send(program, "approve_matches", coordinator=" Coach@Example.COM ")
    await eventually(lambda: _has_pairing(program), "the pairing is approved")
    pairing_id = (await member(program, J0)).pairing_id
    assert pairing_id is not None
    pair = dev_harness.client.get_workflow_handle(pairing_id, result_type=PairingSummary)
    await eventually(once_started(has_prompts(pair, S0, "accept-match")), "the introduction")

    reply = await send(pair, "answer_match", participant="\tSENIOR00@example.com ", accept=True)
    await send(program, "withdraw", participant="JUNIOR00@Example.com", reason="moving team")

    assert "waiting for your partner" in reply
    summary = await pair.result()
    assert summary.outcome == "withdrawn" and summary.ended_by == [J0]
    assert (await member(program, J0)).status == "withdrawn"


async def _has_pairing(program: Handle) -> bool:
    return (await member(program, J0)).pairing_id is not None


# Program specs and rosters, loaded the way `starter.py start` loads them

GOOD_SPEC: dict[str, Any] = spec(
    name="Spring reverse mentoring",
    purpose="Newer colleagues teach senior leaders digital practice, over café conversations.",
).model_dump(mode="json", exclude_none=True)
DURATION_KEYS = {"recruitment", "training", "answer_window", "checkin_cadence", "program_length", "nudge_before"}
SOME_TIME = datetime(2026, 1, 1, 9, 0)  # a TOML date-time, where text or a number belongs


def toml(data: dict[str, Any]) -> str:
    """`data` as a TOML document: plain keys first, then a [table] or [[array of tables]] per nested one."""
    lines: list[str] = []
    _toml_table(data, [], lines)
    return "\n".join(lines) + "\n"


def _toml_table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    nested = {k: v for k, v in data.items() if isinstance(v, dict) or _is_tables(v)}
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if k not in nested]
    for key, value in nested.items():
        name = ".".join(_toml_key(p) for p in [*path, key])
        for table in value if isinstance(value, list) else [value]:
            lines += ["", f"[[{name}]]" if isinstance(value, list) else f"[{name}]"]
            _toml_table(table, [*path, key], lines)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's, \u0000 included
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


FieldPath = tuple[str | int, ...]


def leaves(data: Any, path: FieldPath = ()) -> dict[FieldPath, str]:
    """Every field of a spec and its kind: text, list, duration, int, float, bool, enum or table."""
    found: dict[FieldPath, str] = {}
    if isinstance(data, dict):
        if path:
            found[path] = "table"
        for key, value in data.items():
            found |= leaves(value, (*path, key))
    elif isinstance(data, list):
        found[path] = "list"
        if data:
            found |= leaves(data[0], (*path, 0))
    elif isinstance(data, bool):
        found[path] = "bool"
    elif isinstance(data, int | float):
        found[path] = "int" if isinstance(data, int) else "float"
    else:
        found[path] = "duration" if path[-1] in DURATION_KEYS else "enum" if path[-1] in ("mode", "kpi") else "text"
    return found


SPEC_FIELDS = leaves(GOOD_SPEC)
REQUIRED = [
    ("name",),
    ("purpose",),
    ("coordinators",),
    ("business_goals",),
    ("ground_rules",),
    ("durations",),
    ("reminders",),
    ("reminders", "nudge_before"),
    ("business_goals", 0, "goal"),
    ("business_goals", 0, "kpi"),
    ("business_goals", 0, "target"),
    *[("durations", d) for d in ("recruitment", "training", "answer_window", "checkin_cadence", "program_length")],
]
# Values TOML can hold that no field of that kind takes (pydantic would read "5" as 5 and true as 1: left out).
WRONG_IN_TOML: dict[str, st.SearchStrategy[Any]] = {
    "text": st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([1.5, True, [1], {"a": 1}, SOME_TIME])),
    "list": st.sampled_from(["text", 5, True, {"a": 1}, SOME_TIME]),
    "duration": st.sampled_from(
        [5, 1.5, True, [], {"a": 1}, SOME_TIME, "soon", "0s", "-1d", "2 weeks", "", "1x", "99999999999999w", "9" * 5000]
    ),
    "int": st.sampled_from(["five", 1.5, [], {"a": 1}, SOME_TIME]),
    "float": st.sampled_from(["high", [], {"a": 1}, SOME_TIME]),
    "bool": st.sampled_from(["maybe", 2, 1.5, [], {"a": 1}, SOME_TIME]),
    "enum": st.one_of(
        st.text(max_size=20).filter(lambda t: t not in {*MatchingMode, *Kpi}),
        st.sampled_from([5, True, []]),
    ),
    "table": st.sampled_from(["text", 5, True, [1]]),
}
OUT_OF_RANGE_IN_SPEC: dict[FieldPath, st.SearchStrategy[Any]] = {
    ("reminders", "missed_checkins_alert"): st.integers(-(2**63), 0),
    ("reminders", "low_answer"): st.one_of(st.integers(-(2**63), 0), st.integers(5, 2**63 - 1)),
    ("matching", "mentor_capacity"): st.one_of(st.integers(-(2**63), 0), st.integers(6, 2**63 - 1)),
    ("matching", "working_hours", "start"): st.one_of(st.integers(-(2**63), -1), st.integers(24, 2**63 - 1)),
    ("matching", "working_hours", "end"): st.one_of(st.integers(-(2**63), 0), st.integers(25, 2**63 - 1)),
    ("matching", "weights", "skills_taught"): st.one_of(st.floats(max_value=-0.01), st.floats(min_value=100.01)),
    ("business_goals", 0, "target"): st.one_of(
        st.floats(max_value=-0.01), st.floats(min_value=1.01), st.just(math.nan)
    ),
}


def dotted(path: FieldPath) -> str:
    return ".".join(str(p) for p in path)


def changed(data: Any, path: FieldPath, value: Any = None, drop: bool = False) -> Any:
    """A deep copy of `data` with the field at `path` set to `value`, or dropped."""
    copy = json.loads(json.dumps(data))
    *parents, last = path
    target = copy
    for part in parents:
        target = target[part]
    if drop:
        del target[last]
    else:
        target[last] = value
    return copy


@dataclass(frozen=True)
class BadFile:
    spec: bytes
    roster: bytes
    spoilt: str  # "spec" or "roster": the file the error must name
    names: tuple[str, ...]  # the error must hold one of these: the field, or the line and the column


def spec_problem(data: dict[str, Any], *names: str) -> BadFile:
    return BadFile(toml(data).encode(), GOOD_ROSTER, "spec", names)


def bad_specs() -> st.SearchStrategy[BadFile]:
    texts = [p for p, kind in SPEC_FIELDS.items() if kind == "text"]
    durations = ("durations", "program_length"), ("durations", "checkin_cadence")
    lines = toml(GOOD_SPEC).splitlines()

    def corrupt(index: int, how: str) -> BadFile:
        edited = list(lines)
        if how == "duplicate":
            edited.insert(index + 1, edited[index])
            index += 1
        else:
            edited[index] = {"no equals": "purpose café", "unclosed": edited[index] + ' "', "table": "[matching"}[how]
        return BadFile(("\n".join(edited) + "\n").encode(), GOOD_ROSTER, "spec", (f"line {index + 1}",))

    key_lines = [i for i, line in enumerate(lines) if " = " in line]
    purpose_line = next(i for i, line in enumerate(lines) if line.startswith("purpose")) + 1
    return any_of(
        st.sampled_from(REQUIRED).map(lambda p: spec_problem(changed(GOOD_SPEC, p, drop=True), dotted(p))),
        st.sampled_from(sorted(SPEC_FIELDS, key=str)).flatmap(
            lambda p: WRONG_IN_TOML[SPEC_FIELDS[p]].map(lambda v: spec_problem(changed(GOOD_SPEC, p, v), dotted(p)))
        ),
        st.sampled_from(sorted(OUT_OF_RANGE_IN_SPEC, key=str)).flatmap(
            lambda p: OUT_OF_RANGE_IN_SPEC[p].map(
                lambda v: spec_problem(changed(GOOD_SPEC, p, v), dotted(p[:2] if p[0] == "business_goals" else p))
            )
        ),
        st.tuples(
            st.sampled_from([p for p, kind in SPEC_FIELDS.items() if kind == "table"] + [()]),
            st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
        )
        .filter(lambda t: t[0] + (t[1],) not in SPEC_FIELDS)
        .map(lambda t: spec_problem(changed(GOOD_SPEC, (*t[0], t[1]), 1), dotted((*t[0], t[1])))),
        st.sampled_from(["1w", "6d", "4d"]).map(  # a program of 1w has room for two check-ins of 3d 12h at most
            lambda c: spec_problem(changed(changed(GOOD_SPEC, durations[0], "1w"), durations[1], c), "durations")
        ),
        st.integers(1, 23).flatmap(
            lambda start: st.integers(1, start).map(
                lambda end: spec_problem(
                    changed(GOOD_SPEC, ("matching", "working_hours"), {"start": start, "end": end}),
                    "matching.working_hours",
                )
            )
        ),
        st.sampled_from(["coach", "coach@", "@example.com", "co ach@example.com", ""]).map(
            lambda c: spec_problem(changed(GOOD_SPEC, ("coordinators",), [c]), "coordinators")
        ),
        st.sampled_from(["coordinators", "business_goals", "ground_rules"]).map(
            lambda f: spec_problem(changed(GOOD_SPEC, (f,), []), f)
        ),
        st.tuples(st.sampled_from(texts), CONTROL_TEXT).map(
            lambda t: spec_problem(changed(GOOD_SPEC, t[0], t[1]), dotted(t[0]), "line ")  # DEL: not even TOML
        ),
        st.sampled_from(["Bad Slug", "-x", "x" * 64, "ünï", "a_b"]).map(
            lambda s: spec_problem(changed(GOOD_SPEC, ("slug",), s), "slug")
        ),
        st.text(st.characters(categories=["Lo", "Nl", "Zs"]), min_size=1, max_size=20)
        .filter(lambda n: n.strip())
        .map(lambda n: spec_problem(changed(changed(GOOD_SPEC, ("slug",), drop=True), ("name",), n), "slug")),
        st.tuples(st.sampled_from(key_lines), st.sampled_from(["no equals", "unclosed", "duplicate"])).map(
            lambda t: corrupt(*t)
        ),
        st.just(
            BadFile(toml(GOOD_SPEC).encode("latin-1"), GOOD_ROSTER, "spec", (f"line {purpose_line}: byte 0xe9 is not",))
        ),
        st.just(
            BadFile(toml(GOOD_SPEC).encode("utf-16"), GOOD_ROSTER, "spec", ("line 1: the file is saved as UTF-16",))
        ),
    )


# Rosters: a good one is generated, then one row of it is spoilt

ROLES = ["mentor", "mentee", "either"]
ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Tokyo", ""]
CELL_TEXT = st.text(st.characters(categories=["L", "N", "Zs", "P", "S"], exclude_characters="\n\r;"), max_size=15)
NAMES = st.tuples(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=3), CELL_TEXT).map("".join)
COLUMN = {name: i for i, name in enumerate(ROSTER_HEADER)}


@st.composite
def good_rows(draw: st.DrawFn, min_size: int = 2) -> list[list[str]]:
    """Rows of a roster that must load: unique emails in any case, managers only among the rows above."""
    rows: list[list[str]] = []
    for i in range(draw(st.integers(min_size, 8))):
        email = draw(cased(f"person{i}@example.com").map(str.strip))
        manager = draw(st.one_of(st.just(""), st.integers(0, i - 1).map(lambda j: rows[j][0]))) if i else ""
        rows.append(
            [
                email,
                draw(NAMES),
                draw(st.sampled_from(ROLES).flatmap(cased).map(lambda r: r.replace("\n", " "))),
                str(draw(st.integers(0, 20))),
                draw(CELL_TEXT),
                ";".join(draw(st.lists(CELL_TEXT, max_size=3))),
                ";".join(draw(st.lists(CELL_TEXT, max_size=3))),
                ";".join(draw(st.lists(CELL_TEXT, max_size=3))),
                draw(st.sampled_from(ZONES)),
                manager,
            ]
        )
    return rows


def roster_csv(rows: list[list[str]], newline: str = "\n", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(ROSTER_HEADER)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


GOOD_ROSTER = roster_csv([[p.email, p.name, p.role.value, str(p.seniority), "", "", "", "", "", ""] for p in roster(2)])
SPOILT_CELLS: dict[str, st.SearchStrategy[str]] = {
    "email": st.sampled_from(["", "not-an-email", "a b@example.com", "x" * 300 + "@example.com", "a@b", "a@@b.c"]),
    "name": st.sampled_from(["", "   ", "\t"]),
    "role": st.text(max_size=10).filter(lambda r: r.strip().lower() not in ROLES and "\n" not in r and "\r" not in r),
    "seniority": st.sampled_from(["", "-1", "21", "abc", "1.5", "9" * 5000, "\u00b2", "0x1", "1e1"]),
    "timezone": st.sampled_from(["Mars/Olympus_Mons", "Europe/Londn", "GMT+25", "utc+1"]),
    "manager_email": st.sampled_from(["boss", "a b@c.d", "@x.y"]),
}


@st.composite
def bad_rosters(draw: st.DrawFn) -> BadFile:
    rows = draw(good_rows())
    k = draw(st.integers(1, len(rows) - 1))  # the spoilt row; row 0 is left for it to clash with
    line = k + 2
    how = draw(st.sampled_from(["cell", "control", "duplicate", "own manager", "loop", "columns", "quote", "latin-1"]))
    if how == "cell":
        column = draw(st.sampled_from(sorted(SPOILT_CELLS)))
        rows[k][COLUMN[column]] = draw(SPOILT_CELLS[column])
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: {column}",))
    if how == "control":  # line breaks left out: a bare one ends the row, as in any CSV file
        column = draw(st.sampled_from(ROSTER_HEADER))
        rows[k][COLUMN[column]] += draw(st.tuples(CELL_TEXT, CONTROLS, CELL_TEXT).map("".join))
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: {column}",))
    if how == "duplicate":
        j = draw(st.integers(0, k - 1))
        rows[k][0] = draw(cased(rows[j][0]).map(str.strip))
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: email",))
    if how == "own manager":
        rows[k][COLUMN["manager_email"]] = draw(cased(rows[k][0]).map(str.strip))
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: manager_email",))
    if how == "loop":
        j = draw(st.integers(0, k - 1))
        rows[k][COLUMN["manager_email"]], rows[j][COLUMN["manager_email"]] = rows[j][0], rows[k][0]
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: manager_email: the chain",))
    if how == "columns":
        rows[k] = rows[k][:-1] if draw(st.booleans()) else [*rows[k], "extra"]
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: expected 10 columns",))
    text = roster_csv(rows).split(b"\n")
    if how == "quote":
        text[line - 1] = b'"' + text[line - 1]
        return BadFile(GOOD_SPEC_BYTES, b"\n".join(text), "roster", (f"line {line}:",))
    rows[k][COLUMN["name"]] = "Jos\u00e9"  # saved by something that wrote this one name in Latin-1
    text = roster_csv(rows).split(b"\n")
    text[line - 1] = text[line - 1].replace("Jos\u00e9".encode(), b"Jos\xe9")
    return BadFile(GOOD_SPEC_BYTES, b"\n".join(text), "roster", (f"line {line}: byte 0xe9 is not UTF-8",))


GOOD_SPEC_BYTES = toml(GOOD_SPEC).encode()
FILE_CHECKS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module", autouse=True)
def unreachable_temporal() -> Iterator[None]:
    """Should a bad file ever load, `starter.py start` finds no server rather than starting anything."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
        yield


def assert_refused_by_starter(folder: Path, bad: BadFile, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path, roster_path = folder / "spec.toml", folder / "roster.csv"
    spec_path.write_bytes(bad.spec)
    roster_path.write_bytes(bad.roster)
    spoilt = spec_path if bad.spoilt == "spec" else roster_path

    with pytest.raises(starter.CliError) as refused:
        starter.load_program(spec_path, roster_path)
    code = starter.main(["start", str(spec_path), str(roster_path)])
    printed = capsys.readouterr()

    message = str(refused.value)
    assert message.startswith(f"{spoilt}:\n"), message[:300]
    for problem in message.splitlines()[1:]:
        assert problem.strip() and len(problem) <= MAX_MESSAGE, problem[:300]
        for marker in NOT_READABLE:
            assert marker not in problem, f"{marker!r} in {problem!r}"
    assert any(name in message for name in bad.names), f"{message[:500]!r} holds none of {bad.names}"
    assert code == 2 and printed.out == "", "a bad file got past loading"
    assert printed.err == f"error: {message}\n"


@FILE_CHECKS
@given(bad=bad_specs())
def test_a_bad_spec_is_reported_by_field_or_line_and_nothing_starts(
    folder: Path, capsys: pytest.CaptureFixture[str], bad: BadFile
) -> None:
    assert_refused_by_starter(folder, bad, capsys)


@FILE_CHECKS
@given(bad=bad_rosters())
def test_a_bad_roster_is_reported_by_line_and_column_and_nothing_starts(
    folder: Path, capsys: pytest.CaptureFixture[str], bad: BadFile
) -> None:
    assert_refused_by_starter(folder, bad, capsys)


@st.composite
def good_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs that must load: any name with a letter or digit to make an id from, coherent durations."""
    cadence_days = draw(st.integers(1, 14))
    durations = {
        "recruitment": draw(st.sampled_from(["90s", "2d", "1w", "1h30m"])),
        "training": draw(st.sampled_from(["1d", "2w", "36h"])),
        "checkin_cadence": f"{cadence_days}d",
        "program_length": f"{cadence_days * draw(st.integers(2, 12))}d",
        "answer_window": f"{draw(st.integers(1, cadence_days * 2 - 1))}d" if cadence_days > 1 else "12h",
    }
    data = changed(GOOD_SPEC, ("durations",), durations)
    data = changed(data, ("slug",), drop=True)
    words = st.text(st.characters(categories=["L", "N", "Zs", "P"]), max_size=60)
    name = "".join(draw(st.tuples(words, st.sampled_from("AZaz09"), words)))  # one letter or digit for its id
    data = changed(data, ("name",), name)
    data = changed(data, ("purpose",), draw(st.text(st.characters(categories=["L", "N", "Zs", "P", "S"]), min_size=1)))
    data = changed(data, ("matching", "mode"), draw(st.sampled_from(["algorithm", "self_select", "hybrid"])))
    data = changed(data, ("matching", "mentor_capacity"), draw(st.integers(1, 5)))
    assert isinstance(data, dict)
    return data


@FILE_CHECKS
@given(
    data=good_specs(),
    rows=good_rows(min_size=1),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
def test_the_good_files_the_bad_ones_are_spoilt_from_still_load(
    folder: Path, data: dict[str, Any], rows: list[list[str]], newline: str, bom: bool
) -> None:
    spec_path, roster_path = folder / "good.toml", folder / "good.csv"
    spec_path.write_bytes(toml(data).replace("\n", newline).encode())
    roster_path.write_bytes(roster_csv(rows, newline, bom))

    loaded, people = starter.load_program(spec_path, roster_path)

    assert loaded.name == data["name"] and loaded.purpose == data["purpose"]
    assert 1 <= len(loaded.slug) <= 63 and loaded.program_id == f"program-{loaded.slug}"
    assert [p.email for p in people] == [row[0].lower() for row in rows]
    assert [p.name for p in people] == [row[1].strip() for row in rows]
