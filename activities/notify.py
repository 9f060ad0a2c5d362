"""Notices out to people, through a channel; each message is sent once whatever the retries."""

from pathlib import Path
from typing import Protocol

import structlog
from temporalio import activity

from activities.keyed_file import KeyedJsonlFile
from activities.messages import NoticeBatch
from domain.notices import Notice

log = structlog.get_logger()


class Channel(Protocol):
    """Where notices go. `deliver` returns the notices actually sent: already-sent keys are skipped."""

    async def deliver(self, notices: list[Notice]) -> list[Notice]: ...


class OutboxFileChannel:
    """The default channel: one JSON line per message in an outbox file, and a line in the log."""

    def __init__(self, path: Path) -> None:
        self.outbox = KeyedJsonlFile(path)

    async def deliver(self, notices: list[Notice]) -> list[Notice]:
        fresh = self.outbox.append_new([n.model_dump(mode="json") for n in notices])
        sent = {row["key"] for row in fresh}
        return [n for n in notices if n.key in sent]


class NotificationActivities:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @activity.defn(name="send_notices")
    async def send_notices(self, batch: NoticeBatch) -> int:
        sent = await self.channel.deliver(batch.notices)
        for notice in sent:
            log.info(
                "notice sent",
                program_id=notice.program_id,
                pairing_id=notice.pairing_id,
                to=notice.to,
                kind=notice.kind.value,
                subject=notice.subject.splitlines()[0][:100],
            )
        skipped = len(batch.notices) - len(sent)
        if skipped:
            log.info("notices already sent, skipped", count=skipped, attempt=activity.info().attempt)
        return len(sent)
