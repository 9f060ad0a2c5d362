"""The portal, end to end: real app (httpx over ASGI), real workflows on the time-skipping server, real SQL.

One pair goes through a whole program in the portal, answering every kind of prompt through its form; other
tests cover ranked preferences, withdrawal and signing in and out. Security is in test_portal_security.py.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from adapters.store import prompts as prompts_store
from demo.personas import Persona
from domain.pair_record import PairRecord
from domain.pairing import PairingStage
from domain.program import ProgramPhase
from domain.prompts import PromptKind
from domain.views import MemberStatus
from flipside_client import prompts_for
from settings import Settings
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, S0, S1, roster
from tests.helpers.portal import (
    Browser,
    browser,
    error_next_to,
    hidden,
    open_kinds,
    portal_app,
    prompt_path,
    short_spec,
    signer,
    text_of,
    textarea,
    until_prompt,
    wind_down,
)
from tests.helpers.programs import Handle, member, pairing_view, result, start_program, status
from tests.helpers.waiting import eventually

BASE = "http://testserver"
Form = Mapping[str, str | list[str]]


@pytest.fixture
async def harness(harness: Harness) -> AsyncIterator[Harness]:
    """The shared harness, wound down cleanly after each test (see tests.helpers.portal.wind_down)."""
    yield harness
    await wind_down(harness)


# The whole program, through the portal
async def test_a_pair_answers_every_kind_of_prompt_through_the_portal(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read your writes: after each answer the page waits until the record shows it. With the wait unbounded here,
    # a page that never caught up would hang the test, and one that stopped waiting too soon fails an assertion.
    monkeypatch.setattr(prompts_store, "CATCH_UP_LIMIT", 600.0)
    handle = await start_program(harness, short_spec(), roster(1))
    async with portal_app(harness) as app, checked(app) as junior, checked(app) as senior, browser(app) as coach:
        w = Walk(harness, handle, handle.id, harness.settings, junior, senior, coach)
        for step in (
            _opt_in,
            _training,
            _matching,
            _the_match,
            _the_plan,
            _check_in,
            _the_pulse,
            _the_midpoint,
            _the_mentors_close_out,
            _the_end,
        ):
            await step(w)
    answers = [*junior.answered, *senior.answered]
    assert len(answers) >= 14, answers  # every kind: opt-in, training, match, plan, check-in, pulse, surveys


class AnswersChecked(Browser):
    """A browser that checks read-your-writes after every answer it sends: the thanks page says nothing of a lag,
    and My prompts that follows no longer offers the prompt answered (a training half done stays, as it now is)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        super().__init__(http)
        self.answered: list[str] = []

    async def post(self, url: str, data: Form, csrf: str | None = None) -> httpx.Response:
        response = await super().post(url, data, csrf)
        if url.startswith("/prompts/") and response.status_code == 200:
            assert "may take a moment" not in response.text, url
            still_open = "Still to do" in response.text
            assert still_open or f'href="{url}"' not in (await self.get("/")).text, url
            self.answered.append(url)
        return response


@asynccontextmanager
async def checked(app: FastAPI) -> AsyncIterator[AnswersChecked]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield AnswersChecked(http)


@dataclass
class Walk:
    """One pair and their coordinator, each in a browser of their own, walking a program through the portal."""

    harness: Harness
    handle: Handle
    pid: str
    settings: Settings
    junior: Browser
    senior: Browser
    coach: Browser
    pairing_id: str = ""  # known once check-ins start


async def _opt_in(w: Walk) -> None:
    """Opt-in: the link about it lands on it; consent is required, and the refusal sits next to the box"""
    handle, pid, settings, junior, senior = w.handle, w.pid, w.settings, w.junior, w.senior
    assert await junior.sign_in(settings, J0, pid, "opt-in") == f"/prompts/{pid}/opt-in"
    page = await junior.get(f"/prompts/{pid}/opt-in")
    assert "What we say stays between us" in page.text and "Please answer by" in page.text
    refused = await junior.post(f"/prompts/{pid}/opt-in", {})
    assert refused.status_code == 422
    assert error_next_to(refused.text, "consent_to_ground_rules") == ("To opt in, you must consent to the ground rules")
    assert (await member(handle, J0)).status == MemberStatus.INVITED
    done = await junior.post(f"/prompts/{pid}/opt-in", {"consent_to_ground_rules": "yes"})
    assert done.status_code == 200 and "Welcome aboard" in done.text and 'href="/"' in done.text
    assert await senior.sign_in(settings, S0, pid) == "/"
    home = await senior.get("/")
    assert "Join the program" in home.text and 'name="consent_to_ground_rules"' in home.text
    assert (await senior.post(f"/prompts/{pid}/opt-in", {"consent_to_ground_rules": "yes"})).status_code == 200
    assert (await member(handle, S0)).status == MemberStatus.OPTED_IN


async def _training(w: Walk) -> None:
    """Training: modules as checkboxes, one at a time or all at once"""
    harness, handle, pid, junior, senior = w.harness, w.handle, w.pid, w.junior, w.senior
    training = await until_prompt(harness, pid, J0, PromptKind.TRAINING, timedelta(hours=12))
    page = await junior.get(prompt_path(training))
    assert page.text.count('name="modules"') == 2
    partly = await junior.post(prompt_path(training), {"modules": ["reverse-mentoring-101"]})
    assert "Still to do: giving-candid-feedback" in partly.text
    assert "reverse-mentoring-101 (done)" in (await junior.get(prompt_path(training))).text
    finished = await junior.post(prompt_path(training), {"modules": ["giving-candid-feedback"]})
    assert "Training complete" in finished.text
    both = {"modules": ["reverse-mentoring-101", "giving-candid-feedback"]}
    assert "Training complete" in (await senior.post(prompt_path(training), both)).text
    assert (await member(handle, S0)).modules_done == ["giving-candid-feedback", "reverse-mentoring-101"]


async def _matching(w: Walk) -> None:
    """Matching: the coordinator's link lands on the coordinator page, with the proposal and its reasons"""
    harness, pid, settings, junior, coach = w.harness, w.pid, w.settings, w.junior, w.coach
    await until_prompt(harness, pid, COORDINATOR, PromptKind.APPROVE_MATCHES)
    assert await coach.sign_in(settings, COORDINATOR, pid, "approve-matches") == "/program"
    program = text_of((await coach.get("/program")).text)
    assert "junior00@example.com mentors senior00@example.com" in program
    assert "Jun teaches social media, which Sen wants" in program and "Approve these 1 pairs" in program
    assert (await junior.get("/program")).status_code == 403
    approved = await coach.post("/program/approve", {})
    assert approved.status_code == 200 and "Approved 1 pairs" in approved.text


async def _the_match(w: Walk) -> None:
    """The match: partner's name and the reasons; a decline reason would be for the coordinator only"""
    harness, pid, junior, senior = w.harness, w.pid, w.junior, w.senior
    match = await until_prompt(harness, pid, J0, PromptKind.ACCEPT_MATCH)
    words = text_of((await junior.get(prompt_path(match))).text)
    assert "Your partner: Sen 00" in words and "Why you two" in words
    assert "Jun teaches social media, which Sen wants" in words and "Only your coordinator reads this" in words
    waiting = await junior.post(prompt_path(match), {"accept": "yes"})
    assert "waiting for your partner" in waiting.text
    accepted = await senior.post(
        prompt_path(await until_prompt(harness, pid, S0, PromptKind.ACCEPT_MATCH)), {"accept": "yes"}
    )
    assert "You have both accepted" in accepted.text


async def _the_plan(w: Walk) -> None:
    """The plan: a cadence outside the program's range is refused next to its field, and what was typed stays"""
    harness, pid, junior, senior = w.harness, w.pid, w.junior, w.senior
    proposal = await until_prompt(harness, pid, J0, PromptKind.PROPOSE_PLAN)
    plan: Form = {
        "goals": "Use AI tools in my weekly report\nBuild a team dashboard",
        "skills": "ai tools, data dashboards",
        "meeting_every": "1d",
        "channel": "video",
        "accept_ground_rules": "yes",
    }
    refused = await junior.post(prompt_path(proposal), plan)
    assert refused.status_code == 422
    assert error_next_to(refused.text, "meeting_every") == "Meet every 3d12h to 1w3d12h, not every 1d"
    assert textarea(refused.text, "goals") == plan["goals"]
    assert 'name="channel" value="video"' in refused.text
    saved = await junior.post(prompt_path(proposal), {**plan, "meeting_every": "1w"})
    assert "Plan saved. Sen 00 is asked to agree it." in saved.text
    agree = await until_prompt(harness, pid, S0, PromptKind.AGREE_PLAN)
    words = text_of((await senior.get(prompt_path(agree))).text)
    assert "Build a team dashboard" in words and "ai tools, data dashboards" in words and "every 1 week" in words
    agreed = await senior.post(prompt_path(agree), {"accept_ground_rules": "yes"})
    assert "Plan agreed. Check-ins start now." in agreed.text


async def _check_in(w: Walk) -> None:
    """Check-in: an impossible rating is refused next to it; the recap typed is kept"""
    harness, pid, junior, senior = w.harness, w.pid, w.junior, w.senior
    checkin = await until_prompt(harness, pid, J0, PromptKind.CHECK_IN)
    assert checkin.id == "check-in-1"
    typed = {"met": "yes", "progress": "9", "recap": "We set up the dashboard tool together."}
    refused = await junior.post(prompt_path(checkin), typed)
    assert refused.status_code == 422
    assert error_next_to(refused.text, "progress") == "The progress rating must be a whole number from 1 to 5, not 9"
    assert textarea(refused.text, "recap") == typed["recap"]
    assert 'name="met" value="yes" checked' in refused.text
    missing = await junior.post(prompt_path(checkin), {"recap": "still here"})
    assert missing.status_code == 422 and error_next_to(missing.text, "progress") == "Please answer this question."
    logged = await junior.post(prompt_path(checkin), {**typed, "progress": "4"})
    assert "Check-in 1 logged" in logged.text
    senior_checkin = await until_prompt(harness, pid, S0, PromptKind.CHECK_IN)
    await senior.post(prompt_path(senior_checkin), {"met": "yes", "progress": "5", "recap": "Great first session."})
    pairing = harness.client.get_workflow_handle(checkin.workflow_id)
    w.pairing_id = checkin.workflow_id
    record = await pairing.query("pair_record", J0, result_type=PairRecord)
    assert [(e.participant, e.progress, e.recap) for e in record.checkins] == [
        (J0, 4, typed["recap"]),
        (S0, 5, "Great first session."),
    ]
    own = text_of((await junior.get(f"/pairings/{checkin.workflow_id}")).text)
    assert typed["recap"] in own and "Great first session." in own


async def _the_pulse(w: Walk) -> None:
    """The private pulse: the mentor's alone, and the page says the partner never sees it"""
    harness, pid, junior = w.harness, w.pid, w.junior
    pulse = await until_prompt(harness, pid, J0, PromptKind.PULSE)
    assert PromptKind.PULSE not in {p.kind for p in await prompts_for(harness.client, pid, S0)}
    assert "Your partner never sees it" in (await junior.get(prompt_path(pulse))).text
    answered = await junior.post(prompt_path(pulse), {"safe_and_useful": "5", "comment": ""})
    assert "Only your coordinator can act on this answer" in answered.text


async def _the_midpoint(w: Walk) -> None:
    """Mid-point survey (a low answer flags the pairing at risk for the coordinator)"""
    harness, pid, junior, senior = w.harness, w.pid, w.junior, w.senior
    pairing = w.harness.client.get_workflow_handle(w.pairing_id)
    midpoint = await until_prompt(harness, pid, J0, PromptKind.MIDPOINT_SURVEY, timedelta(hours=12))
    thanks = await junior.post(prompt_path(midpoint), {"satisfaction": "4", "usefulness": "5"})
    assert "Thank you for your mid-point answers" in thanks.text
    low = {"satisfaction": "2", "usefulness": "3", "comment": ""}
    await senior.post(prompt_path(await until_prompt(harness, pid, S0, PromptKind.MIDPOINT_SURVEY)), low)
    assert (await pairing_view(pairing)).at_risk


async def _the_mentors_close_out(w: Walk) -> None:
    """Close-out: the mentor rates leadership, the mentee the plan's skills, before and after"""
    harness, pid, junior = w.harness, w.pid, w.junior
    closeout = await until_prompt(harness, pid, J0, PromptKind.CLOSEOUT_SURVEY, timedelta(hours=12))
    page = await junior.get(prompt_path(closeout))
    assert "Before the program: leadership" in page.text and "Now: giving feedback" in page.text
    ratings: Form = {
        "satisfaction": "5",
        "would_recommend": "yes",
        "before_0": "2",
        "after_0": "4",
        "before_1": "3",
    }
    refused = await junior.post(prompt_path(closeout), ratings)
    assert refused.status_code == 422 and error_next_to(refused.text, "after_1") == "Please answer this question."
    assert 'name="before_0" value="2" checked' in refused.text
    assert (
        "Your answers help the next program"
        in (await junior.post(prompt_path(closeout), {**ratings, "after_1": "4"})).text
    )


async def _the_end(w: Walk) -> None:
    """The coordinator sees the pairing at risk and the missed check-ins, and links to it in the Temporal UI"""
    harness, handle, pid, junior, senior, coach = w.harness, w.handle, w.pid, w.junior, w.senior, w.coach
    pairing = w.harness.client.get_workflow_handle(w.pairing_id)
    program = text_of((await coach.get("/program")).text)
    assert "Pairings that may need you" in program and "a low mid-point answer" in program
    assert "check-ins missed in a row (cycle 3)" in program
    assert f"/workflows/{w.pairing_id}" in (await coach.get("/program")).text

    senior_closeout = await until_prompt(harness, pid, S0, PromptKind.CLOSEOUT_SURVEY)
    page = await senior.get(prompt_path(senior_closeout))
    assert "Before the program: ai tools" in page.text and "Now: data dashboards" in page.text
    skills: Form = {"before_0": "1", "after_0": "3", "before_1": "2", "after_1": "4"}
    await senior.post(prompt_path(senior_closeout), {"satisfaction": "4", "would_recommend": "yes", **skills})

    outcome = await result(handle)
    assert outcome.metrics.pairings_completed == 1
    assert (await pairing_view(pairing)).stage == PairingStage.ENDED
    program = text_of((await coach.get("/program")).text)
    assert "Phase: Completed" in program and "1 completed" in program
    assert (await member(handle, J0)).status == MemberStatus.COMPLETED
    assert "You completed the program" in text_of((await junior.get("/")).text)


async def test_ranked_preferences_are_refused_next_to_the_choices_and_then_accepted(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, short_spec(matching={"mode": "self_select"}), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.TRAINING)
    pid = handle.id
    async with portal_app(harness) as app, browser(app) as junior:
        landed = await junior.sign_in(harness.settings, J0, pid, "preferences")
        assert landed == f"/prompts/{pid}/preferences"
        page = await junior.get(landed)
        assert all(f'name="choice_{n}"' in page.text for n in range(1, 6))
        refused = await junior.post(landed, {"choice_1": "stranger@example.com", "choice_2": S1})
        assert refused.status_code == 422
        assert error_next_to(refused.text, "choices") == "Not taking part in this program: stranger@example.com"
        assert 'name="choice_1" value="stranger@example.com"' in refused.text
        assert f'name="choice_2" value="{S1}"' in refused.text
        accepted = await junior.post(landed, {"choice_1": S1, "choice_2": S0, "choice_3": ""})
        assert accepted.status_code == 200 and "Mutual choices are honoured first" in accepted.text
        assert "preferences" not in await open_kinds(harness, pid, J0)


async def test_a_form_sent_twice_at_once_is_one_answer(harness: Harness) -> None:
    """A double click: both sends carry the answer id the form was shown with, so whichever reaches the program
    second is the first's echo (thanked the same) or finds the prompt closed; never a refusal, never two answers."""
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    async with portal_app(harness) as app, browser(app) as junior:
        landed = await junior.sign_in(harness.settings, J0, handle.id, "opt-in")
        answer_id = hidden((await junior.get(landed)).text, "answer_id")
        assert re.fullmatch(r"[0-9a-f]{32}", answer_id)
        form = {"consent_to_ground_rules": "yes", "answer_id": answer_id}
        sends = await asyncio.gather(junior.post(landed, form), junior.post(landed, form))
        assert sorted(r.status_code for r in sends)[0] == 200 and {r.status_code for r in sends} <= {200, 404}
        assert all("Thank you" in r.text for r in sends if r.status_code == 200)
    assert (await status(handle)).funnel.opted_in == 1


async def test_withdrawing_is_always_offered_says_nothing_is_lost_and_ends_taking_part(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    pid = handle.id
    async with portal_app(harness) as app, browser(app) as junior:
        await junior.sign_in(harness.settings, J0, pid)
        assert 'href="/withdraw"' in (await junior.get("/")).text  # offered while merely invited, too
        await junior.post(f"/prompts/{pid}/opt-in", {"consent_to_ground_rules": "yes"})
        page = text_of((await junior.get("/withdraw")).text)
        assert "Nothing is lost" in page and "you do not have to say why" in page
        done = await junior.post("/withdraw", {"reason": "A new role takes my time"})
        assert done.status_code == 200
        assert "You have withdrawn. Nothing you wrote is lost" in done.text
        assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
        home = await junior.get("/")
        assert 'href="/withdraw"' not in home.text and "You have withdrawn" in home.text
        again = await junior.post("/withdraw", {"reason": ""})
        assert again.status_code == 422 and "has already withdrawn" in again.text
        # The program goes on without them: the other person is still invited
        assert "opt-in" in await open_kinds(harness, pid, S0)


async def test_an_old_cookie_opens_nothing_after_signing_out_or_signing_in_again(harness: Harness) -> None:
    """Someone who kept a copy of the cookie (a shared computer, a stolen laptop) gets nothing from it once the
    person signs out, or signs in again with a newer link: sessions end on the server, not only in the browser."""
    handle = await start_program(harness, short_spec(), roster(1))
    async with portal_app(harness) as app, browser(app) as junior, browser(app) as thief:
        await junior.sign_in(harness.settings, J0, handle.id)
        thief.http.cookies = httpx.Cookies(junior.http.cookies)  # a copy, as kept before sign-out
        thief.csrf = junior.csrf
        assert (await thief.get("/")).status_code == 200  # the copy works while the session does
        assert (await junior.post("/signout", {})).status_code == 200
        assert (await thief.get("/")).status_code == 401
        refused = await thief.post(f"/prompts/{handle.id}/opt-in", {"consent_to_ground_rules": "yes"})
        assert refused.status_code in (401, 403) and (await member(handle, J0)).status == MemberStatus.INVITED

        await junior.sign_in(harness.settings, J0, handle.id)
        thief.http.cookies = httpx.Cookies(junior.http.cookies)
        assert (await thief.get("/")).status_code == 200
        await junior.sign_in(harness.settings, J0, handle.id)  # a newer link: the earlier session ends
        assert (await thief.get("/")).status_code == 401
        assert (await junior.get("/")).status_code == 200


async def test_sign_in_waits_for_continue_sets_a_careful_cookie_and_signs_out(harness: Harness) -> None:
    handle = await start_program(harness, short_spec(), roster(1))
    link = signer(harness.settings).link(J0, handle.id, "opt-in")
    async with portal_app(harness) as app, browser(app) as junior:
        page = await junior.open_link(link)
        assert page.status_code == 200 and "Continue" in page.text and J0 in page.text
        assert (await junior.get("/")).status_code == 401  # the GET signed nobody in, and used nothing
        response = await junior.post("/signin", {"token": hidden(page.text, "token")})
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
        assert "secure" not in cookie  # the portal URL is http here
        junior.csrf = hidden((await junior.get("/")).text, "csrf_token")
        assert response.headers["location"] == f"/prompts/{handle.id}/opt-in"
        assert (await junior.get("/")).headers["referrer-policy"] == "no-referrer"
        out = await junior.post("/signout", {})
        assert out.status_code == 200 and "signed out" in out.text
        assert (await junior.get("/")).status_code == 401

    https = harness.settings.model_copy(update={"portal_url": "https://portal.example.com"})
    async with portal_app(harness, https) as app, browser(app, "https://portal.example.com") as senior:
        page = await senior.open_link(signer(https).link(S0, handle.id))
        response = await senior.post("/signin", {"token": hidden(page.text, "token")})
        assert response.status_code == 303 and "secure" in response.headers["set-cookie"].lower()


async def test_the_coordinator_page_follows_the_phases_and_the_report_is_there_from_the_start(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, short_spec(), people)
    async with portal_app(harness) as app, browser(app) as coach:
        await coach.sign_in(harness.settings, COORDINATOR, handle.id)
        home = text_of((await coach.get("/")).text)
        assert "You coordinate this program" in home and "Nothing is waiting for you" in home
        assert 'href="/withdraw"' not in (await coach.get("/")).text  # not a participant
        page = text_of((await coach.get("/program")).text)
        assert "Phase: Recruitment" in page and "Invited 2" in page and "Recruitment now" in page
        assert "Training to come" in page

        async def recorded() -> bool:  # the program's start reaches the record in its first moments
            return (await coach.get("/program/report/funnel.csv")).status_code == 200

        await eventually(recorded, "the program's start in the record")
        early = await coach.get("/program/report/funnel.csv")
        assert "invited,2" in early.text and "opted in,0" in early.text
        await drive(harness, handle, personas_for(people, junior00=Persona(J0)), until=ProgramPhase.MATCHING)
        page = text_of((await coach.get("/program")).text)
        assert "Recruitment done began" in page and "Opted in 2" in page
        report = await coach.get("/program/report")
        assert report.status_code == 200 and "Digital Fluency 2026" in report.text
        funnel = await coach.get("/program/report/funnel.csv")
        assert funnel.status_code == 200 and funnel.text.splitlines()[0] == "stage,people"
        assert "invited,2" in funnel.text
