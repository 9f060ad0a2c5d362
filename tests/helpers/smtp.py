"""A real SMTP server for the tests of email: aiosmtpd on a loopback port, keeping every message it accepts.

Each email is matched to its notice by Message-ID (derived from the notice key), so "exactly once" is counted on
what the server actually received. The server runs in a thread of its own.
"""

import email
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from settings import Settings
from tests.helpers.ports import free_port

MAIL_FROM = "Flipside <flipside@example.org>"  # the sender and calendar organiser in tests


class Mailbox:
    """An aiosmtpd handler that accepts every message and keeps it, parsed, with its envelope's recipients."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[Mailbox]:
    """A server listening on `port` (a free one unless given: a test of an outage starts it late on a known port)."""
    mailbox = Mailbox(port or free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def emailing(settings: Settings, smtp_port: int, portal_url: str, secret_key: str) -> Settings:
    """Settings that send notices by email (FLIPSIDE_NOTIFY=email) to the test's SMTP server on `smtp_port`."""
    return settings.model_copy(
        update={
            "notify": "email",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "mail_from": MAIL_FROM,
            "portal_url": portal_url,
            "secret_key": secret_key,
        }
    )
