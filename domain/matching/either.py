"""Who mentors whom when some people are open to `either` side: the fractional relaxation, then a bounded search.

Then who mentors whom is a general, non-bipartite matching. Its LP relaxation (each person in at most one pair,
fractionally) is solved exactly as a bipartite problem in which everyone is both a row and a column and each
allowed pair appears both ways round (`_Symmetric`): half its optimum bounds every proposal, and an odd number
of people in the bound is rounded down to even (with capacity 1 people come in twos). Each `either` person is
then put on the side the relaxation uses them on, the bipartite problem with those sides is solved exactly
(`assignment`), and anyone the exact solve still uses on both sides is fixed to the side that earns more, then
solved again (`_dive`). A best-first branch and bound (`_search`: fix an `either` person to one side or the
other, bound each branch by its own relaxation) improves this on small pools and proves it optimal when it
closes: every branch up to 16 people, then about a second's worth, none from about 2,000 (`_branch_budget`).
With group mentoring (capacity above 1) the relaxation is the oriented one in which an `either` person may be
used on both sides (a weaker bound). When the search does not close, `_fill` adds any pair of people both still
free, so the proposal is at least maximal.

Measured on the small path: on 700 random pools of 6 to 12 people, equal to brute force and proven every time;
without branching, equal on 84-90% of them and at most 3 people short.

Large pools (above `EXACT_RELAXATION_UP_TO`) get one relaxation solve (its people level is what it must bound)
and propose on the candidate graph, enriched with the pairs the relaxation's duality check found (`_adopt`);
`solve._bounds` then bounds their score by the relaxation without points per person, so that a proposal is
certified within a tolerance rather than proven. On 10,000 people with 15% `either` the number matched is
proven maximal and the score certified within 0.05% (bench/results/matching.md).
"""

import heapq
from dataclasses import dataclass, field

import numpy as np

from domain.matching.assignment import _Bipartite, _Sides, _Solution
from domain.matching.model import Bools, Ints
from domain.matching.scoring import _Cohort

EXACT_RELAXATION_UP_TO = 3000  # people; above, the relaxation gets one solve (and a valid, looser bound)


class _Symmetric(_Sides):
    """Everyone as a row and as a column, each feasible pair both ways round (capacity 1 only).

    Its maximum-weight matching is twice the best *fractional* matching of the general graph, so half its value
    bounds every proposal, and an `either` person's two copies say which side suits them.
    """

    def __init__(self, cohort: _Cohort) -> None:
        everyone = np.arange(len(cohort.people), dtype=np.int64)
        super().__init__(cohort, everyone, everyone, np.ones(len(everyone), dtype=np.int64))

    def block(self, rows: Ints, cols: Ints | None = None) -> tuple[Ints, Bools]:
        cohort = self.cohort
        cols = np.arange(len(cohort.people)) if cols is None else cols
        units = np.zeros((len(rows), len(cols)), dtype=np.int64)
        feasible = np.zeros((len(rows), len(cols)), dtype=np.bool_)
        # Rows as mentors of the columns that may be mentored, then rows as mentees of the columns that may mentor.
        # Only one way round can be feasible (the mentor is strictly less senior), so the two never clash.
        mentor_rows, mentee_cols = (
            np.flatnonzero(cohort.left_pos[rows] >= 0),
            np.flatnonzero(cohort.right_pos[cols] >= 0),
        )
        if len(mentor_rows) and len(mentee_cols):
            u, f = cohort.score(cohort.left_pos[rows[mentor_rows]], cohort.right_pos[cols[mentee_cols]])
            units[np.ix_(mentor_rows, mentee_cols)] = np.where(f, u, 0)
            feasible[np.ix_(mentor_rows, mentee_cols)] = f
        mentee_rows, mentor_cols = (
            np.flatnonzero(cohort.right_pos[rows] >= 0),
            np.flatnonzero(cohort.left_pos[cols] >= 0),
        )
        if len(mentee_rows) and len(mentor_cols):
            u, f = cohort.score(cohort.left_pos[cols[mentor_cols]], cohort.right_pos[rows[mentee_rows]])
            units[np.ix_(mentee_rows, mentor_cols)] += np.where(f, u, 0).T
            feasible[np.ix_(mentee_rows, mentor_cols)] |= f.T
        return units, feasible

    def units(self, rows: Ints, cols: Ints) -> Ints:
        """Units of each pair the way round seniority allows (rows as mentors of more senior columns, else as
        their mentees), where both people may take those sides; 0 elsewhere."""
        cohort = self.cohort
        units = np.zeros((len(rows), len(cols)), dtype=np.int64)
        row_mentors, col_mentees = (
            np.flatnonzero(cohort.left_pos[rows] >= 0),
            np.flatnonzero(cohort.right_pos[cols] >= 0),
        )
        row_mentees, col_mentors = (
            np.flatnonzero(cohort.right_pos[rows] >= 0),
            np.flatnonzero(cohort.left_pos[cols] >= 0),
        )
        junior = cohort.seniority[rows][:, None] < cohort.seniority[cols][None, :]
        if len(row_mentors) and len(col_mentees):
            got = cohort.units(cohort.left_pos[rows[row_mentors]], cohort.right_pos[cols[col_mentees]])
            units[np.ix_(row_mentors, col_mentees)] = got
        if len(row_mentees) and len(col_mentors):
            got = cohort.units(cohort.left_pos[cols[col_mentors]], cohort.right_pos[rows[row_mentees]]).T
            mask = ~junior[np.ix_(row_mentees, col_mentors)]
            units[np.ix_(row_mentees, col_mentors)] = np.where(mask, got, units[np.ix_(row_mentees, col_mentors)])
        return units

    def mentor_mentee(self, rows: Ints, cols: Ints) -> tuple[Ints, Ints]:
        a, b = np.broadcast_arrays(rows, cols)
        first = self.cohort.seniority[a] < self.cohort.seniority[b]
        return np.where(first, a, b), np.where(first, b, a)


def _symmetric_of(oriented: _Bipartite) -> _Bipartite:
    """The symmetric problem, seeded from the oriented one's candidates: every pair it holds is a pair the
    oriented problem scored, so a row's left-out pairs are bounded by that person's cut on either side."""
    cohort = oriented.sides.cohort
    problem = _Bipartite(_Symmetric(cohort), oriented.tiers, oriented.k)
    mentor, mentee = cohort.left[oriented.rows], cohort.right[oriented.cols]
    problem._add(np.concatenate([mentor, mentee]), np.concatenate([mentee, mentor]), np.tile(oriented.units, 2))
    cut = np.full(len(cohort.people), -1, dtype=np.int64)
    cut[cohort.left] = oriented.row_cut
    cut[cohort.right] = np.maximum(cut[cohort.right], oriented.col_cut)
    problem.row_cut = cut
    problem.col_cut = cut.copy()
    return problem


def _adopt(oriented: _Bipartite, symmetric: _Bipartite) -> None:
    """Give the oriented graph the pairs the symmetric one's duality checks found (each way round once)."""
    cohort = oriented.sides.cohort
    rows, cols = cohort.left_pos[symmetric.mentor], cohort.right_pos[symmetric.mentee]
    new = (rows >= 0) & (cols >= 0)
    new[new] = ~oriented.known(rows[new], cols[new])
    if new.any():
        oriented._add(rows[new], cols[new], symmetric.units[new])


def _branch_budget(people: int) -> int:
    """Relaxations the branch and bound may solve after the first proposal: all it needs on pools of up to 16,
    then about a second's worth (one costs some 4 ms + 2.5e-7 * people**2 s here), none from about 2,000."""
    if people <= 16:
        return 4096
    return int(1.0 / (0.004 + 2.5e-7 * people**2))


def _persons(problem: _Bipartite, solution: _Solution) -> tuple[Ints, Ints]:
    """The mentor and the mentee (persons) of each pair of a solution."""
    return problem.sides.mentor_mentee(solution.rows, solution.cols)


def _conflicts(problem: _Bipartite, solution: _Solution) -> list[int]:
    mentors, mentees = _persons(problem, solution)
    return sorted(set(mentors.tolist()) & set(mentees.tolist()))


def _dive(
    problem: _Bipartite, solution: _Solution, mentor_ok: Bools, mentee_ok: Bools, exact: bool = True
) -> _Solution:
    """A feasible proposal: put each person used on both sides on the side that earns more, solve again, repeat
    (`exact` as in `_Bipartite.solve`)."""
    mentor_ok, mentee_ok = mentor_ok.copy(), mentee_ok.copy()
    n = len(mentor_ok)
    while conflicts := _conflicts(problem, solution):
        mentors, mentees = _persons(problem, solution)
        as_mentor = np.bincount(mentors, solution.weight, minlength=n)
        as_mentee = np.bincount(mentees, solution.weight, minlength=n)
        for person in conflicts:
            if as_mentor[person] >= as_mentee[person]:
                mentee_ok[person] = False
            else:
                mentor_ok[person] = False
        solution = problem.solve(mentor_ok, mentee_ok, exact)
    return solution


@dataclass(order=True)
class _Node:
    priority: int  # minus the node's bound, so the most promising node comes first
    tick: int
    mentor_ok: Bools = field(compare=False)
    mentee_ok: Bools = field(compare=False)
    relaxed: _Solution = field(compare=False)


def _search(oriented: _Bipartite, symmetric: _Bipartite | None, budget: int) -> tuple[_Solution, int, int]:
    """Best proposal found, a bound on every proposal, and the number of relaxations the branching solved.

    The relaxation is the fractional one (`symmetric`, capacity 1) or, with group mentoring, the oriented
    problem in which an `either` person may be used on both sides. A node fixes some `either` people to one
    side; it closes when its bound is no better than the best proposal, or when nobody is left to fix (then its
    proposal, an exact bipartite solve, is its optimum).
    """
    return _BranchAndBound(oriented, symmetric).run(budget)


class _BranchAndBound:
    def __init__(self, oriented: _Bipartite, symmetric: _Bipartite | None) -> None:
        cohort = oriented.sides.cohort
        self.n = len(cohort.people)
        self.oriented, self.symmetric = oriented, symmetric
        self.undecided_at_start = ~cohort.fixed.astype(np.bool_)
        self.sides_of = symmetric if symmetric is not None else oriented
        self.rounds = 100 if self.n <= EXACT_RELAXATION_UP_TO else 1
        self.exact = self.n <= EXACT_RELAXATION_UP_TO  # above, proposals are solved on the candidates only

    def run(self, budget: int) -> tuple[_Solution, int, int]:
        everyone = np.ones(self.n, dtype=np.bool_)
        relaxed, bound = self.relax(everyone, everyone)
        if self.symmetric is not None:
            _adopt(self.oriented, self.symmetric)
        best = self.propose(relaxed, everyone, everyone)
        queue = [_Node(-bound, 0, everyone, everyone, relaxed)]
        nodes = 0
        while queue and -queue[0].priority > best.value and nodes < budget:
            node = heapq.heappop(queue)
            person = self.branch_on(node)
            if person is None:  # every side is fixed: the node's proposal was an exact solve of it
                continue
            mentor_only, mentee_only = node.mentee_ok.copy(), node.mentor_ok.copy()
            mentor_only[person] = False
            mentee_only[person] = False
            for mentor_ok, mentee_ok in ((node.mentor_ok, mentor_only), (mentee_only, node.mentee_ok)):
                child, child_bound = self.relax(mentor_ok, mentee_ok)
                nodes += 1
                if child_bound <= best.value:
                    continue
                found = self.propose(child, mentor_ok, mentee_ok)
                best = found if found.value > best.value else best
                if child_bound > best.value:
                    heapq.heappush(queue, _Node(-child_bound, nodes, mentor_ok, mentee_ok, child))
        open_bounds = [-node.priority for node in queue if self.branch_on(node) is not None]
        return best, max([best.value, *open_bounds]), nodes

    def relax(self, mentor_ok: Bools, mentee_ok: Bools) -> tuple[_Solution, int]:
        found, bound = self.sides_of.relax(mentor_ok, mentee_ok, self.rounds)
        return found, bound // 2 if self.symmetric is not None else bound

    def uses(self, relaxed: _Solution) -> tuple[Ints, Ints]:
        mentors, mentees = _persons(self.sides_of, relaxed)
        return np.bincount(mentors, minlength=self.n), np.bincount(mentees, minlength=self.n)

    def propose(self, relaxed: _Solution, mentor_ok: Bools, mentee_ok: Bools) -> _Solution:
        """Each undecided person on the side the relaxation uses them on (if only one), then an exact solve (on
        the candidates only for large pools: the bound judges it)."""
        as_mentor, as_mentee = self.uses(relaxed)
        undecided = mentor_ok & mentee_ok & self.undecided_at_start
        mentor_side, mentee_side = mentor_ok.copy(), mentee_ok.copy()
        mentee_side[undecided & (as_mentor > 0) & (as_mentee == 0)] = False
        mentor_side[undecided & (as_mentee > 0) & (as_mentor == 0)] = False
        first = self.oriented.solve(mentor_side, mentee_side, self.exact)
        return _dive(self.oriented, first, mentor_side, mentee_side, self.exact)

    def branch_on(self, node: _Node) -> int | None:
        """Whom to fix next: someone the relaxation uses on both sides, else on either, else anyone undecided."""
        as_mentor, as_mentee = self.uses(node.relaxed)
        undecided = node.mentor_ok & node.mentee_ok & self.undecided_at_start
        for wanted in (undecided & (as_mentor > 0) & (as_mentee > 0), undecided & ((as_mentor + as_mentee) > 0)):
            if wanted.any():
                return int(np.flatnonzero(wanted)[0])
        rest = np.flatnonzero(undecided)
        return int(rest[0]) if len(rest) else None


def _fill(problem: _Bipartite, solution: _Solution) -> _Solution:
    """Add any pair of people both still free: a cheap guarantee that a budget-limited proposal is maximal."""
    sides, t = problem.sides, problem.tiers
    cohort = sides.cohort
    n = len(cohort.people)
    mentors, mentees = _persons(problem, solution)
    mentees_of = np.bincount(mentors, minlength=n)
    is_mentee = np.zeros(n, dtype=np.bool_)
    is_mentee[mentees] = True
    room = cohort.capacity - mentees_of[cohort.left]  # by left position
    free_left = np.flatnonzero((room > 0) & ~is_mentee[cohort.left])
    free_right = ~is_mentee[cohort.right] & (mentees_of[cohort.right] == 0)
    if not len(free_left) or not free_right.any():
        return solution
    units, feasible = cohort.score(free_left)
    rows, cols = np.nonzero(feasible & free_right[None, :])
    got_rows, got_cols = solution.rows.tolist(), solution.cols.tolist()
    gained, weights = solution.units.tolist(), solution.weight.tolist()
    for i in np.lexsort((cols, rows, -units[rows, cols])).tolist():
        lpos, rpos = int(free_left[rows[i]]), int(cols[i])
        a, b = int(cohort.left[lpos]), int(cohort.right[rpos])
        if room[lpos] <= 0 or is_mentee[a] or is_mentee[b] or mentees_of[b] > 0:
            continue
        first = mentees_of[a] == 0
        u = int(units[rows[i], cols[i]])
        tie = t.tie * ((int(cohort.fixed[a]) if first else 0) + int(cohort.fixed[b]))
        weights.append((2 if first else 1) * t.A + t.B * u + tie)
        room[lpos] -= 1
        mentees_of[a] += 1
        is_mentee[b] = True
        got_rows.append(lpos)
        got_cols.append(rpos)
        gained.append(u)
    w = np.array(weights, dtype=np.int64)

    def ints(values: list[int]) -> Ints:
        return np.array(values, dtype=np.int64)

    return _Solution(ints(got_rows), ints(got_cols), ints(gained), w, int(w.sum()))
