"""ProgramWorkflow: one run of a reverse mentoring program, from invitations to the close-out report.

Phases run in order: recruitment, training, matching, kick-off, mentoring (with a mid-point review),
close-out. Each phase method is re-entrant: `phase_opened` says whether its prompts went out, so a run that
continued as new picks up where the last one stopped.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Literal, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.messages import MatchRequest, SnapshotRequest
    from domain import events, notices, questions, replies
    from domain.answers import (
        Approval,
        CoordinatorAction,
        NewParticipant,
        OptIn,
        Preferences,
        Refusal,
        RematchRequest,
        TrainingCompleted,
        Withdrawal,
        read_answer,
    )
    from domain.batches import BATCH_REFUSED, AnswerBatch, BatchedAnswer, BatchReply, RefusedAnswer, check_batch
    from domain.matching import MatchContext, MatchProposal
    from domain.metrics import (
        PairingOutcome,
        PairingSummary,
        ProgramMetrics,
        compute_metrics,
        evaluate_goals,
        overall_outcome,
    )
    from domain.notices import NO_PAIRS_REASON, NoticeKind
    from domain.pairing import PairingInput, PairingTerms
    from domain.program import (
        FINISHED,
        MAX_PREFERENCES,
        PER_PAGE,
        AfterPairing,
        Member,
        PagesRef,
        PairingRecord,
        Program,
        ProgramInput,
        ProgramPhase,
        ProgramResult,
        ProgramStatus,
        handover_ref,
        new_program_state,
        pages_ref,
    )
    from domain.prompts import PendingPrompt, Prompt, PromptBook, PromptContext, PromptKind
    from domain.spec import MatchingMode, ProgramSpec
    from domain.summaries import pairing_details, pairing_summary, phase_words
    from domain.views import MemberStatus, MemberView
    from workflows import calls, search
    from workflows.base import PromptingWorkflow, refusals
    from workflows.pairing import PairingWorkflow

KICKOFF_BATCH = 50  # children started at once: keeps pending starts far below the server's limits
MAX_UPDATES_PER_RUN = 1500  # the server refuses updates past 2,000 per run
MAX_CHILDREN_PER_RUN = 500
HISTORY_BOUND = "continue-as-new-past-history-bound"
CLAIM_ID_FIRST = "record-the-start-before-inviting"
TEMPORAL_CANCEL_ENDS_PAIRINGS = "temporal-cancel-ends-pairings"
NO_PAIRS_ENDS_PROGRAM = "no-pairs-ends-program"
KICKOFF_RECHECKS = "kickoff-rechecks-each-start"
CLOCK_CHANGES_IN_ORDER = "pause-and-resume-go-out-in-order"
SUMMARY_ON_THE_LIST = "pairing-summary-in-a-search-attribute"
MEMBERS_IN_PAGES = "members-and-pairings-handed-over-in-pages"
LARGE_POOLS_IN_PAGES = "large-pools-go-to-matching-in-pages"
CANCEL_AWAITS_REPORTS = "cancel-awaits-the-pairings-reports"
# No step of a large program holds the worker's thread for long: invitations go out a batch a step, and a batch
# of events shows at most SHOWN_PER_BATCH prompts. With everyone invited in the first step, a 4,000-person
# program's first step took 0.6 s of CPU, and on a loaded machine past the SDK's 2 s deadlock limit.
SMALL_STEPS = "large-programs-work-in-small-steps"
PEOPLE_PER_STEP = 250
SHOWN_PER_BATCH = 250
KICKOFF_STEP = 20  # children started in one step, with small steps
MEMBERS_SHOWN = "members-shown-in-the-record"
# A run hands over to a fresh one past this many events: below the 4,096 at which a server suggests it, so the
# same rule holds where none is suggested (the time-skipping test server), with room under the 10,240 warning
# for what arrives while the run hands over (a burst of pairings reporting back, updates in flight).
EVENTS_PER_RUN = 3_000
SIGNAL_BATCH = 100
A = TypeVar("A", bound=BaseModel)  # an answer or a coordinator's action
R = TypeVar("R", bound=BaseModel)  # a record handed over in pages: a member or a pairing
REPORTS_LIMIT = timedelta(minutes=5)  # a cancel waits this long for its pairings to report their end


@workflow.defn
class ProgramWorkflow(PromptingWorkflow):
    # What the record was last shown of the coordinator's view (show_views); each run shows it afresh.
    _status_stale = False
    _status_shown: ProgramStatus | None = None
    _proposal_shown: tuple[int, int, bool] | str | None = "not yet"
    events_per_run = EVENTS_PER_RUN  # a test's subclass hands over sooner (tests/helpers/short_runs.py)

    @workflow.init
    def __init__(self, inp: ProgramInput) -> None:
        self.spec = inp.spec
        self.state = inp.state or new_program_state(inp)
        self.core = self.state
        self.rules = Program(inp.spec, self.state)
        self.program_id = workflow.info().workflow_id  # normally spec.program_id; pairings report here
        self.nudge_before = inp.spec.reminders.nudge_before
        self.coordinators = inp.spec.coordinators
        self.updates_this_run = 0
        self.children_this_run = 0
        self.starting: set[str] = set()  # pairings whose start is under way (kick-off, rematch)
        # Pause and resume go out to pairings in batches; one at a time, so each pairing hears them in the order
        # the coordinator gave them (a resume overtaking a pause in a later batch left pairings paused).
        self.clock_changes = asyncio.Lock()
        self.bounded = False  # whether this run keeps to EVENTS_PER_RUN; set as the run starts
        self.result: ProgramResult | None = None
        self.members_loaded = inp.members_ref is None  # else they load in pages as the run starts
        self.reports_this_run = 0
        self.small_steps = workflow.patched(SMALL_STEPS)
        self.shown_per_batch = SHOWN_PER_BATCH if self.small_steps else None
        self.to_invite: list[str] = []  # a new program's members, invited as recruitment opens
        if inp.state is None and self.members_loaded:
            self._begin()

    @workflow.run
    async def run(self, inp: ProgramInput) -> ProgramResult:
        await self._load_members(inp)
        await self._start_run(inp)
        self.record_as_it_happens()
        if workflow.patched(MEMBERS_SHOWN):
            self.rules.track_members()
        try:
            await self._run_phases()
        except asyncio.CancelledError:
            if not workflow.patched(TEMPORAL_CANCEL_ENDS_PAIRINGS):
                raise
            await self._cancelled_from_temporal()
            raise
        await self.send_outbox()
        await self.flush_events()
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self.result is not None
        return self.result

    async def _load_members(self, inp: ProgramInput) -> None:
        """Members (and, after a handover, pairings) that wait in pages (`PagesRef`) load before anything else; a new
        program then begins. Answers that arrive meanwhile wait for them (`_read`)."""
        if inp.members_ref is None:
            return
        members = await calls.load_pages(inp.members_ref, Member)
        self.state.members = {m.person.email: m for m in [*members, *inp.members_changed]}
        if inp.pairings_ref is not None:
            pairings = await calls.load_pages(inp.pairings_ref, PairingRecord)
            self.state.pairings = {r.pairing_id: r for r in [*pairings, *inp.pairings_changed]}
        if inp.state is None:
            self._begin()
        self.members_loaded = True

    async def _start_run(self, inp: ProgramInput) -> None:
        # Decided once per run, since the phases' waits check it: runs started before the bound keep waiting.
        self.bounded = workflow.patched(HISTORY_BOUND)
        if inp.state is None and workflow.patched(CLAIM_ID_FIRST):
            # The start goes to the record before anyone is invited: a run under an id the record already knows
            # is refused there, and stops without sending a word (`_stop_for_conflicting_run`).
            await self.append_events(self.core.journal.take())
        elif inp.state is not None and self.bounded:  # what the last run handed over unsent
            await self.send_outbox()
            await self.flush_while_room()

    async def _run_phases(self) -> None:
        """Each phase in turn until the program completes or is cancelled; a full run hands over between them."""
        phases = {
            ProgramPhase.RECRUITMENT: self._recruitment,
            ProgramPhase.TRAINING: self._training,
            ProgramPhase.MATCHING: self._matching,
            ProgramPhase.KICKOFF: self._kickoff,
            ProgramPhase.MENTORING: self._mentoring,
            ProgramPhase.MIDPOINT_REVIEW: self._mentoring,
            ProgramPhase.CLOSE_OUT: self._close_out,
        }
        while self.state.phase not in FINISHED:
            if self.cancelling:
                await self._cancel()
                return
            await phases[self.state.phase]()
            await self.flush_while_room()
            await self._continue_as_new_if_due()

    def _begin(self) -> None:
        """A new program starts its clock and records its start in its very first step, before any update is
        handled: everyone is invited (status INVITED), so an opt-in sent the moment the program starts is taken
        even before its invitation's email has gone out. The first PEOPLE_PER_STEP invitations are made here, the
        rest as recruitment opens, a batch a step (`_in_steps`); runs recorded before made them all here.

        Only state changes here, no command, so histories recorded when `run` did this replay unchanged.
        """
        self.resume_clock()
        self._record_start()
        self._open_phase(self.spec.durations.recruitment)
        everyone = list(self.state.members)
        first = everyone[:PEOPLE_PER_STEP] if self.small_steps else everyone
        for email in first:
            self._invite(self.state.members[email])
        self.to_invite = everyone[len(first) :]

    def _record_start(self) -> None:
        d, goals = self.spec.durations, self.spec.business_goals
        self.record(
            events.ProgramStarted(
                name=self.spec.name,
                purpose=self.spec.purpose,
                matching_mode=self.spec.matching.mode.value,
                goals=[events.GoalTarget(goal=g.goal, kpi=g.kpi.value, target=g.target) for g in goals],
                checkin_cadence_seconds=int(d.checkin_cadence.total_seconds()),
                program_length_seconds=int(d.program_length.total_seconds()),
                spec=self.spec,
            )
        )
        self.record(events.PhaseChanged(phase=self.state.phase.value))

    @property
    def cancelling(self) -> bool:
        return self.state.cancel_reason is not None

    def _enter(self, phase: ProgramPhase) -> None:
        self.state.phase, self.state.phase_opened = phase, False
        workflow.upsert_search_attributes([search.PHASE.value_set(phase.value)])
        self.record(events.PhaseChanged(phase=phase.value))
        self.show_progress()

    @property
    def where(self) -> str:
        return phase_words(self.state.phase.value)

    def awaited_by(self) -> timedelta:
        return self.state.phase_due  # every prompt of a phase shares its deadline: no walk over thousands

    def _open_phase(self, length: timedelta) -> bool:
        """Start the phase's deadline once; False when resuming a phase already opened."""
        if self.state.phase_opened:
            return False
        self.state.phase_opened = True
        self.state.phase_due = self.elapsed + length
        return True

    # Phases
    async def _recruitment(self) -> None:
        await self._in_steps(self.to_invite, self._invite_if_still_invited)
        await self.wait_until(
            self.state.phase_due, lambda: self.state.recruitment_closed or self.cancelling or self._handing_over
        )
        if self.cancelling or self._handing_over:  # the next run waits on for the rest of the phase
            return
        words = notices.recruitment_closed(self.spec.name)
        for member in self.rules.apply_recruitment_closed():
            self.notify(member.person.email, NoticeKind.INFO, "recruitment-closed", words)
        self._enter(ProgramPhase.TRAINING)

    async def _in_steps(self, emails: list[str], act: Callable[[Member], None]) -> None:
        """Act for each of many members, a batch a workflow step: a batch's notices and events go out (activities)
        before the next batch is built, so no step of a large program holds the worker's thread for long. What
        people do meanwhile counts: `act` looks at each member as they stand when their batch comes."""
        for start in range(0, len(emails), PEOPLE_PER_STEP):
            for email in emails[start : start + PEOPLE_PER_STEP]:
                act(self.state.members[email])
            await self.send_outbox()
            await self.flush_while_room()

    def _invite_if_still_invited(self, member: Member) -> None:
        """Whoever answered, left or was closed out before their invitation went out gets none."""
        if member.status == MemberStatus.INVITED and not (self.state.recruitment_closed or self.cancelling):
            self._invite(member)

    def _invite(self, member: Member) -> None:
        question = questions.opt_in(self.spec.name, self.spec.purpose, self.spec.ground_rules)
        self.ask("opt-in", PromptKind.OPT_IN, member.person.email, question, "opt_in", self.state.phase_due)
        person = member.person
        self.record(
            events.Invited(
                name=person.name, role=person.role.value, seniority=person.seniority, department=person.department
            ),
            person.email,
        )

    async def _training(self) -> None:
        self_select = self.spec.matching.mode != MatchingMode.ALGORITHM
        if self._open_phase(self.spec.durations.training):
            await self._open_training(self_select)
        await self.wait_until(
            self.state.phase_due, lambda: self.cancelling or not self.state.prompts.prompts or self._handing_over
        )
        if self.cancelling or self._handing_over:
            return
        for member in self.rules.apply_training_closed():
            self.record(events.Excluded(reason="training not finished"), member.person.email)
            self.notify(member.person.email, NoticeKind.INFO, "excluded", notices.TRAINING_NOT_FINISHED)
        self._enter(ProgramPhase.MATCHING)

    async def _open_training(self, self_select: bool) -> None:
        """Everyone who opted in is asked to train (or, with no modules, is trained) and, when people choose their
        partners, for their preferences; a batch a step, with small steps."""
        opted_in = [m.person.email for m in self.rules.with_status(MemberStatus.OPTED_IN)]
        if not self.small_steps:
            for email in opted_in:
                self._start_training(self.state.members[email], self_select)
            return
        await self._in_steps(opted_in, lambda member: self._start_training(member, self_select))

    def _start_training(self, member: Member, self_select: bool) -> None:
        if member.status != MemberStatus.OPTED_IN:  # left before their batch came (in small steps)
            return
        modules, due, email = self.spec.training_modules, self.state.phase_due, member.person.email
        if modules:
            self.ask("training", PromptKind.TRAINING, email, questions.training(modules), "complete_training", due)
        else:
            member.status, member.trained = MemberStatus.TRAINED, True
            self.rules.touch(email)
            self.record(events.TrainingCompleted(modules=[]), email)
        if self_select:
            question = questions.preferences(MAX_PREFERENCES)
            self.ask("preferences", PromptKind.PREFERENCES, email, question, "submit_preferences", due)

    async def _matching(self) -> None:
        if self._open_phase(self.spec.durations.answer_window):
            await self._propose_for_approval()
        while not self.state.approved and not self.cancelling:
            await self.wait_until(
                self.state.phase_due, lambda: self.state.approved or self.cancelling or self._handing_over
            )
            if self._handing_over:
                return
            if not self.state.approved and not self.cancelling:  # overdue: ask again, nothing is decided for them
                self.state.phase_due = self.elapsed + self.spec.durations.answer_window
                self._ask_for_approval()
        if not self.cancelling:
            self._enter(ProgramPhase.KICKOFF)

    async def _propose_for_approval(self) -> None:
        pool = self.rules.with_status(MemberStatus.TRAINED)
        try:
            self.state.proposal = await self._propose(pool)
        except ActivityError as error:  # the program waits for the coordinators to pair people themselves
            self.state.matching_failed = _reason(error)
            self.state.proposal = MatchProposal(pairs=[], unmatched=[])
            self._ask_for_approval()
            return
        if not self.state.proposal.pairs and workflow.patched(NO_PAIRS_ENDS_PROGRAM):
            self._end_for_want_of_pairs(len(pool), self.state.proposal)
        elif self.spec.matching.auto_approve:
            self._approve(Approval(coordinator=self.spec.coordinators[0]))
        else:
            self._ask_for_approval()

    def _end_for_want_of_pairs(self, pool: int, proposal: MatchProposal) -> None:
        """Nobody to pair (nobody opted in, or only one side did): say so and end, rather than wait for an approval
        of nothing. The run loop then cancels the program, which tells everyone."""
        unmatched = [(u.email, u.reason) for u in proposal.unmatched]
        self.notify_coordinators(NoticeKind.ALERT, "no-pairs", notices.no_pairs_alert(self.spec.name, pool, unmatched))
        self.state.cancel_reason = NO_PAIRS_REASON

    async def _propose(self, pool: list[Member], context: MatchContext | None = None) -> MatchProposal:
        request = MatchRequest(
            program_id=self.program_id,
            people=[m.person for m in pool],
            mode=self.spec.matching.mode,
            context=context or self.rules.match_context(),
        )
        if len(pool) > PER_PAGE and workflow.patched(LARGE_POOLS_IN_PAGES):
            request.people, request.people_ref = [], await self._store_pool(pool)
        return await calls.propose_matches(request)

    async def _store_pool(self, pool: list[Member]) -> PagesRef:
        """A pool too large for an activity's input (10,000 people are 3 MB; the limit is 2) goes in pages."""
        ref = pages_ref(self.program_id, f"pool-{self.state.handovers}-{len(self.state.pairings)}", len(pool))
        if self.small_steps:
            await calls.store_pages_in_steps(ref, {m.person.email: m for m in pool})
        else:
            await calls.store_pages(ref, [m.model_dump(mode="json") for m in pool])
        return ref

    def _ask_for_approval(self) -> None:
        """Ask the coordinators to approve the proposal, or, when matching failed, to name pairs themselves."""
        proposal = self.state.proposal
        assert proposal is not None
        if self.state.matching_failed is not None:
            question = notices.matching_failed_request(self.spec.name, self.state.matching_failed)
        else:
            question = notices.approval_request(self.spec.name, proposal)
        for coordinator in self.spec.coordinators:
            self.ask(
                "approve-matches",
                PromptKind.APPROVE_MATCHES,
                coordinator,
                question,
                "approve_matches",
                self.state.phase_due,
            )

    def _approve(self, approval: Approval) -> None:
        pairs = self.rules.apply_approval(approval)
        for coordinator in self.spec.coordinators:
            self.state.prompts.close(coordinator, "approve-matches")
        for pair in pairs:
            record = self.rules.add_pairing(pair)
            self.record(self._matched("matched", record))
        self.record(events.Approved(pairs=len(pairs), edited=approval.pairs is not None))
        for member in self.rules.apply_unmatched():
            words = notices.unmatched(member.unmatched_reason or "")
            self.notify(member.person.email, NoticeKind.INFO, "unmatched", words)

    @staticmethod
    def _matched(kind: Literal["matched", "rematched"], record: PairingRecord) -> events.Matched:
        return events.Matched(
            kind=kind,
            pairing=record.pairing_id,
            mentor=record.mentor,
            mentee=record.mentee,
            score=record.score,
            reasons=record.reasons,
        )

    async def _kickoff(self) -> None:
        if self._open_phase(timedelta(0)):
            self.state.kickoff_at = self.elapsed
        waiting = [r for r in self.state.pairings.values() if not r.started]
        step = KICKOFF_STEP if self.small_steps else KICKOFF_BATCH
        for start in range(0, len(waiting), step):
            await asyncio.gather(*(self._start_pairing(r) for r in waiting[start : start + step]))
            await self._continue_as_new_if_due()
        self._enter(ProgramPhase.MENTORING)

    def _terms(self, record: PairingRecord) -> PairingTerms:
        d = self.spec.durations
        assert self.state.kickoff_at is not None
        remaining = self.state.kickoff_at + d.program_length - self.elapsed
        return PairingTerms(
            program_id=self.program_id,
            coordinators=self.spec.coordinators,
            ground_rules=self.spec.ground_rules,
            answer_window=d.answer_window,
            nudge_before=self.spec.reminders.nudge_before,
            default_cadence=d.checkin_cadence,
            cadence_min=d.shortest_cadence,
            cadence_max=d.longest_cadence,
            missed_alert_after=self.spec.reminders.missed_checkins_alert,
            low_answer=self.spec.reminders.low_answer,
            # The introduction and plan take time out of the mentoring period, never extend the program.
            mentoring_length=max(remaining - 2 * d.answer_window, d.checkin_cadence),
            midpoint_after=max(self.state.kickoff_at + d.midpoint - self.elapsed - 2 * d.answer_window, timedelta(0)),
            match_score=record.score,
            match_reasons=record.reasons,
            keep_survey_comments=self.spec.keep_survey_comments,
        )

    @asynccontextmanager
    async def _clock_change(self) -> AsyncIterator[None]:
        """Hold the clock changes in order; runs recorded before the lock took them as they came."""
        if not workflow.patched(CLOCK_CHANGES_IN_ORDER):
            yield
            return
        async with self.clock_changes:
            yield

    async def _until_started(self, pairing_id: str) -> None:
        await workflow.wait_condition(lambda: pairing_id not in self.starting)

    def _still_to_start(self, record: PairingRecord) -> bool:
        """Whether an approved pairing should start now: a withdrawal handled since the kick-off listed it (between
        its batches) removes it, and must not be undone by starting it anyway."""
        if not workflow.patched(KICKOFF_RECHECKS):
            return True
        return self.state.pairings.get(record.pairing_id) is record and not record.started

    async def _start_pairing(self, record: PairingRecord) -> None:
        if not self._still_to_start(record):
            return
        inp = PairingInput(
            pairing_id=record.pairing_id,
            mentor=self.state.members[record.mentor].person,
            mentee=self.state.members[record.mentee].person,
            terms=self._terms(record),
        )
        self.starting.add(record.pairing_id)
        summary = pairing_summary(record.pairing_id, inp.terms)
        listed = summary if workflow.patched(SUMMARY_ON_THE_LIST) else None
        try:
            await workflow.start_child_workflow(
                PairingWorkflow.run,
                inp,
                id=record.pairing_id,
                parent_close_policy=ParentClosePolicy.ABANDON,  # pairings outlive a continue-as-new of the program
                search_attributes=search.initial(self.program_id, "introduction", "pairing", listed),
                static_summary=summary,  # metadata only: replays the same
                static_details=pairing_details(record.pairing_id, inp.terms),
            )
        finally:
            self.starting.discard(record.pairing_id)
        record.started = True
        self.rules.touch(record.mentor, record.mentee)  # among their running pairings now
        self.children_this_run += 1
        if self.state.clock.paused:
            async with self._clock_change():
                if self.state.clock.paused:  # still, once a resume under way has gone out
                    await self._signal_pairing(record, "pause")

    async def _mentoring(self) -> None:
        assert self.state.kickoff_at is not None
        d = self.spec.durations
        end, midpoint = self.state.kickoff_at + d.program_length, self.state.kickoff_at + d.midpoint
        while not self.cancelling and self.elapsed < end:
            next_cycle = self.state.kickoff_at + (self.state.cycles_snapshotted + 1) * d.checkin_cadence
            target = min(end, next_cycle) if self.state.midpoint_done else min(midpoint, next_cycle)
            await self.wait_until(target, lambda: self.cancelling or self._rematch_due or self._handing_over)
            if self.cancelling or self._handing_over:
                return
            if self._rematch_due:
                await self._rematch()
            elif not self.state.midpoint_done and self.elapsed >= midpoint:
                await self._midpoint_review()
            elif self.elapsed >= next_cycle:
                self.state.cycles_snapshotted += 1
                await self._snapshot(f"cycle-{self.state.cycles_snapshotted}")
            await self.flush_events()
            await self._continue_as_new_if_due()
        self._enter(ProgramPhase.CLOSE_OUT)

    @property
    def _rematch_due(self) -> bool:
        enough = len(self.state.rematch_pool) >= (1 if self.spec.matching.mentor_capacity > 1 else 2)
        return self.state.rematch_pending and enough

    async def _rematch(self) -> None:
        """Pair people who came back to the pool (after a decline, silence, withdrawal or a coordinator's call)."""
        self.state.rematch_pending = False
        room = self.rules.mentors_with_room()  # group mentors may take one more from the pool
        emails = [*self.state.rematch_pool, *[e for e in room if e not in self.state.rematch_pool]]
        pool = [self.state.members[e] for e in emails]
        try:
            proposal = await self._propose(pool, self.rules.match_context(mentees_already=room))
        except ActivityError as error:  # they keep waiting; the next return to the pool tries again
            words = notices.rematch_failed_alert(self.spec.name, _reason(error), len(self.state.rematch_pool))
            self.notify_coordinators(NoticeKind.ALERT, f"rematch-failed/{len(self.state.pairings)}", words)
            return
        for pair in proposal.pairs:
            record = self.rules.add_pairing(pair)
            self.record(self._matched("rematched", record))
            words = notices.rematched(pair.mentor, pair.mentee, pair.reasons)
            self.notify_coordinators(NoticeKind.INFO, f"rematch/{record.pairing_id}", words)
            await self._start_pairing(record)

    async def _snapshot(self, label: str) -> ProgramMetrics:
        """Metrics across the program at this moment, asked of the running pairings, kept in the record."""
        running = [r.pairing_id for r in self.state.pairings.values() if r.running]
        funnel, finished = self.rules.funnel(), self.rules.finished_summaries()
        request = SnapshotRequest(
            program_id=self.program_id, label=label, funnel=funnel, finished=finished, running=running
        )
        try:
            metrics = await calls.snapshot_metrics(request)
        except ActivityError:  # best effort: what the program knows itself, the running pairings counted unread
            workflow.logger.warning("snapshot %s from the program's own figures", label)
            metrics = compute_metrics(funnel, finished)
            metrics.pairings_unread = len(running)
        self._record_snapshot(label, metrics)
        return metrics

    def _record_snapshot(self, label: str, metrics: ProgramMetrics) -> None:
        kpis = evaluate_goals(self.spec.business_goals, metrics)
        self.record(events.MetricsSnapshot(label=label, metrics=metrics, kpis=kpis))

    async def _midpoint_review(self) -> None:
        self._enter(ProgramPhase.MIDPOINT_REVIEW)
        metrics = await self._snapshot("mid-point")
        self.state.snapshots["mid-point"] = metrics
        self.notify_coordinators(
            NoticeKind.REPORT, "midpoint-summary", notices.midpoint_summary(self.spec.name, metrics)
        )
        self.state.midpoint_done = True
        self._enter(ProgramPhase.MENTORING)

    async def _close_out(self) -> None:
        d = self.spec.durations
        if self._open_phase(2 * d.answer_window + d.checkin_cadence):
            pass
        await self.wait_until(
            self.state.phase_due, lambda: self.cancelling or not self._running_pairings() or self._handing_over
        )
        if self.cancelling or self._handing_over:
            return
        for record in self._running_pairings():  # a pairing that overran its close-out is closed now
            await self._signal_pairing(record, "end_pairing", "program closed")
        summaries = self.rules.finished_summaries()
        metrics = compute_metrics(self.rules.funnel(), summaries)
        self.state.snapshots["close-out"] = metrics
        self._record_snapshot("close-out", metrics)
        kpis = evaluate_goals(self.spec.business_goals, metrics)
        for kpi in kpis:
            self.record(events.KpiEvaluated(kpi=kpi.kpi.value, value=kpi.value, target=kpi.target, met=kpi.met))
        outcome = overall_outcome(kpis)
        self.notify_coordinators(NoticeKind.REPORT, "final-report", notices.final_report(self.spec.name, outcome, kpis))
        self._recognise(summaries)
        self.record(events.ProgramClosed(outcome=outcome))
        self.result = ProgramResult(
            program_id=self.program_id, outcome=outcome, cancelled=False, kpis=kpis, metrics=metrics
        )
        self._enter(ProgramPhase.COMPLETED)

    async def _await_reports(self) -> None:
        """Wait, bounded, for the pairings told to end to report back; one that does not is left running."""
        try:
            await workflow.wait_condition(
                lambda: not self._running_pairings(), timeout=REPORTS_LIMIT, timeout_summary="pairings: their reports"
            )
        except TimeoutError:
            workflow.logger.warning("%d pairings did not report their end", len(self._running_pairings()))

    def _running_pairings(self) -> list[PairingRecord]:
        return [r for r in self.state.pairings.values() if r.running]

    def _recognise(self, summaries: list[PairingSummary]) -> None:
        for summary in summaries:
            for email, partner_name in self.rules.apply_recognition(summary):
                self.record(events.Recognised(pairing=summary.pairing_id), email)
                words = notices.recognition(self.spec.name, partner_name)
                self.notify(email, NoticeKind.RECOGNITION, "recognition", words)

    async def _cancel(self) -> None:
        reason = self.state.cancel_reason or "no reason given"
        await self._signal_running("end_pairing", f"program cancelled: {reason}")
        if workflow.patched(CANCEL_AWAITS_REPORTS):  # so the result counts them; before, it raced their reports
            await self._await_reports()
        self.state.prompts.close_all()
        words = notices.program_cancelled(self.spec.name, reason)
        for email in [*self.state.members, *self.spec.coordinators]:
            self.notify(email, NoticeKind.INFO, "cancelled", words)
        self.record(events.Cancelled(reason=reason))
        self.record(events.ProgramClosed(outcome=f"cancelled: {reason}"))
        metrics = compute_metrics(self.rules.funnel(), self.rules.finished_summaries())
        self.result = ProgramResult(
            program_id=self.program_id, outcome=f"cancelled: {reason}", cancelled=True, kpis=[], metrics=metrics
        )
        self._enter(ProgramPhase.CANCELLED)

    async def _cancelled_from_temporal(self) -> None:
        """A cancel from the Temporal UI or CLI ends the program as a coordinator's cancel does: its pairings, which
        outlive the program on purpose, would otherwise run on for months with nobody to report to. The run still
        ends as cancelled in Temporal, as the operator asked."""
        if self.state.phase not in FINISHED:
            self.state.cancel_reason = self.state.cancel_reason or "cancelled from Temporal"
            await self._cancel()
        await self.send_outbox()
        await self.flush_events()

    async def _signal_running(self, signal: str, *args: object) -> None:
        running = self._running_pairings()
        for start in range(0, len(running), SIGNAL_BATCH):
            await asyncio.gather(
                *(self._signal_pairing(r, signal, *args) for r in running[start : start + SIGNAL_BATCH])
            )

    async def _signal_pairing(self, record: PairingRecord, signal: str, *args: object) -> None:
        """Signal a running pairing. One that closed without reporting back (ended by an operator, failed after a
        bad deploy, gone past retention) cannot take a signal: it is closed on the program's side instead."""
        try:
            await workflow.get_external_workflow_handle(record.pairing_id).signal(signal, *args)
        except ApplicationError:  # the server found no open run to signal
            await self._closed_outside(record)

    async def _closed_outside(self, record: PairingRecord) -> None:
        """Count a pairing that closed behind the program's back as cancelled, tell the coordinators, and send its
        people back to the pool while a new partner can still help them."""
        if record.summary is not None:  # it reported back before it closed: its signal came first
            return
        if not self.cancelling and self.state.phase not in (ProgramPhase.CLOSE_OUT, *FINISHED):
            record.rematch_requested = True
        summary = PairingSummary(
            pairing_id=record.pairing_id, mentor=record.mentor, mentee=record.mentee, outcome=PairingOutcome.CANCELLED
        )
        self.record(
            events.PairingClosed(outcome=PairingOutcome.CANCELLED, ended_by=[], cycles_run=0, cycles_met=0),
            pairing_id=record.pairing_id,
        )
        words = notices.closed_outside_alert(record.pairing_id, record.rematch_requested and self._rematch_possible)
        self.notify_coordinators(NoticeKind.ALERT, f"closed-outside/{record.pairing_id}", words)
        await self._pairing_ended(summary)

    @property
    def _run_is_full(self) -> bool:
        """Temporal suggests a fresh run, or this run reached one of our own bounds."""
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or self.updates_this_run >= MAX_UPDATES_PER_RUN
            or self.children_this_run >= MAX_CHILDREN_PER_RUN
            or (self.bounded and info.get_current_history_length() >= self.events_per_run)
        )

    @property
    def _handing_over(self) -> bool:
        """A phase stops waiting and returns, so the run loop continues as new; the phase resumes in the next run."""
        return self.bounded and self._run_is_full

    def may_record(self) -> bool:
        return not self._handing_over

    def show_views(self) -> None:
        """The members touched since last time; then, when something happened (an event, a pause or resume), the
        coordinator's status and the proposal if they changed. Runs before MEMBERS_SHOWN show nothing."""
        if not self.state.members_tracking:
            return
        for view in self.rules.take_touched_members():
            self.record(events.MemberShown(view=view), view.email)
        if self.core.journal.unsent or self._status_stale:
            self._show_status()

    def _show_status(self) -> None:
        self._status_stale = False
        status = self.rules.status().model_copy(update={"proposal": None})
        if status != self._status_shown:
            self._status_shown = status
            self.record(events.StatusShown(status=status))
        proposal = self.state.proposal  # compared by its counts: a proposal changes by whole pairs
        shape = None if proposal is None else (len(proposal.pairs), len(proposal.unmatched), self.state.approved)
        if shape != self._proposal_shown:
            self._proposal_shown = shape
            self.record(events.ProposalShown(proposal=proposal))

    @property
    def views_touched(self) -> bool:
        return self.state.members_tracking and (bool(self.state.members_touched) or self._status_stale)

    def pause_clock(self) -> None:
        super().pause_clock()
        self._status_stale = True  # the coordinator's page shows the pause

    def resume_clock(self) -> None:
        super().resume_clock()
        self._status_stale = True

    async def _continue_as_new_if_due(self) -> None:
        if not self._run_is_full or self.state.phase in FINISHED:
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        # Unsent notices and events travel in the state and go out first thing in the next run: sending
        # thousands here would keep this run open while answers keep arriving, past the server's 2,000 updates.
        if not self.bounded:
            await self.send_outbox()
            await self.flush_events()
        if workflow.patched(MEMBERS_IN_PAGES):
            next_run = await self._handover_in_pages()
            self._let_go_of_members()
            workflow.continue_as_new(next_run)
        workflow.continue_as_new(ProgramInput(spec=self.spec, roster=[], state=self.state))

    def _let_go_of_members(self) -> None:
        """Drop what this run holds of its members, pairings and prompts once the next run has them in pages, so
        the worker frees them now. A finished run's instance sits in reference cycles (its event loop, tasks and
        this object) that only a full garbage collection frees, and at 10,000 people each of a program's runs left
        about 60 MB there (bench/results/worker-memory.md). A query reaching this run meanwhile is asked again
        (`_members_in`) and answered by the next; a replay of this run (a query to it by run id) keeps them."""
        if workflow.unsafe.is_replaying():
            return
        self.members_loaded = False
        self.state.members, self.state.pairings, self.state.prompts = {}, {}, PromptBook()

    async def _handover_in_pages(self) -> ProgramInput:
        """The next run's input, its members and pairings stored in pages rather than carried in it. Answers and
        reports keep arriving while the pages are stored: a record they changed since travels in the input
        itself, over its page (storing again until nothing changed never ended while a thousand people opted in).
        """
        n = self.state.handovers = self.state.handovers + 1
        taken = (self.updates_this_run, self.reports_this_run)
        members_ref = handover_ref(self.program_id, n, "members", len(self.state.members))
        if self.small_steps:  # each counted as its pages are cut: a pairing may start while members are stored
            members = await calls.store_pages_in_steps(members_ref, self.state.members)
            pairings_ref = handover_ref(self.program_id, n, "pairings", len(self.state.pairings))
            pairings = await calls.store_pages_in_steps(pairings_ref, self.state.pairings)
        else:
            pairings_ref = handover_ref(self.program_id, n, "pairings", len(self.state.pairings))
            members, pairings = await self._store_at_once(members_ref, pairings_ref)
        await workflow.wait_condition(workflow.all_handlers_finished)
        quiet = taken == (self.updates_this_run, self.reports_this_run)
        return ProgramInput(
            spec=self.spec,
            roster=[],
            state=self.state.model_copy(update={"members": {}, "pairings": {}, "proposal": self._proposal_to_keep}),
            members_ref=members_ref,
            members_changed=[] if quiet else _changed(self.state.members, members),
            pairings_ref=pairings_ref,
            pairings_changed=[] if quiet else _changed(self.state.pairings, pairings),
        )

    async def _store_at_once(
        self, members_ref: PagesRef, pairings_ref: PagesRef
    ) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]]]:
        """How runs recorded before small steps stored a handover: every page dumped in one step, stored at once."""
        members = {email: m.model_dump(mode="json") for email, m in self.state.members.items()}
        pairings = {pid: r.model_dump(mode="json") for pid, r in self.state.pairings.items()}
        stores = (
            calls.store_pages(members_ref, list(members.values())),
            calls.store_pages(pairings_ref, list(pairings.values())),
        )
        await asyncio.gather(*stores)
        return members, pairings

    @property
    def _proposal_to_keep(self) -> MatchProposal | None:
        """A proposal already approved is not handed over: its pairs are pairings now (0.8 MB at 10,000 people)."""
        return None if self.state.approved else self.state.proposal

    # Every update takes what was sent as it is and reads it with read_answer, so an answer of the wrong shape is
    # refused in words rather than rejected by the SDK's decoder (see domain/answers.py). Its validator checks it
    # against the rules; in a run's first moments, while the members load, the handler does so once they are in.
    def _validate(self, model: type[A], sent: tuple[object, ...], check: Callable[[A], None]) -> None:
        with refusals():
            answer = read_answer(model, sent)
            if self.members_loaded:
                check(answer)

    async def _read(self, model: type[A], sent: tuple[object, ...], check: Callable[[A], None]) -> A:
        answer = read_answer(model, sent)
        if not self.members_loaded:
            await workflow.wait_condition(lambda: self.members_loaded)
            with refusals():
                check(answer)
        self.updates_this_run += 1
        return answer

    # Participant updates
    @workflow.update
    async def opt_in(self, *sent: object) -> str:
        return self._take_opt_in(await self._read(OptIn, sent, self.rules.check_opt_in))

    @opt_in.validator
    def _check_opt_in(self, *sent: object) -> None:
        self._validate(OptIn, sent, self.rules.check_opt_in)

    @workflow.update
    async def complete_training(self, *sent: object) -> str:
        return self._take_training(await self._read(TrainingCompleted, sent, self.rules.check_training))

    @complete_training.validator
    def _check_training(self, *sent: object) -> None:
        self._validate(TrainingCompleted, sent, self.rules.check_training)

    @workflow.update
    async def submit_preferences(self, *sent: object) -> str:
        return self._take_preferences(await self._read(Preferences, sent, self.rules.check_preferences))

    @submit_preferences.validator
    def _check_preferences(self, *sent: object) -> None:
        self._validate(Preferences, sent, self.rules.check_preferences)

    def _take_opt_in(self, answer: OptIn) -> str:
        self.rules.apply_opt_in(answer)
        self.record(events.OptedIn(), answer.participant.strip().lower())
        return replies.WELCOME_TRAINING_NEXT if self.spec.training_modules else replies.WELCOME_MATCHING_NEXT

    def _take_training(self, done: TrainingCompleted) -> str:
        if self.rules.apply_training(done):
            self.record(events.TrainingCompleted(modules=done.modules), done.participant.strip().lower())
            return replies.TRAINING_COMPLETE
        return replies.training_recorded(self.rules.modules_left(done.participant))

    def _take_preferences(self, choice: Preferences) -> str:
        self.rules.apply_preferences(choice)
        return replies.PREFERENCES_TAKEN

    # Recruitment answers in batches (domain/batches.py): each answer is checked and taken as if sent alone, and
    # keeps its own receipt, so a re-sent answer is taken once whether it came alone or in a batch.
    @workflow.update
    async def answer_batch(self, *sent: object) -> BatchReply:
        batch = await self._read(AnswerBatch, sent, check_batch)
        reply = BatchReply()
        for item in batch.answers:
            earlier = self.core.receipt(item.request_id)
            if earlier is not None:
                reply.replies[item.request_id] = earlier
                continue
            try:  # the validator checked each answer; one before it in the batch may have changed the state since
                taken = self._checked(item)()
            except Refusal as refusal:
                reply.refused[item.request_id] = RefusedAnswer(sentence=str(refusal), field=refusal.field)
                continue
            self.core.keep_receipt(item.request_id, taken)
            reply.replies[item.request_id] = taken
        return reply

    @answer_batch.validator
    def _check_answer_batch(self, *sent: object) -> None:
        """Refuse the batch, naming every answer the rules refuse, so the sender can send the rest again."""
        with refusals():
            batch = read_answer(AnswerBatch, sent)
            check_batch(batch)
        if not self.members_loaded:
            return  # the handler checks each answer once they are in
        refused: dict[str, dict[str, str | None]] = {}
        for item in batch.answers:
            if self.core.receipt(item.request_id) is None:
                try:
                    self._checked(item)
                except Refusal as refusal:
                    refused[item.request_id] = RefusedAnswer(sentence=str(refusal), field=refusal.field).model_dump()
        if refused:
            raise ApplicationError(replies.some_answers_refused(len(refused)), refused, type=BATCH_REFUSED)

    def _checked(self, item: BatchedAnswer) -> Callable[[], str]:
        """Read and check one answer of a batch (a Refusal if it cannot be taken); what taking it does."""
        if item.kind == PromptKind.OPT_IN:
            return _prepared(OptIn, item, self.rules.check_opt_in, self._take_opt_in)
        if item.kind == PromptKind.TRAINING:
            return _prepared(TrainingCompleted, item, self.rules.check_training, self._take_training)
        return _prepared(Preferences, item, self.rules.check_preferences, self._take_preferences)

    @workflow.update
    async def withdraw(self, *sent: object) -> str:
        withdrawal = await self._read(Withdrawal, sent, self.rules.check_withdrawal)
        member = self.rules.apply_withdrawal(withdrawal)
        self.record(events.Withdrawn(phase=self.state.phase.value), member.person.email)
        await self._end_pairings_of(member.person.email, withdrawal)
        self.rules.apply_left_proposal(member)
        return replies.WITHDRAWN_FROM_PROGRAM

    async def _end_pairings_of(self, email: str, withdrawal: Withdrawal) -> None:
        """Every pairing of someone who left ends: a group mentor's mentees all hear of it."""
        for record in self.rules.pairings_of(email):
            if record.pairing_id in self.starting:  # its start is under way: let it start, then tell it
                await self._until_started(record.pairing_id)
            if record.running:
                await self._signal_pairing(record, "participant_withdrew", withdrawal)
            elif not record.started:  # approved but not started: the partner goes back to the pool
                del self.state.pairings[record.pairing_id]
                partner = record.mentee if email == record.mentor else record.mentor
                self.rules.return_to_pool(partner, "your proposed partner withdrew")

    @withdraw.validator
    def _check_withdraw(self, *sent: object) -> None:
        self._validate(Withdrawal, sent, self.rules.check_withdrawal)

    # Coordinator updates
    @workflow.update
    async def approve_matches(self, *sent: object) -> str:
        approval = await self._read(Approval, sent, self.rules.check_approval)
        self._approve(approval)
        return replies.approved(len(self.state.pairings))

    @approve_matches.validator
    def _check_approve(self, *sent: object) -> None:
        self._validate(Approval, sent, self.rules.check_approval)

    @workflow.update
    async def add_participant(self, *sent: object) -> str:
        action = await self._read(NewParticipant, sent, self.rules.check_new_participant)
        member = self.rules.apply_new_participant(action)
        self._invite(member)
        return replies.invited(member.person.name)

    @add_participant.validator
    def _check_add(self, *sent: object) -> None:
        self._validate(NewParticipant, sent, self.rules.check_new_participant)

    @workflow.update
    async def close_recruitment(self, *sent: object) -> str:
        await self._read(CoordinatorAction, sent, self.rules.check_close_recruitment)
        self.state.recruitment_closed = True  # the recruitment phase sees it, closes, and thanks who did not join
        return replies.recruitment_closed(self.rules.status_count(MemberStatus.OPTED_IN))

    @close_recruitment.validator
    def _check_close(self, *sent: object) -> None:
        self._validate(CoordinatorAction, sent, self.rules.check_close_recruitment)

    @workflow.update
    async def nudge(self, *sent: object) -> str:
        """A coordinator reminds everyone the program is waiting for (at most once a day)."""
        await self._read(CoordinatorAction, sent, self._check_nudging)
        prompts = self.rules.apply_nudge(self.elapsed)
        return replies.nudged(self.remind_now(prompts, self.state.nudges))

    @nudge.validator
    def _check_nudge(self, *sent: object) -> None:
        self._validate(CoordinatorAction, sent, self._check_nudging)

    def _check_nudging(self, action: CoordinatorAction) -> None:
        self.rules.check_nudge(action, self.elapsed)

    @workflow.update
    async def pause(self, *sent: object) -> str:
        await self._read(CoordinatorAction, sent, self._check_pausing)
        async with self._clock_change():
            self.pause_clock()
            await self._signal_running("pause")
        return replies.PAUSED

    @pause.validator
    def _check_pause(self, *sent: object) -> None:
        self._validate(CoordinatorAction, sent, self._check_pausing)

    def _check_pausing(self, action: CoordinatorAction) -> None:
        self.rules.check_pause(action, pause=True)

    @workflow.update
    async def resume(self, *sent: object) -> str:
        await self._read(CoordinatorAction, sent, self._check_resuming)
        async with self._clock_change():
            self.resume_clock()
            await self._signal_running("resume")
        return replies.RESUMED

    @resume.validator
    def _check_resume(self, *sent: object) -> None:
        self._validate(CoordinatorAction, sent, self._check_resuming)

    def _check_resuming(self, action: CoordinatorAction) -> None:
        self.rules.check_pause(action, pause=False)

    @workflow.update
    async def cancel(self, *sent: object) -> str:
        action = await self._read(CoordinatorAction, sent, self.rules.check_cancel)
        self.rules.apply_cancel(action)
        return replies.CANCELLING

    @cancel.validator
    def _check_cancel(self, *sent: object) -> None:
        self._validate(CoordinatorAction, sent, self.rules.check_cancel)

    @workflow.update
    async def rematch(self, *sent: object) -> str:
        request = await self._read(RematchRequest, sent, self.rules.check_rematch)
        record = self.rules.apply_rematch(request)
        await self._signal_pairing(record, "end_pairing", "rematch requested")
        return replies.REMATCHING

    @rematch.validator
    def _check_rematch(self, *sent: object) -> None:
        self._validate(RematchRequest, sent, self.rules.check_rematch)

    # Pairings report here when they end
    @workflow.signal
    async def pairing_finished(self, summary: PairingSummary) -> None:
        if not self.members_loaded:
            await workflow.wait_condition(lambda: self.members_loaded)
        self.reports_this_run += 1
        await self._pairing_ended(summary)

    async def _pairing_ended(self, summary: PairingSummary) -> None:
        if not self.rules.apply_pairing_report(summary):
            return
        for email in (summary.mentor, summary.mentee):
            after = self.rules.after_pairing(email, summary, self._rematch_possible)
            if after == AfterPairing.WITHDREW:  # left from inside the pairing: leaves the program, and its pairings
                self.record(events.Withdrawn(phase=self.state.phase.value), email)
                await self._end_pairings_of(email, Withdrawal(participant=email, reason="withdrew"))
            elif after == AfterPairing.TOO_LATE:
                self.notify(email, NoticeKind.INFO, f"too-late/{summary.pairing_id}", notices.TOO_LATE_TO_REMATCH)

    @property
    def _rematch_possible(self) -> bool:
        kickoff = self.state.kickoff_at
        return kickoff is None or self.elapsed < kickoff + self.spec.durations.midpoint

    # Queries
    @workflow.query
    def status(self) -> ProgramStatus:
        self._members_in()
        return self.rules.status()

    def _members_in(self) -> None:
        """Queries need the members: in a run's first moments, while they load, ask again (bootstrap.PatientQueries
        does)."""
        if not self.members_loaded:
            raise ApplicationError(replies.MEMBERS_LOADING)

    def prompt_context(self, prompt: Prompt) -> PromptContext:
        return self.rules.prompt_context(prompt)

    @workflow.query
    def pending_prompts(self, participant: str) -> list[PendingPrompt]:
        self._members_in()
        return self.pending_for(participant.strip().lower())

    @workflow.query
    def member(self, participant: str) -> MemberView:
        self._members_in()
        with refusals():
            return self.rules.member_view(participant)

    @workflow.query
    def program_spec(self) -> ProgramSpec:
        """The spec the program runs on: the portal reads its coordinators, ground rules, modules and durations."""
        return self.spec


def _prepared(
    model: type[A], item: BatchedAnswer, check: Callable[[A], None], take: Callable[[A], str]
) -> Callable[[], str]:
    """One answer of a batch read as `model` and checked (a Refusal if it cannot be taken); what taking it does."""
    answer = read_answer(model, (item.answer,))
    check(answer)
    return lambda: take(answer)


def _changed(records: dict[str, R], stored: dict[str, dict[str, object]]) -> list[R]:
    """The records that differ from their stored page (or have none)."""
    return [r for key, r in records.items() if stored.get(key) != r.model_dump(mode="json")]


def _reason(error: ActivityError) -> str:
    """What an activity's final failure says, for a person: the cause's own sentence."""
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) and cause.message else "an unexpected error"
