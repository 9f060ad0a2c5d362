"""Runs a Flipside worker: both workflows and every activity, on the task queue from the settings."""

import asyncio
import gc
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker

from activities.matching import MatchingActivities
from activities.notify import NotificationActivities
from activities.pages import PageActivities
from activities.record import EventStore, RecordActivities
from activities.snapshots import SnapshotActivities
from adapters.channels import Channel
from adapters.outbox import SqlOutbox
from adapters.store.pages import PageShelf
from adapters.store.sql import SqlEventStore
from bootstrap import connect, make_channel, make_dispatcher, record_engine, sealer
from settings import Settings, configure_logging, exit_with, record_unreachable
from workflows.details import CurrentDetails
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow
from workflows.receipts import AnswerReceipts
from workflows.task_time import GuardedRunner

log = structlog.get_logger()
SYNC_ACTIVITY_THREADS = 8  # SQL appends; more would only queue on the database's write lock
# Workflow tasks this process runs at once. They share one GIL, so more at once only makes each take longer: at
# the SDK's default of 100, a burst (2,000 pairings' deadlines falling together) held each activation past the
# SDK's 2-second deadlock limit on a busy 2-core machine. The rest wait their turn in Temporal's queue.
WORKFLOW_TASK_SLOTS = 10

# The garbage collector's thresholds (allocations before a young collection; young collections before an older
# one). A full collection stops every thread of the process while it walks every live object, and a worker holding
# a large program and its thousand cached pairings has millions: each took 0.2 to 0.46 s, 69 of them in a
# 2,000-pairing program at Python's defaults (700, 10, 10), and landed inside workflow tasks. Reference counting
# frees almost everything; the collector is only for cycles: finished and evicted runs, whose instances (event loop,
# tasks, the sandbox's copy of the workflow module) only a full collection frees. A program's run lets go of its
# members as it hands over (`ProgramWorkflow._let_go_of_members`), so at 10,000 people what waits for a collection
# is the pairings' instances: peak 1,091 MB, longest full collection 1.84 s (bench/results/worker-memory.md).
# (10,000, 10, 10) gives 539 MB and 1.17 s there, but puts full collections of up to 0.97 s into the 2,000-pairing
# test's workflow steps, where the suite's load has turned 1 s steps into deadlock failures before.
COLLECTOR_THRESHOLDS = (10_000, 5, 100)


# What every worker runs its workflows with; a replay of their histories must run with the same (tests/helpers).
WORKFLOW_INTERCEPTORS: tuple[Interceptor, ...] = (AnswerReceipts(), CurrentDetails())


def build_worker(
    client: Client,
    settings: Settings,
    channel: Channel | None = None,
    store: EventStore | None = None,
    max_cached_workflows: int = 1000,
    interceptors: Sequence[Interceptor] = (),
    workflows: Sequence[type] = (ProgramWorkflow, PairingWorkflow),
) -> Worker:
    """The one place where activities get their channel and store; tests pass their own (and interceptors).

    A worker that caches no workflows replays each one from its history on every task, and leaves no sticky
    queue behind when it stops: tests of a worker restart use that.
    """
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    notifications = NotificationActivities(channel or make_channel(settings))
    store = store or SqlEventStore(settings.database)
    record = RecordActivities(store, sealer(settings))
    # Programs' pages live in the record's database: the store's own engine where it has one (a test's wrapper
    # of a store may not).
    shelf = PageShelf(getattr(store, "engine", None) or record_engine(settings), sealer(settings))
    pages, matching = PageActivities(shelf), MatchingActivities(shelf)
    snapshots = SnapshotActivities(client, settings.snapshots_dir)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows,
        activities=[
            notifications.send_notices,
            record.append_events,
            pages.store_page,
            pages.load_page,
            snapshots.snapshot_metrics,
            matching.propose_matches,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=SYNC_ACTIVITY_THREADS),
        max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
        max_cached_workflows=max_cached_workflows,
        interceptors=[*WORKFLOW_INTERCEPTORS, *interceptors],
        # A live task the SDK hands an earlier task's time is failed and taken again from the history.
        workflow_runner=GuardedRunner(),
        unsandboxed_workflow_runner=GuardedRunner(UnsandboxedWorkflowRunner()),
    )


async def main() -> None:
    stopping = asyncio.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):  # `docker stop`, `make stop`, Ctrl-C: a clean exit, 0
        asyncio.get_running_loop().add_signal_handler(stop_signal, stopping.set)
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    client = await connect(settings)
    log.info(
        "worker starting",
        address=settings.temporal_address,
        task_queue=settings.task_queue,
        data_dir=str(settings.data_dir),
        database=settings.database.split("@")[-1],  # never log a password
        notify=settings.notify,
    )
    try:
        channel = make_channel(settings)
        store = SqlEventStore(settings.database)
    except SQLAlchemyError as error:
        raise record_unreachable(settings.database, error) from error
    await serve(build_worker(client, settings, channel=channel, store=store), settings, channel, stopping)
    log.info("worker stopped")


async def serve(worker: Worker, settings: Settings, channel: Channel, stopping: asyncio.Event) -> None:
    """Run until asked to stop. In email mode the dispatcher runs beside the worker, in the same event loop, woken
    by each queued notice; more workers may run it too: dispatchers claim rows, so each email goes out once."""
    async with worker:
        dispatching = None
        if isinstance(channel, SqlOutbox):
            dispatching = asyncio.create_task(make_dispatcher(settings, channel).run())
        log.info("worker running", task_queue=settings.task_queue)
        await stopping.wait()
        log.info("worker stopping")
        if dispatching is not None:
            dispatching.cancel()


if __name__ == "__main__":
    exit_with(lambda: asyncio.run(main()))
