"""The notifier configuration file: which channels exist and how delivery retries.

::

    channels:
      console: {type: console}
      printed: {type: file, folder: notices}
      mail: {type: email, host: smtp.example.org, port: 465, security: ssl,
             sender: zzb@example.org, username_env: RECTIFY_SMTP_USER, password_env: RECTIFY_SMTP_PASSWORD}
    delivery: {max_attempts: 5, backoff_seconds: 60, alert_roles: [county_department]}

Found by ``--config``, ``RECTIFY_CONFIG`` or ``./rectify-notifiers.yaml``; without one,
notices are printed to the console. Secrets are named by environment variable only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import notifiers.console
import notifiers.email
import notifiers.files
import notifiers.webhook  # noqa: F401
from engine.base.errors import BadInput, InvalidDefinition, UnknownPlugin
from engine.base.yamlsafe import read_yaml
from notifiers.base import Channel
from notifiers.registry import channel_types

ENV_VAR = "RECTIFY_CONFIG"
DEFAULT_FILE = "rectify-notifiers.yaml"


class DeliveryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_seconds: float = Field(default=60.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # How long a claimed delivery is held before another daemon may take it over (a crash
    # between send and settle): longer than any send takes.
    lease_seconds: float = Field(default=300.0, gt=0)
    alert_roles: tuple[str, ...] = ("county_department",)

    def backoff(self, attempts: int) -> float:
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)


@dataclass
class NotifierConfig:
    channels: dict[str, Channel]
    policy: DeliveryPolicy = field(default_factory=lambda: DeliveryPolicy())
    source: str = "(default: console)"


def _refuse_strangers_file(file: Path) -> None:
    """The config found in the current folder decides where every notice goes: it is read only
    if it is the user's own and nobody else may change it. Otherwise a stranger's file in a
    shared folder would send the county's notices to a server of his choosing."""
    status = file.stat()
    if status.st_uid != os.geteuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BadInput(f"当前目录下的通知配置 {file.resolve()} 不属于当前用户或他人可写，未读取 / the notifier "
                       f"config {file.resolve()} in the current folder is not yours or others may write to it, "
                       f"so it was not read: make it yours and 'chmod go-w' it, or name a config explicitly "
                       f"with --config FILE or {ENV_VAR}")


def load_config(path: str | None = None) -> NotifierConfig:
    path = path or os.environ.get(ENV_VAR)
    if path is None:
        if not Path(DEFAULT_FILE).is_file():
            console = channel_types.get("console")
            return NotifierConfig({"console": console("console", console.Settings())})
        _refuse_strangers_file(Path(DEFAULT_FILE))
        path = DEFAULT_FILE
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"无法读取通知配置 / cannot read the notifier config {file}: {exc}") from exc
    located = read_yaml(text, str(file))
    if located.problems:
        raise InvalidDefinition(located.problems)
    data = located.data if isinstance(located.data, dict) else {}
    problems = [located.problem((key,), f"未知的键 / unknown key '{key}'; allowed keys: channels, delivery")
                for key in data if key not in ("channels", "delivery")]
    channels: dict[str, Channel] = {}
    for name, spec in (data.get("channels") or {}).items():
        where = ("channels", name)
        if not isinstance(spec, dict) or "type" not in spec:
            problems.append(located.problem(where, f"channel '{name}' needs a 'type' ({', '.join(channel_types.names())})"))
            continue
        try:
            cls = channel_types.get(spec["type"])
        except UnknownPlugin as exc:  # its message is bilingual and lists the known types
            problems.append(located.problem((*where, "type"), str(exc)))
            continue
        try:
            settings = cls.Settings.model_validate({k: v for k, v in spec.items() if k != "type"})
        except ValidationError as exc:
            problems += [located.problem(where, f"channel '{name}': {'.'.join(map(str, e['loc']))}: {e['msg']}")
                         for e in exc.errors()]
            continue
        channels[name] = cls(name, settings)
    try:
        policy = DeliveryPolicy.model_validate(data.get("delivery") or {})
    except ValidationError as exc:
        problems += [located.problem(("delivery",), f"delivery: {'.'.join(map(str, e['loc']))}: {e['msg']}")
                     for e in exc.errors()]
        policy = DeliveryPolicy()
    if not channels and not problems:
        problems.append(located.problem(("channels",), "没有配置任何通知渠道 / no channel configured"))
    for name, channel in channels.items():
        if channel.deadline and channel.deadline >= policy.lease_seconds:
            # A send that outlasted its lease could be taken over and sent a second time.
            problems.append(located.problem(("delivery", "lease_seconds"), (
                f"lease_seconds（{policy.lease_seconds:g} 秒）须长于渠道“{name}”的 deadline（{channel.deadline:g} 秒）/ "
                f"lease_seconds ({policy.lease_seconds:g}) must be longer than channel '{name}''s deadline "
                f"({channel.deadline:g} s): a send could outlast its lease and be sent twice")))
    if problems:
        raise InvalidDefinition(problems)
    return NotifierConfig(channels, policy, str(file))
