"""PairingWorkflow: one mentor and one mentee, from introduction to close-out.

Stages run in order (introduction, planning, mentoring with a mid-point review, close-out); a withdrawal, a
decline, silence past a deadline or an end requested by the program stops it early, and the pairing always
reports its summary back to the program.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import notices, questions, replies
    from domain.answers import (
        CheckIn,
        CloseoutAnswers,
        MatchAnswer,
        MidpointAnswers,
        PlanAgreement,
        PlanProposal,
        Pulse,
        Withdrawal,
        read_answer,
    )
    from domain.events import (
        Accepted,
        AlertRaised,
        CheckinLogged,
        CycleClosed,
        Declined,
        FlaggedAtRisk,
        PairingClosed,
        PairRecordShown,
        PlanAgreed,
        SkillChange,
        SurveyAnswered,
    )
    from domain.metrics import PairingOutcome, PairingSummary
    from domain.notices import Meeting, NoticeKind, Words, meetings_cancelled
    from domain.pair_record import PairRecord
    from domain.pairing import Pairing, PairingInput, PairingStage, PairingView, new_pairing_state
    from domain.prompts import PendingPrompt, Prompt, PromptContext, PromptKind
    from domain.scheduling import meeting_start
    from domain.summaries import stage_words
    from workflows import search
    from workflows.base import PromptingWorkflow, refusals
    from workflows.zones import workday


MEETING_LENGTH = timedelta(minutes=45)
CYCLE_CLOSE_SENDS_AT_ONCE = "cycle-close-sends-notices-and-events-at-once"
HISTORY_BOUND = "continue-as-new-past-history-bound"
EARLY_PAUSE_HOLDS = "pause-before-the-clock-starts-holds"
PULSE_ALERT_PER_STREAK = "low-pulse-alerts-once-per-streak"
LOW_PROGRESS_ALERTS = "low-progress-streak-flags-at-risk"
RECORD_SHOWN = "pair-record-shown-in-the-record"
CANCEL_SERIES_AT_EARLY_END = "early-end-cancels-the-meeting-series"
# A run hands over to a fresh one at the first cycle boundary past this many events (a cycle adds about 40):
# below the 4,096 at which a server suggests it, so the same rule holds on servers that never suggest (the
# time-skipping test server) and a two-year weekly pairing (about 4,000 events) hands over once.
EVENTS_PER_RUN = 2_000


@workflow.defn
class PairingWorkflow(PromptingWorkflow):
    @workflow.init
    def __init__(self, inp: PairingInput) -> None:
        self.inp = inp
        self.state = inp.state or new_pairing_state(inp)
        self.core = self.state
        self.rules = Pairing(inp, self.state)
        self.program_id = inp.terms.program_id
        self.pairing_id = inp.pairing_id
        self.nudge_before = inp.terms.nudge_before
        self.coordinators = inp.terms.coordinators
        self.terms = inp.terms
        self._shows_record = False  # whether this run shows the pair's record to the record (RECORD_SHOWN)
        self._record_shown: PairRecord | None = None

    @workflow.run
    async def run(self, inp: PairingInput) -> PairingSummary:
        self.record_as_it_happens()
        self._shows_record = workflow.patched(RECORD_SHOWN)
        if self._clock_unstarted:
            self.resume_clock()
            if self.state.start_paused and workflow.patched(EARLY_PAUSE_HOLDS):
                self.pause_clock()  # the program paused before this run began: starting must not undo it
        stages = {
            PairingStage.INTRODUCTION: self._introduction,
            PairingStage.PLANNING: self._planning,
            PairingStage.MENTORING: self._mentoring,
            PairingStage.MIDPOINT_REVIEW: self._mentoring,
            PairingStage.CLOSE_OUT: self._close_out,
        }
        while self.state.summary.outcome is None:
            await stages[self.state.stage]()
        await self._finish()
        return self.state.summary

    def show_views(self) -> None:
        """The pair's own record when it changed (each run shows it once, then its changes), sealed on its way:
        the pair's page reads it there. It changes only with an event of its own (a plan, a check-in), so the
        waiting loop wakes for it."""
        if not self._shows_record:
            return
        now = self.rules.pair_record()
        if now != self._record_shown:
            self._record_shown = now
            self.record(PairRecordShown(view=now))

    # Stages
    @property
    def ended(self) -> bool:
        return self.rules.ended

    def _set_stage(self, stage: PairingStage) -> None:
        self.state.stage = stage
        workflow.upsert_search_attributes([search.PHASE.value_set(stage.value)])
        self.show_progress()

    @property
    def where(self) -> str:
        return stage_words(self.state.stage.value, self.state.cycle)

    async def _introduction(self) -> None:
        due = self.elapsed + self.terms.answer_window
        why = questions.why_you_two(self.terms.match_reasons)
        for email in self.rules.people:
            question = questions.accept_match(self.rules.partner(email))
            self.ask("accept-match", PromptKind.ACCEPT_MATCH, email, question, "answer_match", due, note=why)
        await self.wait_until(due, lambda: self.ended or self.rules.introduction_answered)
        if self.ended:
            return
        if self.state.declined_by is not None:
            partner = self.rules.apply_decline()
            self.notify(partner.email, NoticeKind.INFO, "declined", notices.MATCH_DECLINED)
            return
        silent = self.rules.apply_unanswered()
        if silent:
            for email in silent:
                self.record(Declined(unanswered=True), email)
            for email in self.rules.people:
                self.notify(email, NoticeKind.INFO, "unanswered", notices.match_unanswered(email in silent))
            return
        for email in self.rules.people:
            self.record(Accepted(), email)
        self._set_stage(PairingStage.PLANNING)

    async def _planning(self) -> None:
        due = self.elapsed + self.terms.answer_window
        self.state.stage_due = due  # the agree-plan prompt opened by a proposal shares this deadline
        question = questions.propose_plan(self.terms.ground_rules)
        for email in self.rules.people:
            self.ask("plan", PromptKind.PROPOSE_PLAN, email, question, "propose_plan", due)
        await self.wait_until(due, lambda: self.ended or self.rules.plan_agreed)
        if self.ended:
            return
        if not self.rules.plan_agreed:
            self.rules.apply_default_plan()
            self.notify_coordinators(NoticeKind.ALERT, "plan-missing", notices.plan_missing_alert(self.inp.pairing_id))
        plan = self.state.plan
        assert plan is not None
        self.record(
            PlanAgreed(
                by_default=self.state.plan_by_default,
                goals=len(plan.goals),
                skills=plan.skills,
                cadence_seconds=int(plan.meeting_every.total_seconds()),
            )
        )
        self.state.mentoring_started = self.elapsed
        self._set_stage(PairingStage.MENTORING)

    async def _mentoring(self) -> None:
        assert self.state.plan is not None and self.state.mentoring_started is not None
        start = self.state.mentoring_started
        end, midpoint = start + self.terms.mentoring_length, start + self.terms.midpoint_after
        while not self.ended and self.elapsed < end:
            if self.state.cycle_due <= self.elapsed:  # not resuming a cycle after continue-as-new
                self._open_cycle(min(self.elapsed + self.state.plan.meeting_every, end))
                if not self.state.midpoint_opened and self.elapsed >= midpoint:
                    self._open_midpoint()
            await self.wait_until(self.state.cycle_due, lambda: self.ended)
            if self.ended:
                return
            self._close_cycle()
            # A missed-streak alert used to wait for the events of the cycle to be stored; now both go at once.
            # Histories recorded before this change replay the old order (tests/histories).
            if workflow.patched(CYCLE_CLOSE_SENDS_AT_ONCE):
                await self.send_and_flush()
            else:
                await self.flush_events()
            if self._run_is_long():
                await self._continue_as_new()
        if not self.ended:
            self._set_stage(PairingStage.CLOSE_OUT)

    def _open_cycle(self, due: timedelta) -> None:
        self.state.cycle += 1
        self.state.cycle_due = due
        cycle = self.state.cycle
        meeting = self._meeting(due)
        self.state.meeting = meeting or self.state.meeting
        question = questions.check_in(cycle)
        for email in self.rules.people:
            self.ask(f"check-in-{cycle}", PromptKind.CHECK_IN, email, question, "log_checkin", due, meeting=meeting)
        self.ask(f"pulse-{cycle}", PromptKind.PULSE, self.inp.mentor.email, questions.PULSE, "answer_pulse", due)

    def _meeting(self, cycle_due: timedelta) -> Meeting | None:
        """The pair's meetings from this cycle to the end, halfway through each cycle, at the agreed cadence."""
        plan, started = self.state.plan, self.state.mentoring_started
        assert plan is not None and started is not None
        due_at = self.state.clock.wall_time(cycle_due, workflow.now())
        if due_at is None:  # paused: the next cycle's prompt carries the invitation
            return None
        every = plan.meeting_every
        left = self.terms.mentoring_length - (cycle_due - started)
        mentor, mentee = self.inp.mentor, self.inp.mentee
        return Meeting(
            series=f"{self.pairing_id}@flipside",
            sequence=self.state.cycle,
            title=notices.meeting_title(mentor.first_name, mentee.first_name),
            starts_at=meeting_start(
                due_at - (cycle_due - self.elapsed) / 2, MEETING_LENGTH, [workday(mentor), workday(mentee)]
            ),
            length=MEETING_LENGTH,
            every=every,
            occurrences=1 + max(0, int(left / every)),
            attendees=[mentor.email, mentee.email],
        )

    def _close_cycle(self) -> None:
        met, alert = self.rules.close_cycle()
        self.record(CycleClosed(cycle=self.state.cycle, met=met, missed_streak=self.state.missed_streak))
        cycle = self.state.cycle
        if alert:
            words = notices.missed_checkins_alert(self.inp.pairing_id, self.state.missed_streak)
            self._alert_coordinators("missed", words, cycle)
        if workflow.patched(LOW_PROGRESS_ALERTS) and self.rules.apply_progress():
            self.record(FlaggedAtRisk())
            words = notices.low_progress_alert(self.inp.pairing_id, self.state.low_progress_streak)
            self._alert_coordinators("low-progress", words, cycle)

    def _open_midpoint(self) -> None:
        self.state.midpoint_opened = True
        self._set_stage(PairingStage.MIDPOINT_REVIEW)
        due = self.elapsed + self.terms.answer_window
        for email in self.rules.people:
            self.ask(
                "midpoint-survey",
                PromptKind.MIDPOINT_SURVEY,
                email,
                questions.MIDPOINT_SURVEY,
                "answer_midpoint_survey",
                due,
            )

    def _midpoint_done_check(self) -> None:
        if self.state.stage == PairingStage.MIDPOINT_REVIEW and not self.state.prompts.of_kind(
            PromptKind.MIDPOINT_SURVEY
        ):
            self._set_stage(PairingStage.MENTORING)

    def on_expired(self, prompt: Prompt) -> None:
        if prompt.kind == PromptKind.MIDPOINT_SURVEY:
            self._midpoint_done_check()

    async def _close_out(self) -> None:
        self.state.prompts.close_all()
        due = self.elapsed + self.terms.answer_window
        for email in self.rules.people:
            question = questions.closeout_survey(self.rules.skills_to_rate(email))
            self.ask("closeout-survey", PromptKind.CLOSEOUT_SURVEY, email, question, "answer_closeout_survey", due)
        both = set(self.rules.people)
        await self.wait_until(due, lambda: self.ended or set(self.state.closeout_answered) == both)
        if not self.ended:
            self.rules.end(PairingOutcome.COMPLETED, [])

    async def _finish(self) -> None:
        self._cancel_series()
        self.state.prompts.close_all()
        self._set_stage(PairingStage.ENDED)
        summary = self.state.summary
        self.record(
            PairingClosed(
                outcome=summary.outcome or PairingOutcome.CANCELLED,
                ended_by=summary.ended_by,
                cycles_run=summary.cycles_run,
                cycles_met=summary.cycles_met,
            )
        )
        await self.send_outbox()
        await self.flush_events()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._report_to_program()

    def _cancel_series(self) -> None:
        """Ended early: the people invited to the pair's meetings get a cancel of the series."""
        cancel = self.rules.series_to_cancel()
        if cancel is None or not workflow.patched(CANCEL_SERIES_AT_EARLY_END):  # before it: nobody was told
            return
        words = meetings_cancelled(cancel, self.state.summary.outcome or PairingOutcome.CANCELLED)
        for email in cancel.attendees:
            self.notify(email, NoticeKind.INFO, "meetings-cancelled", words, meeting=cancel)

    async def _report_to_program(self) -> None:
        program = workflow.get_external_workflow_handle(self.program_id)
        try:
            await program.signal("pairing_finished", self.state.summary)
        except Exception:  # the program may have finished already (cancelled); the summary is our result
            workflow.logger.info("program %s did not take the summary", self.program_id)

    def _run_is_long(self) -> bool:
        """Temporal suggests a fresh run, or this run passed our own bound on its history."""
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        # Runs that passed the bound before it existed went on: on replay they take that path again.
        return info.get_current_history_length() >= EVENTS_PER_RUN and workflow.patched(HISTORY_BOUND)

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.send_outbox()
        await self.flush_events()
        workflow.continue_as_new(
            PairingInput(
                pairing_id=self.inp.pairing_id,
                mentor=self.inp.mentor,
                mentee=self.inp.mentee,
                terms=self.terms,
                state=self.state,
            )
        )

    def _kept(self, comment: str) -> str | None:
        """Survey free text enters the record only when the program's spec says to keep it."""
        return comment.strip() or None if self.terms.keep_survey_comments else None

    def _alert_coordinators(self, reason: str, words: Words, cycle: int | None = None) -> None:
        """Record an alert and tell the coordinators; its key names the cycle, so each cycle's alert is its own."""
        self.record(AlertRaised(reason=reason, cycle=cycle))
        key = reason if cycle is None else f"{reason}-{cycle}"
        self.notify_coordinators(NoticeKind.ALERT, key, words)

    # Updates: each validator refuses before anything reaches the history. Each takes what was sent as it is
    # and reads it with read_answer, so an answer of the wrong shape is refused in words, not by the SDK's decoder.
    @workflow.update
    def answer_match(self, *sent: object) -> str:
        answer = read_answer(MatchAnswer, sent)
        self.rules.apply_match_answer(answer)
        if not answer.accept:
            self.record(Declined(), answer.participant)  # the reason goes to the coordinator, not the record
            words = notices.match_declined_alert(self.inp.pairing_id, answer.participant, answer.reason)
            self.notify_coordinators(NoticeKind.ALERT, "decline-reason", words)
            return replies.MATCH_DECLINED
        if set(self.state.accepted) == set(self.rules.people):
            return replies.BOTH_ACCEPTED
        return replies.WAITING_FOR_PARTNER

    @answer_match.validator
    def _check_answer_match(self, *sent: object) -> None:
        with refusals():
            answer = read_answer(MatchAnswer, sent)
            self.rules.require_running()
            self.rules.check_match_answer(answer)

    @workflow.update
    def propose_plan(self, *sent: object) -> str:
        proposal = read_answer(PlanProposal, sent)
        partner = self.rules.apply_plan(proposal)
        question = questions.agree_plan(self.rules.person(proposal.participant).name)
        self.ask("agree-plan", PromptKind.AGREE_PLAN, partner, question, "agree_plan", self.state.stage_due)
        return replies.plan_saved(self.rules.person(partner).name)

    @propose_plan.validator
    def _check_propose_plan(self, *sent: object) -> None:
        with refusals():
            proposal = read_answer(PlanProposal, sent)
            self.rules.require_running()
            self.rules.check_plan(proposal)

    @workflow.update
    def agree_plan(self, *sent: object) -> str:
        agreement = read_answer(PlanAgreement, sent)
        self.rules.apply_plan_agreement(agreement)
        return replies.PLAN_AGREED

    @agree_plan.validator
    def _check_agree_plan(self, *sent: object) -> None:
        with refusals():
            agreement = read_answer(PlanAgreement, sent)
            self.rules.require_running()
            self.rules.check_plan_agreement(agreement)

    @workflow.update
    def log_checkin(self, *sent: object) -> str:
        checkin = read_answer(CheckIn, sent)
        self.rules.apply_checkin(checkin)
        self.record(
            CheckinLogged(
                cycle=checkin.cycle,
                met=checkin.met,
                progress=checkin.progress,
                recap_written=bool(checkin.recap.strip()),
            ),
            checkin.participant,
        )
        return replies.checkin_logged(checkin.cycle)

    @log_checkin.validator
    def _check_log_checkin(self, *sent: object) -> None:
        with refusals():
            checkin = read_answer(CheckIn, sent)
            self.rules.require_running()
            self.rules.check_checkin(checkin)

    @workflow.update
    def answer_pulse(self, *sent: object) -> str:
        pulse = read_answer(Pulse, sent)
        self.record(
            SurveyAnswered(
                survey="pulse",
                cycle=pulse.cycle,
                ratings={"safe_and_useful": pulse.safe_and_useful},
                comment=self._kept(pulse.comment),
            ),
            pulse.participant,
        )
        if self.rules.apply_pulse(pulse, once_per_streak=workflow.patched(PULSE_ALERT_PER_STREAK)):
            # The mentee is never told: the alert names the pairing, not who raised it, and no state changes.
            self._alert_coordinators("pulse", notices.low_pulse_alert(self.inp.pairing_id), pulse.cycle)
        return replies.PULSE_TAKEN

    @answer_pulse.validator
    def _check_answer_pulse(self, *sent: object) -> None:
        with refusals():
            pulse = read_answer(Pulse, sent)
            self.rules.require_running()
            self.rules.check_pulse(pulse)

    @workflow.update
    def answer_midpoint_survey(self, *sent: object) -> str:
        answers = read_answer(MidpointAnswers, sent)
        if self.rules.apply_midpoint(answers):
            self.record(FlaggedAtRisk())
            self._alert_coordinators("at-risk", notices.midpoint_at_risk_alert(self.inp.pairing_id))
        self.record(
            SurveyAnswered(
                survey="midpoint",
                ratings={"satisfaction": answers.satisfaction, "usefulness": answers.usefulness},
                comment=self._kept(answers.comment),
            ),
            answers.participant,
        )
        self._midpoint_done_check()
        return replies.MIDPOINT_TAKEN

    @answer_midpoint_survey.validator
    def _check_midpoint(self, *sent: object) -> None:
        with refusals():
            answers = read_answer(MidpointAnswers, sent)
            self.rules.require_running()
            self.rules.check_midpoint(answers)

    @workflow.update
    def answer_closeout_survey(self, *sent: object) -> str:
        answers = read_answer(CloseoutAnswers, sent)
        self.rules.apply_closeout(answers)
        self.record(
            SurveyAnswered(
                survey="closeout",
                ratings={"satisfaction": answers.satisfaction},
                would_recommend=answers.would_recommend,
                skills=[SkillChange(skill=r.skill, before=r.before, after=r.after) for r in answers.skill_ratings],
                comment=self._kept(answers.comment),
            ),
            answers.participant,
        )
        return replies.CLOSEOUT_TAKEN

    @answer_closeout_survey.validator
    def _check_closeout(self, *sent: object) -> None:
        with refusals():
            answers = read_answer(CloseoutAnswers, sent)
            self.rules.require_running()
            self.rules.check_closeout(answers)

    @workflow.update
    def withdraw(self, *sent: object) -> str:
        withdrawal = read_answer(Withdrawal, sent)
        self._withdraw(withdrawal)
        return replies.LEFT_PAIRING

    @withdraw.validator
    def _check_withdraw(self, *sent: object) -> None:
        with refusals():
            self.rules.check_withdrawal(read_answer(Withdrawal, sent))

    def _withdraw(self, withdrawal: Withdrawal) -> None:
        partner = self.rules.apply_withdrawal(withdrawal)
        first_name = self.rules.person(withdrawal.participant).first_name
        self.notify(partner.email, NoticeKind.INFO, "withdrawn", notices.partner_withdrew(first_name))
        self.notify_coordinators(NoticeKind.INFO, "withdrawn", notices.withdrawal_alert(self.inp.pairing_id))

    # Signals: fire-and-forget controls from the program
    @workflow.signal
    def participant_withdrew(self, withdrawal: Withdrawal) -> None:
        if not self.ended and withdrawal.participant in self.rules.people:
            self._withdraw(withdrawal)

    @workflow.signal
    def end_pairing(self, reason: str) -> None:
        if not self.ended:
            self.rules.apply_end(reason)

    @property
    def _clock_unstarted(self) -> bool:
        return self.state.clock.running_since is None and self.state.clock.elapsed_before == timedelta(0)

    @workflow.signal
    def pause(self) -> None:
        if self._clock_unstarted:  # in the first activation, before `run` starts the clock: remembered
            self.state.start_paused = True
        self.pause_clock()

    @workflow.signal
    def resume(self) -> None:
        self.state.start_paused = False
        self.resume_clock()

    # Queries
    @workflow.query
    def view(self) -> PairingView:
        return self.rules.view()

    def prompt_context(self, prompt: Prompt) -> PromptContext:
        return self.rules.prompt_context(prompt)

    @workflow.query
    def pending_prompts(self, participant: str) -> list[PendingPrompt]:
        return self.pending_for(participant)

    @workflow.query
    def pair_record(self, participant: str) -> PairRecord:
        with refusals():
            return self.rules.record_for(participant)

    @workflow.query
    def summary(self) -> PairingSummary:
        return self.state.summary
