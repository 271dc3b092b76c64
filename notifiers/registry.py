"""Channel types by name: the built-ins (``@channel_types.register("webhook")`` in each channel's
module) and those third-party packages declare in the ``rectify.notifiers`` entry-point group."""

from __future__ import annotations

from typing import TypeGuard

from engine.base.registry import Registry
from notifiers.base import Channel

ENTRY_POINT_GROUP = "rectify.notifiers"


def is_channel_class(obj: object) -> TypeGuard[type[Channel]]:
    """A subclass of ``notifiers.base.Channel`` (not ``Channel`` itself, which sends nothing)."""
    return isinstance(obj, type) and issubclass(obj, Channel) and obj is not Channel


def _kind(name: str, cls: type[Channel]) -> None:
    cls.kind = name


channel_types: Registry[type[Channel]] = Registry(
    "channel type 通知渠道类型", is_channel_class, "a subclass of notifiers.base.Channel",
    entry_points=ENTRY_POINT_GROUP, named=_kind)
