"""Pydantic's validation errors as placed, readable problems (``file:line:col: message``).

Shared by the loader (the workflow's schema) and the whole-graph checks (each rule's
parameters), which is why it is a module of its own: neither has to import the other.
"""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from engine.base.errors import Problem

if TYPE_CHECKING:
    from engine.base.yamlsafe import Located


def pydantic_problems(exc: ValidationError, located: Located, model: type[BaseModel],
                      prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    """Turn pydantic's errors into placed, readable problems."""
    problems = []
    for err in exc.errors():
        path = prefix + data_path(located.data, prefix, err["loc"])
        where = ".".join(map(str, path)) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(allowed_keys(model, path[len(prefix):-1]))
            msg = f"未知的键 / unknown key '{path[-1]}' in {'.'.join(map(str, path[:-1])) or 'the top level'}; allowed keys: {allowed}"
        elif err["type"] == "missing":
            msg = f"缺少必填项 / missing required key '{path[-1] if path else ''}' in {'.'.join(map(str, path[:-1])) or 'the top level'}"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{where}: {text} (got {err['input']!r})" if _simple(err.get("input")) else f"{where}: {text}"
        problems.append(located.problem(path, msg))
    return problems


def _simple(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def data_path(data: Any, prefix: tuple[str | int, ...], loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Keep the parts of a pydantic ``loc`` that are real keys or indexes in the data.

    pydantic inserts union-member and validator names (``'str'``, ``'tuple[str, ...]'``)
    into ``loc``; they are not places in the file.
    """
    node = data
    for part in prefix:  # the prefix may name a key the file left out (a rule without params)
        node = node.get(part) if isinstance(node, dict) else None
    path: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node or isinstance(node, (list, tuple)) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(part)
        elif i == len(loc) - 1 and (isinstance(node, dict) or node is None):
            path.append(part)  # a missing or unknown key (or one under a missing mapping): name it anyway
    return tuple(path)


def allowed_keys(model: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """The keys the schema allows at ``path`` (for 'unknown key' messages)."""
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    return list(current.model_fields) if _is_model(current) else []


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _step(tp: Any, part: str | int) -> Any:
    if _is_model(tp):
        if not isinstance(part, str) or part not in tp.model_fields:
            return None
        return _unwrap(tp.model_fields[part].annotation)
    origin = typing.get_origin(tp)
    if origin in (dict, tuple, list):
        args = typing.get_args(tp)
        return _unwrap(args[-1] if origin is dict else args[0])
    return None


def _unwrap(tp: Any) -> Any:
    """From ``X | None`` or ``Annotated[X, …]`` to the structured member, if any."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
        structured = [m for m in members if _is_model(m) or typing.get_origin(m) in (dict, tuple, list)]
        return structured[0] if structured else members[0]
    return tp
