"""The oracle of stable self-selection, written independently of `domain.self_select`: it enumerates every set of
pairs of a small group and tests each for blocking pairs, straight from the definitions in that module's docstring.
"""

import itertools
from collections.abc import Iterator

from domain.people import Participant
from domain.self_select import Orientation, SelfSelection

Lists = dict[str, list[str]]
Matching = dict[str, str]  # each paired person to their partner, both ways round


def acceptable_lists(people: list[Participant], preferences: dict[str, list[str]], allowed: Orientation) -> Lists:
    """Each person's mutually acceptable people, best first, from the definition."""
    found = {p.email: p for p in people}
    named = {e: list(dict.fromkeys(x.strip().lower() for x in preferences.get(e, []))) for e in found}
    return {
        a: [b for b in named[a] if b != a and b in found and a in named[b] and allowed(found[a], found[b]) is not None]
        for a in found
    }


def blocking_pairs(matching: Matching, lists: Lists, among: set[str] | None = None) -> list[tuple[str, str]]:
    group = set(lists) if among is None else among

    def would_rather(x: str, y: str) -> bool:
        partner = matching.get(x)
        return partner is None or lists[x].index(y) < lists[x].index(partner)

    return [
        (a, b)
        for a in sorted(group)
        for b in lists[a]
        if a < b and b in group and matching.get(a) != b and would_rather(a, b) and would_rather(b, a)
    ]


def every_matching(group: list[str], lists: Lists) -> Iterator[Matching]:
    if not group:
        yield {}
        return
    first, rest = group[0], group[1:]
    yield from every_matching(rest, lists)  # first stays unpaired
    for other in lists[first]:
        if other in rest:
            for matching in every_matching([p for p in rest if p != other], lists):
                yield {**matching, first: other, other: first}


def stable_matchings(lists: Lists, among: set[str] | None = None) -> list[Matching]:
    group = sorted(set(lists) if among is None else among)
    return [m for m in every_matching(group, lists) if not blocking_pairs(m, lists, set(group))]


def fewest_to_set_aside(lists: Lists) -> int:
    for size in range(len(lists) + 1):
        for aside in itertools.combinations(sorted(lists), size):
            if any(True for _ in stable_matchings(lists, set(lists) - set(aside))):
                return size
    raise AssertionError("setting everyone aside always leaves a stable (empty) set of pairs")


def matching_of(result: SelfSelection) -> Matching:
    return {p.mentor: p.mentee for p in result.pairs} | {p.mentee: p.mentor for p in result.pairs}
