"""Real servers on loopback for the channels under test: an SMTP server (aiosmtpd) and a webhook
endpoint (the standard library's HTTP server). The fixtures that start them are in conftest.py."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from aiosmtpd.smtp import AuthResult, LoginPassword

from notifiers.base import Message

MESSAGE = Message("2014-1-0001:event:2:case_listed|mail|wang@example.org",
                  "关于将城关镇第1村党支部列为后进基层党组织整顿对象的通知", "城关镇党委：\n根据实施方案……\n",
                  "case_listed", "2014-1-0001", {"name": "王强", "email": "wang@example.org"}, ("王强",))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server received: (recipients, raw message, authenticated) per message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content, session.authenticated))
        return "250 OK"


def smtp_authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"zzb", b"s3cret")
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers a refusal with 535


class Hook(BaseHTTPRequestHandler):
    """A webhook endpoint: /ok, /robot (errcode 0), /refuse (a robot's errcode) and /down (503).
    Every request is kept in ``Hook.requests`` as (path, headers, body)."""

    requests: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.requests.append((self.path, dict(self.headers), body))
        path = urlsplit(self.path).path
        status, reply = {"/ok": (200, {}), "/robot": (200, {"errcode": 0, "errmsg": "ok"}),
                         "/refuse": (200, {"errcode": 310000, "errmsg": "sign not match"}),
                         "/down": (503, {"error": "maintenance"})}[path]
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass
