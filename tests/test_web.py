"""The web workspace over real HTTP: ``rectify serve`` in its own process on the test county (both
databases), driven like a browser — invitation, login, 我的待办, a case's page, facts, evidence,
firing — and the ways it must refuse: another township's case, a form without its CSRF token,
wrong passwords, oversize or disguised uploads, forged ids, HTML typed into fields, a session that
expired while a form was being filled in."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.runner import Rectify, build_county, fingerprint
from tests.webserver import Browser, invitation_link, served

PASSWORD = "zhengdun-2014"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOW = "2014-04-01"


def build_web_county(run: Rectify, folder: Path) -> None:
    """The CLI tests' county with two cases, one per township, confirmed by the county:
    2014-1-0001 (城关镇, 王强's) and 2014-1-0002 (河西乡, 赵刚's)."""
    build_county(run, folder)
    run("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    run("case", "open", "T2-01", "--problem", "4", who="赵刚", now="2014-03-05")
    for ref in ("2014-1-0001", "2014-1-0002"):
        run("fire", ref, "confirm", who="李明", now="2014-03-12")


@pytest.fixture(params=["sqlite", "postgres"])
def county(request, tmp_path, built_counties) -> Rectify:
    return built_counties.copy("web", build_web_county, request.param, tmp_path)


@pytest.fixture
def site(county: Rectify, tmp_path):
    # PostgreSQL keeps no folder beside a file: the service is given its evidence store
    with served(county.db, now=NOW, env={"RECTIFY_EVIDENCE_DIR": str(tmp_path / "evidence")}) as base:
        yield base
        Browser.close_all()


def invited(run: Rectify, base: str, name: str) -> Browser:
    """``name`` accepts the invitation an administrator printed, and logs in."""
    link = invitation_link(run("official", "invite", name, "--url", base).stdout)
    browser = Browser(base)
    assert browser.accept(link, PASSWORD).status_code == 200
    response = browser.log_in(name, PASSWORD)
    assert response.status_code == 200, response.text
    assert "我的待办" in response.text, response.text
    return browser


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_township_official_works_a_case_through_the_web(county, site):
    browser = invited(county, site, "王强")
    todo = browser.get("/").text
    assert "/cases/2014-1-0001" in todo
    assert "2014-1-0002" not in todo

    page = browser.post("/cases/2014-1-0001/facts/plan_made", {"value": "是"})
    assert page.status_code == 200
    assert "已记录" in page.text
    assert county.json("case", "show", "2014-1-0001")["facts"][0]["value"] is True

    upload = browser.post("/cases/2014-1-0001/evidence", {"fact": "plan_made", "note": "方案"},
                          files={"files": ("整改方案.pdf", PDF, "application/pdf")})
    assert upload.status_code == 200
    assert "整改方案.pdf" in upload.text
    listed = county.json("evidence", "list", "2014-1-0001")
    number = listed["rows"][0]["id"] if "rows" in listed else listed[0]["id"]
    got = browser.get(f"/cases/2014-1-0001/evidence/{number}")
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["x-content-type-options"] == "nosniff"

    refused = browser.post("/cases/2014-1-0001/fire/submit_self_check", {"confirm": "yes", "note": "申请自查"})
    assert refused.status_code == 409
    reasons = county.json("case", "show", "2014-1-0001", now=NOW)["triggers"]
    blocked = next(t for t in reasons if t["trigger"] == "submit_self_check")["blocked_by"]
    assert blocked
    assert all(b["reason_zh"] in refused.text for b in blocked)

    history = county.json("history", "2014-1-0001")
    web_events = [e for e in history if e.get("data", {}).get("via") == "web"]
    assert {e["kind"] for e in web_events} >= {"fact", "evidence"}
    assert all(e["actor"] == "王强" for e in web_events)


def test_another_townships_case_is_not_found_and_the_attempt_recorded(county, site):
    browser = invited(county, site, "王强")
    for path in ("/cases/2014-1-0002", "/cases/2014-1-0002/fire/submit_self_check",
                 "/cases/2014-1-0002/evidence/1"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert "河西乡" not in response.text  # nothing of the case is shown
    before = fingerprint(county.db)
    response = browser.post("/cases/2014-1-0002/facts/plan_made", {"value": "是"})
    assert response.status_code == 404
    assert fingerprint(county.db) == before
    refusals = county.json("audit", "refusals")
    assert any(r["actor"] == "王强" and "2014-1-0002" in r["command"] for r in refusals["rows"]) \
        if isinstance(refusals, dict) else any(r["actor"] == "王强" for r in refusals)


def test_a_form_without_its_csrf_token_is_refused(county, site):
    browser = invited(county, site, "王强")
    before = fingerprint(county.db)
    response = browser.post("/cases/2014-1-0001/facts/plan_made", {"value": "是"}, csrf=False)
    assert response.status_code == 403
    assert "校验码" in response.text
    assert fingerprint(county.db) == before


def test_five_wrong_passwords_lock_the_account(county, site):
    invited(county, site, "王强").close()
    browser = Browser(site)
    for attempt in range(5):
        response = browser.log_in("王强", "wrong-password")
        assert response.status_code == 401, attempt
        assert "用户名或密码不正确" in words(response.text) or attempt == 4, words(response.text)
    response = browser.log_in("王强", PASSWORD)
    assert response.status_code == 401
    assert "锁定" in response.text
    assert "我的待办" not in response.text


def test_an_address_that_keeps_failing_is_held_off_before_any_password_is_checked(county, site):
    """Twenty failed log-ins from one address in ten minutes (unknown names, which have no account
    to lock), on the page and the API, and that address is answered 429 at once, even with
    a right password, on the page and the API alike; another address logs in as usual."""
    invited(county, site, "王强").close()
    flood = Browser(site)
    flood.http.headers["X-Forwarded-For"] = "203.0.113.7"  # the service trusts the proxy on 127.0.0.1
    for n in range(10):  # failures on the page and on the API count alike
        assert flood.log_in(f"不存在的人{n}", "guess").status_code == 401, n
        assert httpx.post(f"{site}/api/v1/login", json={"name": f"无此人{n}", "password": "guess"},
                          headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 401, n
    held = flood.log_in("王强", PASSWORD)
    assert held.status_code == 429
    assert "此地址登录失败次数过多" in words(held.text)
    assert 0 < int(held.headers["retry-after"]) <= 600
    assert "我的待办" not in held.text
    api = httpx.post(f"{site}/api/v1/login", json={"name": "王强", "password": PASSWORD},
                     headers={"X-Forwarded-For": "203.0.113.7"})
    assert api.status_code == 429
    assert api.json()["exit_code"] == 1
    elsewhere = Browser(site)
    elsewhere.http.headers["X-Forwarded-For"] = "198.51.100.2"
    assert "我的待办" in elsewhere.log_in("王强", PASSWORD).text


def test_html_typed_into_a_field_is_shown_as_text(county, site):
    browser = invited(county, site, "王强")
    typed = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    page = browser.post("/cases/2014-1-0001/facts/measures", {"value": typed})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "'unsafe-inline'" not in page.headers["content-security-policy"].split("script-src")[1].split(";")[0]


def test_uploads_over_the_limit_or_of_the_wrong_kind_are_refused(county, site):
    browser = invited(county, site, "王强")
    before = fingerprint(county.db)
    html = browser.post("/cases/2014-1-0001/evidence", {"fact": "plan_made"},
                        files={"files": ("方案.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")})
    assert html.status_code == 400
    big = browser.post("/cases/2014-1-0001/evidence", {"fact": "plan_made"},
                       files={"files": ("大.pdf", PDF + b"0" * (21 << 20), "application/pdf")})
    assert big.status_code == 413
    assert "20 MiB" in big.text
    assert fingerprint(county.db) == before


def test_forged_ids_are_answered_not_crashed_on(county, site):
    browser = invited(county, site, "王强")
    for path in ("/cases/%2e%2e%2f%2e%2e%2fetc", "/cases/2014-1-0001/evidence/99999999999999999999999",
                 "/cases/2014-1-0001/fire/no_such_trigger", "/cases/'%20or%201=1--", "/invite/forged"):
        response = browser.get(path)
        assert response.status_code in (400, 404, 422), (path, response.status_code)
        assert "Traceback" not in response.text


def test_a_form_posted_after_the_session_expired_is_kept(county, site):
    browser = invited(county, site, "王强")
    engine = create_engine(county.db)
    with engine.begin() as conn:  # the session's twelve hours have passed
        conn.execute(text("UPDATE web_sessions SET expires_at = '2000-01-01 00:00:00'"))
    engine.dispose()
    response = browser.post("/cases/2014-1-0001/facts/measures", {"value": "重新选配班子"})
    assert response.status_code == 401
    assert "重新选配班子" in response.text
    again = browser.post("/login", {"name": "王强", "password": PASSWORD, "next": "/cases/2014-1-0001/facts/measures",
                                    "kept.value": "重新选配班子"})
    assert "确认提交" in again.text
    assert "重新选配班子" in again.text
    done = browser.post("/cases/2014-1-0001/facts/measures", {"value": "重新选配班子"})
    assert done.status_code == 200
    facts = {f["name"]: f["value"] for f in county.json("case", "show", "2014-1-0001")["facts"]}
    assert facts["measures"] == "重新选配班子"


def test_every_page_carries_the_security_headers_and_cookie_flags(county, site):
    browser = Browser(site)
    page = browser.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    logged_in = browser.log_in("王强", "nothing-yet")
    assert logged_in.status_code == 401
    invited_browser = invited(county, site, "王强")
    cookies = [c for c in invited_browser.http.cookies.jar if c.name == "rectify_session"]
    assert cookies
    assert {k.lower() for k in cookies[0]._rest} >= {"httponly", "samesite"}


def test_a_problem_is_closed_from_the_case_page_once_its_evidence_is_there(county, site):
    county("problem", "add", "2014-1-0001", "--category", "2", "--description", "<b>班子不团结</b>",
           "--deadline", "2014-06-30", who="王强", now=NOW)
    browser = invited(county, site, "王强")
    page = browser.get("/cases/2014-1-0001")
    assert "&lt;b&gt;班子不团结&lt;/b&gt;" in page.text  # what was typed is shown as text
    refused = browser.post("/cases/2014-1-0001/problems/1/close", {"confirm": "yes", "note": "已整改"})
    assert refused.status_code == 409  # 销号 needs its evidence first: the engine's reason is shown
    assert "证据" in words(refused.text) or "材料" in words(refused.text)
    upload = browser.post("/cases/2014-1-0001/evidence", {"fact": "problem:1", "note": "谈心谈话记录"},
                          files={"files": ("谈话记录.pdf", PDF, "application/pdf")})
    assert upload.status_code == 200
    closed = browser.post("/cases/2014-1-0001/problems/1/close", {"confirm": "yes", "note": "已整改"})
    assert closed.status_code == 200
    assert "已销号" in closed.text
    listed = county.json("problem", "list", "2014-1-0001")
    rows = listed["problems"] if "problems" in listed else listed["rows"]
    assert rows[0]["status"] == "closed"
