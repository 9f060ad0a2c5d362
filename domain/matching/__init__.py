"""Who mentors whom: an exact, explainable matcher for reverse mentoring, fast enough for cohorts of thousands.

Reverse mentoring turns the usual direction round: the mentor is the *less* senior person, who teaches what
they know that the senior colleague wants to learn. A proposal matches as many people as possible, then has the
highest total score, and never breaks a hard constraint. How the modules fit, from the bottom up:

- `model`: the context (policy, managers, choices, pairs tried before) and the proposal with its reasons.
- `rules`: the hard constraints (`why_not`) and management chains as intervals of the manager forest.
- `scoring`: a pair's score and reasons (`score`, `overlap_minutes`), and the cohort as arrays to score in bulk.
- `assignment`: the exact bipartite solve when everyone has one side, on a pruned graph with a dual certificate.
- `either`: when some people may sit on either side, a relaxation bounds the optimum and a branch and bound
  searches the sides.
- `solve`: `solve_matching` puts these together and says why anyone is left unmatched.
- `proposal`: what the workflows call, `propose_matches` for each mode (self-selection from `domain.self_select`
  first, in `self_select` and `hybrid`) and `check_edited_pairs` for a coordinator's edits.
- `baselines`: the greedy and random pairings the bench compares with.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from domain.matching.model import MatchContext, MatchingResult, MatchProposal, ProposedPair, UnmatchedPerson
from domain.matching.rules import check_edited_pairs, why_not

if TYPE_CHECKING:
    from domain.matching.assignment import CANDIDATES
    from domain.matching.baselines import greedy_pairs
    from domain.matching.proposal import propose_matches
    from domain.matching.scoring import overlap_minutes, score
    from domain.matching.solve import optimal_pairs, solve_matching

# The solver and what it brings (SciPy) load on first use: the rules and the models are all that a command line,
# the portal or a workflow's rules need, and they start a quarter of a second sooner without it.
_SOLVER = {
    "CANDIDATES": "assignment",
    "greedy_pairs": "baselines",
    "propose_matches": "proposal",
    "overlap_minutes": "scoring",
    "score": "scoring",
    "optimal_pairs": "solve",
    "solve_matching": "solve",
}


def __getattr__(name: str) -> Any:
    if name not in _SOLVER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"domain.matching.{_SOLVER[name]}"), name)


__all__ = [
    "CANDIDATES",
    "MatchContext",
    "MatchProposal",
    "MatchingResult",
    "ProposedPair",
    "UnmatchedPerson",
    "check_edited_pairs",
    "greedy_pairs",
    "optimal_pairs",
    "overlap_minutes",
    "propose_matches",
    "score",
    "solve_matching",
    "why_not",
]
