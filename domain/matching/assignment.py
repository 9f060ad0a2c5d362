"""The exact bipartite solve: who mentors whom when every person has one side, with a certificate of optimality.

What is optimal
    A proposal first matches as many people as possible, then, among all proposals that match that many, has
    the highest total score; among those it prefers people who asked for one side (mentor or mentee) over
    people open to `either`, who are easier to place in a later rematch. The three goals are folded into one
    integer weight per possible pair, `A * people it matches + B * score + tie` (`_Tiers`), with A and B chosen
    so that a lower goal can never outweigh a higher one. SciPy's solver adds costs in float64; the weights are
    kept well inside its exact integer range (the tie level is dropped when a cohort is too large for it), and
    every solve is verified in exact integer arithmetic (`_NotExact` when the check fails, and the caller
    retries without the tie level).

Method
    Each mentor becomes `capacity` slots; a mentor's first slot is worth 2A (it matches two people), the others
    A (one more person), so a second mentee only goes to a mentor when no free mentor fits. Maximum-weight
    matching between slots and mentees is solved by SciPy's LAPJVsp (`min_weight_full_bipartite_matching`) as
    slots against mentees plus a private "stay unmatched" column per slot; exact integer prices, a price per
    slot and per mentee with u + p >= weight on every edge, follow from the matching (`_prices`: the lowest
    mentee prices, by a vectorised Bellman-Ford), and prove it optimal on the graph or show it is not.
    Only the best `candidates` partners of each mentor and of each mentee enter the graph (`CANDIDATES`, 24 by
    default; `candidates.best_pairs`), with a bound on every pair left out. Pruning never costs optimality:
    after each solve every left-out pair that could break the prices is found (a row is scored, by one matrix
    product, only against the columns whose price is low enough for its bound; the rules are checked only
    where a pair would break) and added, and the graph is solved again until none is left. The result is then
    optimal over every pair, by LP duality: tests compare it with brute force and SciPy's dense assignment,
    the bench with the unpruned graph, the dense assignment and an integer program. `relax` instead stops at a
    tolerance and returns the value plus the prices' largest violations: a bound on every matching.

`_Sides` says what the rows and columns of a problem are; `_Oriented` is the problem above (rows mentors,
columns mentees). `_Bipartite.solve` is exact under any restriction of who may mentor and who be mentored,
which the search over `either` people (`either`) relies on; `_Bipartite.relax` also bounds the optimum.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from domain.matching.candidates import Candidates, in_parallel
from domain.matching.model import Bools, Ints
from domain.matching.scoring import _Cohort

CANDIDATES = 24  # best partners per person and side kept in the graph; the duality check adds any other needed


BLOCK_CELLS = 1 << 20  # pairs scored at once: about 8 MB per array


EXACT_LIMIT = 1 << 52  # weights must stay below this for float64 (SciPy) to add them exactly


@dataclass(frozen=True)
class _Tiers:
    """One integer weight per pair, `A * people it matches + B * score units + tie`, where no lower goal can
    outweigh a higher one: B exceeds any total of ties, A any total of the rest."""

    A: int
    B: int
    tie: int  # 1: a person with a fixed side counts 1 in the tie level; 0: no tie level
    C: int  # above any pair's weight

    @classmethod
    def of(cls, people: int, max_units: int, tie: bool) -> "_Tiers":
        per_unit = people + 1 if tie else 1
        per_person = per_unit * people * max(max_units, 1) + 2 * people + 1
        return cls(A=per_person, B=per_unit, tie=int(tie), C=2 * per_person + per_unit * max_units + 3)

    def scores_only(self, max_units: int) -> "_Tiers":
        """The same weights without the people level: no points for matching more people (a score bound)."""
        return _Tiers(A=0, B=self.B, tie=self.tie, C=self.B * max(max_units, 1) + 3)

    @property
    def exact(self) -> bool:
        return self.C * 64 < EXACT_LIMIT  # SciPy adds costs in float64; paths longer than 64 edges are rare

    def decode(self, value: int) -> tuple[int, int]:
        """People matched and score units of a proposal's value."""
        return value // self.A, (value % self.A) // self.B


class _Sides:
    """The rows and columns of one bipartite problem over a cohort, and how a block of rows scores against them."""

    def __init__(self, cohort: _Cohort, rows: Ints, cols: Ints, capacity: Ints) -> None:
        self.cohort = cohort
        self.row_person, self.col_person, self.capacity = rows, cols, capacity

    def block(self, rows: Ints, cols: Ints | None = None) -> tuple[Ints, Bools]:
        """Scores and feasibility of these rows against these columns (all columns by default)."""
        raise NotImplementedError

    def mentor_mentee(self, rows: Ints, cols: Ints) -> tuple[Ints, Ints]:
        """Which person would mentor and which be mentored, for rows and columns (broadcast together)."""
        raise NotImplementedError

    def units(self, rows: Ints, cols: Ints) -> Ints:
        """Units of these rows against these columns, stated choices left out (every chosen pair is a candidate
        from the start); meaningless where a pair is not allowed, which `pair_ok` tells."""
        raise NotImplementedError

    def pair_ok(self, rows: Ints, cols: Ints) -> Bools:
        """Whether each (row, column) pair keeps every rule (rows and columns side by side, not crossed)."""
        mentor, mentee = self.mentor_mentee(rows, cols)
        cohort = self.cohort
        ok = (cohort.left_pos[mentor] >= 0) & (cohort.right_pos[mentee] >= 0) & cohort.allowed(mentor, mentee)
        n = max(cohort.n_right, 1)
        tried = np.isin(cohort.left_pos[mentor] * n + cohort.right_pos[mentee], cohort.forbid_l * n + cohort.forbid_r)
        return ok & ~tried

    def row_ok(self, mentor_ok: Bools, mentee_ok: Bools) -> Bools:
        return np.ones(len(self.row_person), dtype=np.bool_)

    def col_ok(self, mentor_ok: Bools, mentee_ok: Bools) -> Bools:
        return np.ones(len(self.col_person), dtype=np.bool_)

    def blocks(self) -> Iterable[Ints]:
        step = max(1, BLOCK_CELLS // max(len(self.col_person), 1))
        for start in range(0, len(self.row_person), step):
            yield np.arange(start, min(start + step, len(self.row_person)), dtype=np.int64)


class _Oriented(_Sides):
    """Rows: people who may mentor (each `capacity` slots). Columns: people who may be mentored."""

    def __init__(self, cohort: _Cohort) -> None:
        super().__init__(cohort, cohort.left, cohort.right, cohort.capacity)

    def block(self, rows: Ints, cols: Ints | None = None) -> tuple[Ints, Bools]:
        return self.cohort.score(rows, cols)

    def mentor_mentee(self, rows: Ints, cols: Ints) -> tuple[Ints, Ints]:
        mentor, mentee = np.broadcast_arrays(self.cohort.left[rows], self.cohort.right[cols])
        return mentor, mentee

    def units(self, rows: Ints, cols: Ints) -> Ints:
        return self.cohort.units(rows, cols)

    def row_ok(self, mentor_ok: Bools, mentee_ok: Bools) -> Bools:
        return mentor_ok[self.cohort.left]

    def col_ok(self, mentor_ok: Bools, mentee_ok: Bools) -> Bools:
        return mentee_ok[self.cohort.right]


@dataclass
class _Solution:
    rows: Ints  # row entity of each pair
    cols: Ints  # column entity of each pair
    units: Ints
    weight: Ints  # each pair's weight in the objective
    value: int

    @classmethod
    def empty(cls) -> "_Solution":
        nothing = np.zeros(0, dtype=np.int64)
        return cls(nothing, nothing, nothing, nothing, 0)


class _NotExact(ArithmeticError):
    """The float64 solver lost precision (found by the exact integer check); retry without the tie level."""


@dataclass
class _Slots:
    """The problem's rows as slots: a mentor with capacity k is k slots."""

    owner: Ints  # the row each slot belongs to
    tier: Ints  # 2A for a row's first slot (two people), A for the others (one more person)
    fixed: Ints  # tie level earned by the row's person, on its first slot only
    first: Ints  # each row's first slot (-1 when the row is not in the problem)
    rq: Ints  # the columns in the problem
    q_fixed: Ints  # tie level earned by each column in the problem


@dataclass
class _Scanned:
    """What the duality check found in one block of rows."""

    taken: tuple[Ints, Ints, Ints] | None  # pairs to add: rows, columns, units
    excess: int  # how much the block's slots' prices must rise to hold on its open pairs
    cuts: tuple[Ints, Ints] | None  # rows seen whole, and their exact cuts


@dataclass
class _Round:
    """One solve of the candidate graph: the matching and the dual prices that certify it there."""

    match: Ints  # the column (index into rq) each slot got, or >= len(rq) for none
    u: Ints  # each slot's price, >= 0
    p: Ints  # each column's price (index into rq), >= 0; u + p >= weight on every candidate edge, = on the used
    e_slot: Ints
    e_q: Ints
    e_units: Ints
    e_w: Ints


class _Bipartite:
    """One bipartite problem: candidate edges, exact solves under side restrictions, and the duality check."""

    def __init__(self, sides: _Sides, tiers: _Tiers, candidates: int, seed: Candidates | None = None) -> None:
        """The problem over `sides`, its graph seeded with `seed`'s pairs and bounds (else empty, to add to)."""
        self.sides, self.tiers = sides, tiers
        self.k = max(1, candidates)
        self.solves = 0
        n_rows, n_cols = len(sides.row_person), len(sides.col_person)
        self.row_cut = np.full(n_rows, -1, dtype=np.int64)  # bound on the units of a row's left-out pairs
        self.col_cut = np.full(n_cols, -1, dtype=np.int64)  # the same for a column
        empty = np.zeros(0, dtype=np.int64)
        self.rows, self.cols, self.units, self.mentor, self.mentee = empty, empty, empty, empty, empty
        self.keys = empty  # row * columns + column of every edge, sorted
        if seed is not None:
            self._add(seed.rows, seed.cols, seed.units)
            self.row_cut, self.col_cut = seed.row_cut.copy(), seed.col_cut.copy()

    def _add(self, rows: Ints, cols: Ints, units: Ints) -> None:
        """Add pairs to the candidate graph (the caller never adds one twice)."""
        n_cols = max(len(self.sides.col_person), 1)
        _, first = np.unique(rows * n_cols + cols, return_index=True)
        rows, cols, units = rows[first], cols[first], units[first]
        mentor, mentee = self.sides.mentor_mentee(rows, cols)
        self.rows = np.concatenate([self.rows, rows])
        self.cols = np.concatenate([self.cols, cols])
        self.units = np.concatenate([self.units, units])
        self.mentor = np.concatenate([self.mentor, mentor])
        self.mentee = np.concatenate([self.mentee, mentee])
        self.keys = np.sort(self.rows * n_cols + self.cols)

    def known(self, rows: Ints, cols: Ints) -> Bools:
        """Whether each (row, column) pair is already an edge."""
        keys = rows * max(len(self.sides.col_person), 1) + cols
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        return self.keys[at] == keys if len(self.keys) else np.zeros(len(keys), dtype=np.bool_)

    @property
    def edges(self) -> int:
        return len(self.rows)

    def solve(self, mentor_ok: Bools, mentee_ok: Bools, exact: bool = True) -> _Solution:
        """The exact optimum over every pair (not only the candidates) where the mentor is in `mentor_ok` and the
        mentee in `mentee_ok` (both by person): solve, check the left-out pairs, add what is needed, again.
        Not `exact`: the optimum over the candidate graph, one solve (a proposal that a bound will judge)."""
        slots = self._slots(mentor_ok, mentee_ok)
        if slots is None:
            return _Solution.empty()
        while True:
            found = self._round(slots, mentor_ok, mentee_ok)
            if not exact or not self._scan(slots, found, mentor_ok, mentee_ok)[0]:
                return self._solution(slots, found)

    def relax(self, mentor_ok: Bools, mentee_ok: Bools, rounds: int, tolerance: float = 0.0) -> tuple[_Solution, int]:
        """Up to `rounds` solves as in `solve` (all it takes, it is exact), and an upper bound on the optimum over
        every pair; it stops early once the bound is within `tolerance` (a share of the score) of the value.

        The prices of the last solve hold on the candidate graph; raising each slot's price by its largest
        violation on the left-out pairs makes them hold everywhere, and by weak duality the value plus those
        violations bounds every matching (the value itself once nothing is violated).
        """
        slots = self._slots(mentor_ok, mentee_ok)
        if slots is None:
            return _Solution.empty(), 0
        for _ in range(max(1, rounds)):
            found = self._round(slots, mentor_ok, mentee_ok)
            _, excess = self._scan(slots, found, mentor_ok, mentee_ok)
            score_part = int(self._solution(slots, found).units.sum()) * self.tiers.B
            if excess <= tolerance * score_part:
                break
        solution = self._solution(slots, found)
        return solution, solution.value + excess

    def retiered(self, tiers: _Tiers) -> "_Bipartite":
        """The same problem and candidate graph, weighed with other tiers."""
        problem = _Bipartite(self.sides, tiers, self.k)
        problem.rows, problem.cols, problem.units = self.rows, self.cols, self.units
        problem.mentor, problem.mentee, problem.keys = self.mentor, self.mentee, self.keys
        problem.row_cut, problem.col_cut = self.row_cut.copy(), self.col_cut.copy()
        return problem

    def _slots(self, mentor_ok: Bools, mentee_ok: Bools) -> _Slots | None:
        sides, t = self.sides, self.tiers
        row_ok, col_ok = sides.row_ok(mentor_ok, mentee_ok), sides.col_ok(mentor_ok, mentee_ok)
        lp, rq = np.flatnonzero(row_ok), np.flatnonzero(col_ok)
        if not len(lp) or not len(rq):
            return None
        caps = sides.capacity[lp]
        first = np.full(len(row_ok), -1, dtype=np.int64)
        first[lp] = np.cumsum(caps) - caps
        owner = np.repeat(lp, caps)
        rank = np.arange(int(caps.sum())) - np.repeat(first[lp], caps)
        fixed = sides.cohort.fixed
        return _Slots(
            owner=owner,
            tier=np.where(rank == 0, 2 * t.A, t.A),
            fixed=fixed[sides.row_person[owner]] * (rank == 0) * t.tie,
            first=first,
            rq=rq,
            q_fixed=fixed[sides.col_person[rq]] * t.tie,
        )

    def _round(self, slots: _Slots, mentor_ok: Bools, mentee_ok: Bools) -> _Round:
        sides, t = self.sides, self.tiers
        self.solves += 1
        q_of = np.full(len(sides.col_person), -1, dtype=np.int64)
        q_of[slots.rq] = np.arange(len(slots.rq))
        sel = (slots.first[self.rows] >= 0) & (q_of[self.cols] >= 0) & mentor_ok[self.mentor] & mentee_ok[self.mentee]
        er, ec, eu = self.rows[sel], self.cols[sel], self.units[sel]
        reps = sides.capacity[er]
        within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        e_slot = np.repeat(slots.first[er], reps) + within
        e_q = np.repeat(q_of[ec], reps)
        e_units = np.repeat(eu, reps)
        e_w = slots.tier[e_slot] + t.B * e_units + slots.fixed[e_slot] + slots.q_fixed[e_q]
        match, u, p = self._assign(len(slots.owner), len(slots.rq), e_slot, e_q, e_w)
        return _Round(match, u, p, e_slot, e_q, e_units, e_w)

    def _solution(self, slots: _Slots, found: _Round) -> _Solution:
        chosen = found.match[found.e_slot] == found.e_q
        weight = found.e_w[chosen]
        return _Solution(
            slots.owner[found.e_slot[chosen]],
            slots.rq[found.e_q[chosen]],
            found.e_units[chosen],
            weight,
            int(weight.sum()),
        )

    def _assign(self, n_slots: int, n_q: int, e_slot: Ints, e_q: Ints, e_w: Ints) -> tuple[Ints, Ints, Ints]:
        """Maximum-weight matching, some slots and columns left free: the column each slot got (n_q for none), and
        each slot's and each column's price (`_prices`).

        SciPy solves the slots against the columns plus a private "stay unmatched" column per slot, with costs
        C - weight > 0, so the minimum-cost full matching is the maximum-weight matching.
        """
        top = self.tiers.C
        slots = np.arange(n_slots)
        rect = sparse.csr_matrix(
            (
                np.r_[top - e_w, np.full(n_slots, top)].astype(np.float64),
                (np.r_[e_slot, slots], np.r_[e_q, n_q + slots]),
            ),
            shape=(n_slots, n_q + n_slots),
        )
        got = np.asarray(min_weight_full_bipartite_matching(rect)[1], dtype=np.int64)
        match = np.where(got < n_q, got, n_q)
        del rect
        u, p = _prices(match, n_q, e_slot, e_q, e_w)
        return match, u, p

    def _scan(self, slots: _Slots, found: _Round, mentor_ok: Bools, mentee_ok: Bools) -> tuple[bool, int]:
        """Check the left-out pairs against the prices: add those that could improve the result (with their
        rows' next best pairs, so the next round rarely finds more); return whether any did, and by how much the
        slots' prices must rise to hold everywhere (0 when the solve is optimal over every pair).

        By LP duality the matching is optimal over every pair when u[slot] + p[column] >= weight on every
        feasible pair; the candidate edges hold by construction, so only left-out pairs are checked. With the
        weight bounded through the row's cut, a pair can only break where the column's price is below a
        threshold of the row: so a row is scored only against those columns, if any.
        """
        sides, t = self.sides, self.tiers
        n_rows, n_cols = len(sides.row_person), len(sides.col_person)
        price = np.full(n_cols, np.iinfo(np.int64).max)  # columns outside the problem never break anything
        price[slots.rq] = found.p
        live = self.row_cut[slots.owner] >= 0
        most = slots.tier + t.B * self.row_cut[slots.owner] + slots.fixed + t.tie - found.u
        below = np.full(n_rows, np.iinfo(np.int64).min)  # a row's left-out pair may break only where price < this
        np.maximum.at(below, slots.owner[live], most[live])
        # The column's cut bounds the same pair: it may break only where the column's slack exceeds the slot's.
        slack = np.full(n_rows, np.iinfo(np.int64).max)
        np.minimum.at(slack, slots.owner[live], (found.u - slots.tier - slots.fixed)[live])
        col_slack = np.where(self.col_cut >= 0, t.B * self.col_cut + t.tie - price, np.iinfo(np.int64).min)
        col_slack[self.col_cut < 0] = np.iinfo(np.int64).min
        risky = np.flatnonzero(below > price.min(initial=np.iinfo(np.int64).max))
        if not len(risky):
            return False, 0
        by_price = np.argsort(price, kind="stable")
        sorted_price = price[by_price]
        risky = risky[np.argsort(below[risky], kind="stable")]  # fewest hot columns first
        blocks: list[tuple[Ints, Ints]] = []  # rows, and the columns where their left-out pairs could break
        start = 0
        while start < len(risky):
            rows = risky[start : start + 256]
            hot = by_price[: np.searchsorted(sorted_price, int(below[rows].max()), side="left")]
            hot = np.sort(hot[col_slack[hot] > slack[rows].min()])
            rows = rows[: max(1, BLOCK_CELLS // max(len(hot), 1))]
            start += len(rows)
            blocks.append((rows, hot))
        excess = 0
        gained: list[tuple[Ints, Ints, Ints]] = []
        for block in in_parallel(lambda b: self._scan_block(slots, found, *b, mentor_ok, mentee_ok), blocks):
            excess += block.excess
            if block.taken is not None:
                gained.append(block.taken)
            if block.cuts is not None:
                self.row_cut[block.cuts[0]] = block.cuts[1]
        if gained:
            self._add(*(np.concatenate(part) for part in zip(*gained, strict=True)))
        return excess > 0, excess

    def _scan_block(
        self, slots: _Slots, found: _Round, rows: Ints, hot: Ints, mentor_ok: Bools, mentee_ok: Bools
    ) -> _Scanned:
        """Score rows against the hot columns: the pairs to add (if any), the rows' price excess and, for rows
        seen whole, their exact cuts. Changes nothing (blocks run at once; `_scan` applies what they found).

        Rules are checked only where the prices say a pair could break, or when a row is seen whole."""
        sides = self.sides
        if not len(hot):
            return _Scanned(None, 0, None)
        units = sides.units(rows, hot)
        q_of = np.full(len(sides.col_person), -1, dtype=np.int64)
        q_of[slots.rq] = np.arange(len(slots.rq))
        margin = self._margin(slots, found, rows, q_of[hot], units)
        at_r, at_c = np.nonzero(margin > 0)
        at_r, at_c = self._open(rows[at_r], hot[at_c], mentor_ok, mentee_ok, at_r, at_c)
        excess = self._excess(slots, found, rows[at_r], q_of[hot[at_c]], units[at_r, at_c])
        taken_r, taken_c = self._near(rows, hot, units, margin, at_r, mentor_ok, mentee_ok)
        take_r, take_c = np.r_[at_r, taken_r], np.r_[at_c, taken_c]
        # Seen whole: the rows' cuts can be exact from now on.
        cuts = (rows, self._exact_cuts(rows, units, take_r, take_c)) if len(hot) == len(sides.col_person) else None
        taken = (rows[take_r], hot[take_c], units[take_r, take_c]) if len(take_r) else None
        return _Scanned(taken, excess, cuts)

    def _margin(self, slots: _Slots, found: _Round, rows: Ints, qs: Ints, units: Ints) -> Ints:
        """By how much each pair's weight exceeds its best slot's price plus the column's (> 0: it breaks)."""
        t = self.tiers
        first, capacity = slots.first[rows], self.sides.capacity[rows]
        col_side = np.where(qs >= 0, slots.q_fixed[qs] - found.p[qs], np.iinfo(np.int64).min // 4)
        best = np.full(len(rows), np.iinfo(np.int64).min // 4, dtype=np.int64)
        for rank in range(int(capacity.max(initial=0))):
            has = (first >= 0) & (rank < capacity)
            slot = np.where(has, first + rank, 0)
            row_side = np.where(has, slots.tier[slot] + slots.fixed[slot] - found.u[slot], np.iinfo(np.int64).min // 4)
            best = np.maximum(best, row_side)
        return t.B * units + best[:, None] + col_side[None, :]

    def _open(self, row: Ints, col: Ints, mentor_ok: Bools, mentee_ok: Bools, *keep: Ints) -> tuple[Ints, Ints]:
        """Of these pairs (and `keep`, the arrays beside them), those that keep the rules, are not edges yet and
        whose people may take these sides."""
        mentor, mentee = self.sides.mentor_mentee(row, col)
        ok = self.sides.pair_ok(row, col) & ~self.known(row, col) & mentor_ok[mentor] & mentee_ok[mentee]
        first, second = keep
        return first[ok], second[ok]

    def _excess(self, slots: _Slots, found: _Round, rows: Ints, qs: Ints, units: Ints) -> int:
        """How much the slots' prices must rise for these open pairs to hold: each slot by its largest break."""
        t = self.tiers
        rise = np.zeros(len(slots.owner), dtype=np.int64)
        first, capacity = slots.first[rows], self.sides.capacity[rows]
        for rank in range(int(capacity.max(initial=0))):
            has = rank < capacity
            slot = first[has] + rank
            broken = slots.tier[slot] + slots.fixed[slot] + t.B * units[has] + slots.q_fixed[qs[has]]
            np.maximum.at(rise, slot, broken - found.u[slot] - found.p[qs[has]])
        return int(rise.sum())

    def _near(
        self, rows: Ints, hot: Ints, units: Ints, margin: Ints, broken: Ints, mentor_ok: Bools, mentee_ok: Bools
    ) -> tuple[Ints, Ints]:
        """For each row with a broken pair, its next k pairs closest to breaking, so the next round rarely finds
        more (positions in the block)."""
        which = np.unique(broken)
        if not len(which):
            return broken[:0], broken[:0]
        width, k = len(hot), 2 * self.k
        near = np.where(margin[which] > 0, np.iinfo(np.int64).min, margin[which])
        top = (
            np.argpartition(near, width - k, axis=1)[:, width - k :]
            if width > k
            else np.tile(np.arange(width), (len(which), 1))
        )
        at_r = np.repeat(which, top.shape[1])
        at_c = top.ravel()
        at_r, at_c = self._open(rows[at_r], hot[at_c], mentor_ok, mentee_ok, at_r, at_c)
        return at_r, at_c

    def _exact_cuts(self, rows: Ints, units: Ints, take_r: Ints, take_c: Ints) -> Ints:
        """Rows seen whole: each one's cut becomes its best pair left out of the graph."""
        _, feasible = self.sides.block(rows)
        left_out = feasible.copy()
        left_out[take_r, take_c] = False
        mine = np.isin(self.rows, rows)
        at = np.full(len(self.sides.row_person), -1, dtype=np.int64)
        at[rows] = np.arange(len(rows))
        left_out[at[self.rows[mine]], self.cols[mine]] = False
        cuts: Ints = np.where(left_out.any(axis=1), np.where(left_out, units, -1).max(axis=1), -1)
        return cuts


def _prices(match: Ints, n_q: int, e_slot: Ints, e_q: Ints, e_w: Ints) -> tuple[Ints, Ints]:
    """The matching's dual prices, in exact integers: u per slot, p per column, u, p >= 0, u + p >= weight on
    every edge, equality on the edges used, 0 on whatever is free; `_NotExact` when no such prices exist (the
    float64 solve was not optimal).

    Of all such prices, the lowest for the columns (the highest for the slots): p is the least fixpoint of
    p[q] >= weight (s, q) for a free slot s and p[q] >= p[match[s]] + weight (s, q) - weight (s, match[s])
    (s would not rather have q), found by Bellman-Ford, one vector pass per round. A slot's price is then all
    its edge is worth past its column's, which is what lets the duality check pass over left-out pairs that
    only tie: when many partners score alike, the other extreme prices some columns high, leaves their slots
    low and makes every left-out tie look like a break.
    """
    n_slots = len(match)
    has = match < n_q
    used = has[e_slot] & (match[e_slot] == e_q)
    own = np.zeros(n_slots, dtype=np.int64)
    own[e_slot[used]] = e_w[used]
    p = np.zeros(n_q + 1, dtype=np.int64)  # the last stands for "no column", for free slots
    free = ~has[e_slot]
    np.maximum.at(p, e_q[free], e_w[free])
    envy = has[e_slot] & ~used
    order = np.argsort(e_q[envy], kind="stable")
    owner, head, gain = (e_slot[envy][order], e_q[envy][order], e_w[envy][order])
    gain -= own[owner]
    starts = np.flatnonzero(np.r_[True, head[1:] != head[:-1]]) if len(head) else np.zeros(0, dtype=np.int64)
    heads, after = head[starts], match[owner]
    for _ in range(n_q + 2):
        if not len(starts):
            break
        best = np.maximum(p[heads], np.maximum.reduceat(p[after] + gain, starts))
        if np.array_equal(best, p[heads]):
            break
        p[heads] = best
    else:
        raise _NotExact("the float64 assignment is not optimal in exact arithmetic")
    u = np.where(has, own - p[match], 0)
    taken = np.zeros(n_q + 1, dtype=np.bool_)
    taken[match] = True
    if (u < 0).any() or p[:n_q][~taken[:n_q]].any():
        raise _NotExact("the float64 assignment is not optimal in exact arithmetic")
    return u, p[:n_q]
