"""Projections: how each domain event changes the read model.

A handler sees one event and the rows before it, and nothing else: no clock, no randomness. Applying the log
in id order therefore always gives the same rows, whether event by event as activities append them or all at
once in `rebuild`.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from adapters.store import tables as t
from adapters.store.bulk import Known, Reads
from adapters.store.projector import Projector
from domain import events as ev

# The tables whose rows later events change; the projector keeps their rows by primary key.
CHANGING = (t.programs, t.participants, t.pairings, t.open_prompts, t.member_views, t.pair_records, t.program_status)


def projector(conn: Connection, known: Known | None = None) -> Projector:
    return Projector(conn, CHANGING, known)


def read_ahead(events: list[ev.DomainEvent]) -> Reads:
    """The rows projecting these events may read: the pairings they name (accepted, answered, closed)."""
    return {t.pairings: sorted({e.pairing_id for e in events if e.pairing_id is not None})}


def side_of(p: Projector, pairing_id: str, participant: str) -> str:
    """Which side of the pairing a person answered from: the mentor, the mentee, or unknown."""
    pairing = p.row(t.pairings, (pairing_id,))
    if pairing is None:
        return "unknown"
    return "mentor" if participant == pairing["mentor"] else "mentee" if participant == pairing["mentee"] else "unknown"


Handler = Callable[[Projector, int, ev.DomainEvent], None]


def _set_participant(p: Projector, event: ev.DomainEvent, email: str | None, **values: Any) -> None:
    p.update(t.participants, (event.program_id, email), **values)


def _set_pairing(p: Projector, pairing_id: str | None, **values: Any) -> None:
    p.update(t.pairings, (pairing_id,), **values)


# Program facts
def program_started(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.ProgramStarted)
    p.insert(
        t.programs,
        program_id=event.program_id,
        name=fact.name,
        purpose=fact.purpose,
        matching_mode=fact.matching_mode,
        goals=[g.model_dump() for g in fact.goals],
        checkin_cadence_seconds=fact.checkin_cadence_seconds,
        phase="recruitment",
        started_at=event.at,
        spec=None if fact.spec is None else fact.spec.model_dump(mode="json"),
    )


def phase_changed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.PhaseChanged)
    p.update(t.programs, (event.program_id,), phase=event.fact.phase)


def program_closed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.ProgramClosed)
    p.update(t.programs, (event.program_id,), closed_at=event.at, outcome=event.fact.outcome)


def invited(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.Invited) and event.participant is not None
    p.insert(
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


def opted_in(p: Projector, _: int, event: ev.DomainEvent) -> None:
    _set_participant(p, event, event.participant, status="opted_in", opted_in_at=event.at)


def training_completed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    _set_participant(p, event, event.participant, status="trained", trained_at=event.at)


def excluded(p: Projector, _: int, event: ev.DomainEvent) -> None:
    _set_participant(p, event, event.participant, status="excluded")


def matched(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.Matched)
    p.insert(
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
        _set_participant(p, event, email, status="matched")


def withdrawn(p: Projector, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.Withdrawn)
    _set_participant(
        p, event, event.participant, status="withdrawn", withdrawn_at=event.at, withdrawn_in_phase=event.fact.phase
    )


def recognised(p: Projector, _: int, event: ev.DomainEvent) -> None:
    _set_participant(p, event, event.participant, status="completed")


def metrics_snapshot(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.MetricsSnapshot)
    m = fact.metrics
    p.insert(
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


def kpi_evaluated(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.KpiEvaluated)
    p.insert(
        t.kpi_results,
        program_id=event.program_id,
        kpi=fact.kpi,
        value=fact.value,
        target=fact.target,
        met=fact.met,
        evaluated_at=event.at,
    )


# Pairing facts
def accepted(p: Projector, _: int, event: ev.DomainEvent) -> None:
    pairing = p.row(t.pairings, (event.pairing_id,))
    if pairing is not None:
        count = pairing["accepted"] + 1
        _set_pairing(p, event.pairing_id, accepted=count, stage="planning" if count >= 2 else "introduction")


def plan_agreed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.PlanAgreed)
    _set_pairing(
        p,
        event.pairing_id,
        stage="mentoring",
        plan_skills=fact.skills,
        plan_by_default=fact.by_default,
        cadence_seconds=fact.cadence_seconds,
    )


def checkin_logged(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.CheckinLogged)
    p.insert(
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


def cycle_closed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.CycleClosed)
    p.insert(
        t.checkin_cycles,
        pairing_id=event.pairing_id,
        cycle=fact.cycle,
        program_id=event.program_id,
        met=fact.met,
        missed_streak=fact.missed_streak,
        closed_at=event.at,
    )


def survey_answered(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.SurveyAnswered) and event.pairing_id and event.participant
    side = side_of(p, event.pairing_id, event.participant)
    p.insert(
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
        p.insert(
            t.skill_ratings,
            event_id=event_id,
            skill=rating.skill,
            program_id=event.program_id,
            participant=event.participant,
            side=side,
            before=rating.before,
            after=rating.after,
        )


def alert_raised(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.AlertRaised)
    p.insert(
        t.alerts,
        event_id=event_id,
        program_id=event.program_id,
        pairing_id=event.pairing_id,
        reason=fact.reason,
        cycle=fact.cycle,
        raised_at=event.at,
    )


def flagged_at_risk(p: Projector, _: int, event: ev.DomainEvent) -> None:
    _set_pairing(p, event.pairing_id, at_risk=True)


def pairing_closed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.PairingClosed)
    # A pairing closes once. The program records a close for a pairing that ended behind its back; what that
    # pairing recorded itself before it was ended, if anything, came first and stands.
    pairing = p.row(t.pairings, (event.pairing_id,))
    if pairing is not None and pairing["stage"] != "closed":
        _set_pairing(
            p,
            event.pairing_id,
            stage="closed",
            outcome=fact.outcome.value,
            cycles_run=fact.cycles_run,
            cycles_met=fact.cycles_met,
            closed_at=event.at,
        )


# Prompts
def _open_prompt(event: ev.DomainEvent, prompt_id: str) -> tuple[str, str | None, str]:
    return (event.workflow_id, event.participant, prompt_id)


def prompt_shown(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.PromptShown)
    if fact.sealed is None:  # never a view in the clear: the append activity seals it
        raise ValueError(f"{event.key}: a prompt's view reached the record unsealed")
    p.delete(t.open_prompts, _open_prompt(event, fact.prompt_id))  # shown again: the new view replaces it
    p.insert(
        t.open_prompts,
        workflow_id=event.workflow_id,
        participant=event.participant,
        prompt_id=fact.prompt_id,
        program_id=event.program_id,
        pairing_id=event.pairing_id,
        kind=fact.prompt_kind.value,
        due_at=fact.due_at,
        sealed=fact.sealed,
        shown_event_id=event_id,
    )
    if event.workflow_id == event.program_id:
        p.update(t.programs, (event.program_id,), prompts_recorded=True)


def prompt_closed(p: Projector, _: int, event: ev.DomainEvent) -> None:
    assert isinstance(event.fact, ev.PromptClosed)
    p.delete(t.open_prompts, _open_prompt(event, event.fact.prompt_id))


# Members
def member_shown(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.MemberShown)
    key = (event.program_id, fact.view.email)
    p.delete(t.member_views, key)  # shown again: the new view replaces it
    p.insert(
        t.member_views,
        program_id=event.program_id,
        email=fact.view.email,
        view=fact.view.model_dump(mode="json"),
        shown_event_id=event_id,
    )
    p.update(t.programs, (event.program_id,), members_recorded=True)


def status_shown(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.StatusShown)
    status = fact.status.model_dump(mode="json")
    if p.row(t.program_status, (event.program_id,)) is None:
        p.insert(t.program_status, program_id=event.program_id, status=status, proposal=None, shown_event_id=event_id)
    else:
        p.update(t.program_status, (event.program_id,), status=status, shown_event_id=event_id)


def proposal_shown(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.ProposalShown)
    proposal = None if fact.proposal is None else fact.proposal.model_dump(mode="json")
    p.update(t.program_status, (event.program_id,), proposal=proposal, shown_event_id=event_id)


def pair_record_shown(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    fact = event.fact
    assert isinstance(fact, ev.PairRecordShown)
    if fact.sealed is None:  # never a pair's words in the clear: the append activity seals them
        raise ValueError(f"{event.key}: a pair's record reached the record unsealed")
    p.delete(t.pair_records, (event.workflow_id,))
    p.insert(
        t.pair_records,
        pairing_id=event.workflow_id,
        program_id=event.program_id,
        sealed=fact.sealed,
        shown_event_id=event_id,
    )


def _ignore(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
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
    "prompt_shown": prompt_shown,
    "prompt_closed": prompt_closed,
    "member_shown": member_shown,
    "pair_record_shown": pair_record_shown,
    "status_shown": status_shown,
    "proposal_shown": proposal_shown,
}


def project(p: Projector, event_id: int, event: ev.DomainEvent) -> None:
    HANDLERS[event.kind](p, event_id, event)
