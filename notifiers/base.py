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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:[^\s/@'\"]*@)?([^\s/?#'\"]+)[^\s'\"]*")
_SECRET_PARAM = re.compile(r"(?i)\b(access_token|token|key|sign|secret|password|passwd|pwd)=[^&\s'\"]+")


def redact(text: str) -> str:
    """An error message fit for the database, the logs and an alert: URLs cut to their host
    (robot URLs carry their token in the path or query) and secret-looking parameters masked."""
    return _SECRET_PARAM.sub(r"\1=***", _URL.sub(r"\1\2/…", text))


class DeliveryError(Exception):
    """A notice could not be delivered this time (it will be retried)."""


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

    def address(self, recipient: Mapping[str, Any]) -> str | None:
        """Where a personal channel reaches ``recipient`` (None: it cannot)."""
        return None

    def send(self, message: Message, address: str) -> None:
        raise NotImplementedError
