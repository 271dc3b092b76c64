"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

The page must load from a file with no network at all, log nothing to the console and draw
every chart. The demo county's page is also captured as a screenshot, the one in docs/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # headless Chromium

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (apt-get install chromium) but was not found")
        pytest.skip("Chromium not installed")
    return found


def open_page(path: Path, screenshot: Path | None = None, width: int = 1280) -> dict:
    """Load ``path`` in headless Chromium; report console messages, page errors, every
    request the page tried to make, and the charts it drew."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"console": [], "errors": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            page.goto(path.as_uri(), wait_until="load")
            seen["title"] = page.title()
            seen["charts"] = page.eval_on_selector_all(
                "svg.chart", "els => els.map(e => ({name: e.dataset.chart, width: e.getBoundingClientRect().width,"
                " shapes: e.querySelectorAll('rect, polygon').length}))")
            seen["sections"] = page.eval_on_selector_all("section h2", "els => els.map(e => e.textContent)")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen


def test_dashboard_loads_offline_without_console_errors(surveyed_county, tmp_path):
    page = tmp_path / "看板.html"
    surveyed_county("report", "--html", str(page), now="2014-12-05")
    shot = tmp_path / "shot.png"
    seen = open_page(page, shot)
    assert seen["console"] == []
    assert seen["errors"] == []
    assert seen["requests"] == [page.as_uri()]  # nothing fetched but the page itself
    assert seen["title"].startswith("整顿后进基层党组织专项整治工作看板")
    assert [c["name"] for c in seen["charts"]] == ["by-state", "quota", "by-township", "surveys", "progress"]
    assert all(c["width"] > 200 and c["shapes"] > 0 for c in seen["charts"])
    # one case past its rectification deadline (11-30); screening has none of its own since issue 16
    assert any(h.startswith("逾期未完成（1个）") for h in seen["sections"])
    assert "各乡镇（街道）报送情况" in seen["sections"]
    assert shot.stat().st_size > 50_000  # a real full-page picture, not a blank one


def test_demo_dashboard_screenshot(tmp_path):
    """The demo county in mid-December, as docs/dashboard.png shows it."""
    from engine.services.demo import run_demo

    run_demo(tmp_path / "demo", 2014, lambda _: None)
    page = tmp_path / "demo" / "看板-12月3日.html"
    shot = tmp_path / "dashboard.png"
    seen = open_page(page, shot)
    assert seen["console"] == []
    assert seen["errors"] == []
    assert len(seen["charts"]) == 5
    if os.environ.get("RECTIFY_UPDATE_DOCS"):  # RECTIFY_UPDATE_DOCS=1 pytest -k screenshot refreshes docs/
        shutil.copy(shot, Path(__file__).resolve().parent.parent / "docs" / "dashboard.png")
