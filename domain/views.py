"""What people see of a program, shown in the record too: a member's place in it, the coordinator's status."""

from enum import StrEnum

from pydantic import BaseModel

from domain.matching import MatchProposal
from domain.metrics import FunnelCounts, ProgramMetrics


class MemberStatus(StrEnum):
    INVITED = "invited"
    OPTED_IN = "opted_in"
    TRAINED = "trained"
    NOT_JOINED = "not_joined"  # did not opt in before recruitment closed
    EXCLUDED = "excluded"  # training not finished in time: left out of matching, not deleted
    UNMATCHED = "unmatched"
    PAIRED = "paired"
    INACTIVE = "inactive"  # did not answer a match in time
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


class MemberView(BaseModel):
    """What one participant may see of their place in the program."""

    email: str
    name: str
    status: MemberStatus
    pairing_id: str | None
    pairing_ids: list[str] = []  # every pairing running now: a group mentor has several
    modules_done: list[str]
    unmatched_reason: str | None


class ProgramPhase(StrEnum):
    RECRUITMENT = "recruitment"
    TRAINING = "training"
    MATCHING = "matching"
    KICKOFF = "kickoff"
    MENTORING = "mentoring"
    MIDPOINT_REVIEW = "midpoint_review"
    CLOSE_OUT = "close_out"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


FINISHED = {ProgramPhase.COMPLETED, ProgramPhase.CANCELLED}


class ProgramStatus(BaseModel):
    """The coordinator's view: phase, counts and proposals; never what a pair wrote."""

    program_id: str
    name: str
    phase: ProgramPhase
    paused: bool
    funnel: FunnelCounts
    members_by_status: dict[str, int]
    pairings_running: int
    pairings_by_outcome: dict[str, int]
    proposal: MatchProposal | None
    awaiting_approval: bool
    snapshots: dict[str, ProgramMetrics]
