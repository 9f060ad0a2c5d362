"""The optimal proposal for a pool: `solve_matching` puts `scoring`, `assignment` and `either` together.

With one side each the bipartite solve is the whole problem and its result is proven optimal (up to
`EXACT_UP_TO` people; above, certified: solved until its bound is within `TOLERANCE` of its score); otherwise
the search over `either` people gives a proposal and a bound. `MatchingResult` says whether the proposal is
proven optimal and gives the bound (`bound_people`, `bound_score`), both computed and checked, never assumed.
Every proposed pair is checked again with `why_not`, and its score recomputed pair by pair, before it is
returned. Everyone left unmatched is told why (`_unmatched_reason`): the first rule that leaves nobody who fits
them, or that all who fit are paired.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from domain.matching.assignment import CANDIDATES, _Bipartite, _NotExact, _Oriented, _Solution, _Tiers
from domain.matching.candidates import best_pairs
from domain.matching.either import _branch_budget, _fill, _persons, _search, _symmetric_of
from domain.matching.model import MatchContext, MatchingResult, ProposedPair, UnmatchedPerson
from domain.matching.rules import why_not
from domain.matching.scoring import UNIT, _Cohort, _explain, _listing
from domain.people import Participant, Role

TOLERANCE = 0.001  # a proposal not proven optimal is certified within this share of the best possible score


EXACT_UP_TO = 20_000  # people with fixed roles solved exactly; above, certified within the tolerance


CERTIFY_ROUNDS = 12  # most solves spent bringing a bound within the tolerance


def solve_matching(
    people: Sequence[Participant],
    context: MatchContext,
    exclude: Iterable[str] = (),
    *,
    candidates: int = CANDIDATES,
    branch_budget: int | None = None,
    tolerance: float = TOLERANCE,
) -> MatchingResult:
    """The optimal proposal for `people` minus `exclude`, with every pair's reasons and every unmatched person's.

    A proposal is proven optimal, or else certified: no proposal matches more people, and none matching as many
    scores more than `bound_score`, within `tolerance` of the proposal's score where the search could get it.
    """
    skip = set(exclude)
    pool = [p for p in people if p.email not in skip]
    cohort = _Cohort(pool, context)
    budget = _branch_budget(len(pool)) if branch_budget is None else branch_budget
    solved = _solve(cohort, candidates, budget, tolerance)
    oriented, best = solved.oriented, solved.best
    if solved.bound > best.value:
        best = _fill(oriented, best)
    bounds = _bounds(cohort, solved, best, tolerance)
    matched_people, units = solved.tiers.decode(best.value)
    pairs = _proposed_pairs(cohort, oriented, best)
    taken = {e for p in pairs for e in (p.mentor, p.mentee)}
    unmatched = [
        UnmatchedPerson(email=p.email, reason=_unmatched_reason(cohort, i, bounds.proven))
        for i, p in enumerate(pool)
        if p.email not in taken
    ]
    return MatchingResult(
        pairs=pairs,
        unmatched=unmatched,
        people_matched=matched_people,
        total_score=units / UNIT,
        proven_optimal=bounds.proven,
        bound_people=bounds.people,
        bound_score=bounds.units / UNIT if bounds.units is not None else None,
        branches=solved.branches,
        edges=oriented.edges + (solved.symmetric.edges if solved.symmetric is not None else 0),
    )


@dataclass
class _Solved:
    oriented: _Bipartite
    symmetric: _Bipartite | None
    best: _Solution
    bound: int  # no matching scores above it: the best is proven optimal when they are equal
    branches: int
    tiers: _Tiers
    relaxation: _Bipartite | None = None  # where `either` people may take both sides: bounds every proposal


def _solve(cohort: _Cohort, candidates: int, budget: int, tolerance: float) -> _Solved:
    """The best matching and a bound on any better one, with scores tied on the number matched if they fit."""
    n = len(cohort.people)
    tiers = _Tiers.of(n, cohort.max_units, tie=True)
    if not tiers.exact:
        tiers = _Tiers.of(n, cohort.max_units, tie=False)
    if not tiers.exact:
        raise ValueError("the scores are too large to compare exactly; lower the matching weights")
    everyone = np.ones(n, dtype=np.bool_)
    while True:
        try:
            oriented = _Bipartite(_Oriented(cohort), tiers, candidates, best_pairs(cohort, candidates))
            if cohort.fixed.all() and n <= EXACT_UP_TO:  # one side each: the bipartite problem is the whole problem
                best = oriented.solve(everyone, everyone)
                return _Solved(oriented, None, best, best.value, 0, tiers)
            if cohort.fixed.all():  # as many rounds as it takes to certify it within the tolerance
                best, bound = oriented.relax(everyone, everyone, CERTIFY_ROUNDS, tolerance)
                return _Solved(oriented, None, best, bound, 0, tiers)
            symmetric = _symmetric_of(oriented) if (cohort.capacity == 1).all() else None
            best, bound, branches = _search(oriented, symmetric, budget)
            return _Solved(oriented, symmetric, best, bound, branches, tiers, symmetric or oriented)
        except _NotExact:
            if not tiers.tie:
                raise
            tiers = _Tiers.of(n, cohort.max_units, tie=False)


@dataclass
class _Bounds:
    people: int  # no proposal matches more people
    units: int | None  # no proposal matching as many people scores more (None: no bound found)
    proven: bool


def _bounds(cohort: _Cohort, solved: _Solved, best: _Solution, tolerance: float) -> _Bounds:
    """What no proposal can beat, from the solve's bound; when that bound is for more people than matched (a
    fractional relaxation counts an odd cycle whole), the score bound of the relaxation without points per
    person, which every proposal's pairs also fit (a Lagrangian bound)."""
    tiers = solved.tiers
    matched, units = tiers.decode(best.value)
    people, bound_units = tiers.decode(max(solved.bound, best.value))
    score_bound = bound_units if people == matched else None
    if people % 2 and (cohort.capacity == 1).all():  # pairs of two: an even number of people is matched
        people -= 1
    if people == matched and (score_bound is None or score_bound > units) and solved.relaxation is not None:
        lagrangian = _score_bound(solved.relaxation, solved.symmetric is not None, cohort.max_units, tolerance)
        score_bound = lagrangian if score_bound is None else min(score_bound, lagrangian)
    proven = solved.bound <= best.value or (people == matched and score_bound is not None and score_bound <= units)
    return _Bounds(people, score_bound, proven)


def _score_bound(relaxation: _Bipartite, halve: bool, max_units: int, tolerance: float) -> int:
    """Units no proposal can score: the relaxation weighed by score alone (and the tie level), solved until its
    bound is within half the tolerance of its value."""
    scored = relaxation.retiered(relaxation.tiers.scores_only(max_units))
    everyone = np.ones(len(relaxation.sides.cohort.people), dtype=np.bool_)
    _, bound = scored.relax(everyone, everyone, CERTIFY_ROUNDS, tolerance / 2)
    return (bound // 2 if halve else bound) // relaxation.tiers.B


def _proposed_pairs(cohort: _Cohort, oriented: _Bipartite, best: _Solution) -> list[ProposedPair]:
    """The matching as pairs, each re-scored and re-checked against the rules, best first."""
    pool, context, pairs = cohort.people, cohort.context, []
    mentors, mentees = _persons(oriented, best)
    for a, b, pair_units in zip(mentors.tolist(), mentees.tolist(), best.units.tolist(), strict=True):
        mentor, mentee = pool[a], pool[b]
        checked, reasons = _explain(mentor, mentee, context, cohort.points)
        if checked != pair_units or why_not(mentor, mentee, context) is not None:
            raise RuntimeError(f"matcher disagrees with the rules on {mentor.email} -> {mentee.email}")
        pairs.append(ProposedPair(mentor=mentor.email, mentee=mentee.email, score=checked / UNIT, reasons=reasons))
    pairs.sort(key=lambda p: (-p.score, p.mentor, p.mentee))
    return pairs


def optimal_pairs(
    people: Sequence[Participant], context: MatchContext, exclude: Iterable[str] = ()
) -> list[ProposedPair]:
    """The optimal pairs among `people` except `exclude` (e.g. those already paired by mutual choice)."""
    return solve_matching(people, context, exclude).pairs


_SIDE = {Role.MENTOR: "more senior mentee", Role.MENTEE: "less senior mentor", Role.EITHER: "partner"}


_NONE_ON_SIDE = {
    Role.MENTOR: "nobody in the pool signed up to be mentored",
    Role.MENTEE: "nobody in the pool signed up to mentor",
    Role.EITHER: "nobody else is in the pool",
}


_NONE_BY_SENIORITY = {
    Role.MENTOR: "nobody who signed up to be mentored is more senior than you",
    Role.MENTEE: "nobody who signed up to mentor is less senior than you",
    Role.EITHER: "everyone else is at your level of seniority, or on a side that needs the opposite",
}


_NONE_OUTSIDE_CHAIN = {
    Role.MENTOR: "nobody in the pool is more senior than you and outside your management chain",
    Role.MENTEE: "nobody in the pool is less senior than you and outside your management chain",
    Role.EITHER: "everyone whose seniority fits yours is in your management chain",
}


def _unmatched_reason(cohort: _Cohort, i: int, proven: bool) -> str:
    """Why person i has no partner: the first rule that leaves nobody who fits, or that those who fit are taken."""
    person = cohort.people[i]
    lpos, rpos = int(cohort.left_pos[i]), int(cohort.right_pos[i])
    if lpos < 0 and rpos < 0:
        return "you already mentor as many people as the program allows"
    fits = cohort.partners(lpos, rpos)
    role = person.role if (lpos >= 0 and rpos >= 0) or person.role != Role.EITHER else Role.MENTOR
    if fits:
        who = "the one person" if fits == 1 else f"all {fits} people"
        taken = f"{who} who could be your {_SIDE[role]} {'is' if fits == 1 else 'are'} already paired"
        if proven:
            return f"{taken}; pairing you instead would leave someone else without a partner or lower the overall fit"
        return f"{taken}, in a proposal that pairs as many people as could be found"
    others = np.arange(len(cohort.people)) != i
    no_one = np.zeros_like(others)
    as_mentee = (cohort.left_pos >= 0) & others if rpos >= 0 else no_one
    as_mentor = (cohort.right_pos >= 0) & others if lpos >= 0 else no_one
    stages = [(as_mentee | as_mentor, _NONE_ON_SIDE[role])]
    fit = (as_mentee & (cohort.seniority < person.seniority)) | (as_mentor & (cohort.seniority > person.seniority))
    stages.append((fit, _NONE_BY_SENIORITY[role]))
    fit = fit & ~cohort.related(i)
    stages.append((fit, _NONE_OUTSIDE_CHAIN[role]))
    names = [cohort.people[j].name for j in cohort.partners_before(i) if fit[j]]
    named = f" ({_listing(names)})" if names else ""
    stages.append((no_one, f"your partners so far in this program{named} are not proposed again"))
    detail = next(words for allowed, words in stages if not allowed.any())
    return f"nobody in the pool could be your {_SIDE[role]}: {detail}"
