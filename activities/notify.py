"""Notices out to people, through a channel; each message is sent once whatever the retries."""

from pathlib import Path
from typing import Any, Protocol

import structlog
from temporalio import activity

from activities.keyed_file import KeyedJsonlFile
from activities.messages import NoticeBatch
from domain.notices import Notice
from portal.links import LinkSigner

log = structlog.get_logger()


class Channel(Protocol):
    """Where notices go. `deliver` returns the notices it took on now: keys it already has are skipped.

    The file channel writes them out; the SQL outbox (activities/outbox.py) queues them for its dispatcher.
    """

    async def deliver(self, notices: list[Notice]) -> list[Notice]: ...


class OutboxFileChannel:
    """The default channel: one JSON line per message in an outbox file, and a line in the log.

    Given a signer, each line also carries the `link` an email would hold (a signed, single-use sign-in link),
    so whoever follows the demo can open the portal as that person.
    """

    def __init__(self, path: Path, signer: LinkSigner | None = None) -> None:
        self.outbox = KeyedJsonlFile(path)
        self.signer = signer

    async def deliver(self, notices: list[Notice]) -> list[Notice]:
        fresh = self.outbox.append_new([self._line(n) for n in notices])
        sent = {row["key"] for row in fresh}
        return [n for n in notices if n.key in sent]

    def _line(self, notice: Notice) -> dict[str, Any]:
        line: dict[str, Any] = notice.model_dump(mode="json")
        if self.signer is not None:
            line["link"] = self.signer.link(notice.to, notice.program_id, notice.prompt_id)
        return line


class NotificationActivities:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @activity.defn(name="send_notices")
    async def send_notices(self, batch: NoticeBatch) -> int:
        sent = await self.channel.deliver(batch.notices)
        for notice in sent:
            # Who it went to and what it says stay out of the log: they name people (see settings.without_addresses).
            log.info(
                "notice out",
                program_id=notice.program_id,
                pairing_id=notice.pairing_id,
                kind=notice.kind.value,
                prompt_id=notice.prompt_id,
            )
        skipped = len(batch.notices) - len(sent)
        if skipped:
            log.info("notices already out, skipped", count=skipped, attempt=activity.info().attempt)
        return len(sent)
