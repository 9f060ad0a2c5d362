"""The report in a real browser: Debian's headless Chromium opens report.html, every chart loads, nothing is fetched.

Screenshots go to the test's tmp folder and, for a person to look at, to test-output/ (ignored by git).
"""

import shutil
from pathlib import Path

import pytest
from playwright.async_api import Request, async_playwright

from adapters.report.write import write_report
from tests.helpers.browser import KEEP, chart_images, chromium
from tests.helpers.report_record import CHARTS, MAIN, build_record


@pytest.mark.slow
async def test_the_report_opens_in_chromium_with_its_four_charts(tmp_path: Path) -> None:
    executable = chromium()
    store = build_record(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        report = write_report(store.engine, MAIN, tmp_path / "report")
    finally:
        store.dispose()
    fetched: list[str] = []

    def remember(request: Request) -> None:
        if not request.url.startswith(("file://", "data:")):
            fetched.append(request.url)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            shots = {}
            for name, viewport in (("desktop", (1200, 900)), ("phone", (390, 844))):
                page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
                page.on("request", remember)
                await page.goto(report.html.as_uri(), wait_until="load")
                images = await chart_images(page)
                assert sorted(str(i["chart"]) for i in images) == sorted(CHARTS)
                for image in images:
                    assert image["complete"] is True, image["chart"]
                    assert isinstance(image["width"], int) and image["width"] > 0, image["chart"]
                    assert image["alt"], image["chart"]
                # Readable on a phone: the page itself never scrolls sideways (wide tables scroll in their box).
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
                shots[name] = tmp_path / f"report-{name}.png"
                await page.screenshot(path=shots[name], full_page=True)
                await page.close()
        finally:
            await browser.close()

    assert fetched == []  # self-contained: nothing but the file itself
    KEEP.mkdir(exist_ok=True)
    for shot in shots.values():
        assert shot.read_bytes().startswith(b"\x89PNG")
        shutil.copy(shot, KEEP / shot.name)
