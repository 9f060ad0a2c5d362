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
    POST /program/approve  [pairs]          coordinators: approve the proposed pairs as they stand, or their own
                                            (`pairs`: mentor:mentee a line; 422 with why a pair is refused)
    POST /program/steer/{action}  reason    coordinators: close-recruitment, pause, resume, nudge or cancel (422 with
                                            the refusal next to the forms; 404 for another action)
    POST /program/rematch  pairing_id, reason  coordinators: end a running pairing, both people back in the pool
    POST /program/add-people  people        coordinators: invite the roster lines pasted under its header (422 with
                                            every bad line named, nobody invited)
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
Workflow queries used, through flipside_client: the program's `program_spec` (coordinators, ground rules, modules,
durations; cached), `member`, `pending_prompts` and `status`; a pairing's `pending_prompts` and `pair_record`.

The routes live in three routers: portal/signin.py, portal/participant.py and portal/coordinator.py; what they
share (the Portal, the Viewer, the dependencies that give a route its viewer) in portal/web.py.
"""

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from portal import coordinator, participant, signin
from portal.sessions import CSRF_FIELD
from portal.web import HERE, Portal, PortalError, SecurityHeaders
from settings import Settings

log = structlog.get_logger()


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
    _error_pages(app, portal)

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> str:
        return "ok"

    for router in (signin.router, participant.router, coordinator.router):
        app.include_router(router)
    return app


def _error_pages(app: FastAPI, portal: Portal) -> None:
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


__all__ = ["Portal", "PortalError", "create_app"]
