"""Runs a Flipside worker: both workflows and every activity, on the task queue from the settings."""

import asyncio

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.matching import propose_matches_activity
from activities.notify import Channel, NotificationActivities, OutboxFileChannel
from activities.record import EventStore, JsonlEventStore, RecordActivities
from activities.snapshots import SnapshotActivities
from settings import Settings, configure_logging, connect
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

log = structlog.get_logger()


def build_worker(
    client: Client,
    settings: Settings,
    channel: Channel | None = None,
    store: EventStore | None = None,
) -> Worker:
    """The one place where activities get their channel and store; tests pass their own."""
    notifications = NotificationActivities(channel or OutboxFileChannel(settings.outbox_path))
    record = RecordActivities(store or JsonlEventStore(settings.events_path))
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
    )
    await build_worker(client, settings).run()


if __name__ == "__main__":
    asyncio.run(main())
