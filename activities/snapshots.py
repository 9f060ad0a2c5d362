"""Metric snapshots: ask each running pairing for its summary, compute the program metrics, keep a copy.

Best effort: a pairing that cannot answer (gone past retention, its worker stuck) is counted as unread rather than
failing the snapshot, and with it the program, for one pairing among thousands. Progress is heartbeated.
"""

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.messages import SnapshotRequest
from domain.metrics import PairingSummary, ProgramMetrics, compute_metrics

log = structlog.get_logger()
CONCURRENT_QUERIES = 20
QUERY_TIMEOUT = timedelta(seconds=10)  # a pairing that takes longer is counted unread, not waited on


class SnapshotActivities:
    def __init__(self, client: Client, directory: Path) -> None:
        self.client = client
        self.directory = directory

    async def _summary(self, program_id: str, pairing_id: str, gate: asyncio.Semaphore) -> PairingSummary | None:
        async with gate:
            handle = self.client.get_workflow_handle(pairing_id)
            try:
                summary: PairingSummary = await handle.query(
                    "summary", result_type=PairingSummary, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError) as error:
                log.warning("pairing unread", program_id=program_id, pairing_id=pairing_id, error=type(error).__name__)
                return None
            return summary

    @activity.defn(name="snapshot_metrics")
    async def snapshot_metrics(self, request: SnapshotRequest) -> ProgramMetrics:
        gate = asyncio.Semaphore(CONCURRENT_QUERIES)
        asking = [self._summary(request.program_id, pid, gate) for pid in request.running]
        running: list[PairingSummary] = []
        for done, answer in enumerate(asyncio.as_completed(asking), start=1):
            if (summary := await answer) is not None:
                running.append(summary)
            activity.heartbeat(done)
        metrics = compute_metrics(request.funnel, [*request.finished, *running])
        metrics.pairings_unread = len(request.running) - len(running)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{request.program_id}-{request.label}.json"
        path.write_text(json.dumps(metrics.model_dump(mode="json"), indent=2))
        log.info("metrics snapshot", program_id=request.program_id, label=request.label, path=str(path))
        return metrics
