"""Activity calls with their timeouts and retry policies, in one place, each labelled for the Temporal UI with
counts and kinds only (domain/summaries.py).

Notices and events retry without limit: a mail provider or database outage must delay the program, never
lose a message or a fact. Matching and snapshots are bounded, and their final failure is the program's to handle
(workflows/program.py): matching that fails on its input is not retried at all, and the coordinators are told.
"""

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.messages import EventBatch, Failure, MatchRequest, NoticeBatch, SnapshotRequest
    from domain.events import DomainEvent
    from domain.matching import MatchProposal
    from domain.metrics import ProgramMetrics
    from domain.notices import Notice
    from domain.program import Page, PageOf, PagesRef, in_pages
    from domain.summaries import events_label, matching_label, notices_label, pages_label, snapshot_label

# Every failure of a notice or an append is retried (an outage delays, never loses), but a conflicting run.
PATIENT = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[Failure.CONFLICTING_RUN],
)
BOUNDED = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
R = TypeVar("R", bound=BaseModel)  # a record kept in pages: a member or a pairing
BATCH = 100  # notices per activity: well under the 2 MB payload limit, few activities for a large program


async def send_notices(notices: list[Notice]) -> None:
    for start in range(0, len(notices), BATCH):
        batch = notices[start : start + BATCH]
        await workflow.execute_activity(
            "send_notices",
            NoticeBatch(notices=batch),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PATIENT,
            summary=notices_label([n.kind.value for n in batch]),
        )


async def append_events(events: list[DomainEvent]) -> None:
    await workflow.execute_activity(
        "append_events",
        EventBatch(events=events),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=PATIENT,
        summary=events_label([e.kind for e in events]),
    )


async def propose_matches(request: MatchRequest) -> MatchProposal:
    proposal: MatchProposal = await workflow.execute_activity(
        "propose_matches",
        request,
        result_type=MatchProposal,
        start_to_close_timeout=timedelta(minutes=30),  # minutes of CPU for ten thousand people
        heartbeat_timeout=timedelta(seconds=30),  # a lost worker is noticed in seconds, not half an hour
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_attempts=5,
            non_retryable_error_types=[Failure.MATCHING_FAILED],
        ),
        summary=matching_label(request.size, request.mode.value),
    )
    return proposal


async def snapshot_metrics(request: SnapshotRequest) -> ProgramMetrics:
    metrics: ProgramMetrics = await workflow.execute_activity(
        "snapshot_metrics",
        request,
        result_type=ProgramMetrics,
        start_to_close_timeout=timedelta(minutes=10),  # a query per running pairing, 20 at a time
        heartbeat_timeout=timedelta(minutes=1),
        retry_policy=BOUNDED,
        summary=snapshot_label(request.label, len(request.running)),
    )
    return metrics


async def store_pages_in_steps(ref: PagesRef, records: dict[str, R]) -> dict[str, dict[str, Any]]:
    """Each page of records dumped (`model_dump(mode="json")`) and stored in a workflow step of its own, one after
    another: dumping a 4,000-person program's members and pairings at once took a third of a second in one step.
    Returns each record's dump under its key, to compare with the records as they stand at the end."""
    dumped: dict[str, dict[str, Any]] = {}
    for n, page in enumerate(in_pages(list(records.items()))):
        items = {key: record.model_dump(mode="json") for key, record in page}
        dumped.update(items)
        await _store_page(Page.model_construct(ref=ref, page=n, items=list(items.values())))
    return dumped


async def store_pages(ref: PagesRef, records: list[dict[str, Any]]) -> None:
    """Every page of a batch of records (each as `model_dump(mode="json")` gives it, so the pages hold them as
    they were then), stored at once; a page is written once: a retry is harmless."""
    pages = in_pages(records)
    # Built without validation: the records are dumps of models just validated, and validating them again cost a
    # 4,000-person handover a third of a second in one workflow step.
    built = (Page.model_construct(ref=ref, page=n, items=page) for n, page in enumerate(pages))
    await asyncio.gather(*(_store_page(page) for page in built))


async def _store_page(page: Page) -> None:
    await workflow.execute_activity(
        "store_page",
        page,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=PATIENT,
        summary=pages_label("Store", page.page, page.ref.pages, page.ref.batch),
    )


async def load_pages(ref: PagesRef, record: type[R]) -> list[R]:
    """The records a run starts with, page by page: each page is decoded in its own workflow step."""
    records: list[R] = []
    for page in range(ref.pages):
        loaded: list[R] = await workflow.execute_activity(
            "load_page",
            PageOf(ref=ref, page=page),
            result_type=list[record],  # type: ignore[valid-type]
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PATIENT,  # a page not found yet (a worker on the wrong database) waits to be fixed
            summary=pages_label("Load", page, ref.pages, ref.batch),
        )
        records.extend(loaded)
    return records
