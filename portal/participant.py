"""A participant's pages: My prompts, one prompt and its answer, their own pairing, and stepping back."""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from domain.answers import Withdrawal
from domain.replies import MEMBER_STATUS_WORDS
from flipside_client import Action, Refused, act, build_answer, send_answer
from portal.forms import PromptCard, answer_fields, form_values, place_refusal, sent_as, validation_errors
from portal.sessions import CSRF_FIELD, Answered
from portal.web import PortalDep, PortalError, ViewerDep, log

router = APIRouter()


@router.get("/")
async def my_prompts(request: Request, portal: PortalDep, viewer: ViewerDep) -> Response:
    cards = [PromptCard(prompt=prompt) for prompt in await portal.pending(viewer)]
    fresh = await portal.freshness(viewer.program_id)
    context = {
        "title": "My prompts",
        "viewer": viewer,
        "cards": cards,
        "status_words": MEMBER_STATUS_WORDS,
        "as_of": fresh.latest,
    }
    return portal.page(request, "home.html", context)


@router.get("/prompts/{workflow_id}/{prompt_id}")
async def prompt_page(
    request: Request, portal: PortalDep, viewer: ViewerDep, workflow_id: str, prompt_id: str
) -> Response:
    card = PromptCard(prompt=await portal.find_prompt(viewer, workflow_id, prompt_id))
    return portal.page(request, "prompt.html", {"title": card.title, "viewer": viewer, "card": card})


@router.post("/prompts/{workflow_id}/{prompt_id}")
async def answer(request: Request, portal: PortalDep, viewer: ViewerDep, workflow_id: str, prompt_id: str) -> Response:
    prompt = await portal.find_prompt(viewer, workflow_id, prompt_id)
    values = form_values((await request.form()).multi_items())
    values.pop(CSRF_FIELD, None)
    answer_id = sent_as(values)
    card = PromptCard(prompt=prompt, values=values)
    shown_as = await portal.shown_as(prompt)
    try:
        answer = build_answer(prompt, viewer.email, answer_fields(card, values))
        reply = await send_answer(portal.client, prompt, answer, answer_id)
    except ValidationError as error:
        card.errors = validation_errors(error)
    except Refused as refusal:
        place_refusal(card, refusal)
    else:
        log.info("portal.answered", program=viewer.program_id, workflow=prompt.workflow_id, prompt=prompt.id)
        if shown_as is not None:  # the next page waits for the record to show the answer (read your writes)
            answered = Answered(workflow_id=prompt.workflow_id, prompt_id=prompt.id, shown_as=shown_as)
            portal.keep_session(request, viewer.session.after_answer(answered))
        return portal.page(request, "done.html", {"title": "Thank you", "viewer": viewer, "reply": reply})
    log.info("portal.answer_refused", program=viewer.program_id, workflow=prompt.workflow_id, prompt=prompt.id)
    return portal.page(request, "prompt.html", {"title": card.title, "viewer": viewer, "card": card}, 422)


@router.get("/pairings/{pairing_id}")
async def pairing_page(request: Request, portal: PortalDep, viewer: ViewerDep, pairing_id: str) -> Response:
    if pairing_id not in viewer.pairing_ids:
        raise PortalError(403, "Not your pairing", "You can only see the pairings you are part of.")
    record = await portal.pair_record(viewer, pairing_id)
    return portal.page(request, "pairing.html", {"title": "Your pairing", "viewer": viewer, "record": record})


@router.get("/withdraw")
async def withdraw_page(request: Request, portal: PortalDep, viewer: ViewerDep) -> Response:
    context = {"title": "Step back", "viewer": viewer, "error": None, "reason": ""}
    return portal.page(request, "withdraw.html", context)


@router.post("/withdraw")
async def withdraw(request: Request, portal: PortalDep, viewer: ViewerDep) -> Response:
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
