"""A person's answer in their pairing that breaks a rule is refused in words and leaves no trace: a match answer,
a plan, a check-in, a pulse, a survey or a withdrawal from someone outside the pairing, out of range, at the wrong
stage, or of the wrong shape (tests/helpers/bad_input.py says how). Stages: "introduction" (J0, the mentor,
accepted; S0 has not answered), "planning" (both accepted, no plan yet), "mentoring" (check-in 1, J0's pulse 1 and
the mid-point survey open for both), "closing" (the close-out survey open for both).
"""

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import answers
from domain.pairing import MENTOR_SKILLS
from tests.helpers.bad_input import (
    BAD_TEXT,
    CONTROL_TEXT,
    GOOD_PLAN,
    HYPOTHESIS,
    LONG_ITEM,
    NOT_CYCLE_ONE,
    OUT_OF_RANGE,
    PLAN_SKILLS,
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

NOT_IN_PAIRING = "not part of this pairing"


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


PAIRING_ANSWERS: dict[str, Rules] = {
    "answer_match": answer_match(),
    "propose_plan": propose_plan(),
    "agree_plan": agree_plan(),
    "log_checkin": log_checkin(),
    "answer_pulse": answer_pulse(),
    "answer_midpoint_survey": answer_midpoint_survey(),
    "answer_closeout_survey": answer_closeout_survey(),
    "withdraw": pairing_withdraw(),
}


@pytest.mark.slow
@pytest.mark.parametrize(("update", "rule"), broken_rules("pairing", PAIRING_ANSWERS))
@HYPOTHESIS
@given(data=st.data())
async def test_a_bad_answer_in_a_pairing_is_refused_in_words_and_leaves_no_trace(
    stages: dict[str, Handle], update: str, rule: str, data: st.DataObject
) -> None:
    bad = data.draw(PAIRING_ANSWERS[update][rule], label=rule)
    await assert_refused_without_trace(stages[bad.stage], update, bad)
