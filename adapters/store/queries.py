"""What coordinators read: one program's aggregates, from the read model, as pydantic models.

Every function takes a SQLAlchemy Connection or Engine. A share or an average covers at least MIN_RESPONDENTS
people (or pairings, for check-in adherence); over a smaller group the figure keeps its group size and loses its
value, which reads as "too few to report". Counts of people (the funnel) and of alerts are shown as they are.

Nothing leaves this module per pair or per person: no email, no name, no pairing id, no survey comment. The
evaluation inputs are the one place individual ratings leave, under pseudonyms ("mentee-3"), because the
paired test needs them; the report prints only the test's result.
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, Connection, Engine, case, distinct, func, select

from adapters.store import tables as t
from domain.evaluation import PairedRating
from domain.events import GoalTarget
from domain.metrics import MIN_RESPONDENTS, KpiResult, ProgramMetrics

TOO_FEW = "too few to report"
Source = Connection | Engine
KpiStatus = Literal["met", "not met", "too few to report"]


class ProgramNotFound(LookupError):
    def __init__(self, program_id: str) -> None:
        super().__init__(program_id)
        self.program_id = program_id


class Aggregate(BaseModel):
    """A share (0-1) or an average (1-5) over `n` people or pairings; no value when n is below the floor."""

    n: int
    value: float | None

    @property
    def too_few(self) -> bool:
        return self.value is None


class ProgramHeader(BaseModel):
    program_id: str
    name: str
    purpose: str
    phase: str
    matching_mode: str
    goals: list[GoalTarget]
    started_at: datetime
    closed_at: datetime | None
    outcome: str | None  # None while the program runs


class ProgramSummary(BaseModel):
    """A line of the program list: where a program stands, in headline figures."""

    program_id: str
    name: str
    phase: str
    started_at: datetime
    invited: int
    participants: int  # people who opted in
    pairings: int  # pairs formed, rematches included
    adherence: Aggregate  # cycles met / cycles closed so far; n counts pairings
    kpis_met: int
    kpis_total: int  # 0 until the first snapshot or the close-out evaluation


class FunnelStage(BaseModel):
    stage: Literal["invited", "opted in", "trained", "matched", "completed", "withdrawn"]
    people: int


class CycleAdherence(BaseModel):
    cycle: int
    met: Aggregate  # share of the pairings that closed this cycle having met; n counts pairings


class CycleProgress(BaseModel):
    cycle: int
    progress: Aggregate  # average 1-5 progress rating; n counts distinct people who checked in


class SurveyRating(BaseModel):
    survey: Literal["pulse", "midpoint", "closeout"]
    question: Literal["satisfaction", "usefulness", "safe_and_useful", "would_recommend"]
    scale: Literal["1-5", "share"]
    rating: Aggregate  # n counts distinct people who answered


class KpiRow(BaseModel):
    goal: str
    kpi: str
    target: float
    value: float | None
    status: KpiStatus


class KpiTable(BaseModel):
    source: str  # "close-out evaluation", "snapshot mid-point", or "none yet"
    rows: list[KpiRow]

    @property
    def met(self) -> int:
        return sum(1 for r in self.rows if r.status == "met")


class SnapshotRow(BaseModel):
    label: str
    taken_at: datetime
    invited: int
    opted_in: int
    trained: int
    matched: int
    withdrawn: int
    pairings_running: int
    pairings_at_risk: int
    checkin_cycles: int  # closed so far; 0: no adherence yet, rather than too few to report
    enrolment_rate: float | None
    training_completion: float | None
    match_rate: float | None
    checkin_adherence: float | None
    average_progress: float | None
    satisfaction: float | None


class AlertCount(BaseModel):
    reason: str
    count: int


class EvaluationInputs(BaseModel):
    """Close-out self-ratings, before and after, under pseudonyms: one person's latest answer per skill."""

    mentees: list[PairedRating]  # their plan skills
    mentors: list[PairedRating]  # their leadership skills


class ProgramReport(BaseModel):
    header: ProgramHeader
    summary: ProgramSummary
    funnel: list[FunnelStage]
    adherence: list[CycleAdherence]
    progress: list[CycleProgress]
    surveys: list[SurveyRating]
    kpis: KpiTable
    snapshots: list[SnapshotRow]
    alerts: list[AlertCount]
    evaluation: EvaluationInputs


@contextmanager
def _connected(source: Source) -> Iterator[Connection]:
    if isinstance(source, Connection):
        yield source
    else:
        with source.connect() as conn:
            yield conn


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps no zone; all times are UTC


def _share(part: int, whole: int, n: int) -> Aggregate:
    value = round(part / whole, 3) if whole and n >= MIN_RESPONDENTS else None
    return Aggregate(n=n, value=value)


def _mean(total: float, answers: int, n: int) -> Aggregate:
    value = round(total / answers, 2) if answers and n >= MIN_RESPONDENTS else None
    return Aggregate(n=n, value=value)


def _count_true(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """SUM over a boolean, portable: PostgreSQL will not add booleans up."""
    return func.coalesce(func.sum(case((column, 1), else_=0)), 0)


# Programs
def program_header(source: Source, program_id: str) -> ProgramHeader:
    with _connected(source) as conn:
        row = conn.execute(select(t.programs).where(t.programs.c.program_id == program_id)).first()
    if row is None:
        raise ProgramNotFound(program_id)
    return ProgramHeader(
        program_id=row.program_id,
        name=row.name,
        purpose=row.purpose,
        phase=row.phase,
        matching_mode=row.matching_mode,
        goals=[GoalTarget.model_validate(g) for g in row.goals],
        started_at=_utc(row.started_at),
        closed_at=_utc(row.closed_at) if row.closed_at else None,
        outcome=row.outcome,
    )


def program_summary(source: Source, program_id: str) -> ProgramSummary:
    with _connected(source) as conn:
        header = program_header(conn, program_id)
        p = t.participants.c
        people = conn.execute(select(func.count(), func.count(p.opted_in_at)).where(p.program_id == program_id)).one()
        pairings = conn.execute(select(func.count()).where(t.pairings.c.program_id == program_id)).scalar_one()
        kpis = kpi_table(conn, program_id)
        adherence = overall_adherence(conn, program_id)
    return ProgramSummary(
        program_id=program_id,
        name=header.name,
        phase=header.phase,
        started_at=header.started_at,
        invited=people[0],
        participants=people[1],
        pairings=pairings,
        adherence=adherence,
        kpis_met=kpis.met,
        kpis_total=len(kpis.rows),
    )


def list_programs(source: Source) -> list[ProgramSummary]:
    """Every program in the record, newest first."""
    with _connected(source) as conn:
        ids = conn.execute(
            select(t.programs.c.program_id).order_by(t.programs.c.started_at.desc(), t.programs.c.program_id)
        ).scalars()
        return [program_summary(conn, program_id) for program_id in list(ids)]


# Funnel
def funnel(source: Source, program_id: str) -> list[FunnelStage]:
    """People at each step; a person counts at every step they reached, whatever their status is now."""
    p = t.participants.c
    with _connected(source) as conn:
        invited, opted_in, trained, completed, withdrawn = conn.execute(
            select(
                func.count(),
                func.count(p.opted_in_at),
                func.count(p.trained_at),
                _count_true(p.status == "completed"),
                func.count(p.withdrawn_at),
            ).where(p.program_id == program_id)
        ).one()
        mentors = select(t.pairings.c.mentor.label("email")).where(t.pairings.c.program_id == program_id)
        sides = mentors.union(select(t.pairings.c.mentee).where(t.pairings.c.program_id == program_id))
        matched = conn.execute(select(func.count()).select_from(sides.subquery())).scalar_one()
    return [
        FunnelStage(stage="invited", people=invited),
        FunnelStage(stage="opted in", people=opted_in),
        FunnelStage(stage="trained", people=trained),
        FunnelStage(stage="matched", people=matched),
        FunnelStage(stage="completed", people=int(completed)),
        FunnelStage(stage="withdrawn", people=withdrawn),
    ]


# Check-ins
def overall_adherence(source: Source, program_id: str) -> Aggregate:
    """Cycles met over cycles closed so far, across pairings (the checkin_adherence KPI, as of now)."""
    c = t.checkin_cycles.c
    with _connected(source) as conn:
        pairings, cycles, met = conn.execute(
            select(func.count(distinct(c.pairing_id)), func.count(), _count_true(c.met)).where(
                c.program_id == program_id
            )
        ).one()
    return _share(int(met), cycles, pairings)


def adherence_by_cycle(source: Source, program_id: str) -> list[CycleAdherence]:
    c = t.checkin_cycles.c
    query = (
        select(c.cycle, func.count(), _count_true(c.met))
        .where(c.program_id == program_id)
        .group_by(c.cycle)
        .order_by(c.cycle)
    )
    with _connected(source) as conn:
        rows = conn.execute(query).all()
    return [CycleAdherence(cycle=cycle, met=_share(int(met), pairings, pairings)) for cycle, pairings, met in rows]


def progress_by_cycle(source: Source, program_id: str) -> list[CycleProgress]:
    c = t.checkins.c
    query = (
        select(c.cycle, func.count(distinct(c.participant)), func.count(), func.sum(c.progress))
        .where(c.program_id == program_id)
        .group_by(c.cycle)
        .order_by(c.cycle)
    )
    with _connected(source) as conn:
        rows = conn.execute(query).all()
    return [
        CycleProgress(cycle=cycle, progress=_mean(float(total), answers, people))
        for cycle, people, answers, total in rows
    ]


# Surveys
SURVEY_QUESTIONS: list[tuple[Literal["pulse", "midpoint", "closeout"], str]] = [
    ("pulse", "safe_and_useful"),
    ("midpoint", "satisfaction"),
    ("midpoint", "usefulness"),
    ("closeout", "satisfaction"),
    ("closeout", "would_recommend"),
]


def survey_ratings(source: Source, program_id: str) -> list[SurveyRating]:
    """Each survey question answered at all: its average (or share saying yes) over the people who answered."""
    s = t.survey_answers
    results = []
    with _connected(source) as conn:
        for survey, question in SURVEY_QUESTIONS:
            column = s.c[question]
            total = _count_true(column) if question == "would_recommend" else func.coalesce(func.sum(column), 0)
            people, answers, summed = conn.execute(
                select(func.count(distinct(s.c.participant)), func.count(column), total).where(
                    s.c.program_id == program_id, s.c.survey == survey, column.is_not(None)
                )
            ).one()
            if not answers:
                continue
            share = question == "would_recommend"
            results.append(
                SurveyRating.model_validate(
                    {
                        "survey": survey,
                        "question": question,
                        "scale": "share" if share else "1-5",
                        "rating": _share(int(summed), answers, people)
                        if share
                        else _mean(float(summed), answers, people),
                    }
                )
            )
    return results


# Business goals
def _population(kpi: str, metrics: ProgramMetrics) -> int | None:
    """How many people or pairings a rate KPI is taken over; None where compute_metrics applies the floor."""
    f = metrics.funnel
    sizes = {
        "enrolment_rate": f.invited,
        "training_completion": f.opted_in,
        "match_rate": f.trained,
        "checkin_adherence": metrics.pairings_started,
        "completion_rate": metrics.pairings_started,
        "retention": 2 * metrics.pairings_started,
    }
    return sizes.get(kpi)


def _guarded(kpi: str, value: float | None, metrics: ProgramMetrics | None) -> float | None:
    if value is None or metrics is None:
        return value
    size = _population(kpi, metrics)
    return None if size is not None and size < MIN_RESPONDENTS else value


def _status(value: float | None, met: bool | None) -> KpiStatus:
    if value is None or met is None:
        return "too few to report"
    return "met" if met else "not met"


def _latest_snapshot(conn: Connection, program_id: str) -> Any:
    s = t.metric_snapshots.c
    return conn.execute(
        select(t.metric_snapshots).where(s.program_id == program_id).order_by(s.taken_at.desc()).limit(1)
    ).first()


def _metrics_of(row: Any) -> ProgramMetrics | None:
    try:
        return ProgramMetrics.model_validate(row.metrics)
    except ValidationError:  # a snapshot from an older shape of the metrics: show its values unguarded
        return None


def kpi_table(source: Source, program_id: str) -> KpiTable:
    """The close-out evaluation when there is one, else the KPIs of the latest snapshot."""
    with _connected(source) as conn:
        header = program_header(conn, program_id)
        latest = _latest_snapshot(conn, program_id)
        metrics = _metrics_of(latest) if latest is not None else None
        k = t.kpi_results.c
        evaluated = {r.kpi: r for r in conn.execute(select(t.kpi_results).where(k.program_id == program_id))}
    if evaluated:
        goals = {g.kpi: g.goal for g in header.goals}
        order = {g.kpi: i for i, g in enumerate(header.goals)}
        rows = []
        for kpi in sorted(evaluated, key=lambda name: (order.get(name, len(order)), name)):
            r = evaluated[kpi]
            value = _guarded(kpi, r.value, metrics)
            status = _status(value, r.met)
            rows.append(KpiRow(goal=goals.get(kpi, kpi), kpi=kpi, target=r.target, value=value, status=status))
        return KpiTable(source="close-out evaluation", rows=rows)
    if latest is None:
        return KpiTable(source="none yet", rows=[])
    rows = []
    for raw in latest.kpis:
        result = KpiResult.model_validate(raw)
        value = _guarded(result.kpi.value, result.value, metrics)
        rows.append(
            KpiRow(
                goal=result.goal,
                kpi=result.kpi.value,
                target=result.target,
                value=value,
                status=_status(value, result.met),
            )
        )
    return KpiTable(source=f"snapshot {latest.label}", rows=rows)


def snapshots(source: Source, program_id: str) -> list[SnapshotRow]:
    """The metric snapshots in the order they were taken (cycle-1, ..., mid-point, ..., close-out)."""
    s = t.metric_snapshots.c
    with _connected(source) as conn:
        rows = conn.execute(
            select(t.metric_snapshots).where(s.program_id == program_id).order_by(s.taken_at, s.label)
        ).all()
    result = []
    for row in rows:
        metrics = _metrics_of(row)
        rates = {
            name: _guarded(name, getattr(row, name), metrics)
            for name in ("enrolment_rate", "training_completion", "match_rate", "checkin_adherence")
        }
        result.append(
            SnapshotRow(
                label=row.label,
                taken_at=_utc(row.taken_at),
                invited=row.invited,
                opted_in=row.opted_in,
                trained=row.trained,
                matched=row.matched,
                withdrawn=row.withdrawn,
                pairings_running=row.pairings_running,
                pairings_at_risk=row.pairings_at_risk,
                checkin_cycles=metrics.checkin_cycles if metrics else 0,
                average_progress=row.average_progress,  # compute_metrics applies the floor to averages
                satisfaction=row.satisfaction,
                **rates,
            )
        )
    return result


# Alerts
def alert_counts(source: Source, program_id: str) -> list[AlertCount]:
    a = t.alerts.c
    query = select(a.reason, func.count()).where(a.program_id == program_id).group_by(a.reason).order_by(a.reason)
    with _connected(source) as conn:
        return [AlertCount(reason=reason, count=count) for reason, count in conn.execute(query)]


# Evaluation
def evaluation_inputs(source: Source, program_id: str) -> EvaluationInputs:
    """Close-out before/after ratings by side; someone who answered twice counts with their latest answer."""
    r = t.skill_ratings.c
    query = (
        select(r.participant, r.side, r.skill, r.before, r.after)
        .where(r.program_id == program_id, r.side.in_(["mentee", "mentor"]))
        .order_by(r.event_id)
    )
    latest: dict[tuple[str, str, str], tuple[int, int]] = {}
    with _connected(source) as conn:
        for row in conn.execute(query):
            latest[(row.side, row.participant, row.skill)] = (row.before, row.after)  # later rows win
    aliases: dict[tuple[str, str], str] = {}
    by_side: dict[str, list[PairedRating]] = defaultdict(list)
    for (side, person, skill), (before, after) in latest.items():
        if (side, person) not in aliases:
            aliases[(side, person)] = f"{side}-{sum(1 for s, _ in aliases if s == side) + 1}"
        by_side[side].append(PairedRating(person=aliases[(side, person)], skill=skill, before=before, after=after))
    return EvaluationInputs(mentees=by_side["mentee"], mentors=by_side["mentor"])


def program_report(source: Source, program_id: str) -> ProgramReport:
    """Everything the coordinator's report shows, read over one connection."""
    with _connected(source) as conn:
        header = program_header(conn, program_id)
        return ProgramReport(
            header=header,
            summary=program_summary(conn, program_id),
            funnel=funnel(conn, program_id),
            adherence=adherence_by_cycle(conn, program_id),
            progress=progress_by_cycle(conn, program_id),
            surveys=survey_ratings(conn, program_id),
            kpis=kpi_table(conn, program_id),
            snapshots=snapshots(conn, program_id),
            alerts=alert_counts(conn, program_id),
            evaluation=evaluation_inputs(conn, program_id),
        )
