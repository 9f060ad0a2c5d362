"""Who is looking and what is theirs, from the read model: a program's spec, each member's view of their place in
it, each pair's own record (sealed, opened only for the pair's pages) and the coordinator's status.

The program records its spec as it starts (`ProgramStarted.spec`) and each member's view whenever it changes
(`MemberShown`), so a page learns who its reader is with one query of the record and none of a workflow. A
program started before the record kept them has neither here: `ProgramEntry` says so, and the caller asks the
workflow as before.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from adapters.codec import Sealer
from adapters.store import tables as t
from adapters.store.prompts import CATCH_UP_LIMIT, CATCH_UP_POLL
from domain.pair_record import PairRecord
from domain.spec import ProgramSpec
from domain.views import MemberView, ProgramStatus


@dataclass(frozen=True)
class ProgramEntry:
    """What the record holds of a program: its spec (None if it started before specs were kept) and whether it
    shows its members here."""

    spec: ProgramSpec | None
    members_recorded: bool

    @property
    def shows_members(self) -> bool:
        """A program that recorded its spec shows its members too (the same release began both); one started
        before shows them once a run of newer code has begun to."""
        return self.spec is not None or self.members_recorded


class ViewShelf:
    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self.engine = engine
        self.sealer = sealer

    def program(self, program_id: str) -> ProgramEntry | None:
        """The program's entry; None while the record has nothing of it."""
        c = t.programs.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.spec, c.members_recorded).where(c.program_id == program_id)).first()
        if row is None:
            return None
        spec = None if row.spec is None else ProgramSpec.model_validate(row.spec)
        return ProgramEntry(spec=spec, members_recorded=bool(row.members_recorded))

    def member(self, program_id: str, email: str) -> MemberView | None:
        c = t.member_views.c
        with self.engine.connect() as conn:
            view = conn.execute(select(c.view).where(c.program_id == program_id, c.email == email)).scalar()
        return None if view is None else MemberView.model_validate(view)

    def until_program(self, program_id: str) -> ProgramEntry | None:
        """The program's entry, waiting (bounded) for a program so new that its start is still on its way."""
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while (entry := self.program(program_id)) is None and time.monotonic() < deadline:
            time.sleep(CATCH_UP_POLL)
        return entry

    def until_member(self, program_id: str, email: str) -> MemberView | None:
        """The member's view, waiting (bounded) for one whose first view is still on its way to the record."""
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while (view := self.member(program_id, email)) is None and time.monotonic() < deadline:
            time.sleep(CATCH_UP_POLL)
        return view

    def pair_record(self, pairing_id: str) -> PairRecord | None:
        """The pair's plan and check-ins as the pairing last showed them; None before it has."""
        c = t.pair_records.c
        with self.engine.connect() as conn:
            sealed = conn.execute(select(c.sealed).where(c.pairing_id == pairing_id)).scalar()
        return None if sealed is None else self.sealer.open(sealed, PairRecord)

    def until_pair_record(self, pairing_id: str) -> PairRecord | None:
        """The pair's record, waiting (bounded) for a pairing so new that its first showing is on its way."""
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while (record := self.pair_record(pairing_id)) is None and time.monotonic() < deadline:
            time.sleep(CATCH_UP_POLL)
        return record

    def status(self, program_id: str) -> ProgramStatus | None:
        """The coordinator's view, its proposal included, as the program last showed it; None before it has."""
        c = t.program_status.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.status, c.proposal).where(c.program_id == program_id)).first()
        return None if row is None else ProgramStatus.model_validate({**row.status, "proposal": row.proposal})

    def until_status(self, program_id: str) -> ProgramStatus | None:
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while (status := self.status(program_id)) is None and time.monotonic() < deadline:
            time.sleep(CATCH_UP_POLL)
        return status

    def status_shows(self, program_id: str, holds: Callable[[ProgramStatus], bool]) -> bool:
        """Wait, bounded, until the recorded status shows what an action just did; False if it has not in time."""
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while (status := self.status(program_id)) is None or not holds(status):
            if time.monotonic() > deadline:
                return False
            time.sleep(CATCH_UP_POLL)
        return True
