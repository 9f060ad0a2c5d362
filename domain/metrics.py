"""Program metrics and the evaluation of business goals against their KPIs.

Coordinators see aggregates only, and only over groups of at least MIN_RESPONDENTS people, so no figure can
be traced back to one pair.
"""

from enum import StrEnum
from statistics import fmean

from pydantic import BaseModel

from domain.spec import BusinessGoal, Kpi

MIN_RESPONDENTS = 3


class PairingOutcome(StrEnum):
    COMPLETED = "completed"
    DECLINED = "declined"
    UNANSWERED = "unanswered"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class PairingSummary(BaseModel):
    """What a pairing reports to its program: counts and ratings, nothing a pair wrote in words."""

    pairing_id: str
    mentor: str
    mentee: str
    outcome: PairingOutcome | None = None  # None while it runs
    ended_by: list[str] = []  # who declined, withdrew or did not answer
    cycles_run: int = 0
    cycles_met: int = 0
    progress_ratings: list[int] = []
    at_risk: bool = False
    satisfaction: list[int] = []
    mentee_skill_gains: list[int] = []
    mentor_skill_gains: list[int] = []
    closeout_answered_by: list[str] = []


class FunnelCounts(BaseModel):
    invited: int = 0
    opted_in: int = 0
    trained: int = 0
    excluded: int = 0
    matched: int = 0
    withdrawn: int = 0


class ProgramMetrics(BaseModel):
    funnel: FunnelCounts
    pairings_started: int
    pairings_running: int
    pairings_completed: int
    pairings_at_risk: int
    checkin_cycles: int
    checkins_met: int
    enrolment_rate: float | None
    training_completion: float | None
    match_rate: float | None
    checkin_adherence: float | None
    completion_rate: float | None
    retention: float | None
    average_progress: float | None
    satisfaction: float | None
    skill_gain: float | None
    pairings_unread: int = 0  # running pairings a snapshot could not read (gone, unreachable): not counted above

    def kpi(self, kpi: Kpi) -> float | None:
        value: float | None = getattr(self, kpi.value)
        return value


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _mean_of_enough(values: list[int], respondents: int) -> float | None:
    return round(fmean(values), 2) if values and respondents >= MIN_RESPONDENTS else None


def compute_metrics(funnel: FunnelCounts, pairings: list[PairingSummary]) -> ProgramMetrics:
    started = [p for p in pairings if p.outcome not in (PairingOutcome.DECLINED, PairingOutcome.UNANSWERED)]
    completed = [p for p in started if p.outcome == PairingOutcome.COMPLETED]
    progress = [r for p in pairings for r in p.progress_ratings]
    satisfaction = [s for p in pairings for s in p.satisfaction]
    gains = [g for p in pairings for g in p.mentee_skill_gains]
    matched_people = 2 * len(started)
    withdrawn_people = sum(1 for p in started if p.outcome == PairingOutcome.WITHDRAWN)
    cycles = sum(p.cycles_run for p in pairings)
    met = sum(p.cycles_met for p in pairings)
    return ProgramMetrics(
        funnel=funnel,
        pairings_started=len(started),
        pairings_running=sum(1 for p in started if p.outcome is None),
        pairings_completed=len(completed),
        pairings_at_risk=sum(1 for p in started if p.at_risk),
        checkin_cycles=cycles,
        checkins_met=met,
        enrolment_rate=_share(funnel.opted_in, funnel.invited),
        training_completion=_share(funnel.trained, funnel.opted_in),
        match_rate=_share(funnel.matched, funnel.trained),
        checkin_adherence=_share(met, cycles),
        completion_rate=_share(len(completed), len(started)),
        retention=_share(matched_people - withdrawn_people, matched_people),
        average_progress=_mean_of_enough(progress, sum(1 for p in pairings if p.progress_ratings)),
        satisfaction=_mean_of_enough(satisfaction, len(satisfaction)),
        skill_gain=_mean_of_enough(gains, sum(1 for p in pairings if p.mentee_skill_gains)),
    )


class KpiResult(BaseModel):
    goal: str
    kpi: Kpi
    target: float
    value: float | None  # None: too few answers to report
    met: bool | None


def evaluate_goals(goals: list[BusinessGoal], metrics: ProgramMetrics) -> list[KpiResult]:
    results = []
    for goal in goals:
        value = metrics.kpi(goal.kpi)
        results.append(
            KpiResult(
                goal=goal.goal,
                kpi=goal.kpi,
                target=goal.target,
                value=value,
                met=None if value is None else value >= goal.target,
            )
        )
    return results


def overall_outcome(results: list[KpiResult]) -> str:
    met = sum(1 for r in results if r.met)
    unknown = sum(1 for r in results if r.met is None)
    if met == len(results):
        return "all business goals met"
    if met == 0 and unknown == 0:
        return "no business goal met"
    parts = [f"{met} of {len(results)} business goals met"]
    if unknown:
        parts.append(f"{unknown} without enough data to judge")
    return ", ".join(parts)


def describe_kpi(result: KpiResult) -> str:
    value = "too few to report" if result.value is None else f"{result.value:g}"
    verdict = {True: "met", False: "not met", None: "not judged"}[result.met]
    return f"{result.goal}: {result.kpi} = {value} (target {result.target:g}) - {verdict}"
