"""The rules a workflow may name: rectify's own (``rules.BUILTIN``), those third-party packages
declare in the ``rectify.rules`` entry-point group (loaded the first time a name is not found),
and any class named by its ``package.module:Class`` path.

It lives here, beside the loader that looks rules up, and not in ``rules/``: rules are pure
functions of their context and know no registry.
"""

from __future__ import annotations

from typing import TypeGuard

import rules
from engine.base.registry import Registry
from rules.base import Rule

ENTRY_POINT_GROUP = "rectify.rules"


def is_rule_class(obj: object) -> TypeGuard[type[Rule]]:
    """A subclass of ``rules.base.Rule`` (not ``Rule`` itself, which judges nothing)."""
    return isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule


def _name_it(name: str, cls: type[Rule]) -> None:
    """A plug-in class without a name of its own is called as the workflow names it (its entry
    point, or its ``package.module:Class`` path) in the verdicts it gives."""
    if not vars(cls).get("name"):
        cls.name = name


rules_registry: Registry[type[Rule]] = Registry(
    "rule 规则", is_rule_class, "a subclass of rules.base.Rule",
    entry_points=ENTRY_POINT_GROUP, dotted_paths=True, named=_name_it)
for _rule in rules.BUILTIN:
    rules_registry.add(_rule.name, _rule)
