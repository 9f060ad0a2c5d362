"""A coordinator's action that breaks a rule is refused in words and leaves no trace: approving, adding someone,
closing recruitment, pausing, resuming, cancelling or asking a rematch, by someone who is not a coordinator, at the
wrong time, with a reason that cannot be kept, or of the wrong shape (tests/helpers/bad_input.py says how).
Stages: "recruiting", "training" (paused) and "approving" (a proposal waits for approval).
"""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import answers
from tests.helpers.bad_input import (
    BAD_TEXT,
    BOSS,
    CONTROL_TEXT,
    HYPOTHESIS,
    LONG_ITEM,
    Bad,
    Rules,
    assert_refused_without_trace,
    broken_rules,
    cased,
    misshapen,
    someone_else,
    to,
)
from tests.helpers.people import COORDINATOR, J0, J1, S0, S1
from tests.helpers.programs import Handle

NOT_COORDINATOR = "is not a coordinator"
COORDINATOR_GOOD = {"coordinator": COORDINATOR, "reason": "as planned"}
NEWCOMER = {"email": "newcomer@example.com", "name": "New Comer", "role": "mentor", "seniority": 2}


def by_non_coordinator() -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    return someone_else(NOT_COORDINATOR, J0, S0, J1, looks_like=COORDINATOR)


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


COORDINATOR_ACTIONS: dict[str, Rules] = {
    "approve_matches": approve_matches(),
    "add_participant": add_participant(),
    "close_recruitment": coordinator_action({"training": "not open", "approving": "not open"}, live="recruiting"),
    "pause": coordinator_action({"training": "already paused"}, live="recruiting"),
    "resume": coordinator_action({"recruiting": "not paused", "approving": "not paused"}, live="training"),
    "cancel": coordinator_action({}, live="recruiting"),
    "rematch": rematch(),
}


@pytest.mark.slow
@pytest.mark.parametrize(("update", "rule"), broken_rules("program", COORDINATOR_ACTIONS))
@HYPOTHESIS
@given(data=st.data())
async def test_a_bad_coordinator_action_is_refused_in_words_and_leaves_no_trace(
    stages: dict[str, Handle], update: str, rule: str, data: st.DataObject
) -> None:
    bad = data.draw(COORDINATOR_ACTIONS[update][rule], label=rule)
    await assert_refused_without_trace(stages[bad.stage], update, bad)
