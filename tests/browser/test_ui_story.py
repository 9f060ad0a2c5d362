"""The Temporal UI tells a program's story: summaries, details and labelled events, read through the codec server.

A small program runs on a dev server with its UI (tests/temporal_ui.py), through an encrypting client and worker as
in production, until its pairing is mentoring. Chromium then opens the workflow list, the program's page and the
pairing's page twice: as an engineer signed in to the codec server, who sees each workflow's summary, details and
current details and every activity, timer and child labelled; and as one without the token, who sees none of it.
The SDK sends summaries and details through the payload codec like every payload, so they are sealed on the
server (docs/ARCHITECTURE.md, "Payloads"); their words hold nothing personal either way (tests/test_summaries.py).

Screenshots go to test-output/ui-story-*.png. UI 2.54's workflow list is built from visibility records, which hold
no user metadata, so the list shows each summary from the `FlipsideSummary` search attribute (workflows/search.py).
"""

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize
from playwright.async_api import Error as PlaywrightError
from temporalio.client import Client

from adapters.codec import ENCRYPTED, Keyring, data_converter, payload_codec
from domain.program import ProgramPhase
from tests.helpers.driving import answer_until, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import roster, spec
from tests.helpers.programs import member, pairing_view, start_program, status
from tests.helpers.temporal_ui import (
    WAIT_MS,
    TemporalUi,
    fresh_context,
    include_credentials_in_ui,
    keep,
    launched_chromium,
    sign_in_to_codec,
    temporal_ui,
)
from worker import build_worker
from workflows import search

KEYRING = Keyring(keys={"key-story": bytes(range(7, 39))}, active="key-story")
TOKEN = "codec-story-token-0123456789abcdef"
MENTOR = "junior00@example.com"
# Short enough to reach mentoring in seconds of real time, long enough that nothing expires while the browser looks.
DURATIONS = {
    "recruitment": "3s",
    "training": "5m",
    "answer_window": "5m",
    "checkin_cadence": "10m",
    "program_length": "1h",
}
WIDE: ViewportSize = {"width": 2400, "height": 600}
AWAITING = re.compile(r"Awaiting: \d answers?, due by \d{4}-\d\d-\d\d \d\d:\d\d UTC")


@dataclass
class Story:
    served: TemporalUi
    program: str
    pairing: str
    pages: dict[str, str]  # the workflow pages by name: "program", "pairing"
    personal: list[str]  # what the roster and spec hold that no engineer without the token may read


async def _run_until_mentoring(h: Harness) -> tuple[str, str]:
    people = roster(1)
    handle = await start_program(h, spec(durations=DURATIONS, reminders={"nudge_before": "1m"}), people)
    personas = personas_for(people)
    pairing = ""

    async def mentoring() -> bool:
        nonlocal pairing
        if (await status(handle)).phase != ProgramPhase.MENTORING:
            return False
        pairing = (await member(handle, MENTOR)).pairing_id or ""
        return bool(pairing) and (await pairing_view(h.client.get_workflow_handle(pairing))).stage == "mentoring"

    await answer_until(h, handle, personas, mentoring, attempts=1200)
    return handle.id, pairing


@pytest.fixture
async def story(tmp_path: Path) -> AsyncIterator[Story]:
    async with temporal_ui(payload_codec(KEYRING), TOKEN, search.ALL) as served:
        h = Harness(served.env, tmp_path)
        config = served.env.client.config()
        config["data_converter"] = data_converter(KEYRING)
        h.client = Client(**config)
        try:
            async with build_worker(h.client, h.settings, channel=h.channel, store=h.store):
                program, pairing = await _run_until_mentoring(h)
                pages = {"program": _page(served, program), "pairing": _page(served, pairing)}
                personal = ["@example.com", *(p.name for p in roster(1)), spec().name, spec().purpose]
                yield Story(served=served, program=program, pairing=pairing, pages=pages, personal=personal)
                await h.end_leftovers()
        finally:
            h.store.dispose()


def _page(served: TemporalUi, workflow_id: str) -> str:
    return f"{served.ui}/namespaces/default/workflows/{workflow_id}"


async def _sealed_on_the_server(story: Story) -> int:
    """Every summary and detail in both histories, as the server holds it: sealed by the codec. Returns how many."""
    sealed = 0
    for workflow_id in (story.program, story.pairing):
        history = await story.served.env.client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            for field in ("summary", "details"):
                if event.user_metadata.HasField(field):
                    assert getattr(event.user_metadata, field).metadata["encoding"] == ENCRYPTED
                    sealed += 1
    return sealed


async def _shoot(page: Page, name: str, tmp_path: Path) -> None:
    shot = tmp_path / f"ui-story-{name}.png"
    await page.screenshot(path=shot, full_page=True)
    keep(shot)


async def _rendered_text(page: Page) -> str:
    """The page's text with that of its frames: the UI renders markdown (summaries, details) in frames of its own."""
    texts = []
    for frame in page.frames:
        with contextlib.suppress(PlaywrightError):  # a frame that went away meanwhile
            texts.append(await frame.locator("body").inner_text(timeout=1_000))
    return "\n".join(texts)


async def _see(page: Page, *wanted: str | re.Pattern[str]) -> str:
    """Wait until the page shows every text (or pattern) wanted; returns what it shows then."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        text = await _rendered_text(page)
        missing = [w for w in wanted if not (w.search(text) if isinstance(w, re.Pattern) else w in text)]
        if not missing:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{page.url} never showed {missing}")
        await asyncio.sleep(0.2)


async def _the_list(page: Page, story: Story, view: str, tmp_path: Path) -> None:
    """The workflow list, with the phase and summary columns added: the list reads visibility records, which hold
    no user metadata, so each summary is a plain search attribute too, the same line, readable with or without
    the codec token since it holds nothing personal."""
    page_size = page.viewport_size
    assert page_size is not None
    await page.goto(f"{story.served.ui}/namespaces/default/workflows")
    await _see(page, story.program, story.pairing)
    await page.click('[data-testid="workflows-summary-table-configuration-button"]')
    for column in ("Run ID", "Start", "End"):
        await page.click(f'[data-testid="orderable-list-item-{column}-remove-button"]')
    for column in (search.PHASE.name, search.SUMMARY.name):
        await page.click(f'[data-testid="orderable-list-item-{column}-add-button"]')
    await page.click('[data-testid="drawer-close-button"]')
    await page.get_by_text("Configure Workflows Table").wait_for(state="hidden", timeout=WAIT_MS)
    await _see(
        page, f"Program {story.program}: 2 people, recruitment 3s", f"Pairing {story.pairing} of {story.program}:"
    )
    await _see(page, "mentoring")
    await page.set_viewport_size(WIDE)  # the summaries are long lines: room for them in the screenshot
    await _shoot(page, f"list-{view}", tmp_path)
    await page.set_viewport_size(page_size)


async def _metadata_tab(page: Page, url: str) -> None:
    await page.goto(url)
    await page.get_by_text("User Metadata", exact=True).first.click()


async def read_with_the_codec(page: Page, story: Story, tmp_path: Path) -> None:
    """Signed in: summaries, details and current details on each page, and the events labelled in its timeline."""
    await _the_list(page, story, "codec", tmp_path)
    await _metadata_tab(page, story.pages["program"])
    await _see(page, f"Program {story.program}: 2 people, recruitment 3s", "People on the roster: 2", "Now: mentoring")
    await _shoot(page, "program-codec", tmp_path)
    await page.goto(story.pages["program"])
    await _see(page, "Propose matches for 2 people (algorithm)", f"Pairing {story.pairing} of {story.program}:")
    # The timeline shows its latest stretch: a program that records as it goes has its first events far back.
    await _see(
        page,
        re.compile(r"\w+: until (the deadline|a reminder or a prompt is due)"),
        re.compile(r"Record \d+ events?: \d+ \w+"),
    )
    await _shoot(page, "program-timeline-codec", tmp_path)

    await _metadata_tab(page, story.pages["pairing"])
    await _see(page, f"Pairing {story.pairing} of {story.program}: introduction 5m", "Introduction: both accept")
    await _see(
        page, "Now: mentoring, cycle 1", re.compile(r"Awaiting: \d answers?, due by \d{4}-\d\d-\d\d \d\d:\d\d UTC")
    )
    await _shoot(page, "pairing-codec", tmp_path)
    await page.goto(story.pages["pairing"])
    await _see(page, "Send 2 notices: 2 prompt", "introduction: until")
    await _shoot(page, "pairing-timeline-codec", tmp_path)


async def read_without_the_codec(page: Page, story: Story, tmp_path: Path) -> None:
    """No sign-in: the codec server refuses, and no summary, detail or label can be read, nor anything personal."""
    await _the_list(page, story, "sealed", tmp_path)
    for name in ("program", "pairing"):
        await _metadata_tab(page, story.pages[name])
        await page.locator('[data-testid="data-encoder-status-error"]').first.wait_for(timeout=WAIT_MS)
        await _see(page, "No summary available", "No details available")
        await _shoot(page, f"{name}-sealed", tmp_path)
        await page.goto(story.pages[name])
        await _see(page, "send_notices")  # events by their activity type, their labels sealed
        await _shoot(page, f"{name}-timeline-sealed", tmp_path)
        body = await _see(page, story.program)
        hidden = [f"Program {story.program}", "Pairing pairing-", "Send ", "until the deadline", "Now:"]
        assert [t for t in hidden + story.personal if t in body] == [], name


@pytest.mark.slow
@pytest.mark.timeout(420)  # a program to its mentoring in real time, then two browsers; longer on a busy machine
async def test_the_temporal_ui_tells_a_programs_story_to_engineers_with_the_codec_token(
    story: Story, tmp_path: Path
) -> None:
    assert await _sealed_on_the_server(story) > 20
    async with launched_chromium() as browser:
        await _look(browser, story, tmp_path)


async def _look(browser: Browser, story: Story, tmp_path: Path) -> None:
    signed_in = await fresh_context(browser)
    page = await signed_in.new_page()
    await sign_in_to_codec(page, story.served.codec, TOKEN)
    await include_credentials_in_ui(page, story.served.ui, story.served.codec)
    await read_with_the_codec(page, story, tmp_path)
    await signed_in.close()
    # A fresh browser with the UI's own setting: the cluster-level endpoint, which sends no credentials.
    without = await fresh_context(browser)
    await read_without_the_codec(await without.new_page(), story, tmp_path)
    await without.close()
