"""Projections: how each domain event changes the read model.

A handler sees one event and the rows before it, and nothing else: no clock, no randomness. Applying the log
in id order therefore always gives the same rows, whether event by event as activities append them or all at
once in `rebuild`.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from activities.store import tables as t
from domain import events as ev

Handler = Callable[[Connection, int, ev.DomainEvent], None]


def _set_participant(conn: Connection, event: ev.DomainEvent, email: str | None, **values: Any) -> None:
    conn.execute(
        update(t.participants)
        .where(t.participants.c.program_id == event.program_id, t.participants.c.email == email)
        .values(**values)
    )


def _set_pairing(conn: Connection, pairing_id: str | None, **values: Any) -> None:
    conn.execute(update(t.pairings).where(t.pairings.c.pairing_id == pairing_id).values(**values))


def _side(conn: Connection, event: ev.DomainEvent) -> str:
    row = conn.execute(
        select(t.pairings.c.mentor, t.pairings.c.mentee).where(t.pairings.c.pairing_id == event.pairing_id)
    ).first()
    if row is None:
        return "unknown"
    return "mentor" if event.participant == row.mentor else "mentee"


def _insert(conn: Connection, table: Table, **values: Any) -> None:
    conn.execute(insert(table).values(**values))


# Program facts
def program_started(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.ProgramStarted)
    _insert(
        conn,
        t.programs,
        program_id=event.program_id,
        name=fact.name,
        purpose=fact.purpose,
        matching_mode=fact.matching_mode,
        goals=[g.model_dump() for g in fact.goals],
        checkin_cadence_seconds=fact.checkin_cadence_seconds,
        phase="recruitment",
        started_at=event.at,
    )


def phase_changed(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.PhaseChanged)
    conn.execute(update(t.programs).where(t.programs.c.program_id == event.program_id).values(phase=event.fact.phase))


def program_closed(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.ProgramClosed)
    conn.execute(
        update(t.programs)
        .where(t.programs.c.program_id == event.program_id)
        .values(closed_at=event.at, outcome=event.fact.outcome)
    )


def invited(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.Invited) and event.participant is not None
    _insert(
        conn,
        t.participants,
        program_id=event.program_id,
        email=event.participant,
        name=fact.name,
        role=fact.role,
        seniority=fact.seniority,
        department=fact.department,
        status="invited",
        invited_at=event.at,
    )


def opted_in(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    _set_participant(conn, event, event.participant, status="opted_in", opted_in_at=event.at)


def training_completed(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    _set_participant(conn, event, event.participant, status="trained", trained_at=event.at)


def excluded(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    _set_participant(conn, event, event.participant, status="excluded")


def matched(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.Matched)
    _insert(
        conn,
        t.pairings,
        pairing_id=fact.pairing,
        program_id=event.program_id,
        mentor=fact.mentor,
        mentee=fact.mentee,
        score=fact.score,
        reasons=fact.reasons,
        rematch=fact.kind == "rematched",
        stage="introduction",
        accepted=0,
        cycles_run=0,
        cycles_met=0,
        at_risk=False,
        matched_at=event.at,
    )
    for email in (fact.mentor, fact.mentee):
        _set_participant(conn, event, email, status="matched")


def withdrawn(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.Withdrawn)
    _set_participant(
        conn, event, event.participant, status="withdrawn", withdrawn_at=event.at, withdrawn_in_phase=event.fact.phase
    )


def recognised(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    _set_participant(conn, event, event.participant, status="completed")


def metrics_snapshot(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.MetricsSnapshot)
    m = fact.metrics
    _insert(
        conn,
        t.metric_snapshots,
        program_id=event.program_id,
        label=fact.label,
        taken_at=event.at,
        invited=m.funnel.invited,
        opted_in=m.funnel.opted_in,
        trained=m.funnel.trained,
        matched=m.funnel.matched,
        withdrawn=m.funnel.withdrawn,
        enrolment_rate=m.enrolment_rate,
        training_completion=m.training_completion,
        match_rate=m.match_rate,
        checkin_adherence=m.checkin_adherence,
        average_progress=m.average_progress,
        satisfaction=m.satisfaction,
        pairings_running=m.pairings_running,
        pairings_at_risk=m.pairings_at_risk,
        metrics=m.model_dump(mode="json"),
        kpis=[k.model_dump(mode="json") for k in fact.kpis],
    )


def kpi_evaluated(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.KpiEvaluated)
    _insert(
        conn,
        t.kpi_results,
        program_id=event.program_id,
        kpi=fact.kpi,
        value=fact.value,
        target=fact.target,
        met=fact.met,
        evaluated_at=event.at,
    )


# Pairing facts
def accepted(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    row = conn.execute(select(t.pairings.c.accepted).where(t.pairings.c.pairing_id == event.pairing_id)).first()
    if row is not None:
        count = row.accepted + 1
        _set_pairing(conn, event.pairing_id, accepted=count, stage="planning" if count == 2 else "introduction")


def plan_agreed(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.PlanAgreed)
    _set_pairing(
        conn,
        event.pairing_id,
        stage="mentoring",
        plan_skills=fact.skills,
        plan_by_default=fact.by_default,
        cadence_seconds=fact.cadence_seconds,
    )


def checkin_logged(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.CheckinLogged)
    _insert(
        conn,
        t.checkins,
        pairing_id=event.pairing_id,
        cycle=fact.cycle,
        participant=event.participant,
        program_id=event.program_id,
        met=fact.met,
        progress=fact.progress,
        recap_written=fact.recap_written,
        logged_at=event.at,
    )


def cycle_closed(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.CycleClosed)
    _insert(
        conn,
        t.checkin_cycles,
        pairing_id=event.pairing_id,
        cycle=fact.cycle,
        program_id=event.program_id,
        met=fact.met,
        missed_streak=fact.missed_streak,
        closed_at=event.at,
    )


def survey_answered(conn: Connection, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.SurveyAnswered) and event.pairing_id and event.participant
    side = _side(conn, event)
    _insert(
        conn,
        t.survey_answers,
        event_id=event_id,
        program_id=event.program_id,
        pairing_id=event.pairing_id,
        participant=event.participant,
        side=side,
        survey=fact.survey,
        cycle=fact.cycle,
        satisfaction=fact.ratings.get("satisfaction"),
        usefulness=fact.ratings.get("usefulness"),
        safe_and_useful=fact.ratings.get("safe_and_useful"),
        would_recommend=fact.would_recommend,
        comment=fact.comment,
        answered_at=event.at,
    )
    for rating in fact.skills:
        _insert(
            conn,
            t.skill_ratings,
            event_id=event_id,
            skill=rating.skill,
            program_id=event.program_id,
            participant=event.participant,
            side=side,
            before=rating.before,
            after=rating.after,
        )


def alert_raised(conn: Connection, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.AlertRaised)
    _insert(
        conn,
        t.alerts,
        event_id=event_id,
        program_id=event.program_id,
        pairing_id=event.pairing_id,
        reason=fact.reason,
        cycle=fact.cycle,
        raised_at=event.at,
    )


def flagged_at_risk(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    _set_pairing(conn, event.pairing_id, at_risk=True)


def pairing_closed(conn: Connection, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.PairingClosed)
    _set_pairing(
        conn,
        event.pairing_id,
        stage="closed",
        outcome=fact.outcome.value,
        cycles_run=fact.cycles_run,
        cycles_met=fact.cycles_met,
        closed_at=event.at,
    )


def _ignore(conn: Connection, event_id: int, event: ev.DomainEvent) -> None:
    """Facts kept in the log that no projection needs (the program's `cancelled` shows as its phase)."""


HANDLERS: dict[str, Handler] = {
    "program_started": program_started,
    "phase_changed": phase_changed,
    "program_closed": program_closed,
    "invited": invited,
    "opted_in": opted_in,
    "training_completed": training_completed,
    "excluded": excluded,
    "matched": matched,
    "rematched": matched,
    "approved": _ignore,
    "withdrawn": withdrawn,
    "completed": recognised,
    "metrics_snapshot": metrics_snapshot,
    "kpi_evaluated": kpi_evaluated,
    "cancelled": _ignore,
    "accepted": accepted,
    "declined": _ignore,
    "plan_agreed": plan_agreed,
    "checkin_logged": checkin_logged,
    "cycle_closed": cycle_closed,
    "survey_answered": survey_answered,
    "alert_raised": alert_raised,
    "flagged_at_risk": flagged_at_risk,
    "pairing_closed": pairing_closed,
}


def project(conn: Connection, event_id: int, event: ev.DomainEvent) -> None:
    HANDLERS[event.kind](conn, event_id, event)
