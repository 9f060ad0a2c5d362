"""What the portal's routers share: the Portal (client, record, links, sessions, templates), who is looking
(Viewer), the error page, and the FastAPI dependencies that give a route its portal and viewer."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
import structlog
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import SignatureExpired
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.links import LinkBook, LinkRefused, SignIn
from adapters.store import tables as t
from adapters.store.prompts import Freshness, PromptShelf
from adapters.store.views import ProgramEntry, ViewShelf
from bootstrap import UI, link_signer, record_engine, sealer
from domain.pair_record import PairRecord
from domain.prompts import PendingPrompt
from domain.spec import ProgramSpec
from domain.views import MemberStatus, MemberView, ProgramStatus
from flipside_client import (
    member_view,
    new_answer_id,
    pair_record,
    program_spec,
    program_status,
    prompts_of,
)
from portal.forms import (
    ANSWER_ID_FIELD,
)
from portal.record import (
    ALERT_LABELS,
    PHASE_LABELS,
    REPORT_FILES,
    in_words,
)
from portal.sessions import CSRF_FIELD, Session, SessionBook, Sessions
from settings import Settings

log = structlog.get_logger()
HERE = Path(__file__).parent
CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
NOT_TAKING_PART = {MemberStatus.WITHDRAWN, MemberStatus.COMPLETED, MemberStatus.NOT_JOINED}


class PortalError(Exception):
    """A page shown instead of the one asked for: its status, a title and a sentence for the person."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@dataclass
class Viewer:
    """Who is looking: the signed-in person, in their program, as a member, a coordinator or both."""

    session: Session
    email: str
    program_id: str
    spec: ProgramSpec
    member: MemberView | None
    coordinator: bool
    shown_in_the_record: bool = False  # its program started keeping member views and pair records from its start
    lagging: bool = False  # the record had not shown the person's latest answer when the page was read

    @property
    def pairing_ids(self) -> list[str]:
        if self.member is None:
            return []
        return list(
            dict.fromkeys([*([self.member.pairing_id] if self.member.pairing_id else []), *self.member.pairing_ids])
        )

    @property
    def may_withdraw(self) -> bool:
        return self.member is not None and self.member.status not in NOT_TAKING_PART


class SecurityHeaders:
    """Headers on every response: no framing, no sniffing, no referrer (a sign-in URL holds a token), no caching
    of personal pages, and a strict content policy (the report sets its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CSP)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("cache-control", "public, max-age=3600" if static else "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%a %-d %b %Y, %H:%M UTC")


def workflow_link(workflow_id: str, namespace: str) -> str:
    return f"{UI}/namespaces/{quote(namespace)}/workflows/{quote(workflow_id)}"


class Portal:
    """What the routes share: settings, the Temporal client, the record, links, sessions and templates."""

    def __init__(self, settings: Settings, client: Client, engine: Engine | None = None) -> None:
        self.settings = settings
        self.client = client
        key = settings.signing_key()
        self.signer = link_signer(settings)
        self.engine = engine or record_engine(settings)
        self.shelf = PromptShelf(self.engine, sealer(settings))
        self.views = ViewShelf(self.engine, sealer(settings))
        self.book = LinkBook(self.engine)
        self.signed_in = SessionBook(self.engine)
        self.sessions = Sessions(key, secure=settings.portal_url.lower().startswith("https://"))
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )
        env.filters["when"] = _when
        env.filters["in_words"] = in_words
        env.globals.update(
            PHASE_LABELS=PHASE_LABELS,
            ALERT_LABELS=ALERT_LABELS,
            REPORT_FILES=REPORT_FILES,
            CSRF_FIELD=CSRF_FIELD,
            ANSWER_ID_FIELD=ANSWER_ID_FIELD,
            new_answer_id=new_answer_id,
            viewer=None,
        )
        self.templates = Jinja2Templates(env=env)
        self.specs: dict[str, ProgramSpec] = {}  # a program's spec never changes while it runs

    # Pages
    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        response: HTMLResponse = self.templates.TemplateResponse(request, name, context, status_code=status)
        changed = getattr(request.state, "session", None)  # set by an answer, or by a page that saw it through
        if isinstance(changed, Session):
            self.sessions.save(response, changed)
        return response

    def keep_session(self, request: Request, session: Session) -> None:
        """Send `session` back with this request's page."""
        request.state.session = session

    def message(self, request: Request, status: int, title: str, message: str, **extra: Any) -> HTMLResponse:
        return self.page(request, "message.html", {"title": title, "message": message, **extra}, status)

    # Who is looking: from the record, or for a program started before it kept specs and members, the workflow
    async def spec(self, program_id: str, entry: ProgramEntry | None) -> ProgramSpec:
        if program_id not in self.specs:
            self.specs[program_id] = entry.spec if entry and entry.spec else await self._asked_spec(program_id)
        return self.specs[program_id]

    async def _asked_spec(self, program_id: str) -> ProgramSpec:
        try:
            return await program_spec(self.client, program_id)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise PortalError(404, "Program not found", "This program is no longer available.") from error
            raise

    async def member(
        self, program_id: str, entry: ProgramEntry | None, email: str, coordinator: bool
    ) -> MemberView | None:
        """The person's view as a member; None for someone who is not one (a coordinator need not be)."""
        if entry is None or not entry.shows_members:
            return await member_view(self.client, program_id, email)
        if coordinator:  # most coordinators are not members: never wait for a view that will not come
            return await run_in_threadpool(self.views.member, program_id, email)
        return await run_in_threadpool(self.views.until_member, program_id, email)

    async def viewer(self, request: Request) -> Viewer:
        session = self.sessions.read(request)
        if session is not None and session.signed_in and not await run_in_threadpool(self.signed_in.live, session):
            session = None  # signed out, or signed in again since: the cookie opens nothing now
        if session is None or session.email is None or session.program_id is None:
            raise PortalError(
                401, "Please sign in", "Sign in with the link in your most recent message from the program."
            )
        lagging = await self._answers_seen(request, session, session.email)
        entry = await run_in_threadpool(self.views.until_program, session.program_id)
        spec = await self.spec(session.program_id, entry)
        coordinator = session.email in spec.coordinators
        member = await self.member(session.program_id, entry, session.email, coordinator)
        if member is None and not coordinator:
            raise PortalError(403, "Not part of this program", f"{session.email} is not part of {spec.name}.")
        from_start = entry is not None and entry.spec is not None
        return Viewer(session, session.email, session.program_id, spec, member, coordinator, from_start, lagging)

    async def _answers_seen(self, request: Request, session: Session, email: str) -> bool:
        """Read your writes: a page read after answers waits (bounded) until the record shows them, so it never
        offers what was just answered; False once it does, True when it had not in time (the page says so).

        The answer itself does not wait: its page shows what the workflow replied. Only reading pages wait, and
        a second answer posted at once never waits for the first."""
        if not session.answered or request.method != "GET":
            return False
        seen = await run_in_threadpool(self.shelf.all_caught_up, email, session.answered)
        self.keep_session(request, session.model_copy(update={"answered": []}))
        return not seen

    async def coordinator(self, request: Request) -> Viewer:
        viewer = await self.viewer(request)
        if not viewer.coordinator:
            raise PortalError(403, "For coordinators only", "This page is for the program's coordinators.")
        return viewer

    # Prompts
    async def pending(self, viewer: "Viewer") -> list[PendingPrompt]:
        """The person's pending prompts, across the program and their pairings, read from the record. A program
        started before the record kept prompts is asked instead (the member view names its pairings)."""
        recorded = await self.recorded_prompts(viewer.program_id, viewer.email)
        if recorded is not None:
            return recorded
        return await prompts_of(self.client, viewer.program_id, viewer.email, viewer.member)

    async def recorded_prompts(self, program_id: str, email: str) -> list[PendingPrompt] | None:
        """A person's prompts from the record; None for a program whose record keeps none (started before)."""
        return await run_in_threadpool(self.shelf.for_person, program_id, email)

    async def shown_as(self, prompt: PendingPrompt) -> int | None:
        return await run_in_threadpool(self.shelf.shown_as, prompt.workflow_id, prompt.participant, prompt.id)

    async def freshness(self, program_id: str) -> Freshness:
        return await run_in_threadpool(self.shelf.freshness, program_id)

    async def find_prompt(self, viewer: Viewer, workflow_id: str, prompt_id: str) -> PendingPrompt:
        """The prompt, only if it waits for this person: looked up among their own, never trusted from a URL."""
        found = self._among(await self.pending(viewer), workflow_id, prompt_id)
        if found is None and await self.until_shown(viewer, workflow_id, prompt_id):
            found = self._among(await self.pending(viewer), workflow_id, prompt_id)  # its message outran its event
        if found is not None:
            return found
        raise PortalError(
            404,
            "Nothing to answer here",
            "This question is not waiting for an answer from you: it may have been answered already, or closed.",
        )

    async def until_shown(self, viewer: Viewer, workflow_id: str, prompt_id: str) -> bool:
        shelf = self.shelf
        return await run_in_threadpool(shelf.until_shown, viewer.program_id, workflow_id, viewer.email, prompt_id)

    async def status(self, viewer: "Viewer") -> ProgramStatus:
        """The coordinator's view of the program: from the record (waiting, bounded, for a program so new it has
        not shown it yet); a program started before the record kept it is asked."""
        status = await run_in_threadpool(self.views.status, viewer.program_id)
        if status is None and viewer.shown_in_the_record:
            status = await run_in_threadpool(self.views.until_status, viewer.program_id)
        return status or await program_status(self.client, viewer.program_id)

    @staticmethod
    def _among(prompts: list[PendingPrompt], workflow_id: str, prompt_id: str) -> PendingPrompt | None:
        return next((p for p in prompts if p.workflow_id == workflow_id and p.id == prompt_id), None)

    async def pair_record(self, viewer: "Viewer", pairing_id: str) -> PairRecord:
        """The pair's own record, for one of its two people (the caller checked): from the record, waiting
        (bounded) for a new pairing's first showing; a pairing of a program started before is asked."""
        record = await run_in_threadpool(self.views.pair_record, pairing_id)
        if record is None and viewer.shown_in_the_record:
            record = await run_in_threadpool(self.views.until_pair_record, pairing_id)
        return record or await pair_record(self.client, pairing_id, viewer.email)

    def link_used(self, grant: SignIn) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(select(t.used_links.c.nonce).where(t.used_links.c.nonce == grant.nonce)).first()
        return found is not None


def link_refused(error: LinkRefused) -> PortalError:
    status = 400 if isinstance(error.__cause__, SignatureExpired) else 403
    return PortalError(status, "This link cannot sign you in", str(error))


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


async def signed_in(request: Request, portal: Annotated[Portal, Depends(portal_of)]) -> Viewer:
    """The signed-in person in their program: 401 when not signed in, 403 when not part of the program."""
    return await portal.viewer(request)


async def coordinating(request: Request, portal: Annotated[Portal, Depends(portal_of)]) -> Viewer:
    """The signed-in person, who must be one of the program's coordinators (403 otherwise)."""
    return await portal.coordinator(request)


PortalDep = Annotated[Portal, Depends(portal_of)]
ViewerDep = Annotated[Viewer, Depends(signed_in)]
CoordinatorDep = Annotated[Viewer, Depends(coordinating)]
