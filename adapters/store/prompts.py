"""What one person reads of their own prompts, from the read model: the pages' path, never a workflow query.

The record keeps each open prompt as the person sees it, sealed with the codec's keys (`open_prompts`); only a
process holding the keyring (the portal) opens it. A program started before the record kept prompts
(`programs.prompts_recorded` false) has none here: `for_person` says so with None, and the caller asks the
workflows as before.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import ColumnElement, Engine, Table, func, select

from adapters.codec import Sealer
from adapters.store import tables as t
from domain.prompts import PendingPrompt

CATCH_UP_LIMIT = 3.0  # seconds a page waits for the record to show an answer's effect
CATCH_UP_POLL = 0.05


class ShownBefore(Protocol):
    """An answered prompt, and the event that showed it before the answer."""

    @property
    def workflow_id(self) -> str: ...
    @property
    def prompt_id(self) -> str: ...
    @property
    def shown_as(self) -> int: ...


@dataclass(frozen=True)
class Freshness:
    """How far the record has got with a program: its newest event's time (None before any)."""

    latest: datetime | None


@dataclass(frozen=True)
class Where:
    """One person's prompt by id, in one workflow or any of a program's: the same filter on open prompts and
    on the event log."""

    program_id: str
    workflow_id: str | None
    person: str
    prompt_id: str

    def __call__(self, table: Table) -> list[ColumnElement[bool]]:
        c = table.c
        found = [c.program_id == self.program_id, c.participant == self.person]
        if self.workflow_id is not None:
            found.append(c.workflow_id == self.workflow_id)
        if table is t.open_prompts:
            found.append(c.prompt_id == self.prompt_id)
        return found


class PromptShelf:
    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self.engine = engine
        self.sealer = sealer

    def for_person(self, program_id: str, person: str) -> list[PendingPrompt] | None:
        """The prompts waiting for `person` in the program and its pairings, soonest due first; None when this
        program does not keep its prompts in the record."""
        if not self._keeps_prompts(program_id):
            return None
        c = t.open_prompts.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.sealed)
                .where(c.program_id == program_id, c.participant == person)
                .order_by(c.due_at.is_(None), c.due_at, c.prompt_id)
            ).scalars()
            return [self.sealer.open(sealed, PendingPrompt) for sealed in rows]

    def shown_as(self, workflow_id: str, person: str, prompt_id: str) -> int | None:
        """The event that last showed this prompt; None once it is closed."""
        c = t.open_prompts.c
        with self.engine.connect() as conn:
            found = conn.execute(
                select(c.shown_event_id).where(
                    c.workflow_id == workflow_id, c.participant == person, c.prompt_id == prompt_id
                )
            ).scalar()
        return None if found is None else int(found)

    def until_shown(self, program_id: str, workflow_id: str | None, person: str, prompt_id: str) -> bool:
        """Wait, bounded, for the record to show a prompt it has never closed (in one workflow, or in any of the
        program's when `workflow_id` is None); False at once for one it closed, or for a program whose record
        keeps no prompts.

        A prompt's message and its event leave the workflow side by side, so a link opened the moment its message
        arrives can be ahead of the record; a link to a prompt answered or closed since has nothing to wait for."""
        if not self._keeps_prompts(program_id):
            return False
        where = Where(program_id, workflow_id, person, prompt_id)
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while not self._closed(where):
            with self.engine.connect() as conn:
                if conn.execute(select(t.open_prompts.c.prompt_id).where(*where(t.open_prompts))).first():
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(CATCH_UP_POLL)
        return False

    def _keeps_prompts(self, program_id: str) -> bool:
        """Whether the record keeps the program's prompts: it shows one already, or the program began with the
        code that shows them all (its spec is in the record) and its first is on its way."""
        c = t.programs.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.prompts_recorded, c.spec).where(c.program_id == program_id)).first()
        return row is not None and (bool(row.prompts_recorded) or row.spec is not None)

    def _closed(self, where: Where) -> bool:
        with self.engine.connect() as conn:
            facts = conn.execute(select(t.events.c.fact).where(*where(t.events), t.events.c.kind == "prompt_closed"))
            prompt_id = where.prompt_id
            return any(fact.get("prompt_id") == prompt_id for fact in facts.scalars())

    def all_caught_up(self, person: str, answers: Sequence[ShownBefore]) -> bool:
        """Wait, bounded, until the record no longer shows any of a person's answered prompts as it was before the
        answer (closed, or shown again); False when it has not caught up in time, and the page should say so."""
        deadline, waiting = time.monotonic() + CATCH_UP_LIMIT, list(answers)
        while True:
            waiting = [a for a in waiting if self.shown_as(a.workflow_id, person, a.prompt_id) == a.shown_as]
            if not waiting:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(CATCH_UP_POLL)

    def freshness(self, program_id: str) -> Freshness:
        with self.engine.connect() as conn:
            latest = conn.execute(select(func.max(t.events.c.at)).where(t.events.c.program_id == program_id)).scalar()
        if latest is not None and latest.tzinfo is None:  # SQLite keeps no zone; every event is UTC
            latest = latest.replace(tzinfo=UTC)
        return Freshness(latest=latest)
