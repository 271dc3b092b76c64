"""Webhooks: generic signed JSON, and DingTalk / WeCom group robots.

The robots answer HTTP 200 even when they refuse a message; the refusal is in the JSON
``errcode`` (SPEC §5: apprise ignores it). Here a non-zero ``errcode`` is a failed delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import Field

from notifiers.base import Channel, ChannelSettings, Deadline, DeliveryError, Message, redact
from notifiers.registry import channel_types


class WebhookSettings(ChannelSettings):
    url: str | None = None
    url_env: str | None = None  # robots' URLs carry their token: keep them in the environment
    secret_env: str | None = None
    timeout: float = Field(default=15.0, gt=0)  # seconds, for each socket operation
    deadline: float = Field(default=30.0, gt=0)  # seconds, for the whole attempt (notifiers.base.Deadline)


MAX_REPLY = 1 << 20  # bytes of a reply kept: a robot answers a few hundred


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float,
              deadline: float = 30.0) -> tuple[int, bytes]:
    """POST ``payload`` as JSON; returns the status and the reply's body.

    ``timeout`` bounds each socket operation and ``deadline`` the whole attempt: the reply is
    read piece by piece with the deadline checked in between, so a server that trickles it
    cannot hold the daemon (connecting and the reply's headers are bounded by the per-operation
    timeout only).
    """
    budget = Deadline(deadline)
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", **headers})
    try:
        with urllib.request.urlopen(request, timeout=budget.timeout(timeout)) as response:
            return response.status, _read(response, budget)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}: {_error_body(exc, budget)!r}") from exc
    except (ValueError, http.client.InvalidURL) as exc:  # urllib's messages quote the whole URL, token and all
        raise DeliveryError(f"地址无效 / invalid URL for {_host(url) or '?'}: check the channel's url "
                            f"(scheme, spaces): {redact(str(exc))}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        if budget.ran_out(exc):  # not the server's error: the attempt's time is up
            raise budget.expired() from exc
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"无法连接 / cannot reach {_host(url)}: {redact(str(reason))}") from exc


def _read(response: Any, budget: Deadline, limit: int = MAX_REPLY) -> bytes:
    """Up to ``limit`` bytes of a reply's body, the deadline checked between pieces (``read1``
    returns what one read of the socket brought, where ``read(n)`` would wait for all n)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        budget.check()
        piece = response.read1(min(65536, limit - size))
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
    return b"".join(parts)


def _error_body(error: urllib.error.HTTPError, budget: Deadline) -> bytes:
    """The start of an error reply, for the message; what cannot be read in time is left out."""
    try:
        return _read(error, budget, 200)
    except (DeliveryError, OSError, http.client.HTTPException):
        return b""


def _host(url: str) -> str:
    """Host and port only: a URL's user, path and query may carry a token."""
    try:
        return urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:
        return ""


class _HttpChannel(Channel):
    Settings = WebhookSettings

    def url(self) -> str:
        s: WebhookSettings = self.settings  # type: ignore[assignment]
        url = s.url or self.secret(s.url_env)
        if not url:
            raise DeliveryError(f"通知渠道“{self.name}”没有配置 url 或 url_env / channel '{self.name}' has no url")
        return url


@channel_types.register("webhook")
class WebhookChannel(_HttpChannel):
    """POSTs the notice as JSON, signed with HMAC-SHA256 when a secret is configured.

    Headers: ``X-Rectify-Key`` / ``Idempotency-Key`` (the same on every retry) and
    ``X-Rectify-Signature: sha256=<hex of HMAC(secret, body)>``.
    """

    def send(self, message: Message, address: str) -> None:
        s: WebhookSettings = self.settings  # type: ignore[assignment]
        payload = {"key": message.key, "title": message.title, "body": message.body, "template": message.template,
                   "case": message.case_ref, "recipients": list(message.recipients)}
        headers = {"X-Rectify-Key": message.key, "Idempotency-Key": message.key}
        secret = self.secret(s.secret_env)
        if secret:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["X-Rectify-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        status, _ = post_json(self.url(), payload, headers, s.timeout, s.deadline)
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")


def _check_errcode(raw: bytes, robot: str) -> None:
    try:
        reply = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeliveryError(f"{robot}返回了无法识别的应答 / unreadable reply: {raw[:200]!r}") from exc
    if reply.get("errcode", 0) != 0:
        raise DeliveryError(f"{robot}拒绝了消息 / refused: errcode {reply.get('errcode')} {reply.get('errmsg', '')}")


def _text(message: Message, limit_bytes: int) -> str:
    text = f"{message.title}\n\n{message.body}".strip()
    encoded = text.encode("utf-8")
    if len(encoded) <= limit_bytes:
        return text
    tail = f"…（全文见通知 {message.key}）"
    room = limit_bytes - len(tail.encode("utf-8"))
    return encoded[:room].decode("utf-8", errors="ignore") + tail


@channel_types.register("dingtalk")
class DingTalkChannel(_HttpChannel):
    """A DingTalk group robot (钉钉群机器人), signed when a secret is configured (加签)."""

    def send(self, message: Message, address: str) -> None:
        s: WebhookSettings = self.settings  # type: ignore[assignment]
        url = self.url()
        secret = self.secret(s.secret_env)
        if secret:
            stamp = str(round(time.time() * 1000))
            digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
            sign = urllib.parse.quote_plus(base64.b64encode(digest))
            url += f"{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"
        payload = {"msgtype": "text", "text": {"content": _text(message, 18000)}}
        _, raw = post_json(url, payload, {}, s.timeout, s.deadline)
        _check_errcode(raw, "钉钉机器人")


@channel_types.register("wecom")
class WeComChannel(_HttpChannel):
    """A WeCom group robot (企业微信群机器人); text messages are limited to 2048 bytes."""

    def send(self, message: Message, address: str) -> None:
        s: WebhookSettings = self.settings  # type: ignore[assignment]
        payload = {"msgtype": "text", "text": {"content": _text(message, 2048)}}
        _, raw = post_json(self.url(), payload, {}, s.timeout, s.deadline)
        _check_errcode(raw, "企业微信机器人")
