"""The acceptance path: the demo program of `make run`, then `starter.py report`, then the page in Chromium."""

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from demo.run import play
from tests.helpers import ROOT
from tests.helpers.browser import KEEP, chart_images, chromium
from tests.helpers.harness import Harness
from tests.helpers.report_record import CHARTS


async def starter(harness: Harness, *args: str) -> str:
    """Run starter.py as a coordinator would, against the test's own record."""
    env = {**os.environ, "FLIPSIDE_DATA_DIR": str(harness.settings.data_dir), "DATABASE_URL": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.timeout(480)  # a minute and a half of real time, longer when the machine is busy
@pytest.mark.slow
async def test_the_demo_program_reports_in_a_browser(dev_harness: Harness, tmp_path: Path) -> None:
    result = await play(dev_harness.client, dev_harness.settings)
    assert result.outcome == "all business goals met"

    listing = await starter(dev_harness, "programs")
    assert result.program_id in listing and "completed" in listing
    await starter(dev_harness, "report", result.program_id, "--out", str(tmp_path / "report"))
    html = tmp_path / "report" / "report.html"
    text = html.read_text()
    assert "Digital Fluency Demo" in text and "all business goals met" in text
    assert "@flipside.example" not in text  # aggregates only: no participant is named
    assert sorted(p.name for p in (tmp_path / "report").glob("*.csv")) == [
        "adherence.csv",
        "alerts.csv",
        "evaluation.csv",
        "funnel.csv",
        "kpis.csv",
        "ratings.csv",
        "snapshots.csv",
    ]

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium(), headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            await page.goto(html.as_uri(), wait_until="load")
            images = await chart_images(page)
            assert sorted(str(i["chart"]) for i in images) == sorted(CHARTS)
            assert all(isinstance(i["width"], int) and i["width"] > 0 for i in images)
            shot = tmp_path / "demo-report.png"
            await page.screenshot(path=shot, full_page=True)
        finally:
            await browser.close()
    assert shot.read_bytes().startswith(b"\x89PNG")
    KEEP.mkdir(exist_ok=True)
    shutil.copy(shot, KEEP / shot.name)
