"""Email through the transactional outbox, against a real SMTP server (aiosmtpd) on SQLite and PostgreSQL.

Each email is matched to its notice by Message-ID (derived from the notice key), so "exactly once" is counted
on what the SMTP server actually received (tests/helpers/smtp.py).
"""

import asyncio
import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, Row, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from adapters.channels import OutboxFileChannel
from adapters.email import SmtpTransport, compose, message_id, recurrence
from adapters.links import LinkSigner, SignIn
from adapters.outbox import Backoff, Dispatcher, SqlOutbox
from adapters.store import tables as t
from adapters.store.sql import make_engine
from bootstrap import link_signer, make_channel, make_dispatcher
from domain.notices import Meeting, Notice, NoticeKind
from domain.program import ProgramPhase
from settings import Settings
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness, ending
from tests.helpers.people import roster, spec
from tests.helpers.ports import free_port
from tests.helpers.programs import result, start_program, status
from tests.helpers.smtp import MAIL_FROM, Mailbox, emailing, smtp_server
from tests.helpers.waiting import eventually
from worker import build_worker

PORTAL = "http://portal.test"
SIGNER = LinkSigner("test-signing-key", PORTAL, ttl_seconds=3600)
FAST = Backoff(base=timedelta(milliseconds=50), cap=timedelta(milliseconds=400))


@pytest.fixture
def mail() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as mailbox:
        yield mailbox, mailbox.port


def dispatcher(engine: Engine, port: int, **options: Any) -> Dispatcher:
    transport = SmtpTransport("127.0.0.1", port, timeout=10)
    return Dispatcher(engine, transport, SIGNER, MAIL_FROM, **options)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def rows(engine: Engine) -> list[Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.outbox).order_by(t.outbox.c.key)).all())


def unsent(engine: Engine) -> list[Row[Any]]:
    return [row for row in rows(engine) if row.sent_at is None]


def notices(count: int, program_id: str = "program-mail") -> list[Notice]:
    """A mix of prompts (with a prompt id) and information notices, one person each."""
    made = []
    for i in range(count):
        asking = i % 2 == 0
        made.append(
            Notice(
                key=f"{program_id}/{'check-in-1' if asking else 'welcome'}/person{i:03d}@example.com",
                to=f"person{i:03d}@example.com",
                kind=NoticeKind.PROMPT if asking else NoticeKind.INFO,
                subject=f"Hello {i}",
                body=f"Message {i}.",
                program_id=program_id,
                pairing_id=f"pairing-{i}",
                prompt_id="check-in-1" if asking else None,
            )
        )
    return made


def expected_ids(sent: list[Notice]) -> set[str]:
    return {message_id(n.key, MAIL_FROM) for n in sent}


def link_in(text: str) -> str:
    return next(word for word in text.split() if word.startswith(f"{PORTAL}/signin?"))


def grant_of(link: str) -> SignIn:
    return SIGNER.read(parse_qs(urlparse(link).query)["token"][0])


# One email per prompt, through a real program and a retried activity


class QueuesThenLosesTheReply:
    """The real SQL outbox commits, then each activity's first attempt fails as if the worker died right after.

    Temporal retries the activity with the same notices; only the outbox's unique key keeps them from being
    queued, and so emailed, twice.
    """

    def __init__(self, outbox: SqlOutbox) -> None:
        self.outbox = outbox
        self.injected = 0
        self.requeued_on_retry = 0
        self.keys: set[str] = set()

    async def deliver(self, batch: list[Notice]) -> list[Notice]:
        queued = await self.outbox.deliver(batch)
        self.keys.update(n.key for n in batch)
        if activity.info().attempt == 1:
            self.injected += 1
            raise ConnectionError("reply lost after the outbox commit (injected by the test)")
        self.requeued_on_retry += len(queued)
        return queued


async def test_one_email_per_notice_when_every_send_is_retried(
    env: WorkflowEnvironment, tmp_path: Path, database_url: str, mail: tuple[Mailbox, int]
) -> None:
    mailbox, port = mail
    h = Harness(env, tmp_path, database_url)
    h.settings = emailing(h.settings, port, PORTAL, "program-test-key")
    outbox = make_channel(h.settings)  # the worker's own wiring: FLIPSIDE_NOTIFY=email
    assert isinstance(outbox, SqlOutbox)
    faulty = QueuesThenLosesTheReply(outbox)
    h.inbox = lambda: [{"key": r.key, "to": r.recipient, "kind": r.kind} for r in rows(outbox.engine)]
    sender = make_dispatcher(h.settings, outbox)
    sending = asyncio.create_task(sender.run())
    people = roster(2)
    program = spec(durations={"program_length": "2w", "checkin_cadence": "1w"})
    answered: list[str] = []
    try:
        async with (
            build_worker(env.client, h.settings, channel=faulty, store=h.store),
            ending(env.client, lambda: [*h.programs, *{r.pairing_id for r in rows(outbox.engine) if r.pairing_id}]),
        ):
            handle = await start_program(h, program, people)
            answered = await drive(h, handle, personas_for(people))
            await result(handle)
            assert (await status(handle)).phase == ProgramPhase.COMPLETED
        await eventually(lambda: asyncio.to_thread(lambda: not unsent(outbox.engine)))
        queued = rows(outbox.engine)
    finally:
        await stop(sending)
        outbox.dispose()
        h.store.dispose()

    by_id = {message_id(row.key, MAIL_FROM): row for row in queued}
    received = mailbox.ids()
    # Every notice the workflows asked for is queued once and emailed once, though every batch was sent twice.
    assert faulty.injected > 0 and faulty.requeued_on_retry == 0
    assert {row.key for row in queued} == faulty.keys
    assert set(received) == set(by_id) and set(received.values()) == {1}
    # One prompt email for each prompt the people answered, and its link signs that person in to that prompt.
    prompts = [m for m in mailbox.messages if by_id[str(m["Message-ID"])].kind == NoticeKind.PROMPT.value]
    answers = {(line.split()[0], line.split()[2].rstrip(":")) for line in answered if " answered " in line}
    asked = {_signs_in_to_its_prompt(h.settings, message, by_id) for message in prompts}
    # Every prompt answered was emailed once; the only ones never answered are the plan prompts that the other
    # side's proposal closed (both are asked to propose; the second person agrees instead).
    assert len(prompts) == len(asked)
    assert answers <= asked and {prompt for _, prompt in asked - answers} <= {"plan"}
    print(
        f"\n{database_url.split(':')[0]}: {len(received)} emails for {len(faulty.keys)} notices "
        f"({len(prompts)} prompts, {len(answers)} answered); {faulty.injected} activity attempts failed after "
        f"commit, {faulty.requeued_on_retry} re-queued"
    )


def _signs_in_to_its_prompt(settings: Settings, message: EmailMessage, by_id: dict[str, Any]) -> tuple[str, str]:
    """A prompt email's link signs its recipient in to its prompt; a check-in's also invites the pair to their
    meetings (the series' UID, the cycle as SEQUENCE). Returns (recipient, prompt id)."""
    grant = grant_of_settings(settings, message)
    row = by_id[str(message["Message-ID"])]
    assert (grant.email, grant.program_id, grant.prompt_id) == (row.recipient, row.program_id, row.prompt_id)
    if row.prompt_id.startswith("check-in-"):
        (ics,) = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        (event,) = Calendar.from_ical(ics.get_content()).events
        assert event.uid == f"{row.pairing_id}@flipside" and event.sequence == int(row.prompt_id.split("-")[-1])
    return row.recipient, row.prompt_id


def grant_of_settings(settings: Settings, message: EmailMessage) -> SignIn:
    signer = LinkSigner(settings.signing_key(), settings.portal_url, settings.link_ttl_hours * 3600)
    link = link_in(text_of(message))
    return signer.read(parse_qs(urlparse(link).query)["token"][0])


# The outbox and the dispatcher on their own


async def test_queueing_twice_queues_once_and_wakes_the_dispatcher(database_url: str) -> None:
    outbox = SqlOutbox(database_url)
    wakes: list[int] = []
    outbox.on_queued(lambda: wakes.append(1))
    batch = notices(6)
    try:
        first = await outbox.deliver(batch)
        again = await outbox.deliver([*batch[:3], *notices(8)[6:]])  # three old keys, two new
        assert [n.key for n in first] == [n.key for n in batch]
        assert [n.key for n in again] == [n.key for n in notices(8)[6:]]
        assert len(rows(outbox.engine)) == 8
        assert len(wakes) == 2
        assert await outbox.deliver(batch) == [] and len(wakes) == 2  # nothing new: nobody woken
    finally:
        outbox.dispose()


async def test_an_smtp_outage_backs_off_and_then_delivers_each_email_once(database_url: str) -> None:
    """A controlled clock: each failed round pushes the next try out exponentially (with jitter, capped)."""
    outbox = SqlOutbox(database_url)
    batch = notices(10)
    await outbox.deliver(batch)
    now = datetime.now(UTC)
    port = free_port()  # nothing listens here until the server comes up
    backoff = Backoff(base=timedelta(seconds=10), cap=timedelta(seconds=60))
    sender = dispatcher(outbox.engine, port, backoff=backoff, clock=lambda: now, rng=random.Random(3))
    try:
        delays: list[float] = []
        for attempt in range(1, 6):
            outcome = await sender.drain_once()
            assert (outcome.sent, outcome.failed) == (0, len(batch))
            assert (await sender.drain_once()).failed == 0  # nothing is due again before its back-off
            state = unsent(outbox.engine)
            assert len(state) == len(batch) and {row.attempts for row in state} == {attempt}
            assert all("SMTPConnectError" in (row.last_error or "") for row in state)
            ceiling = min(60.0, 10.0 * 2 ** (attempt - 1))
            waits = [(_utc(row.next_attempt_at) - now).total_seconds() for row in state]
            assert all(ceiling / 2 <= wait <= ceiling for wait in waits), (attempt, waits)
            delays.append(max(waits))
            now = max(_utc(row.next_attempt_at) for row in state)
        with smtp_server(port) as mailbox:
            outcome = await sender.drain_once()
        assert (outcome.sent, outcome.failed) == (len(batch), 0)
        assert set(mailbox.ids()) == expected_ids(batch) and set(mailbox.ids().values()) == {1}
        done = rows(outbox.engine)
        assert all(row.sent_at is not None and row.attempts == 6 for row in done)
        print(f"\n5 failed rounds of {len(batch)}; longest wait after each: {[round(d, 1) for d in delays]} s")
    finally:
        outbox.dispose()


async def test_while_the_server_is_down_each_round_tries_one_batch(database_url: str) -> None:
    outbox = SqlOutbox(database_url)
    await outbox.deliver(notices(10))
    sender = dispatcher(outbox.engine, free_port(), batch=4)
    try:
        assert (await sender.drain_once()).failed == 4  # the first batch failed whole: the rest waits
        assert Counter(row.attempts for row in rows(outbox.engine)) == {1: 4, 0: 6}
    finally:
        outbox.dispose()


async def test_a_running_dispatcher_rides_out_an_smtp_outage(database_url: str) -> None:
    """In real time: the server is down for the first attempts, comes up, and every email arrives once."""
    outbox = SqlOutbox(database_url)
    port = free_port()
    sender = dispatcher(outbox.engine, port, backoff=FAST, poll_interval=0.02)
    outbox.on_queued(sender.wake)
    running = asyncio.create_task(sender.run())
    batch = notices(12)
    try:
        await outbox.deliver(batch)
        await eventually(lambda: asyncio.to_thread(lambda: min(r.attempts for r in rows(outbox.engine)) >= 3))
        during = rows(outbox.engine)
        assert all(row.sent_at is None and row.last_error for row in during)
        with smtp_server(port) as mailbox:
            await eventually(lambda: asyncio.to_thread(lambda: not unsent(outbox.engine)))
        after = rows(outbox.engine)
        assert set(mailbox.ids()) == expected_ids(batch) and set(mailbox.ids().values()) == {1}
        # Three claims each before the server came up; the third may have been in flight and gone through.
        assert all(row.attempts >= 3 and _utc(row.sent_at) > _utc(row.created_at) for row in after)
        failed = sum(row.attempts - 1 for row in after)
        print(f"\n{len(batch)} emails delivered once each after {failed} failed attempts during the outage")
    finally:
        await stop(running)
        outbox.dispose()


async def test_two_dispatchers_on_one_outbox_send_each_email_once(database_url: str, mail: tuple[Mailbox, int]) -> None:
    mailbox, port = mail
    outbox = SqlOutbox(database_url)
    batch = notices(120)
    await outbox.deliver(batch)
    engines = [make_engine(database_url), make_engine(database_url)]  # as two processes would have
    first, second = (dispatcher(engine, port, batch=5) for engine in engines)
    try:
        one, two = await asyncio.gather(first.drain_once(), second.drain_once())
        assert one.sent + two.sent == len(batch) and one.failed == two.failed == 0
        assert one.sent > 0 and two.sent > 0  # both took part
        assert set(mailbox.ids()) == expected_ids(batch) and set(mailbox.ids().values()) == {1}
        assert {row.attempts for row in rows(outbox.engine)} == {1}  # no row was ever claimed twice
        print(f"\n{len(batch)} emails: {one.sent} by one dispatcher, {two.sent} by the other, none twice")
    finally:
        for engine in engines:
            engine.dispose()
        outbox.dispose()


# What a person receives

STARTS = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
MEETING = Meeting(
    series="pairing-digital-fluency-2026-junior00-senior00@flipside",
    sequence=3,
    title="Reverse mentoring: Jun and Sen",
    starts_at=STARTS,
    length=timedelta(minutes=45),
    every=timedelta(weeks=2),
    occurrences=4,
    attendees=["junior00@example.com", "senior00@example.com"],
)
CHECK_IN = Notice(
    key="pairing-digital-fluency-2026-junior00-senior00/check-in-3/senior00@example.com",
    to="senior00@example.com",
    kind=NoticeKind.PROMPT,
    subject="Check-in 3: did you meet, how is it going (1-5), and a short recap for the two of you",
    body="Check-in 3: did you meet <& how> is it going?\nPlease answer by 2026-12-14 14:30:00 UTC.",
    program_id="program-digital-fluency-2026",
    pairing_id="pairing-digital-fluency-2026-junior00-senior00",
    prompt_id="check-in-3",
    meeting=MEETING,
)
REMINDER = CHECK_IN.model_copy(
    update={"key": CHECK_IN.key + "/reminder", "kind": NoticeKind.REMINDER, "meeting": None, "prompt_id": None}
)
WELCOME = Notice(
    key="program-digital-fluency-2026/recognition/junior00@example.com",
    to="junior00@example.com",
    kind=NoticeKind.RECOGNITION,
    subject="Thank you for mentoring",
    body="Thank you, Jun: your sessions made a difference.",
    program_id="program-digital-fluency-2026",
)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def test_each_email_has_text_html_a_personal_link_and_a_calendar_invitation(
    database_url: str, mail: tuple[Mailbox, int]
) -> None:
    mailbox, port = mail
    outbox = SqlOutbox(database_url)
    try:
        await outbox.deliver([CHECK_IN, REMINDER, WELCOME])
        assert (await dispatcher(outbox.engine, port).drain_once()).sent == 3
    finally:
        outbox.dispose()
    received = {str(m["Message-ID"]): m for m in mailbox.messages}
    assert mailbox.recipients == [[n.to] for n in (CHECK_IN, REMINDER, WELCOME)]

    for notice, button in ((CHECK_IN, "Answer in Flipside"), (REMINDER, "Answer in Flipside"), (WELCOME, "Open")):
        message = received[message_id(notice.key, MAIL_FROM)]
        assert message["To"] == notice.to and message["From"] == MAIL_FROM
        text, html = text_of(message), html_of(message)
        first_line = notice.body.splitlines()[0]
        assert first_line in text
        assert escape(first_line) in html and "<& how>" not in html  # the body is escaped, never raw
        link = link_in(text)
        assert f'href="{escape(link)}"' in html and button in html
        grant = grant_of(link)
        assert (grant.email, grant.program_id, grant.prompt_id) == (notice.to, notice.program_id, notice.prompt_id)
    assert str(received[message_id(CHECK_IN.key, MAIL_FROM)]["Subject"]) == CHECK_IN.subject

    invitations = [
        part for message in mailbox.messages for part in message.walk() if part.get_content_type() == "text/calendar"
    ]
    assert len(invitations) == 1  # only the check-in prompt carries the meeting
    assert invitations[0].get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(invitations[0].get_content())
    assert calendar["METHOD"] == "REQUEST"
    (event,) = calendar.events
    assert event.uid == MEETING.series and event.sequence == MEETING.sequence
    assert event.start == STARTS and event.end == STARTS + MEETING.length
    (rule,) = event.rrules
    assert (rule["FREQ"], rule["INTERVAL"], rule["COUNT"]) == (["WEEKLY"], [2], [MEETING.occurrences])
    assert sorted(str(a) for a in event.attendees) == [f"mailto:{a}" for a in MEETING.attendees]
    assert str(event.organizer) == "mailto:flipside@example.org"


def test_the_message_id_is_stable_and_the_link_is_fresh_on_every_send() -> None:
    first = compose(CHECK_IN, SIGNER.link(CHECK_IN.to, CHECK_IN.program_id, CHECK_IN.prompt_id), MAIL_FROM)
    again = compose(CHECK_IN, SIGNER.link(CHECK_IN.to, CHECK_IN.program_id, CHECK_IN.prompt_id), MAIL_FROM)
    assert first["Message-ID"] == again["Message-ID"] == message_id(CHECK_IN.key, MAIL_FROM)
    assert message_id(REMINDER.key, MAIL_FROM) != first["Message-ID"]
    assert link_in(text_of(first)) != link_in(text_of(again))  # each send signs a link of its own
    assert grant_of(link_in(text_of(first))).nonce != grant_of(link_in(text_of(again))).nonce


@pytest.mark.parametrize(
    ("every", "rule"),
    [
        (timedelta(weeks=1), {"FREQ": ["WEEKLY"], "INTERVAL": [1]}),
        (timedelta(days=10), {"FREQ": ["DAILY"], "INTERVAL": [10]}),
        (timedelta(hours=36), {"FREQ": ["HOURLY"], "INTERVAL": [36]}),
        (timedelta(minutes=90), {"FREQ": ["MINUTELY"], "INTERVAL": [90]}),
        (timedelta(seconds=10), {"FREQ": ["SECONDLY"], "INTERVAL": [10]}),
    ],
)
def test_the_cadence_becomes_a_recurrence_rule(every: timedelta, rule: dict[str, list[Any]]) -> None:
    made = recurrence(every, 5)
    assert {key: made[key] for key in ("FREQ", "INTERVAL")} == rule and made["COUNT"] == [5]


async def test_the_outbox_file_carries_a_sign_in_link_per_line(tmp_path: Path) -> None:
    channel = OutboxFileChannel(tmp_path / "outbox.jsonl", SIGNER)
    assert len(await channel.deliver([CHECK_IN, WELCOME])) == 2
    assert await channel.deliver([CHECK_IN]) == []  # a retry writes nothing
    lines = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [line["key"] for line in lines] == [CHECK_IN.key, WELCOME.key]
    for line, notice in zip(lines, (CHECK_IN, WELCOME), strict=True):
        grant = grant_of(line["link"])
        assert (grant.email, grant.prompt_id) == (notice.to, notice.prompt_id)


async def test_the_settings_choose_the_channel(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path, secret_key="k", portal_url=PORTAL)
    channel = make_channel(base)  # the default for `make run`: the outbox file, each line with its link
    assert isinstance(channel, OutboxFileChannel)
    await channel.deliver([CHECK_IN])
    (line,) = channel.outbox.read_all()
    token = parse_qs(urlparse(line["link"]).query)["token"][0]
    assert link_signer(base).read(token).prompt_id == CHECK_IN.prompt_id
    outbox = make_channel(base.model_copy(update={"notify": "email"}))
    assert isinstance(outbox, SqlOutbox)
    outbox.dispose()
    with pytest.raises(ValueError, match="FLIPSIDE_NOTIFY"):
        make_channel(base.model_copy(update={"notify": "pigeon"}))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps no zone; all times are UTC
