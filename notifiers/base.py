"""The channel contract: how a notice reaches people (console, files, e-mail, webhooks, robots).

A channel is either *broadcast* (the notice goes there once: a folder, a group robot) or
*personal* (once per recipient with an address on that channel: e-mail). ``send`` raises
``DeliveryError`` with a message an administrator can act on; the delivery engine retries.
Credentials come from the environment (``*_env`` settings name the variable), never from
the database or the logs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from engine.base.errors import NotifierError

_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:[^\s/@'\"]*@)?([^\s/?#'\"]+)[^\s'\"]*")
_SECRET_PARAM = re.compile(r"(?i)\b(access_token|token|key|sign|secret|password|passwd|pwd)=[^&\s'\"]+")


def redact(text: str) -> str:
    """An error message fit for the database, the logs and an alert: URLs cut to their host
    (robot URLs carry their token in the path or query) and secret-looking parameters masked."""
    return _SECRET_PARAM.sub(r"\1=***", _URL.sub(r"\1\2/…", text))


class DeliveryError(NotifierError):
    """A notice could not be delivered this time (it will be retried)."""


class Deadline:
    """The overall time one send attempt may take (a channel's ``deadline`` setting).

    Socket timeouts are per operation: a server that answers one byte a second resets them
    forever. A channel therefore gives each blocking step ``timeout(per_operation)`` — its
    own timeout, cut to what is left of the attempt — and calls ``check()`` between steps
    and between the pieces of a reply it reads; the attempt then ends as a ``DeliveryError``
    the delivery engine retries, at most one operation timeout after its deadline. What
    stays bounded by the per-operation timeout only is a single line the standard library
    reads whole (an HTTP status line or header, an SMTP reply): the webhook and e-mail
    channels document which.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.ends = clock() + seconds
        self.cut = False  # the last timeout handed out was what was left, not the operation's own

    def left(self) -> float:
        return self.ends - self.clock()

    def timeout(self, per_operation: float) -> float:
        """The timeout for the next blocking operation; raises once the deadline has passed."""
        self.check()
        left = self.left()
        self.cut = left < per_operation
        return min(per_operation, left)

    def ran_out(self, exc: BaseException) -> bool:
        """Whether ``exc`` ended the attempt because the deadline passed: no time is left, or
        it is a socket timeout of an operation whose timeout was cut to what was left."""
        reason = getattr(exc, "reason", exc)  # urllib wraps a timeout while connecting
        return self.left() <= 0 or (self.cut and isinstance(reason, TimeoutError))

    def check(self) -> None:
        if self.left() <= 0:
            raise self.expired()

    def expired(self) -> DeliveryError:
        return DeliveryError(f"发送超过单次时限 {self.seconds:g} 秒，稍后重试 / the attempt took longer than its "
                             f"deadline of {self.seconds:g}s (a slow or stalled server); it will be retried")


class ChannelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class Message:
    key: str  # the delivery's idempotency key: the same on every retry
    title: str
    body: str
    template: str
    case_ref: str | None
    recipient: Mapping[str, Any] | None = None  # None for broadcast channels
    recipients: tuple[str, ...] = field(default_factory=tuple)  # everyone the notice is for
    notice_id: int | None = None  # the outbox row (``rectify notices show ID``)
    issued: date | None = None  # the day the notice was written, in the campaign's zone


class Channel:
    kind: ClassVar[str] = ""  # the channel type name, set by the registry
    personal: ClassVar[bool] = False
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings

    def __init__(self, name: str, settings: ChannelSettings, env: Mapping[str, str] | None = None):
        self.name, self.settings = name, settings
        self.env = os.environ if env is None else env

    def secret(self, variable: str | None) -> str | None:
        """The value of an environment variable named in the settings (never logged)."""
        if not variable:
            return None
        value = self.env.get(variable)
        if not value:
            raise DeliveryError(f"环境变量 {variable} 未设置 / environment variable {variable} is not set")
        return value

    @property
    def deadline(self) -> float | None:
        """Seconds one send may take in all (the settings' ``deadline``); None for channels
        with no such setting (console, files: local and quick)."""
        value = getattr(self.settings, "deadline", None)
        return float(value) if value is not None else None

    def address(self, recipient: Mapping[str, Any]) -> str | None:
        """Where a personal channel reaches ``recipient`` (None: it cannot)."""
        return None

    def send(self, message: Message, address: str) -> None:
        raise NotImplementedError
