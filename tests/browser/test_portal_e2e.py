"""From an email to the workflow, in a real browser: headless Chromium signs a participant in with the link a real
SMTP server received, and the participant opts in, accepts the match, proposes the plan and logs a check-in
through the portal's pages; the pairing workflow's queries then show exactly those answers.

Everything is real and local: the Temporal time-skipping server (time stands still while the browser clicks),
a worker whose channel is the SQL outbox (SQLite file), a dispatcher emailing to aiosmtpd on a free port, and the
portal served by uvicorn on a free loopback port, so the links in the emails point at it. The partner's answers,
and closing recruitment, go through flipside_client as the demo personas. Screenshots of every page go to the
test's tmp folder and, for a person to look at, to test-output/ (ignored by git).
"""

import asyncio
import json
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from playwright.async_api import Locator, Page, async_playwright, expect
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from adapters.outbox import SqlOutbox
from adapters.store import tables as t
from bootstrap import link_signer, make_channel, make_dispatcher
from demo.personas import Persona
from domain.answers import CoordinatorAction
from domain.pair_record import PairRecord
from domain.pairing import PairingStage, PairingView
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from domain.views import MemberStatus
from flipside_client import build_answer, prompts_for, send_answer
from portal.app import create_app
from settings import Settings
from tests.helpers.browser import KEEP, chromium
from tests.helpers.harness import Harness, ending
from tests.helpers.people import COORDINATOR, J0, S0, roster, spec
from tests.helpers.ports import free_port
from tests.helpers.programs import Handle, member, start_program
from tests.helpers.smtp import Mailbox, emailing, smtp_server
from tests.helpers.waiting import eventually, found
from worker import build_worker

# J0 uses the browser; S0 is the demo persona
SIGNIN_LINK = re.compile(r"https?://\S+/signin\?token=\S+")
GOALS = "Use AI tools in my weekly report\nBuild a dashboard for the leadership team"
SKILLS = "ai tools, data dashboards"
RECAP = "We set up the dashboard tool together and drafted the first chart."


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def link_of(message: EmailMessage) -> str:
    """The sign-in link a person clicks: from the text part, and the HTML part's button points at the same."""
    match = SIGNIN_LINK.search(body_of(message, "plain"))
    assert match is not None, "no sign-in link in the email"
    link = match.group(0)
    assert f'href="{escape(link)}"' in body_of(message, "html")
    return link


async def email_about(mailbox: Mailbox, settings: Settings, to: str, prompt_id: str) -> EmailMessage:
    """Wait for the email to `to` whose link is about `prompt_id` (read from the link, as the portal reads it)."""
    signer = link_signer(settings)

    def about() -> EmailMessage | None:
        for message in list(mailbox.messages):
            if message["To"] == to:
                token = parse_qs(urlsplit(link_of(message)).query)["token"][0]
                if signer.read(token).prompt_id == prompt_id:
                    return message
        return None

    return await found(about, f"an email to {to} about {prompt_id}")


# The portal, served for real on loopback
@asynccontextmanager
async def served_portal(settings: Settings, client: Client, port: int) -> AsyncIterator[None]:
    app = create_app(settings, client)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or serving.done(), "the portal starts, or stops trying")
        assert server.started, "the portal did not start"
        yield
    finally:
        server.should_exit = True
        with suppress(asyncio.CancelledError):
            await serving
        app.state.portal.engine.dispose()


# The partner and the coordinator: the demo persona answers through flipside_client
async def prompt_of(client: Client, program_id: str, email: str, kind: PromptKind) -> PendingPrompt:
    async def pending() -> PendingPrompt | None:
        try:
            prompts = await prompts_for(client, program_id, email)
        except RPCError as error:  # a pairing approved a moment ago, whose workflow has not started yet
            assert error.status == RPCStatusCode.NOT_FOUND
            return None
        return next((p for p in prompts if p.kind == kind), None)

    return await found(pending, f"a {kind.value} prompt for {email}")


async def persona_answers(client: Client, program_id: str, email: str, kind: PromptKind) -> str:
    prompt = await prompt_of(client, program_id, email, kind)
    fields = Persona(email).fields_for(prompt)
    assert fields is not None
    return await send_answer(client, prompt, build_answer(prompt, email, fields))


# The browser
class Camera:
    """Numbered full-page screenshots, in the order a person saw the pages."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder, self.shots = page, folder, list[Path]()

    async def shoot(self, name: str) -> None:
        path = self.folder / f"portal-e2e-{len(self.shots) + 1:02d}-{name}.png"
        await self.page.screenshot(path=path, full_page=True)
        self.shots.append(path)


async def follow(page: Page, message: EmailMessage, camera: Camera, name: str) -> None:
    """Open an email's link, see whom it signs in, and press Continue."""
    await page.goto(link_of(message))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Flipside")
    await expect(page.locator("main")).to_contain_text(f"This link signs you in as {message['To']}")
    await camera.shoot(name)
    await page.get_by_role("button", name="Continue").click()


async def error_of(page: Page, control: Locator) -> str:
    """The error tied to a control by aria-describedby, which the page shows right next to it."""
    await expect(control).to_have_attribute("aria-invalid", "true")
    described = (await control.get_attribute("aria-describedby") or "").split()
    (error_id,) = [i for i in described if i.endswith("-error")]
    words = await page.locator(f"[id='{error_id}']").inner_text()
    return words.removeprefix("Error:").strip()


@pytest.mark.slow
async def test_a_participant_answers_from_email_to_workflow_in_chromium(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    executable = chromium()
    portal_port = free_port()
    h = Harness(env, tmp_path, f"sqlite:///{tmp_path / 'record.db'}")
    with smtp_server() as mailbox:
        h.settings = settings = emailing(h.settings, mailbox.port, f"http://127.0.0.1:{portal_port}", "portal-e2e-key")
        outbox = make_channel(settings)  # the worker's own wiring for FLIPSIDE_NOTIFY=email
        assert isinstance(outbox, SqlOutbox)
        sending = asyncio.create_task(make_dispatcher(settings, outbox).run())
        program = _program()
        pairing_id: str | None = None
        try:
            async with (
                build_worker(env.client, settings, channel=outbox, store=h.store),
                ending(env.client, lambda: [*h.programs, *([pairing_id] if pairing_id else [])]),
                served_portal(settings, env.client, portal_port),
                async_playwright() as playwright,
            ):
                handle = await start_program(h, program, roster(1))
                pid = handle.id
                browser = await playwright.chromium.launch(executable_path=executable, headless=True)
                try:
                    page = await browser.new_page(viewport={"width": 1200, "height": 900})
                    camera = Camera(page, tmp_path)
                    j = Journey(page, camera, mailbox, settings, env, pid, handle)
                    for step in (
                        _the_invitation,
                        _the_others_answer,
                        _the_match,
                        _the_plan,
                        _the_check_in,
                        _the_pairs_page,
                    ):
                        await step(j)
                    pairing_id = j.pairing_id
                finally:
                    await browser.close()

                # What the workflow now holds is what was typed in the browser
                pairing = env.client.get_workflow_handle(pairing_id)
                view = await pairing.query("view", result_type=PairingView)
                record = await pairing.query("pair_record", J0, result_type=PairRecord)
                status = (await member(handle, J0)).status
                facts = await recorded(env, h, pairing_id)
        finally:
            sending.cancel()
            with suppress(asyncio.CancelledError):
                await sending
            outbox.dispose()
            h.store.dispose()

    _holds_what_was_typed(view, record, facts)
    assert status == MemberStatus.PAIRED
    KEEP.mkdir(exist_ok=True)
    for shot in camera.shots:
        assert shot.read_bytes().startswith(b"\x89PNG")
        shutil.copy(shot, KEEP / shot.name)
    assert len(camera.shots) == 14


def _program() -> ProgramSpec:
    """No training, matching that approves itself, and an id of its own (pairing ids come from the slug, so they
    are unique on the shared server)."""
    return spec(
        slug=f"portal-e2e-{uuid.uuid4().hex[:8]}",
        training_modules=[],
        matching={"auto_approve": True},
        durations={"program_length": "3w"},
    )


def _holds_what_was_typed(view: PairingView, record: PairRecord, facts: list[tuple[str, str | None, Any]]) -> None:
    """What the workflow holds is what was typed in the browser; the record keeps that both accepted, and that
    J0 checked in with a recap, but never the recap's words."""
    assert (view.mentor, view.mentee) == (J0, S0)
    assert view.stage == PairingStage.MENTORING and view.plan_agreed and view.cycle == 1 and view.outcome is None
    assert {who for kind, who, _ in facts if kind == "accepted"} == {J0, S0}
    (logged,) = [fact for kind, who, fact in facts if kind == "checkin_logged" and who == J0]
    assert (logged["cycle"], logged["met"], logged["progress"], logged["recap_written"]) == (1, True, 4, True)
    assert RECAP not in json.dumps([fact for _, _, fact in facts])
    assert record.plan is not None
    assert record.plan.goals == GOALS.splitlines()
    assert record.plan.skills == ["ai tools", "data dashboards"]
    assert (record.plan.meeting_every.days, record.plan.channel, record.plan.proposed_by) == (7, "video", J0)
    assert [(c.cycle, c.participant, c.met, c.progress, c.recap) for c in record.checkins] == [(1, J0, True, 4, RECAP)]


@dataclass
class Journey:
    """One participant in Chromium, following their emails into the portal; the partner answers as a persona."""

    page: Page
    camera: "Camera"
    mailbox: Mailbox
    settings: Settings
    env: WorkflowEnvironment
    pid: str
    handle: Handle
    pairing_id: str = ""  # known once the match is made


async def _the_invitation(j: Journey) -> None:
    """The invitation: its link lands on the opt-in, which needs consent to the ground rules"""
    page, camera, mailbox, settings, pid = j.page, j.camera, j.mailbox, j.settings, j.pid
    await follow(page, await email_about(mailbox, settings, J0, "opt-in"), camera, "invitation-link")
    await expect(page).to_have_url(re.compile(rf"/prompts/{pid}/opt-in$"))
    await expect(page.locator("main")).to_contain_text("What we say stays between us")
    await camera.shoot("opt-in")
    await page.get_by_label("I consent to the ground rules and want to take part").check()
    await page.get_by_role("button", name="Opt in").click()
    await expect(page.get_by_role("status")).to_contain_text("Welcome aboard")
    await camera.shoot("opted-in")


async def _the_others_answer(j: Journey) -> None:
    """The partner opts in; the coordinator closes recruitment; matching approves itself"""
    env, pid, handle = j.env, j.pid, j.handle
    await persona_answers(env.client, pid, S0, PromptKind.OPT_IN)
    await handle.execute_update("close_recruitment", CoordinatorAction(coordinator=COORDINATOR), result_type=str)


async def _the_match(j: Journey) -> None:
    """The match: the partner's name and the reasons, then accept"""
    page, camera, mailbox, settings, env, pid, handle = j.page, j.camera, j.mailbox, j.settings, j.env, j.pid, j.handle
    await follow(page, await email_about(mailbox, settings, J0, "accept-match"), camera, "match-link")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your match")
    pairing_id = (await member(handle, J0)).pairing_id
    assert pairing_id is not None
    j.pairing_id = pairing_id
    await expect(page).to_have_url(re.compile(rf"/prompts/{pairing_id}/accept-match$"))
    await expect(page.locator(".partner")).to_have_text("Your partner: Sen 00")
    reasons = await page.locator("ul.reasons li").all_inner_texts()
    assert "Jun teaches social media, which Sen wants" in reasons, reasons
    await camera.shoot("match")
    await page.get_by_label("Yes, I accept this match").check()
    await page.get_by_role("button", name="Send my answer").click()
    await expect(page.get_by_role("status")).to_contain_text("waiting for your partner")
    await camera.shoot("match-accepted")
    await persona_answers(env.client, pid, S0, PromptKind.ACCEPT_MATCH)


async def _the_plan(j: Journey) -> None:
    """The plan, from its own email: a skill named twice is refused next to the skills, and what was typed
    stays; put right, it is saved and the partner agrees it."""
    page, camera, mailbox, settings, env, pid = j.page, j.camera, j.mailbox, j.settings, j.env, j.pid
    await follow(page, await email_about(mailbox, settings, J0, "plan"), camera, "plan-link")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Propose your mentoring plan")
    goals, skills = page.get_by_label("Your goals"), page.get_by_label("Skills to work on")
    channel, rules = page.get_by_label("How will you meet?"), page.get_by_label("We will keep to")
    await goals.fill(GOALS)
    await skills.fill("ai tools, AI Tools")
    await page.get_by_label("How often will you meet?").select_option(label="every week")
    await channel.fill("video")
    await rules.check()
    await camera.shoot("plan")
    await page.get_by_role("button", name="Propose this plan").click()
    await expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    assert await error_of(page, skills) == "Name each skill once"
    await expect(goals).to_have_value(GOALS)
    await expect(skills).to_have_value("ai tools, AI Tools")
    await expect(channel).to_have_value("video")
    await expect(rules).to_be_checked()
    await camera.shoot("plan-refused")
    await skills.fill(SKILLS)
    await page.get_by_role("button", name="Propose this plan").click()
    await expect(page.get_by_role("status")).to_have_text("Plan saved. Sen 00 is asked to agree it.")
    await camera.shoot("plan-proposed")
    await persona_answers(env.client, pid, S0, PromptKind.AGREE_PLAN)


async def _the_check_in(j: Journey) -> None:
    """The check-in, from My prompts: it sits beside the mentor's private pulse. Without a rating it is
    refused next to the rating, keeping the answer and the recap; then it is logged."""
    page, camera, mailbox, settings = j.page, j.camera, j.mailbox, j.settings
    await email_about(mailbox, settings, J0, "check-in-1")  # the email came, with its meeting
    await page.get_by_role("navigation").get_by_role("link", name="My prompts").click()
    check_in = page.locator("section.prompt").filter(has=page.get_by_role("heading", name="Check-in 1"))
    await expect(check_in).to_have_count(1)
    await expect(page.get_by_role("heading", name="Just for you: a private check")).to_be_visible()
    await camera.shoot("my-prompts")
    await check_in.get_by_role("group", name="Did you meet").get_by_label("Yes").check()
    await check_in.get_by_label("A short recap").fill(RECAP)
    await check_in.get_by_role("button", name="Log my check-in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check-in 1")
    progress = page.get_by_role("group", name="How is it going?")
    assert await error_of(page, progress) == "Please answer this question."
    await expect(page.get_by_label("A short recap")).to_have_value(RECAP)
    await expect(page.get_by_role("group", name="Did you meet").get_by_label("Yes")).to_be_checked()
    await camera.shoot("check-in-refused")
    await progress.get_by_label("4", exact=True).check()
    await page.get_by_role("button", name="Log my check-in").click()
    await expect(page.get_by_role("status")).to_contain_text("Check-in 1 logged")
    await camera.shoot("check-in-logged")


async def _the_pairs_page(j: Journey) -> None:
    """The pair's own page shows the plan and the recap"""
    page, camera, settings = j.page, j.camera, j.settings
    pairing_id = j.pairing_id
    await page.goto(f"{settings.portal_url}/pairings/{pairing_id}")
    await expect(page.locator("main")).to_contain_text("Build a dashboard for the leadership team")
    await expect(page.locator("main")).to_contain_text(RECAP)
    await camera.shoot("pairing")


async def recorded(env: WorkflowEnvironment, h: Harness, pairing_id: str) -> list[tuple[str, str | None, Any]]:
    """The pairing's facts in the program record, once its first cycle has closed (a pairing hands its events
    over at each cycle's close): time moves a cycle on, then the record is read until the cycle is there."""
    await env.sleep(timedelta(weeks=1))
    e = t.events.c
    query = select(e.kind, e.participant, e.fact).where(e.workflow_id == pairing_id).order_by(e.seq)

    def with_its_first_cycle() -> list[tuple[str, str | None, Any]] | None:
        with h.store.engine.connect() as conn:
            facts = [(str(row.kind), row.participant, row.fact) for row in conn.execute(query)]
        return facts if any(kind == "cycle_closed" for kind, _, _ in facts) else None

    return await found(with_its_first_cycle, f"the first cycle of {pairing_id} in the record")
