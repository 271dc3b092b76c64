"""The rule registry: built-in rules, entry-point plugins and ``package.module:Class`` paths.

Third-party packages add rules without editing rectify by declaring an entry point in the
``rectify.rules`` group; those are loaded lazily, once, the first time a name is not found
among the built-ins. A workflow may also name a rule by dotted path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from rules.base import Rule

ENTRY_POINT_GROUP = "rectify.rules"
R = TypeVar("R", bound=type[Rule])


class UnknownRule(LookupError):
    pass


class RuleRegistry:
    def __init__(self) -> None:
        self._rules: dict[str, type[Rule]] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[R], R]:
        def decorate(cls: R) -> R:
            if name in self._rules and self._rules[name] is not cls:
                raise ValueError(f"rule '{name}' is already registered by {self._rules[name].__module__}")
            cls.name = name
            self._rules[name] = cls
            return cls

        return decorate

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._rules)

    def get(self, name: str) -> type[Rule]:
        if name in self._rules:
            return self._rules[name]
        if ":" in name:
            return self._by_path(name)
        self._load_plugins()
        if name in self._rules:
            return self._rules[name]
        raise UnknownRule(f"unknown rule '{name}'; known rules: {', '.join(self.names())}")

    def _by_path(self, path: str) -> type[Rule]:
        module_name, _, attr = path.partition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:  # ":x", ".x:y" are not modules
            raise UnknownRule(f"cannot import rule '{path}': {exc}; write it as 'package.module:Class'") from exc
        if not (isinstance(obj, type) and issubclass(obj, Rule)):
            raise UnknownRule(f"'{path}' is not a rules.base.Rule subclass")
        if not obj.name:
            obj.name = path
        return obj

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            cls = ep.load()
            if ep.name not in self._rules:
                self.register(ep.name)(cls)


registry = RuleRegistry()
