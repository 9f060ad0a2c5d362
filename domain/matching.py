"""A first matcher: honours mutual choices, then pairs the rest greedily by score under hard constraints.

Reverse mentoring turns the usual direction round: the mentor is the *less* senior person, who teaches what
they know that the senior colleague wants to learn.
"""

from collections.abc import Iterable
from itertools import permutations

from pydantic import BaseModel

from domain.people import Participant, Role, management_chain
from domain.spec import MatchingMode


class ProposedPair(BaseModel):
    mentor: str
    mentee: str
    score: float
    reasons: list[str]


class UnmatchedPerson(BaseModel):
    email: str
    reason: str


class MatchProposal(BaseModel):
    pairs: list[ProposedPair] = []
    unmatched: list[UnmatchedPerson] = []


class MatchContext(BaseModel):
    """What matching needs besides the people: who may not meet again, who chose whom, the managers."""

    managers: dict[str, str] = {}
    excluded_pairs: list[tuple[str, str]] = []  # unordered pairs already tried in this program
    preferences: dict[str, list[str]] = {}
    prefer_cross_department: bool = True

    def excluded(self, a: str, b: str) -> bool:
        return (a, b) in self.excluded_pairs or (b, a) in self.excluded_pairs


def why_not(mentor: Participant, mentee: Participant, context: MatchContext) -> str | None:
    """The hard constraint this pair would break, or None when they may be paired this way round."""
    if mentor.email == mentee.email:
        return "cannot be paired with themselves"
    if mentor.role == Role.MENTEE or mentee.role == Role.MENTOR:
        return "their roles do not fit"
    if mentor.seniority >= mentee.seniority:
        return "the mentor must be less senior than the mentee"
    if mentee.email in management_chain(mentor.email, context.managers) or mentor.email in management_chain(
        mentee.email, context.managers
    ):
        return "one manages the other"
    if context.excluded(mentor.email, mentee.email):
        return "they were paired before in this program"
    return None


def score(mentor: Participant, mentee: Participant, context: MatchContext) -> tuple[float, list[str]]:
    teaches = sorted(set(mentor.skills_offered) & set(mentee.skills_wanted))
    learns_back = sorted(set(mentee.skills_offered) & set(mentor.skills_wanted))
    shared = sorted(set(mentor.interests) & set(mentee.interests))
    total = 3.0 * len(teaches) + 1.0 * len(learns_back) + 0.5 * len(shared)
    reasons = []
    if teaches:
        reasons.append(f"{mentor.first_name} teaches {', '.join(teaches)}, which {mentee.first_name} wants")
    if learns_back:
        reasons.append(f"{mentee.first_name} can share {', '.join(learns_back)} in return")
    if shared:
        reasons.append(f"both like {', '.join(shared)}")
    if context.prefer_cross_department and mentor.department != mentee.department:
        total += 1.0
        reasons.append(f"crosses departments ({mentor.department} and {mentee.department})")
    return total, reasons or ["a fair fit on seniority, with no shared skills listed"]


def _oriented(a: Participant, b: Participant, context: MatchContext) -> tuple[Participant, Participant] | None:
    for mentor, mentee in ((a, b), (b, a)):
        if why_not(mentor, mentee, context) is None:
            return mentor, mentee
    return None


def _pair(mentor: Participant, mentee: Participant, context: MatchContext, extra: str = "") -> ProposedPair:
    value, reasons = score(mentor, mentee, context)
    return ProposedPair(
        mentor=mentor.email, mentee=mentee.email, score=value, reasons=([extra] if extra else []) + reasons
    )


def _mutual_choices(people: dict[str, Participant], context: MatchContext) -> list[ProposedPair]:
    taken: set[str] = set()
    pairs = []
    candidates = []
    for a, ranked in context.preferences.items():
        for rank_a, b in enumerate(ranked):
            if a < b and a in (context.preferences.get(b) or []):
                candidates.append((rank_a + context.preferences[b].index(a), a, b))
    for _, a, b in sorted(candidates):
        if a in taken or b in taken or a not in people or b not in people:
            continue
        oriented = _oriented(people[a], people[b], context)
        if oriented:
            pairs.append(_pair(*oriented, context, extra="you chose each other"))
            taken |= {a, b}
    return pairs


def _greedy(people: Iterable[Participant], context: MatchContext) -> list[ProposedPair]:
    pool = list(people)
    options = []
    for mentor, mentee in permutations(pool, 2):
        if why_not(mentor, mentee, context) is None:
            options.append(_pair(mentor, mentee, context))
    options.sort(key=lambda p: (-p.score, p.mentor, p.mentee))
    taken: set[str] = set()
    chosen = []
    for option in options:
        if option.mentor not in taken and option.mentee not in taken:
            chosen.append(option)
            taken |= {option.mentor, option.mentee}
    return chosen


def _unmatched_reason(person: Participant, pool: list[Participant], context: MatchContext, mode: MatchingMode) -> str:
    if mode == MatchingMode.SELF_SELECT:
        return "no mutual choice was found; your coordinator can pair you by hand"
    fits = [other for other in pool if other.email != person.email and _oriented(person, other, context)]
    if not fits:
        side = {Role.MENTOR: "more senior mentee", Role.MENTEE: "less senior mentor"}.get(person.role, "partner")
        return f"nobody in the pool could be your {side} under the program's rules"
    return "everyone who fits you was paired with someone who fitted them even better"


def propose_matches(people: list[Participant], mode: MatchingMode, context: MatchContext) -> MatchProposal:
    by_email = {p.email: p for p in people}
    pairs = _mutual_choices(by_email, context) if mode != MatchingMode.ALGORITHM else []
    taken = {e for p in pairs for e in (p.mentor, p.mentee)}
    rest = [p for p in people if p.email not in taken]
    if mode != MatchingMode.SELF_SELECT:
        pairs += _greedy(rest, context)
        taken = {e for p in pairs for e in (p.mentor, p.mentee)}
    unmatched = [
        UnmatchedPerson(email=p.email, reason=_unmatched_reason(p, people, context, mode))
        for p in people
        if p.email not in taken
    ]
    return MatchProposal(pairs=pairs, unmatched=unmatched)


def check_edited_pairs(
    pairs: list[tuple[str, str]], people: dict[str, Participant], context: MatchContext
) -> list[str]:
    """Problems with a coordinator's edited pairs; empty when every pair keeps the hard constraints."""
    problems = []
    seen: set[str] = set()
    for mentor, mentee in pairs:
        for email in (mentor, mentee):
            if email not in people:
                problems.append(f"{email} is not available for matching")
            elif email in seen:
                problems.append(f"{email} appears in more than one pair")
            seen.add(email)
        if mentor in people and mentee in people:
            reason = why_not(people[mentor], people[mentee], context)
            if reason:
                problems.append(f"{mentor} cannot mentor {mentee}: {reason}")
    return problems
