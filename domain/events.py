"""Domain events: the facts of a program, appended once each to the program record.

Each event is an envelope (which workflow, which sequence number, when, which program, pairing and person)
around a typed fact. The key is the workflow id and the sequence number, so a retried activity or a replayed
workflow task writes the same key again and the store keeps one copy.

Events carry counts, ratings and choices, never what a pair wrote to each other: a check-in says whether a
recap was written, not what it said. Survey comments appear only when the program's spec keeps them.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from domain.matching import MatchProposal
from domain.metrics import KpiResult, PairingOutcome, ProgramMetrics
from domain.pair_record import PairRecord
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from domain.views import MemberView, ProgramStatus


class GoalTarget(BaseModel):
    goal: str
    kpi: str
    target: float


# Program facts
class ProgramStarted(BaseModel):
    kind: Literal["program_started"] = "program_started"
    name: str
    purpose: str
    matching_mode: str
    goals: list[GoalTarget]
    checkin_cadence_seconds: int
    program_length_seconds: int
    spec: ProgramSpec | None = None  # the whole spec, for pages (programs recorded before lack it)


class PhaseChanged(BaseModel):
    kind: Literal["phase_changed"] = "phase_changed"
    phase: str


class Invited(BaseModel):
    kind: Literal["invited"] = "invited"
    name: str
    role: str
    seniority: int
    department: str


class OptedIn(BaseModel):
    kind: Literal["opted_in"] = "opted_in"


class TrainingCompleted(BaseModel):
    kind: Literal["training_completed"] = "training_completed"
    modules: list[str]


class Excluded(BaseModel):
    kind: Literal["excluded"] = "excluded"
    reason: str


class Matched(BaseModel):
    """A pair the coordinator approved (`matched`) or the program formed again from the pool (`rematched`)."""

    kind: Literal["matched", "rematched"] = "matched"
    pairing: str
    mentor: str
    mentee: str
    score: float
    reasons: list[str] = []


class Approved(BaseModel):
    kind: Literal["approved"] = "approved"
    pairs: int
    edited: bool


class Withdrawn(BaseModel):
    """A person left the program, from any phase; recorded by the program whichever door they left by."""

    kind: Literal["withdrawn"] = "withdrawn"
    phase: str


class Recognised(BaseModel):
    """A participant completed the program with their partner and was thanked."""

    kind: Literal["completed"] = "completed"
    pairing: str


class MetricsSnapshot(BaseModel):
    kind: Literal["metrics_snapshot"] = "metrics_snapshot"
    label: str  # "cycle-3", "mid-point", "close-out"
    metrics: ProgramMetrics
    kpis: list[KpiResult] = []


class KpiEvaluated(BaseModel):
    kind: Literal["kpi_evaluated"] = "kpi_evaluated"
    kpi: str
    value: float | None
    target: float
    met: bool | None  # None: too few answers to judge


class Cancelled(BaseModel):
    kind: Literal["cancelled"] = "cancelled"
    reason: str


class ProgramClosed(BaseModel):
    kind: Literal["program_closed"] = "program_closed"
    outcome: str


# Pairing facts
class Accepted(BaseModel):
    kind: Literal["accepted"] = "accepted"


class Declined(BaseModel):
    """A side declined the introduction, or did not answer in time; the reason stays with the coordinator."""

    kind: Literal["declined"] = "declined"
    unanswered: bool = False


class PlanAgreed(BaseModel):
    kind: Literal["plan_agreed"] = "plan_agreed"
    by_default: bool
    goals: int
    skills: list[str]
    cadence_seconds: int


class CheckinLogged(BaseModel):
    kind: Literal["checkin_logged"] = "checkin_logged"
    cycle: int
    met: bool
    progress: int
    recap_written: bool  # whether, never what


class CycleClosed(BaseModel):
    """The end of a check-in cycle: kept when either side met, missed otherwise."""

    kind: Literal["cycle_closed"] = "cycle_closed"
    cycle: int
    met: bool
    missed_streak: int


class SkillChange(BaseModel):
    skill: str
    before: int
    after: int


class SurveyAnswered(BaseModel):
    kind: Literal["survey_answered"] = "survey_answered"
    survey: Literal["pulse", "midpoint", "closeout"]
    cycle: int | None = None
    ratings: dict[str, int]  # question -> 1-5
    would_recommend: bool | None = None
    skills: list[SkillChange] = []
    comment: str | None = None  # only when the spec keeps survey comments


class AlertRaised(BaseModel):
    kind: Literal["alert_raised"] = "alert_raised"
    reason: str  # "missed", "pulse", "at-risk", "plan-missing"
    cycle: int | None = None


class FlaggedAtRisk(BaseModel):
    kind: Literal["flagged_at_risk"] = "flagged_at_risk"


class PromptShown(BaseModel):
    """An open prompt as its person sees it now: just opened, or changed (a pause moved its due date, a training
    module was done). `view` is what the workflow recorded; the record keeps it only sealed (`sealed`, by the
    append activity), since a view can hold a partner's name or a plan a partner wrote."""

    kind: Literal["prompt_shown"] = "prompt_shown"
    prompt_id: str
    prompt_kind: PromptKind
    due_at: datetime | None  # None while the program is paused
    view: PendingPrompt | None = None
    sealed: str | None = None


class MemberShown(BaseModel):
    """A member's place in the program as they see it now (status, pairings, modules done): recorded whenever it
    changes, so pages read it from the record rather than asking the program's workflow."""

    kind: Literal["member_shown"] = "member_shown"
    view: MemberView


class StatusShown(BaseModel):
    """The coordinator's view of the program (phase, counts, snapshots) when it changed; its proposal travels
    apart (`ProposalShown`), only when it changes: at 10,000 people it is 0.8 MB."""

    kind: Literal["status_shown"] = "status_shown"
    status: ProgramStatus


class ProposalShown(BaseModel):
    """The proposed pairs the coordinators approve, as they stand now (None once there is none)."""

    kind: Literal["proposal_shown"] = "proposal_shown"
    proposal: MatchProposal | None


class PairRecordShown(BaseModel):
    """A pair's own record (plan and check-ins) as its two people see it now: recorded when it changes. `view` is
    what the workflow recorded; the record keeps it only sealed (`sealed`, by the append activity)."""

    kind: Literal["pair_record_shown"] = "pair_record_shown"
    view: PairRecord | None = None
    sealed: str | None = None


class PromptClosed(BaseModel):
    """A prompt answered, expired or closed: it is no longer waiting for its person."""

    kind: Literal["prompt_closed"] = "prompt_closed"
    prompt_id: str


class PairingClosed(BaseModel):
    kind: Literal["pairing_closed"] = "pairing_closed"
    outcome: PairingOutcome
    ended_by: list[str]
    cycles_run: int
    cycles_met: int


Fact = Annotated[
    ProgramStarted
    | PhaseChanged
    | Invited
    | OptedIn
    | TrainingCompleted
    | Excluded
    | Matched
    | Approved
    | Withdrawn
    | Recognised
    | MetricsSnapshot
    | KpiEvaluated
    | Cancelled
    | ProgramClosed
    | Accepted
    | Declined
    | PlanAgreed
    | CheckinLogged
    | CycleClosed
    | SurveyAnswered
    | AlertRaised
    | FlaggedAtRisk
    | PairingClosed
    | PromptShown
    | PromptClosed
    | MemberShown
    | PairRecordShown
    | StatusShown
    | ProposalShown,
    Field(discriminator="kind"),
]


class DomainEvent(BaseModel):
    workflow_id: str
    seq: int
    at: datetime
    program_id: str
    pairing_id: str | None = None
    participant: str | None = None
    # The first run of the workflow that recorded it (the same across continue-as-new). Two runs that share a
    # workflow id share its keys too: the store compares origins so that one can never pass for the other.
    origin: str | None = None
    fact: Fact

    @property
    def key(self) -> str:
        return f"{self.workflow_id}#{self.seq}"

    @property
    def kind(self) -> str:
        return self.fact.kind


class EventJournal(BaseModel):
    """Events a workflow has recorded but not yet handed to the store, and the next sequence number."""

    next_seq: int = 1
    unsent: list[DomainEvent] = []

    def record(
        self,
        fact: Fact,
        *,
        workflow_id: str,
        program_id: str,
        at: datetime,
        pairing_id: str | None = None,
        participant: str | None = None,
        origin: str | None = None,
    ) -> None:
        self.unsent.append(
            DomainEvent(
                workflow_id=workflow_id,
                seq=self.next_seq,
                at=at,
                program_id=program_id,
                pairing_id=pairing_id,
                participant=participant,
                origin=origin,
                fact=fact,
            )
        )
        self.next_seq += 1

    def take(self, limit: int = 200) -> list[DomainEvent]:
        batch, self.unsent = self.unsent[:limit], self.unsent[limit:]
        return batch
