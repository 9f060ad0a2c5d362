"""A program's records in pages outside its workflow input: stored as a run hands over, loaded as a run starts."""

from typing import Any

import structlog
from temporalio import activity

from adapters.store.pages import PageShelf
from domain.program import Page, PageOf

log = structlog.get_logger()


class PageActivities:
    def __init__(self, shelf: PageShelf) -> None:
        self.shelf = shelf

    # Synchronous on purpose, as the record's: the SQL driver blocks, so these run in the worker's thread pool.
    @activity.defn(name="store_page")
    def store_page(self, page: Page) -> None:
        self.shelf.put(page)
        if page.page == 0 and page.ref.handover is not None:
            forgotten = self.shelf.forget_older_handovers(page.ref.workflow_id, page.ref.handover)
            log.debug("older handovers forgotten", program_id=page.ref.workflow_id, rows=forgotten)

    @activity.defn(name="load_page")
    def load_page(self, which: PageOf) -> list[dict[str, Any]]:
        # A missing page raises and is retried: a worker pointed at the wrong database waits to be fixed.
        return self.shelf.get(which.ref, which.page)
