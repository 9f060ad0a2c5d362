"""The matcher's large-pool paths, on pools small enough to check: candidate bounds, certificates, references.

At scale the matcher keeps only each person's best partners (bounded: `best_pairs`), certifies large fixed-role
pools within a tolerance instead of solving them to the end, and with `either` roles proposes on the candidate
graph and bounds the score by a second relaxation. Those paths start at thousands of people; here their
thresholds are lowered so that brute force, SciPy's dense assignment and an integer program can judge them.
"""

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from domain.matching import MatchContext, score, solve_matching, why_not
from domain.matching import either as either_module
from domain.matching import solve as solve_module
from domain.matching.candidates import best_pairs
from domain.matching.scoring import _Cohort
from domain.people import Participant, Role
from tests.domain.test_matching import achieved, broken_rules, brute_force, brute_force_two_sided, cohorts, two_sided

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SKILLS = ["ai tools", "sql", "video", "budgets", "hiring", "strategy"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


def pool(size: int, seed: int, either_share: float) -> tuple[list[Participant], MatchContext]:
    """A random pool of `size` with a manager tree, pairs tried before and a few stated choices."""
    rng = random.Random(seed)
    people = []
    for i in range(size):
        role = Role.EITHER if rng.random() < either_share else rng.choice([Role.MENTOR, Role.MENTEE])
        people.append(
            Participant(
                email=f"p{i}@example.com",
                name=f"P{i} Person",
                role=role,
                seniority=rng.randint(0, 9),
                department=rng.choice(["", "eng", "sales", "ops"]),
                skills_offered=rng.sample(SKILLS, rng.randint(0, 3)),
                skills_wanted=rng.sample(SKILLS, rng.randint(0, 3)),
                interests=rng.sample(["chess", "music", "film"], rng.randint(0, 2)),
                timezone=rng.choice(ZONES),
                manager_email=f"p{rng.randrange(i)}@example.com" if i and rng.random() < 0.8 else None,
            )
        )
    emails = [p.email for p in people]
    tried = [(rng.choice(emails), rng.choice(emails)) for _ in range(size // 10)]
    choices = {rng.choice(emails): rng.sample(emails, 2) for _ in range(size // 10)}
    managers = {p.email: p.manager_email for p in people if p.manager_email}  # as a program passes them
    return people, MatchContext(
        managers=managers, excluded_pairs=[(a, b) for a, b in tried if a != b], preferences=choices
    )


def units(mentor: Participant, mentee: Participant, context: MatchContext) -> int:
    return round(score(mentor, mentee, context)[0] * 100)


@FEW
@given(cohorts(max_size=16))
def test_every_pair_left_out_of_the_candidates_is_within_its_bounds(
    case: tuple[list[Participant], MatchContext],
) -> None:
    """Pair by pair, with `score` and `why_not`: a feasible pair not kept scores at most its row's and its column's
    cut, and every chosen pair that keeps the rules is kept."""
    people, context = case
    cohort = _Cohort(people, context)
    found = best_pairs(cohort, k=1)
    kept = set(zip(found.rows.tolist(), found.cols.tolist(), strict=True))
    chosen = {(a, b) for a, listed in context.preferences.items() for b in listed}

    for lpos, a in enumerate(cohort.left.tolist()):
        for rpos, b in enumerate(cohort.right.tolist()):
            mentor, mentee = people[a], people[b]
            if a == b or why_not(mentor, mentee, context) is not None:
                assert (lpos, rpos) not in kept
                continue
            if (lpos, rpos) in kept:
                continue
            assert units(mentor, mentee, context) <= min(found.row_cut[lpos], found.col_cut[rpos])
            assert (mentor.email, mentee.email) not in chosen and (mentee.email, mentor.email) not in chosen


def dense_reference(people: list[Participant], context: MatchContext) -> tuple[int, int]:
    """People matched and score units of SciPy's dense assignment, one mentor to one mentee: every allowed pair
    scored with `score`, checked with `why_not`, a pair outweighing any total of scores (more people first)."""
    mentors = [p for p in people if p.role == Role.MENTOR]
    mentees = [p for p in people if p.role == Role.MENTEE]
    gain = np.zeros((len(mentors), len(mentees)))
    for i, a in enumerate(mentors):
        for j, b in enumerate(mentees):
            if why_not(a, b, context) is None:
                gain[i, j] = 10**7 + units(a, b, context)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    used = gain[rows, cols] > 0
    return 2 * int(used.sum()), int(gain[rows, cols][used].sum() - 10**7 * used.sum())


@pytest.mark.parametrize("seed", range(4))
def test_fixed_roles_equal_scipys_dense_assignment_on_a_few_hundred_people(seed: int) -> None:
    """The reference: SciPy's dense assignment of every allowed pair (`dense_reference`)."""
    people, context = pool(240, seed, either_share=0.0)

    result = solve_matching(people, context, candidates=2)

    assert achieved(result) == dense_reference(people, context)
    assert result.proven_optimal and broken_rules(result.pairs, people, context) == []


def tie_heavy(size: int, seed: int) -> tuple[list[Participant], MatchContext]:
    """A pool whose scores tie by the hundred, as bench/large_program.py's roster does: every mentor less senior
    than every mentee, one skill each out of three, one time zone, three departments; a few managers and pairs
    tried before so that the rules still tell some equal partners apart, and more mentees than mentors."""
    rng = random.Random(seed)
    people = []
    for i in range(size):
        mentor, skill = i % 5 < 2, rng.choice(SKILLS[:3])
        people.append(
            Participant(
                email=f"t{i}@example.com",
                name=f"T{i} Person",
                role=Role.MENTOR if mentor else Role.MENTEE,
                seniority=rng.randint(1, 2) if mentor else rng.randint(6, 8),
                department=f"team-{rng.randrange(3)}",
                skills_offered=[skill] if mentor else ["strategy"],
                skills_wanted=["strategy"] if mentor else [skill],
            )
        )
    emails = [p.email for p in people]
    managers = {rng.choice(emails): rng.choice(emails) for _ in range(size // 10)}
    tried = [(rng.choice(emails), rng.choice(emails)) for _ in range(size // 10)]
    managers = {a: b for a, b in managers.items() if a != b}
    return people, MatchContext(managers=managers, excluded_pairs=[(a, b) for a, b in tried if a != b])


@pytest.mark.parametrize("seed", range(3))
def test_a_pool_of_tied_scores_is_solved_optimally_on_a_small_graph(seed: int) -> None:
    """Hundreds of partners that score alike: the proposal equals SciPy's dense assignment and is proven, while the
    candidate graph stays near each person's k best (ties once all picked the same few partners, the graph matched
    a fraction of the pool and the duality check then added almost every pair: 6.9 GB at 10,000 people)."""
    people, context = tie_heavy(400, seed)
    k = 2
    mentors = sum(p.role == Role.MENTOR for p in people)

    result = solve_matching(people, context, candidates=k)

    assert achieved(result) == dense_reference(people, context)
    assert result.proven_optimal and broken_rules(result.pairs, people, context) == []
    assert result.edges <= 4 * k * len(people) < mentors * (len(people) - mentors) // 10


@FEW
@given(two_sided())
def test_a_large_fixed_role_pool_is_certified_within_the_tolerance(
    case: tuple[list[Participant], MatchContext],
) -> None:
    """Above EXACT_UP_TO the solve stops once its bound is within the tolerance: the bound holds (brute force), and
    with no tolerance it is the optimum."""
    people, context = case
    best = brute_force_two_sided(people, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solve_module, "EXACT_UP_TO", 0)
        loose = solve_matching(people, context, candidates=1, tolerance=0.5)
        tight = solve_matching(people, context, candidates=1, tolerance=0.0)

    assert achieved(loose) <= best and loose.bound_people >= best[0]
    if loose.bound_score is not None and loose.bound_people == best[0]:
        assert round(loose.bound_score * 100) >= best[1]
    assert achieved(tight) == best and tight.proven_optimal


@FEW
@given(cohorts(max_size=11, max_capacity=1))
def test_a_large_pool_with_either_roles_keeps_its_certificate(case: tuple[list[Participant], MatchContext]) -> None:
    """Above EXACT_RELAXATION_UP_TO proposals are solved on the candidate graph and the score is bounded by the
    relaxation without points per person: the bounds hold against brute force, and proven means optimal."""
    people, context = case
    best = brute_force(people, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(either_module, "EXACT_RELAXATION_UP_TO", 0)
        result = solve_matching(people, context, candidates=1, branch_budget=0)

    assert broken_rules(result.pairs, people, context) == []
    assert achieved(result) <= best and result.bound_people >= best[0]
    if result.bound_score is not None and result.bound_people == best[0]:
        assert round(result.bound_score * 100) >= best[1]
    if result.proven_optimal:
        assert achieved(result) == best


def integer_program(people: list[Participant], context: MatchContext) -> tuple[int, int]:
    """(people matched, units) of the best proposal with capacity 1, by an integer program over every allowed pair:
    at most one pair per person, most people first (a pair outweighs any total of scores)."""
    edges = [
        (a, b) for a in range(len(people)) for b in range(len(people)) if why_not(people[a], people[b], context) is None
    ]
    gains = np.array([units(people[a], people[b], context) for a, b in edges], dtype=float)
    rows = [v for a, b in edges for v in (a, b)]
    matrix = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, np.repeat(np.arange(len(edges)), 2))), (len(people), len(edges))
    )
    found = milp(
        -(10**7 + gains),
        constraints=[LinearConstraint(matrix, 0, 1)],
        integrality=np.ones(len(edges)),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    chosen = np.round(found.x).astype(bool)
    return 2 * int(chosen.sum()), int(gains[chosen].sum())


@pytest.mark.parametrize("seed", range(3))
def test_either_roles_on_a_hundred_people_against_an_integer_program(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both paths, the small one (branch and bound) and the large one (candidates, then the Lagrangian bound):
    never better than the integer program's optimum, never bounded below it, proven only when equal to it. (The
    tolerance is what a large pool aims for, not a promise: on a hundred people one pair is more than 0.1%.)"""
    people, context = pool(100, seed, either_share=0.3)
    best = integer_program(people, context)

    small = solve_matching(people, context)
    monkeypatch.setattr(either_module, "EXACT_RELAXATION_UP_TO", 0)
    large = solve_matching(people, context, branch_budget=0)

    for result in (small, large):
        assert broken_rules(result.pairs, people, context) == []
        assert achieved(result) <= best and result.bound_people >= best[0]
        assert result.people_matched == best[0]
        assert result.bound_score is not None and round(result.bound_score * 100) >= best[1]
        assert not result.proven_optimal or achieved(result) == best
