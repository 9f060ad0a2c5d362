"""Records of a program in pages outside Temporal: the roster it starts with, the members and pairings each run
hands over, a pool sent to matching (domain/program.py, `PagesRef`).

Each page is sealed with the codec's keys (it holds names, emails and skills) and written once: a page stored
again (an activity retried, a program started twice with the same roster) leaves the first in place, and its
content is the same, since a batch's name says what it holds.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.codec import Sealer
from adapters.store import tables as t
from domain.program import Page, PagesRef, handover_batch, in_pages


class MissingPage(LookupError):
    """A page a program needs is not in the record (another database, or deleted by hand)."""


class PageShelf:
    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self.engine = engine
        self.sealer = sealer

    def put(self, page: Page) -> None:
        row = {
            "workflow_id": page.ref.workflow_id,
            "batch": page.ref.batch,
            "page": page.page,
            "sealed": self.sealer.seal(page),
            "stored_at": datetime.now(UTC),
        }
        with self.engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(insert(t.state_pages).on_conflict_do_nothing(), [row])

    def put_all(self, ref: PagesRef, items: list[dict[str, Any]]) -> None:
        """Every page of a batch (a roster before its program starts)."""
        for number, page in enumerate(in_pages(items)):
            self.put(Page(ref=ref, page=number, items=page))

    def get(self, ref: PagesRef, page: int) -> list[dict[str, Any]]:
        c = t.state_pages.c
        with self.engine.connect() as conn:
            sealed = conn.execute(
                select(c.sealed).where(c.workflow_id == ref.workflow_id, c.batch == ref.batch, c.page == page)
            ).scalar()
        if sealed is None:
            raise MissingPage(f"page {page} of {ref.batch} for {ref.workflow_id} is not in the record")
        return self.sealer.open(sealed, Page).items

    def forget_older_handovers(self, workflow_id: str, handover: int) -> int:
        """Drop the pages a program no longer reads as it hands over for the n-th time: handovers but the n-th and
        the one before, and pools sent to matching (a run hands over only once its matching has answered). The
        roster it started with stays (a reset in the Temporal UI may start the program's first run again)."""
        c = t.state_pages.c
        kept = or_(c.batch.like(handover_batch(handover, "%")), c.batch.like(handover_batch(handover - 1, "%")))
        older = and_(c.batch.like(handover_batch("%", "%")), not_(kept))
        stale = and_(c.workflow_id == workflow_id, or_(older, c.batch.like("pool-%")))
        with self.engine.begin() as conn:
            return conn.execute(delete(t.state_pages).where(stale)).rowcount or 0
