"""The README's way to open the demo county in a browser works as printed: ``rectify demo`` prints
the command and two logins; the served county of 20 November has work in 我的待办 for the
township official, and the county department sees the dashboard. With RECTIFY_UPDATE_DOCS=1 the
phone and desktop screenshots of the README (docs/web-*.png) are taken from this run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.runner import rectify_command
from tests.test_dashboard_browser import CHROMIUM_ARGS, chromium_path
from tests.webserver import served

pytestmark = pytest.mark.slow  # the demo's simulated year, a real server and headless Chromium

DOCS = Path(__file__).resolve().parent.parent / "docs"
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}


def test_the_demo_county_opens_in_a_browser_with_the_printed_logins(tmp_path):
    import subprocess

    from playwright.sync_api import expect, sync_playwright

    printed = subprocess.run([*rectify_command(), "demo"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=600, check=True).stdout
    command = re.search(r"^\s*(rectify --db \S+ --now \S+ serve)\s*$", printed, re.M)
    assert command, printed
    argv = shlex.split(command.group(1))
    db, now = tmp_path / argv[2], argv[4]
    logins = re.findall(r"^\s+(\S+)（([^）]*)）密码 / password: (\S+)$", printed, re.M)
    assert len(logins) == 2, printed
    (township, _, township_password), (county, _, county_password) = logins

    shots = {}
    with served(f"sqlite:///{db}", now=now) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for viewport, (width, height) in VIEWPORTS.items():
                context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
                context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
                              else route.abort())
                page = context.new_page()
                page.goto(f"{base}/login")
                page.fill("input[name=name]", township)
                page.fill("input[name=password]", township_password)
                page.click("button[type=submit]")
                expect(page.locator("h1")).to_have_text("我的待办")
                assert page.locator("ol.todo li.item").count() >= 2
                shots[f"web-todo-{viewport}.png"] = tmp_path / f"todo-{viewport}.png"
                page.screenshot(path=str(shots[f"web-todo-{viewport}.png"]))
                page.locator("ol.todo li.case a").first.click()
                expect(page.locator("#actions")).to_be_visible()
                shots[f"web-case-{viewport}.png"] = tmp_path / f"case-{viewport}.png"
                page.screenshot(path=str(shots[f"web-case-{viewport}.png"]))
                context.close()
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=name]", county)
            page.fill("input[name=password]", county_password)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("我的待办")
            page.goto(f"{base}/county")
            expect(page.locator("main")).to_contain_text("整顿对象")
        finally:
            browser.close()
    if os.environ.get("RECTIFY_UPDATE_DOCS"):  # RECTIFY_UPDATE_DOCS=1 pytest -m slow -k demo_county refreshes docs/
        for name, shot in shots.items():
            shutil.copy(shot, DOCS / name)
