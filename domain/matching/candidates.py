"""The candidate graph: each mentor's and each mentee's best partners, found without a Python loop over pairs.

Seniority alone rules out every pair whose mentor is not less senior, so the mentees are sorted by seniority
(most senior first) and a block of mentors of one level is scored, by one matrix product (`_Cohort.units`),
against exactly the mentees above that level. A row keeps the pairs at or above a threshold drawn from a
random sample of its own block (the sample's best, with the sample about `1/k` of the block, leaves about k), a
column those at or above its own threshold, from a sample of mentors scored once; then each keeps at most its k
best, in the block already (a row's and a column's k best of the block), so that a cohort whose scores tie
(few skills, no interests, one time zone) never holds more than k pairs a row and k a column per block. Ties
are broken by a pseudo-random order of the pairs (`_shuffled`), not by position: people who score alike against
hundreds of partners would otherwise all keep the same few, and the graph would match only some of them. What is
left out is bounded: every left-out pair of a row scores at most `row_cut`, of a column at most `col_cut`. The
duality check (`assignment`) relies on those bounds, never on the sample being lucky: a poor sample costs time,
never optimality.

Only the pairs at a threshold are checked against the management chains and the pairs tried before; pairs chosen
by either person always enter the graph (their stated-choice points are not in the matrix product).
"""

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from domain.matching.model import Bools, Ints
from domain.matching.scoring import _Cohort

BLOCK_CELLS = 1 << 21  # pairs scored at once: 8 MB of float32


TIE_BITS = 31  # bits of `_shuffled`'s rank


# Blocks scored at once, one per core: NumPy lets go of the interpreter lock inside a matrix product and an
# array-wide comparison, which is most of a block's time, so two cores score about twice the blocks.
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@dataclass
class Candidates:
    """The kept pairs (left position, right position, units) and the bounds on what was left out."""

    rows: Ints
    cols: Ints
    units: Ints
    row_cut: Ints  # no left-out feasible pair of the row scores more; -1 when none is left out
    col_cut: Ints  # the same for a column


@dataclass
class _Block:
    """What scoring one block of rows found: the pairs it keeps, its rows' cuts and its columns' next best."""

    rows: Ints
    cols: Ints
    units: Ints
    row_cut: Ints
    next_cols: Ints  # columns with a pair below their k best here, and that pair's units
    next_units: Ints


T = TypeVar("T")
R = TypeVar("R")


def in_parallel(work: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """`work` on each item, `THREADS` at once, results in the items' order (so the outcome never depends on
    which thread finished first)."""
    with ThreadPoolExecutor(THREADS) as pool:
        yield from pool.map(work, items)


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
    row_cut = np.full(cohort.n_left, -1, dtype=np.int64)  # a row above no mentee leaves nothing out
    col_cut = np.full(cohort.n_right, -1, dtype=np.int64)
    col_cut[senior_first] = np.maximum(col_floor - 1, -1)
    row_seniority = cohort.seniority[cohort.left]
    blocks: list[tuple[Ints, Ints, Ints, Ints]] = []  # rows, the columns above them, their floors, a sample
    for level in np.unique(row_seniority):
        above = int(np.searchsorted(-col_seniority, -level, side="left"))  # mentees more senior than the level
        if not above:
            continue
        columns = senior_first[:above]
        rows = np.flatnonzero(row_seniority == level)
        step = max(1, BLOCK_CELLS // above)
        for start in range(0, len(rows), step):
            blocks.append((rows[start : start + step], columns, col_floor[:above], _sample(rng, above, k)))
    found = list(in_parallel(lambda b: _scan_block(cohort, *b, k), blocks))
    for (rows, *_), block in zip(blocks, found, strict=True):
        row_cut[rows] = block.row_cut
        np.maximum.at(col_cut, block.next_cols, block.next_units)
    return _trim(_feasible(cohort, *_joined(found)), row_cut, col_cut, k)


def _joined(blocks: list[_Block]) -> tuple[Ints, Ints, Ints]:
    """The pairs every block kept, as one set of arrays."""

    def join(parts: list[Ints]) -> Ints:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return join([b.rows for b in blocks]), join([b.cols for b in blocks]), join([b.units for b in blocks])


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


def _scan_block(cohort: _Cohort, rows: Ints, columns: Ints, col_floor: Ints, sample: Ints, k: int) -> _Block:
    """Score a block of rows against the columns above their level; of the feasible pairs at or above either the
    row's threshold (its best in `sample`) or the column's, keep each row's and each column's k best, with the
    rows' cuts and the best each column left out here. Reads the cohort, changes nothing: blocks run at once."""
    units = cohort.mentor_features[rows] @ cohort.mentee_features[columns].T
    floor = units[:, sample].max(axis=1)
    hit_r, hit_c = np.nonzero((units >= floor[:, None]) | (units >= col_floor[None, :].astype(units.dtype)))
    pair_units = units[hit_r, hit_c].astype(np.int64)
    del units
    ok = _allowed(cohort, rows[hit_r], columns[hit_c])
    hit_r, hit_c, pair_units = hit_r[ok], hit_c[ok], pair_units[ok]
    row_top, row_next = _top(hit_r, hit_c, pair_units, k)
    col_top, col_next = _top(hit_c, hit_r, pair_units, k)
    keep = row_top | col_top
    cut = np.asarray(floor, dtype=np.int64) - 1
    np.maximum.at(cut, hit_r[row_next], pair_units[row_next])
    return _Block(
        rows[hit_r[keep]],
        columns[hit_c[keep]],
        pair_units[keep],
        cut,
        columns[hit_c[col_next]],
        pair_units[col_next],
    )


def _allowed(cohort: _Cohort, rows: Ints, cols: Ints) -> Bools:
    """Whether each (row, column) pair keeps every rule, pairs tried before included."""
    n_cols = max(cohort.n_right, 1)
    tried = np.isin(rows * n_cols + cols, cohort.forbid_l * n_cols + cohort.forbid_r)
    return cohort.allowed(cohort.left[rows], cohort.right[cols]) & ~tried


def _feasible(cohort: _Cohort, rows: Ints, cols: Ints, units: Ints) -> tuple[Ints, Ints, Ints, Bools]:
    """The kept pairs (feasible already) and every chosen pair that keeps the rules, with stated-choice points
    added, each pair once."""
    chosen_ok = _allowed(cohort, cohort.chosen_l, cohort.chosen_r)
    chosen_l, chosen_r = cohort.chosen_l[chosen_ok], cohort.chosen_r[chosen_ok]
    products = cohort.mentor_features[chosen_l] * cohort.mentee_features[chosen_r]
    rows = np.concatenate([rows, chosen_l])
    cols = np.concatenate([cols, chosen_r])
    units = np.concatenate([units, products.sum(axis=1).astype(np.int64)])
    n_cols = max(cohort.n_right, 1)
    key, first = np.unique(rows * n_cols + cols, return_index=True)
    rows, cols, units = rows[first], cols[first], units[first]
    at = np.searchsorted(key, chosen_l * n_cols + chosen_r)
    np.add.at(units, at, cohort.points.chosen * cohort.chosen_n[chosen_ok])  # chosen by one (n=1) or both (n=2)
    chosen = np.zeros(len(key), dtype=np.bool_)
    chosen[at] = True
    return rows, cols, units, chosen


def _shuffled(owner: Ints, other: Ints) -> Ints:
    """A pseudo-random rank for each pair, the same for the same pair and different for each owner: ties are
    broken by it, so people who score alike against many partners spread their choices (a hash, splitmix64)."""
    x = owner.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + other.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (x >> np.uint64(64 - TIE_BITS)).astype(np.int64)


def _order(owner: Ints, units: Ints, tie: Ints) -> Ints:
    """Positions by owner, then units (best first), then `tie`: one sort of a key packed into 63 bits where owner
    and units leave at least 8 bits of the tie, else a sort on each (three times slower)."""
    if not len(owner):
        return np.zeros(0, dtype=np.int64)
    low, high = int(units.min()), int(units.max())
    owner_bits, unit_bits = int(owner.max()).bit_length(), (high - low).bit_length()
    tie_bits = min(TIE_BITS, 63 - owner_bits - unit_bits)
    if tie_bits < 8:
        return np.lexsort((tie, -units, owner))
    packed = (owner << (unit_bits + tie_bits)) | ((high - units) << tie_bits) | (tie >> (TIE_BITS - tie_bits))
    return np.argsort(packed)


def _top(owner: Ints, other: Ints, units: Ints, k: int) -> tuple[Bools, Ints]:
    """Which pairs are among their owner's k best (ties in `_shuffled` order), and each owner's best pair left
    below them."""
    order = _order(owner, units, _shuffled(owner, other))
    sorted_owner = owner[order]
    starts = np.r_[True, sorted_owner[1:] != sorted_owner[:-1]] if len(order) else np.zeros(0, dtype=np.bool_)
    position = np.arange(len(order))
    rank = position - np.maximum.accumulate(np.where(starts, position, 0))
    top = np.zeros(len(owner), dtype=np.bool_)
    top[order[rank < k]] = True
    return top, order[rank == k]


def _trim(found: tuple[Ints, Ints, Ints, Bools], row_cut: Ints, col_cut: Ints, k: int) -> Candidates:
    """Keep a pair among its row's or its column's k best, and every chosen pair (the duality check scores
    left-out pairs without stated choices); each cut rises to the best the row (column) leaves out here."""
    rows, cols, units, chosen = found
    row_top, row_next = _top(rows, cols, units, k)
    col_top, col_next = _top(cols, rows, units, k)
    keep = row_top | col_top | chosen
    row_cut, col_cut = row_cut.copy(), col_cut.copy()
    np.maximum.at(row_cut, rows[row_next], units[row_next])
    np.maximum.at(col_cut, cols[col_next], units[col_next])
    return Candidates(rows[keep], cols[keep], units[keep], row_cut, col_cut)
