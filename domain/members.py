"""A member's place in a program as they see it: their status and their pairings (shown in the record too)."""

from enum import StrEnum

from pydantic import BaseModel


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
