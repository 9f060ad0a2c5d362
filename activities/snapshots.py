"""Metric snapshots: ask each running pairing for its summary, compute the program metrics, keep a copy."""

import asyncio
import json
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.client import Client

from activities.messages import SnapshotRequest
from domain.metrics import PairingSummary, ProgramMetrics, compute_metrics

log = structlog.get_logger()
CONCURRENT_QUERIES = 20


class SnapshotActivities:
    def __init__(self, client: Client, directory: Path) -> None:
        self.client = client
        self.directory = directory

    async def _summary(self, pairing_id: str, gate: asyncio.Semaphore) -> PairingSummary:
        async with gate:
            handle = self.client.get_workflow_handle(pairing_id)
            summary: PairingSummary = await handle.query("summary", result_type=PairingSummary)
            return summary

    @activity.defn(name="snapshot_metrics")
    async def snapshot_metrics(self, request: SnapshotRequest) -> ProgramMetrics:
        gate = asyncio.Semaphore(CONCURRENT_QUERIES)
        running = await asyncio.gather(*(self._summary(pid, gate) for pid in request.running))
        metrics = compute_metrics(request.funnel, [*request.finished, *running])
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{request.program_id}-{request.label}.json"
        path.write_text(json.dumps(metrics.model_dump(mode="json"), indent=2))
        log.info("metrics snapshot", program_id=request.program_id, label=request.label, path=str(path))
        return metrics
