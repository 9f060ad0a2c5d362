"""A program's members in pages outside Temporal: the roster it starts with and the members each run hands over.

Each page is sealed with the codec's keys (it holds names, emails and skills) and written once: a page stored
again (an activity retried, a program started twice with the same roster) leaves the first in place, and its
content is the same, since a batch's name says what it holds (domain/program.py, `roster_ref`, `handover_ref`).
"""

from datetime import UTC, datetime

from sqlalchemy import Engine, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.codec import Sealer
from adapters.store import tables as t
from domain.program import Member, MemberPage, MembersRef, in_pages


class MissingPage(LookupError):
    """A page a program needs is not in the record (another database, or deleted by hand)."""


class MemberShelf:
    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self.engine = engine
        self.sealer = sealer

    def put(self, page: MemberPage) -> None:
        row = {
            "workflow_id": page.ref.workflow_id,
            "batch": page.ref.batch,
            "page": page.page,
            "sealed": self.sealer.seal(page),
            "stored_at": datetime.now(UTC),
        }
        with self.engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(insert(t.member_pages).on_conflict_do_nothing(), [row])

    def put_all(self, ref: MembersRef, members: list[Member]) -> None:
        """Every page of a batch (a roster before its program starts)."""
        for number, page in enumerate(in_pages(members)):
            self.put(MemberPage(ref=ref, page=number, members=page))

    def get(self, ref: MembersRef, page: int) -> list[Member]:
        c = t.member_pages.c
        with self.engine.connect() as conn:
            sealed = conn.execute(
                select(c.sealed).where(c.workflow_id == ref.workflow_id, c.batch == ref.batch, c.page == page)
            ).scalar()
        if sealed is None:
            raise MissingPage(f"page {page} of {ref.batch} for {ref.workflow_id} is not in the record")
        return self.sealer.open(sealed, MemberPage).members

    def forget_older_handovers(self, ref: MembersRef) -> int:
        """Drop the handovers a program no longer reads: all but this one and the one before. The roster it
        started with stays (a reset in the Temporal UI may start the program's first run again)."""
        c = t.member_pages.c
        n = int(ref.batch.removeprefix("handover-"))
        kept = [f"handover-{n}", f"handover-{n - 1}"]
        stale = and_(c.workflow_id == ref.workflow_id, c.batch.like("handover-%"), c.batch.not_in(kept))
        with self.engine.begin() as conn:
            return conn.execute(delete(t.member_pages).where(stale)).rowcount or 0
