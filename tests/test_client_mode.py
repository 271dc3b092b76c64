"""The CLI in client mode, over real HTTP on both databases: ``rectify login URL``, then the same
commands carried out by ``rectify serve`` (a real uvicorn process) — facts, firing, files up and
back — run as real ``rectify`` processes with no database in sight (no ``--db``, no
``RECTIFY_DB``); and the ways it must refuse: administrative commands (refused before anything is
sent), a crafted request naming a path of the server's, ``--as`` by an official who is no
administrator, a token revoked or an account disabled, a forged or expired assertion."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import time_machine

from engine.store.db import Store
from tests.runner import Rectify, build_county, fingerprint, rectify_command
from tests.servers import free_port
from tests.webserver import Browser, invitation_link, served
from web import cli_assertion

PASSWORD = "zhengdun-2014"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOW = "2014-03-12"
# The client's environment must not name a database (that would be direct access) nor act for it.
NOT_FOR_THE_CLIENT = ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_CONFIG", "RECTIFY_EVIDENCE_DIR",
                      cli_assertion.ENV)


def build_client_county(run: Rectify, folder: Path) -> None:
    """The CLI tests' county with 2014-1-0001 (城关镇, 王强's) confirmed and 2014-1-0002 (河西乡)
    waiting for the county department's confirmation."""
    build_county(run, folder)
    run("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    run("case", "open", "T2-01", "--problem", "4", who="赵刚", now="2014-03-05")
    run("fire", "2014-1-0001", "confirm", who="李明", now="2014-03-10")


@pytest.fixture(params=["sqlite", "postgres"])
def county(request, tmp_path, built_counties, monkeypatch) -> Rectify:
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))  # PostgreSQL's needs a folder
    return built_counties.copy("client", build_client_county, request.param, tmp_path)


@pytest.fixture
def service(county: Rectify):
    with served(county.db, now=NOW) as base:
        yield base
        Browser.close_all()


class Client:
    """``rectify`` as an official runs it on their own machine: a real process, in a folder of
    their own, with their own ~/.config and no database."""

    def __init__(self, home: Path):
        self.home = home
        self.work = home / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_CLIENT}
        self.env["XDG_CONFIG_HOME"] = str(home / "config")

    @property
    def config(self) -> Path:
        return self.home / "config" / "rectify" / "client.json"

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([*rectify_command(), *args], cwd=self.work, env=self.env, input=stdin, text=True,
                              capture_output=True, timeout=200)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr
        return done


def logged_in(county: Rectify, base: str, name: str, home: Path) -> Client:
    """``name`` accepts the invitation an administrator printed, then logs the CLI in."""
    link = invitation_link(county("official", "invite", name, "--url", base).stdout)
    assert Browser(base).accept(link, PASSWORD).status_code == 200
    client = Client(home)
    done = client("login", base, "--name", name, "--password-stdin", stdin=f"{PASSWORD}\n")
    assert name in done.stdout
    return client


def events(county: Rectify, ref: str, kind: str) -> list[dict]:
    return [e for e in county.json("history", ref) if e["kind"] == kind]


def test_an_official_works_a_case_through_the_service(county, service, tmp_path):
    wang = logged_in(county, service, "王强", tmp_path / "wang")
    assert stat.S_IMODE(wang.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(wang.config.parent.stat().st_mode) == 0o700
    assert json.loads(wang.config.read_text(encoding="utf-8"))["official"] == "王强"

    assert "client mode: 王强 at " + service in wang("whoami").stdout
    assert "城关镇第1村党支部" in wang("case", "show", "2014-1-0001").stdout
    wang("fact", "set", "2014-1-0001", "plan_made", "是")
    fact = events(county, "2014-1-0001", "fact")[-1]
    assert (fact["actor"], fact["data"]["via"], fact["data"]["new"]) == ("王强", "cli", True)
    refused = wang("fire", "2014-1-0001", "submit_self_check", code=1)  # the engine's reasons, as at a terminal
    assert "submit_self_check" in refused.stderr

    li = logged_in(county, service, "李明", tmp_path / "li")
    assert "排查建账 → 整顿转化" in li("fire", "2014-1-0002", "confirm", "--note", "确认").stdout
    fired = events(county, "2014-1-0002", "transition")[-1]
    assert (fired["actor"], fired["data"]["via"], fired["trigger"]) == ("李明", "cli", "confirm")


def test_files_go_up_and_come_back_where_the_official_named_them(county, service, tmp_path):
    wang = logged_in(county, service, "王强", tmp_path / "wang")
    (wang.work / "方案.pdf").write_bytes(PDF)
    added = wang("evidence", "add", "2014-1-0001", "./方案.pdf", "--fact", "plan_made")
    assert "方案.pdf" in added.stdout
    listed = county.json("evidence", "list", "2014-1-0001")
    assert [(row["name"], row["added_by"]) for row in listed] == [("方案.pdf", "王强")]

    got = wang("evidence", "get", "2014-1-0001", "1", "-o", "out.pdf")
    assert (wang.work / "out.pdf").read_bytes() == PDF
    assert "out.pdf" in got.stdout
    assert "rectify-cli-" not in got.stdout
    (wang.work / "取回").mkdir()
    wang("evidence", "get", "2014-1-0001", "1", "-o", "取回")
    assert (wang.work / "取回" / "方案.pdf").read_bytes() == PDF
    kept = wang("evidence", "get", "2014-1-0001", "1", "-o", "out.pdf", code=2)  # as at a terminal: not overwritten
    assert "--force" in kept.stderr

    li = logged_in(county, service, "李明", tmp_path / "li")
    li("report", "--html", "看板.html")
    dashboard = (li.work / "看板.html").read_text(encoding="utf-8")
    assert dashboard.startswith("<!DOCTYPE html>")
    assert "城关镇" in dashboard
    li("evidence", "get", "2014-1-0001", "1")  # no -o: under its own name, here, as at a terminal
    assert (li.work / "方案.pdf").read_bytes() == PDF
    assert sorted(p.name for p in li.work.iterdir()) == ["方案.pdf", "看板.html"]


def test_outputs_past_what_the_client_mode_brings_back_are_left_on_the_service_with_a_reason(county, tmp_path):
    """Outputs travel as base64 in memory: past the service's limit (RECTIFY_CLIENT_MAX_OUTPUT_MIB,
    0 here) nothing comes back, the official is told why and how else, exit 2."""
    with served(county.db, now=NOW, env={"RECTIFY_CLIENT_MAX_OUTPUT_MIB": "0"}) as base:
        li = logged_in(county, base, "李明", tmp_path / "li")
        held = li("report", "--html", "看板.html", code=2)
        assert "超过客户端模式可取回的上限 0.0 MiB" in held.stderr
        assert "narrow it" in held.stderr
        assert not (li.work / "看板.html").exists()
        assert "城关镇第1村党支部" in li("case", "show", "2014-1-0001").stdout  # what prints still comes back
        Browser.close_all()


def test_administrative_commands_are_refused_before_anything_is_sent(tmp_path):
    client = Client(tmp_path)
    client.config.parent.mkdir(parents=True)
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: a command that were sent would fail with exit 3
    client.config.write_text(json.dumps({"url": nobody, "official": "王强", "token": "t"}), encoding="utf-8")
    for args in (["init"], ["workflow", "deploy"], ["official", "add", "张三", "--role", "r", "--jurisdiction", "X"],
                 ["official", "invite", "王强"], ["org", "import", "orgs.csv"], ["daemon", "--once"], ["serve"],
                 ["timers", "list"], ["notices", "retry", "1"], ["demo"]):
        done = client(*args, code=1)
        assert "runs on the server under the service account" in done.stderr, args
        assert "服务账户" in done.stderr
    unreachable = client("case", "list", code=3)
    assert "cannot reach the service" in unreachable.stderr
    assert not list(client.work.iterdir())


def api_login(base: str, name: str) -> str:
    response = httpx.post(f"{base}/api/v1/login", json={"name": name, "password": PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_a_crafted_request_cannot_name_a_path_of_the_server(county, service, tmp_path):
    link = invitation_link(county("official", "invite", "王强", "--url", service).stdout)
    assert Browser(service).accept(link, PASSWORD).status_code == 200
    token = api_login(service, "王强")
    secret = tmp_path / "secret.pdf"  # a file the service account could read: it must never be attached
    secret.write_bytes(PDF)
    planted = tmp_path / "planted.html"
    other = tmp_path / "other.db"
    before = county.json("history", "2014-1-0001")
    crafted = [
        ["evidence", "add", "2014-1-0001", str(secret), "--fact", "plan_made"],
        ["evidence", "add", "2014-1-0001", "/etc/passwd"],
        ["evidence", "add", "2014-1-0001", "../x"],
        ["evidence", "get", "2014-1-0001", "1", "--output=../x"],
        ["report", f"--html={planted}"],
        ["report", "--html", str(planted)],
        ["--db", str(other), "case", "list"],
        ["case", "list", "--db", str(other)],
        ["--config", "x", "case", "list"],
        ["case", "list", "--config", "x"],
        ["--evidence-dir", "/tmp", "case", "list"],
    ]
    for argv in crafted:
        response = httpx.post(f"{service}/api/v1/cli", headers={"authorization": f"Bearer {token}"},
                              data={"request": json.dumps({"argv": argv})}, timeout=60)
        assert response.status_code == 400, (argv, response.status_code, response.text)
        assert response.json()["exit_code"] == 2
        assert "Traceback" not in response.text
    assert not planted.exists()
    assert not other.exists()
    assert not (tmp_path / "x").exists()
    assert county.json("history", "2014-1-0001") == before  # (a token's last use is kept: not compared)
    assert county.json("evidence", "list", "2014-1-0001") == []


def test_as_by_an_official_who_is_no_administrator_is_refused_and_recorded(county, service, tmp_path):
    wang = logged_in(county, service, "王强", tmp_path / "wang")
    before = county.json("history", "2014-1-0001")
    refused = wang("--as", "李明", "fact", "set", "2014-1-0001", "plan_made", "是", code=1)
    assert "only an administrator may act as someone else" in refused.stderr
    assert county.json("history", "2014-1-0001") == before
    row = county.json("audit", "refusals")[0]
    assert row["login"] == "cli:王强"
    assert "--as" in row["command"]
    assert "plan_made" in row["command"]


def test_a_revoked_token_or_a_disabled_account_stops_the_client_at_once(county, service, tmp_path):
    wang = logged_in(county, service, "王强", tmp_path / "wang")
    wang("case", "list")
    token = next(t for t in county.json("token", "list") if t["official"] == "王强" and t["state"] == "active")
    county("token", "revoke", str(token["id"]))
    revoked = wang("case", "list", code=1)
    assert "rectify login URL" in revoked.stderr

    wang("login", service, "--name", "王强", "--password-stdin", stdin=f"{PASSWORD}\n")
    wang("case", "list")
    county("official", "disable", "王强")
    disabled = wang("case", "list", code=1)
    assert "rectify login URL" in disabled.stderr


def test_logout_revokes_the_token_and_forgets_it(county, service, tmp_path):
    wang = logged_in(county, service, "王强", tmp_path / "wang")
    token = json.loads(wang.config.read_text(encoding="utf-8"))["token"]
    assert "已退出 / logged out" in wang("logout").stdout
    assert not wang.config.exists()
    response = httpx.get(f"{service}/api/v1/me", headers={"authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 401
    direct = wang("case", "list", code=2)  # no longer client mode: direct access, and no database here
    assert "rectify init" in direct.stderr


def assertion_for(county: Rectify, official: str) -> str:
    store = Store(county.db)
    try:
        return cli_assertion.sign(store, cli_assertion.Assertion(official, "cli", None, ()))
    finally:
        store.dispose()


def test_a_forged_or_expired_assertion_is_refused_not_ignored(county, monkeypatch):
    monkeypatch.setenv(cli_assertion.ENV, assertion_for(county, "王强"))
    assert "login: cli:王强" in county("whoami").stdout  # the service's own: the official, via the CLI client

    monkeypatch.setenv(cli_assertion.ENV, "forged." + assertion_for(county, "李明"))
    assert "is not signed by this service" in county("case", "list", code=1).output

    with time_machine.travel(datetime.now(timezone.utc) - timedelta(seconds=cli_assertion.MAX_AGE + 30)):
        stale = assertion_for(county, "李明")
    monkeypatch.setenv(cli_assertion.ENV, stale)
    before = fingerprint(county.db)
    assert "has expired" in county("fact", "set", "2014-1-0001", "plan_made", "是", code=1).output
    assert fingerprint(county.db) == before

    monkeypatch.setenv(cli_assertion.ENV, "")
    assert "RECTIFY_CLI_ASSERTION" in county("case", "list", code=1).output
