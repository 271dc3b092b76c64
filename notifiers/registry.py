"""Channel types by name: built-ins and the ``rectify.notifiers`` entry-point group."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from notifiers.base import Channel

ENTRY_POINT_GROUP = "rectify.notifiers"
C = TypeVar("C", bound=type[Channel])


class ChannelRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[Channel]] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[C], C]:
        def decorate(cls: C) -> C:
            if name in self._types and self._types[name] is not cls:
                raise ValueError(f"channel type '{name}' is already registered")
            cls.kind = name
            self._types[name] = cls
            return cls
        return decorate

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._types)

    def get(self, name: str) -> type[Channel] | None:
        if name not in self._types:
            self._load_plugins()
        return self._types.get(name)

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in self._types:
                self.register(ep.name)(ep.load())


channel_types = ChannelRegistry()
