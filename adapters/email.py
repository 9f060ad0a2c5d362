"""Notices as emails: the message a person reads (text, HTML, a calendar invitation) and the SMTP transport.

The words of a notice, and those around it (the subject line, the button, the footer), come from
domain/notices.py; this module only lays them out as text, HTML and a calendar invitation.
"""

import hashlib
import html
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

import aiosmtplib
from icalendar import Calendar, Event, vCalAddress, vRecur

from domain.notices import EmailText, Meeting, Notice, email_text

TLS_MODES = ("none", "starttls", "tls")
PRODID = "-//Flipside//Reverse mentoring//EN"


class Transport(Protocol):
    """Where composed emails go. `send` raises when the message was not accepted; the dispatcher retries."""

    async def send(self, message: EmailMessage) -> None: ...


def compose(notice: Notice, link: str, mail_from: str) -> EmailMessage:
    """One notice as an email: plain text and HTML alternatives, plus an .ics invitation for a meeting."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = notice.to
    words = email_text(notice, link)
    message["Subject"] = words.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(notice.key, mail_from)
    message.set_content(words.plain)
    message.add_alternative(_html(words, link), subtype="html")
    if notice.meeting is not None:
        message.add_attachment(
            invitation(notice.meeting, mail_from),
            subtype="calendar",
            filename="check-in.ics",
            params={"method": method_of(notice.meeting)},
        )
    return message


def message_id(key: str, mail_from: str) -> str:
    """The same Message-ID for every send of one notice, so a receiving server can drop a duplicate."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "flipside.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def _html(words: EmailText, link: str) -> str:
    paragraphs = "".join(
        f'<p style="margin:0 0 12px">{html.escape(block).replace(chr(10), "<br>")}</p>' for block in words.paragraphs
    )
    label = words.button
    href = html.escape(link, quote=True)
    button = (
        f'<p style="margin:20px 0"><a href="{href}" style="background:#2f6f5e;color:#ffffff;padding:10px 18px;'
        f'border-radius:6px;text-decoration:none;font-weight:600;display:inline-block">{html.escape(label)}</a></p>'
    )
    fallback = f'<p style="font-size:13px;color:#555">Or open this address: <a href="{href}">{href}</a></p>'
    footer = f'<p style="font-size:13px;color:#555">{html.escape(words.footer)}</p>'
    return (
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#222;'
        f'line-height:1.5;max-width:560px">{paragraphs}{button}{fallback}{footer}</body></html>\n'
    )


def method_of(meeting: Meeting) -> str:
    return "CANCEL" if meeting.cancelled else "REQUEST"


def invitation(meeting: Meeting, mail_from: str) -> str:
    """A calendar request for the pair's recurring check-in, or its cancel; one UID per pairing, SEQUENCE per
    cycle (a cancel's is one above the last request's)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method_of(meeting))
    event = Event()
    event.add("uid", meeting.series)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", _utc(meeting.starts_at))
    event.add("dtend", _utc(meeting.starts_at + meeting.length))
    event.add("summary", meeting.title)
    # No sign-in link here: links work once, and a calendar entry outlives the email it came with.
    event.add("description", "Your reverse mentoring check-in. Flipside asks you both how it went afterwards.")
    event.add("rrule", recurrence(meeting.every, meeting.occurrences))
    event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
    name, address = parseaddr(mail_from)
    organizer = vCalAddress(f"mailto:{address}")
    if name:
        organizer.params["cn"] = name
    event.add("organizer", organizer)
    for attendee in meeting.attendees:
        person = vCalAddress(f"mailto:{attendee}")
        person.params["role"] = "REQ-PARTICIPANT"
        person.params["partstat"] = "NEEDS-ACTION"
        person.params["rsvp"] = "TRUE"
        event.add("attendee", person)
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics.decode()


def recurrence(every: timedelta, occurrences: int) -> vRecur:
    """The cadence in the largest whole unit: weeks when a multiple of 7 days, else days, hours, minutes."""
    seconds = int(every.total_seconds())
    for unit, size in (("WEEKLY", 7 * 86400), ("DAILY", 86400), ("HOURLY", 3600), ("MINUTELY", 60)):
        if seconds >= size and seconds % size == 0:
            return vRecur(freq=unit, interval=seconds // size, count=occurrences)
    return vRecur(freq="SECONDLY", interval=max(1, seconds), count=occurrences)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class SmtpTransport:
    """Sends each message on its own SMTP connection (plain, STARTTLS or implicit TLS; login when given)."""

    def __init__(
        self,
        host: str,
        port: int,
        tls: str = "none",
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"SMTP TLS mode must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password = username, password
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",  # "none" never upgrades, even when the server offers it
            username=self.username or None,
            password=self.password or None,
            timeout=self.timeout,
        )
