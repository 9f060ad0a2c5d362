"""The matcher: hard constraints never broken, optimal against brute force, reasons and refusals in words."""

from functools import cache
from itertools import combinations
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.matching import (
    MatchContext,
    ProposedPair,
    check_edited_pairs,
    greedy_pairs,
    overlap_minutes,
    propose_matches,
    score,
    solve_matching,
    why_not,
)
from domain.matching.scoring import _Cohort, _explain
from domain.people import Participant, Role, management_chain
from domain.self_select import self_select
from domain.spec import MatchingMode, MatchingPolicy, MatchWeights, SpecError, load_spec, spec_at_the_door
from tests.helpers.matching import acceptable_lists, blocking_pairs, stable_matchings
from tests.helpers.people import SPEC_TOML, person, spec

ZONES = ["UTC", "Europe/London", "Europe/Moscow", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]
SKILLS = ["ai tools", "sql", "video", "budgets"]
INTERESTS = ["chess", "music", "design"]
OUTSIDE = ["boss@example.com", "ceo@example.com"]  # managers who are not in the pool
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cohorts(
    draw: st.DrawFn, max_size: int = 12, roles: tuple[Role, ...] = tuple(Role), max_capacity: int = 3
) -> tuple[list[Participant], MatchContext]:
    """A small pool with everything that constrains a pair: roles, close seniority, managers inside and outside
    the pool (and now and then a loop through one outside), pairs tried before, choices and odd weights."""
    size = draw(st.integers(0, max_size))
    emails = [f"p{i}@example.com" for i in range(size)]
    people = []
    for i, email in enumerate(emails):
        manager = draw(st.sampled_from([None, None, *emails[:i], *OUTSIDE]))
        people.append(
            Participant(
                email=email,
                name=f"P{i} Person",
                role=draw(st.sampled_from(roles)),
                seniority=draw(st.integers(0, 5)),
                department=draw(st.sampled_from(["", "eng", "sales"])),
                skills_offered=draw(st.lists(st.sampled_from(SKILLS), max_size=3)),
                skills_wanted=draw(st.lists(st.sampled_from(SKILLS), max_size=3)),
                interests=draw(st.lists(st.sampled_from(INTERESTS), max_size=2)),
                timezone=draw(st.sampled_from(ZONES)),
                manager_email=manager,
            )
        )
    managers = {p.email: p.manager_email for p in people if p.manager_email}
    if emails:
        managers["boss@example.com"] = draw(st.sampled_from(["ceo@example.com", *emails]))
    excluded: list[tuple[str, str]] = []
    preferences: dict[str, list[str]] = {}
    if emails:
        pool = st.sampled_from(emails)
        excluded = draw(st.lists(st.tuples(pool, pool), max_size=4))
        preferences = draw(st.dictionaries(pool, st.lists(pool, max_size=2, unique=True), max_size=3))
    weight = st.sampled_from([0.0, 0.25, 1.0, 3.0])
    context = MatchContext(
        managers=managers,
        excluded_pairs=excluded,
        preferences=preferences,
        prefer_cross_department=draw(st.booleans()),
        weights=MatchWeights(
            skills_taught=draw(weight),
            skills_learned_back=draw(weight),
            shared_interests=draw(weight),
            timezone_overlap=draw(weight),
            cross_department=draw(weight),
            stated_preference=draw(weight),
        ),
        mentor_capacity=draw(st.integers(1, max_capacity)),
    )
    return people, context


@st.composite
def two_sided(draw: st.DrawFn, per_side: int = 8) -> tuple[list[Participant], MatchContext]:
    """Up to `per_side` mentors and as many mentees: the bipartite case."""
    people, context = draw(cohorts(max_size=2 * per_side, roles=(Role.MENTOR, Role.MENTEE)))
    mentors = [p for p in people if p.role == Role.MENTOR][:per_side]
    mentees = [p for p in people if p.role == Role.MENTEE][:per_side]
    return mentors + mentees, context


def broken_rules(pairs: list[ProposedPair], people: list[Participant], context: MatchContext) -> list[str]:
    """Every hard constraint a proposal breaks, checked independently of the matcher."""
    by_email = {p.email: p for p in people}
    managers = {p.email: p.manager_email for p in people if p.manager_email} | context.managers
    before = {frozenset(pair) for pair in context.excluded_pairs}
    problems = []
    mentees_of: dict[str, int] = {}
    mentees: list[str] = []
    for pair in pairs:
        mentor, mentee = by_email[pair.mentor], by_email[pair.mentee]
        if mentor.email == mentee.email:
            problems.append(f"{mentor.email} with themselves")
        if mentor.role == Role.MENTEE or mentee.role == Role.MENTOR:
            problems.append(f"{mentor.email} -> {mentee.email}: roles")
        if mentor.seniority >= mentee.seniority:
            problems.append(f"{mentor.email} -> {mentee.email}: seniority")
        if mentee.email in management_chain(mentor.email, managers) or mentor.email in management_chain(
            mentee.email, managers
        ):
            problems.append(f"{mentor.email} -> {mentee.email}: management chain")
        if frozenset((mentor.email, mentee.email)) in before:
            problems.append(f"{mentor.email} -> {mentee.email}: paired before")
        mentees_of[mentor.email] = mentees_of.get(mentor.email, 0) + 1
        mentees.append(mentee.email)
    for mentor_email, count in mentees_of.items():
        if count + context.mentees_already.get(mentor_email, 0) > context.mentor_capacity:
            problems.append(f"{mentor_email} over capacity")
    if len(set(mentees)) != len(mentees) or set(mentees) & set(mentees_of):
        problems.append("someone is in two pairs that cannot both hold")
    return problems


def units(mentor: Participant, mentee: Participant, context: MatchContext) -> int:
    return round(score(mentor, mentee, context)[0] * 100)


def brute_force(people: list[Participant], context: MatchContext) -> tuple[int, int]:
    """(people matched, score in hundredths) of the best proposal, by exhaustive search over who pairs with whom.

    Memoised on the set of people already decided: take the first undecided person and try leaving them out,
    making them mentor of every allowed group of free mentees, or mentee of every allowed mentor (with any group
    of others beside them). Exponential, and meant for a dozen people.
    """
    n, cap = len(people), context.mentor_capacity
    ok = [[why_not(a, b, context) is None for b in people] for a in people]
    gain = [[units(a, b, context) if ok[i][j] else 0 for j, b in enumerate(people)] for i, a in enumerate(people)]
    everyone = (1 << n) - 1

    @cache
    def best(decided: int) -> tuple[int, int]:
        if decided == everyone:
            return 0, 0
        i = next(k for k in range(n) if not decided >> k & 1)
        free = [j for j in range(n) if not decided >> j & 1 and j != i]
        found = best(decided | 1 << i)
        for size in range(1, cap + 1):  # i mentors a group
            for group in combinations([j for j in free if ok[i][j]], size):
                rest = best(decided | 1 << i | sum(1 << j for j in group))
                found = max(found, (rest[0] + 1 + size, rest[1] + sum(gain[i][j] for j in group)))
        for m in (m for m in free if ok[m][i]):  # i is mentored, maybe beside others
            others = [j for j in free if j != m and ok[m][j]]
            for size in range(cap):
                for group in combinations(others, size):
                    rest = best(decided | 1 << i | 1 << m | sum(1 << j for j in group))
                    total = gain[m][i] + sum(gain[m][j] for j in group)
                    found = max(found, (rest[0] + 2 + size, rest[1] + total))
        return found

    return best(0)


def brute_force_two_sided(people: list[Participant], context: MatchContext) -> tuple[int, int]:
    """The same optimum when everyone has one side: mentor by mentor, over the set of mentees already taken."""
    mentors = [p for p in people if p.role == Role.MENTOR]
    mentees = [p for p in people if p.role == Role.MENTEE]
    cap = context.mentor_capacity

    @cache
    def best(k: int, taken: int) -> tuple[int, int]:
        if k == len(mentors):
            return 0, 0
        found = best(k + 1, taken)
        allowed = [j for j, e in enumerate(mentees) if not taken >> j & 1 and why_not(mentors[k], e, context) is None]
        for size in range(1, cap + 1):
            for group in combinations(allowed, size):
                rest = best(k + 1, taken | sum(1 << j for j in group))
                gained = sum(units(mentors[k], mentees[j], context) for j in group)
                found = max(found, (rest[0] + 1 + size, rest[1] + gained))
        return found

    return best(0, 0)


def achieved(result: Any) -> tuple[int, int]:
    return result.people_matched, round(result.total_score * 100)


# Hard constraints and optimality


@FEW
@given(cohorts(max_size=20))
def test_no_proposal_ever_breaks_a_hard_constraint(case: tuple[list[Participant], MatchContext]) -> None:
    people, context = case

    result = solve_matching(people, context)

    assert broken_rules(result.pairs, people, context) == []
    placed = [e for p in result.pairs for e in (p.mentor, p.mentee)] + [u.email for u in result.unmatched]
    assert sorted(set(placed)) == sorted(p.email for p in people)
    assert len({u.email for u in result.unmatched}) == len(result.unmatched)
    assert result.people_matched == len({e for p in result.pairs for e in (p.mentor, p.mentee)})


@FEW
@given(two_sided())
def test_with_one_side_each_the_proposal_is_the_brute_force_optimum(
    case: tuple[list[Participant], MatchContext],
) -> None:
    people, context = case

    result = solve_matching(people, context)

    assert achieved(result) == brute_force_two_sided(people, context)
    assert result.proven_optimal and result.branches == 0


@FEW
@given(cohorts(max_size=11))
def test_with_either_roles_the_proposal_is_the_brute_force_optimum_and_proven(
    case: tuple[list[Participant], MatchContext],
) -> None:
    people, context = case

    result = solve_matching(people, context)

    assert achieved(result) == brute_force(people, context)
    assert result.proven_optimal
    assert (result.bound_people, result.bound_score) == (result.people_matched, result.total_score)


@settings(max_examples=40, deadline=None)
@given(cohorts(max_size=11))
def test_without_branching_the_either_heuristic_stays_within_its_reported_bound(
    case: tuple[list[Participant], MatchContext],
) -> None:
    people, context = case

    result = solve_matching(people, context, branch_budget=0)
    best = brute_force(people, context)

    assert achieved(result) <= best
    assert result.bound_people >= best[0]
    if result.bound_people == best[0] and result.bound_score is not None:
        assert round(result.bound_score * 100) >= best[1]  # in hundredths, as the brute force counts
    if result.proven_optimal:
        assert achieved(result) == best


@FEW
@given(cohorts(max_size=16))
def test_keeping_one_candidate_per_person_still_finds_the_optimum(case: tuple[list[Participant], MatchContext]) -> None:
    """The duality check adds every left-out pair that could improve the result, so pruning never costs."""
    people, context = case

    pruned = solve_matching(people, context, candidates=1)
    whole = solve_matching(people, context, candidates=len(people) + 1)

    assert achieved(pruned) == achieved(whole)
    assert broken_rules(pruned.pairs, people, context) == []


@FEW
@given(cohorts(max_size=14))
def test_vectorised_scores_equal_the_scores_explained_pair_by_pair(
    case: tuple[list[Participant], MatchContext],
) -> None:
    people, context = case
    cohort = _Cohort(people, context)
    if not cohort.n_left or not cohort.n_right:
        return

    table, feasible = cohort.score(np.arange(cohort.n_left))

    for i, a in enumerate(cohort.left.tolist()):
        for j, b in enumerate(cohort.right.tolist()):
            if a == b:  # an `either` person on both sides: never a pair, so never scored
                continue
            mentor, mentee = people[a], people[b]
            assert table[i, j] == _explain(mentor, mentee, context, cohort.points)[0]
            assert feasible[i, j] == (why_not(mentor, mentee, context) is None)


@FEW
@given(cohorts(max_size=16))
def test_greedy_and_random_pairing_keep_the_rules_and_never_beat_the_optimum(
    case: tuple[list[Participant], MatchContext],
) -> None:
    people, context = case
    optimum = achieved(solve_matching(people, context))

    for baseline in (greedy_pairs(people, context), greedy_pairs(people, context, shuffle_seed=3)):
        assert broken_rules(baseline, people, context) == []
        matched = len({e for p in baseline for e in (p.mentor, p.mentee)})
        assert (matched, round(sum(p.score for p in baseline) * 100)) <= optimum


def test_more_people_matched_comes_before_a_higher_score() -> None:
    star = person("star@example.com", Role.MENTOR, 1, skills_offered=["sql", "ai tools", "video"])
    plain = person("plain@example.com", Role.MENTOR, 1)
    keen = person("keen@example.com", Role.MENTEE, 5, skills_wanted=["sql", "ai tools", "video"])
    picky = person("picky@example.com", Role.MENTEE, 5, manager="plain@example.com")  # only star may mentor
    context = MatchContext(managers={"picky@example.com": "plain@example.com"})

    result = solve_matching([star, plain, keen, picky], context)

    assert {(p.mentor, p.mentee) for p in result.pairs} == {
        ("star@example.com", "picky@example.com"),
        ("plain@example.com", "keen@example.com"),
    }
    assert {(p.mentor, p.mentee) for p in greedy_pairs([star, plain, keen, picky], context)} == {
        ("star@example.com", "keen@example.com")
    }


def test_a_mentor_takes_several_mentees_only_when_mentors_are_scarce() -> None:
    mentors = [person(f"m{i}@example.com", Role.MENTOR, 1) for i in range(2)]
    mentees = [person(f"s{i}@example.com", Role.MENTEE, 5) for i in range(5)]

    spread = solve_matching(mentors + mentees[:2], MatchContext(mentor_capacity=3))
    grouped = solve_matching(mentors + mentees, MatchContext(mentor_capacity=3))
    already = solve_matching(mentors + mentees, MatchContext(mentor_capacity=3, mentees_already={"m0@example.com": 2}))

    assert sorted(p.mentor for p in spread.pairs) == ["m0@example.com", "m1@example.com"]
    assert grouped.people_matched == 7
    assert sorted(p.mentor for p in already.pairs).count("m0@example.com") == 1
    assert already.people_matched == 6


def test_someone_already_mentoring_is_never_proposed_as_a_mentee() -> None:
    flexible = person("flex@example.com", Role.EITHER, 3)
    junior = person("junior@example.com", Role.MENTOR, 1)

    result = solve_matching(
        [flexible, junior], MatchContext(mentor_capacity=2, mentees_already={"flex@example.com": 1})
    )

    assert result.pairs == []


def test_a_chain_of_managers_of_any_depth_keeps_everyone_in_it_apart() -> None:
    chain = [  # everyone reports to the next, and seniority rises along the chain
        person(
            f"level{i}@example.com",
            Role.EITHER,
            1 + i // 50,
            manager=f"level{i + 1}@example.com" if i < 799 else None,
        )
        for i in range(800)
    ]
    outsider = person("outsider@example.com", Role.MENTOR, 0)
    context = MatchContext(managers={p.email: p.manager_email for p in chain if p.manager_email})

    result = solve_matching([*chain, outsider], context)

    assert [p.mentor for p in result.pairs] == ["outsider@example.com"]
    assert broken_rules(result.pairs, [*chain, outsider], context) == []


def test_a_loop_of_managers_keeps_everyone_on_it_and_below_it_apart() -> None:
    a = person("a@example.com", Role.MENTOR, 1, manager="b@example.com")
    b = person("b@example.com", Role.MENTEE, 5, manager="a@example.com")
    c = person("c@example.com", Role.MENTEE, 6, manager="b@example.com")
    d = person("d@example.com", Role.MENTOR, 0)
    context = MatchContext(managers={"a@example.com": "b@example.com", "b@example.com": "a@example.com"})

    result = solve_matching([a, b, c, d], context)

    assert broken_rules(result.pairs, [a, b, c, d], context) == []
    assert result.people_matched == 2


# Reasons in words


def test_each_pair_carries_its_top_three_reasons_largest_first() -> None:
    ana = person(
        "ana@example.com",
        Role.MENTOR,
        1,
        department="engineering",
        skills_offered=["kubernetes"],
        interests=["design"],
        timezone="Europe/Moscow",
    )
    sam = person(
        "sam@example.com",
        Role.MENTEE,
        7,
        department="engineering",
        skills_wanted=["kubernetes"],
        interests=["design"],
        timezone="Europe/Berlin",
    )

    value, reasons = score(ana, sam, MatchContext())

    assert reasons == ["Ana teaches kubernetes, which Sam wants", "6 h of shared working day", "both like design"]
    assert value == 3.0 + 6 * 0.25 + 0.5


def test_reasons_name_chosen_partners_departments_and_long_lists() -> None:
    ana = person("ana@example.com", Role.MENTOR, 1, department="sales", skills_offered=["a", "b", "c", "d", "e"])
    sam = person("sam@example.com", Role.MENTEE, 7, department="finance", skills_wanted=["a", "b", "c", "d", "e"])
    chose = MatchContext(
        preferences={"ana@example.com": ["sam@example.com"], "sam@example.com": ["ana@example.com"]},
        weights=MatchWeights(timezone_overlap=0),
    )

    assert score(ana, sam, chose)[1] == [
        "Ana teaches a, b, c and 2 more, which Sam wants",
        "they chose each other",
        "crosses departments (sales and finance)",
    ]
    one_way = MatchContext(preferences={"sam@example.com": ["ana@example.com"]}, weights=MatchWeights(skills_taught=0))
    assert "Sam asked to work with Ana" in score(ana, sam, one_way)[1]
    plain = MatchContext(prefer_cross_department=False, weights=MatchWeights(skills_taught=0, timezone_overlap=0))
    assert score(ana, sam, plain) == (0.0, ["a fair fit on seniority, with no shared skills listed"])


def test_working_hours_overlap_across_time_zones_and_midnight() -> None:
    assert overlap_minutes("Europe/London", "Europe/London") == 8 * 60
    assert overlap_minutes("Europe/London", "America/New_York") == 3 * 60  # 14:00-17:00 UTC in January
    assert overlap_minutes("Asia/Kolkata", "Europe/Berlin") == 210  # half-hour offsets count
    assert overlap_minutes("Pacific/Auckland", "America/Los_Angeles") == 5 * 60  # 20:00-01:00 UTC, across midnight
    assert overlap_minutes("Asia/Tokyo", "America/New_York") == 0
    assert overlap_minutes("Not/AZone", "UTC") == 8 * 60  # an unknown zone counts as UTC


# Who is left out, and why


def reason_for(email: str, people: list[Participant], context: MatchContext | None = None) -> str:
    result = solve_matching(people, context or MatchContext())
    return next(u.reason for u in result.unmatched if u.email == email)


def test_unmatched_people_hear_which_rule_left_them_without_a_partner() -> None:
    mentor = person("m@example.com", Role.MENTOR, 4)
    junior_mentee = person("s@example.com", Role.MENTEE, 2)
    assert reason_for("m@example.com", [mentor]) == (
        "nobody in the pool could be your more senior mentee: nobody in the pool signed up to be mentored"
    )
    assert reason_for("m@example.com", [mentor, junior_mentee]) == (
        "nobody in the pool could be your more senior mentee: nobody who signed up to be mentored is more senior "
        "than you"
    )
    assert reason_for("s@example.com", [mentor, junior_mentee]) == (
        "nobody in the pool could be your less senior mentor: nobody who signed up to mentor is less senior than you"
    )
    report = person("r@example.com", Role.MENTOR, 1, manager="boss@example.com")
    boss = person("boss@example.com", Role.MENTEE, 8)
    assert reason_for(
        "boss@example.com", [report, boss], MatchContext(managers={"r@example.com": "boss@example.com"})
    ) == (
        "nobody in the pool could be your less senior mentor: nobody in the pool is less senior than you and "
        "outside your management chain"
    )
    sam = Participant(email="sam@example.com", name="Sam Lee", role=Role.MENTEE, seniority=8)
    before = MatchContext(excluded_pairs=[("sam@example.com", "r@example.com")])
    assert reason_for("sam@example.com", [report, sam], before) == (
        "nobody in the pool could be your less senior mentor: your partners so far in this program (R) are not "
        "proposed again"
    )


def test_someone_who_fits_but_lost_out_hears_that_the_others_are_paired() -> None:
    mentor = person("m@example.com", Role.MENTOR, 1, skills_offered=["sql"])
    keen = person("keen@example.com", Role.MENTEE, 6, skills_wanted=["sql"])
    other = person("other@example.com", Role.MENTEE, 6)

    assert reason_for("other@example.com", [mentor, keen, other]) == (
        "the one person who could be your less senior mentor is already paired; pairing you instead would leave "
        "someone else without a partner or lower the overall fit"
    )


# Modes, edits and the spec


def test_hybrid_honours_mutual_choices_then_pairs_the_rest_optimally() -> None:
    mentors = [person(f"m{i}@example.com", Role.MENTOR, 1, skills_offered=[f"skill{i}"]) for i in range(3)]
    mentees = [person(f"s{i}@example.com", Role.MENTEE, 6, skills_wanted=[f"skill{i}"]) for i in range(3)]
    choices = {"m0@example.com": ["s1@example.com"], "s1@example.com": ["m0@example.com"]}

    proposal = propose_matches(mentors + mentees, MatchingMode.HYBRID, MatchContext(preferences=choices))

    pairs = {(p.mentor, p.mentee) for p in proposal.pairs}
    assert (proposal.pairs[0].mentor, proposal.pairs[0].mentee) == ("m0@example.com", "s1@example.com")
    assert proposal.pairs[0].reasons[0] == "you chose each other"
    assert len(pairs) == 3 and proposal.unmatched == []
    assert ("m2@example.com", "s2@example.com") in pairs
    assert all(p.reasons[0] != "you chose each other" for p in proposal.pairs[1:])


def test_a_self_selected_pair_is_told_no_rank_and_scored_by_the_scorer() -> None:
    ana = person("ana@example.com", Role.MENTOR, 1, skills_offered=["sql"])
    sam = person("sam@example.com", Role.MENTEE, 6, skills_wanted=["sql"])
    kim = person("kim@example.com", Role.MENTEE, 7)
    context = MatchContext(
        preferences={"ana@example.com": ["kim@example.com", "sam@example.com"], "sam@example.com": ["ana@example.com"]}
    )

    proposal = propose_matches([ana, sam, kim], MatchingMode.SELF_SELECT, context)

    [pair] = proposal.pairs
    value, reasons = score(ana, sam, context)
    assert (pair.mentor, pair.mentee, pair.score) == ("ana@example.com", "sam@example.com", value)
    assert pair.reasons == ["you chose each other", *(r for r in reasons if r != "they chose each other")]
    assert not any("choice" in r or "1st" in r or "2nd" in r for r in pair.reasons)
    assert [(u.email, u.reason) for u in proposal.unmatched] == [
        ("kim@example.com", "you did not name anyone you would like to work with")
    ]


def test_self_selection_keeps_someone_already_mentoring_a_mentor_with_capacity_left() -> None:
    busy = person("busy@example.com", Role.EITHER, 3)
    senior = person("senior@example.com", Role.MENTEE, 6)
    junior = person("junior@example.com", Role.MENTOR, 1)
    choices = {
        "busy@example.com": ["junior@example.com", "senior@example.com"],
        "junior@example.com": ["busy@example.com"],
        "senior@example.com": ["busy@example.com"],
    }
    full = MatchContext(preferences=choices, mentees_already={"busy@example.com": 1})
    room = MatchContext(preferences=choices, mentees_already={"busy@example.com": 1}, mentor_capacity=2)

    assert propose_matches([busy, senior, junior], MatchingMode.SELF_SELECT, full).pairs == []
    assert [
        (p.mentor, p.mentee) for p in propose_matches([busy, senior, junior], MatchingMode.SELF_SELECT, room).pairs
    ] == [("busy@example.com", "senior@example.com")]


@FEW
@given(cohorts(max_size=10), st.data())
def test_in_hybrid_allowed_mutual_choices_are_kept_stably_and_the_optimiser_pairs_everyone_else(
    case: tuple[list[Participant], MatchContext], data: st.DataObject
) -> None:
    people, drawn = case
    emails = [p.email for p in people]
    preferences = {
        me: data.draw(st.permutations([e for e in emails if e != me]))[: data.draw(st.integers(0, 4))] for me in emails
    }
    context = drawn.model_copy(update={"preferences": preferences})

    def allowed(a: Participant, b: Participant) -> tuple[Participant, Participant] | None:
        return next(((m, s) for m, s in ((a, b), (b, a)) if why_not(m, s, context) is None), None)

    proposal = propose_matches(people, MatchingMode.HYBRID, context)

    assert broken_rules(proposal.pairs, people, context) == []
    chosen = [p for p in proposal.pairs if p.reasons[0] == "you chose each other"]
    assert proposal.pairs[: len(chosen)] == chosen, "the self-selected pairs come first"
    matching = {p.mentor: p.mentee for p in chosen} | {p.mentee: p.mentor for p in chosen}
    lists = acceptable_lists(people, preferences, allowed)
    for a, mine in lists.items():
        if mine and lists[mine[0]][0] == a:  # each other's first choice among those the rules allow
            assert matching.get(a) == mine[0]
    by_email = {p.email: p for p in people}
    for pair in chosen:
        assert pair.mentee in lists[pair.mentor], "only mutual choices the rules allow are self-selected"
        assert pair.score == score(by_email[pair.mentor], by_email[pair.mentee], context)[0]
    set_aside = self_select(people, preferences, allowed).set_aside
    blocking = blocking_pairs(matching, lists)
    if stable_matchings(lists):
        assert blocking == [] and set_aside == []
    else:
        assert blocking and all(set(pair) & set(set_aside) for pair in blocking)
    rest = solve_matching(people, context, exclude=matching)
    assert proposal.pairs[len(chosen) :] == rest.pairs
    assert proposal.unmatched == rest.unmatched


def test_edited_pairs_respect_the_mentor_capacity() -> None:
    people = {
        p.email: p
        for p in [
            person("m@example.com", Role.MENTOR, 1),
            person("e@example.com", Role.EITHER, 3),
            *(person(f"s{i}@example.com", Role.MENTEE, 6) for i in range(3)),
        ]
    }
    context = MatchContext(mentor_capacity=2)

    assert (
        check_edited_pairs([("m@example.com", "s0@example.com"), ("m@example.com", "s1@example.com")], people, context)
        == []
    )
    assert check_edited_pairs([("m@example.com", f"s{i}@example.com") for i in range(3)], people, context) == [
        "m@example.com would mentor more than 2 people"
    ]
    assert check_edited_pairs(
        [("m@example.com", "e@example.com"), ("e@example.com", "s0@example.com")], people, context
    ) == ["e@example.com appears in more than one pair"]
    busy = MatchContext(mentor_capacity=2, mentees_already={"m@example.com": 2})
    assert check_edited_pairs([("m@example.com", "s2@example.com")], people, busy) == [
        "m@example.com would mentor more than 2 people"
    ]


def test_the_policy_is_read_from_the_spec_and_carried_into_the_context() -> None:
    text = SPEC_TOML.replace(
        'mode = "hybrid"',
        'mode = "hybrid"\nmentor_capacity = 2\nweights = { skills_taught = 5 }\n'
        "working_hours = { start = 8, end = 16 }",
    )
    policy = load_spec(text).matching

    context = MatchContext.for_policy(policy, managers={"a@example.com": "b@example.com"}, mentees_already={"x": 1})

    assert (context.mentor_capacity, context.weights.skills_taught, context.weights.shared_interests) == (2, 5, 0.5)
    assert (context.working_hours.start, context.working_hours.end) == (8, 16)
    assert (context.managers, context.mentees_already) == ({"a@example.com": "b@example.com"}, {"x": 1})
    assert spec().matching == MatchingPolicy()  # the defaults keep the first matcher's weights


@pytest.mark.parametrize(
    ("matching", "message"),
    [
        ({"mentor_capacity": 0}, "greater than or equal to 1"),
        ({"mentor_capacity": 9}, "less than or equal to 5"),
        ({"working_hours": {"start": 17, "end": 9}}, "the working day must start before it ends"),
        ({"weights": {"skills_taught": -1}}, "greater than or equal to 0"),
        ({"weights": {"skils_taught": 1}}, "Extra inputs are not permitted"),
    ],
)
def test_the_matching_policy_refuses_settings_that_cannot_work(matching: dict[str, Any], message: str) -> None:
    data = spec().model_dump(mode="json")
    data["matching"] |= matching
    with pytest.raises(SpecError, match=message):
        spec_at_the_door(data)
