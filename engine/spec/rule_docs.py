"""Documentation of rules read from the code itself (``rectify rules list|show``)."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic_core import PydanticUndefined

from engine.spec.rule_registry import rules_registry


def rule_doc(name: str) -> dict[str, Any]:
    """What rule ``name`` checks and its parameters; ``UnknownPlugin`` lists the known rules."""
    cls = rules_registry.get(name)
    params = []
    for field, info in cls.Params.model_fields.items():
        default = None if info.default is PydanticUndefined else info.default
        params.append({
            "name": field,
            "type": getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", ""),
            "required": info.is_required(),
            "default": default,
            "constraints": [str(m) for m in info.metadata],
            "description": info.description or "",
        })
    return {"name": name, "summary": cls.summary, "doc": inspect.getdoc(cls) or "",
            "module": cls.__module__, "needs": sorted(cls.needs), "params": params}


def all_rule_docs() -> list[dict[str, Any]]:
    return [rule_doc(name) for name in rules_registry.names()]
