"""Self-selection: stable pairs from ranked lists, checked against brute force on small groups.

The oracle (tests/helpers/matching.py) is written independently of `domain.self_select`: it enumerates every set
of pairs of a small group and tests each for blocking pairs, straight from the definitions in that module's
docstring.
"""

import itertools
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.answers import Preferences, Refusal
from domain.matching import MatchContext, why_not
from domain.people import Participant, Role
from domain.program import MAX_PREFERENCES, Program, ProgramInput, ProgramPhase, new_program_state
from domain.prompts import PromptKind
from domain.self_select import LeftOverWhy, Orientation, SelfSelection, ordinal, self_select
from domain.views import MemberStatus
from tests.helpers.matching import (
    acceptable_lists,
    blocking_pairs,
    fewest_to_set_aside,
    matching_of,
    stable_matchings,
)
from tests.helpers.people import roster, spec
from tests.helpers.prompts import a_prompt


def person(name: str, role: Role = Role.EITHER, seniority: int = 0, manager: str | None = None) -> Participant:
    return Participant(
        email=f"{name.lower()}@example.com",
        name=f"{name} Example",
        role=role,
        seniority=seniority,
        manager_email=manager,
    )


def emails(*names: str) -> list[str]:
    return [f"{n.lower()}@example.com" for n in names]


def by_rules(forbidden: frozenset[frozenset[str]] = frozenset()) -> Orientation:
    """The program's rules in small: roles fit, the mentor is less senior, and no pair from `forbidden`."""

    def allowed(a: Participant, b: Participant) -> tuple[Participant, Participant] | None:
        if frozenset((a.email, b.email)) in forbidden:
            return None
        for mentor, mentee in ((a, b), (b, a)):
            if mentor.role != Role.MENTEE and mentee.role != Role.MENTOR and mentor.seniority < mentee.seniority:
                return mentor, mentee
        return None

    return allowed


def anyone(a: Participant, b: Participant) -> tuple[Participant, Participant] | None:
    """Everyone may pair with everyone, the less senior as mentor (the groups below have distinct seniority)."""
    return (a, b) if a.seniority < b.seniority else (b, a)


# Random small groups


@st.composite
def groups(draw: st.DrawFn, max_people: int = 8) -> tuple[list[Participant], dict[str, list[str]], Orientation]:
    """A group of 2 to `max_people`: either anyone may pair with anyone and everyone names all or nearly all the
    others (where circles with no stable answer turn up), or roles, seniority and forbidden pairs thin it out."""
    dense = draw(st.booleans())
    size = draw(st.integers(3 if dense else 2, max_people))
    names = [f"P{i}" for i in range(size)]
    if dense:
        people = [person(n, Role.EITHER, i) for i, n in enumerate(names)]
        allowed: Orientation = anyone
    else:
        roles = draw(st.lists(st.sampled_from(list(Role)), min_size=size, max_size=size))
        levels = draw(st.lists(st.integers(0, 4), min_size=size, max_size=size))
        people = [person(n, r, s) for n, r, s in zip(names, roles, levels, strict=True)]
        pairs = [frozenset(p) for p in itertools.combinations(emails(*names), 2)]
        allowed = by_rules(frozenset(draw(st.lists(st.sampled_from(pairs), max_size=3))))
    preferences = {}
    for me in emails(*names):
        if not dense and draw(st.integers(0, 9)) == 0:
            continue  # sent no list
        others = draw(st.permutations([e for e in emails(*names) if e != me]))
        preferences[me] = others[: draw(st.integers(max(2, len(others) - 2) if dense else 0, len(others)))]
    return people, preferences, allowed


Group = tuple[list[Participant], dict[str, list[str]], Orientation]


def check_against_brute_force(group: Group) -> SelfSelection:
    people, preferences, allowed = group
    result = self_select(people, preferences, allowed)
    lists = acceptable_lists(people, preferences, allowed)
    matching = matching_of(result)
    stable_ones = stable_matchings(lists)
    assert result.stable == bool(stable_ones), "a stable set of pairs is found exactly when one exists"
    blocking = blocking_pairs(matching, lists)
    if result.stable:
        assert blocking == [] and result.set_aside == []
        assert all(set(m) == set(matching) for m in stable_ones), "the same people are paired in every stable set"
    else:
        assert blocking, "the brute force found no stable set of pairs, so this one cannot be stable either"
        assert all(set(pair) & set(result.set_aside) for pair in blocking), "every blocking pair has someone set aside"
        assert len(result.set_aside) >= fewest_to_set_aside(lists)
    return result


# Properties


@settings(max_examples=300, deadline=None)
@given(groups())
def test_pairs_are_mutual_choices_that_keep_the_rules_and_nobody_is_placed_twice(group: Group) -> None:
    people, preferences, allowed = group
    result = self_select(people, preferences, allowed)
    found = {p.email: p for p in people}
    placed = [e for p in result.pairs for e in (p.mentor, p.mentee)] + [u.email for u in result.left_over]
    assert sorted(placed) == sorted(found), "everyone is either in one pair or left over, once"
    for pair in result.pairs:
        mentor, mentee = found[pair.mentor], found[pair.mentee]
        assert allowed(mentor, mentee) == (mentor, mentee), "the orientation is one the rules allow"
        assert preferences[pair.mentor].index(pair.mentee) + 1 == pair.mentor_rank
        assert preferences[pair.mentee].index(pair.mentor) + 1 == pair.mentee_rank
        assert pair.reason.startswith("you chose each other")


@settings(max_examples=300, deadline=None)
@given(groups())
def test_the_result_is_stable_exactly_when_brute_force_finds_a_stable_set_of_pairs(group: Group) -> None:
    check_against_brute_force(group)


@settings(max_examples=200, deadline=None)
@given(groups())
def test_each_person_left_over_is_told_truly_why(group: Group) -> None:
    people, preferences, allowed = group
    result = self_select(people, preferences, allowed)
    lists = acceptable_lists(people, preferences, allowed)
    matching = matching_of(result)
    for left in result.left_over:
        me = left.email
        named = [e for e in preferences.get(me, []) if e != me]
        if left.why == LeftOverWhy.NO_LIST:
            assert not named
        elif left.why == LeftOverWhy.NO_MUTUAL_CHOICE:
            assert named and not lists[me]
        elif left.why == LeftOverWhy.IN_A_CIRCLE:
            assert me in result.set_aside
        else:
            assert left.why == LeftOverWhy.CHOSEN_ELSEWHERE and lists[me] and me not in result.set_aside
            for other in lists[me]:
                assert other in matching and lists[other].index(matching[other]) < lists[other].index(me)


@settings(max_examples=200, deadline=None)
@given(groups())
def test_people_who_are_each_others_first_choice_are_always_paired(group: Group) -> None:
    """Each other's first acceptable choice: in particular each other's first choice, when the rules allow it."""
    people, preferences, allowed = group
    result = self_select(people, preferences, allowed)
    lists = acceptable_lists(people, preferences, allowed)
    matching = matching_of(result)
    for a, mine in lists.items():
        if mine and lists[mine[0]][0] == a:
            assert matching.get(a) == mine[0]


@settings(max_examples=200, deadline=None)
@given(groups(), st.randoms(use_true_random=False))
def test_the_same_choices_give_the_same_pairs_whatever_order_they_arrive_in(group: Group, rng: random.Random) -> None:
    people, preferences, allowed = group
    shuffled_people = rng.sample(people, len(people))
    shuffled_preferences = dict(rng.sample(list(preferences.items()), len(preferences)))
    first = self_select(people, preferences, allowed)
    assert self_select(shuffled_people, shuffled_preferences, allowed) == first
    assert self_select(people, preferences, allowed) == first


@settings(max_examples=200, deadline=None)
@given(groups())
def test_with_only_mentors_and_mentees_a_stable_set_of_pairs_always_exists(group: Group) -> None:
    people, preferences, _ = group
    two_sided = [p.model_copy(update={"role": Role.MENTEE if p.seniority > 1 else Role.MENTOR}) for p in people]
    assert self_select(two_sided, preferences, by_rules()).stable


def test_on_thousands_of_small_groups_nobody_is_set_aside_who_need_not_be() -> None:
    """A sweep with many circles (so the brute-force comparison of the fallback is sure to run): the greedy
    choice of whom to set aside matched the fewest possible in every group here, though that is not proven."""
    rng = random.Random(20260)
    circles = 0
    for _ in range(1500):
        size = rng.randint(3, 8)
        people = [person(f"P{i}", Role.EITHER, i) for i in range(size)]
        preferences = {}
        for me in emails(*(f"P{i}" for i in range(size))):
            others = [p.email for p in people if p.email != me]
            preferences[me] = rng.sample(others, rng.randint(len(others) // 2, len(others)))
        result = check_against_brute_force((people, preferences, anyone))
        if not result.stable:
            circles += 1
            lists = acceptable_lists(people, preferences, anyone)
            assert len(result.set_aside) == fewest_to_set_aside(lists)
    assert circles > 100


# Worked examples


def test_mutual_first_choices_are_paired_and_told_so() -> None:
    ana, ben = person("Ana", Role.MENTOR, 1), person("Ben", Role.MENTEE, 6)

    result = self_select([ben, ana], {ana.email: [ben.email], ben.email: [ana.email]}, by_rules())

    assert [(p.mentor, p.mentee, p.mentor_rank, p.mentee_rank) for p in result.pairs] == [(ana.email, ben.email, 1, 1)]
    assert result.pairs[0].reason == "you chose each other, both as first choice"
    assert result.stable and result.left_over == [] and result.set_aside == []


def test_a_pair_is_told_where_each_ranked_the_other() -> None:
    ana, ben, cy = person("Ana", Role.MENTOR, 1), person("Ben", Role.MENTEE, 6), person("Cy", Role.MENTEE, 7)
    preferences = {ana.email: [cy.email, ben.email], ben.email: [ana.email], cy.email: []}

    result = self_select([ana, ben, cy], preferences, by_rules())

    assert [p.reason for p in result.pairs] == ["you chose each other (Ana's 2nd choice, Ben's 1st)"]
    assert [(u.email, u.why) for u in result.left_over] == [(cy.email, LeftOverWhy.NO_LIST)]
    assert result.left_over[0].reason == "you did not name anyone you would like to work with"


def test_honouring_the_best_combined_rank_first_would_leave_a_blocking_pair_and_self_selection_does_not() -> None:
    """Xia and Yan rank each other 1st and 2nd, Yan and Zed 1st and 3rd: pairing the best combined rank first
    (Xia and Yan) leaves Yan and Zed each preferring the other to what they got. The stable answer pairs Yan
    with Zed, and Xia, whom everyone she named ranked lower than their partner, is left over."""
    xia, yan, zed = person("Xia", seniority=1), person("Yan", seniority=2), person("Zed", seniority=3)
    uma, tom = person("Uma", seniority=4), person("Tom", seniority=5)
    preferences = {
        xia.email: [yan.email],
        yan.email: [zed.email, xia.email],
        zed.email: [uma.email, tom.email, yan.email],  # neither Uma nor Tom named Zed
        uma.email: [tom.email],
        tom.email: [uma.email],
    }

    result = self_select([xia, yan, zed, uma, tom], preferences, anyone)

    assert {(p.mentor, p.mentee) for p in result.pairs} == {(yan.email, zed.email), (uma.email, tom.email)}
    assert result.stable
    assert [(u.email, u.why) for u in result.left_over] == [(xia.email, LeftOverWhy.CHOSEN_ELSEWHERE)]
    assert result.left_over[0].reason == "everyone who named you back was paired with someone they had ranked higher"
    lists = acceptable_lists([xia, yan, zed, uma, tom], preferences, anyone)
    greedy = {xia.email: yan.email, yan.email: xia.email, uma.email: tom.email, tom.email: uma.email}
    assert blocking_pairs(greedy, lists) == [(yan.email, zed.email)], "the greedy answer is blocked by Yan and Zed"


def test_three_in_a_circle_have_no_stable_answer_so_one_is_set_aside() -> None:
    ann, bob, cat = person("Ann", seniority=1), person("Bob", seniority=2), person("Cat", seniority=3)
    preferences = {
        ann.email: [bob.email, cat.email],
        bob.email: [cat.email, ann.email],
        cat.email: [ann.email, bob.email],
    }

    result = self_select([ann, bob, cat], preferences, anyone)

    assert not result.stable
    assert len(result.pairs) == 1 and len(result.left_over) == 1
    left = result.left_over[0]
    assert result.set_aside == [left.email] and left.why == LeftOverWhy.IN_A_CIRCLE
    assert "went round in a circle" in left.reason
    assert self_select([cat, bob, ann], dict(reversed(preferences.items())), anyone) == result


def test_someone_set_aside_gets_a_second_chance_with_whoever_is_still_free() -> None:
    """The classic four with no stable answer: three in a circle, each naming Dan last, Dan naming all three."""
    ann, bob, cat, dan = (person(n, seniority=i) for i, n in enumerate(["Ann", "Bob", "Cat", "Dan"]))
    preferences = {
        ann.email: [bob.email, cat.email, dan.email],
        bob.email: [cat.email, ann.email, dan.email],
        cat.email: [ann.email, bob.email, dan.email],
        dan.email: [ann.email, bob.email, cat.email],
    }

    result = self_select([ann, bob, cat, dan], preferences, anyone)

    assert not result.stable and len(result.set_aside) == 1
    assert len(result.pairs) == 2 and result.left_over == [], "the one set aside is then paired with Dan"
    assert {result.set_aside[0], dan.email} in [{p.mentor, p.mentee} for p in result.pairs]


def test_a_mutual_choice_the_rules_forbid_is_not_formed_and_the_person_is_told_why() -> None:
    lead = person("Lead", Role.MENTEE, 8)
    junior = person("Junior", Role.MENTOR, 1, manager=lead.email)
    context = MatchContext(managers={junior.email: lead.email})

    def allowed(a: Participant, b: Participant) -> tuple[Participant, Participant] | None:
        for mentor, mentee in ((a, b), (b, a)):
            if why_not(mentor, mentee, context) is None:
                return mentor, mentee
        return None

    result = self_select([junior, lead], {junior.email: [lead.email], lead.email: [junior.email]}, allowed)

    assert result.pairs == [] and result.stable
    assert {u.why for u in result.left_over} == {LeftOverWhy.NO_MUTUAL_CHOICE}
    assert result.left_over[0].reason == (
        "none of the people you named also named you and can be paired with you under the program's rules"
    )


def test_lists_are_read_as_written_ignoring_case_repeats_oneself_and_people_not_in_the_group() -> None:
    ana, ben = person("Ana", Role.MENTOR, 1), person("Ben", Role.MENTEE, 6)
    preferences = {
        ana.email: ["gone@example.com", ana.email, " BEN@Example.com ", ben.email],
        ben.email: [ana.email, ana.email],
        "stranger@example.com": [ana.email],
    }

    result = self_select([ana, ben], preferences, by_rules())

    assert [(p.mentor, p.mentee, p.mentor_rank, p.mentee_rank) for p in result.pairs] == [(ana.email, ben.email, 3, 1)]


def test_an_orientation_naming_other_people_is_refused() -> None:
    ana, ben, cy = person("Ana", seniority=1), person("Ben", seniority=2), person("Cy", seniority=3)

    with pytest.raises(ValueError, match="returned a pair of other people"):
        self_select([ana, ben, cy], {ana.email: [ben.email], ben.email: [ana.email]}, lambda a, b: (a, cy))


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"), (22, "22nd")],
)
def test_ordinals(n: int, text: str) -> None:
    assert ordinal(n) == text


def test_a_large_group_in_circles_of_friends_is_settled_quickly_and_only_the_set_aside_can_block() -> None:
    rng = random.Random(7)
    people = [person(f"P{i:04d}", Role.EITHER, i % 20) for i in range(1000)]
    preferences = {}
    for i, me in enumerate(people):
        circle = [p.email for p in people[i // 8 * 8 : i // 8 * 8 + 8] if p is not me]
        preferences[me.email] = rng.sample(circle, MAX_PREFERENCES)
    rules = by_rules()

    result = self_select(people, preferences, rules)

    lists = acceptable_lists(people, preferences, rules)
    assert len(result.pairs) > 400 and result.set_aside, "a thousand people in circles of 8: some circles are odd"
    assert all(set(pair) & set(result.set_aside) for pair in blocking_pairs(matching_of(result), lists))


# Validating a participant's ranked list (domain.program.check_preferences)


def training_program(**statuses: MemberStatus) -> Program:
    """A self-select program in training, everyone trained and asked for their list; `statuses` by handle."""
    the_spec = spec(matching={"mode": "self_select"})
    state = new_program_state(ProgramInput(spec=the_spec, roster=roster(3)))
    state.phase = ProgramPhase.TRAINING
    for email, member in state.members.items():
        member.status = statuses.get(email.split("@")[0], MemberStatus.TRAINED)
        state.prompts.open(
            a_prompt(
                PromptKind.PREFERENCES,
                email,
                "preferences",
                question="Whom would you like to work with?",
                workflow_id="program-x",
                update="submit_preferences",
                due=timedelta(days=2),
            )
        )
    return Program(the_spec, state)


J0, J1, S0, S1, S2 = emails("junior00", "junior01", "senior00", "senior01", "senior02")


def test_a_good_list_is_kept_and_may_be_replaced_while_training_is_open() -> None:
    program = training_program()
    program.check_preferences(Preferences(participant=J0, ranked=[" Senior01@example.com", S0]))
    program.apply_preferences(Preferences(participant=J0, ranked=[" Senior01@example.com", S0]))
    assert program.member(J0).preferences == [S1, S0]

    program.check_preferences(Preferences(participant=J0, ranked=[S2]))
    program.apply_preferences(Preferences(participant=J0, ranked=[S2]))
    assert program.member(J0).preferences == [S2]

    program.state.phase = ProgramPhase.MATCHING
    with pytest.raises(Refusal, match="closed when matching began; your last list is the one used"):
        program.check_preferences(Preferences(participant=J0, ranked=[S0]))


@pytest.mark.parametrize(
    ("ranked", "message"),
    [
        ([], "name at least one person"),
        ([S0, S1, S2, J1, "x@example.com", "y@example.com"], "name at most 5 people"),
        ([S0, " senior00@example.com"], "name each person once"),
        ([J0.upper()], "you cannot choose yourself"),
        ([S0, "nobody@example.com"], "not taking part in this program: nobody@example.com"),
        ([S2], "not taking part in this program: senior02@example.com"),  # withdrew
        ([S1], "not taking part in this program: senior01@example.com"),  # never opted in
        ([J1, S0], r"not let you be paired with junior01@example.com \(their roles do not fit\)"),
    ],
)
def test_a_bad_list_is_refused_with_the_reason(ranked: list[str], message: str) -> None:
    program = training_program(senior02=MemberStatus.WITHDRAWN, senior01=MemberStatus.NOT_JOINED)

    with pytest.raises(Refusal, match=message):
        program.check_preferences(Preferences(participant=J0, ranked=ranked))


def test_naming_someone_in_your_own_line_of_management_is_refused() -> None:
    program = training_program()
    junior = program.member(J0)
    junior.person = junior.person.model_copy(update={"manager_email": S0})

    with pytest.raises(Refusal, match=r"senior00@example.com \(one manages the other\)"):
        program.check_preferences(Preferences(participant=J0, ranked=[S0]))
    with pytest.raises(Refusal, match=r"junior00@example.com \(one manages the other\)"):
        program.check_preferences(Preferences(participant=S0, ranked=[J0]))


def test_a_list_needs_the_prompt_unless_it_replaces_one() -> None:
    program = training_program()
    program.state.prompts.close(J0, "preferences")

    with pytest.raises(Refusal, match="no pending list of preferred partners"):
        program.check_preferences(Preferences(participant=J0, ranked=[S0]))


def test_an_algorithm_program_takes_no_lists() -> None:
    program = training_program()
    program.spec = spec(matching={"mode": "algorithm"})

    with pytest.raises(Refusal, match="matches people by algorithm"):
        program.check_preferences(Preferences(participant=J0, ranked=[S0]))
