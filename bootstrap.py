"""One place that builds what every process needs from its settings: the Temporal client (with the payload
codec), the record's engine, the link signer, and the channel notices go out on. The worker, the portal, the CLI,
the codec server and the demo all start here, so they read and write alike.
"""

import asyncio
import os
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput, WorkflowQueryFailedError
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError, RPCStatusCode

from adapters.channels import Channel, OutboxFileChannel
from adapters.codec import Sealer, data_converter, payload_codec
from adapters.email import SmtpTransport
from adapters.links import LinkSigner
from adapters.outbox import Dispatcher, SqlOutbox
from adapters.store.sql import make_engine
from domain import replies
from settings import Settings, Unreachable

UI = os.environ.get("FLIPSIDE_UI", "http://localhost:8233")
log = structlog.get_logger()
QUERY_PATIENCE = 60.0  # seconds a query may go on asking for a worker the server has not heard from lately


class PatientQueries(Interceptor):
    """Asks again when a query is turned away for a moment (MOMENTARY), a program is loading its members, or the
    worker refused the step it loaded the run with (workflows/task_time.py).

    The server answers a query only through a worker. When none has polled the queue in the last 20 seconds (a
    worker busy, restarting or starved of CPU), it holds the query to its deadline and then refuses it with
    FAILED_PRECONDITION, "no poller seen for task queue recently"; a run that continues as new clears the queries
    buffered for it. A program answers queries only once its members have loaded, in a run's first moments
    (workflows/program.py). Each is a moment, not an answer: ask again until `patience` seconds have passed
    since the first ask.
    """

    def __init__(self, patience: float = QUERY_PATIENCE) -> None:
        self.patience = patience

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _PatientOutbound(next, self.patience)


class _PatientOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, patience: float) -> None:
        super().__init__(next)
        self.patience = patience

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + self.patience, 0.2
        while True:
            try:
                return await super().query_workflow(input)
            except (RPCError, WorkflowQueryFailedError) as error:
                if not _momentary(error) or loop.time() + pause >= deadline:
                    raise
                log.warning("query asked again", workflow_id=input.id, query=input.query, why=str(error))
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


# A query that met a moment, where asking again is safe and soon answered: no worker polled the queue lately
# (FAILED_PRECONDITION); a run changing hands, "buffered query cleared, please retry" (UNAVAILABLE or
# FAILED_PRECONDITION); the server's deadline (an answer lost to a run that continued as new as the query reached
# it) or the client's ("Timeout expired", CANCELLED).
MOMENTARY = frozenset(
    {
        RPCStatusCode.CANCELLED,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.FAILED_PRECONDITION,
    }
)


def _momentary(error: RPCError | WorkflowQueryFailedError) -> bool:
    """A query turned away for a moment: see MOMENTARY, or a program loading its members as a run starts."""
    if isinstance(error, RPCError):
        return error.status in MOMENTARY
    return error.message in (replies.MEMBERS_LOADING, replies.STALE_STEP_REFUSED)


async def connect(settings: Settings) -> Client:
    """A client whose payloads are encrypted; a worker built on it reads and writes the same way."""
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.namespace,
            data_converter=data_converter(settings.codec_keyring()),
            interceptors=[PatientQueries()],
        )
    except RuntimeError as error:  # the SDK's connection failure
        raise Unreachable(f"cannot reach Temporal at {settings.temporal_address}; is it running (make run)?") from error


def codec(settings: Settings) -> PayloadCodec:
    """The payload codec every client and worker uses (compression, then encryption); the codec server's too."""
    return payload_codec(settings.codec_keyring())


def sealer(settings: Settings) -> Sealer:
    """Seals what the record keeps of a prompt (its view) with the codec's keys; the portal opens it."""
    return Sealer(settings.codec_keyring())


def record_engine(settings: Settings) -> Engine:
    """The record's database (SQLite by default, PostgreSQL in production)."""
    return make_engine(settings.database)


def link_signer(settings: Settings) -> LinkSigner:
    """Signs the sign-in link in every notice; the portal checks it with the same key."""
    return LinkSigner(settings.signing_key(), settings.portal_url, settings.link_ttl_hours * 3600)


def make_channel(settings: Settings) -> Channel:
    """FLIPSIDE_NOTIFY: "file" writes the outbox file (with links), "email" queues in the SQL outbox."""
    if settings.notify == "file":
        return OutboxFileChannel(settings.outbox_path, link_signer(settings))
    if settings.notify == "email":
        return SqlOutbox(settings.database)
    raise ValueError(f'FLIPSIDE_NOTIFY must be "file" or "email", not {settings.notify!r}')


def make_dispatcher(settings: Settings, outbox: SqlOutbox) -> Dispatcher:
    """Emails what `outbox` queues, through the SMTP server in the settings; wakes when it queues something."""
    transport = SmtpTransport(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_tls,
        settings.smtp_username,
        settings.smtp_password,
    )
    dispatcher = Dispatcher(outbox.engine, transport, link_signer(settings), settings.mail_from)
    outbox.on_queued(dispatcher.wake)
    return dispatcher


def ui_link(workflow_id: str, namespace: str = "default") -> str:
    """The Temporal UI's list of a program's workflows (the program and its pairings, by search attribute)."""
    return f"{UI}/namespaces/{namespace}/workflows?query=FlipsideProgram%3D%22{workflow_id}%22"
