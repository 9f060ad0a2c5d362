"""Prompts: what a workflow is waiting for a person to answer, and by when."""

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import islice

from pydantic import BaseModel

from domain.answers import Plan, Refusal
from domain.clock import ActiveClock
from domain.durations import Duration

# Said to someone who answers a prompt whose pairing or program has already ended (closed from Temporal, say).
CLOSED_PROMPT = "This has closed: the pairing or program it belongs to has ended, so there is nothing to answer here."


class PromptKind(StrEnum):
    OPT_IN = "opt_in"
    TRAINING = "training"
    PREFERENCES = "preferences"
    APPROVE_MATCHES = "approve_matches"
    ACCEPT_MATCH = "accept_match"
    PROPOSE_PLAN = "propose_plan"
    AGREE_PLAN = "agree_plan"
    CHECK_IN = "check_in"
    PULSE = "pulse"
    MIDPOINT_SURVEY = "midpoint_survey"
    CLOSEOUT_SURVEY = "closeout_survey"


class Partner(BaseModel):
    """Who a match introduces, and why the two were matched."""

    name: str
    is_mentor: bool  # whether the partner is the reverse mentor (so the one asked is the mentee)
    reasons: list[str] = []


class PromptContext(BaseModel):
    """What a surface must show and check to answer a prompt, as data: a portal, CLI or chat renders its form
    from this and never reads the question's words. Each kind fills what it needs; the rest keep defaults."""

    cycle: int | None = None  # check-in, pulse
    ground_rules: list[str] = []  # opt-in, propose and agree a plan
    modules: list[str] = []  # training: every module, and those already done
    modules_done: list[str] = []
    max_choices: int = 0  # preferences: how many people may be ranked
    partner: Partner | None = None  # accept-match
    plan: Plan | None = None  # agree-plan: the plan proposed
    proposed_by: str | None = None  # agree-plan: the name of who proposed it
    cadences: list[Duration] = []  # propose-plan: the meeting cadences allowed, and the program's default
    default_cadence: Duration | None = None
    skills_to_rate: list[str] = []  # close-out survey


class Prompt(BaseModel):
    id: str  # unique per participant within a workflow, e.g. "check-in-3"
    kind: PromptKind
    participant: str
    question: str
    note: str = ""  # said below the question in its notices (an accept-match's reasons)
    workflow_id: str
    update: str  # the workflow update that answers it
    opened: timedelta  # active-clock offsets
    due: timedelta
    reminded: bool = False
    asked: int = 1  # the how-manyth time this prompt is asked of this person

    @property
    def notice_key(self) -> str:
        """The business key of its notice. A prompt asked again (an overdue approval, a revised plan to agree)
        needs a key of its own: the channel sends each key once, and would take the repeat for the first."""
        return self.id if self.asked == 1 else f"{self.id}/again-{self.asked}"


class PendingPrompt(BaseModel):
    """A prompt as a person sees it: the due date on the wall clock (None while the program is paused)."""

    id: str
    kind: PromptKind
    participant: str
    question: str
    workflow_id: str
    update: str
    due_at: datetime | None
    paused: bool
    context: PromptContext = PromptContext()


class PromptBook(BaseModel):
    prompts: dict[str, Prompt] = {}
    times_asked: dict[str, int] = {}  # by participant and prompt id, across closings and continue-as-new
    # While tracking, the prompts opened, closed or changed since the workflow last told the record (an ordered
    # set of keys): the record then shows each person their open prompts without asking the workflow.
    tracking: bool = False
    touched: dict[str, None] = {}

    @staticmethod
    def _key(participant: str, prompt_id: str) -> str:
        return f"{participant}|{prompt_id}"

    def _touch(self, key: str) -> None:
        if self.tracking:
            self.touched[key] = None

    def touch(self, participant: str, prompt_id: str) -> None:
        """Something a prompt shows changed (a training module done): the record must show it again."""
        self._touch(self._key(participant, prompt_id))

    def touch_all(self) -> None:
        """Every open prompt changed (the clock paused or resumed, so every due date did)."""
        for key in self.prompts:
            self._touch(key)

    def take_touched(self, limit: int | None = None) -> list[tuple[str, str]]:
        """The (participant, prompt id) of each prompt touched since the last call, in the order touched: all of
        them, or the first `limit` (the rest wait for the next call)."""
        keys = list(islice(self.touched, limit))
        for key in keys:
            del self.touched[key]
        return [(participant, prompt_id) for participant, _, prompt_id in (k.partition("|") for k in keys)]

    def open(self, prompt: Prompt) -> None:
        key = self._key(prompt.participant, prompt.id)
        prompt.asked = self.times_asked[key] = self.times_asked.get(key, 0) + 1
        self.prompts[key] = prompt
        self._touch(key)

    def get(self, participant: str, prompt_id: str) -> Prompt | None:
        return self.prompts.get(self._key(participant, prompt_id))

    def require_pending(self, participant: str, prompt_id: str, what: str) -> Prompt:
        prompt = self.get(participant, prompt_id)
        if prompt is None:
            open_ids = ", ".join(sorted(p.id for p in self.for_participant(participant))) or "none"
            raise Refusal(f"{participant} has no pending {what} to answer (open prompts: {open_ids})")
        return prompt

    def close(self, participant: str, prompt_id: str) -> Prompt | None:
        key = self._key(participant, prompt_id)
        if key in self.prompts:
            self._touch(key)
        return self.prompts.pop(key, None)

    def close_all(self, participant: str | None = None) -> list[Prompt]:
        keys = [k for k, p in self.prompts.items() if participant is None or p.participant == participant]
        return self._pop(keys)

    def _pop(self, keys: list[str]) -> list[Prompt]:
        for key in keys:
            self._touch(key)
        return [self.prompts.pop(k) for k in keys]

    def for_participant(self, participant: str) -> list[Prompt]:
        return [p for p in self.prompts.values() if p.participant == participant]

    def of_kind(self, kind: PromptKind) -> list[Prompt]:
        return [p for p in self.prompts.values() if p.kind == kind]

    def due_for_reminder(self, elapsed: timedelta, nudge_before: timedelta) -> list[Prompt]:
        """Prompts whose reminder time has come; each is reminded once, `nudge_before` ahead of its due time."""
        return [p for p in self.prompts.values() if not p.reminded and self._remind_at(p, nudge_before) <= elapsed]

    def expire(self, elapsed: timedelta) -> list[Prompt]:
        return self._pop([k for k, p in self.prompts.items() if p.due <= elapsed])

    def next_deadline(self, nudge_before: timedelta) -> timedelta | None:
        times = [p.due for p in self.prompts.values()]
        times += [self._remind_at(p, nudge_before) for p in self.prompts.values() if not p.reminded]
        return min(times, default=None)

    @staticmethod
    def _remind_at(prompt: Prompt, nudge_before: timedelta) -> timedelta:
        # A prompt whose whole window is shorter than the nudge is reminded halfway, not at once.
        return max(prompt.due - nudge_before, prompt.opened + (prompt.due - prompt.opened) / 2)

    def pending(
        self, participant: str, clock: ActiveClock, now: datetime, context: Callable[[Prompt], PromptContext]
    ) -> list[PendingPrompt]:
        """A person's open prompts, due dates on the wall clock, each with its context as the workflow's rules
        give it now (a training prompt shows the modules done so far)."""
        return [
            view(p, clock, now, context) for p in sorted(self.for_participant(participant), key=lambda p: (p.due, p.id))
        ]


def view(
    prompt: Prompt, clock: ActiveClock, now: datetime, context: Callable[[Prompt], PromptContext]
) -> PendingPrompt:
    """A prompt as its person sees it now: the due date on the wall clock (None while paused), and its context."""
    return PendingPrompt(
        id=prompt.id,
        kind=prompt.kind,
        participant=prompt.participant,
        question=prompt.question,
        workflow_id=prompt.workflow_id,
        update=prompt.update,
        due_at=clock.wall_time(prompt.due, now),
        paused=clock.paused,
        context=context(prompt),
    )
