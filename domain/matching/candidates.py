"""The candidate graph: each mentor's and each mentee's best partners, found without a Python loop over pairs.

Seniority alone rules out every pair whose mentor is not less senior, so the mentees are sorted by seniority
(most senior first) and a block of mentors of one level is scored, by one matrix product (`_Cohort.units`),
against exactly the mentees above that level. A row keeps the pairs at or above a threshold drawn from a
random sample of its own block (the sample's best, with the sample about `1/k` of the block, leaves about k), a
column those at or above its own threshold, from a sample of mentors scored once; then each keeps at most its k
best. What is left out is bounded: every left-out pair of a row scores at most `row_cut`, of a column at most
`col_cut`. The duality check (`assignment`) relies on those bounds, never on the sample being lucky: a poor
sample costs time, never optimality.

Only the kept pairs are checked against the management chains and the pairs tried before; pairs chosen by
either person always enter the graph (their stated-choice points are not in the matrix product).
"""

from dataclasses import dataclass

import numpy as np

from domain.matching.model import Bools, Ints
from domain.matching.scoring import _Cohort

BLOCK_CELLS = 1 << 21  # pairs scored at once: 8 MB of float32


@dataclass
class Candidates:
    """The kept pairs (left position, right position, units) and the bounds on what was left out."""

    rows: Ints
    cols: Ints
    units: Ints
    row_cut: Ints  # no left-out feasible pair of the row scores more; -1 when none is left out
    col_cut: Ints  # the same for a column


@dataclass
class _Kept:
    rows: list[Ints]
    cols: list[Ints]
    units: list[Ints]


def _sample(rng: np.random.Generator, size: int, k: int) -> Ints:
    """About one in k of `size` positions, at least one: their best leaves about k at or above it."""
    count = min(size, max(1, -(-size // max(k, 1))))
    return np.sort(rng.choice(size, count, replace=False)).astype(np.int64)


def best_pairs(cohort: _Cohort, k: int, seed: int = 0) -> Candidates:
    """Each row's and each column's best feasible pairs (about k, at most k each), with bounds on the rest."""
    rng = np.random.default_rng(seed)
    senior_first = np.argsort(-cohort.seniority[cohort.right], kind="stable")
    col_seniority = cohort.seniority[cohort.right][senior_first]
    col_floor = _column_thresholds(cohort, senior_first, rng, k)
    kept = _Kept([], [], [])
    row_floor = np.full(cohort.n_left, np.iinfo(np.int64).max, dtype=np.int64)
    row_seniority = cohort.seniority[cohort.left]
    for level in np.unique(row_seniority):
        above = int(np.searchsorted(-col_seniority, -level, side="left"))  # mentees more senior than the level
        if not above:
            continue
        columns = senior_first[:above]
        rows = np.flatnonzero(row_seniority == level)
        step = max(1, BLOCK_CELLS // above)
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            row_floor[block] = _scan_block(cohort, block, columns, col_floor[:above], rng, k, kept)
    by_column = np.empty_like(col_floor)
    by_column[senior_first] = col_floor
    return _trim(_feasible(cohort, *_joined(kept)), row_floor, by_column, k)


def _joined(kept: _Kept) -> tuple[Ints, Ints, Ints]:
    def join(parts: list[Ints]) -> Ints:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return join(kept.rows), join(kept.cols), join(kept.units)


def _column_thresholds(cohort: _Cohort, senior_first: Ints, rng: np.random.Generator, k: int) -> Ints:
    """Each column's threshold (mentees in seniority order): its best against a sample of mentors that may mentor
    it; one below the lowest possible score (keep all) when the sample has none."""
    lowest = np.iinfo(np.int32).min
    floor = np.full(len(senior_first), lowest, dtype=np.int64)
    if not cohort.n_left or not len(senior_first):
        return floor
    sample = _sample(rng, cohort.n_left, k)
    col_seniority = cohort.seniority[cohort.right][senior_first]
    step = max(1, BLOCK_CELLS // len(sample))
    for start in range(0, len(senior_first), step):
        cols = senior_first[start : start + step]
        units = cohort.units(sample, cols)
        fits = cohort.seniority[cohort.left][sample][:, None] < col_seniority[start : start + step][None, :]
        floor[start : start + step] = np.where(fits, units, lowest).max(axis=0)
    return floor


def _scan_block(
    cohort: _Cohort, rows: Ints, columns: Ints, col_floor: Ints, rng: np.random.Generator, k: int, kept: _Kept
) -> Ints:
    """Score a block of rows against the columns above their level; keep the pairs at or above either the row's
    or the column's threshold. Returns the rows' thresholds."""
    units = cohort.mentor_features[rows] @ cohort.mentee_features[columns].T
    floor = units[:, _sample(rng, len(columns), k)].max(axis=1)
    hit_r, hit_c = np.nonzero((units >= floor[:, None]) | (units >= col_floor[None, :].astype(units.dtype)))
    kept.rows.append(rows[hit_r])
    kept.cols.append(columns[hit_c])
    kept.units.append(units[hit_r, hit_c].astype(np.int64))
    return np.asarray(floor, dtype=np.int64)


def _feasible(cohort: _Cohort, rows: Ints, cols: Ints, units: Ints) -> tuple[Ints, Ints, Ints, Bools]:
    """The kept pairs that keep every rule, with stated-choice points added; every chosen pair that keeps the
    rules is in, kept by a threshold or not."""
    products = cohort.mentor_features[cohort.chosen_l] * cohort.mentee_features[cohort.chosen_r]
    rows = np.concatenate([rows, cohort.chosen_l])
    cols = np.concatenate([cols, cohort.chosen_r])
    units = np.concatenate([units, products.sum(axis=1).astype(np.int64)])
    n_cols = max(cohort.n_right, 1)
    key, first = np.unique(rows * n_cols + cols, return_index=True)
    rows, cols, units = rows[first], cols[first], units[first]
    chosen_key = cohort.chosen_l * n_cols + cohort.chosen_r
    at = np.searchsorted(key, chosen_key)
    np.add.at(units, at, cohort.points.chosen * cohort.chosen_n)  # chosen by one (n=1) or both (n=2)
    chosen = np.zeros(len(key), dtype=np.bool_)
    chosen[at] = True
    ok = cohort.allowed(cohort.left[rows], cohort.right[cols]) & ~_tried(cohort, key)
    return rows[ok], cols[ok], units[ok], chosen[ok]


def _tried(cohort: _Cohort, key: Ints) -> Bools:
    n_cols = max(cohort.n_right, 1)
    return np.isin(key, cohort.forbid_l * n_cols + cohort.forbid_r)


def _top(owner: Ints, units: Ints, k: int) -> tuple[Bools, Ints]:
    """Which pairs are among their owner's k best (ties by order), and each owner's best pair left below them."""
    order = np.lexsort((-units, owner))
    sorted_owner = owner[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_owner, sorted_owner, side="left")
    top = np.zeros(len(owner), dtype=np.bool_)
    top[order[rank < k]] = True
    return top, order[rank == k]


def _trim(found: tuple[Ints, Ints, Ints, Bools], row_floor: Ints, col_floor: Ints, k: int) -> Candidates:
    """Keep a pair among its row's or its column's k best, and every chosen pair (the duality check scores
    left-out pairs without stated choices); each cut is the best of what the row (column) left out: below its
    threshold, or below its k best."""
    rows, cols, units, chosen = found
    row_top, row_next = _top(rows, units, k)
    col_top, col_next = _top(cols, units, k)
    keep = row_top | col_top | chosen
    row_cut = np.where(row_floor == np.iinfo(np.int64).max, -1, row_floor - 1)
    np.maximum.at(row_cut, rows[row_next], units[row_next])
    col_cut = np.maximum(col_floor - 1, -1)
    np.maximum.at(col_cut, cols[col_next], units[col_next])
    return Candidates(rows[keep], cols[keep], units[keep], np.maximum(row_cut, -1), col_cut)
