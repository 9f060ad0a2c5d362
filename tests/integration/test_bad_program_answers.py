"""A participant's answer to their program that breaks a rule is refused in words and leaves no trace: an opt-in,
training, a ranked list or a withdrawal from someone not invited, at the wrong stage, or of the wrong shape
(tests/helpers/bad_input.py says how). Stages: "recruiting" (J0 opted in, S0 and S1 invited, J1 withdrew),
"training" (self-select, paused; J0, S0 and J1 opted in and must train, S1 did not join).
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import answers
from domain.metrics import PairingSummary
from tests.helpers.bad_input import (
    BAD_TEXT,
    BOSS,
    HYPOTHESIS,
    MODULES,
    Bad,
    Rules,
    approving,
    assert_refused_without_trace,
    broken_rules,
    cased,
    has_prompts,
    misshapen,
    send,
    someone_else,
    to,
)
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, S0, S1
from tests.helpers.programs import Handle, member, once_started
from tests.helpers.waiting import eventually

NOT_PARTICIPANT = "is not a participant"


def by_participant() -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    return someone_else(NOT_PARTICIPANT, COORDINATOR, BOSS, looks_like=S0)


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


PROGRAM_ANSWERS: dict[str, Rules] = {
    "opt_in": opt_in(),
    "complete_training": complete_training(),
    "submit_preferences": submit_preferences(),
    "withdraw": program_withdraw(),
}


@pytest.mark.slow
@pytest.mark.parametrize(("update", "rule"), broken_rules("program", PROGRAM_ANSWERS))
@HYPOTHESIS
@given(data=st.data())
async def test_a_bad_answer_to_a_program_is_refused_in_words_and_leaves_no_trace(
    stages: dict[str, Handle], update: str, rule: str, data: st.DataObject
) -> None:
    bad = data.draw(PROGRAM_ANSWERS[update][rule], label=rule)
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
