"""The Temporal UI reads encrypted payloads through the codec server, for an engineer who signed in there.

The UI runs as `make run` starts it (tests/temporal_ui.py). A program is started through an encrypting client, so
its input (with a marker in the program's purpose) is sealed in the history. Debian's Chromium, kept off the
network, then does what the codec server's docstring tells an engineer to do: sign in at /signin with the token,
and in the UI's "Codec Server" dialog use the browser setting with the same endpoint and "Include cross-origin
credentials". The workflow's page shows the marker. A fresh browser with the same UI setting and no sign-in
sees the input still sealed, and the codec server logs the 401 it answered.
"""

import base64
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Response
from structlog.testing import capture_logs
from temporalio.client import Client

from adapters.codec import Keyring, data_converter, payload_codec
from codec_server import SESSION_COOKIE
from domain.program import ProgramInput
from tests.helpers.people import roster, spec
from tests.helpers.temporal_ui import (
    WAIT_MS,
    fresh_context,
    include_credentials_in_ui,
    keep,
    launched_chromium,
    sign_in_to_codec,
    temporal_ui,
)
from workflows.program import ProgramWorkflow

KEYRING = Keyring(keys={"key-ui": bytes(range(100, 132))}, active="key-ui")
TOKEN = f"codec-ui-token-{uuid.uuid4().hex}"


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
    async with temporal_ui(payload_codec(KEYRING), TOKEN) as served:
        config = served.env.client.config()
        config["data_converter"] = data_converter(KEYRING)
        client = Client(**config)
        marker = f"purpose-{uuid.uuid4().hex}"
        handle = await client.start_workflow(  # no worker: the started event alone holds the sealed input
            ProgramWorkflow.run,
            ProgramInput(spec=spec(purpose=marker), roster=roster(1)),
            id=f"codec-ui-{uuid.uuid4().hex[:8]}",
            task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
        )
        raw = await served.env.client.get_workflow_handle(handle.id).fetch_history()
        assert marker.encode() not in raw.to_json().encode()  # the server holds it sealed
        (sealed,) = raw.events[0].workflow_execution_started_event_attributes.input.payloads
        page = f"{served.ui}/namespaces/default/workflows/{handle.id}/{handle.result_run_id}/history"
        yield CodecUi(
            ui=served.ui,
            codec=served.codec,
            workflow_page=page,
            marker=marker,
            sealed=base64.b64encode(sealed.data).decode()[:32],
            logs=codec_logs,
        )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


def decode_responses(page: Page, setup: CodecUi) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r) if r.url.startswith(f"{setup.codec}/decode") else None)
    return seen


@pytest.mark.slow
async def test_a_signed_in_engineer_reads_payloads_in_the_temporal_ui(
    codec_ui: CodecUi, browser: Browser, tmp_path: Path
) -> None:
    context = await fresh_context(browser)
    page = await context.new_page()
    await sign_in_to_codec(page, codec_ui.codec, TOKEN)  # the engineer's first step: the token, once per 8 hours
    (cookie,) = [c for c in await context.cookies() if c["name"] == SESSION_COOKIE]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["domain"]) == (True, "Strict", "localhost")
    assert TOKEN not in cookie["value"]

    # Signed in, but the UI still on the cluster-level setting: its fetch leaves the cookie behind (refused).
    decodes = decode_responses(page, codec_ui)
    async with page.expect_response(lambda r: r.url.startswith(f"{codec_ui.codec}/decode"), timeout=WAIT_MS):
        await page.goto(codec_ui.workflow_page)
    assert [r.status for r in decodes] == [401]
    assert SESSION_COOKIE not in (await decodes[0].request.all_headers()).get("cookie", "")

    await include_credentials_in_ui(page, codec_ui.ui, codec_ui.codec)  # the second step
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
    await include_credentials_in_ui(
        page, codec_ui.ui, codec_ui.codec
    )  # the same UI setting; only the sign-in is missing

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
