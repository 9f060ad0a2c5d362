"""The portal's guarantees: links work once and only as signed, sessions cannot be forged, every form needs its
CSRF token, people reach only their own prompts and pairings, and coordinators never see what a pair wrote.

Real app, real workflows (time-skipping server), real SQL; "nothing reached the workflow" is read from the
workflow's own history (no update accepted) and state (the prompt is still open).
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from adapters.links import SALT, SignIn
from adapters.store import tables as t
from domain.pairing import PairingView
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt, PromptKind
from domain.views import MemberStatus
from flipside_client import prompts_for
from portal.record import REPORT_FILES
from portal.sessions import SESSION_COOKIE, SESSION_SALT
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, S0, roster
from tests.helpers.portal import (
    browser,
    forged_session,
    hidden,
    open_kinds,
    path_of,
    portal_app,
    prompt_path,
    short_spec,
    signer,
    text_of,
    until_prompt,
    wind_down,
)
from tests.helpers.programs import Handle, member, start_program, status
from tests.helpers.waiting import skip


@pytest.fixture
async def harness(harness: Harness) -> AsyncIterator[Harness]:
    """The shared harness, wound down cleanly after each test (see tests.helpers.portal.wind_down)."""
    yield harness
    await wind_down(harness)


async def updates_accepted(h: Harness, workflow_id: str) -> int:
    """Updates the workflow accepted, from its history: the count a refused request must leave unchanged."""
    accepted = 0
    async for event in h.client.get_workflow_handle(workflow_id).fetch_history_events():
        accepted += event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return accepted


async def in_introduction(h: Harness) -> Handle:
    """Two pairs approved and started, each waiting for both people to accept their match."""
    people = roster(2)
    handle = await start_program(h, short_spec(), people)
    await drive(h, handle, personas_for(people), until=ProgramPhase.MATCHING)
    return handle


async def pending(h: Harness, program_id: str, email: str, kind: PromptKind) -> PendingPrompt:
    return await until_prompt(h, program_id, email, kind)


# People reach only their own prompts and pairings
async def test_a_participant_can_neither_read_nor_answer_another_persons_prompt(harness: Harness) -> None:
    handle = await in_introduction(harness)
    pid = handle.id
    async with portal_app(harness) as app, browser(app) as junior, browser(app) as coach:
        await coach.sign_in(harness.settings, COORDINATOR, pid)
        assert "Approved 2 pairs" in (await coach.post("/program/approve", {})).text
        mine = await pending(harness, pid, J0, PromptKind.ACCEPT_MATCH)
        theirs = await pending(harness, pid, J1, PromptKind.ACCEPT_MATCH)
        assert mine.workflow_id != theirs.workflow_id
        await junior.sign_in(harness.settings, J0, pid)
        before = await updates_accepted(harness, theirs.workflow_id)

        assert (await junior.get(prompt_path(theirs))).status_code == 404
        answer = await junior.post(prompt_path(theirs), {"accept": "no", "reason": "not for me"})
        assert answer.status_code == 404 and "not waiting for an answer from you" in answer.text
        assert "accept-match" in await open_kinds(harness, pid, J1)
        assert await updates_accepted(harness, theirs.workflow_id) == before

        # A field naming someone else is ignored: who answers comes from the session, never the form
        own = await junior.post(prompt_path(mine), {"accept": "yes", "participant": S0})
        assert own.status_code == 200
        assert "accept-match" not in await open_kinds(harness, pid, J0)
        assert "accept-match" in await open_kinds(harness, pid, S0)

        # Pair records: one's own, never another pair's
        assert (await junior.get(f"/pairings/{mine.workflow_id}")).status_code == 200
        other = await junior.get(f"/pairings/{theirs.workflow_id}")
        assert other.status_code == 403 and "only see the pairings you are part of" in other.text
        # A link about a prompt that is not theirs lands on their own prompts, not on someone else's
        assert await junior.sign_in(harness.settings, J0, pid, "pulse-1") == "/"

    # A decline's reason, said on the form to be for the coordinator only, reaches nobody else
    reason = f"Prefer someone outside my team {uuid.uuid4()}"
    async with portal_app(harness) as app, browser(app) as declining:
        await declining.sign_in(harness.settings, J1, pid)
        said = await declining.post(prompt_path(theirs), {"accept": "no", "reason": reason})
        assert "The program will look for another partner for you" in said.text
    for _ in range(100):  # the notice goes out as the workflow's next step
        if any(reason in n["body"] for n in harness.notices()):
            break
        await skip(harness.env, timedelta(minutes=1))
    told = [n["to"] for n in harness.notices() if reason in json.dumps(n)]
    assert told == [COORDINATOR]


async def test_a_participant_cannot_open_coordinator_pages_or_approve(harness: Harness) -> None:
    handle = await in_introduction(harness)
    pid = handle.id
    async with portal_app(harness) as app, browser(app) as junior:
        await junior.sign_in(harness.settings, J0, pid)
        for page in ["/program", "/program/report", *(f"/program/report/{name}" for name in REPORT_FILES)]:
            response = await junior.get(page)
            assert response.status_code == 403, page
            assert "for the program's coordinators" in text_of(response.text)
        before = await updates_accepted(harness, pid)
        refused = await junior.post("/program/approve", {})
        assert refused.status_code == 403
        assert (await status(handle)).awaiting_approval
        assert await updates_accepted(harness, pid) == before


async def test_someone_outside_the_program_sees_nothing(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(1))
    async with portal_app(harness) as app, browser(app) as outsider:
        await outsider.sign_in(harness.settings, "outsider@example.com", handle.id)
        for page in ["/", f"/prompts/{handle.id}/opt-in", "/program", "/withdraw", "/pairings/x"]:
            response = await outsider.get(page)
            assert response.status_code == 403, page
            assert "outsider@example.com is not part of Digital Fluency 2026" in response.text
            assert "What we say stays between us" not in response.text


# Sessions
async def test_a_session_cookie_cannot_be_forged_or_edited(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(1))
    pid = handle.id
    async with portal_app(harness) as app, browser(app) as junior, browser(app) as mallory:
        await junior.sign_in(harness.settings, J0, pid)
        # Signed with another key: nobody is signed in, and a form sent with it is refused
        forged = forged_session("not the installation's key", csrf="x" * 43, email=S0, program_id=pid)
        mallory.http.cookies.set(SESSION_COOKIE, forged)
        assert (await mallory.get("/")).status_code == 401
        refused = await mallory.post(f"/prompts/{pid}/opt-in", {"consent_to_ground_rules": "yes"}, csrf="x" * 43)
        assert refused.status_code == 403
        # junior's own cookie with the email swapped for senior's: the signature no longer fits
        cookie = junior.http.cookies[SESSION_COOKIE]
        unsigned = URLSafeTimedSerializer("no key needed to read it", salt=SESSION_SALT)
        _, data = unsigned.loads_unsafe(cookie)
        edited = unsigned.dump_payload({**data, "email": S0}).decode()
        timestamp, signature = cookie.rsplit(".", 2)[1:]
        mallory.http.cookies.set(SESSION_COOKIE, f"{edited}.{timestamp}.{signature}")
        assert (await mallory.get("/")).status_code == 401
        refused = await mallory.post(f"/prompts/{pid}/opt-in", {"consent_to_ground_rules": "yes"}, csrf=data["csrf"])
        assert refused.status_code == 403
        assert (await member(handle, S0)).status == MemberStatus.INVITED
        assert (await junior.get("/")).status_code == 200  # the real cookie still works


# Links
class _LongAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 15 * 24 * 3600  # signed 15 days ago; links live 14


async def test_expired_used_and_forged_links_are_refused(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(1))
    pid, settings = handle.id, harness.settings
    async with portal_app(harness) as app, browser(app) as junior, browser(app) as other:
        # Expired
        old = URLSafeTimedSerializer(settings.signing_key(), salt=SALT, signer=_LongAgo)
        expired = old.dumps(SignIn(email=J0, program_id=pid, nonce=uuid.uuid4().hex).model_dump(exclude_none=True))
        page = await junior.get(f"/signin?token={expired}")
        assert page.status_code == 400 and "This sign-in link has expired" in page.text
        # Forged (another key) and tampered (one character changed)
        forged = signer(settings.model_copy(update={"secret_key": "someone else's key"})).token(J0, pid)
        good = signer(settings).token(J0, pid)
        tampered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
        # Signed with the right key but not a grant (another use of the key, an old format): refused in words, with
        # the same headers as every page, never a bare 500
        current = URLSafeTimedSerializer(settings.signing_key(), salt=SALT)
        malformed = [current.dumps({"email": J0}), current.dumps(["not", "a", "grant"]), current.dumps(None)]
        for token in (forged, tampered, *malformed):
            page = await junior.get(f"/signin?token={token}")
            assert page.status_code == 403 and "This sign-in link is not valid" in page.text
            assert page.headers["x-frame-options"] == "DENY" and "content-security-policy" in page.headers
        assert (await junior.get("/signin")).status_code == 400
        # Pressing Continue with them signs nobody in
        fresh = await other.open_link(signer(settings).link(S0, pid))
        assert fresh.status_code == 200
        for token, code in ((expired, 400), (forged, 403), (tampered, 403)):
            assert (await other.post("/signin", {"token": token})).status_code == code
        assert (await other.get("/")).status_code == 401

        # Used: the link works once, whoever presses Continue second
        link = signer(settings).link(J0, pid)
        page = await junior.open_link(link)
        token = hidden(page.text, "token")
        assert (await junior.post("/signin", {"token": token})).status_code == 303
        again = await other.get(path_of(link))
        assert again.status_code == 403 and "already been used" in again.text
        second = await other.post("/signin", {"token": token})
        assert second.status_code == 403 and "already been used" in second.text
        assert (await other.get("/")).status_code == 401


async def test_a_link_works_once_even_when_two_portal_processes_race_for_it(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(1))
    link = signer(harness.settings).link(J0, handle.id)
    async with (
        portal_app(harness) as first,
        portal_app(harness) as second,
        browser(first) as one,
        browser(second) as two,
    ):
        pages = [await one.open_link(link), await two.open_link(link)]  # the GETs use nothing
        token = hidden(pages[0].text, "token")
        answers = await asyncio.gather(one.post("/signin", {"token": token}), two.post("/signin", {"token": token}))
        assert sorted(a.status_code for a in answers) == [303, 403]
    with harness.store.engine.connect() as conn:
        used = conn.execute(select(t.used_links.c.email)).scalars().all()
    assert used == [J0]


# CSRF
async def test_every_form_needs_its_csrf_token_and_nothing_reaches_the_workflow_without_it(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(1))
    pid, settings = handle.id, harness.settings
    async with portal_app(harness) as app, browser(app) as junior, browser(app) as senior:
        await junior.sign_in(settings, J0, pid)
        await senior.sign_in(settings, S0, pid)
        opt_in = f"/prompts/{pid}/opt-in"
        before = await updates_accepted(harness, pid)
        missing = await junior.http.post(opt_in, data={"consent_to_ground_rules": "yes"})
        wrong = await junior.post(opt_in, {"consent_to_ground_rules": "yes"}, csrf="not-the-token")
        someone_elses = await junior.post(opt_in, {"consent_to_ground_rules": "yes"}, csrf=senior.csrf)
        as_json = await junior.http.post(opt_in, json={"consent_to_ground_rules": "yes", "csrf_token": junior.csrf})
        withdraw = await junior.post("/withdraw", {}, csrf="")
        for refused in (missing, wrong, someone_elses, as_json, withdraw):
            assert refused.status_code == 403 and "For your safety this form could not be accepted" in refused.text
        assert await updates_accepted(harness, pid) == before
        assert (await member(handle, J0)).status == MemberStatus.INVITED
        assert "opt-in" in await open_kinds(harness, pid, J0)
        # Signing out needs it too
        assert (await junior.post("/signout", {}, csrf="")).status_code == 403
        assert (await junior.get("/")).status_code == 200
        # With its token the same form goes through: the count above would have seen it
        assert (await junior.post(opt_in, {"consent_to_ground_rules": "yes"})).status_code == 200
        assert await updates_accepted(harness, pid) == before + 1

    async with portal_app(harness) as app, browser(app) as late:
        link = signer(settings).link(S0, pid)
        page = await late.open_link(link)
        token = hidden(page.text, "token")
        assert (await late.http.post("/signin", data={"token": token})).status_code == 403
        assert (await late.post("/signin", {"token": token}, csrf="guess")).status_code == 403
        assert (await late.get("/")).status_code == 401
        # The link was not used up by the refused attempts
        assert (await late.post("/signin", {"token": token})).status_code == 303


# Confidentiality
async def test_coordinator_pages_never_show_what_a_pair_wrote(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    pid = handle.id

    async def checkin_open() -> bool:
        return any(p.kind == PromptKind.CHECK_IN for p in await prompts_for(harness.client, pid, J0))

    await drive(harness, handle, personas_for(people), until_true=checkin_open)
    recaps = {J0: f"Junior recap {uuid.uuid4()}", S0: f"Senior recap {uuid.uuid4()}"}
    async with portal_app(harness) as app, browser(app) as junior, browser(app) as senior:
        await junior.sign_in(harness.settings, J0, pid)
        await senior.sign_in(harness.settings, S0, pid)
        for person, email in ((junior, J0), (senior, S0)):
            checkin = await until_prompt(harness, pid, email, PromptKind.CHECK_IN)
            sent = await person.post(prompt_path(checkin), {"met": "yes", "progress": "4", "recap": recaps[email]})
            assert sent.status_code == 200
        pairing_id = checkin.workflow_id
        own = (await junior.get(f"/pairings/{pairing_id}")).text
        assert all(recap in own for recap in recaps.values())  # the pair reads both: the search below can find them

    await skip(harness.env, timedelta(days=7, hours=1))  # cycle 1 closes: its check-ins are in the record
    with harness.store.engine.connect() as conn:
        written = conn.execute(select(t.checkins.c.participant).where(t.checkins.c.recap_written)).scalars().all()
    assert sorted(written) == [J0, S0]
    view = await harness.client.get_workflow_handle(pairing_id).query("view", result_type=PairingView)
    assert view.cycle == 2

    async with portal_app(harness) as app, browser(app) as coach:
        await coach.sign_in(harness.settings, COORDINATOR, pid)
        pages = ["/", "/program", "/program/report", *(f"/program/report/{name}" for name in REPORT_FILES)]
        seen = {}
        for page in pages:
            response = await coach.get(page)
            assert response.status_code == 200, page
            seen[page] = response.text
        assert "Digital Fluency 2026" in seen["/program/report"] and pairing_id in seen["/program"]
        for page, body in seen.items():
            for recap in recaps.values():
                assert recap not in body, f"{page} shows a recap"
                assert recap.split()[-1] not in body, f"{page} shows part of a recap"
        assert (await coach.get(f"/pairings/{pairing_id}")).status_code == 403
