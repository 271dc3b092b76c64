"""End to end in headless Chromium (Debian's, driven by Playwright; every request that is not to
the service is aborted), at a phone's viewport and a desktop's: a township official accepts an
invitation, logs in, sees 我的待办, records facts with an uploaded PDF and fires
``submit_self_check``; a refused fire shows every reason; another township's case is not found;
a form posted without its CSRF token is refused; five wrong passwords lock the account. The events
the browser wrote are the ones the CLI writes for the same steps (but for how the official acted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import ViewportSize

from tests.runner import Rectify, build_county, file_due
from tests.test_dashboard_browser import CHROMIUM_ARGS, chromium_path
from tests.webserver import invitation_link, served

pytestmark = pytest.mark.slow  # headless Chromium and a real server

VIEWPORTS: dict[str, ViewportSize] = {"phone": {"width": 390, "height": 844},
                                      "desktop": {"width": 1280, "height": 900}}
PASSWORD = "zhengdun-2014"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOW = "2014-04-02"
READY = "2014-1-0001"  # everything but the published plan recorded: the browser finishes it
UNREADY = "2014-1-0002"  # nothing recorded: its self-check is refused
ELSEWHERE = "2014-1-0003"  # 河西乡's


def build_browser_county(run: Rectify, folder: Path) -> None:
    build_county(run, folder)
    for org, who in (("T1-01", "王强"), ("T1-02", "王强"), ("T2-01", "赵刚")):
        run("case", "open", org, "--problem", "2", who=who, now="2014-03-05")
    for ref in (READY, UNREADY, ELSEWHERE):
        run("fire", ref, "confirm", who="李明", now="2014-03-12")
    team = "驻村工作队（一村）"
    run("person", "add", team, "--unit", "县直机关", now="2014-03-20")
    for name, value in [("plan_made", "是"), ("contact_leader", "周建国"), ("secretary_trained", "2014-03-28"),
                        ("secretary_appointed", "张三"), ("stationed_cadre", team)]:
        run("fact", "set", READY, name, value, who="王强", now="2014-04-01")
    file_due(run, "T1", "王强", "2014-04-01")


@pytest.fixture
def county(tmp_path, built_counties) -> Rectify:
    return built_counties.copy("browser", build_browser_county, "sqlite", tmp_path)


def events_after(run: Rectify, ref: str, seq: int) -> list[tuple]:
    """The case's events after ``seq``, as comparable rows: how the official acted left out."""
    rows = []
    for e in run.json("history", ref):
        if e["seq"] > seq:
            data = {k: v for k, v in e["data"].items() if k != "via"}
            rows.append((e["kind"], e["trigger"], e["from"], e["to"], e["actor"], e["note"], repr(sorted(data.items()))))
    return rows


def cli_steps(run: Rectify, pdf: Path) -> None:
    """What the browser does, typed at the command line instead."""
    run("fact", "set", READY, "plan_published", "是", who="王强", now=NOW)
    run("evidence", "add", READY, str(pdf), "--fact", "plan_published", "--note", "公开照片", who="王强", now=NOW)
    run("fire", READY, "submit_self_check", "--note", "整改完成，申请自查", who="王强", now=NOW)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_township_official_works_in_the_browser(county: Rectify, tmp_path, viewport):
    from playwright.sync_api import expect, sync_playwright

    pdf = tmp_path / "公开照片.pdf"
    pdf.write_bytes(PDF)
    twin = Rectify(f"sqlite:///{tmp_path / 'twin.db'}")  # the same county, for the CLI's steps
    shutil.copy(Path(county.db.removeprefix("sqlite:///")), tmp_path / "twin.db")
    before = max(e["seq"] for e in county.json("history", READY))

    with served(county.db, now=NOW) as base, sync_playwright() as p:
        link = invitation_link(county("official", "invite", "王强", "--url", base).stdout)
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
            outside: list[str] = []
            def only_the_service(route) -> None:
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()
            context.route("**/*", only_the_service)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # a page answered 404 or 409 on purpose is logged as a failed load: not an error of the page
            page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                    and not m.text.startswith("Failed to load resource") else None)

            page.goto(link)
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=repeat]", PASSWORD)
            page.click("button[type=submit]")
            page.fill("input[name=name]", "王强")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("我的待办")
            todo = page.locator("ol.todo")
            expect(todo).to_contain_text("城关镇第1村党支部")
            expect(todo).to_contain_text("整改方案已向群众公布")  # what still blocks its self-check
            assert "河西乡" not in todo.inner_text()

            page.locator("ol.todo a", has_text="城关镇第1村党支部").first.click()
            expect(page.locator("h1")).to_contain_text("城关镇第1村党支部")
            row = page.locator("table.facts tr", has_text="整改方案已向群众公布")
            row.locator("select[name=value]").select_option("是")
            row.locator("button").click()
            expect(page.locator(".message")).to_contain_text("已记录")
            upload = page.locator("form.upload")
            upload.locator("select[name=fact]").select_option("plan_published")
            upload.locator("input[name=note]").fill("公开照片")
            upload.locator("input[type=file]").set_input_files(str(pdf))
            upload.locator("button").click()
            expect(page.locator("#evidence")).to_contain_text("公开照片.pdf")

            page.locator("a.button", has_text="自查").click()
            page.fill("textarea[name=note]", "整改完成，申请自查")
            page.check("input[name=confirm]")
            page.click("form.card button[type=submit]")
            expect(page.locator(".message")).to_contain_text("已办理")
            expect(page.locator(".summary .state")).to_have_text("基层党组织自查")

            page.goto(f"{base}/cases/{UNREADY}/fire/submit_self_check")
            page.check("input[name=confirm]")
            page.click("form.card button[type=submit]")
            expect(page.locator(".refused")).to_be_visible()
            blocked = next(t for t in county.json("case", "show", UNREADY, now=NOW)["triggers"]
                           if t["trigger"] == "submit_self_check")["blocked_by"]
            assert len(blocked) >= 2
            for reason in blocked:
                expect(page.locator("main")).to_contain_text(reason["reason_zh"])

            response = page.goto(f"{base}/cases/{ELSEWHERE}")
            assert response is not None
            assert response.status == 404
            assert "河西乡" not in page.locator("main").inner_text()

            forged = page.request.post(f"{base}/cases/{READY}/facts/measures", form={"value": "伪造"})
            assert forged.status == 403

            stranger = browser.new_context(viewport=VIEWPORTS[viewport])
            other = stranger.new_page()
            for _ in range(5):
                other.goto(f"{base}/login")
                other.fill("input[name=name]", "王强")
                other.fill("input[name=password]", "not-the-password")
                other.click("button[type=submit]")
            other.fill("input[name=name]", "王强")
            other.fill("input[name=password]", PASSWORD)
            other.click("button[type=submit]")
            expect(other.locator("main")).to_contain_text("锁定")
            page.screenshot(path=str(tmp_path / f"case-{viewport}.png"), full_page=True)
            assert not outside, outside
            assert not errors, errors
        finally:
            browser.close()

    facts = {f["name"]: f["value"] for f in county.json("case", "show", READY)["facts"]}
    assert facts["measures"] != "伪造"
    cli_steps(twin, pdf)
    assert events_after(county, READY, before) == events_after(twin, READY, before)
    vias = {e["data"].get("via") for e in county.json("history", READY) if e["seq"] > before}
    assert vias == {"web"}
