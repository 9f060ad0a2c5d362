"""The hard constraints on a pair, never broken: `why_not` for one pair, and management chains for a cohort.

A mentor is less senior than the mentee (reverse mentoring: the mentor is the *less* senior person, who teaches
what they know that the senior colleague wants to learn); roles fit (`either` fits both sides); nobody is paired
with anyone in their management chain, up or down (the whole chain, from manager_email, through people outside
the pool too); nobody with themselves; nobody with someone they were paired with before in this program. A
mentor takes at most `mentor_capacity` mentees: people already mentoring get only what they have left, and are
never proposed as mentees (the cohort's sides in `scoring`, `_allowed` in `proposal`, `check_edited_pairs`).

For a whole cohort the management chains are Euler-tour intervals of the manager forest (`_euler_tour`): a chain
of any depth costs O(1) per pair, and a loop of managers is folded into one node.
"""

from collections.abc import Iterable

import numpy as np

from domain.matching.model import Ints, MatchContext
from domain.people import Participant, Role


def _chain_of(person: Participant, managers: dict[str, str]) -> set[str]:
    """Everyone above a person: the context's managers, falling back on the person's own manager_email."""
    chain: set[str] = set()
    current = managers.get(person.email, person.manager_email)
    while current is not None and current not in chain:
        chain.add(current)
        current = managers.get(current)
    return chain


def why_not(mentor: Participant, mentee: Participant, context: MatchContext) -> str | None:
    """The hard constraint this pair would break, or None when they may be paired this way round."""
    if mentor.email == mentee.email:
        return "cannot be paired with themselves"
    if mentor.role == Role.MENTEE or mentee.role == Role.MENTOR:
        return "their roles do not fit"
    if mentor.seniority >= mentee.seniority:
        return "the mentor must be less senior than the mentee"
    if mentee.email in _chain_of(mentor, context.managers) or mentor.email in _chain_of(mentee, context.managers):
        return "one manages the other"
    if context.excluded(mentor.email, mentee.email):
        return "they were paired before in this program"
    return None


def _ids(values: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in values:
        found.setdefault(value, len(found))
    return found


def _euler_tour(emails: list[str], managers: dict[str, str]) -> tuple[Ints, Ints]:
    """Entry and exit times of each person in the manager forest: a is above b iff tin[a] <= tin[b] < tout[a].

    A loop of managers (the roster refuses them, the context might not) is folded into one node, so everyone
    on it counts as in everyone's chain, as `management_chain` sees it.
    """
    nodes = _ids([*emails, *managers.keys(), *managers.values()])
    parent = np.full(len(nodes), -1, dtype=np.int64)
    for report, manager in managers.items():
        if manager != report:
            parent[nodes[report]] = nodes[manager]
    rep = np.arange(len(nodes), dtype=np.int64)  # loops fold onto one representative
    state = np.zeros(len(nodes), dtype=np.int8)  # 0 new, 1 on the current walk, 2 done
    for first in range(len(nodes)):
        walk: list[int] = []
        at = first
        while at >= 0 and state[at] == 0:
            state[at] = 1
            walk.append(at)
            at = int(parent[at])
        if at >= 0 and state[at] == 1:  # a loop: from `at` round to itself
            loop = walk[walk.index(at) :]
            rep[loop] = at
            parent[loop] = -1
            for member in loop:
                for below in np.flatnonzero(parent == member):  # reports of a loop member hang off the loop
                    if int(rep[below]) != at:
                        parent[below] = at
        state[walk] = 2
    children: dict[int, list[int]] = {}
    for node in range(len(nodes)):
        top = int(parent[node])
        if top >= 0 and rep[node] == node:
            children.setdefault(int(rep[top]), []).append(node)
    tin = np.zeros(len(nodes), dtype=np.int64)
    tout = np.zeros(len(nodes), dtype=np.int64)
    clock = 0
    for root in range(len(nodes)):
        if parent[root] >= 0 or rep[root] != root:
            continue
        stack = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                tout[node] = clock
                continue
            tin[node] = clock
            clock += 1
            stack.append((node, True))
            stack.extend((child, False) for child in children.get(node, ()))
    return tin[rep[[nodes[e] for e in emails]]], tout[rep[[nodes[e] for e in emails]]]


def check_edited_pairs(
    pairs: list[tuple[str, str]], people: dict[str, Participant], context: MatchContext
) -> list[str]:
    """Problems with a coordinator's edited pairs; empty when every pair keeps the hard constraints."""
    problems = []
    mentees: set[str] = set()
    mentoring: dict[str, int] = {}
    for mentor, mentee in pairs:
        for email, as_mentor in ((mentor, True), (mentee, False)):
            if email not in people:
                problems.append(f"{email} is not available for matching")
                continue
            count = mentoring.get(email, 0) + context.mentees_already.get(email, 0)
            if email in mentees or (count and not as_mentor):
                problems.append(f"{email} appears in more than one pair")
            elif as_mentor and count >= context.mentor_capacity:
                if context.mentor_capacity == 1 and not context.mentees_already.get(email):
                    problems.append(f"{email} appears in more than one pair")
                else:
                    cap = context.mentor_capacity
                    problems.append(f"{email} would mentor more than {cap} {'person' if cap == 1 else 'people'}")
            if as_mentor:
                mentoring[email] = mentoring.get(email, 0) + 1
            else:
                mentees.add(email)
        if mentor in people and mentee in people:
            reason = why_not(people[mentor], people[mentee], context)
            if reason:
                problems.append(f"{mentor} cannot mentor {mentee}: {reason}")
    return problems
