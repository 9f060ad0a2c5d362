"""What the workflows call: a proposal for each matching mode, and the check of a coordinator's edited pairs.

`algorithm` is the optimal proposal (`solve`). `self_select` pairs people who chose each other, stably
(`domain.self_select`, with the hard constraints as `allowed`); everyone else stays unmatched and is told why.
`hybrid` keeps those pairs and lets the optimiser pair everyone else. A self-selected pair is told "you chose
each other" and never where either ranked the other; its score and further reasons are the scorer's.
"""

from domain.matching.model import MatchContext, MatchProposal, ProposedPair, UnmatchedPerson
from domain.matching.rules import why_not
from domain.matching.scoring import SCORED_CHOSEN_BY_BOTH, score
from domain.matching.solve import solve_matching
from domain.people import Participant
from domain.self_select import ChosenPair, Orientation, self_select
from domain.spec import MatchingMode

CHOSEN_BY_BOTH = "you chose each other"  # first reason of a self-selected pair: it never tells a rank


def _allowed(context: MatchContext) -> Orientation:
    """`allowed(a, b)` for self-selection: the way round the hard constraints let a and b be paired, or None.

    Besides `why_not`, someone already mentoring in this program may only mentor, and only with capacity left.
    """

    def allowed(a: Participant, b: Participant) -> tuple[Participant, Participant] | None:
        for mentor, mentee in ((a, b), (b, a)):
            if (
                why_not(mentor, mentee, context) is None
                and context.mentees_already.get(mentor.email, 0) < context.mentor_capacity
                and not context.mentees_already.get(mentee.email, 0)
            ):
                return mentor, mentee
        return None

    return allowed


def _chosen_pair(chosen: ChosenPair, people: dict[str, Participant], context: MatchContext) -> ProposedPair:
    """A self-selected pair as proposed: words that reveal no rank first, then the scorer's own reasons."""
    value, reasons = score(people[chosen.mentor], people[chosen.mentee], context)
    reasons = [CHOSEN_BY_BOTH, *(r for r in reasons if r != SCORED_CHOSEN_BY_BOTH)]
    return ProposedPair(mentor=chosen.mentor, mentee=chosen.mentee, score=value, reasons=reasons)


def propose_matches(people: list[Participant], mode: MatchingMode, context: MatchContext) -> MatchProposal:
    """The proposal for a matching mode.

    `algorithm`: the optimal proposal (`solve_matching`). `self_select`: the stable pairs of people who chose each
    other (`domain.self_select`, with the hard constraints as `allowed`); everyone else stays unmatched, told why.
    `hybrid`: those pairs, then the optimal proposal for everyone else, who get the optimiser's reasons if left out.
    """
    if mode == MatchingMode.ALGORITHM:
        result = solve_matching(people, context)
        return MatchProposal(pairs=result.pairs, unmatched=result.unmatched)
    by_email = {p.email: p for p in people}
    selection = self_select(people, context.preferences, _allowed(context))
    pairs = [_chosen_pair(chosen, by_email, context) for chosen in selection.pairs]
    if mode == MatchingMode.SELF_SELECT:
        unmatched = [UnmatchedPerson(email=left.email, reason=left.reason) for left in selection.left_over]
        return MatchProposal(pairs=pairs, unmatched=unmatched)
    taken = {email for pair in pairs for email in (pair.mentor, pair.mentee)}
    rest = solve_matching(people, context, exclude=taken)
    return MatchProposal(pairs=pairs + rest.pairs, unmatched=rest.unmatched)
