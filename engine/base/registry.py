"""Plug-ins by name: one generic registry for the workflow's rules and the notifiers' channel types.

A ``Registry`` holds objects under names: those registered in code (``@registry.register("x")``
or ``registry.add("x", obj)``), those third-party packages declare in an entry-point group
(loaded lazily, once, the first time a name is not found or the names are listed), and, if
the registry allows it, any ``package.module:Name`` path. Everything that comes from outside
is checked with the registry's ``accepts`` predicate before it is used.

Mistakes in code (a name registered twice, an object of the wrong kind registered) raise
``ValueError``/``TypeError`` at import time; what users name or install raises
``UnknownPlugin`` (exit 2), which lists the known names or says why the thing cannot be used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeGuard, TypeVar

from engine.base.errors import UnknownPlugin

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects of one kind by name.

    ``kind`` is "english 中文" (e.g. "rule 规则"), for messages. ``accepts`` says whether an
    object is acceptable and ``expected`` says so in words (e.g. "a subclass of
    rules.base.Rule"). ``named``, if given, is called with each name an object is registered
    or looked up under (e.g. to stamp the name on a class that has none).
    """

    def __init__(self, kind: str, accepts: Callable[[object], TypeGuard[T]], expected: str, *,
                 entry_points: str | None = None, dotted_paths: bool = False,
                 named: Callable[[str, T], None] | None = None):
        self.kind, self.expected, self.entry_point_group = kind, expected, entry_points
        self._accepts, self._dotted_paths, self._named = accepts, dotted_paths, named
        self._entries: dict[str, T] = {}
        self._plugins_loaded = entry_points is None

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator: ``@registry.register("name")`` above a class adds it under ``name``."""
        def decorate(obj: T) -> T:
            return self.add(name, obj)

        return decorate

    def add(self, name: str, obj: T) -> T:
        """Add ``obj`` under ``name``; a name already taken by another object is refused."""
        if not self._accepts(obj):
            raise TypeError(f"{self._english} '{name}': {obj!r} is not {self.expected}")
        existing = self._entries.get(name)
        if existing is not None and existing is not obj:
            raise ValueError(f"{self._english} '{name}' is already registered ({_where(existing)}); "
                             f"register {_where(obj)} under another name")
        self._entries[name] = obj
        if self._named is not None:
            self._named(name, obj)
        return obj

    def names(self) -> list[str]:
        """Every registered name, the entry points' included, sorted."""
        self._load_entry_points()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        """The object registered as ``name`` (or at the ``package.module:Name`` path ``name``)."""
        if not isinstance(name, str):  # a YAML value can be anything
            raise UnknownPlugin(self.kind, repr(name), self.names())
        if name in self._entries:
            return self._entries[name]
        if self._dotted_paths and ":" in name:
            return self._by_path(name)
        self._load_entry_points()
        if name in self._entries:
            return self._entries[name]
        raise UnknownPlugin(self.kind, name, sorted(self._entries))

    @property
    def _english(self) -> str:
        return self.kind.rpartition(" ")[0] or self.kind

    def _by_path(self, path: str) -> T:
        module_name, _, attr = path.partition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:  # ":x", ".x:y", a missing module, a module that fails on import…
            raise UnknownPlugin(self.kind, path, sorted(self._entries),
                                f"{type(exc).__name__}: {exc}; write it as 'package.module:Name'") from exc
        if not self._accepts(obj):
            raise UnknownPlugin(self.kind, path, sorted(self._entries), f"it is not {self.expected}")
        if self._named is not None:
            self._named(path, obj)
        return obj

    def _load_entry_points(self) -> None:
        """Add the entry points of the group, once. A name already registered keeps its object
        (a plug-in cannot replace a built-in); a plug-in that cannot be loaded is reported
        every time until it is fixed or uninstalled."""
        if self._plugins_loaded:
            return
        for ep in entry_points(group=self.entry_point_group or ""):
            if ep.name not in self._entries:
                self.add(ep.name, self._load(ep))
        self._plugins_loaded = True

    def _load(self, ep: EntryPoint) -> T:
        where = f"entry point {ep.name} = {ep.value}" + (f" of {ep.dist.name} {ep.dist.version}" if ep.dist else "")
        try:
            obj = ep.load()
        except Exception as exc:  # a broken or half-installed package
            raise UnknownPlugin(self.kind, ep.name, sorted(self._entries),
                                f"{where}: {type(exc).__name__}: {exc}; reinstall or uninstall that package") from exc
        if not self._accepts(obj):
            raise UnknownPlugin(self.kind, ep.name, sorted(self._entries),
                                f"{where} is not {self.expected}; fix or uninstall that package")
        return obj


def _where(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
