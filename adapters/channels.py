"""Channels: where the send_notices activity hands notices. Each takes a key once, whatever the retries."""

from pathlib import Path
from typing import Any, Protocol

from adapters.keyed_file import KeyedJsonlFile
from adapters.links import LinkSigner
from domain.notices import Notice


class Channel(Protocol):
    """Where notices go. `deliver` returns the notices it took on now: keys it already has are skipped.

    The file channel writes them out; the SQL outbox (adapters/outbox.py) queues them for its dispatcher.
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
