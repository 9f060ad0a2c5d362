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
    matching between slots and mentees is a min-cost perfect matching on a sparse graph made square with a
    private "stay unmatched" dummy per slot and per mentee (and a mirrored dummy edge per real one), solved by
    SciPy's LAPJVsp (`min_weight_full_bipartite_matching`).
    Only the best `candidates` partners of each mentor and of each mentee enter the graph (`CANDIDATES`, 24 by
    default), so 10,000 people make a few hundred thousand edges, not 25 million. Pruning never costs
    optimality: after each solve the dual prices are recovered from the residual graph (Bellman-Ford,
    vectorised, exact integers), every left-out pair that could break them is found (a row is scored only
    against the columns where its bound says a violation is possible) and added, and the graph is solved again
    until none is left. The result is then optimal over every pair, by LP duality: tests compare it with brute
    force, and the bench with the unpruned graph and with an integer program.

`_Sides` says what the rows and columns of a problem are; `_Oriented` is the problem above (rows mentors,
columns mentees). `_Bipartite.solve` is exact under any restriction of who may mentor and who be mentored,
which the search over `either` people (`either`) relies on; `_Bipartite.relax` also bounds the optimum.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

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
class _Round:
    """One solve of the candidate graph: the matching and the dual prices that certify it there."""

    match: Ints  # the column (index into rq) each slot got, or >= len(rq) for none
    d: Ints
    dr: Ints
    e_slot: Ints
    e_q: Ints
    e_units: Ints
    e_w: Ints


class _Bipartite:
    """One bipartite problem: candidate edges, exact solves under side restrictions, and the duality check."""

    def __init__(self, sides: _Sides, tiers: _Tiers, candidates: int, *, scan: bool = True) -> None:
        self.sides, self.tiers = sides, tiers
        self.k = max(1, candidates)
        self.solves = 0
        n_rows, n_cols = len(sides.row_person), len(sides.col_person)
        self.row_count = np.zeros(n_rows, dtype=np.int64)
        self.col_count = np.zeros(n_cols, dtype=np.int64)
        self.row_cut = np.full(n_rows, -1, dtype=np.int64)  # bound on the units of a row's left-out pairs
        self.col_cut = np.full(n_cols, -1, dtype=np.int64)  # the same for a column
        empty = np.zeros(0, dtype=np.int64)
        self.rows, self.cols, self.units, self.mentor, self.mentee = empty, empty, empty, empty, empty
        if scan and n_rows and n_cols:
            self._scan_all()

    def _scan_all(self) -> None:
        """Score every pair once; keep each row's and each column's k best feasible pairs."""
        sides, k = self.sides, self.k
        n_cols = len(sides.col_person)
        found_rows, found_cols, found_units = [], [], []
        col_vals = np.full((0, n_cols), -1, dtype=np.int64)
        col_rows = np.zeros((0, n_cols), dtype=np.int64)
        for rows in sides.blocks():
            units, feasible = sides.block(rows)
            key = np.where(feasible, units, -1)
            counts = feasible.sum(axis=1)
            self.row_count[rows] = counts
            self.col_count += feasible.sum(axis=0)
            top = (
                np.argpartition(key, n_cols - k, axis=1)[:, n_cols - k :]
                if n_cols > k
                else np.broadcast_to(np.arange(n_cols), key.shape)
            )
            vals = np.take_along_axis(key, top, axis=1)
            keep = vals >= 0
            found_rows.append(np.broadcast_to(rows[:, None], top.shape)[keep])
            found_cols.append(top[keep])
            found_units.append(vals[keep])
            cut = counts > k
            self.row_cut[rows[cut]] = vals[cut].min(axis=1)
            col_vals = np.concatenate([col_vals, key])
            col_rows = np.concatenate([col_rows, np.broadcast_to(rows[:, None], key.shape)])
            if len(col_vals) > k:
                best = np.argpartition(col_vals, len(col_vals) - k, axis=0)[len(col_vals) - k :]
                col_vals = np.take_along_axis(col_vals, best, axis=0)
                col_rows = np.take_along_axis(col_rows, best, axis=0)
        keep = col_vals >= 0
        cut = self.col_count > k
        self.col_cut[cut] = col_vals[:, cut].min(axis=0)
        found_rows.append(col_rows[keep])
        found_cols.append(np.broadcast_to(np.arange(n_cols), col_vals.shape)[keep])
        found_units.append(col_vals[keep])
        self._add(np.concatenate(found_rows), np.concatenate(found_cols), np.concatenate(found_units))

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

    @property
    def edges(self) -> int:
        return len(self.rows)

    def solve(self, mentor_ok: Bools, mentee_ok: Bools) -> _Solution:
        """The exact optimum over every pair (not only the candidates) where the mentor is in `mentor_ok` and the
        mentee in `mentee_ok` (both by person): solve, check the left-out pairs, add what is needed, again."""
        slots = self._slots(mentor_ok, mentee_ok)
        if slots is None:
            return _Solution.empty()
        while True:
            found = self._round(slots, mentor_ok, mentee_ok)
            added, _ = self._scan(slots, found, mentor_ok, mentee_ok)
            if not added:
                return self._solution(slots, found)

    def relax(self, mentor_ok: Bools, mentee_ok: Bools, rounds: int) -> tuple[_Solution, int]:
        """Up to `rounds` solves as in `solve` (all it takes, it is exact), and an upper bound on the optimum over
        every pair.

        The dual prices of the last solve are feasible on the candidate graph; lowering each row's price by its
        largest violation on the left-out pairs makes them feasible everywhere, and by weak duality the primal
        value plus those violations bounds every matching (the value itself once nothing is violated).
        """
        slots = self._slots(mentor_ok, mentee_ok)
        if slots is None:
            return _Solution.empty(), 0
        for _ in range(max(1, rounds)):
            found = self._round(slots, mentor_ok, mentee_ok)
            _, excess = self._scan(slots, found, mentor_ok, mentee_ok)
            if not excess:
                break
        solution = self._solution(slots, found)
        return solution, solution.value + excess

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
        match, d, dr = self._assign(len(slots.owner), len(slots.rq), e_slot, e_q, e_w)
        return _Round(match, d, dr, e_slot, e_q, e_units, e_w)

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
        """Min-cost perfect matching of the square graph; the column each slot got, and dual prices.

        Rows are the slots then one dummy per column; columns the real columns then one dummy per slot. A slot
        may stay unmatched (its own dummy column), a column too (its own dummy row); the two dummies of a real
        edge meet when the edge is used. Costs are C - weight > 0, so the minimum is the maximum-weight matching.
        """
        top = self.tiers.C
        slots, qs = np.arange(n_slots), np.arange(n_q)
        r = np.concatenate([e_slot, slots, n_slots + qs, n_slots + e_q])
        c = np.concatenate([e_q, n_q + slots, qs, n_q + e_slot])
        cost = np.concatenate([top - e_w, np.full(n_slots + n_q + len(e_w), top, dtype=np.int64)])
        size = n_slots + n_q
        graph = sparse.csr_matrix((cost.astype(np.float64), (r, c)), shape=(size, size))
        _, col_of = min_weight_full_bipartite_matching(graph)
        col_of = np.asarray(col_of, dtype=np.int64)
        # Dual prices: shortest distances in the residual graph (matched edges reversed, every node reachable
        # from a source at 0), in exact integers. With positive costs a row's price follows from its matched
        # column, dr = d[col] - cost, so only columns need relaxing (Bellman-Ford, one vector pass per round).
        matched = col_of[r] == c
        row_cost = np.zeros(size, dtype=np.int64)
        row_cost[r[matched]] = cost[matched]
        free_r, free_c, free_cost = r[~matched], c[~matched], cost[~matched]
        order = np.argsort(free_c, kind="stable")
        free_r, free_c, free_cost = free_r[order], free_c[order], free_cost[order]
        starts = np.flatnonzero(np.r_[True, free_c[1:] != free_c[:-1]]) if len(free_c) else np.zeros(0, dtype=int)
        heads = free_c[starts]
        d = np.zeros(size, dtype=np.int64)
        for _ in range(size + 2):
            if not len(starts):
                break
            reach = (d[col_of] - row_cost)[free_r] + free_cost
            best = np.minimum(d[heads], np.minimum.reduceat(reach, starts))
            if np.array_equal(best, d[heads]):
                break
            d[heads] = best
        else:
            raise _NotExact("the float64 assignment is not optimal in exact arithmetic")
        return col_of[:n_slots], d, d[col_of] - row_cost

    def _scan(self, slots: _Slots, found: _Round, mentor_ok: Bools, mentee_ok: Bools) -> tuple[bool, int]:
        """Check the left-out pairs against the dual prices: add those that could improve the result (with their
        rows' next best pairs, so the next round rarely finds more); return whether any did, and by how much the
        prices must drop to hold everywhere (0 when the solve is optimal over every pair).

        The whole problem's LP holds when cost(r, c) >= d[c] - dr[r] on every edge; the candidate graph's own
        edges hold by construction, so only left-out pairs are checked: a real edge (slot s, column q) of cost
        C - w, and its mirrored dummy edge (dummy row of q, dummy column of s) of cost C. With w bounded by the
        row's cut, the real edge can only break when d[q] exceeds a threshold of the slot, the mirror only when
        dr[dummy q] falls below one: so a row is scored only against those columns, if any.
        """
        sides, t = self.sides, self.tiers
        d, dr = found.d, found.dr
        n_slots, n_q, n_rows, n_cols = len(slots.owner), len(slots.rq), len(sides.row_person), len(sides.col_person)
        in_problem = np.zeros(n_cols, dtype=np.bool_)
        in_problem[slots.rq] = True
        q_of = np.zeros(n_cols, dtype=np.int64)
        q_of[slots.rq] = np.arange(n_q)
        d_col = np.where(in_problem, d[q_of], np.iinfo(np.int64).min)
        dr_dummy = np.where(in_problem, dr[n_slots + q_of], np.iinfo(np.int64).max)
        live = self.row_cut[slots.owner] >= 0
        bound = slots.tier + t.B * self.row_cut[slots.owner] + slots.fixed + t.tie
        real_at = np.full(n_rows, np.iinfo(np.int64).max)  # a row's real edge may break only where d_col > this
        np.minimum.at(real_at, slots.owner[live], (t.C + dr[:n_slots] - bound)[live])
        mirror_at = np.full(n_rows, np.iinfo(np.int64).min)  # its mirror only where dr_dummy < this
        np.maximum.at(mirror_at, slots.owner[live], (d[n_q : n_q + n_slots] - t.C)[live])
        risky = np.flatnonzero((real_at < d_col.max(initial=np.iinfo(np.int64).min)) | (mirror_at > dr_dummy.min()))
        if not len(risky):
            return False, 0
        by_d, by_dr = np.argsort(-d_col, kind="stable"), np.argsort(dr_dummy, kind="stable")
        d_sorted, dr_sorted = -d_col[by_d], dr_dummy[by_dr]
        risky = risky[np.argsort(-real_at[risky], kind="stable")]  # fewest hot columns first
        excess = 0
        dummy_excess = np.zeros(n_cols, dtype=np.int64)
        found_rows: list[Ints] = []
        found_cols: list[Ints] = []
        found_units: list[Ints] = []
        start = 0
        while start < len(risky):
            rows = risky[start : start + 256]
            hot = np.union1d(
                by_d[: np.searchsorted(d_sorted, -int(real_at[rows].min()), side="left")],
                by_dr[: np.searchsorted(dr_sorted, int(mirror_at[rows].max()), side="left")],
            )
            rows = rows[: max(1, BLOCK_CELLS // max(len(hot), 1))]
            start += len(rows)
            gained, excess_here = self._scan_block(slots, found, rows, hot, mentor_ok, mentee_ok, dummy_excess)
            excess += excess_here
            if gained is not None:
                found_rows.append(gained[0])
                found_cols.append(gained[1])
                found_units.append(gained[2])
        if found_rows:
            self._add(np.concatenate(found_rows), np.concatenate(found_cols), np.concatenate(found_units))
        excess += int(dummy_excess.sum())
        return excess > 0, excess

    def _scan_block(
        self,
        slots: _Slots,
        found: _Round,
        rows: Ints,
        hot: Ints,
        mentor_ok: Bools,
        mentee_ok: Bools,
        dummy_excess: Ints,
    ) -> tuple[tuple[Ints, Ints, Ints] | None, int]:
        """Score rows against the hot columns; the pairs to add (if any) and the rows' price excess."""
        sides, t, k = self.sides, self.tiers, self.k
        d, dr = found.d, found.dr
        n_slots, n_q, n_cols = len(slots.owner), len(slots.rq), len(sides.col_person)
        if not len(hot):
            return None, 0
        units, feasible = sides.block(rows, hot)
        at_row = np.full(len(sides.row_person), -1, dtype=np.int64)
        at_row[rows] = np.arange(len(rows))
        at_col = np.full(n_cols, -1, dtype=np.int64)
        at_col[hot] = np.arange(len(hot))
        mine = (at_row[self.rows] >= 0) & (at_col[self.cols] >= 0)
        left_out = feasible.copy()
        left_out[at_row[self.rows[mine]], at_col[self.cols[mine]]] = False
        in_problem = np.zeros(n_cols, dtype=np.bool_)
        in_problem[slots.rq] = True
        q_of = np.zeros(n_cols, dtype=np.int64)
        q_of[slots.rq] = np.arange(n_q)
        mentor, mentee = sides.mentor_mentee(rows[:, None], hot[None, :])
        open_ = left_out & in_problem[hot][None, :] & mentor_ok[mentor] & mentee_ok[mentee]
        d_col, dr_dummy = d[q_of[hot]], dr[n_slots + q_of[hot]]
        prices = _BlockPrices(d, dr, d_col, dr_dummy, sides.cohort.fixed[sides.col_person[hot]] * t.tie, n_q)
        excess, worst = self._violations(slots, prices, rows, hot, units, open_, dummy_excess)
        take = _to_take(left_out, worst > 0, units, k)
        if len(hot) == n_cols:  # seen whole: the rows' cuts can be exact from now on
            still_out = left_out & ~take
            self.row_cut[rows] = np.where(still_out.any(axis=1), np.where(still_out, units, -1).max(axis=1), -1)
        hit_r, hit_c = np.nonzero(take)
        if not len(hit_r):
            return None, excess
        return (rows[hit_r], hot[hit_c], units[hit_r, hit_c]), excess

    def _violations(
        self,
        slots: _Slots,
        prices: "_BlockPrices",
        rows: Ints,
        hot: Ints,
        units: Ints,
        open_: Bools,
        dummy_excess: Ints,
    ) -> tuple[int, Ints]:
        """The rows' total price excess, and each open pair's largest violation over its row's slots (the dummy
        side's violations raise `dummy_excess` in place)."""
        t, p = self.tiers, prices
        excess = 0
        worst = np.zeros(open_.shape, dtype=np.int64)
        for i, row in enumerate(rows.tolist()):
            if not open_[i].any():
                continue
            first = int(slots.first[row])
            for s in range(first, first + int(self.sides.capacity[row])):
                w = slots.tier[s] + t.B * units[i] + slots.fixed[s] + p.fixed_col
                real = np.where(open_[i], p.d_col - p.dr[s] - (t.C - w), 0)
                excess += max(0, int(real.max(initial=0)))
                mirror = np.where(open_[i], p.d[p.n_q + s] - p.dr_dummy - t.C, 0)
                np.maximum.at(dummy_excess, hot, mirror)
                np.maximum(worst[i], np.maximum(real, mirror), out=worst[i])
        return excess, worst


@dataclass
class _BlockPrices:
    """A round's prices as one block of rows against its hot columns sees them."""

    d: Ints
    dr: Ints
    d_col: Ints
    dr_dummy: Ints
    fixed_col: Ints
    n_q: int


def _to_take(left_out: Bools, broken: Bools, units: Ints, k: int) -> Bools:
    """The pairs a block adds: every violated one, and for a row with a violation its next k best left-out
    pairs, whatever the prices say."""
    ranked = np.where(left_out & ~broken & broken.any(axis=1, keepdims=True), units, -1)
    width = units.shape[1]
    top = (
        np.argpartition(ranked, width - k, axis=1)[:, width - k :]
        if width > k
        else np.broadcast_to(np.arange(width), ranked.shape)
    )
    take = broken.copy()
    np.put_along_axis(take, top, np.take_along_axis(ranked, top, axis=1) >= 0, axis=1)
    take |= broken
    return take
