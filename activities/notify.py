"""Notices out to people, through a channel; each message is sent once whatever the retries."""

import structlog
from temporalio import activity

from activities.messages import NoticeBatch
from adapters.channels import Channel

log = structlog.get_logger()


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
