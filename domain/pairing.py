"""One mentor and one mentee: the rules of a pairing from introduction to close-out.

The workflow calls `check_*` from update validators (refusing with a readable Refusal before anything
reaches the history) and `apply_*` from the handlers. Both are pure.
"""

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel

from domain.answers import (
    MAX_SHORT,
    CheckIn,
    CloseoutAnswers,
    MatchAnswer,
    MidpointAnswers,
    Plan,
    PlanAgreement,
    PlanProposal,
    Pulse,
    Refusal,
    Withdrawal,
    check_items,
    check_rating,
    check_text,
    listed,
    require,
    shown,
)
from domain.core import WorkflowCore
from domain.durations import Duration, cadence_choices, format_duration
from domain.metrics import PairingOutcome, PairingSummary
from domain.notices import Meeting, cancellation
from domain.pair_record import CheckInEntry, PairRecord
from domain.people import Participant, named, quoted
from domain.prompts import Partner, Prompt, PromptContext, PromptKind

MENTOR_SKILLS = ["leadership", "giving feedback"]  # what a reverse mentor rates before/after at close-out


class PairingStage(StrEnum):
    INTRODUCTION = "introduction"
    PLANNING = "planning"
    MENTORING = "mentoring"
    MIDPOINT_REVIEW = "midpoint_review"
    CLOSE_OUT = "close_out"
    ENDED = "ended"


class PairingTerms(BaseModel):
    """What the program hands each pairing: its rules and clock, copied so the pairing runs on its own."""

    program_id: str
    coordinators: list[str]
    ground_rules: list[str]
    answer_window: Duration
    nudge_before: Duration
    default_cadence: Duration
    cadence_min: Duration
    cadence_max: Duration
    missed_alert_after: int
    low_answer: int
    mentoring_length: Duration  # active time from the start of check-ins to close-out
    midpoint_after: Duration
    match_score: float = 0.0
    match_reasons: list[str] = []
    keep_survey_comments: bool = False


class PairingState(WorkflowCore):
    stage: PairingStage = PairingStage.INTRODUCTION
    accepted: list[str] = []
    declined_by: str | None = None
    plan: Plan | None = None
    plan_agreed_by: list[str] = []
    plan_by_default: bool = False
    mentoring_started: timedelta | None = None  # active offset when check-ins began
    stage_due: timedelta = timedelta(0)  # deadline of the introduction or the plan
    cycle: int = 0
    cycle_due: timedelta = timedelta(0)
    checkins: list[CheckInEntry] = []
    missed_streak: int = 0
    midpoint_opened: bool = False
    midpoint_answered: list[str] = []
    closeout_answered: list[str] = []
    summary: PairingSummary
    withdrawn_by: str | None = None
    cancel_reason: str | None = None
    start_paused: bool = False  # a pause that reached the pairing before its clock first started
    low_pulse_streak: bool = False  # the latest pulse was low, and the coordinators were told when it began
    low_progress_streak: int = 0  # cycles in a row where the pair met and both rated their progress low
    meeting: Meeting | None = None  # the latest calendar invitation sent to the pair


class PairingInput(BaseModel):
    pairing_id: str
    mentor: Participant
    mentee: Participant
    terms: PairingTerms
    state: PairingState | None = None  # set when continuing as new


class PairingView(BaseModel):
    """What anyone may read about a pairing: its stage and counts, never its words or the mentor's pulse."""

    pairing_id: str
    program_id: str
    mentor: str
    mentee: str
    stage: PairingStage
    paused: bool
    cycle: int
    cycles_met: int
    plan_agreed: bool
    at_risk: bool
    outcome: PairingOutcome | None


class Pairing:
    """The rules, over one pairing's input and state."""

    def __init__(self, inp: PairingInput, state: PairingState) -> None:
        self.inp = inp
        self.state = state

    @property
    def people(self) -> tuple[str, str]:
        return self.inp.mentor.email, self.inp.mentee.email

    def partner_of(self, email: str) -> Participant:
        return self.inp.mentee if email == self.inp.mentor.email else self.inp.mentor

    def person(self, email: str) -> Participant:
        return self.inp.mentor if email == self.inp.mentor.email else self.inp.mentee

    def require_member(self, email: str) -> None:
        require(email in self.people, f"{named(email)} is not part of this pairing")

    def require_running(self) -> None:
        require(self.state.stage != PairingStage.ENDED, "this pairing has ended")

    def check_withdrawal(self, withdrawal: Withdrawal) -> None:
        self.require_member(withdrawal.participant)
        require(self.state.summary.outcome is None, "this pairing has already ended")
        check_text(withdrawal.reason, "the reason", field="reason")

    # Ending
    @property
    def ended(self) -> bool:
        return self.state.summary.outcome is not None

    def end(self, outcome: PairingOutcome, ended_by: list[str]) -> None:
        """Decide how the pairing ends; its workflow then closes it and reports to the program."""
        self.state.summary.outcome = outcome
        self.state.summary.ended_by = ended_by

    def apply_withdrawal(self, withdrawal: Withdrawal) -> Participant:
        """One side steps back: the pairing ends, nothing written is lost. Returns the partner, who is told."""
        self.state.prompts.close_all()
        self.end(PairingOutcome.WITHDRAWN, [withdrawal.participant])
        return self.partner_of(withdrawal.participant)

    def apply_end(self, reason: str) -> None:
        """The program ends the pairing (a coordinator's rematch or cancel, or the program's close)."""
        self.state.prompts.close_all()
        self.state.cancel_reason = reason
        self.end(PairingOutcome.CANCELLED, [])

    # Introduction
    def check_match_answer(self, answer: MatchAnswer) -> None:
        self.require_member(answer.participant)
        self.state.prompts.require_pending(answer.participant, "accept-match", "match to accept or decline")
        check_text(answer.reason, "the reason", field="reason")

    def apply_match_answer(self, answer: MatchAnswer) -> None:
        self.state.prompts.close(answer.participant, "accept-match")
        if answer.accept:
            self.state.accepted.append(answer.participant)
        else:
            self.state.declined_by = answer.participant

    @property
    def introduction_answered(self) -> bool:
        return self.state.declined_by is not None or set(self.state.accepted) == set(self.people)

    def apply_decline(self) -> Participant:
        """End a pairing one side declined; returns the partner, who is told it will not go ahead."""
        assert self.state.declined_by is not None
        self.end(PairingOutcome.DECLINED, [self.state.declined_by])
        return self.partner_of(self.state.declined_by)

    def apply_unanswered(self) -> list[str]:
        """The introduction's time ran out with someone silent: the pairing ends; returns who was silent."""
        silent = [e for e in self.people if e not in self.state.accepted]
        if silent:
            self.state.prompts.close_all()
            self.end(PairingOutcome.UNANSWERED, silent)
        return silent

    # Plan
    def check_plan(self, plan: PlanProposal) -> None:
        self.require_member(plan.participant)
        if self.state.prompts.get(plan.participant, "agree-plan") is None:
            self.state.prompts.require_pending(plan.participant, "plan", "mentoring plan")
        goals = [g for g in plan.goals if g.strip()]
        require(bool(goals), "the plan needs at least one goal", "goals")
        require(bool([s for s in plan.skills if s.strip()]), "the plan needs at least one skill to work on", "skills")
        require(bool(plan.channel.strip()), "say how you will meet (for example video, in person or chat)", "channel")
        check_items(plan.goals, "goals", field="goals")
        check_items(plan.skills, "skills", field="skills")
        skills = [s.strip().lower() for s in plan.skills if s.strip()]
        require(len(set(skills)) == len(skills), "name each skill once", "skills")
        check_text(plan.channel, "how you will meet", MAX_SHORT, "channel")
        require(
            plan.accept_ground_rules, "both of you must accept the ground rules to agree a plan", "accept_ground_rules"
        )
        if plan.meeting_every is not None:
            low, high = self.inp.terms.cadence_min, self.inp.terms.cadence_max
            require(
                low <= plan.meeting_every <= high,
                f"meet every {format_duration(low)} to {format_duration(high)}, "
                f"not every {format_duration(plan.meeting_every)}",
                "meeting_every",
            )

    def apply_plan(self, proposal: PlanProposal) -> str:
        """Record a proposal; the other person is then asked to agree. Returns who must agree next."""
        self.state.plan = Plan(
            goals=[g.strip() for g in proposal.goals if g.strip()],
            skills=[s.strip().lower() for s in proposal.skills if s.strip()],
            meeting_every=proposal.meeting_every or self.inp.terms.default_cadence,
            channel=proposal.channel.strip(),
            proposed_by=proposal.participant,
        )
        self.state.plan_agreed_by = [proposal.participant]
        for email in self.people:
            self.state.prompts.close(email, "plan")
            self.state.prompts.close(email, "agree-plan")
        return self.partner_of(proposal.participant).email

    def check_plan_agreement(self, agreement: PlanAgreement) -> None:
        self.require_member(agreement.participant)
        self.state.prompts.require_pending(agreement.participant, "agree-plan", "plan to agree")
        require(agreement.accept_ground_rules, "accept the ground rules to agree the plan", "accept_ground_rules")

    def apply_plan_agreement(self, agreement: PlanAgreement) -> None:
        self.state.prompts.close(agreement.participant, "agree-plan")
        self.state.plan_agreed_by.append(agreement.participant)

    def apply_default_plan(self) -> None:
        """No plan agreed in time: check-ins start on the program's default (the skills the two share, or the
        first the mentee wants), and the coordinators are told."""
        self.state.prompts.close_all()
        mentor, mentee = self.inp.mentor, self.inp.mentee
        skills = sorted(set(mentor.skills_offered) & set(mentee.skills_wanted)) or mentee.skills_wanted[:2]
        self.state.plan = self.state.plan or Plan(
            goals=["Learn from each other"],
            skills=skills or ["digital practice"],
            meeting_every=self.inp.terms.default_cadence,
            channel="to be agreed",
            proposed_by="program",
        )
        self.state.plan_by_default = True

    @property
    def plan_agreed(self) -> bool:
        return self.state.plan is not None and set(self.state.plan_agreed_by) == set(self.people)

    # Check-ins
    def check_checkin(self, checkin: CheckIn) -> None:
        self.require_member(checkin.participant)
        self._require_cycle_prompt(checkin.participant, checkin.cycle, "check-in")
        check_rating(checkin.progress, "the progress rating", "progress")
        check_text(checkin.recap, "the recap", field="recap")

    def apply_checkin(self, checkin: CheckIn) -> None:
        self.state.prompts.close(checkin.participant, f"check-in-{checkin.cycle}")
        self.state.checkins.append(
            CheckInEntry(
                cycle=checkin.cycle,
                participant=checkin.participant,
                met=checkin.met,
                progress=checkin.progress,
                recap=checkin.recap,
            )
        )
        self.state.summary.progress_ratings.append(checkin.progress)

    def _require_cycle_prompt(self, email: str, cycle: int, what: str) -> None:
        if self.state.prompts.get(email, f"{what}-{cycle}") is None:
            now_open = f"the open one is cycle {self.state.cycle}" if self.state.cycle else "none is open yet"
            raise Refusal(f"{what} {shown(cycle)} is not open for {email}; {now_open}")

    def check_pulse(self, pulse: Pulse) -> None:
        self.require_member(pulse.participant)
        require(pulse.participant == self.inp.mentor.email, "only the mentor is asked this question")
        self._require_cycle_prompt(pulse.participant, pulse.cycle, "pulse")
        check_rating(pulse.safe_and_useful, "the answer", "safe_and_useful")
        check_text(pulse.comment, "the comment", field="comment")

    def apply_pulse(self, pulse: Pulse, once_per_streak: bool = True) -> bool:
        """Close the pulse prompt; True when the coordinators must hear of it: a low answer that starts a streak
        of low answers (a good one ends it). `once_per_streak` False: every low answer, as pairings did before."""
        self.state.prompts.close(pulse.participant, f"pulse-{pulse.cycle}")
        low = pulse.safe_and_useful <= self.inp.terms.low_answer
        if not once_per_streak:
            return low
        starts_a_streak = low and not self.state.low_pulse_streak
        self.state.low_pulse_streak = low
        return starts_a_streak

    def close_cycle(self) -> tuple[bool, bool]:
        """End the current cycle: (met, alert). Alert is True once per streak, when it reaches the limit."""
        cycle = self.state.cycle
        met = any(e.met for e in self.state.checkins if e.cycle == cycle)
        self.state.summary.cycles_run += 1
        if met:
            self.state.summary.cycles_met += 1
            self.state.missed_streak = 0
            return True, False
        self.state.missed_streak += 1
        return False, self.state.missed_streak == self.inp.terms.missed_alert_after

    def apply_progress(self) -> bool:
        """After a cycle closes: True once per streak, when the pair met yet rated their progress low (every rating
        at or below `low_answer`) for `missed_alert_after` cycles in a row; the pairing is then flagged at risk.
        A cycle they did not meet leaves the streak as it is: missed check-ins have their own alert."""
        cycle = self.state.cycle
        met = [e for e in self.state.checkins if e.cycle == cycle and e.met]
        if not met:
            return False
        if any(e.progress > self.inp.terms.low_answer for e in met):
            self.state.low_progress_streak = 0
            return False
        self.state.low_progress_streak += 1
        if self.state.low_progress_streak != self.inp.terms.missed_alert_after:
            return False
        self.state.summary.at_risk = True
        return True

    def series_to_cancel(self) -> Meeting | None:
        """The cancel of the pair's meeting series, when the pairing ended (other than completed) with meetings still
        ahead: from the first check-in, before close-out. None when no invitation was ever sent."""
        sent, outcome = self.state.meeting, self.state.summary.outcome
        ahead = self.state.stage in (PairingStage.MENTORING, PairingStage.MIDPOINT_REVIEW)
        if sent is None or outcome in (None, PairingOutcome.COMPLETED) or not ahead:
            return None
        return cancellation(sent)

    # Surveys
    def check_midpoint(self, answers: MidpointAnswers) -> None:
        self.require_member(answers.participant)
        self.state.prompts.require_pending(answers.participant, "midpoint-survey", "mid-point survey")
        check_rating(answers.satisfaction, "satisfaction", "satisfaction")
        check_rating(answers.usefulness, "usefulness", "usefulness")
        check_text(answers.comment, "the comment", field="comment")

    def apply_midpoint(self, answers: MidpointAnswers) -> bool:
        """Record the answer; True when it is low enough to flag the pairing at risk."""
        self.state.prompts.close(answers.participant, "midpoint-survey")
        self.state.midpoint_answered.append(answers.participant)
        low = min(answers.satisfaction, answers.usefulness) <= self.inp.terms.low_answer
        flagged = low and not self.state.summary.at_risk
        self.state.summary.at_risk = self.state.summary.at_risk or low
        return flagged

    def skills_to_rate(self, email: str) -> list[str]:
        if email == self.inp.mentor.email:
            return MENTOR_SKILLS
        return self.state.plan.skills if self.state.plan else []

    def check_closeout(self, answers: CloseoutAnswers) -> None:
        self.require_member(answers.participant)
        self.state.prompts.require_pending(answers.participant, "closeout-survey", "close-out survey")
        check_rating(answers.satisfaction, "satisfaction", "satisfaction")
        check_text(answers.comment, "the comment", field="comment")
        # Each asked skill exactly once: a repeated one would let a second, unchecked rating into the record.
        asked = self.skills_to_rate(answers.participant)
        names = [r.skill.strip().lower() for r in answers.skill_ratings]
        unknown = [quoted(n) for n in names if n not in asked]
        require(not unknown, f"rate only {', '.join(asked)}; not {listed(unknown, ', ')}", "skill_ratings")
        require(len(set(names)) == len(names), "rate each skill once", "skill_ratings")
        missing = [s for s in asked if s not in names]
        require(not missing, f"rate each skill before and after: missing {', '.join(missing)}", "skill_ratings")
        for i, (skill, rating) in enumerate(zip(names, answers.skill_ratings, strict=True)):
            check_rating(rating.before, f"the 'before' rating of {skill}", f"skill_ratings.{i}.before")
            check_rating(rating.after, f"the 'after' rating of {skill}", f"skill_ratings.{i}.after")

    def apply_closeout(self, answers: CloseoutAnswers) -> None:
        self.state.prompts.close(answers.participant, "closeout-survey")
        self.state.closeout_answered.append(answers.participant)
        summary = self.state.summary
        summary.satisfaction.append(answers.satisfaction)
        gains = [r.after - r.before for r in answers.skill_ratings]
        if answers.participant == self.inp.mentor.email:
            summary.mentor_skill_gains.extend(gains)
        else:
            summary.mentee_skill_gains.extend(gains)
        summary.closeout_answered_by.append(answers.participant)

    # Views
    def view(self) -> PairingView:
        return PairingView(
            pairing_id=self.inp.pairing_id,
            program_id=self.inp.terms.program_id,
            mentor=self.inp.mentor.email,
            mentee=self.inp.mentee.email,
            stage=self.state.stage,
            paused=self.state.clock.paused,
            cycle=self.state.cycle,
            cycles_met=self.state.summary.cycles_met,
            plan_agreed=self.plan_agreed,
            at_risk=self.state.summary.at_risk,
            outcome=self.state.summary.outcome,
        )

    def prompt_context(self, prompt: Prompt) -> PromptContext:
        """What a surface needs to answer one of this pairing's prompts, from the pairing's state now."""
        terms, kind = self.inp.terms, prompt.kind
        if kind in (PromptKind.CHECK_IN, PromptKind.PULSE):  # open only in their own cycle: it is the current one
            return PromptContext(cycle=self.state.cycle)
        if kind == PromptKind.ACCEPT_MATCH:
            return PromptContext(partner=self.partner(prompt.participant))
        if kind == PromptKind.PROPOSE_PLAN:
            cadences = cadence_choices(terms.cadence_min, terms.cadence_max, terms.default_cadence)
            return PromptContext(
                ground_rules=terms.ground_rules, cadences=cadences, default_cadence=terms.default_cadence
            )
        if kind == PromptKind.AGREE_PLAN:
            plan = self.state.plan
            proposer = self.person(plan.proposed_by).name if plan else None
            return PromptContext(ground_rules=terms.ground_rules, plan=plan, proposed_by=proposer)
        if kind == PromptKind.CLOSEOUT_SURVEY:
            return PromptContext(skills_to_rate=self.skills_to_rate(prompt.participant))
        return PromptContext()

    def partner(self, email: str) -> Partner:
        """The partner a match introduces to `email`, with the reasons the two were matched."""
        them = self.partner_of(email)
        return Partner(
            name=them.name, is_mentor=them.email == self.inp.mentor.email, reasons=self.inp.terms.match_reasons
        )

    def record_for(self, email: str) -> PairRecord:
        self.require_member(email)
        return self.pair_record()

    def pair_record(self) -> PairRecord:
        return PairRecord(plan=self.state.plan, checkins=list(self.state.checkins))


def new_pairing_state(inp: PairingInput) -> PairingState:
    summary = PairingSummary(pairing_id=inp.pairing_id, mentor=inp.mentor.email, mentee=inp.mentee.email)
    return PairingState(summary=summary)


PROMPT_UPDATES = {
    PromptKind.ACCEPT_MATCH: "answer_match",
    PromptKind.PROPOSE_PLAN: "propose_plan",
    PromptKind.AGREE_PLAN: "agree_plan",
    PromptKind.CHECK_IN: "log_checkin",
    PromptKind.PULSE: "answer_pulse",
    PromptKind.MIDPOINT_SURVEY: "answer_midpoint_survey",
    PromptKind.CLOSEOUT_SURVEY: "answer_closeout_survey",
}
