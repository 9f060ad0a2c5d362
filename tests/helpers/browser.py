"""Chromium for the browser tests: Debian's headless build (no browser download works here), and where the
screenshots a person may look at are kept (test-output/, ignored by git)."""

import os
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.helpers import ROOT

CHROMIUM = Path(os.environ.get("FLIPSIDE_CHROMIUM", "/usr/bin/chromium"))
KEEP = ROOT / "test-output"
IMAGES = (
    """imgs => imgs.map(i => ({chart: i.dataset.chart, width: i.naturalWidth, complete: i.complete, alt: i.alt}))"""
)


def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the report's browser test needs it. "
            "`make test` installs it (apt-get install -y chromium); or set FLIPSIDE_CHROMIUM to another binary."
        )
    return str(CHROMIUM)


async def chart_images(page: Page) -> list[dict[str, object]]:
    """The report's chart images as the page loaded them: which chart, its width, whether complete, its alt text."""
    images: list[dict[str, object]] = await page.eval_on_selector_all("img[data-chart]", IMAGES)
    return images
