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
import email
import json
import re
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
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
from domain.pairing import PairingStage, PairingView, PairRecord
from domain.program import MemberStatus
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import build_answer, prompts_for, send_answer
from portal.app import create_app
from settings import Settings
from tests.conftest import Harness, ending
from tests.driving import member, start_program
from tests.factories import COORDINATOR, roster, spec
from tests.test_report_browser import KEEP, chromium
from worker import build_worker

J0, S0 = "junior00@example.com", "senior00@example.com"  # J0 uses the browser; S0 is the demo persona
MAIL_FROM = "Flipside <flipside@example.org>"
SIGNIN_LINK = re.compile(r"https?://\S+/signin\?token=\S+")
GOALS = "Use AI tools in my weekly report\nBuild a dashboard for the leadership team"
SKILLS = "ai tools, data dashboards"
RECAP = "We set up the dashboard tool together and drafted the first chart."
WAIT_STEPS, WAIT_STEP = 600, 0.05  # a bound for things that happen by themselves, never a timing assertion


# The mail server: aiosmtpd, keeping every message it accepts (it runs in a thread of its own)
class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def link_of(message: EmailMessage) -> str:
    """The sign-in link a person clicks: from the text part, and the HTML part's button points at the same."""
    found = SIGNIN_LINK.search(body_of(message, "plain"))
    assert found is not None, "no sign-in link in the email"
    link = found.group(0)
    assert f'href="{escape(link)}"' in body_of(message, "html")
    return link


async def email_about(mailbox: Mailbox, settings: Settings, to: str, prompt_id: str) -> EmailMessage:
    """Wait for the email to `to` whose link is about `prompt_id` (read from the link, as the portal reads it)."""
    signer = link_signer(settings)
    for _ in range(WAIT_STEPS):
        for message in list(mailbox.messages):
            if message["To"] == to:
                token = parse_qs(urlsplit(link_of(message)).query)["token"][0]
                if signer.read(token).prompt_id == prompt_id:
                    return message
        await asyncio.sleep(WAIT_STEP)
    raise AssertionError(f"no email to {to} about {prompt_id}")


# The portal, served for real on loopback
@asynccontextmanager
async def served_portal(settings: Settings, client: Client, port: int) -> AsyncIterator[None]:
    app = create_app(settings, client)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(WAIT_STEPS):
            if server.started or serving.done():
                break
            await asyncio.sleep(WAIT_STEP)
        assert server.started, "the portal did not start"
        yield
    finally:
        server.should_exit = True
        with suppress(asyncio.CancelledError):
            await serving
        app.state.portal.engine.dispose()


# The partner and the coordinator: the demo persona answers through flipside_client
async def prompt_of(client: Client, program_id: str, email: str, kind: PromptKind) -> PendingPrompt:
    for _ in range(WAIT_STEPS):
        try:
            prompts = await prompts_for(client, program_id, email)
        except RPCError as error:  # a pairing approved a moment ago, whose workflow has not started yet
            assert error.status == RPCStatusCode.NOT_FOUND
            prompts = []
        found = [p for p in prompts if p.kind == kind]
        if found:
            return found[0]
        await asyncio.sleep(WAIT_STEP)
    raise AssertionError(f"{email} never got a {kind.value} prompt")


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
    with smtp_server() as (mailbox, smtp_port):
        h.settings = settings = h.settings.model_copy(
            update={
                "notify": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "mail_from": MAIL_FROM,
                "portal_url": f"http://127.0.0.1:{portal_port}",
                "secret_key": "portal-e2e-key",
            }
        )
        outbox = make_channel(settings)  # the worker's own wiring for FLIPSIDE_NOTIFY=email
        assert isinstance(outbox, SqlOutbox)
        sending = asyncio.create_task(make_dispatcher(settings, outbox).run())
        program = spec(
            slug=f"portal-e2e-{uuid.uuid4().hex[:8]}",  # pairing ids come from the slug: unique on the shared server
            training_modules=[],
            matching={"auto_approve": True},
            durations={"program_length": "3w"},
        )
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

                    # The invitation: its link lands on the opt-in, which needs consent to the ground rules
                    await follow(page, await email_about(mailbox, settings, J0, "opt-in"), camera, "invitation-link")
                    await expect(page).to_have_url(re.compile(rf"/prompts/{pid}/opt-in$"))
                    await expect(page.locator("main")).to_contain_text("What we say stays between us")
                    await camera.shoot("opt-in")
                    await page.get_by_label("I consent to the ground rules and want to take part").check()
                    await page.get_by_role("button", name="Opt in").click()
                    await expect(page.get_by_role("status")).to_contain_text("Welcome aboard")
                    await camera.shoot("opted-in")

                    # The partner opts in; the coordinator closes recruitment; matching approves itself
                    await persona_answers(env.client, pid, S0, PromptKind.OPT_IN)
                    await handle.execute_update(
                        "close_recruitment", CoordinatorAction(coordinator=COORDINATOR), result_type=str
                    )

                    # The match: the partner's name and the reasons, then accept
                    await follow(page, await email_about(mailbox, settings, J0, "accept-match"), camera, "match-link")
                    await expect(page.get_by_role("heading", level=1)).to_have_text("Your match")
                    pairing_id = (await member(handle, J0)).pairing_id
                    assert pairing_id is not None
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

                    # The plan, from its own email: a skill named twice is refused next to the skills, and what
                    # was typed stays; put right, it is saved and the partner agrees it
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

                    # The check-in, from My prompts: it sits beside the mentor's private pulse. Without a rating it
                    # is refused next to the rating, keeping the answer and the recap; then it is logged
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

                    # The pair's own page shows the plan and the recap
                    await page.goto(f"{settings.portal_url}/pairings/{pairing_id}")
                    await expect(page.locator("main")).to_contain_text("Build a dashboard for the leadership team")
                    await expect(page.locator("main")).to_contain_text(RECAP)
                    await camera.shoot("pairing")
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

    assert (view.mentor, view.mentee) == (J0, S0)
    assert view.stage == PairingStage.MENTORING and view.plan_agreed and view.cycle == 1 and view.outcome is None
    # The record keeps that both accepted, and that J0 checked in with a recap, but never the recap's words
    assert {who for kind, who, _ in facts if kind == "accepted"} == {J0, S0}
    (logged,) = [fact for kind, who, fact in facts if kind == "checkin_logged" and who == J0]
    assert (logged["cycle"], logged["met"], logged["progress"], logged["recap_written"]) == (1, True, 4, True)
    assert RECAP not in json.dumps([fact for _, _, fact in facts])
    assert status == MemberStatus.PAIRED
    assert record.plan is not None
    assert record.plan.goals == GOALS.splitlines()
    assert record.plan.skills == ["ai tools", "data dashboards"]
    assert (record.plan.meeting_every.days, record.plan.channel, record.plan.proposed_by) == (7, "video", J0)
    assert [(c.cycle, c.participant, c.met, c.progress, c.recap) for c in record.checkins] == [(1, J0, True, 4, RECAP)]

    KEEP.mkdir(exist_ok=True)
    for shot in camera.shots:
        assert shot.read_bytes().startswith(b"\x89PNG")
        shutil.copy(shot, KEEP / shot.name)
    assert len(camera.shots) == 14


async def recorded(env: WorkflowEnvironment, h: Harness, pairing_id: str) -> list[tuple[str, str | None, Any]]:
    """The pairing's facts in the program record, once its first cycle has closed (a pairing hands its events
    over at each cycle's close): time moves a cycle on, then the record is read until the cycle is there."""
    await env.sleep(timedelta(weeks=1))
    e = t.events.c
    query = select(e.kind, e.participant, e.fact).where(e.workflow_id == pairing_id).order_by(e.seq)
    for _ in range(WAIT_STEPS):
        with h.store.engine.connect() as conn:
            facts = [(str(row.kind), row.participant, row.fact) for row in conn.execute(query)]
        if any(kind == "cycle_closed" for kind, _, _ in facts):
            return facts
        await asyncio.sleep(WAIT_STEP)
    raise AssertionError(f"the first cycle of {pairing_id} never reached the record")
