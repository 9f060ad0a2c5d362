"""The portal in-process, as the portal tests use it: the real app over ASGI (httpx), a browser per person with
its own cookie jar and the CSRF token of its session, and the pages read the way a person reads them.
"""

import html
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from itsdangerous import URLSafeTimedSerializer
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.links import LinkSigner
from domain.answers import CoordinatorAction
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from flipside_client import prompts_for
from portal.app import create_app
from portal.sessions import SESSION_SALT
from settings import Settings
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, spec
from tests.helpers.waiting import skip

BASE = "http://testserver"
Form = Mapping[str, str | list[str]]


async def wind_down(h: Harness) -> None:
    """End what a test started the way production would: cancel each program, then wait for every run to finish.

    The harness would otherwise terminate runs with a task or an activity in flight, which leaves the shared
    time-skipping server slow to skip time (and to answer queries) for the tests after it (temporalio/sdk-java#3088).
    """
    for program_id in h.programs:
        handle = h.client.get_workflow_handle(program_id)
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            continue
        with suppress(WorkflowUpdateFailedError):  # refused: already finishing
            stop = CoordinatorAction(coordinator=COORDINATOR, reason="the test is over")
            await handle.execute_update("cancel", stop, result_type=str)
        with suppress(WorkflowFailureError):
            await handle.result()
    for pairing_id in sorted({str(n["pairing_id"]) for n in h.notices() if n["pairing_id"]}):
        with suppress(WorkflowFailureError):
            await h.client.get_workflow_handle(pairing_id).result()


# A browser per person: its own cookie jar, and the CSRF token of its session
class Browser:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def get(self, url: str) -> httpx.Response:
        return await self.http.get(url)

    async def post(self, url: str, data: Form, csrf: str | None = None) -> httpx.Response:
        """Send a form as a browser would, with the session's CSRF token unless told otherwise."""
        fields = {**data, "csrf_token": self.csrf if csrf is None else csrf}
        return await self.http.post(url, data=fields)

    async def open_link(self, link: str) -> httpx.Response:
        """GET a sign-in link: the Continue page, which also gives a fresh visitor a session and its token."""
        page = await self.http.get(path_of(link))
        if page.status_code == 200:
            self.csrf = hidden(page.text, "csrf_token")
        return page

    async def sign_in(self, settings: Settings, email: str, program_id: str, prompt_id: str | None = None) -> str:
        """Open a fresh link and press Continue; returns where the portal sent the person."""
        page = await self.open_link(signer(settings).link(email, program_id, prompt_id))
        assert page.status_code == 200, page.text
        response = await self.post("/signin", {"token": hidden(page.text, "token")})
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        landing = await self.get(location)
        if landing.status_code == 200:  # the signed-in session has a token of its own
            self.csrf = hidden(landing.text, "csrf_token")
        return str(location)


@asynccontextmanager
async def browser(app: FastAPI, base_url: str = BASE) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http:
        yield Browser(http)


@asynccontextmanager
async def portal_app(h: Harness, settings: Settings | None = None) -> AsyncIterator[FastAPI]:
    app = create_app(settings or h.settings, h.client)
    try:
        yield app
    finally:
        app.state.portal.engine.dispose()


def signer(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.signing_key(), settings.portal_url, settings.link_ttl_hours * 3600)


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no hidden field {name} in the page"
    return html.unescape(found.group(1))


def error_next_to(page: str, field: str) -> str:
    """The error shown next to a field (its id ends in -<field>-error), as text."""
    found = re.search(rf'id="[^"]*-{re.escape(field)}-error">(.*?)</p>', page, re.DOTALL)
    assert found is not None, f"no error next to {field}"
    words = re.sub(r'<span class="visually-hidden">Error: </span>', "", found.group(1))  # for screen readers
    return html.unescape(re.sub(r"<[^>]+>", "", words)).strip()


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert found is not None, f"no textarea {name}"
    return html.unescape(found.group(1))


def text_of(page: str) -> str:
    """The words of a page, without markup, for reading it the way a person would."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def prompt_path(prompt: PendingPrompt) -> str:
    return f"/prompts/{prompt.workflow_id}/{prompt.id}"


async def until_prompt(
    h: Harness, program_id: str, email: str, kind: PromptKind, step: timedelta = timedelta(minutes=10)
) -> PendingPrompt:
    """Move time on in steps until a prompt of this kind waits for the person."""
    for _ in range(200):
        try:
            prompts = await prompts_for(h.client, program_id, email)
        except RPCError as error:  # a pairing approved a moment ago, whose workflow has not started yet
            assert error.status == RPCStatusCode.NOT_FOUND
            prompts = []
        for prompt in prompts:
            if prompt.kind == kind:
                return prompt
        await skip(h.env, step)
    raise AssertionError(f"{email} never got a {kind.value} prompt")


async def open_kinds(h: Harness, program_id: str, email: str) -> set[str]:
    return {p.id for p in await prompts_for(h.client, program_id, email)}


def short_spec(**overrides: Any) -> ProgramSpec:
    """Three weeks of mentoring, under a slug of its own: pairing ids come from the slug, and a query sent in the
    moment before a pairing starts would otherwise reach an earlier test's pairing of the same id."""
    return spec(durations={"program_length": "3w"}, slug=f"portal-{uuid.uuid4().hex[:8]}", **overrides)


def forged_session(key: str, **values: str) -> str:
    """A session cookie as the portal signs one, here with any key and any values."""
    return URLSafeTimedSerializer(key, salt=SESSION_SALT).dumps(values)
