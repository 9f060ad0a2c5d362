"""Two programs' records, written as their workflows would write them, with figures a person can check by hand.

`program-report-test` (completed): 14 invited, 13 opted in, 12 trained, 6 pairings, one mentor withdraws after
cycle 2, five pairings complete. Check-in cycles closed, and met:

    cycle 1: 6 pairings, 6 met      cycle 3: 5 pairings, 3 met
    cycle 2: 6 pairings, 5 met      cycle 4: 2 pairings, 1 met (too few to report)

Progress ratings: cycle 1, 12 people, mentors 3 and mentees 4 (3.5); cycle 2, 10 people (41 / 10 = 4.1);
cycle 3, 7 people (26 / 7 = 3.71); cycle 4, 2 people (too few). Surveys: pulse 4, 5, 4, 1 from four mentors (3.5);
mid-point satisfaction 4 and 5 from ten people (4.5), usefulness 4 (4.0); close-out satisfaction 42 / 10 = 4.2,
8 of 10 would recommend. Close-out skill ratings: five mentees (enough for the paired test), four mentors (not).

`program-tiny` (mentoring): two pairings, so every share and average is over a group of two.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from adapters.store.sql import SqlEventStore
from domain import events as ev
from domain.evaluation import PairedRating
from domain.metrics import FunnelCounts, KpiResult, PairingOutcome, ProgramMetrics, evaluate_goals
from domain.spec import BusinessGoal

CHARTS = ["funnel", "adherence", "ratings", "kpis"]  # the report's charts
MAIN = "program-report-test"
TINY = "program-tiny"
COMMENT = "confided-comment-5e1d"  # kept by the spec, never shown in a report
NAME = 'Digital Fluency <Spring> & "Co"'
PURPOSE = "Newer colleagues teach senior leaders <script>alert(1)</script> their tools."
GOALS = [
    ev.GoalTarget(goal="Pairs keep meeting", kpi="checkin_adherence", target=0.7),
    ev.GoalTarget(goal="Senior leaders gain digital skills", kpi="skill_gain", target=1.0),
    ev.GoalTarget(goal="Participants would do it again", kpi="satisfaction", target=4.0),
    ev.GoalTarget(goal="Pairs finish together", kpi="completion_rate", target=0.9),
]
WEEK = 7 * 24 * 3600

# Mentee skill ratings at close-out: (skill, before, after); per-person changes 2, 1, 0.5, 2, 0.
MENTEE_SKILLS = {
    1: [("sql", 2, 4), ("dashboards", 1, 3)],
    2: [("sql", 3, 4)],
    3: [("ai tools", 2, 3), ("prompt writing", 2, 2)],
    4: [("short video", 1, 3)],
    5: [("automation", 3, 3)],
}
MENTOR_SKILLS = {
    1: [("public speaking", 2, 3)],
    2: [("strategy", 3, 4)],
    3: [("coaching", 2, 2)],
    4: [("budgets", 1, 3)],
}


def mentor(i: int) -> str:
    return f"mentor{i}@example.com"


def mentee(i: int) -> str:
    return f"mentee{i}@example.com"


def pairing(i: int, program: str = MAIN) -> str:
    return f"pairing-{program.removeprefix('program-')}-mentor{i}-mentee{i}"


def expected_mentee_ratings() -> list[PairedRating]:
    return [
        PairedRating(person=f"mentee-{i}", skill=skill, before=before, after=after)
        for i, skills in MENTEE_SKILLS.items()
        for skill, before, after in skills
    ]


class Record:
    """One program's events: a sequence number per workflow, a clock a minute on per event."""

    def __init__(self, program_id: str, start: datetime) -> None:
        self.program_id = program_id
        self.clock = start
        self.seq: defaultdict[str, int] = defaultdict(int)
        self.events: list[ev.DomainEvent] = []

    def add(self, fact: ev.Fact, pairing_id: str | None = None, person: str | None = None) -> None:
        workflow_id = pairing_id or self.program_id
        self.seq[workflow_id] += 1
        self.clock += timedelta(minutes=1)
        self.events.append(
            ev.DomainEvent(
                workflow_id=workflow_id,
                seq=self.seq[workflow_id],
                at=self.clock,
                program_id=self.program_id,
                pairing_id=pairing_id,
                participant=person,
                fact=fact,
            )
        )

    def start(self, name: str, purpose: str, goals: list[ev.GoalTarget]) -> None:
        started = ev.ProgramStarted(
            name=name,
            purpose=purpose,
            matching_mode="algorithm",
            goals=goals,
            checkin_cadence_seconds=WEEK,
            program_length_seconds=8 * WEEK,
        )
        self.add(started)

    def invite(self, email: str, role: str) -> None:
        self.add(ev.Invited(name=f"Person {email}", role=role, seniority=1, department="sales"), person=email)

    def match(self, i: int) -> None:
        fact = ev.Matched(pairing=pairing(i, self.program_id), mentor=mentor(i), mentee=mentee(i), score=0.8)
        self.add(fact)
        for email in (mentor(i), mentee(i)):
            self.add(ev.Accepted(), pairing(i, self.program_id), email)
        plan = ev.PlanAgreed(by_default=False, goals=2, skills=["sql"], cadence_seconds=WEEK)
        self.add(plan, pairing(i, self.program_id), mentee(i))

    def checkin(self, i: int, cycle: int, person: str, progress: int, met: bool = True) -> None:
        fact = ev.CheckinLogged(cycle=cycle, met=met, progress=progress, recap_written=True)
        self.add(fact, pairing(i, self.program_id), person)

    def close_cycle(self, i: int, cycle: int, met: bool, streak: int = 0) -> None:
        self.add(ev.CycleClosed(cycle=cycle, met=met, missed_streak=streak), pairing(i, self.program_id))

    def survey(self, i: int, person: str, fact: ev.SurveyAnswered) -> None:
        self.add(fact, pairing(i, self.program_id), person)

    def snapshot(self, label: str, metrics: ProgramMetrics, goals: list[ev.GoalTarget]) -> list[KpiResult]:
        kpis = evaluate_goals([BusinessGoal.model_validate(g.model_dump()) for g in goals], metrics)
        self.add(ev.MetricsSnapshot(label=label, metrics=metrics, kpis=kpis))
        return kpis


def metrics(**values: object) -> ProgramMetrics:
    base: dict[str, object] = {
        "funnel": FunnelCounts(invited=14, opted_in=13, trained=12, excluded=1, matched=12),
        "pairings_started": 6,
        "pairings_running": 6,
        "pairings_completed": 0,
        "pairings_at_risk": 0,
        "checkin_cycles": 0,
        "checkins_met": 0,
        "enrolment_rate": 0.929,
        "training_completion": 0.923,
        "match_rate": 1.0,
        "checkin_adherence": None,
        "completion_rate": None,
        "retention": 1.0,
        "average_progress": None,
        "satisfaction": None,
        "skill_gain": None,
    }
    return ProgramMetrics.model_validate(base | values)


def _recruit_and_match(r: Record, pairs: int, extra_mentee: bool) -> None:
    for i in range(1, pairs + 2):
        r.invite(mentor(i), "mentor")
    for i in range(1, pairs + 1 + int(extra_mentee)):
        r.invite(mentee(i), "mentee")
    for i in range(1, pairs + 2):
        r.add(ev.OptedIn(), person=mentor(i))
    for i in range(1, pairs + 1):  # with extra_mentee, the last mentee never opts in
        r.add(ev.OptedIn(), person=mentee(i))
    r.add(ev.PhaseChanged(phase="training"))
    for email in [*(mentor(i) for i in range(1, pairs + 1)), *(mentee(i) for i in range(1, pairs + 1))]:
        r.add(ev.TrainingCompleted(modules=["reverse-mentoring-101"]), person=email)
    r.add(ev.Excluded(reason="training not finished"), person=mentor(pairs + 1))
    r.add(ev.PhaseChanged(phase="matching"))
    for i in range(1, pairs + 1):
        r.match(i)
    r.add(ev.Approved(pairs=pairs, edited=False))
    r.add(ev.PhaseChanged(phase="mentoring"))


def _mentoring(r: Record) -> None:
    r.snapshot("cycle-1", metrics(), GOALS)
    for i in range(1, 7):  # cycle 1: everyone, mentors 3 and mentees 4
        r.checkin(i, 1, mentor(i), 3)
        r.checkin(i, 1, mentee(i), 4)
        r.close_cycle(i, 1, met=True)
    for i, value in zip(range(1, 5), [4, 5, 4, 1], strict=True):  # private pulses from four mentors
        r.survey(i, mentor(i), ev.SurveyAnswered(survey="pulse", cycle=1, ratings={"safe_and_useful": value}))
    r.add(ev.AlertRaised(reason="pulse", cycle=1), pairing(4))
    for i in (1, 2, 3, 4, 6):  # cycle 2: pairing 5 does not meet
        r.checkin(i, 2, mentor(i), 4 if i != 6 else 2)
        r.checkin(i, 2, mentee(i), 5 if i != 6 else 3)
    for i in range(1, 7):
        r.close_cycle(i, 2, met=i != 5, streak=int(i == 5))
    for i in range(1, 6):
        for person, satisfaction in ((mentor(i), 4), (mentee(i), 5)):
            ratings = {"satisfaction": satisfaction, "usefulness": 4}
            r.survey(i, person, ev.SurveyAnswered(survey="midpoint", ratings=ratings))
    r.add(ev.FlaggedAtRisk(), pairing(5))
    r.add(ev.AlertRaised(reason="at-risk"), pairing(5))
    r.add(ev.PhaseChanged(phase="midpoint_review"))
    midpoint = dict(checkin_cycles=12, checkins_met=11, checkin_adherence=0.917, average_progress=3.77)
    r.snapshot("mid-point", metrics(**midpoint), GOALS)
    r.add(ev.PhaseChanged(phase="mentoring"))
    r.add(ev.Withdrawn(phase="mentoring"), person=mentor(6))
    outcome = ev.PairingClosed(outcome=PairingOutcome.WITHDRAWN, ended_by=[mentor(6)], cycles_run=2, cycles_met=2)
    r.add(outcome, pairing(6))
    for i in (1, 2, 3):  # cycle 3: pairings 4 and 5 do not meet; pairing 4's mentee says so
        r.checkin(i, 3, mentor(i), 4)
        r.checkin(i, 3, mentee(i), 4)
    r.checkin(4, 3, mentee(4), 2, met=False)
    for i in range(1, 6):
        r.close_cycle(i, 3, met=i <= 3, streak={4: 1, 5: 2}.get(i, 0))
    r.add(ev.AlertRaised(reason="missed", cycle=3), pairing(5))
    r.checkin(1, 4, mentor(1), 5)  # cycle 4: only pairings 1 and 2 run a fourth cycle
    r.checkin(1, 4, mentee(1), 5)
    r.close_cycle(1, 4, met=True)
    r.close_cycle(2, 4, met=False, streak=1)


def _close_out(r: Record) -> None:
    r.add(ev.PhaseChanged(phase="close_out"))
    satisfaction = {mentor(i): s for i, s in zip(range(1, 6), [5, 4, 4, 3, 5], strict=True)}
    satisfaction |= {mentee(i): s for i, s in zip(range(1, 6), [5, 5, 4, 4, 3], strict=True)}
    for i in range(1, 6):
        for person, skills in ((mentor(i), MENTOR_SKILLS.get(i, [])), (mentee(i), MENTEE_SKILLS[i])):
            answer = ev.SurveyAnswered(
                survey="closeout",
                ratings={"satisfaction": satisfaction[person]},
                would_recommend=person not in (mentor(4), mentee(5)),
                skills=[ev.SkillChange(skill=s, before=b, after=a) for s, b, a in skills],
                comment=COMMENT if person == mentee(2) else None,
            )
            r.survey(i, person, answer)
        closed = ev.PairingClosed(outcome=PairingOutcome.COMPLETED, ended_by=[], cycles_run=3, cycles_met=3)
        r.add(closed, pairing(i))
    final = metrics(
        funnel=FunnelCounts(invited=14, opted_in=13, trained=12, excluded=1, matched=12, withdrawn=1),
        pairings_running=0,
        pairings_completed=5,
        pairings_at_risk=1,
        checkin_cycles=19,
        checkins_met=15,
        checkin_adherence=0.789,
        completion_rate=0.833,
        retention=0.917,
        average_progress=3.77,
        satisfaction=4.2,
        skill_gain=1.14,
    )
    for kpi in r.snapshot("close-out", final, GOALS):
        r.add(ev.KpiEvaluated(kpi=kpi.kpi.value, value=kpi.value, target=kpi.target, met=kpi.met))
    for i in range(1, 6):
        for email in (mentor(i), mentee(i)):
            r.add(ev.Recognised(pairing=pairing(i)), person=email)
    r.add(ev.ProgramClosed(outcome="3 of 4 business goals met"))
    r.add(ev.PhaseChanged(phase="completed"))


def main_program() -> list[ev.DomainEvent]:
    r = Record(MAIN, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    r.start(NAME, PURPOSE, GOALS)
    _recruit_and_match(r, pairs=6, extra_mentee=True)
    _mentoring(r)
    _close_out(r)
    return r.events


def tiny_program() -> list[ev.DomainEvent]:
    """Two pairings: one met in cycle 1, one did not; one pair checked in and answered the mid-point survey."""
    r = Record(TINY, datetime(2026, 4, 6, 9, 0, tzinfo=UTC))
    goals = [GOALS[0], GOALS[2]]
    r.start("Tiny pilot", "Two pairs try it first.", goals)
    _recruit_and_match(r, pairs=2, extra_mentee=False)
    r.checkin(1, 1, mentor(1), 5)
    r.checkin(1, 1, mentee(1), 4)
    r.close_cycle(1, 1, met=True)
    r.close_cycle(2, 1, met=False, streak=1)
    for person, value in ((mentor(1), 5), (mentee(1), 4)):
        r.survey(1, person, ev.SurveyAnswered(survey="midpoint", ratings={"satisfaction": value, "usefulness": 5}))
    tiny = metrics(
        funnel=FunnelCounts(invited=5, opted_in=5, trained=4, excluded=1, matched=4),
        pairings_started=2,
        pairings_running=2,
        checkin_cycles=2,
        checkins_met=1,
        checkin_adherence=0.5,  # compute_metrics puts no floor under a share; the report must
        enrolment_rate=1.0,
        training_completion=0.8,
    )
    r.snapshot("mid-point", tiny, goals)
    return r.events


def build_record(url: str) -> SqlEventStore:
    store = SqlEventStore(url)
    store.append(main_program())
    store.append(tiny_program())
    return store
