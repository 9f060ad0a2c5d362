"""The Temporal UI reads encrypted payloads through the codec server, for an engineer who signed in there.

A local dev server with its UI (2.54) is told the codec endpoint (`--ui-codec-endpoint`), exactly as `make run`
does; the codec server runs on a real port. A program is started through an encrypting client, so its input
(with a marker in the program's purpose) is sealed in the history. Debian's Chromium, kept off the network,
then does what the codec server's docstring tells an engineer to do: sign in at /signin with the token, and in
the UI's "Codec Server" dialog use the browser setting with the same endpoint and "Include cross-origin
credentials". The workflow's page shows the marker. A fresh browser with the same UI setting and no sign-in
sees the input still sealed, and the codec server logs the 401 it answered.
"""

import asyncio
import base64
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, Response, Route, async_playwright
from structlog.testing import capture_logs
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.codec import Keyring, data_converter, payload_codec
from codec_server import SESSION_COOKIE, build_app
from domain.program import ProgramInput
from tests.helpers.browser import KEEP, chromium
from tests.helpers.people import roster, spec
from tests.helpers.ports import free_port
from tests.helpers.servers import binary
from workflows.program import ProgramWorkflow

KEYRING = Keyring(keys={"key-ui": bytes(range(100, 132))}, active="key-ui")
TOKEN = f"codec-ui-token-{uuid.uuid4().hex}"
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
class CodecUi:
    ui: str  # the Temporal UI's origin
    codec: str  # the codec server, as the UI is told it
    workflow_page: str
    marker: str
    sealed: str  # the start of the sealed input, as the UI shows a payload it could not decode (base64)
    logs: list[MutableMapping[str, Any]]  # what the codec server logged during the test


@pytest.fixture
def codec_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with capture_logs() as logs:
        yield logs


@pytest.fixture
async def codec_ui(codec_logs: list[MutableMapping[str, Any]]) -> AsyncIterator[CodecUi]:
    ui_port = free_port()
    ui = f"http://localhost:{ui_port}"
    app = build_app(payload_codec(KEYRING), TOKEN, [ui], "default")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        codec = f"http://localhost:{server.servers[0].sockets[0].getsockname()[1]}"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"),
            ui=True,
            ui_port=ui_port,
            dev_server_extra_args=["--ui-codec-endpoint", codec, "--ui-disable-news-fetch"],
            dev_server_log_level="error",
        )
        try:
            await _wait_until_serving(f"{ui}/api/v1/settings")
            config = env.client.config()
            config["data_converter"] = data_converter(KEYRING)
            client = Client(**config)
            marker = f"purpose-{uuid.uuid4().hex}"
            handle = await client.start_workflow(  # no worker: the started event alone holds the sealed input
                ProgramWorkflow.run,
                ProgramInput(spec=spec(purpose=marker), roster=roster(1)),
                id=f"codec-ui-{uuid.uuid4().hex[:8]}",
                task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
            )
            raw = await env.client.get_workflow_handle(handle.id).fetch_history()
            assert marker.encode() not in raw.to_json().encode()  # the server holds it sealed
            (sealed,) = raw.events[0].workflow_execution_started_event_attributes.input.payloads
            page = f"{ui}/namespaces/default/workflows/{handle.id}/{handle.result_run_id}/history"
            yield CodecUi(
                ui=ui,
                codec=codec,
                workflow_page=page,
                marker=marker,
                sealed=base64.b64encode(sealed.data).decode()[:32],
                logs=codec_logs,
            )
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


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def fresh_context(browser: Browser) -> BrowserContext:
    """A browser profile of its own (no cookies, no localStorage) that reaches this machine only."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})

    async def local_only(route: Route) -> None:
        host = route.request.url.split("/")[2].rsplit(":", 1)[0]
        await (route.continue_() if host in ("localhost", "127.0.0.1") else route.abort())

    await context.route("**/*", local_only)
    return context


async def include_credentials_in_ui(page: Page, setup: CodecUi) -> None:
    """The engineer's step in the UI: Codec Server dialog, browser setting, same endpoint, credentials, Apply."""
    await page.goto(f"{setup.ui}/namespaces/default/workflows")
    await page.click('[data-testid^="data-encoder-status"]', timeout=WAIT_MS)  # the nav bar's Codec Server button
    await page.click('[data-testid="use-local-endpoint-input"]')  # "Use my browser setting and ignore ..."
    await page.fill("#data-encoder-endpoint-input", setup.codec)
    await page.click('[data-testid="data-encoder-include-credentials"]')  # "Include cross-origin credentials"
    await page.get_by_role("button", name="Apply").click()
    stored = await page.evaluate("({...localStorage})")
    # The keys the codec server's docstring names, for anyone who sets them without the dialog.
    assert (stored["overrideRemoteCodecConfiguration"], stored["includeCredentials"]) == ("true", "true")
    assert stored["endpoint"] == f'"{setup.codec}"'


def decode_responses(page: Page, setup: CodecUi) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r) if r.url.startswith(f"{setup.codec}/decode") else None)
    return seen


def keep(shot: Path) -> None:
    assert shot.read_bytes().startswith(b"\x89PNG")
    KEEP.mkdir(exist_ok=True)
    shutil.copy(shot, KEEP / shot.name)


@pytest.mark.slow
async def test_a_signed_in_engineer_reads_payloads_in_the_temporal_ui(
    codec_ui: CodecUi, browser: Browser, tmp_path: Path
) -> None:
    context = await fresh_context(browser)
    page = await context.new_page()
    await page.goto(f"{codec_ui.codec}/signin")  # the engineer's first step: the token, once per 8 hours
    await page.fill("#token", TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    assert "Signed in until" in await page.inner_text("body")
    (cookie,) = [c for c in await context.cookies() if c["name"] == SESSION_COOKIE]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["domain"]) == (True, "Strict", "localhost")
    assert TOKEN not in cookie["value"]

    # Signed in, but the UI still on the cluster-level setting: its fetch leaves the cookie behind (refused).
    decodes = decode_responses(page, codec_ui)
    async with page.expect_response(lambda r: r.url.startswith(f"{codec_ui.codec}/decode"), timeout=WAIT_MS):
        await page.goto(codec_ui.workflow_page)
    assert [r.status for r in decodes] == [401]
    assert SESSION_COOKIE not in (await decodes[0].request.all_headers()).get("cookie", "")

    await include_credentials_in_ui(page, codec_ui)  # the second step
    decodes.clear()
    await page.goto(codec_ui.workflow_page)
    await page.get_by_text(codec_ui.marker).first.wait_for(timeout=WAIT_MS)
    shot = tmp_path / "codec-ui-signed-in.png"
    await page.screenshot(path=shot, full_page=True)
    keep(shot)

    assert decodes and {r.status for r in decodes} == {200}
    sent = await decodes[0].request.all_headers()
    assert f"{SESSION_COOKIE}={cookie['value']}" in sent["cookie"] and "authorization" not in sent
    answered = await decodes[0].all_headers()
    assert (answered["access-control-allow-origin"], answered["access-control-allow-credentials"]) == (
        codec_ui.ui,
        "true",
    )
    served = [e for e in codec_ui.logs if e["event"] == "codec request" and e["operation"] == "decode"]
    assert served and {e["via"] for e in served} == {"cookie"}
    await context.close()


@pytest.mark.slow
async def test_without_signing_in_the_temporal_ui_shows_payloads_sealed(
    codec_ui: CodecUi, browser: Browser, tmp_path: Path
) -> None:
    context = await fresh_context(browser)
    page = await context.new_page()
    await include_credentials_in_ui(page, codec_ui)  # the same UI setting; only the sign-in is missing

    decodes = decode_responses(page, codec_ui)
    async with page.expect_response(lambda r: r.url.startswith(f"{codec_ui.codec}/decode"), timeout=WAIT_MS):
        await page.goto(codec_ui.workflow_page)
    # Refused, the UI marks the codec server as failing and shows the input as the server holds it: ciphertext.
    await page.locator('[data-testid="data-encoder-status-error"]').wait_for(timeout=WAIT_MS)
    await page.get_by_text(codec_ui.sealed).first.wait_for(timeout=WAIT_MS)
    shot = tmp_path / "codec-ui-not-signed-in.png"
    await page.screenshot(path=shot, full_page=True)
    keep(shot)

    assert codec_ui.marker not in await page.inner_text("body")
    assert decodes and {r.status for r in decodes} == {401}
    assert SESSION_COOKIE not in (await decodes[0].request.all_headers()).get("cookie", "")
    refused = [e for e in codec_ui.logs if e["event"] == "codec request refused"]
    assert refused and {(e["status"], e["operation"]) for e in refused} == {(401, "decode")}
    assert not [e for e in codec_ui.logs if e["event"] == "codec request"]
    await context.close()
