"""Inputs of the activities and their non-retryable failures (pure, safe to pass through the workflow sandbox)."""

from enum import StrEnum

from pydantic import BaseModel

from domain.events import DomainEvent
from domain.matching import MatchContext
from domain.metrics import FunnelCounts, PairingSummary
from domain.notices import Notice
from domain.people import Participant
from domain.program import PagesRef
from domain.spec import MatchingMode


class Failure(StrEnum):
    """The ApplicationError types an activity raises when trying again would fail the same way; the workflows'
    retry policies name them, and the workflows handle each (workflows/calls.py)."""

    CONFLICTING_RUN = "ConflictingRun"  # an append refused: another run holds the same workflow id in the record
    MATCHING_FAILED = "MatchingFailed"  # the solver failed on this input; the coordinators pair people themselves


class NoticeBatch(BaseModel):
    notices: list[Notice]


class EventBatch(BaseModel):
    events: list[DomainEvent]


class MatchRequest(BaseModel):
    program_id: str
    people: list[Participant]
    mode: MatchingMode
    context: MatchContext
    people_ref: PagesRef | None = None  # a large pool waits in pages instead (`people` is then empty)

    @property
    def size(self) -> int:
        return self.people_ref.count if self.people_ref is not None else len(self.people)


class SnapshotRequest(BaseModel):
    program_id: str
    label: str  # "mid-point", "close-out"
    funnel: FunnelCounts
    finished: list[PairingSummary]  # pairings that reported their end
    running: list[str]  # pairing workflow ids to ask for their current summary
