"""A program's members in pages outside its workflow input: stored as a run hands over, loaded as a run starts."""

import structlog
from temporalio import activity

from adapters.store.members import MemberShelf
from domain.program import Member, MemberPage, PageOf

log = structlog.get_logger()


class MemberActivities:
    def __init__(self, shelf: MemberShelf) -> None:
        self.shelf = shelf

    # Synchronous on purpose, as the record's: the SQL driver blocks, so these run in the worker's thread pool.
    @activity.defn(name="store_members")
    def store_members(self, page: MemberPage) -> None:
        self.shelf.put(page)
        if page.page == 0 and page.ref.batch.startswith("handover-"):
            forgotten = self.shelf.forget_older_handovers(page.ref)
            log.debug("older handovers forgotten", program_id=page.ref.workflow_id, pages=forgotten)

    @activity.defn(name="load_members")
    def load_members(self, which: PageOf) -> list[Member]:
        # A missing page raises and is retried: a worker pointed at the wrong database waits to be fixed.
        return self.shelf.get(which.ref, which.page)
