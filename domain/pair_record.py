"""What the two people of a pair see of their own pairing (shown in the record too, sealed: only they read it)."""

from pydantic import BaseModel

from domain.answers import Plan


class CheckInEntry(BaseModel):
    cycle: int
    participant: str
    met: bool
    progress: int
    recap: str


class PairRecord(BaseModel):
    """What the two people of a pair see of their own pairing: the plan and both sides' check-ins."""

    plan: Plan | None
    checkins: list[CheckInEntry]
