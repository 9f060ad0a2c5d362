"""A coordinator's pages: the program at a glance, approving the proposed pairs, steering it (close recruitment,
pause, resume, cancel, rematch a pairing, invite more people, remind those who have not answered), and the report."""

import uuid
import zoneinfo
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from bootstrap import ui_link
from domain.answers import Approval, CoordinatorAction, NewParticipant, PairChoice, RematchRequest
from domain.people import ROSTER_HEADER, RosterError, describe_validation_error, parse_roster
from domain.program import FINISHED, ProgramPhase
from domain.views import ProgramStatus
from flipside_client import Action, Refused, act
from portal.forms import form_values, sent_as
from portal.record import REPORT_FILES, ProgramNotFound, read_program_record, render_csv, render_report, timeline
from portal.web import CoordinatorDep, Portal, PortalDep, PortalError, Viewer, log, workflow_link

router = APIRouter(prefix="/program")
# The report is self-contained (inline style, data: charts) and carries its own, equally strict, policy.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get("")
async def program_page(request: Request, portal: PortalDep, viewer: CoordinatorDep) -> Response:
    return await _program_page(portal, request, viewer)


@router.post("/approve")
async def approve(request: Request, portal: PortalDep, viewer: CoordinatorDep) -> Response:
    """Approve the proposal as it stands, or the coordinator's own pairs (`pairs`: a `mentor:mentee` a line),
    which the program checks against the same rules as matching; a refused pair is named with why."""
    values = form_values((await request.form()).multi_items())
    request_id = sent_as(values)
    edited = values.get("pairs")
    pairs, unreadable = _pairs_of(edited[0]) if edited else (None, [])
    typed = edited[0] if edited else None
    if unreadable:
        problems = "; ".join(unreadable)
        return await _program_page(portal, request, viewer, approve_error=problems, status=422, pairs_text=typed)
    approval = Approval(coordinator=viewer.email, pairs=pairs)
    try:
        reply = await act(portal.client, viewer.program_id, Action.APPROVE, approval, request_id)
    except Refused as refusal:
        return await _program_page(
            portal, request, viewer, approve_error=refusal.sentence, status=422, pairs_text=typed
        )
    log.info("portal.approved", program=viewer.program_id)
    await run_in_threadpool(portal.views.status_shows, viewer.program_id, _approved)  # the page after shows it
    context = {"title": "Pairs approved", "viewer": viewer, "reply": reply, "back": "/program"}
    return portal.page(request, "done.html", context)


LAGGING = "The program page may take a moment to show it."
TIMEZONES = frozenset(zoneinfo.available_timezones())  # read once: the roster check suggests the nearest name


def _pairs_of(text: str) -> tuple[list[PairChoice], list[str]]:
    """The pairs typed a line each as `mentor:mentee` (blank lines skipped), and the lines that are not."""
    pairs, unreadable = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        mentor, colon, mentee = line.partition(":")
        if not line.strip():
            continue
        if not colon or not mentor.strip() or not mentee.strip():
            unreadable.append(f"line {n}: write each pair as mentor:mentee, one a line")
            continue
        try:
            pairs.append(PairChoice(mentor=mentor.strip(), mentee=mentee.strip()))
        except ValidationError as error:
            unreadable.append(f"line {n}: {describe_validation_error(error)}")
    return pairs, unreadable


# What each steering action does, as the recorded status shows it: the page after it waits for that (bounded).
STEERING: dict[Action, Callable[[ProgramStatus], bool]] = {
    Action.CLOSE_RECRUITMENT: lambda status: status.phase != ProgramPhase.RECRUITMENT,
    Action.PAUSE: lambda status: status.paused,
    Action.RESUME: lambda status: not status.paused,
    Action.CANCEL: lambda status: status.phase in FINISHED,
    Action.NUDGE: lambda status: True,  # reminders go out as notices; the page shows nothing new
}


@router.post("/steer/{action}")
async def steer(action: str, request: Request, portal: PortalDep, viewer: CoordinatorDep) -> Response:
    chosen = next((known for known in STEERING if known.value == action), None)
    if chosen is None:
        raise PortalError(404, "No such action", f"A program can be asked to {', '.join(STEERING)}.")
    values = form_values((await request.form()).multi_items())
    request_id = sent_as(values)
    payload = CoordinatorAction(coordinator=viewer.email, reason=_field(values, "reason"))
    return await _steered(portal, request, viewer, chosen, payload, request_id)


@router.post("/rematch")
async def rematch(request: Request, portal: PortalDep, viewer: CoordinatorDep) -> Response:
    values = form_values((await request.form()).multi_items())
    request_id = sent_as(values)
    pairing_id, reason = _field(values, "pairing_id"), _field(values, "reason")
    payload = RematchRequest(coordinator=viewer.email, pairing_id=pairing_id, reason=reason)
    return await _steered(portal, request, viewer, Action.REMATCH, payload, request_id)


@router.post("/add-people")
async def add_people(request: Request, portal: PortalDep, viewer: CoordinatorDep) -> Response:
    """Invite the people pasted under the roster's header, checked as `starter.py start` checks a roster (every bad
    line named, nobody invited from a bad paste); then each in turn, so one refusal stops nobody else."""
    values = form_values((await request.form()).multi_items())
    request_id = sent_as(values) or uuid.uuid4().hex
    text = (values.get("people") or [""])[0]
    try:
        people = parse_roster(text, TIMEZONES)
    except RosterError as error:
        problems = [f"line {p.line}: {p.message}" for p in error.problems]
        return await _program_page(portal, request, viewer, status=422, add_problems=problems, add_text=text)
    replies = []
    for n, person in enumerate(people):  # an id per person from the form's: a second click adds nobody twice
        invite = NewParticipant(coordinator=viewer.email, participant=person)
        try:
            reply = await act(portal.client, viewer.program_id, Action.ADD_PARTICIPANT, invite, f"{request_id}-{n}")
        except Refused as refusal:
            reply = f"not added: {refusal.sentence}"
        replies.append(f"{person.email}: {reply}")
    log.info("portal.people_added", program=viewer.program_id, people=len(people))
    context = {"title": "Invitations", "viewer": viewer, "reply": " ".join(replies), "back": "/program"}
    return portal.page(request, "done.html", context)


def _field(values: dict[str, list[str]], name: str) -> str:
    return (values.get(name) or [""])[0].strip()


async def _steered(
    portal: Portal,
    request: Request,
    viewer: Viewer,
    action: Action,
    payload: CoordinatorAction | RematchRequest,
    request_id: str | None,
) -> Response:
    """Send a coordinator's action once (the form's request id: a second click is the same request), then show
    the program's reply once the record shows its effect, or the program page with the refusal next to the form."""
    try:
        reply = await act(portal.client, viewer.program_id, action, payload, request_id)
    except Refused as refusal:
        return await _program_page(portal, request, viewer, steer_error=refusal.sentence, status=422)
    log.info("portal.steered", program=viewer.program_id, action=action.value)
    shows = STEERING.get(action)
    if shows is not None and not await run_in_threadpool(portal.views.status_shows, viewer.program_id, shows):
        reply = f"{reply} {LAGGING}"
    context = {"title": "Done", "viewer": viewer, "reply": reply, "back": "/program"}
    return portal.page(request, "done.html", context)


@router.get("/report")
async def report(portal: PortalDep, viewer: CoordinatorDep) -> Response:
    try:
        html = await run_in_threadpool(render_report, portal.engine, viewer.program_id)
    except ProgramNotFound as error:
        raise _no_report_yet() from error
    return HTMLResponse(html, headers={"content-security-policy": REPORT_CSP})


@router.get("/report/{name}")
async def report_csv(portal: PortalDep, viewer: CoordinatorDep, name: str) -> Response:
    if name not in REPORT_FILES:
        raise PortalError(404, "No such file", f"The report's files are {', '.join(REPORT_FILES)}.")
    try:
        text = await run_in_threadpool(render_csv, portal.engine, viewer.program_id, name)
    except ProgramNotFound as error:
        raise _no_report_yet() from error
    disposition = f'attachment; filename="{viewer.program_id}-{name}"'
    return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": disposition})


def _approved(status: ProgramStatus) -> bool:
    return not status.awaiting_approval


def _no_report_yet() -> PortalError:
    return PortalError(
        404,
        "No report yet",
        "The program record has nothing of this program yet: its start is stored as soon as a worker takes it up.",
    )


async def _program_page(
    portal: Portal,
    request: Request,
    viewer: Viewer,
    approve_error: str | None = None,
    status: int = 200,
    steer_error: str | None = None,
    add_problems: list[str] | None = None,
    add_text: str | None = None,
    pairs_text: str | None = None,
) -> Response:
    current = await portal.status(viewer)
    record = await run_in_threadpool(read_program_record, portal.engine, viewer.program_id)
    namespace = portal.settings.namespace
    context = {
        "title": f"{current.name}: coordinator",
        "viewer": viewer,
        "status": current,
        "finished": current.phase in FINISHED,
        "record": record,
        "steps": timeline(viewer.spec, current.phase, record.phases_started),
        "latest": list(current.snapshots.items())[-1] if current.snapshots else None,
        "attention": [p for p in record.pairings if p.needs_attention],
        "approve_error": approve_error,
        "steer_error": steer_error,
        "pairs_text": pairs_text,
        "add_problems": add_problems or [],
        "add_text": add_text if add_text is not None else ",".join(ROSTER_HEADER) + "\n",
        "running": [p for p in record.pairings if p.outcome is None],
        "program_link": ui_link(viewer.program_id, namespace),
        "program_workflow_link": workflow_link(viewer.program_id, namespace),
        "links": {p.pairing_id: workflow_link(p.pairing_id, namespace) for p in record.pairings},
        "ProgramPhase": ProgramPhase,
    }
    return portal.page(request, "program.html", context, status)
