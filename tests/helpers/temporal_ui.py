"""The Temporal UI in a real browser, for tests: a dev server with its UI told of a codec server, and Chromium.

A local dev server with its UI (2.54) is told the codec endpoint (`--ui-codec-endpoint`), exactly as `make run`
does; the codec server runs on a real port. Debian's Chromium, kept off the network, drives the UI as an engineer
would. tests/test_codec_ui.py (payloads) and tests/test_ui_story.py (summaries, details, labels) use it.
"""

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from temporalio.common import SearchAttributeKey
from temporalio.converter import PayloadCodec
from temporalio.testing import WorkflowEnvironment

from codec_server import build_app
from tests.helpers.browser import KEEP, chromium
from tests.helpers.ports import free_port
from tests.helpers.servers import binary

# Keep Chromium off the network: no component updates, sync, field trials or first-run fetches.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_LIMIT = 60.0  # seconds; only stops a test whose UI never comes up
WAIT_MS = 30_000  # Playwright's bound for the UI to render or answer; never a measure of pass or fail


@dataclass
class TemporalUi:
    env: WorkflowEnvironment  # its client uses the SDK's default converter: it reads payloads as the server has them
    ui: str  # the Temporal UI's origin
    codec: str  # the codec server, as the UI is told it


@asynccontextmanager
async def temporal_ui(
    codec: PayloadCodec, token: str, search_attributes: Sequence[SearchAttributeKey[Any]] = ()
) -> AsyncIterator[TemporalUi]:
    """A codec server on a free port, and a dev server whose UI is told to use it."""
    ui_port = free_port()
    ui = f"http://localhost:{ui_port}"
    app = build_app(codec, token, [ui], "default")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        endpoint = f"http://localhost:{server.servers[0].sockets[0].getsockname()[1]}"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"),
            ui=True,
            ui_port=ui_port,
            search_attributes=search_attributes,
            dev_server_extra_args=["--ui-codec-endpoint", endpoint, "--ui-disable-news-fetch"],
            dev_server_log_level="error",
        )
        try:
            await _wait_until_serving(f"{ui}/api/v1/settings")
            yield TemporalUi(env=env, ui=ui, codec=endpoint)
        finally:
            await env.shutdown()
    finally:
        server.should_exit = True
        await serving


async def _wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the Temporal UI did not answer {url} within {STARTUP_LIMIT} s")
            await asyncio.sleep(0.2)


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def fresh_context(browser: Browser) -> BrowserContext:
    """A browser profile of its own (no cookies, no localStorage) that reaches this machine only."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})

    async def local_only(route: Route) -> None:
        host = route.request.url.split("/")[2].rsplit(":", 1)[0]
        await (route.continue_() if host in ("localhost", "127.0.0.1") else route.abort())

    await context.route("**/*", local_only)
    return context


async def sign_in_to_codec(page: Page, codec: str, token: str) -> None:
    """The engineer's first step: the token, typed once into the codec server's sign-in page."""
    await page.goto(f"{codec}/signin")
    await page.fill("#token", token)
    await page.get_by_role("button", name="Sign in").click()
    assert "Signed in until" in await page.inner_text("body")


async def include_credentials_in_ui(page: Page, ui: str, codec: str) -> None:
    """The engineer's step in the UI: Codec Server dialog, browser setting, same endpoint, credentials, Apply."""
    await page.goto(f"{ui}/namespaces/default/workflows")
    await page.click('[data-testid^="data-encoder-status"]', timeout=WAIT_MS)  # the nav bar's Codec Server button
    await page.click('[data-testid="use-local-endpoint-input"]')  # "Use my browser setting and ignore ..."
    await page.fill("#data-encoder-endpoint-input", codec)
    await page.click('[data-testid="data-encoder-include-credentials"]')  # "Include cross-origin credentials"
    await page.get_by_role("button", name="Apply").click()
    stored = await page.evaluate("({...localStorage})")
    # The keys the codec server's docstring names, for anyone who sets them without the dialog.
    assert (stored["overrideRemoteCodecConfiguration"], stored["includeCredentials"]) == ("true", "true")
    assert stored["endpoint"] == f'"{codec}"'


def keep(shot: Path) -> None:
    """A screenshot for a person to look at: copied to test-output/ (ignored by git)."""
    assert shot.read_bytes().startswith(b"\x89PNG")
    KEEP.mkdir(exist_ok=True)
    shutil.copy(shot, KEEP / shot.name)
