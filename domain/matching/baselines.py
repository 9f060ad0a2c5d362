"""The greedy and random baselines, for the bench and for comparison with the optimal proposal."""

from collections.abc import Sequence

import numpy as np

from domain.matching.assignment import _Oriented
from domain.matching.model import MatchContext, ProposedPair
from domain.matching.scoring import UNIT, _Cohort, _explain
from domain.people import Participant


def greedy_pairs(
    people: Sequence[Participant], context: MatchContext, *, shuffle_seed: int | None = None
) -> list[ProposedPair]:
    """The first matcher's greedy pass: take the best-scoring pair whose people are both free, again and again.

    With `shuffle_seed`, feasible pairs are taken in a random order instead: random pairing, as a floor.
    Ties go to the mentor's then the mentee's email, as before. Capacity and `either` are respected.
    """
    cohort = _Cohort(people, context)
    if not cohort.n_left or not cohort.n_right:
        return []
    emails = [p.email for p in cohort.people]
    left_rank = np.argsort(np.argsort([emails[i] for i in cohort.left]))
    right_rank = np.argsort(np.argsort([emails[i] for i in cohort.right]))
    bits = max(1, max(cohort.n_left, cohort.n_right).bit_length())
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    keys = []
    for rows in _Oriented(cohort).blocks():
        units, feasible = cohort.score(rows)
        r, c = np.nonzero(feasible)
        order = rng.integers(0, 1 << 30, len(r)) if rng is not None else (1 << 30) - 1 - units[r, c]
        keys.append((order << (2 * bits)) | (left_rank[rows[r]] << bits) | right_rank[c])
    ranked = np.sort(np.concatenate(keys))
    left_of_rank = np.argsort(left_rank)
    right_of_rank = np.argsort(right_rank)
    mask = (1 << bits) - 1
    n = len(cohort.people)
    mentees_of = np.zeros(n, dtype=np.int64)
    is_mentee = np.zeros(n, dtype=np.bool_)
    capacity = np.zeros(n, dtype=np.int64)
    capacity[cohort.left] = cohort.capacity
    chosen: list[tuple[int, int]] = []
    for start in range(0, len(ranked), 1 << 16):
        chunk = ranked[start : start + (1 << 16)]
        a = cohort.left[left_of_rank[(chunk >> bits) & mask]]
        b = cohort.right[right_of_rank[chunk & mask]]
        open_ = (mentees_of[a] < capacity[a]) & ~is_mentee[a] & ~is_mentee[b] & (mentees_of[b] == 0)
        for x, y in zip(a[open_].tolist(), b[open_].tolist(), strict=True):
            if mentees_of[x] < capacity[x] and not is_mentee[x] and not is_mentee[y] and mentees_of[y] == 0:
                mentees_of[x] += 1
                is_mentee[y] = True
                chosen.append((x, y))
        if not ((mentees_of < capacity) & ~is_mentee).any() or is_mentee[cohort.right].all():
            break
    pairs = []
    for x, y in chosen:
        value, reasons = _explain(cohort.people[x], cohort.people[y], context, cohort.points)
        pairs.append(ProposedPair(mentor=emails[x], mentee=emails[y], score=value / UNIT, reasons=reasons))
    return pairs
