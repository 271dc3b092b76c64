"""The workspace's other pages over real HTTP (``rectify serve`` in its own process, both
databases): 乡镇报送 (a township files with a PDF, the county returns it with the reason), 全县看板
with its ledger and bulletin, 通知 with 重新投递, 拒绝记录, 审计 and 账号 — and a township
official refused the county's and the administrators' pages, each refusal recorded."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.runner import Rectify, fingerprint
from tests.test_audit import drop_triggers, sql
from tests.test_web import NOW, PASSWORD, PDF, build_web_county, invited, words
from tests.webserver import Browser, served

DUTY = "progress_report:T1:1"  # 城关镇's first 整顿建设情况报告, due 2014-05-20: on time on NOW
DUTY_PATH = "/duties/progress_report/T1/1"
LINK = re.compile(r'value="(https?://[^"]+/invite/[^"]+)"')


def build_pages_county(run: Rectify, folder: Path) -> None:
    """The web tests' county with an administrator, 张敏 (a web account only: the CLI stays in
    bootstrap mode), and its two notices dead at their first attempt, as tests/runner.py's
    ready county makes them (nothing listens on port 9)."""
    build_web_county(run, folder)
    run("official", "add", "张敏", "--role", "county_department", "--jurisdiction", "X", "--admin")
    config = folder / "dead-end.yaml"
    config.write_text("channels:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/x'}\n"
                      "delivery:\n  max_attempts: 1\n", encoding="utf-8")
    run("--config", str(config), "notices", "deliver", now="2014-03-12")


@pytest.fixture(params=["sqlite", "postgres"])
def county(request, tmp_path, built_counties) -> Rectify:
    return built_counties.copy("web_pages", build_pages_county, request.param, tmp_path)


@pytest.fixture
def site(county: Rectify, tmp_path):
    with served(county.db, now=NOW, env={"RECTIFY_EVIDENCE_DIR": str(tmp_path / "evidence")}) as base:  # PostgreSQL's
        yield base
        Browser.close_all()


def item(html: str, key: str) -> str:
    """The text of one occurrence on the duties page (its <li id=...>)."""
    found = re.search(rf'<li class="duty-item[^"]*" id="{re.escape(key)}">(.*?)</li>\s*(?=<li class="duty-item|</ol>)',
                      html, re.S)
    assert found, key
    return words(found.group(1))


def standing_of(county: Rectify, duty: str, occurrence: int) -> dict:
    rows = county.json("duty", "list", "--unit", "T1", now=NOW)["rows"]
    return next(r for r in rows if r["duty"] == duty and r["occurrence"] == occurrence)


def test_a_township_files_a_duty_and_the_county_returns_it(county, site):
    wang = invited(county, site, "王强")
    listed = wang.get("/duties")
    assert listed.status_code == 200
    assert f'id="{DUTY}"' in listed.text
    assert "河西乡" not in listed.text  # another township's duties are not his to read
    assert "退回理由" not in item(listed.text, DUTY)  # he files; returning is the county's

    filed = wang.post(f"{DUTY_PATH}/submit", {"note": "第一次整顿建设情况"},
                      files={"files": ("整顿建设情况.pdf", PDF, "application/pdf")})
    assert filed.status_code == 200, words(filed.text)
    assert "已报送" in filed.text
    shown = item(filed.text, DUTY)
    assert "按时报送" in shown
    assert "王强" in shown
    assert "整顿建设情况.pdf" in shown
    assert "第一次整顿建设情况" in shown
    assert standing_of(county, "progress_report", 1)["standing"] == "done"

    before = fingerprint(county.db)
    assert wang.post(f"{DUTY_PATH}/return", {"reason": "自己退回", "confirm": "yes"}).status_code == 403
    assert wang.post("/duties/progress_report/T2/1/submit", {"note": "代报"}).status_code == 403
    assert fingerprint(county.db) == before

    li = invited(county, site, "李明")
    board = li.get("/duties").text
    assert f'action="{DUTY_PATH}/return"' in board
    # the county reads the filed file before it decides: the same bytes, checked against their hash
    link = re.search(rf'href="({re.escape(DUTY_PATH)}/files/([0-9a-f]{{64}}))">整顿建设情况.pdf<', board)
    assert link, board
    got = li.get(link.group(1))
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-evidence-sha256"] == link.group(2)
    assert "sandbox" in got.headers["content-security-policy"]
    assert li.get(f"{DUTY_PATH}/files/{'0' * 64}").status_code == 404
    zhao = invited(county, site, "赵刚")  # 河西乡's: not his township's filing, nor under his own township's path
    assert zhao.get(link.group(1)).status_code == 404
    assert zhao.get(f"/duties/progress_report/T2/1/files/{link.group(2)}").status_code == 404
    returned = li.post(f"{DUTY_PATH}/return", {"reason": "缺少党委书记签字", "confirm": "yes"})
    assert returned.status_code == 200
    assert "已退回" in returned.text
    row = standing_of(county, "progress_report", 1)
    assert row["returned"]
    assert row["standing"] == "open"

    again = item(wang.get("/duties").text, DUTY)
    assert "缺少党委书记签字" in again
    assert "李明" in again
    assert "待报送" in again
    assert "报送说明" in again  # the form to file it anew


def test_the_county_dashboard_ledger_and_what_a_township_may_not_open(county, site):
    li = invited(county, site, "李明")
    board = li.get("/county")
    assert board.status_code == 200
    report = county.json("report", now=NOW)
    for kpi, figure in (("total", report["total"]), ("key-targets", report["key_targets"]),
                        ("overdue", report["overdue"]["count"]), ("upcoming", report["upcoming"]["count"]),
                        ("unreached", report["unreached"]["count"])):
        assert re.search(rf'id="kpi-{kpi}"><b>{figure}</b>', board.text), kpi
    for township in report["townships"]:
        assert township["name"] in board.text
    assert 'data-chart="by-state"' in board.text
    assert 'data-chart="progress"' in board.text
    assert "<style" not in board.text
    assert " style=" not in board.text

    ledger = li.get("/county/ledger.xlsx")
    assert ledger.status_code == 200
    assert ledger.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert ledger.headers["content-disposition"].startswith("attachment")
    cells = [c for row in load_workbook(BytesIO(ledger.content)).active.iter_rows(values_only=True) for c in row if c]
    assert any("城关镇第1村党支部" in str(c) for c in cells)
    assert any("河西乡第1村党支部" in str(c) for c in cells)

    bulletin = li.get("/county/bulletin")
    assert bulletin.status_code == 200
    assert "通报" in words(bulletin.text)

    wang = invited(county, site, "王强")
    for path in ("/county", "/county/ledger.xlsx", "/county/bulletin", "/refusals", "/admin/accounts"):
        refused = wang.get(path)
        assert refused.status_code == 403, path
        assert "城关镇第1村党支部" not in refused.text
        assert "Traceback" not in refused.text
    refusals = county.json("audit", "refusals", "--limit", "20")
    commands = {r["command"] for r in refusals if r["login"] == "web:王强"}
    assert {"web GET /county", "web GET /county/ledger.xlsx", "web GET /refusals", "web GET /admin/accounts"} <= commands


def test_an_administrator_invites_revokes_retries_and_verifies(county, site):
    county("token", "issue", "--for", "王强", "--label", "统计平台")
    admin = invited(county, site, "张敏")
    accounts = admin.get("/admin/accounts")
    assert accounts.status_code == 200
    assert "赵刚" in accounts.text
    assert "统计平台" in accounts.text

    unconfirmed = admin.post("/admin/accounts/invite", {"name": "赵刚"})
    assert unconfirmed.status_code == 400
    assert not LINK.search(unconfirmed.text)
    made = admin.post("/admin/accounts/invite", {"name": "赵刚", "confirm": "yes"})
    assert made.status_code == 200
    link = LINK.search(made.text).group(1)
    assert link.startswith(site)
    zhao = Browser(site)
    assert zhao.accept(link, PASSWORD).status_code == 200
    assert "我的待办" in zhao.log_in("赵刚", PASSWORD).text
    assert zhao.accept(link, PASSWORD).status_code != 200  # one use only
    again = admin.post("/admin/accounts/invite", {"name": "赵刚", "confirm": "yes"})
    assert again.status_code == 409
    assert not LINK.search(again.text)

    token_id = county.json("token", "list", "--for", "王强")[0]["id"]
    assert admin.post(f"/admin/tokens/{token_id}/revoke", {"confirm": "yes"}).status_code == 200
    assert county.json("token", "list", "--for", "王强")[0]["state"] == "revoked"
    assert admin.post("/admin/accounts/disable", {"name": "赵刚", "confirm": "yes"}).status_code == 200
    assert "/login" in str(zhao.get("/").url)  # his session ended with the account

    notices = admin.get("/notices?status=dead")
    assert notices.status_code == 200
    assert notices.text.count('action="/notices/') >= 3
    older = admin.get("/notices?before=2").text  # the next page: below the last notice shown
    assert 'id="notice-1"' in older
    assert 'id="notice-2"' not in older
    assert admin.post("/notices/1/retry").status_code == 200
    assert county.json("notices", "show", "1")["status"] == "pending"
    assert county.json("notices", "show", "2")["status"] == "dead"
    assert admin.post("/notices/retry-dead", {"confirm": "yes"}).status_code == 200
    assert county.json("notices", "list", "--status", "dead") == []

    refusals = admin.get("/refusals")
    assert refusals.status_code == 200
    assert "web POST /admin/accounts/invite" in refusals.text
    assert "开始核验" in admin.get("/audit").text
    verified = admin.post("/audit", {"case": ""})
    assert verified.status_code == 200
    assert "核验一致" in verified.text
    drop_triggers(county.db)  # an event rewritten behind the project's back
    sql(county.db, "UPDATE events SET note = '补录' WHERE seq = 2")
    broken = words(admin.post("/audit", {"case": ""}).text)
    assert "核验失败" in broken
    assert "2014-1-0001 第 2 条事件" in broken
    assert "2014-1-0002 第 2 条事件" in broken
