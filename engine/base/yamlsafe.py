"""A strict YAML reader that keeps every node's place.

PyYAML's safe loader silently keeps the last of duplicate keys, turns ``on``/``no`` into
booleans and ``0701`` into an octal number. Administrators edit these files by hand, so
we compose the node graph ourselves and convert it with our own, smaller rules:

* plain ``true``/``false`` are booleans, plain decimal integers and decimals are numbers,
  ``null``/``~``/empty are None, everything else (quoted or not) is a string;
* duplicate keys, non-string keys, anchors/aliases and tags are errors.

Every value's place is recorded in ``Located.marks`` under its path (a tuple of keys and
list indexes) so that later checks can report ``FILE:LINE:COL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.base.errors import Problem

Path = tuple[str | int, ...]

_RESOLVER = yaml.resolver.Resolver()
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(0|[1-9][0-9]*)\.[0-9]+")


@dataclass
class Located:
    """Plain Python data from a YAML file, with the (line, column) of each path."""

    file: str
    data: Any = None
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seen: set[int] = field(default_factory=set, repr=False)

    def place(self, path: Path) -> tuple[int, int]:
        """The closest known place for ``path`` (a missing key points at its parent)."""
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def problem(self, path: Path, message: str) -> Problem:
        line, col = self.place(path)
        return Problem(self.file, line, col, message)


def read_yaml(text: str, file: str) -> Located:
    """Parse ``text``; syntax errors and forbidden constructs go to ``.problems``."""
    out = Located(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        out.problems.append(Problem(file, line, col, f"YAML 语法错误 / YAML syntax error: {exc.problem}"))
        return out
    except yaml.YAMLError as exc:
        out.problems.append(Problem(file, 1, 1, f"YAML error: {exc}"))
        return out
    if root is None:
        out.problems.append(Problem(file, 1, 1, "文件为空 / the file is empty"))
        return out
    out.data = _convert(root, (), out)
    if out.data is None and not out.problems:  # "null", "~", "---": a document with nothing in it
        out.problems.append(Problem(file, 1, 1, "文件为空 / the file is empty"))
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(node: yaml.Node, path: Path, out: Located) -> Any:
    out.marks[path] = _mark(node)
    # An alias is the very same node object met a second time: refuse it, do not expand it.
    if id(node) in out.seen:
        out.problems.append(out.problem(path, "不支持锚点/别名 / anchors and aliases are not allowed: write the value out"))
        return None
    out.seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, path, out)
    if isinstance(node, yaml.SequenceNode):
        # Tuples, not lists: the strict schema takes sequences as immutable tuples.
        return tuple(_convert(item, (*path, i), out) for i, item in enumerate(node.value))
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, path, out)


def _convert_mapping(node: yaml.MappingNode, path: Path, out: Located) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            out.problems.append(out.problem(path, "不支持合并键 << / merge keys (<<) are not allowed"))
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            line, col = _mark(key_node)
            out.problems.append(Problem(out.file, line, col, "键必须是字符串 / keys must be plain strings"))
            continue
        key = key_node.value
        if key in result:
            line, col = _mark(key_node)
            first = out.marks.get((*path, key), (0, 0))[0]
            out.problems.append(
                Problem(out.file, line, col, f"重复的键 '{key}'（第 {first} 行已定义）/ duplicate key '{key}' (first defined on line {first})")
            )
            continue
        result[key] = _convert(value_node, (*path, key), out)
        out.marks[(*path, key)] = _mark(key_node)
    return result


def _scalar(node: yaml.ScalarNode, path: Path, out: Located) -> Any:
    value = node.value
    implicit = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) if node.style is None \
        else "tag:yaml.org,2002:str"
    if node.tag != implicit:  # an explicit tag such as !!str or !!python/…: we do not guess
        out.problems.append(out.problem(path, f"不支持显式 YAML 标签 / explicit YAML tags are not allowed ({node.tag}); "
                                              "quote the value to make it text"))
        return None
    if node.style is not None:  # quoted or block scalars are always strings: "10" stays "10"
        return value
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value
