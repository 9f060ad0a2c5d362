"""Domain events: the facts of a program, appended once each to the program record.

An event's key is its workflow id and its sequence number in that workflow, so a retried activity or a
replayed workflow task writes the same key again and the store keeps one copy. Events carry counts and
ratings, never what a pair wrote to each other.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

Fact = str | int | float | bool | None


class EventKind(StrEnum):
    INVITED = "invited"
    OPTED_IN = "opted_in"
    TRAINING_COMPLETED = "training_completed"
    EXCLUDED = "excluded"
    MATCHED = "matched"
    APPROVED = "approved"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    PLAN_AGREED = "plan_agreed"
    CHECKIN_LOGGED = "checkin_logged"
    CHECKIN_MISSED = "checkin_missed"
    ALERT_RAISED = "alert_raised"
    SURVEY_ANSWERED = "survey_answered"
    FLAGGED_AT_RISK = "flagged_at_risk"
    WITHDRAWN = "withdrawn"
    REMATCHED = "rematched"
    COMPLETED = "completed"
    KPI_EVALUATED = "kpi_evaluated"
    PHASE_CHANGED = "phase_changed"
    METRICS_SNAPSHOT = "metrics_snapshot"
    CANCELLED = "cancelled"


class DomainEvent(BaseModel):
    workflow_id: str
    seq: int
    kind: EventKind
    at: datetime
    program_id: str
    pairing_id: str | None = None
    participant: str | None = None
    facts: dict[str, Fact] = {}

    @property
    def key(self) -> str:
        return f"{self.workflow_id}#{self.seq}"


class EventJournal(BaseModel):
    """Events a workflow has recorded but not yet handed to the store, and the next sequence number."""

    next_seq: int = 1
    unsent: list[DomainEvent] = []

    def record(
        self,
        kind: EventKind,
        *,
        workflow_id: str,
        program_id: str,
        at: datetime,
        pairing_id: str | None = None,
        participant: str | None = None,
        **facts: Fact,
    ) -> None:
        self.unsent.append(
            DomainEvent(
                workflow_id=workflow_id,
                seq=self.next_seq,
                kind=kind,
                at=at,
                program_id=program_id,
                pairing_id=pairing_id,
                participant=participant,
                facts=facts,
            )
        )
        self.next_seq += 1

    def take(self, limit: int = 200) -> list[DomainEvent]:
        batch, self.unsent = self.unsent[:limit], self.unsent[limit:]
        return batch
