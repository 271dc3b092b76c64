"""Issue 6: no secret (SMTP password, webhook key, robot token) appears in the database, the
logs or a notice.

One campaign runs through the real ``rectify`` command (subprocesses) with a notifier config
whose secrets live only in the environment, against a real SMTP server (aiosmtpd with AUTH)
and a real HTTP server that checks webhook signatures and DingTalk signing. Deliveries
succeed, fail (wrong password, HTTP 503, a robot's non-zero ``errcode``, an unreachable
host), are retried, dead-lettered and alerted; the daemon runs once and as a service with
its INFO log. Then every trace the run left is searched for every secret and its obvious
encodings: every column of every table (and the raw database file), every command's stdout
and stderr, the files the file channel wrote, the notices, and what the servers received.
The servers also prove the secrets were used, so the search cannot pass vacuously.
"""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import logging
import os
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import ROOT
from tests.runner import ORGS, Rectify, rectify_command
from tests.servers import free_port
from tests.timed_workflow import write_timed_workflow

pytestmark = pytest.mark.slow  # real SMTP, webhook and daemon processes, secrets looked for everywhere

SMTP_USER, SMTP_USER_CN = "zzb-mailer", "zzb-cn"
SMTP_PASSWORD = "S3cr3t-smtp-Kq7x-9f2c"
SMTP_PASSWORD_OLD = "S3cr3t-smtp-old-Vw3m-51a0"  # rotated out: the server refuses it
SMTP_PASSWORD_CN = "S3cr3t-smtp-口令-9f2c"
DING_TOKEN = "dtok-Rn4Lq8Zp2Yw6"  # the robot's access_token, inside its URL
DING_SECRET = "SECwhsec-7a1bXf9QmT3k"  # 加签 key
DING_SECRET_OLD = "SECwhsec-old-Jd5Hs2Pv"
HOOK_SECRET = "whsec-7a1bGk2Nw8Rz"  # HMAC key of X-Rectify-Signature
HOOK_GONE_TOKEN = "whkey-gone-Tz6Bc1Mx"  # in the URL of a host that is down
WECOM_KEY = "wckey-Hy3Qe7Lu0Sa"
WECOM_KEY_OLD = "wckey-revoked-Fo8Ni4Wd"

SECRETS = {"SMTP_PASSWORD": SMTP_PASSWORD, "SMTP_PASSWORD_OLD": SMTP_PASSWORD_OLD,
           "SMTP_PASSWORD_CN": SMTP_PASSWORD_CN, "DING_TOKEN": DING_TOKEN, "DING_SECRET": DING_SECRET,
           "DING_SECRET_OLD": DING_SECRET_OLD, "HOOK_SECRET": HOOK_SECRET, "HOOK_GONE_TOKEN": HOOK_GONE_TOKEN,
           "WECOM_KEY": WECOM_KEY, "WECOM_KEY_OLD": WECOM_KEY_OLD}
ACCOUNTS = {SMTP_USER.encode(): SMTP_PASSWORD.encode(), SMTP_USER_CN.encode(): SMTP_PASSWORD_CN.encode()}
NOW = "2014-03-14T09:05"  # the service daemon's fixed clock (Asia/Shanghai)
NOW_UTC = datetime(2014, 3, 14, 1, 5)  # noqa: DTZ001 (naive UTC, as SQLite returns the deliveries' times)


def encodings(secret: str) -> set[str]:
    """The secret and the forms it would take in a URL, a JSON column, a header or an SMTP AUTH."""
    raw = secret.encode()
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), raw.hex()}


def _auth_plain(user: str, password: str) -> set[str]:
    return {base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
            base64.b64encode(f"{user}\0{password}".encode()).decode()}


NEEDLES = {name: encodings(value) for name, value in SECRETS.items()}
NEEDLES["AUTH PLAIN"] = set().union(*(_auth_plain(user, password) for user in (SMTP_USER, SMTP_USER_CN)
                                      for password in (SMTP_PASSWORD, SMTP_PASSWORD_OLD, SMTP_PASSWORD_CN)))


def leaks(text: str) -> list[str]:
    """Which secrets appear in ``text``, in which form (case-insensitive: %e5 = %E5)."""
    low = text.lower()
    return sorted(f"{name} as {form!r}" for name, forms in NEEDLES.items() for form in forms if form.lower() in low)


class SecretLeaked(AssertionError):
    """A secret was found (its own type, so an xfail for a known leak hides no other failure)."""


def assert_no_leak(haystacks: dict[str, str]) -> None:
    assert haystacks, "nothing to search"
    found = {where: hits for where, text in haystacks.items() if (hits := leaks(text))}
    if found:
        raise SecretLeaked(json.dumps(found, ensure_ascii=False, indent=1))


def test_the_needles_find_what_they_look_for():
    """The search itself: a secret in any of its encodings is found, ordinary text is not."""
    assert leaks(f"error: {HOOK_SECRET}") == [f"HOOK_SECRET as {HOOK_SECRET!r}"]
    assert leaks(json.dumps({"k": SMTP_PASSWORD_CN}))  # \u53e3\u4ee4 as SQLAlchemy's JSON writes it
    assert leaks(f"?x={quote_plus(SMTP_PASSWORD_CN).lower()}")
    assert leaks("AUTH PLAIN " + base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode())
    assert leaks(f"sign key {DING_SECRET.encode().hex()}")
    assert leaks("邮件发送失败 / SMTP 127.0.0.1:25: SMTPAuthenticationError: (535, b'5.7.8')") == []


# --- real servers --------------------------------------------------------------------------

@dataclass
class Seen:
    auths: list[tuple[str, bytes, bytes, bool]] = field(default_factory=list)  # (mechanism, login, password, ok)
    mails: list[bytes] = field(default_factory=list)
    http: list[tuple[str, str, bytes]] = field(default_factory=list)  # (path, verdict, body)

    def verdicts(self, path: str) -> set[str]:
        return {verdict for p, verdict, _ in self.http if p == path}


class Inbox:
    def __init__(self, seen: Seen):
        self.seen = seen

    async def handle_DATA(self, server, session, envelope):
        self.seen.mails.append(envelope.content)
        return "250 OK"


def _robot_reply(path: str, query: dict[str, list[str]], headers, body: bytes) -> tuple[int, dict, str]:
    """What DingTalk, WeCom and an OA system's webhook answer, each checking its own secret."""
    if path == "/robot/send":
        if query.get("access_token") != [DING_TOKEN]:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}, "bad-token"
        stamp = query["timestamp"][0]
        expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{stamp}\n{DING_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        if query.get("sign") == [expected]:
            return 200, {"errcode": 0, "errmsg": "ok"}, "signed"
        return 200, {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com]"}, "bad-sign"
    if path == "/hook":
        expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        if headers.get("X-Rectify-Signature") == expected:
            return 200, {}, "signed"
        return 401, {"error": "bad signature"}, "bad-sign"
    if path == "/hook-down":
        return 503, {"error": "maintenance"}, "down"
    if path == "/cgi-bin/webhook/send":
        if query.get("key") == [WECOM_KEY]:
            return 200, {"errcode": 0, "errmsg": "ok"}, "ok"
        return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "bad-key"
    return 404, {"error": "no such hook"}, "unknown"


def http_server(seen: Seen) -> ThreadingHTTPServer:
    class Robots(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            url = urlsplit(self.path)
            status, reply, verdict = _robot_reply(url.path, parse_qs(url.query), self.headers, body)
            seen.http.append((url.path, verdict, body))
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Robots)


@pytest.fixture(scope="module")
def servers():
    seen = Seen()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and ACCOUNTS.get(auth_data.login) == auth_data.password
        seen.auths.append((mechanism, auth_data.login, auth_data.password, ok))
        # handled=False: aiosmtpd answers a refusal with 535 (by default it sends nothing and
        # the client waits for its timeout).
        return AuthResult(success=ok, handled=False)

    smtp = Controller(Inbox(seen), hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                      auth_require_tls=False)
    smtp.start()
    web = http_server(seen)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    yield seen, smtp.port, f"http://127.0.0.1:{web.server_address[1]}"
    web.shutdown()
    web.server_close()
    smtp.stop()


# --- the campaign ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def county_db(tmp_path_factory) -> Path:
    """A county with two officials who have e-mail addresses and one case in screening."""
    db = tmp_path_factory.mktemp("county") / "county.db"
    run = Rectify(f"sqlite:///{db}")
    run("init")
    # a case's own 3-days-before reminder (tests/timed_workflow.py): one notice through every channel
    run("workflow", "deploy", str(write_timed_workflow()), now="2014-03-01")
    orgs = db.parent / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    run("org", "import", str(orgs))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X", "--email", "li@example.org")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1", "--email", "wang@example.org")
    run("case", "open", "T1-01", who="王强", now="2014-03-05")
    return db


def copy_db(source: Path, target: Path) -> Path:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # consistent even with WAL frames not yet checkpointed
    return target


@dataclass
class Ran:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


class Cli:
    """The installed ``rectify`` as a real process, secrets in its environment only."""

    def __init__(self, db: Path, config: Path, secrets_env: dict[str, str]):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
        self.env.update(secrets_env, RECTIFY_DB=str(db), RECTIFY_CONFIG=str(config), PYTHONUNBUFFERED="1")
        self.ran: list[Ran] = []

    def __call__(self, *args: str, now: str = NOW, code: int = 0) -> Ran:
        done = subprocess.run([*rectify_command(), "--now", now, *args], env=self.env, capture_output=True,
                              text=True, cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)
        ran = Ran(args, done.returncode, done.stdout, done.stderr)
        self.ran.append(ran)
        assert ran.code == code, ran
        assert "Traceback" not in ran.stdout
        return ran

    def service(self, db: Path) -> Ran:
        """``rectify daemon`` as a service on a fixed clock, until the outbox settles; then SIGTERM."""
        out, err = db.parent / "daemon.out", db.parent / "daemon.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            proc = subprocess.Popen([*rectify_command(), "--now", NOW, "daemon", "--interval", "0.2"], env=self.env,
                                    stdout=stdout, stderr=stderr, cwd=ROOT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not settled(db):
                assert proc.poll() is None, err.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, err.read_text(encoding="utf-8")
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        ran = Ran(("daemon", "--interval", "0.2"), code, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"))
        self.ran.append(ran)
        return ran


def settled(db: Path) -> bool:
    """Every notice expanded and every pending delivery waiting for its backoff (none due, none leased)."""
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        if conn.execute("SELECT count(*) FROM notices WHERE NOT expanded").fetchone()[0]:
            return False
        if conn.execute("SELECT count(*) FROM deliveries WHERE leased_until IS NOT NULL").fetchone()[0]:
            return False  # one is being sent
        waiting = [datetime.fromisoformat(v) for (v,) in
                   conn.execute("SELECT next_attempt_at FROM deliveries WHERE status = 'pending'")]
    return all(due > NOW_UTC for due in waiting)


def dump_database(db: Path) -> dict[str, str]:
    """Every column of every row of every table, as text, one entry per table."""
    tables: dict[str, str] = {}
    with closing(sqlite3.connect(db)) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            columns = [c[0] for c in cursor.description]
            lines = []
            for row in cursor:
                cells = (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
                lines.append(" | ".join(f"{c}={v}" for c, v in zip(columns, cells, strict=True)))
            tables[f"table {name}"] = "\n".join(lines)
    return tables


def raw_database_files(db: Path) -> dict[str, str]:
    """The database file and its WAL byte for byte: freed pages and old row versions included."""
    return {f"file {path.name}": path.read_bytes().decode("utf-8", "replace")
            for path in db.parent.glob(f"{db.name}*") if path.is_file()}


CHANNELS = """channels:
  mail:       {{type: email, host: 127.0.0.1, port: {smtp}, security: none, sender: zzb@example.org, timeout: 5,
               username_env: RECTIFY_SMTP_USER, password_env: RECTIFY_SMTP_PASSWORD}}
  mail_old:   {{type: email, host: 127.0.0.1, port: {smtp}, security: none, sender: zzb@example.org, timeout: 5,
               username_env: RECTIFY_SMTP_USER, password_env: RECTIFY_SMTP_PASSWORD_OLD}}
  mail_cn:    {{type: email, host: 127.0.0.1, port: {smtp}, security: none, sender: zzb@example.org, timeout: 5,
               username_env: RECTIFY_SMTP_USER_CN, password_env: RECTIFY_SMTP_PASSWORD_CN}}
  mail_down:  {{type: email, host: 127.0.0.1, port: {closed}, security: none, sender: zzb@example.org, timeout: 5,
               username_env: RECTIFY_SMTP_USER, password_env: RECTIFY_SMTP_PASSWORD}}
  ding:       {{type: dingtalk, url_env: RECTIFY_DINGTALK_URL, secret_env: RECTIFY_DINGTALK_SECRET, timeout: 5}}
  ding_old:   {{type: dingtalk, url_env: RECTIFY_DINGTALK_URL, secret_env: RECTIFY_DINGTALK_SECRET_OLD, timeout: 5}}
  hook:       {{type: webhook, url: "{web}/hook", secret_env: RECTIFY_HOOK_SECRET, timeout: 5}}
  hook_down:  {{type: webhook, url: "{web}/hook-down", secret_env: RECTIFY_HOOK_SECRET, timeout: 5}}
  hook_gone:  {{type: webhook, url_env: RECTIFY_HOOK_GONE_URL, secret_env: RECTIFY_HOOK_SECRET, timeout: 5}}
  wecom:      {{type: wecom, url_env: RECTIFY_WECOM_URL, timeout: 5}}
  wecom_old:  {{type: wecom, url_env: RECTIFY_WECOM_URL_OLD, timeout: 5}}
  printed:    {{type: file, folder: {printed}}}
delivery: {{max_attempts: 2, backoff_seconds: 60, alert_roles: [county_department]}}
"""
SUCCEEDING = {"mail", "ding", "hook", "wecom", "printed"}
FAILING = {"mail_old", "mail_cn", "mail_down", "ding_old", "hook_down", "hook_gone", "wecom_old"}


@dataclass
class Scenario:
    db: Path
    printed: Path
    config_text: str
    ran: list[Ran]
    seen: Seen
    closed_port: int
    listed: list[dict]
    shown: dict[int, dict]


@pytest.fixture(scope="module")
def scenario(servers, county_db, tmp_path_factory) -> Scenario:
    seen, smtp_port, web = servers
    folder = tmp_path_factory.mktemp("secrets")
    db, printed, closed = copy_db(county_db, folder / "county.db"), folder / "printed", free_port()
    config = folder / "notifiers.yaml"
    config.write_text(CHANNELS.format(smtp=smtp_port, closed=closed, web=web, printed=printed), encoding="utf-8")
    cli = Cli(db, config, {
        "RECTIFY_SMTP_USER": SMTP_USER, "RECTIFY_SMTP_PASSWORD": SMTP_PASSWORD,
        "RECTIFY_SMTP_PASSWORD_OLD": SMTP_PASSWORD_OLD,
        "RECTIFY_SMTP_USER_CN": SMTP_USER_CN, "RECTIFY_SMTP_PASSWORD_CN": SMTP_PASSWORD_CN,
        "RECTIFY_DINGTALK_URL": f"{web}/robot/send?access_token={DING_TOKEN}",
        "RECTIFY_DINGTALK_SECRET": DING_SECRET, "RECTIFY_DINGTALK_SECRET_OLD": DING_SECRET_OLD,
        "RECTIFY_HOOK_SECRET": HOOK_SECRET,
        "RECTIFY_HOOK_GONE_URL": f"http://127.0.0.1:{closed}/hooks/rectify?key={HOOK_GONE_TOKEN}",
        "RECTIFY_WECOM_URL": f"{web}/cgi-bin/webhook/send?key={WECOM_KEY}",
        "RECTIFY_WECOM_URL_OLD": f"{web}/cgi-bin/webhook/send?key={WECOM_KEY_OLD}"})
    # 1. The 3-days-before reminder fires and goes out: 5 channels deliver, 7 fail (attempt 1).
    cli("daemon", "--once", now="2014-03-14T09:00")
    # 2. The service, 5 minutes later: the second attempts fail, those 7 are dead, 7 alerts are
    #    written and delivered to 李明 (each failure logged); it stops on SIGTERM.
    cli.service(db)
    # 3. The administrator retries the reminder; it fails again; the alerts' second attempts are dead.
    with closing(sqlite3.connect(db)) as conn:
        ids = dict(conn.execute("SELECT template, min(id) FROM notices GROUP BY template").fetchall())
    cli("notices", "retry", str(ids["deadline_reminder"]), now="2014-03-14T09:10")
    cli("notices", "deliver", now="2014-03-14T09:10")
    # 4. What an administrator reads, as JSON and as tables (read-only, so in parallel).
    reminder, alert = str(ids["deadline_reminder"]), str(ids["delivery_failed"])
    reads = [("notices", "list", "--json"), ("notices", "show", reminder, "--json"),
             ("notices", "show", alert, "--json"), ("notices", "list")]
    with ThreadPoolExecutor(len(reads)) as pool:
        listed, *shown = [json.loads(r.stdout) for r in pool.map(lambda a: cli(*a, now="2014-03-14T09:20"), reads)
                          if r.args[-1] == "--json"]
    return Scenario(db, printed, config.read_text(encoding="utf-8"), cli.ran, seen, closed, listed,
                    {n["id"]: n for n in shown})


def _deliveries(scenario: Scenario, template: str) -> dict[str, dict]:
    notice = next(n for n in scenario.shown.values() if n["template"] == template)
    return {d["channel"]: d for d in notice["deliveries"]}


# --- the run did what it claims: secrets used, failures recorded, retried, dead-lettered ----

def test_the_secrets_were_used(scenario):
    seen = scenario.seen
    assert ("PLAIN", SMTP_USER.encode(), SMTP_PASSWORD.encode(), True) in seen.auths  # AUTH succeeded with it
    for mechanism in ("PLAIN", "LOGIN"):  # the old one was refused, then smtplib tried the next mechanism
        assert (mechanism, SMTP_USER.encode(), SMTP_PASSWORD_OLD.encode(), False) in seen.auths
    assert seen.verdicts("/robot/send") == {"signed", "bad-sign"}  # 加签 checked with the right and old key
    assert seen.verdicts("/hook") == {"signed"}  # every X-Rectify-Signature verified with the HMAC key
    assert seen.verdicts("/cgi-bin/webhook/send") == {"ok", "bad-key"}
    assert seen.verdicts("/hook-down") == {"down"}
    assert len(seen.mails) >= 1 + 7  # the reminder to 王强 and the 7 alerts to 李明


def test_failures_are_stored_retried_and_dead_lettered(scenario):
    reminder = _deliveries(scenario, "deadline_reminder")
    assert set(reminder) == SUCCEEDING | FAILING
    assert {c for c, d in reminder.items() if d["status"] == "delivered"} == SUCCEEDING
    for channel in FAILING:  # retried after 'notices retry': pending again, after one more failure
        assert (reminder[channel]["status"], reminder[channel]["attempts"]) == ("pending", 1), reminder[channel]
    errors = {c: reminder[c]["last_error"] for c in FAILING}
    assert "SMTPAuthenticationError" in errors["mail_old"]
    assert "535" in errors["mail_old"]
    assert f"SMTP 127.0.0.1:{scenario.closed_port}" in errors["mail_down"]
    assert "errcode 310000 sign not match" in errors["ding_old"]
    assert "HTTP 503" in errors["hook_down"]
    assert "maintenance" in errors["hook_down"]
    assert f"cannot reach 127.0.0.1:{scenario.closed_port}" in errors["hook_gone"]
    assert "errcode 93000" in errors["wecom_old"]
    # smtplib sends AUTH in ASCII only, so today this password never reaches the server; if
    # that is fixed the server accepts it. Either way the attempt is recorded, and nothing leaks.
    if reminder["mail_cn"]["status"] == "delivered":
        assert ("PLAIN", SMTP_USER_CN.encode(), SMTP_PASSWORD_CN.encode(), True) in scenario.seen.auths
    else:
        assert errors["mail_cn"]
    alerts = [n for n in scenario.listed if n["template"] == "delivery_failed"]
    assert len(alerts) == len(FAILING)
    assert all(n["status"] == "dead" for n in alerts)
    assert {n["status"] for n in scenario.listed if n["template"] == "deadline_reminder"} == {"pending"}
    alert = _deliveries(scenario, "delivery_failed")
    assert {c for c, d in alert.items() if d["status"] == "dead"} == FAILING
    assert all(alert[c]["attempts"] == 2 for c in FAILING)
    bodies = "\n".join(n["body"] for n in scenario.shown.values())
    assert "最后错误：" in bodies  # an alert quotes the error: exactly where a secret could slip in


def test_the_daemon_logged_at_info_and_every_command_succeeded(scenario):
    service = next(r for r in scenario.ran if r.args[:2] == ("daemon", "--interval"))
    assert service.code == 0
    assert " INFO 守护进程已启动 / daemon started on " in service.stderr
    assert "daemon stopped: signal SIGTERM" in service.stderr
    assert " WARNING 投递失败 / delivery failed: " in service.stderr
    assert "HTTP 503" in service.stderr
    once = next(r for r in scenario.ran if r.args == ("daemon", "--once"))
    assert "投递 deliveries: " in once.stdout
    deliver = [r for r in scenario.ran if r.args == ("notices", "deliver")]
    assert len(deliver) == 1
    assert "errcode 310000" in deliver[0].stderr
    assert "7 deliveries queued again" in next(r for r in scenario.ran if r.args[:2] == ("notices", "retry")).stdout


# --- no secret anywhere ------------------------------------------------------------------

def test_the_config_file_holds_no_secret(scenario):
    assert_no_leak({"notifiers.yaml": scenario.config_text})


def test_no_secret_in_any_table_or_in_the_database_file(scenario):
    tables = dump_database(scenario.db)
    dumped = "\n".join(tables.values())
    assert {"table notices", "table deliveries", "table events", "table timers"} <= set(tables)
    assert "HTTP 503" in dumped
    assert "errcode 310000" in dumped
    assert "最后错误" in dumped
    assert_no_leak(tables)
    assert_no_leak(raw_database_files(scenario.db))


def test_no_secret_in_any_command_output_or_log(scenario):
    # The tables (rich, 120 columns) may fold a long cell across lines; the --json views above
    # hold the same rows unfolded, and the database dump holds them all.
    assert len(scenario.ran) == 8
    assert_no_leak({f"{' '.join(r.args)} [{stream}]": getattr(r, stream)
                    for r in scenario.ran for stream in ("stdout", "stderr")})


def test_no_secret_in_the_notices_the_files_or_what_was_sent(scenario):
    files = sorted(scenario.printed.glob("*.txt"))
    assert len(files) == 1 + len(FAILING)  # the reminder and each alert, once
    haystacks = {f"file {p.name}": p.read_text(encoding="utf-8") for p in files}
    with closing(sqlite3.connect(scenario.db)) as conn:
        notices = conn.execute("SELECT id, template, title, body FROM notices").fetchall()
    assert len(notices) == 1 + len(FAILING)
    haystacks.update({f"notice {i} ({template})": f"{title}\n{body}" for i, template, title, body in notices})
    haystacks.update({f"notices list: {n['id']}": f"{n['title']}\n{n['last_error']}" for n in scenario.listed})
    haystacks.update({f"notices show {n['id']}": "\n".join([n["title"], n["body"], *(
        f"{d['address']} {d['last_error']}" for d in n["deliveries"])]) for n in scenario.shown.values()})
    for i, raw in enumerate(scenario.seen.mails):
        mail = email.message_from_bytes(raw, policy=default_policy)
        haystacks[f"e-mail {i}"] = f"{mail['Subject']}\n{mail.get_content()}"
        haystacks[f"e-mail {i} (raw)"] = raw.decode("utf-8", "replace")
    for i, (path, _, body) in enumerate(scenario.seen.http):
        haystacks[f"POST {path} #{i}"] = body.decode("utf-8")
    assert any("最后错误：" in text for text in haystacks.values())
    assert_no_leak(haystacks)


# --- leaks found: a secret from the environment echoed by an error message -------------------

def test_a_robot_url_urllib_rejects_does_not_leak_its_token(county_db, tmp_path, caplog):
    from click.testing import CliRunner

    from cli import main

    db = copy_db(county_db, tmp_path / "county.db")
    config = tmp_path / "notifiers.yaml"
    config.write_text("channels:\n"
                      "  bare:  {type: dingtalk, url_env: URL_BARE, secret_env: RECTIFY_DINGTALK_SECRET}\n"
                      "  space: {type: dingtalk, url_env: URL_SPACE, secret_env: RECTIFY_DINGTALK_SECRET}\n"
                      "delivery: {max_attempts: 1}\n", encoding="utf-8")
    runner = CliRunner(env={"RECTIFY_DINGTALK_SECRET": DING_SECRET,
                            "URL_BARE": f"oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}",
                            "URL_SPACE": f"http://127.0.0.1:9/robot/send?access_token={DING_TOKEN} "})
    with caplog.at_level(logging.INFO):
        result = runner.invoke(main, ["--db", f"sqlite:///{db}", "--config", str(config), "--now",
                                      "2014-03-14T09:00", "daemon", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT channel, status FROM deliveries ORDER BY channel").fetchall() == [
            ("bare", "dead"), ("space", "dead")]
    assert_no_leak({**dump_database(db), "output": result.output, "log": caplog.text})


def test_the_database_password_is_not_echoed():
    from click.testing import CliRunner

    from cli import main

    password = "pgpw-Zq81Lx5Rv"
    url = f"postgresql://rectify:{password}@127.0.0.1:{free_port()}/rectify"  # nothing listens there
    result = CliRunner().invoke(main, ["--db", url, "notices", "list"], catch_exceptions=False)
    # It tried to connect: the server is unavailable (exit 3, try again), not bad input.
    assert result.exit_code == 3, result.output
    assert "127.0.0.1" in result.output, result.output
    if password in result.output:
        raise SecretLeaked(result.output)
