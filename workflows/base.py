"""What both workflows share: a pausable clock, prompts with reminders, and the outbox of notices and events."""

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.messages import Failure
    from domain import questions
    from domain.answers import Refusal
    from domain.core import WorkflowCore
    from domain.events import DomainEvent, Fact, PromptClosed, PromptShown
    from domain.notices import Meeting, Notice, NoticeKind, Words, conflicting_run_alert
    from domain.prompts import PendingPrompt, Prompt, PromptContext, PromptKind, view
    from domain.summaries import current_details, timer_label
    from workflows import calls

EVENTS_AS_THEY_HAPPEN = "events-go-to-the-record-as-they-happen"
ONE_TIMER_PER_DEADLINE = "one-timer-per-deadline"
MIN_TIMER = timedelta(seconds=1)


class Alarm:
    """One timer for one deadline on the active clock, kept across wakes while the deadline holds."""

    def __init__(self) -> None:
        self.at: timedelta | None = None
        self.timer: asyncio.Task[None] | None = None

    def set(self, at: timedelta, after: timedelta, summary: str) -> None:
        """Ring at `at`, `after` from now; a timer already set for `at` stands, one for another moment goes."""
        if self.timer is not None and self.at == at:
            return
        self.stop()
        self.at = at
        self.timer = asyncio.create_task(workflow.sleep(max(after, MIN_TIMER), summary=summary))

    @property
    def rang(self) -> bool:
        return self.timer is not None and self.timer.done() and not self.timer.cancelled()

    def take(self) -> timedelta:
        """The moment it rang for; the alarm is then free for the next deadline."""
        assert self.at is not None
        at, self.at, self.timer = self.at, None, None
        return at

    def stop(self) -> None:
        if self.timer is not None and not self.timer.done():
            self.timer.cancel()
        self.at, self.timer = None, None


@contextmanager
def refusals() -> Iterator[None]:
    """Turn a domain Refusal into an update rejection whose message a person can read; its one detail names the
    answer's field it is about (None for the answer as a whole), so a form can show it there."""
    try:
        yield
    except Refusal as error:
        raise ApplicationError(str(error), {"field": error.field}, type="Refused", non_retryable=True) from error


class PromptingWorkflow:
    """Base of the workflows: subclasses set `core`, `program_id`, `pairing_id`, `nudge_before` and
    `coordinators`, and say `where` they are."""

    core: WorkflowCore
    program_id: str
    pairing_id: str | None = None
    nudge_before: timedelta
    coordinators: list[str]
    _record_live: bool = False  # whether events go to the record as they happen (record_as_it_happens)
    # How many prompts one batch of events shows at most (None: all touched); a program sets it, since pausing
    # one touches every open prompt of its thousands of people, and showing 4,000 took half a second in one step.
    shown_per_batch: int | None = None

    # Read once a run: a large program records thousands of facts in a step, each naming both.
    @cached_property
    def workflow_id(self) -> str:
        return workflow.info().workflow_id

    @cached_property
    def origin(self) -> str:
        """The first run of this workflow's chain of runs: the record tells one chain from another by it."""
        return workflow.info().first_execution_run_id

    @property
    def elapsed(self) -> timedelta:
        return self.core.clock.elapsed(workflow.now())

    @property
    def where(self) -> str:
        """The phase or stage in words, for the Temporal UI."""
        raise NotImplementedError

    # What the Temporal UI shows as the workflow's current details: a string in memory, no command, so it is
    # free to set as often as it changes (after each update and signal: workflows/details.py).
    def show_progress(self) -> None:
        awaited = len(self.core.prompts.prompts)
        due = self.awaited_by() if awaited else None
        on_the_wall = None if due is None else self.core.clock.wall_time(due, workflow.now())
        workflow.set_current_details(current_details(self.where, awaited, on_the_wall, self.core.clock.paused))

    def awaited_by(self) -> timedelta | None:
        """When the first open prompt is due (active clock)."""
        return min((p.due for p in self.core.prompts.prompts.values()), default=None)

    # Notices and events
    def notify(
        self,
        to: str,
        kind: NoticeKind,
        key: str,
        words: Words,
        prompt_id: str | None = None,
        meeting: Meeting | None = None,
    ) -> None:
        self.core.outbox.append(
            Notice(
                key=f"{self.workflow_id}/{key}/{to}",
                to=to,
                kind=kind,
                subject=words.subject,
                body=words.body,
                program_id=self.program_id,
                pairing_id=self.pairing_id,
                prompt_id=prompt_id,
                meeting=meeting,
            )
        )

    def notify_coordinators(self, kind: NoticeKind, key: str, words: Words) -> None:
        """The same notice to each coordinator of the program."""
        for coordinator in self.coordinators:
            self.notify(coordinator, kind, key, words)

    def record(self, fact: Fact, participant: str | None = None, pairing_id: str | None = None) -> None:
        """Journal a fact; a program names the pairing a fact is about when it records one for a pairing."""
        self.core.journal.record(
            fact,
            workflow_id=self.workflow_id,
            program_id=self.program_id,
            pairing_id=pairing_id or self.pairing_id,
            at=workflow.now(),
            participant=participant,
            origin=self.origin,
        )

    async def send_outbox(self) -> None:
        while self.core.outbox:
            batch, self.core.outbox = self.core.outbox, []
            await calls.send_notices(batch)

    # Appends run only in the main coroutine (never in a handler or a task of their own), one after another, so
    # a workflow's events reach the record in the order it recorded them.
    async def flush_events(self) -> None:
        while batch := self.next_batch():
            await self.append_events(batch)

    async def flush_while_room(self) -> None:
        """As flush_events, while the record may be given events (a program handing over keeps the rest)."""
        while self.may_record() and (batch := self.next_batch()):
            await self.append_events(batch)

    def next_batch(self) -> list[DomainEvent]:
        """The events to append next, with how each touched prompt stands now recorded just before they are taken.

        Showing and taking in one step, with no await between, keeps every batch the same whichever way Temporal
        groups an update and an activity's result into activations, live or in replay: showing once before a
        loop of takes let a replay put a prompt's close into a batch the live run had sent without it."""
        self.show_prompts()
        self.show_views()
        return self.core.journal.take()

    def show_prompts(self) -> None:
        """Record how each prompt touched since last time stands now: shown as its person sees it, or closed."""
        for participant, prompt_id in self.core.prompts.take_touched(self.shown_per_batch):
            prompt = self.core.prompts.get(participant, prompt_id)
            if prompt is None:
                self.record(PromptClosed(prompt_id=prompt_id), participant)
                continue
            seen = view(prompt, self.core.clock, workflow.now(), self.prompt_context)
            self.record(
                PromptShown(prompt_id=prompt_id, prompt_kind=prompt.kind, due_at=seen.due_at, view=seen), participant
            )

    def show_views(self) -> None:
        """Record what else pages read that changed since last time: a program's members, a pair's record."""

    def record_as_it_happens(self) -> None:
        """From now on, hand events to the record as they happen rather than at the next phase or cycle: the
        waiting loop (`wait_until`) wakes for unrecorded events as it does for unsent notices, so pages read from
        the record follow an answer within an append's round trip. Appends stay in the main coroutine, where
        their order is the same live and in replay. Runs before this kept the old rhythm (workflow.patched)."""
        self._record_live = workflow.patched(EVENTS_AS_THEY_HAPPEN)
        if self._record_live and not self.core.prompts.tracking:  # the first run to tell the record: show all
            self.core.prompts.tracking = True
            self.core.prompts.touch_all()

    @property
    def unrecorded(self) -> bool:
        """Events or prompt changes the record has not been given yet (only while recording as it happens)."""
        changed = self.core.journal.unsent or self.core.prompts.touched or self.views_touched
        return self._record_live and self.may_record() and bool(changed)

    @property
    def views_touched(self) -> bool:
        """Views changed with no event of their own (a program's members) that the record has not been told."""
        return False

    def may_record(self) -> bool:
        """Whether the record may be given events now; a program handing over to its next run keeps them."""
        return True

    async def record_now(self) -> None:
        """Give the record what happened since last time; a program handing over keeps it for its next run."""
        if self._record_live:
            await self.flush_while_room()

    async def append_events(self, batch: list[DomainEvent]) -> None:
        try:
            await calls.append_events(batch)
        except ActivityError as error:
            cause = error.cause
            if not (isinstance(cause, ApplicationError) and cause.type == Failure.CONFLICTING_RUN):
                raise
            await self._stop_for_conflicting_run(cause.message)

    async def _stop_for_conflicting_run(self, reason: str) -> None:
        """Another run holds this workflow id in the record: tell the coordinators, send nothing else, and fail.

        Its unsent notices are dropped (they would reach people under the earlier run's keys); the alert's key
        names this run, so the outbox cannot take it for one of the earlier run's.
        """
        self.core.outbox = []
        words = conflicting_run_alert(self.workflow_id)
        run = self.origin
        self.notify_coordinators(NoticeKind.ALERT, f"conflicting-run/{run}", words)
        await self.send_outbox()
        raise ApplicationError(f"{words.subject}: {reason}", type=Failure.CONFLICTING_RUN, non_retryable=True)

    async def send_and_flush(self) -> None:
        """Notices and events at once: two activities side by side instead of one after the other."""
        await asyncio.gather(self.send_outbox(), self.flush_events())

    # Prompts
    def ask(
        self,
        prompt_id: str,
        kind: PromptKind,
        to: str,
        question: str,
        update: str,
        due: timedelta,
        meeting: Meeting | None = None,
        note: str = "",
    ) -> None:
        """Open a prompt for a person and send it; `question` and `note` come from domain.questions."""
        prompt = Prompt(
            id=prompt_id,
            kind=kind,
            participant=to,
            question=question,
            note=note,
            workflow_id=self.workflow_id,
            update=update,
            opened=self.elapsed,
            due=due,
        )
        self.core.prompts.open(prompt)
        words = questions.prompt_notice(question, note, prompt_id, self._due_at(prompt))
        self.notify(to, NoticeKind.PROMPT, prompt.notice_key, words, prompt_id=prompt_id, meeting=meeting)

    def _due_at(self, prompt: Prompt) -> datetime | None:
        return self.core.clock.wall_time(prompt.due, workflow.now())

    def _queue_reminders(self) -> None:
        for prompt in self.core.prompts.due_for_reminder(self.elapsed, self.nudge_before):
            prompt.reminded = True
            words = questions.reminder_notice(prompt.question, prompt.note, prompt.id, self._due_at(prompt))
            # Its link opens the prompt; only the activity input changes, replay holds.
            self.notify(prompt.participant, NoticeKind.REMINDER, f"{prompt.notice_key}/reminder", words, prompt.id)

    def remind_now(self, prompts: list[Prompt], round_: int) -> int:
        """A reminder of each of `prompts` now, told apart from earlier rounds; how many people it reached."""
        for prompt in prompts:
            words = questions.reminder_notice(prompt.question, prompt.note, prompt.id, self._due_at(prompt))
            self.notify(
                prompt.participant, NoticeKind.REMINDER, f"{prompt.notice_key}/nudge-{round_}", words, prompt.id
            )
        return len({prompt.participant for prompt in prompts})

    def prompt_context(self, prompt: Prompt) -> PromptContext:
        """What a surface needs to answer `prompt`; each workflow's rules give it."""
        return PromptContext()

    def pending_for(self, participant: str) -> list[PendingPrompt]:
        return self.core.prompts.pending(participant, self.core.clock, workflow.now(), self.prompt_context)

    def on_expired(self, prompt: Prompt) -> None:
        """Hook for a prompt whose time ran out; stages read what was answered, so the default does nothing."""

    # Waiting
    async def wait_until(self, offset: timedelta, until: Callable[[], bool] = lambda: False) -> None:
        """Wait until the active clock reaches `offset` or `until()` holds, reminding people on the way.

        Time paused by a coordinator does not count. Notices queued by update handlers go out as they come, and
        events go to the record. One timer stands for each deadline while it holds: an answer that wakes the loop
        leaves it running, where a timer per wake was cancelled by every answer (two events in the history each,
        and a cancel racing the timer's firing is what strands the time-skipping test server: sdk-java#3088).
        Runs recorded before keep a timer per wake.
        """
        if not workflow.patched(ONE_TIMER_PER_DEADLINE):
            await self._wait_with_a_timer_per_wake(offset, until)
            return
        alarm = Alarm()
        try:
            while not await self._caught_up(offset, until):
                if self.core.clock.paused:
                    alarm.stop()
                    await workflow.wait_condition(lambda: not self.core.clock.paused or self._woken(until))
                    continue
                wake_at = self._wake_at(offset)
                alarm.set(wake_at, wake_at - self.elapsed, timer_label(self.where, at_the_end=wake_at == offset))
                await workflow.wait_condition(lambda: self.core.clock.paused or self._woken(until) or alarm.rang)
                if alarm.rang:
                    self.core.clock.reach(alarm.take())  # decided by the timer's firing, never the task's time
        finally:
            alarm.stop()

    async def _caught_up(self, offset: timedelta, until: Callable[[], bool]) -> bool:
        """Send what is queued, expire and remind, record; whether the wait is over."""
        await self.send_outbox()
        for prompt in self.core.prompts.expire(self.elapsed):
            self.on_expired(prompt)
        self._queue_reminders()
        await self.send_outbox()
        await self.record_now()
        if until() or self.elapsed >= offset:
            return True
        self.show_progress()
        return False

    def _woken(self, until: Callable[[], bool]) -> bool:
        return bool(self.core.outbox) or self.unrecorded or until()

    def _wake_at(self, offset: timedelta) -> timedelta:
        next_deadline = self.core.prompts.next_deadline(self.nudge_before)
        return offset if next_deadline is None else min(offset, next_deadline)

    async def _wait_with_a_timer_per_wake(self, offset: timedelta, until: Callable[[], bool]) -> None:
        """`wait_until` as runs recorded before ONE_TIMER_PER_DEADLINE wait: each wake cancels its timer."""
        while not await self._caught_up(offset, until):
            if self.core.clock.paused:
                await workflow.wait_condition(lambda: not self.core.clock.paused or self._woken(until))
                continue
            wake_at = self._wake_at(offset)
            try:
                await workflow.wait_condition(
                    lambda: self.core.clock.paused or self._woken(until),
                    timeout=max(wake_at - self.elapsed, MIN_TIMER),
                    timeout_summary=timer_label(self.where, at_the_end=wake_at == offset),
                )
            except TimeoutError:
                self.core.clock.reach(wake_at)  # decided by the timer's firing, never by the task's time alone

    # Pause
    def pause_clock(self) -> None:
        self.core.clock.pause(workflow.now())
        self.core.prompts.touch_all()  # due dates are unknown while paused

    def resume_clock(self) -> None:
        self.core.clock.resume(workflow.now())
        self.core.prompts.touch_all()  # and move on by the pause's length
