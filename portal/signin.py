"""Signing in by a link from a message (used once, on POST: mail scanners prefetch GETs), and signing out."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from adapters.links import LinkRefused, SignIn
from domain.prompts import PromptKind
from flipside_client import prompts_for
from portal.forms import prompt_url
from portal.sessions import Session, new_session
from portal.web import Portal, PortalDep, PortalError, link_refused, log

router = APIRouter()
INCOMPLETE = PortalError(400, "This link is incomplete", "Use the sign-in link exactly as it came in your message.")


@router.get("/signin")
async def signin_page(request: Request, portal: PortalDep, token: str = "") -> Response:
    if not token:
        raise INCOMPLETE
    try:
        grant = portal.signer.read(token)
    except LinkRefused as error:
        raise link_refused(error) from error
    if await run_in_threadpool(portal.link_used, grant):
        raise PortalError(
            403,
            "This link cannot sign you in",
            "This sign-in link has already been used. Each link works once; use the one in your most recent message.",
        )
    session = portal.sessions.read(request) or new_session()
    context = {"title": "Sign in", "grant": grant, "token": token, "csrf": session.csrf}
    response = portal.page(request, "signin.html", context)
    portal.sessions.save(response, session)
    return response


@router.post("/signin")
async def signin(request: Request, portal: PortalDep) -> Response:
    token = (await request.form()).get("token")
    if not isinstance(token, str) or not token:
        raise INCOMPLETE
    try:
        grant = portal.signer.read(token)
        await run_in_threadpool(portal.book.use, grant)
    except LinkRefused as error:
        log.info("portal.signin_refused", reason=str(error))
        raise link_refused(error) from error
    email = grant.email.strip().lower()
    sid = await run_in_threadpool(portal.signed_in.start, email, grant.program_id)
    session = new_session(email, grant.program_id, sid)  # a fresh CSRF token for the signed-in session
    target = await _landing(portal, session, grant)
    log.info("portal.signed_in", program=grant.program_id, prompt=grant.prompt_id)
    response = RedirectResponse(target, status_code=303)
    portal.sessions.save(response, session)
    return response


@router.post("/signout")
async def signout(request: Request, portal: PortalDep) -> Response:
    session = portal.sessions.read(request)
    if session is not None and session.sid is not None:
        await run_in_threadpool(portal.signed_in.end, session.sid)
    response = portal.message(request, 200, "Signed out", "You are signed out. Thank you.")
    portal.sessions.clear(response)
    return response


async def _landing(portal: Portal, session: Session, grant: SignIn) -> str:
    """Where a fresh sign-in goes: the prompt its link was about, while it is still open; else My prompts."""
    if grant.prompt_id is None or session.email is None:
        return "/"
    await run_in_threadpool(portal.views.until_program, grant.program_id)  # a program just started: its record
    prompts = await portal.recorded_prompts(grant.program_id, session.email)
    try:
        if prompts is None:  # a program started before the record kept prompts
            prompts = await prompts_for(portal.client, grant.program_id, session.email)
    except RPCError:
        return "/"
    if all(p.id != grant.prompt_id for p in prompts) and await _arriving(portal, grant, session.email):
        prompts = await portal.recorded_prompts(grant.program_id, session.email) or []
    for prompt in prompts:
        if prompt.id == grant.prompt_id:
            return "/program" if prompt.kind == PromptKind.APPROVE_MATCHES else prompt_url(prompt)
    return "/"


async def _arriving(portal: Portal, grant: SignIn, email: str) -> bool:
    """Whether the link's prompt reached the record after a short wait: its message can outrun its event."""
    assert grant.prompt_id is not None
    shelf = portal.shelf
    return await run_in_threadpool(shelf.until_shown, grant.program_id, None, email, grant.prompt_id)
