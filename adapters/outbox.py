"""The transactional outbox: notices are queued in SQL by the activity and emailed by a dispatcher.

`send_notices` only inserts rows (one per notice key, so a retried activity queues nothing twice) and returns at
once: an SMTP outage delays the email, never the workflow. The `Dispatcher` claims due rows with a lease (one
UPDATE that moves `next_attempt_at` forward and counts the attempt; on PostgreSQL the rows are picked FOR UPDATE
SKIP LOCKED), so two dispatchers, in one process or several, never send the same row at the same time. Failures
back off exponentially, capped, with jitter. A dispatcher that dies mid-send leaves its rows to be sent again
when the lease runs out: delivery is at least once, and the Message-ID (from the notice key) lets a receiving
server spot that rare duplicate.
"""

import asyncio
import random
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.email import Transport, compose
from adapters.links import LinkSigner
from adapters.store import tables as t
from adapters.store.sql import make_engine, migrate
from domain.notices import Notice

log = structlog.get_logger()
ERROR_LIMIT = 1000  # characters of the last error kept on a row


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlOutbox:
    """A `Channel` that queues each notice once in the `outbox` table; `deliver` returns the newly queued."""

    def __init__(self, url: str, *, migrate_schema: bool = True) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if migrate_schema:
            migrate(url)
        self.engine = make_engine(url)
        self._listeners: list[Callable[[], None]] = []

    def on_queued(self, listener: Callable[[], None]) -> None:
        """Call `listener` after new rows are committed (a dispatcher in this process wakes up early)."""
        self._listeners.append(listener)

    async def deliver(self, notices: list[Notice]) -> list[Notice]:
        if not notices:
            return []
        queued = await asyncio.to_thread(self.queue, notices)
        if queued:
            for listener in self._listeners:
                listener()
        return [n for n in notices if n.key in queued]

    def queue(self, notices: list[Notice]) -> set[str]:
        """Insert the notices whose key is not queued yet, in one transaction; return the keys inserted."""
        now = utc_now()
        rows = list({n.key: _row(n, now) for n in notices}.values())
        with self.engine.begin() as conn:
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = (
                dialect_insert(t.outbox).on_conflict_do_nothing(index_elements=["key"]).returning(t.outbox.c.key)
            )
            return {row.key for row in conn.execute(statement, rows)}

    def dispose(self) -> None:
        self.engine.dispose()


def _row(notice: Notice, now: datetime) -> dict[str, Any]:
    return {
        "key": notice.key,
        "recipient": notice.to,
        "kind": notice.kind.value,
        "program_id": notice.program_id,
        "pairing_id": notice.pairing_id,
        "prompt_id": notice.prompt_id,
        "notice": notice.model_dump(mode="json"),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }


@dataclass(frozen=True)
class Backoff:
    """Exponential and capped, with jitter so messages that failed together do not all retry together."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(minutes=15)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap, self.base * (1 << min(max(attempts - 1, 0), 30)))
        return ceiling * rng.uniform(0.5, 1.0)  # never sooner than half the ceiling


@dataclass(frozen=True)
class Claim:
    key: str
    notice: Notice
    attempts: int  # including this one; the token that this dispatcher still holds the row


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0


class Dispatcher:
    """Emails the queued notices: claim due rows, sign a fresh link for each, send, record the outcome."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        signer: LinkSigner,
        mail_from: str,
        *,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=10),
        backoff: Backoff | None = None,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.signer = signer
        self.mail_from = mail_from
        self.batch = batch
        self.lease = lease  # how long a claim holds its rows; a batch stops sending at 80% of it
        self.backoff = backoff or Backoff()
        self.poll_interval = poll_interval
        self.clock = clock
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll; call from the dispatcher's event loop."""
        self._wake.set()

    async def run(self) -> None:
        """Send forever: drain whatever is due, then sleep until the next poll or a wake-up."""
        log.info("dispatcher started", batch=self.batch, poll_interval=self.poll_interval)
        while True:
            try:
                await self.drain_once()
            except Exception:  # the database is away: keep the loop, the rows wait in the outbox
                log.exception("outbox not reachable; trying again")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def drain_once(self) -> DrainResult:
        """Send the rows due now, a batch at a time, until none is left or a whole batch failed.

        Rows that fail wait for their back-off; after a batch where nothing went through, the rest waits for the
        next round instead of each timing out against a server that is down.
        """
        result = DrainResult()
        while claims := await asyncio.to_thread(self._claim):
            # Stop short of the lease's end: past it, another dispatcher may claim the rows left in this batch.
            stop_at = self.clock() + self.lease * 0.8
            sent_before = result.sent
            for claim in claims:
                if self.clock() > stop_at:
                    break
                if await self._send(claim):
                    result.sent += 1
                else:
                    result.failed += 1
            if result.sent == sent_before:  # nothing went through: the server is likely down, so wait a poll
                break
        return result

    def _claim(self) -> list[Claim]:
        now = self.clock()
        outbox = t.outbox.c
        due = and_(outbox.sent_at.is_(None), outbox.next_attempt_at <= now)
        # The rows are picked in a materialised CTE: as `key IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`,
        # PostgreSQL may run the subquery more than once and claim more than n rows (a test here caught it).
        picked = (
            select(outbox.key)
            .where(due)
            .order_by(outbox.next_attempt_at, outbox.created_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)  # PostgreSQL: rows another dispatcher holds are skipped
            .cte("picked")
            .prefix_with("MATERIALIZED")
        )
        # One statement: SQLite takes its write lock before reading, so two claims never see the same rows.
        statement = (
            update(t.outbox)
            .where(outbox.key == picked.c.key, due)
            .values(next_attempt_at=now + self.lease, attempts=outbox.attempts + 1)
            .returning(outbox.key, outbox.notice, outbox.attempts)
        )
        with self.engine.begin() as conn:
            rows = conn.execute(statement).all()
        return [Claim(row.key, Notice.model_validate(row.notice), row.attempts) for row in rows]

    async def _send(self, claim: Claim) -> bool:
        notice = claim.notice
        bound = log.bind(program_id=notice.program_id, pairing_id=notice.pairing_id, key=claim.key)
        try:
            link = self.signer.link(notice.to, notice.program_id, notice.prompt_id)
            await self.transport.send(compose(notice, link, self.mail_from))
        except Exception as error:
            delay = self.backoff.delay(claim.attempts, self.rng)
            await asyncio.to_thread(self._failed, claim, f"{type(error).__name__}: {error}", delay)
            bound.warning(
                "email not sent; will retry",
                attempt=claim.attempts,
                retry_in_seconds=round(delay.total_seconds(), 1),
                error=str(error)[:200],
            )
            return False
        await asyncio.to_thread(self._sent, claim)
        bound.info("email sent", kind=notice.kind.value, attempt=claim.attempts)
        return True

    def _sent(self, claim: Claim) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.outbox).where(t.outbox.c.key == claim.key).values(sent_at=self.clock()))

    def _failed(self, claim: Claim, error: str, delay: timedelta) -> None:
        outbox = t.outbox.c
        with self.engine.begin() as conn:
            conn.execute(
                update(t.outbox)
                # Only while this claim still holds the row: a newer claim's outcome is not overwritten.
                .where(outbox.key == claim.key, outbox.attempts == claim.attempts, outbox.sent_at.is_(None))
                .values(next_attempt_at=self.clock() + delay, last_error=error[:ERROR_LIMIT])
            )
