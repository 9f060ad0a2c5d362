"""Inputs of the activities (pure pydantic, safe to pass through the workflow sandbox)."""

from pydantic import BaseModel

from domain.events import DomainEvent
from domain.matching import MatchContext
from domain.metrics import FunnelCounts, PairingSummary
from domain.notices import Notice
from domain.people import Participant
from domain.spec import MatchingMode

# The error type of an append refused because another run holds the same workflow id in the record.
CONFLICTING_RUN = "ConflictingRun"


class NoticeBatch(BaseModel):
    notices: list[Notice]


class EventBatch(BaseModel):
    events: list[DomainEvent]


class MatchRequest(BaseModel):
    program_id: str
    people: list[Participant]
    mode: MatchingMode
    context: MatchContext


class SnapshotRequest(BaseModel):
    program_id: str
    label: str  # "mid-point", "close-out"
    funnel: FunnelCounts
    finished: list[PairingSummary]  # pairings that reported their end
    running: list[str]  # pairing workflow ids to ask for their current summary
