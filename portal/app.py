"""The participant and coordinator portal: server-rendered pages over the program's workflows.

`create_app(settings, client)` builds the app; `python -m portal` serves it (see portal/__main__.py). Every
page works without JavaScript. Answers go to the workflows as updates through flipside_client; the portal keeps
no state of its own except the used sign-in links (SQL, `used_links`), so several portal processes can serve
one installation.

Routes (stable: end-to-end tests and the load benchmark use them; every POST needs `csrf_token`):

    GET  /healthz                           "ok" (no Temporal call)
    GET  /signin?token=T                    a "Continue" page; the link is NOT used yet (mail scanners prefetch)
    POST /signin          token             uses the link once, sets the session cookie, 303 to the prompt the
                                            link was about (/prompts/...), /program for an approval, else /
    POST /signout                           ends the session
    GET  /                                  My prompts: every pending prompt with its form, pairings, withdraw
    GET  /prompts/{workflow_id}/{prompt_id} one prompt and its form
    POST /prompts/{workflow_id}/{prompt_id} answer it: 200 with what happens next, 422 with the form and its
                                            errors, 404 when it is not waiting for this person
    GET  /pairings/{pairing_id}             the person's own pairing: plan and both sides' check-ins
    GET  /withdraw, POST /withdraw  reason  step back from the program
    GET  /program                           coordinators: phases, funnel, proposal, alerts, pairings, links
    POST /program/approve                   coordinators: approve the proposed pairs as they stand
    GET  /program/report                    coordinators: the HTML report, rendered from the SQL record
    GET  /program/report/{name}.csv         coordinators: its CSV exports (portal.record.REPORT_FILES)
    GET  /static/portal.css

Answer form fields, by prompt kind (radio values for yes/no are "yes" and "no"; ratings are "1" to "5"):

    opt_in           consent_to_ground_rules=yes
    training         modules (one per completed module, repeated)
    preferences      choice_1 ... choice_5 (emails, most wanted first; blanks ignored)
    accept_match     accept=yes|no, reason (optional; the coordinator's only)
    propose_plan     goals (one per line), skills (one per line or comma-separated), meeting_every (a
                     duration such as "1w", or empty for the program's default), channel, accept_ground_rules=yes
    agree_plan       accept_ground_rules=yes
    check_in         met=yes|no, progress, recap (stays with the pair)
    pulse            safe_and_useful, comment (mentor only; the partner never sees it)
    midpoint_survey  satisfaction, usefulness, comment
    closeout_survey  satisfaction, would_recommend=yes|no, before_N and after_N for the N-th skill listed on
                     the form (numbered from 0), comment
    approve_matches  nothing (approves the proposal as it stands)

Statuses: 401 not signed in; 403 a CSRF token missing or wrong, a page that is not this person's, or a link
that is forged or used; 400 an expired or malformed link; 404 nothing waiting here; 422 an answer refused or
not understood (errors next to their fields, what was typed kept).

Who may see what: the session names one person and one program. Prompts are looked up among that person's
own pending prompts, never by a workflow id taken on trust; a pairing's record is read only for the person's
own pairings; coordinator pages read only the program's status and the record's aggregates, never a recap.
Workflow queries used: the program's `program_spec` (coordinators, ground rules, modules, durations; cached),
`member`, `pending_prompts` and `status`; a pairing's `pending_prompts`, `view` and `pair_record`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import SignatureExpired
from pydantic import ValidationError
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.links import LinkBook, LinkRefused, SignIn
from adapters.store import tables as t
from bootstrap import UI, link_signer, record_engine, ui_link
from domain.answers import Approval, Withdrawal
from domain.pairing import PairRecord
from domain.program import FINISHED, MemberStatus, MemberView, ProgramPhase, ProgramStatus
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from flipside_client import (
    Action,
    Refused,
    act,
    build_answer,
    member_view,
    new_answer_id,
    pair_record,
    program_spec,
    program_status,
    prompts_for,
    prompts_of,
    send_answer,
)
from portal.forms import (
    ANSWER_ID_FIELD,
    PromptCard,
    answer_fields,
    form_values,
    place_refusal,
    prompt_url,
    sent_as,
    validation_errors,
)
from portal.record import (
    ALERT_LABELS,
    PHASE_LABELS,
    REPORT_FILES,
    ProgramNotFound,
    in_words,
    read_program_record,
    render_csv,
    render_report,
    timeline,
)
from portal.sessions import CSRF_FIELD, Session, SessionBook, Sessions, new_session
from settings import Settings

log = structlog.get_logger()
HERE = Path(__file__).parent
CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
NOT_TAKING_PART = {MemberStatus.WITHDRAWN, MemberStatus.COMPLETED, MemberStatus.NOT_JOINED}

MEMBER_STATUS_WORDS = {
    MemberStatus.INVITED: "You are invited. Taking part is voluntary.",
    MemberStatus.OPTED_IN: "You are taking part. Your training opens when recruitment closes.",
    MemberStatus.TRAINED: "Your training is done. Matching follows when the training window closes.",
    MemberStatus.NOT_JOINED: "You did not join this run. You are welcome in a later one.",
    MemberStatus.EXCLUDED: "Your training was not finished in time, so you are not in this round of matching. "
    "Your progress is kept for the next run.",
    MemberStatus.UNMATCHED: "You have no partner at the moment. If someone becomes free, you will be considered first.",
    MemberStatus.PAIRED: "You are paired. Your pairing's plan and check-ins are below.",
    MemberStatus.INACTIVE: "Your match was closed because we did not hear from you in time. Tell your coordinator "
    "if you would still like to take part.",
    MemberStatus.WITHDRAWN: "You have withdrawn. Nothing you wrote is lost, and you are welcome back in a later run.",
    MemberStatus.COMPLETED: "You completed the program. Thank you for learning in both directions.",
}


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
        return response

    def message(self, request: Request, status: int, title: str, message: str, **extra: Any) -> HTMLResponse:
        return self.page(request, "message.html", {"title": title, "message": message, **extra}, status)

    # Who is looking
    async def spec(self, program_id: str) -> ProgramSpec:
        if program_id not in self.specs:
            try:
                self.specs[program_id] = await program_spec(self.client, program_id)
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    raise PortalError(404, "Program not found", "This program is no longer available.") from error
                raise
        return self.specs[program_id]

    async def member(self, program_id: str, email: str) -> MemberView | None:
        return await member_view(self.client, program_id, email)

    async def viewer(self, request: Request) -> Viewer:
        session = self.sessions.read(request)
        if session is not None and session.signed_in and not await run_in_threadpool(self.signed_in.live, session):
            session = None  # signed out, or signed in again since: the cookie opens nothing now
        if session is None or session.email is None or session.program_id is None:
            raise PortalError(
                401, "Please sign in", "Sign in with the link in your most recent message from the program."
            )
        spec = await self.spec(session.program_id)
        member = await self.member(session.program_id, session.email)
        coordinator = session.email in spec.coordinators
        if member is None and not coordinator:
            raise PortalError(403, "Not part of this program", f"{session.email} is not part of {spec.name}.")
        return Viewer(session, session.email, session.program_id, spec, member, coordinator)

    async def coordinator(self, request: Request) -> Viewer:
        viewer = await self.viewer(request)
        if not viewer.coordinator:
            raise PortalError(403, "For coordinators only", "This page is for the program's coordinators.")
        return viewer

    # Prompts
    async def pending(self, viewer: "Viewer") -> list[PendingPrompt]:
        """The person's pending prompts, across the program and their pairings; the member view the viewer was
        checked with names the pairings, so the program is asked once more, not twice."""
        return await prompts_of(self.client, viewer.program_id, viewer.email, viewer.member)

    async def find_prompt(self, viewer: Viewer, workflow_id: str, prompt_id: str) -> PendingPrompt:
        """The prompt, only if it waits for this person: looked up among their own, never trusted from a URL."""
        for prompt in await self.pending(viewer):
            if prompt.workflow_id == workflow_id and prompt.id == prompt_id:
                return prompt
        raise PortalError(
            404,
            "Nothing to answer here",
            "This question is not waiting for an answer from you: it may have been answered already, or closed.",
        )

    async def pair_record(self, pairing_id: str, email: str) -> PairRecord:
        return await pair_record(self.client, pairing_id, email)

    def link_used(self, grant: SignIn) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(select(t.used_links.c.nonce).where(t.used_links.c.nonce == grant.nonce)).first()
        return found is not None


def _link_refused(error: LinkRefused) -> PortalError:
    status = 400 if isinstance(error.__cause__, SignatureExpired) else 403
    return PortalError(status, "This link cannot sign you in", str(error))


def create_app(settings: Settings, client: Client, engine: Engine | None = None) -> FastAPI:
    """The portal over one Temporal client and the program record at settings.database (or `engine`)."""
    portal = Portal(settings, client, engine)

    async def csrf_guard(request: Request) -> None:
        """Every POST carries the session's CSRF token; one without it is refused before anything is read."""
        if request.method != "POST":
            return
        form = await request.form()
        if not portal.sessions.csrf_ok(portal.sessions.read(request), form.get(CSRF_FIELD)):
            log.warning("portal.csrf_refused", path=request.url.path)
            raise PortalError(
                403,
                "This form has expired",
                "For your safety this form could not be accepted. Open the page again and send it from there.",
            )

    app = FastAPI(
        title="Flipside portal", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(csrf_guard)]
    )
    app.state.portal = portal
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RPCError)
    async def temporal_busy(request: Request, error: Exception) -> Response:
        """Temporal unreachable or too busy for a moment (a full query buffer, a timeout): ask to retry, keep the
        portal's own page and headers; nothing was sent, so nothing is lost."""
        assert isinstance(error, RPCError)
        log.warning("portal.temporal_unavailable", path=request.url.path, status=error.status.name, error=str(error))
        response = portal.message(
            request,
            503,
            "Busy for a moment",
            "Flipside could not reach the program just now. Nothing was lost: please try again in a few seconds.",
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(PortalError)
    async def portal_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, PortalError)
        return portal.message(request, error.status, error.title, error.message)

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> str:
        return "ok"

    # Sign-in
    @app.get("/signin")
    async def signin_page(request: Request, token: str = "") -> Response:
        if not token:
            raise PortalError(
                400, "This link is incomplete", "Use the sign-in link exactly as it came in your message."
            )
        try:
            grant = portal.signer.read(token)
        except LinkRefused as error:
            raise _link_refused(error) from error
        if await run_in_threadpool(portal.link_used, grant):
            raise PortalError(
                403,
                "This link cannot sign you in",
                "This sign-in link has already been used. Each link works once; use the one in your most recent "
                "message.",
            )
        session = portal.sessions.read(request) or new_session()
        response = portal.page(
            request, "signin.html", {"title": "Sign in", "grant": grant, "token": token, "csrf": session.csrf}
        )
        portal.sessions.save(response, session)
        return response

    @app.post("/signin")
    async def signin(request: Request) -> Response:
        token = (await request.form()).get("token")
        if not isinstance(token, str) or not token:
            raise PortalError(
                400, "This link is incomplete", "Use the sign-in link exactly as it came in your message."
            )
        try:
            grant = portal.signer.read(token)
            await run_in_threadpool(portal.book.use, grant)
        except LinkRefused as error:
            log.info("portal.signin_refused", reason=str(error))
            raise _link_refused(error) from error
        email = grant.email.strip().lower()
        sid = await run_in_threadpool(portal.signed_in.start, email, grant.program_id)
        session = new_session(email, grant.program_id, sid)  # a fresh CSRF token for the signed-in session
        target = await _landing(portal, session, grant)
        log.info("portal.signed_in", program=grant.program_id, prompt=grant.prompt_id)
        response = RedirectResponse(target, status_code=303)
        portal.sessions.save(response, session)
        return response

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        session = portal.sessions.read(request)
        if session is not None and session.sid is not None:
            await run_in_threadpool(portal.signed_in.end, session.sid)
        response = portal.message(request, 200, "Signed out", "You are signed out. Thank you.")
        portal.sessions.clear(response)
        return response

    # My prompts
    @app.get("/")
    async def my_prompts(request: Request) -> Response:
        viewer = await portal.viewer(request)
        prompts = await portal.pending(viewer)
        cards = [PromptCard(prompt=prompt) for prompt in prompts]
        return portal.page(
            request,
            "home.html",
            {"title": "My prompts", "viewer": viewer, "cards": cards, "status_words": MEMBER_STATUS_WORDS},
        )

    @app.get("/prompts/{workflow_id}/{prompt_id}")
    async def prompt_page(request: Request, workflow_id: str, prompt_id: str) -> Response:
        viewer = await portal.viewer(request)
        prompt = await portal.find_prompt(viewer, workflow_id, prompt_id)
        card = PromptCard(prompt=prompt)
        return portal.page(request, "prompt.html", {"title": card.title, "viewer": viewer, "card": card})

    @app.post("/prompts/{workflow_id}/{prompt_id}")
    async def answer(request: Request, workflow_id: str, prompt_id: str) -> Response:
        viewer = await portal.viewer(request)
        prompt = await portal.find_prompt(viewer, workflow_id, prompt_id)
        values = form_values((await request.form()).multi_items())
        values.pop(CSRF_FIELD, None)
        answer_id = sent_as(values)
        card = PromptCard(prompt=prompt, values=values)
        try:
            answer = build_answer(prompt, viewer.email, answer_fields(card, values))
            reply = await send_answer(portal.client, prompt, answer, answer_id)
        except ValidationError as error:
            card.errors = validation_errors(error)
        except Refused as refusal:
            place_refusal(card, refusal)
        else:
            log.info("portal.answered", program=viewer.program_id, workflow=prompt.workflow_id, prompt=prompt.id)
            return portal.page(request, "done.html", {"title": "Thank you", "viewer": viewer, "reply": reply})
        log.info("portal.answer_refused", program=viewer.program_id, workflow=prompt.workflow_id, prompt=prompt.id)
        return portal.page(request, "prompt.html", {"title": card.title, "viewer": viewer, "card": card}, 422)

    # The person's own pairing
    @app.get("/pairings/{pairing_id}")
    async def pairing_page(request: Request, pairing_id: str) -> Response:
        viewer = await portal.viewer(request)
        if pairing_id not in viewer.pairing_ids:
            raise PortalError(403, "Not your pairing", "You can only see the pairings you are part of.")
        record = await portal.pair_record(pairing_id, viewer.email)
        return portal.page(request, "pairing.html", {"title": "Your pairing", "viewer": viewer, "record": record})

    # Withdraw
    @app.get("/withdraw")
    async def withdraw_page(request: Request) -> Response:
        viewer = await portal.viewer(request)
        return portal.page(
            request, "withdraw.html", {"title": "Step back", "viewer": viewer, "error": None, "reason": ""}
        )

    @app.post("/withdraw")
    async def withdraw(request: Request) -> Response:
        viewer = await portal.viewer(request)
        values = form_values((await request.form()).multi_items())
        reason = (values.get("reason") or [""])[0].strip()
        if viewer.member is None:
            raise PortalError(403, "Not a participant", "Only participants can withdraw from a program.")
        withdrawal = Withdrawal(participant=viewer.email, reason=reason)
        try:
            reply = await act(portal.client, viewer.program_id, Action.WITHDRAW, withdrawal, sent_as(values))
        except Refused as refusal:
            context = {"title": "Step back", "viewer": viewer, "error": refusal.sentence, "reason": reason}
            return portal.page(request, "withdraw.html", context, 422)
        log.info("portal.withdrew", program=viewer.program_id)
        return portal.page(request, "done.html", {"title": "You have stepped back", "viewer": viewer, "reply": reply})

    # Coordinators
    @app.get("/program")
    async def program_page(request: Request) -> Response:
        viewer = await portal.coordinator(request)
        return await _program_page(portal, request, viewer)

    @app.post("/program/approve")
    async def approve(request: Request) -> Response:
        viewer = await portal.coordinator(request)
        request_id = sent_as(form_values((await request.form()).multi_items()))
        approval = Approval(coordinator=viewer.email)
        try:
            reply = await act(portal.client, viewer.program_id, Action.APPROVE, approval, request_id)
        except Refused as refusal:
            return await _program_page(portal, request, viewer, approve_error=refusal.sentence, status=422)
        log.info("portal.approved", program=viewer.program_id)
        return portal.page(
            request, "done.html", {"title": "Pairs approved", "viewer": viewer, "reply": reply, "back": "/program"}
        )

    @app.get("/program/report")
    async def report(request: Request) -> Response:
        viewer = await portal.coordinator(request)
        try:
            html = await run_in_threadpool(render_report, portal.engine, viewer.program_id)
        except ProgramNotFound as error:
            raise _no_report_yet() from error
        # The report is self-contained (inline style, data: charts) and carries its own, equally strict, policy.
        csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
        return HTMLResponse(html, headers={"content-security-policy": csp})

    @app.get("/program/report/{name}")
    async def report_csv(request: Request, name: str) -> Response:
        viewer = await portal.coordinator(request)
        if name not in REPORT_FILES:
            raise PortalError(404, "No such file", f"The report's files are {', '.join(REPORT_FILES)}.")
        try:
            text = await run_in_threadpool(render_csv, portal.engine, viewer.program_id, name)
        except ProgramNotFound as error:
            raise _no_report_yet() from error
        disposition = f'attachment; filename="{viewer.program_id}-{name}"'
        return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": disposition})

    return app


def _no_report_yet() -> PortalError:
    return PortalError(
        404,
        "No report yet",
        "The program record has nothing of this program yet: its start is stored as soon as a worker takes it up.",
    )


async def _landing(portal: Portal, session: Session, grant: SignIn) -> str:
    """Where a fresh sign-in goes: the prompt its link was about, while it is still open; else My prompts."""
    if grant.prompt_id is None or session.email is None:
        return "/"
    try:
        prompts = await prompts_for(portal.client, grant.program_id, session.email)
    except RPCError:
        return "/"
    for prompt in prompts:
        if prompt.id == grant.prompt_id:
            return "/program" if prompt.kind == PromptKind.APPROVE_MATCHES else prompt_url(prompt)
    return "/"


async def _program_page(
    portal: Portal, request: Request, viewer: Viewer, approve_error: str | None = None, status: int = 200
) -> Response:
    current: ProgramStatus = await program_status(portal.client, viewer.program_id)
    record = await run_in_threadpool(read_program_record, portal.engine, viewer.program_id)
    latest = list(current.snapshots.items())[-1] if current.snapshots else None
    namespace = portal.settings.namespace
    context = {
        "title": f"{current.name}: coordinator",
        "viewer": viewer,
        "status": current,
        "finished": current.phase in FINISHED,
        "record": record,
        "steps": timeline(viewer.spec, current.phase, record.phases_started),
        "latest": latest,
        "attention": [p for p in record.pairings if p.needs_attention],
        "approve_error": approve_error,
        "program_link": ui_link(viewer.program_id, namespace),
        "program_workflow_link": workflow_link(viewer.program_id, namespace),
        "links": {p.pairing_id: workflow_link(p.pairing_id, namespace) for p in record.pairings},
        "ProgramPhase": ProgramPhase,
    }
    return portal.page(request, "program.html", context, status)


__all__ = ["Portal", "PortalError", "create_app"]
