"""What matching takes and gives: the context besides the people, and the proposal with its pairs and reasons.

`MatchProposal` is what the workflows keep and the coordinator approves or edits; `MatchingResult` adds what is
needed to judge a proposal (the bound it was proved against, the size of the candidate graph). `Ints`,
`Bools` and `Floats` are the array types the solver modules share.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, PrivateAttr

from domain.spec import MAX_MENTOR_CAPACITY, MatchingPolicy, MatchWeights, WorkingHours

Ints = npt.NDArray[np.int64]


Bools = npt.NDArray[np.bool_]


Floats = npt.NDArray[np.floating[Any]]  # feature matrices: float32 when exact, else float64


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
    """What matching needs besides the people: who may not meet again, who chose whom, the managers, the policy."""

    managers: dict[str, str] = {}
    excluded_pairs: list[tuple[str, str]] = []  # unordered pairs already tried in this program
    preferences: dict[str, list[str]] = {}
    prefer_cross_department: bool = True
    weights: MatchWeights = MatchWeights()
    mentor_capacity: int = Field(default=1, ge=1, le=MAX_MENTOR_CAPACITY)
    working_hours: WorkingHours = WorkingHours()
    # People already mentoring in a running pairing of this program, and how many mentees each has: in a rematch
    # they may only mentor, and only up to the capacity they have left.
    mentees_already: dict[str, int] = {}
    # `excluded_pairs` as a set, built on first use for the list it was built from: `why_not` asks for every
    # proposed pair, 50,000 at 100,000 people, and a scan of the list took 7.6 s of a 100,000-person match.
    _tried: tuple[list[tuple[str, str]], frozenset[tuple[str, str]]] | None = PrivateAttr(default=None)

    @classmethod
    def for_policy(
        cls,
        policy: MatchingPolicy,
        *,
        managers: dict[str, str] | None = None,
        excluded_pairs: list[tuple[str, str]] | None = None,
        preferences: dict[str, list[str]] | None = None,
        mentees_already: dict[str, int] | None = None,
    ) -> "MatchContext":
        return cls(
            managers=managers or {},
            excluded_pairs=excluded_pairs or [],
            preferences=preferences or {},
            prefer_cross_department=policy.prefer_cross_department,
            weights=policy.weights,
            mentor_capacity=policy.mentor_capacity,
            working_hours=policy.working_hours,
            mentees_already=mentees_already or {},
        )

    def excluded(self, a: str, b: str) -> bool:
        if self._tried is None or self._tried[0] is not self.excluded_pairs:
            self._tried = (self.excluded_pairs, frozenset(self.excluded_pairs))
        tried = self._tried[1]
        return (a, b) in tried or (b, a) in tried


@dataclass
class MatchingResult:
    """A proposal with what the coordinator and the bench need to judge it."""

    pairs: list[ProposedPair]
    unmatched: list[UnmatchedPerson]
    people_matched: int
    total_score: float
    proven_optimal: bool  # no proposal matches more people, or as many with a higher score
    bound_people: int  # no proposal matches more people than this
    bound_score: float | None  # no proposal matching as many people scores more (None: no bound proven)
    branches: int  # exact solves spent by the branch and bound on `either` people
    edges: int  # pairs in the candidate graph, after the duality check added what it needed
