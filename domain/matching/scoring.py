"""How well two people fit: a score in points with its reasons in words, for one pair or a whole cohort at once.

A score adds skills the mentor teaches that the mentee wants, skills learned back, shared interests, hours of
working day in common, crossing departments and stated choices, each with its weight from the spec. Scores are
kept in hundredths of a point (`UNIT`) as integers, so every comparison is exact and the vectorised scores of
`_Cohort` equal `_explain`'s pair by pair. `_explain` gives a pair's top three reasons, largest first.

`_Cohort` holds the pool as arrays, built once: who may sit on each side (mentor slots, mentees), a pair's
score as the inner product of a mentor's and a mentee's feature rows (skills, interests, zone, department;
exact in float32, `_features`), management chains as Euler-tour intervals (`rules`), pairs tried before and
stated choices; `_Cohort.score` scores (one matrix product) and checks a block of mentors against mentees.

Time-zone overlap: the hours both working days (`working_hours`, local time in each person's zone) overlap,
from the UTC offsets the zones have at noon on 14 January 2026 (northern winter; summer time would shift some
pairs by an hour). An unknown zone counts as UTC.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from scipy import sparse

from domain.matching.model import Bools, Floats, Ints, MatchContext
from domain.matching.rules import _euler_tour, _ids
from domain.people import Participant, Role

UNIT = 100  # a score is kept in hundredths of a point, as an integer


REFERENCE_DAY = datetime(2026, 1, 14, 12)  # the day whose UTC offsets measure the working-day overlap


NO_REASON = "a fair fit on seniority, with no shared skills listed"


SCORED_CHOSEN_BY_BOTH = "they chose each other"  # a scorer's reason, when both named the other


@lru_cache(maxsize=1024)
def _utc_offset_minutes(zone: str) -> int:
    try:
        offset = REFERENCE_DAY.replace(tzinfo=ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) // 60 if offset is not None else 0


@lru_cache(maxsize=65536)
def overlap_minutes(zone_a: str, zone_b: str, start: int = 9, end: int = 17) -> int:
    """Minutes both working days (start to end, local hours) overlap, on the reference day; 0 when they do not."""
    a0 = start * 60 - _utc_offset_minutes(zone_a)
    b0 = start * 60 - _utc_offset_minutes(zone_b)
    length = (end - start) * 60
    best = 0
    for shift in (-1440, 0, 1440):  # the other day may be the day before or after in UTC
        best = max(best, min(a0, b0 + shift) + length - max(a0, b0 + shift))
    return best


@dataclass(frozen=True)
class _Points:
    """The spec's weights in score units (hundredths of a point), so vectorised and single scores agree exactly."""

    taught: int
    learned_back: int
    interests: int
    hour: int
    cross: int
    chosen: int
    start: int
    end: int

    @classmethod
    def of(cls, context: MatchContext) -> "_Points":
        w = context.weights
        return cls(
            taught=round(w.skills_taught * UNIT),
            learned_back=round(w.skills_learned_back * UNIT),
            interests=round(w.shared_interests * UNIT),
            hour=round(w.timezone_overlap * UNIT),
            cross=round(w.cross_department * UNIT) if context.prefer_cross_department else 0,
            chosen=round(w.stated_preference * UNIT),
            start=context.working_hours.start,
            end=context.working_hours.end,
        )

    def overlap(self, minutes: int) -> int:
        return (self.hour * minutes + 30) // 60


def _listing(items: list[str]) -> str:
    if len(items) > 3:
        return f"{', '.join(items[:3])} and {len(items) - 3} more"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _hours(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    return f"{round(minutes / 60, 1):g} h"


def _explain(mentor: Participant, mentee: Participant, context: MatchContext, points: _Points) -> tuple[int, list[str]]:
    """The pair's score in units and its top three reasons in words, largest contribution first."""
    teaches = sorted(set(mentor.skills_offered) & set(mentee.skills_wanted))
    back = sorted(set(mentee.skills_offered) & set(mentor.skills_wanted))
    shared = sorted(set(mentor.interests) & set(mentee.interests))
    minutes = overlap_minutes(mentor.timezone, mentee.timezone, points.start, points.end)
    crosses = bool(mentor.department and mentee.department and mentor.department != mentee.department)
    mentor_chose = mentee.email in context.preferences.get(mentor.email, ())
    mentee_chose = mentor.email in context.preferences.get(mentee.email, ())
    parts: list[tuple[int, str]] = []  # in this order when two contribute the same
    if teaches:
        words = f"{mentor.first_name} teaches {_listing(teaches)}, which {mentee.first_name} wants"
        parts.append((points.taught * len(teaches), words))
    if back:
        parts.append((points.learned_back * len(back), f"{mentee.first_name} can share {_listing(back)} in return"))
    if shared:
        parts.append((points.interests * len(shared), f"both like {_listing(shared)}"))
    if minutes:
        parts.append((points.overlap(minutes), f"{_hours(minutes)} of shared working day"))
    if crosses:
        parts.append((points.cross, f"crosses departments ({mentor.department} and {mentee.department})"))
    if mentor_chose and mentee_chose:
        parts.append((2 * points.chosen, SCORED_CHOSEN_BY_BOTH))
    elif mentor_chose or mentee_chose:
        chooser, chosen = (mentor, mentee) if mentor_chose else (mentee, mentor)
        parts.append((points.chosen, f"{chooser.first_name} asked to work with {chosen.first_name}"))
    ranked = sorted((part for part in parts if part[0] > 0), key=lambda part: -part[0])
    return sum(units for units, _ in parts), [words for _, words in ranked[:3]] or [NO_REASON]


def score(mentor: Participant, mentee: Participant, context: MatchContext) -> tuple[float, list[str]]:
    """The pair's score in points, with its top three reasons in words."""
    units, reasons = _explain(mentor, mentee, context, _Points.of(context))
    return units / UNIT, reasons


def _incidence(rows: list[list[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    """A 0/1 matrix person x word (a word listed twice still counts once)."""
    indptr, indices = [0], []
    for words in rows:
        ids = sorted({vocabulary[w] for w in words if w in vocabulary})
        indices.extend(ids)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.int32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), max(len(vocabulary), 1)))


class _Cohort:
    """The pool as arrays, built once: who may sit on each side and everything a score needs."""

    def __init__(self, people: Sequence[Participant], context: MatchContext) -> None:
        self.people = list(people)
        self.context = context
        self.points = _Points.of(context)
        self.index = {p.email: i for i, p in enumerate(self.people)}
        self._sides()
        self._attributes()
        offered, wanted, liked = self._lists()
        self._features(offered, wanted, liked)
        self._history()
        self.max_units = self._most_units(offered, wanted, liked)

    def _sides(self) -> None:
        """Who may mentor (and how many more mentees), who may be mentored, and each one's position."""
        context, n = self.context, len(self.people)
        left, right, capacity = [], [], []
        for i, p in enumerate(self.people):
            already = context.mentees_already.get(p.email, 0)
            if p.role != Role.MENTEE and already < context.mentor_capacity:
                left.append(i)
                capacity.append(context.mentor_capacity - already)
            if p.role != Role.MENTOR and already == 0:
                right.append(i)
        self.left = np.array(left, dtype=np.int64)
        self.right = np.array(right, dtype=np.int64)
        self.capacity = np.array(capacity, dtype=np.int64)
        self.left_pos = np.full(n, -1, dtype=np.int64)
        self.left_pos[self.left] = np.arange(len(left))
        self.right_pos = np.full(n, -1, dtype=np.int64)
        self.right_pos[self.right] = np.arange(len(right))

    def _attributes(self) -> None:
        """Seniority, fixed roles, departments and time zones as arrays; working-hours overlap per zone pair."""
        self.seniority = np.array([p.seniority for p in self.people], dtype=np.int64)
        self.fixed = np.array([p.role != Role.EITHER for p in self.people], dtype=np.int64)
        departments = _ids(p.department for p in self.people if p.department)
        self.department = np.array([departments.get(p.department, -1) for p in self.people], dtype=np.int64)
        zones = _ids(p.timezone for p in self.people)
        self.zone = np.array([zones[p.timezone] for p in self.people], dtype=np.int64)
        start, end = self.points.start, self.points.end
        self.overlap = np.array(
            [[self.points.overlap(overlap_minutes(a, b, start, end)) for b in zones] for a in zones], dtype=np.int64
        ).reshape(len(zones), len(zones))

    def _lists(self) -> tuple[sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix]:
        """Skills offered and wanted and interests as person x word matrices (0/1)."""
        skills = _ids(s for p in self.people for s in (*p.skills_offered, *p.skills_wanted))
        interests = _ids(s for p in self.people for s in p.interests)
        offered = _incidence([p.skills_offered for p in self.people], skills)
        wanted = _incidence([p.skills_wanted for p in self.people], skills)
        liked = _incidence([p.interests for p in self.people], interests)
        return offered, wanted, liked

    def _features(self, offered: sparse.csr_matrix, wanted: sparse.csr_matrix, liked: sparse.csr_matrix) -> None:
        """A pair's units (all but stated choices) as one inner product: `mentor_features[l] @ mentee_features[r]`.

        Skills taught, skills learned back and interests are counts of common words; the working-day overlap is a
        one-hot zone against that zone's row of the overlap table; crossing departments is `cross` when both
        have one, less `cross` when it is the same one. Every term and every partial sum is a whole number far
        below 2**24 (checked), so a float32 matrix product scores blocks of pairs exactly, and fast.
        """
        pts, n_dep = self.points, int(self.department.max(initial=-1)) + 1
        left, right = self.left, self.right
        zones = np.eye(len(self.overlap), dtype=np.int64)
        dep = np.zeros((len(self.people), n_dep + 1), dtype=np.int64)
        known = np.flatnonzero(self.department >= 0)
        dep[known, self.department[known]] = 1
        dep[known, n_dep] = 1
        sign = np.r_[-np.ones(n_dep, dtype=np.int64), 1] * pts.cross
        weighed = [(pts.taught, offered), (pts.learned_back, wanted), (pts.interests, liked)]
        mentor = [weight * matrix[left].toarray().astype(np.int64) for weight, matrix in weighed]  # int64: any weight
        mentee = [matrix[right].toarray() for matrix in (wanted, offered, liked)]
        dense_mentor = np.hstack([*mentor, zones[self.zone[left]], dep[left] * sign])
        dense_mentee = np.hstack([*mentee, self.overlap[:, self.zone[right]].T, dep[right]])
        terms = np.abs(dense_mentor).max(axis=0, initial=0).astype(np.float64) * dense_mentee.max(axis=0, initial=0)
        largest = float(terms.sum())  # in float64: no overflow, and far more precise than the 2**24 it is held to
        kind: type[np.floating[Any]] = np.float32 if largest < 1 << 24 else np.float64  # float64: exact to 2**53
        self.mentor_features: Floats = dense_mentor.astype(kind)
        self.mentee_features: Floats = dense_mentee.astype(kind)

    def _history(self) -> None:
        """Management chains (as an Euler tour), pairs already made, and mutual choices, as position arrays."""
        context = self.context
        managers = {p.email: p.manager_email for p in self.people if p.manager_email} | context.managers
        self.tin, self.tout = _euler_tour([p.email for p in self.people], managers)
        before = {self._key(a, b) for a, b in context.excluded_pairs if a in self.index and b in self.index and a != b}
        self.before = np.array(sorted(before), dtype=np.int64).reshape(-1, 2)
        self.forbid_l, self.forbid_r, _ = self._oriented(self.before, np.zeros(len(self.before), dtype=np.int64))
        chosen: dict[tuple[int, int], int] = {}
        for chooser, ranked in context.preferences.items():
            for other in set(ranked):  # a name listed twice still counts once, as in `_explain`
                if chooser in self.index and other in self.index and chooser != other:
                    key = self._key(chooser, other)
                    chosen[key] = chosen.get(key, 0) + 1
        pairs = np.array(sorted(chosen), dtype=np.int64).reshape(-1, 2)
        counts = np.array([chosen[k] for k in sorted(chosen)], dtype=np.int64)
        self.chosen_l, self.chosen_r, self.chosen_n = self._oriented(pairs, counts)

    def _key(self, a: str, b: str) -> tuple[int, int]:
        return min(self.index[a], self.index[b]), max(self.index[a], self.index[b])

    def _most_units(self, offered: sparse.csr_matrix, wanted: sparse.csr_matrix, liked: sparse.csr_matrix) -> int:
        """An upper bound on any pair's score, from what each side lists (no pass over the pairs needed)."""

        def most(matrix: sparse.csr_matrix, rows: Ints) -> int:
            return int(np.diff(matrix.indptr)[rows].max(initial=0))

        pts = self.points
        return (
            pts.taught * min(most(offered, self.left), most(wanted, self.right))
            + pts.learned_back * min(most(wanted, self.left), most(offered, self.right))
            + pts.interests * most(liked, np.arange(len(self.people)))
            + int(self.overlap.max(initial=0))
            + pts.cross
            + 2 * pts.chosen
        )

    def _oriented(self, pairs: Ints, values: Ints) -> tuple[Ints, Ints, Ints]:
        """Unordered person pairs as (left position, right position, value), in both orientations that exist."""
        a, b = pairs[:, 0], pairs[:, 1]
        lp = np.concatenate([self.left_pos[a], self.left_pos[b]])
        rp = np.concatenate([self.right_pos[b], self.right_pos[a]])
        vv = np.concatenate([values, values])
        keep = (lp >= 0) & (rp >= 0)
        return lp[keep], rp[keep], vv[keep]

    @property
    def n_left(self) -> int:
        return len(self.left)

    @property
    def n_right(self) -> int:
        return len(self.right)

    def units(self, lrows: Ints, rcols: Ints) -> Ints:
        """Units of left positions (as mentors) against right positions (as mentees), stated choices left out."""
        product = self.mentor_features[lrows] @ self.mentee_features[rcols].T
        return product.astype(np.int64)

    def score(self, lrows: Ints, rcols: Ints | None = None) -> tuple[Ints, Bools]:
        """Scores (units) and feasibility of left positions (as mentors) against right positions (as mentees)."""
        li = self.left[lrows]
        ri = self.right if rcols is None else self.right[rcols]
        units = self.units(lrows, np.arange(self.n_right) if rcols is None else rcols)
        feasible = self.allowed(li[:, None], ri[None, :])
        at_l = np.full(self.n_left, -1, dtype=np.int64)
        at_l[lrows] = np.arange(len(lrows))
        at_r = np.full(self.n_right, -1, dtype=np.int64)
        at_r[slice(None) if rcols is None else rcols] = np.arange(len(ri))
        hit = (at_l[self.forbid_l] >= 0) & (at_r[self.forbid_r] >= 0)
        feasible[at_l[self.forbid_l[hit]], at_r[self.forbid_r[hit]]] = False
        hit = (at_l[self.chosen_l] >= 0) & (at_r[self.chosen_r] >= 0)
        np.add.at(units, (at_l[self.chosen_l[hit]], at_r[self.chosen_r[hit]]), self.points.chosen * self.chosen_n[hit])
        return units, feasible

    def allowed(self, mentors: Ints, mentees: Ints) -> Bools:
        """The rules that hold between persons (broadcast together): seniority, not themselves, not in each
        other's management chain. Pairs tried before are the caller's to remove (`forbid_l`, `forbid_r`)."""
        a, b = mentors, mentees
        feasible: Bools = (self.seniority[a] < self.seniority[b]) & (a != b)
        ta, tb = self.tin[a], self.tin[b]
        feasible &= ~((ta <= tb) & (tb < self.tout[a]))  # the mentee is below the mentor
        feasible &= ~((tb <= ta) & (ta < self.tout[b]))  # the mentor is below the mentee
        return feasible

    def partners(self, lpos: int, rpos: int) -> int:
        """How many people a person could be paired with: as a mentor (left position lpos, -1 for none) and as
        a mentee (right position rpos)."""
        count = 0
        if lpos >= 0 and self.n_right:
            count += int(self.score(np.array([lpos]))[1].sum())
        if rpos >= 0 and self.n_left:
            count += int(self.score(np.arange(self.n_left), np.array([rpos]))[1].sum())
        return count

    def related(self, i: int) -> Bools:
        """Everyone in person i's management chain, up or down (and i)."""
        below: Bools = (self.tin[i] <= self.tin) & (self.tin < self.tout[i])
        above: Bools = (self.tin <= self.tin[i]) & (self.tin[i] < self.tout)
        return below | above

    def partners_before(self, i: int) -> list[int]:
        rows = self.before[(self.before[:, 0] == i) | (self.before[:, 1] == i)]
        return sorted(int(x) for x in rows.ravel() if x != i)
