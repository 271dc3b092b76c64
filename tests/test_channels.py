"""Real channels against real servers on loopback: SMTP (aiosmtpd) and HTTP (webhooks, robots)."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import subprocess
from email.policy import default as default_policy
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from notifiers.base import DeliveryError, Message
from notifiers.email import EmailChannel, EmailSettings
from notifiers.webhook import DingTalkChannel, WebhookChannel, WebhookSettings, WeComChannel
from tests.runner import ORGS, Rectify
from tests.servers import MESSAGE, Hook, Inbox, free_port
from tests.timed_workflow import timed_text


def test_email_in_chinese_reaches_a_real_smtp_server(smtp_server):
    inbox, port = smtp_server
    channel = EmailChannel("mail", EmailSettings(host="127.0.0.1", port=port, security="none",
                                                 sender="zzb@example.org", username_env="U", password_env="P"),
                           env={"U": "zzb", "P": "s3cret"})
    assert channel.address({"name": "王强", "email": "wang@example.org"}) == "wang@example.org"
    assert channel.address({"name": "赵刚", "email": None}) is None
    channel.send(MESSAGE, "wang@example.org")
    (rcpts, raw, authenticated), = inbox.messages
    assert rcpts == ["wang@example.org"]
    assert authenticated
    mail = email.message_from_bytes(raw, policy=default_policy)
    assert mail["Subject"] == MESSAGE.title  # the encoded-word subject decodes back to Chinese
    assert "王强" in str(mail["To"])
    assert mail["X-Rectify-Key"] == MESSAGE.key
    assert mail.get_content().startswith("城关镇党委：")
    channel.send(MESSAGE, "wang@example.org")
    again = email.message_from_bytes(inbox.messages[1][1], policy=default_policy)
    assert again["Message-ID"] == mail["Message-ID"]  # a resend is recognisably the same message


def test_wrong_password_and_missing_server_are_delivery_errors(smtp_server):
    _, port = smtp_server
    settings = EmailSettings(host="127.0.0.1", port=port, security="none", sender="zzb@example.org",
                             username_env="U", password_env="P", timeout=3)
    with pytest.raises(DeliveryError, match=f"SMTP 127.0.0.1:{port}: SMTPAuthenticationError: \\(535"):
        EmailChannel("mail", settings, env={"U": "zzb", "P": "wrong"}).send(MESSAGE, "wang@example.org")
    with pytest.raises(DeliveryError, match="environment variable P is not set"):
        EmailChannel("mail", settings, env={"U": "zzb"}).send(MESSAGE, "wang@example.org")
    closed = EmailSettings(host="127.0.0.1", port=1, security="none", sender="zzb@example.org", timeout=2)
    with pytest.raises(DeliveryError, match="SMTP 127.0.0.1:1"):
        EmailChannel("mail", closed, env={}).send(MESSAGE, "wang@example.org")


@pytest.fixture
def tls_smtp_server(tmp_path):
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True)
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_email_over_starttls(tls_smtp_server):
    inbox, port = tls_smtp_server
    channel = EmailChannel("mail", EmailSettings(host="127.0.0.1", port=port, security="starttls",
                                                 sender="zzb@example.org", verify_tls=False), env={})
    channel.send(MESSAGE, "wang@example.org")
    assert len(inbox.messages) == 1


def test_signed_json_webhook(http_server):
    channel = WebhookChannel("hook", WebhookSettings(url=f"{http_server}/ok", secret_env="S"), env={"S": "k"})
    channel.send(MESSAGE, "hook")
    path, headers, body = Hook.requests[0]
    payload = json.loads(body)
    assert payload["title"] == MESSAGE.title
    assert payload["recipients"] == ["王强"]
    assert headers["Idempotency-Key"] == MESSAGE.key
    assert headers["X-Rectify-Signature"] == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    with pytest.raises(DeliveryError, match="HTTP 503"):
        WebhookChannel("hook", WebhookSettings(url=f"{http_server}/down"), env={}).send(MESSAGE, "hook")
    with pytest.raises(DeliveryError, match="cannot reach"):
        WebhookChannel("hook", WebhookSettings(url="http://127.0.0.1:1/x", timeout=2), env={}).send(MESSAGE, "h")


def test_dingtalk_signs_and_a_nonzero_errcode_is_a_failure(http_server):
    robot = DingTalkChannel("ding", WebhookSettings(url_env="DING", secret_env="SEC"),
                            env={"DING": f"{http_server}/robot?access_token=t", "SEC": "SECxyz"})
    robot.send(MESSAGE, "ding")
    path, _, body = Hook.requests[0]
    query = parse_qs(urlsplit(path).query)
    assert query["access_token"] == ["t"]
    assert "timestamp" in query
    assert "sign" in query
    assert json.loads(body)["text"]["content"].startswith(MESSAGE.title)
    refusing = DingTalkChannel("ding", WebhookSettings(url=f"{http_server}/refuse"), env={})
    with pytest.raises(DeliveryError, match="errcode 310000 sign not match"):
        refusing.send(MESSAGE, "ding")  # HTTP 200, but refused


def test_wecom_truncates_to_its_limit_and_checks_errcode(http_server):
    long = Message("k", "标题", "很长的通知正文。" * 400, "t", None)
    WeComChannel("wecom", WebhookSettings(url=f"{http_server}/robot"), env={}).send(long, "wecom")
    content = json.loads(Hook.requests[0][2])["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.endswith("（全文见通知 k）")
    with pytest.raises(DeliveryError, match="errcode 310000"):
        WeComChannel("wecom", WebhookSettings(url=f"{http_server}/refuse"), env={}).send(long, "wecom")


def test_end_to_end_email_file_and_a_dead_webhook_through_the_cli(smtp_server, http_server, tmp_path,
                                                                   workflow_copy):
    inbox, port = smtp_server
    # a case's own reminder (the timed variant: tests/timed_workflow.py), so one notice goes out
    workflow_copy.write_text(timed_text(workflow_copy.read_text(encoding="utf-8")), encoding="utf-8")
    config = tmp_path / "notifiers.yaml"
    config.write_text(f"""channels:
  mail: {{type: email, host: 127.0.0.1, port: {port}, security: none, sender: zzb@example.org}}
  printed: {{type: file, folder: {tmp_path / 'printed'}}}
  robot: {{type: webhook, url: "{http_server}/down"}}
delivery: {{max_attempts: 2, backoff_seconds: 60}}
""", encoding="utf-8")
    run = Rectify(f"sqlite:///{tmp_path / 'r.db'}")
    run("init")
    run("workflow", "deploy", str(workflow_copy), now="2014-03-01")
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    run("org", "import", str(orgs))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X", "--email", "li@example.org")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1", "--email", "wang@example.org")
    run("case", "open", "T1-01", who="王强", now="2014-03-05")
    base = ["--config", str(config)]
    out = run(*base, "daemon", "--once", now="2014-03-14T09:00").stdout  # the 3-days-before reminder
    assert "催办提醒 reminder 1" in out
    assert "送达 delivered 2 · 待重试 retrying 1 · 失败 dead 0" in out
    (rcpts, raw, _), = inbox.messages
    assert rcpts == ["wang@example.org"]  # reminders go to the township committee only
    mail = email.message_from_bytes(raw, policy=default_policy)
    assert mail["Subject"] == "【催办提醒】城关镇第1村党支部“排查建账”工作3月16日到期"
    # Written at 09:00 on 3月14日: 3月14日 has begun, 2 whole days (15日, 16日) are left.
    assert "该阶段工作应于3月16日前完成，距期限还有2天。" in mail.get_content()
    printed, = (tmp_path / "printed").glob("*.txt")
    assert "【催办提醒】城关镇第1村党支部“排查建账”工作3月16日到期" in printed.read_text(encoding="utf-8")
    run(*base, "daemon", "--once", now="2014-03-14T09:02")  # second failure of the webhook: dead
    listed = run.json("notices", "list")
    statuses = {n["template"]: n["status"] for n in listed}
    assert statuses["deadline_reminder"] == "dead"
    assert statuses["delivery_failed"] == "pending"
    shown = run.json("notices", "show", str(next(n["id"] for n in listed if n["template"] == "deadline_reminder")))
    by_channel = {d["channel"]: d for d in shown["deliveries"]}
    assert by_channel["mail"]["status"] == "delivered"
    assert by_channel["robot"]["status"] == "dead"
    assert "HTTP 503" in by_channel["robot"]["last_error"]
    assert by_channel["robot"]["attempts"] == 2
    assert "1 deliveries queued again" in run("notices", "retry", str(shown["id"]), now="2014-03-14T10:00").stdout
