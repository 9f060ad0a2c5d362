"""What the coordinator page reads from the program record (SQL), and the report rendered on demand.

Only what coordinators are already told: when each phase began, each pairing's stage, counts and the alerts
it raised (alerts name the pairing in the coordinator's own messages). Never a check-in, a rating or a comment.
Every function here is synchronous (SQLAlchemy); the app runs them on its thread pool.
"""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select

from adapters.store import tables as t
from adapters.store.queries import AlertCount, ProgramNotFound, alert_counts
from domain.program import ProgramPhase
from domain.spec import ProgramSpec

PHASE_LABELS = {
    ProgramPhase.RECRUITMENT: "Recruitment",
    ProgramPhase.TRAINING: "Training",
    ProgramPhase.MATCHING: "Matching",
    ProgramPhase.KICKOFF: "Kick-off",
    ProgramPhase.MENTORING: "Mentoring",
    ProgramPhase.MIDPOINT_REVIEW: "Mid-point review",
    ProgramPhase.CLOSE_OUT: "Close-out",
    ProgramPhase.COMPLETED: "Completed",
    ProgramPhase.CANCELLED: "Cancelled",
}
PHASE_ORDER: list[ProgramPhase] = [p for p in ProgramPhase if p != ProgramPhase.CANCELLED]
ALERT_LABELS = {
    "missed": "check-ins missed in a row",
    "pulse": "a low private pulse",
    "at-risk": "a low mid-point answer",
    "plan-missing": "no plan agreed in time",
    "low-progress": "progress rated low in a row",
}
REPORT_FILES = [  # the exports of adapters.report.write.csv_tables, in its order
    "funnel.csv",
    "adherence.csv",
    "ratings.csv",
    "kpis.csv",
    "snapshots.csv",
    "alerts.csv",
    "evaluation.csv",
]


class PhaseStep(BaseModel):
    phase: ProgramPhase
    label: str
    started_at: datetime | None
    planned: str
    state: Literal["done", "current", "upcoming"]


class PairingRow(BaseModel):
    pairing_id: str
    mentor: str
    mentee: str
    stage: str
    cycles_run: int
    cycles_met: int
    at_risk: bool
    outcome: str | None
    alerts: list[str]

    @property
    def needs_attention(self) -> bool:
        return self.outcome is None and (self.at_risk or bool(self.alerts))


class ProgramRecord(BaseModel):
    """The coordinator page's share of the record; empty until the program's first events are stored."""

    phases_started: dict[str, datetime]
    pairings: list[PairingRow]
    alerts: list[AlertCount]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps no zone; all times are UTC


def read_program_record(engine: Engine, program_id: str) -> ProgramRecord:
    e, p, a = t.events.c, t.pairings.c, t.alerts.c
    with engine.connect() as conn:
        phase_rows = conn.execute(
            select(e.at, e.fact)
            .where(e.program_id == program_id, e.workflow_id == program_id, e.kind == "phase_changed")
            .order_by(e.id)
        ).all()
        pairing_rows = conn.execute(
            select(t.pairings).where(p.program_id == program_id).order_by(p.matched_at, p.pairing_id)
        ).all()
        alert_rows = conn.execute(
            select(a.pairing_id, a.reason, a.cycle).where(a.program_id == program_id).order_by(a.event_id)
        ).all()
        counts = alert_counts(conn, program_id)
    started: dict[str, datetime] = {}
    for at, fact in phase_rows:
        started.setdefault(str(fact["phase"]), _utc(at))  # a phase entered twice (mid-point) counts from the first
    alerts: dict[str, list[str]] = {}
    for pairing_id, reason, cycle in alert_rows:
        label = ALERT_LABELS.get(reason, reason)
        alerts.setdefault(str(pairing_id), []).append(f"{label} (cycle {cycle})" if cycle else label)
    pairings = [
        PairingRow(
            pairing_id=row.pairing_id,
            mentor=row.mentor,
            mentee=row.mentee,
            stage=row.stage,
            cycles_run=row.cycles_run,
            cycles_met=row.cycles_met,
            at_risk=row.at_risk,
            outcome=row.outcome,
            alerts=alerts.get(row.pairing_id, []),
        )
        for row in pairing_rows
    ]
    return ProgramRecord(phases_started=started, pairings=pairings, alerts=counts)


_UNITS = [("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]


def in_words(length: timedelta) -> str:
    """A duration as people say it: "2 weeks", "3 days 12 hours"."""
    remaining, parts = int(length.total_seconds()), []
    for unit, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count > 1 else ''}")
    return " ".join(parts[:2]) or "no time"


def _planned(spec: ProgramSpec) -> dict[ProgramPhase, str]:
    d = spec.durations
    matching = (
        "approved automatically"
        if spec.matching.auto_approve
        else f"until a coordinator approves (asked again every {in_words(d.answer_window)})"
    )
    return {
        ProgramPhase.RECRUITMENT: f"{in_words(d.recruitment)} to opt in",
        ProgramPhase.TRAINING: f"{in_words(d.training)} for the training modules",
        ProgramPhase.MATCHING: matching,
        ProgramPhase.KICKOFF: "pairings start",
        ProgramPhase.MENTORING: f"{in_words(d.program_length)}, a check-in every {in_words(d.checkin_cadence)}",
        ProgramPhase.MIDPOINT_REVIEW: f"{in_words(d.midpoint)} after kick-off",
        ProgramPhase.CLOSE_OUT: f"up to {in_words(2 * d.answer_window + d.checkin_cadence)}: final surveys",
        ProgramPhase.COMPLETED: "evaluation, report and recognition",
        ProgramPhase.CANCELLED: "everyone was told",
    }


def timeline(spec: ProgramSpec, current: ProgramPhase, started: dict[str, datetime]) -> list[PhaseStep]:
    """Every phase in order: when it began (from the record), how long it is planned to take, and where we are."""
    planned = _planned(spec)
    phases = [*PHASE_ORDER, ProgramPhase.CANCELLED] if current == ProgramPhase.CANCELLED else PHASE_ORDER
    if current == ProgramPhase.CANCELLED:
        phases = [p for p in phases if p.value in started or p == current]
    position = phases.index(current) if current in phases else len(phases)
    steps = []
    for index, phase in enumerate(phases):
        state: Literal["done", "current", "upcoming"]
        if phase == current:
            state = "current"
        elif phase.value in started or index < position:
            state = "done"
        else:
            state = "upcoming"
        steps.append(
            PhaseStep(
                phase=phase,
                label=PHASE_LABELS[phase],
                started_at=started.get(phase.value),
                planned=planned[phase],
                state=state,
            )
        )
    return steps


# The report, on demand: the same page and files as `starter.py report`, never written to disk here.
def render_report(engine: Engine, program_id: str, now: datetime | None = None) -> str:
    """report.html for a program; raises ProgramNotFound while the record has nothing of it yet."""
    from adapters.report.html import render_html  # loads matplotlib: only when a report is asked for
    from adapters.report.write import charts, csv_tables, evaluations
    from adapters.store.queries import program_report

    report = program_report(engine, program_id)
    evaluated = evaluations(report)
    return render_html(report, charts(report), evaluated, list(csv_tables(report, evaluated)), now or datetime.now(UTC))


def render_csv(engine: Engine, program_id: str, name: str) -> str:
    """One of the report's CSV exports, as text."""
    from adapters.report.write import csv_tables, evaluations
    from adapters.store.queries import program_report

    report = program_report(engine, program_id)
    rows = csv_tables(report, evaluations(report))[name]
    out = io.StringIO()
    csv.writer(out).writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()


__all__ = ["ProgramNotFound", "ProgramRecord", "read_program_record", "render_csv", "render_report", "timeline"]
