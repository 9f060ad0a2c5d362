"""Runs a Flipside worker: both workflows and every activity, on the task queue from the settings."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.matching import propose_matches_activity
from activities.notify import Channel, NotificationActivities, OutboxFileChannel
from activities.record import EventStore, RecordActivities
from activities.snapshots import SnapshotActivities
from activities.store.sql import SqlEventStore
from settings import Settings, configure_logging, connect
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

log = structlog.get_logger()
SYNC_ACTIVITY_THREADS = 8  # SQL appends; more would only queue on the database's write lock


def build_worker(
    client: Client,
    settings: Settings,
    channel: Channel | None = None,
    store: EventStore | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    """The one place where activities get their channel and store; tests pass their own.

    A worker that caches no workflows replays each one from its history on every task, and leaves no sticky
    queue behind when it stops: tests of a worker restart use that.
    """
    notifications = NotificationActivities(channel or OutboxFileChannel(settings.outbox_path))
    record = RecordActivities(store or SqlEventStore(settings.database))
    snapshots = SnapshotActivities(client, settings.snapshots_dir)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ProgramWorkflow, PairingWorkflow],
        activities=[
            notifications.send_notices,
            record.append_events,
            snapshots.snapshot_metrics,
            propose_matches_activity,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=SYNC_ACTIVITY_THREADS),
        max_cached_workflows=max_cached_workflows,
    )


async def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    client = await connect(settings)
    log.info(
        "worker starting",
        address=settings.temporal_address,
        task_queue=settings.task_queue,
        data_dir=str(settings.data_dir),
        database=settings.database.split("@")[-1],  # never log a password
    )
    await build_worker(client, settings).run()


if __name__ == "__main__":
    asyncio.run(main())
