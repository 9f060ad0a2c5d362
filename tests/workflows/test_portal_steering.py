"""A coordinator steers a program from its page (portal/coordinator.py): pause, resume, close recruitment, remind
those who have not answered, cancel with a reason, rematch a pairing, invite more people, edit the pairs. Each form
carries a request id, so a second click is the same request; a refusal is shown next to the forms in the program's
words; the page after an action waits, bounded, for the record to show its effect."""

import uuid
from collections.abc import AsyncIterator

import pytest

from domain.people import ROSTER_HEADER
from domain.program import ProgramPhase
from domain.prompts import PromptKind
from portal.forms import ANSWER_ID_FIELD
from tests.helpers.driving import drive, opt_in_everyone, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, roster
from tests.helpers.portal import (
    Browser,
    browser,
    error_next_to,
    portal_app,
    short_spec,
    text_of,
    until_prompt,
    wind_down,
)
from tests.helpers.programs import start_program, status
from tests.helpers.waiting import eventually


@pytest.fixture
async def harness(harness: Harness) -> AsyncIterator[Harness]:
    yield harness
    await wind_down(harness)


HEADER = ",".join(ROSTER_HEADER)
NEWCOMER = "zoe.new@flipside.example,Zoe New,mentor,1,design,figma,negotiation,music,Europe/Lisbon,"
BAD_PASTE = f"{HEADER}\n{NEWCOMER.replace(',1,', ',very,')}\n"


async def steer(coach: Browser, action: str, request_id: str | None = None, reason: str = "") -> tuple[int, str]:
    """Post a steering form as the page would, with a request id of its own unless given one."""
    form = {ANSWER_ID_FIELD: request_id or uuid.uuid4().hex, "reason": reason}
    response = await coach.post(f"/program/steer/{action}", form)
    return response.status_code, response.text


async def test_a_coordinator_steers_the_program_from_its_page(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    p = people[0]
    existing = f"{p.email},{p.name},mentor,1,design,figma,negotiation,music,Europe/Lisbon,"
    async with portal_app(harness) as app, browser(app) as coach:
        await coach.sign_in(harness.settings, COORDINATOR, handle.id)
        page = (await coach.get("/program")).text
        actions = ("close-recruitment", "pause", "resume", "nudge", "cancel")
        offered = {a for a in actions if f"/program/steer/{a}" in page}

        twice = uuid.uuid4().hex  # a double click: the same request id twice
        first, again = await steer(coach, "pause", twice), await steer(coach, "pause", twice)
        paused_page = (await coach.get("/program")).text
        refused_code, refused_page = await steer(coach, "pause")  # a new request: the program is paused already
        resumed = await steer(coach, "resume")
        nudged, nudged_again = await steer(coach, "nudge"), await steer(coach, "nudge")
        reminders = [n for n in harness.notices() if n["kind"] == "reminder" and "/nudge-" in n["key"]]
        invited_before = (await status(handle)).funnel.invited
        bad = await coach.post("/program/add-people", {ANSWER_ID_FIELD: uuid.uuid4().hex, "people": BAD_PASTE})
        invited_after_bad = (await status(handle)).funnel.invited
        good = {ANSWER_ID_FIELD: uuid.uuid4().hex, "people": f"{HEADER}\n{NEWCOMER}\n{existing}\n"}
        added = await coach.post("/program/add-people", good)
        added_again = await coach.post("/program/add-people", good)
        invited_after = (await status(handle)).funnel.invited
        rematch = {ANSWER_ID_FIELD: uuid.uuid4().hex, "pairing_id": "pairing-nobody", "reason": "a typo"}
        no_pairing = await coach.post("/program/rematch", rematch)
        await opt_in_everyone(harness.client, handle.id, people)  # else it may end on its own once recruitment closes
        closed = await steer(coach, "close-recruitment")
        after_close = (await status(handle)).phase
        cancelled = await steer(coach, "cancel", reason="the budget moved to next year")

        async def cancelled_in_the_record() -> bool:  # cancelling waits for matching to end first
            return "Steer the program" not in (await coach.get("/program")).text

        await eventually(cancelled_in_the_record, "the cancel on the program page")
        final = await status(handle)
        unknown = await coach.post("/program/steer/shout", {ANSWER_ID_FIELD: uuid.uuid4().hex})

    assert offered == {"close-recruitment", "pause", "nudge", "cancel"}  # resume only once paused
    assert first[0] == again[0] == 200 and text_of(first[1]) == text_of(again[1])
    assert "(paused: no deadline runs)" in text_of(paused_page) and "/program/steer/resume" in paused_page
    assert refused_code == 422 and error_next_to(refused_page, "steer") == "the program is already paused"
    assert nudged[0] == 200 and "Reminded 2 people the program is waiting for." in text_of(nudged[1])
    assert nudged_again[0] == 422 and error_next_to(nudged_again[1], "steer") == (
        "everyone waiting was reminded less than a day ago"
    )
    assert sorted(n["to"] for n in reminders) == sorted(p.email for p in people)  # the two opt-ins, once each
    assert bad.status_code == 422 and invited_after_bad == invited_before  # nobody from a bad paste
    assert error_next_to(bad.text, "people").startswith("line 2: seniority: 'very' is not a whole number")
    assert "zoe.new@flipside.example,Zoe New,mentor,very" in bad.text  # what was pasted is kept
    assert added.status_code == added_again.status_code == 200 and invited_after == invited_before + 1
    assert f"{p.email}: not added: {p.email} is already invited" in text_of(added.text)
    assert resumed[0] == 200 and closed[0] == 200 and after_close != ProgramPhase.RECRUITMENT
    assert no_pairing.status_code == 422
    assert error_next_to(no_pairing.text, "steer").startswith("there is no pairing 'pairing-nobody' in ")
    assert cancelled[0] == 200 and final.phase == ProgramPhase.CANCELLED
    assert unknown.status_code == 404


async def test_a_coordinator_edits_the_proposed_pairs_and_a_forbidden_pair_is_refused_with_why(
    harness: Harness,
) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    mentor, mentee = (p.email for p in people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MATCHING)
    await until_prompt(harness, handle.id, COORDINATOR, PromptKind.APPROVE_MATCHES)
    async with portal_app(harness) as app, browser(app) as coach:
        await coach.sign_in(harness.settings, COORDINATOR, handle.id)
        page = (await coach.get("/program")).text
        reversed_pair = {ANSWER_ID_FIELD: uuid.uuid4().hex, "pairs": f"{mentee}:{mentor}\n"}
        refused = await coach.post("/program/approve", reversed_pair)
        garbled = await coach.post("/program/approve", {ANSWER_ID_FIELD: uuid.uuid4().hex, "pairs": f"{mentor}\n"})
        approved = await coach.post(
            "/program/approve", {ANSWER_ID_FIELD: uuid.uuid4().hex, "pairs": f"{mentor}:{mentee}"}
        )
        after = await status(handle)

    assert f"{mentor}:{mentee}" in page  # the proposal, ready to edit
    assert refused.status_code == 422 and f"{mentee}:{mentor}" in refused.text  # what was typed is kept
    assert f"{mentee} cannot mentor {mentor}" in text_of(refused.text)
    assert garbled.status_code == 422 and "line 1: write each pair as mentor:mentee" in garbled.text
    assert approved.status_code == 200 and not after.awaiting_approval
