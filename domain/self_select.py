"""Self-selection: pairs people who chose each other, so that no two of them would rather be together.

After the kick-off workshop each participant ranks the people they would like to work with. This module turns
those lists into pairs for the `self_select` and `hybrid` matching modes. It is pure (no I/O, no clock, no
randomness), so the same input always gives the same answer, as an activity whose result is recorded needs.

Terms, used in the guarantee below:

- a and b are *mutually acceptable* when each named the other, both are in `people`, and `allowed(a, b)`
  gives a way round they may be paired in (mentor, mentee). Someone you did not name, or who did not name
  you, or whom the program's rules keep from you, is not acceptable: that pair is never formed.
- a *prefers* b to c when b comes before c in a's list; any acceptable partner is better than none.
- a *blocking pair* for a set of pairs is two mutually acceptable people, not paired with each other, each of
  whom is unpaired or prefers the other to their partner. A set of pairs is *stable* when it has none.

Because a role may be `either`, who can pair with whom is not a two-sided market, so this is the stable
roommates problem with incomplete lists, solved with Irving's algorithm (phase 1 proposals, phase 2 rotation
elimination; Gusfield and Irving, The Stable Marriage Problem, 1989, sections 4.2 and 4.5). When every role
is `mentor` or `mentee` the problem is two-sided, and a stable set of pairs always exists (Gale and Shapley).

Guarantee of `self_select`:

1. Every pair is mutually acceptable, in the orientation `allowed` gave, and nobody is in two pairs.
2. `stable` is True exactly when the instance has a stable set of pairs; then `pairs` is one, and `set_aside`
   is empty. The people left over are the same in every stable set of pairs.
3. When no stable set of pairs exists (preferences that go round in a circle, such as a prefers b, b prefers
   c and c prefers a), people are set aside one at a time until the rest can be paired stably, then those
   set aside get a second chance with whoever is still free, and so on while a pair can be formed. Every
   blocking pair of the result includes someone in `set_aside`: two people who were not set aside never
   form one.
4. Two people who are each other's first acceptable choice (in particular each other's first choice, when the
   rules allow it) are always paired with each other, stable or not.
5. Nobody left over could have been paired with someone who named them: everyone acceptable to a person left
   over (who was not set aside) is paired with someone they ranked higher.
"""

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from hashlib import sha256

from pydantic import BaseModel

from domain.people import Participant

Orientation = Callable[[Participant, Participant], tuple[Participant, Participant] | None]
"""`allowed(a, b)`: (mentor, mentee) as the hard constraints permit a and b to be paired, or None."""


class ChosenPair(BaseModel):
    mentor: str
    mentee: str
    mentor_rank: int  # where the mentor put the mentee in their list as sent: 1 is first
    mentee_rank: int
    reason: str


class LeftOverWhy(StrEnum):
    NO_LIST = "no_list"  # named nobody
    NO_MUTUAL_CHOICE = "no_mutual_choice"  # nobody they named named them back and may be paired with them
    CHOSEN_ELSEWHERE = "chosen_elsewhere"  # everyone who fits was paired with someone they ranked higher
    IN_A_CIRCLE = "in_a_circle"  # set aside because no stable set of pairs exists around them


class LeftOver(BaseModel):
    email: str
    why: LeftOverWhy
    reason: str


class SelfSelection(BaseModel):
    pairs: list[ChosenPair] = []
    left_over: list[LeftOver] = []  # for hybrid: the optimiser pairs these; for self_select they stay unmatched
    stable: bool = True  # no blocking pair at all (and a stable set of pairs exists)
    set_aside: list[str] = []  # every blocking pair includes one of them; empty when stable


_REASONS = {
    LeftOverWhy.NO_LIST: "you did not name anyone you would like to work with",
    LeftOverWhy.NO_MUTUAL_CHOICE: (
        "none of the people you named also named you and can be paired with you under the program's rules"
    ),
    LeftOverWhy.CHOSEN_ELSEWHERE: "everyone who named you back was paired with someone they had ranked higher",
    LeftOverWhy.IN_A_CIRCLE: (
        "the choices around you went round in a circle, so no set of pairs could suit everyone in it "
        "and self-selection could not place you"
    ),
}

_Lists = dict[str, list[str]]


def self_select(
    people: Iterable[Participant], preferences: Mapping[str, list[str]], allowed: Orientation
) -> SelfSelection:
    """Pair people by their ranked lists, stably when possible (see the module's guarantee).

    `preferences` maps a participant's email to the emails they ranked, best first, as they sent them; names
    of people not in `people`, repeats and oneself are skipped (a rank is still the place as written).
    In hybrid mode the caller hands `left_over` to the optimiser; in self_select mode they stay unmatched.
    """
    by_email = {p.email: p for p in sorted(people, key=lambda p: p.email)}
    submitted = {email: _ranks(preferences.get(email) or [], email) for email in by_email}
    ways = _orientations(by_email, submitted, allowed)
    # Each person's mutually acceptable people, best first (a dict keeps the order _ranks inserted them in).
    lists = {a: [b for b in submitted[a] if (min(a, b), max(a, b)) in ways] for a in by_email}
    paired: dict[str, str] = {}
    set_aside: list[str] = []
    pool = sorted(by_email)
    while _has_acceptable_pair(pool, lists):
        partners, aside = _settle(pool, lists, submitted)
        paired |= partners
        set_aside += aside
        if not partners:
            break  # cannot happen: a pool with an acceptable pair always keeps one after setting people aside
        pool = [p for p in pool if p not in partners]
    pairs = []
    for a, b in sorted((a, b) for a, b in paired.items() if a < b):
        mentor, mentee = ways[(a, b)]
        pairs.append(
            ChosenPair(
                mentor=mentor.email,
                mentee=mentee.email,
                mentor_rank=submitted[mentor.email][mentee.email],
                mentee_rank=submitted[mentee.email][mentor.email],
                reason=_pair_reason(mentor, mentee, submitted),
            )
        )
    left_over = []
    for email in by_email:
        if email not in paired:
            why = _why_left_over(email, submitted, lists, set_aside)
            left_over.append(LeftOver(email=email, why=why, reason=_REASONS[why]))
    return SelfSelection(pairs=pairs, left_over=left_over, stable=not set_aside, set_aside=sorted(set_aside))


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _ranks(ranked: list[str], email: str) -> dict[str, int]:
    """Each person named, by the place they were given (1 is first), as written: repeats and self ignored."""
    ranks: dict[str, int] = {}
    for place, named in enumerate(ranked, start=1):
        other = named.strip().lower()
        if other != email and other not in ranks:
            ranks[other] = place
    return ranks


def _orientations(
    by_email: dict[str, Participant], submitted: dict[str, dict[str, int]], allowed: Orientation
) -> dict[tuple[str, str], tuple[Participant, Participant]]:
    """(mentor, mentee) for every mutually acceptable pair, keyed by its two emails in order."""
    ways = {}
    for a in by_email:
        for b in submitted[a]:
            if a < b and b in by_email and a in submitted[b]:
                way = allowed(by_email[a], by_email[b])
                if way is not None:
                    if {way[0].email, way[1].email} != {a, b}:
                        raise ValueError(f"allowed({a}, {b}) returned a pair of other people")
                    ways[(a, b)] = way
    return ways


def _has_acceptable_pair(pool: list[str], lists: _Lists) -> bool:
    members = set(pool)
    return any(b in members for a in pool for b in lists[a])


def _restricted(lists: _Lists, pool: Iterable[str]) -> _Lists:
    members = set(pool)
    return {a: [b for b in lists[a] if b in members] for a in sorted(members)}


def _settle(pool: list[str], lists: _Lists, submitted: dict[str, dict[str, int]]) -> tuple[dict[str, str], list[str]]:
    """A stable set of pairs among `pool`, after setting aside as few people as this greedy rule finds.

    Each time Irving's algorithm finds no stable set of pairs, it names the people of the rotation that
    failed (the circle of preferences). One of them is set aside: the one whose absence lets the others be
    paired stably, with the most pairs, then the best total of ranks, then a fixed order drawn from a hash of
    the email (so nobody is set aside first for their name's place in the alphabet). Mutual first choices are
    never in a rotation, so they are never set aside. On every group of up to 8 people in the tests this set
    aside the fewest people possible (brute force); that is observed, not proven.
    """
    remaining = list(pool)
    aside: list[str] = []
    partners, trouble = _stable_roommates(_restricted(lists, remaining))
    while trouble:
        outcomes = {c: _stable_roommates(_restricted(lists, [p for p in remaining if p != c])) for c in trouble}
        costs = {c: _removal_cost(c, *outcomes[c], submitted) for c in trouble}
        chosen = min(costs, key=costs.__getitem__)
        aside.append(chosen)
        remaining.remove(chosen)
        partners, trouble = outcomes[chosen]
    return partners, aside


def _removal_cost(
    candidate: str, partners: dict[str, str], trouble: list[str], submitted: dict[str, dict[str, int]]
) -> tuple[bool, int, int, str]:
    rank_total = sum(submitted[a][b] for a, b in partners.items())
    return bool(trouble), -len(partners), rank_total, sha256(candidate.encode()).hexdigest()


def _stable_roommates(lists: _Lists) -> tuple[dict[str, str], list[str]]:
    """Irving's algorithm for incomplete lists: (partner of each paired person, []) for a stable set of pairs,
    or ({}, the people of the rotation whose elimination emptied a list) when none exists.

    `lists` must be symmetric: b is on a's list exactly when a is on b's.
    """
    table = {a: list(bs) for a, bs in lists.items()}

    def delete(a: str, b: str) -> None:
        table[a].remove(b)
        table[b].remove(a)

    # Phase 1: everyone proposes down their list; whoever holds a proposal drops everyone they rank below it.
    holds: dict[str, str] = {}
    free = deque(a for a in table if table[a])
    while free:
        x = free.popleft()
        if not table[x]:
            continue  # rejected by everyone: unpaired in every stable set of pairs
        y = table[x][0]
        previous = holds.get(y)
        holds[y] = x
        for w in table[y][table[y].index(x) + 1 :]:
            delete(y, w)
        if previous is not None and previous != x:
            free.append(previous)  # ranked below x by y, so deleted just now: proposes to their next choice
    # Phase 2: while someone has two or more left, find a rotation and eliminate it.
    order = sorted(table)
    while (start := next((a for a in order if len(table[a]) > 1), None)) is not None:
        xs, seen = [start], {start: 0}
        while (nxt := table[table[xs[-1]][1]][-1]) not in seen:
            seen[nxt] = len(xs)
            xs.append(nxt)
        xs = xs[seen[nxt] :]
        ys = [table[x][1] for x in xs]
        still_listed = [a for a in order if table[a]]
        doomed = [(y, w) for x, y in zip(xs, ys, strict=True) for w in table[y][table[y].index(x) + 1 :]]
        for y, w in doomed:
            if w in table[y]:
                delete(y, w)
        if any(not table[a] for a in still_listed):
            return {}, sorted(set(xs) | set(ys))
    return {a: bs[0] for a, bs in table.items() if bs}, []


def _names(mentor: Participant, mentee: Participant) -> tuple[str, str]:
    if mentor.first_name != mentee.first_name:
        return mentor.first_name, mentee.first_name
    return mentor.name, mentee.name


def _pair_reason(mentor: Participant, mentee: Participant, submitted: dict[str, dict[str, int]]) -> str:
    mentor_rank, mentee_rank = submitted[mentor.email][mentee.email], submitted[mentee.email][mentor.email]
    if mentor_rank == mentee_rank == 1:
        return "you chose each other, both as first choice"
    mentor_name, mentee_name = _names(mentor, mentee)
    return (
        f"you chose each other ({mentor_name}'s {ordinal(mentor_rank)} choice, {mentee_name}'s {ordinal(mentee_rank)})"
    )


def _why_left_over(
    email: str, submitted: dict[str, dict[str, int]], lists: _Lists, set_aside: list[str]
) -> LeftOverWhy:
    if not submitted[email]:
        return LeftOverWhy.NO_LIST
    if email in set_aside:
        return LeftOverWhy.IN_A_CIRCLE
    if not lists[email]:
        return LeftOverWhy.NO_MUTUAL_CHOICE
    return LeftOverWhy.CHOSEN_ELSEWHERE
