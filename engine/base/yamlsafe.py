"""A strict YAML reader that keeps every node's place.

PyYAML's safe loader silently keeps the last of duplicate keys, turns ``on``/``no`` into
booleans and ``0701`` into an octal number. Administrators edit these files by hand, so
we compose the node graph ourselves and convert it with our own, smaller rules:

* plain ``true``/``false`` are booleans, plain decimal integers and decimals are numbers,
  ``null``/``~``/empty are None, everything else (quoted or not) is a string;
* duplicate keys, non-string keys, anchors/aliases and tags are errors.

Every value's place is recorded in ``Located.marks`` under its path (a tuple of keys and
list indexes) so that later checks can report ``FILE:LINE:COL``.

A text is read within limits: at most ``MAX_YAML_BYTES``, nested at most ``MAX_DEPTH`` deep
(PyYAML composes nodes recursively, and so do we: 500 levels ended in a RecursionError), and
from a regular file only (``read_text_file``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, BinaryIO

import yaml

from engine.base.errors import BadInput, Problem

# The shipped workflow is 12 KB and a calendar a few hundred bytes: 2 MB is far beyond what an
# administrator writes by hand, and keeps a mistaken path (a log, a dump) from being parsed.
MAX_YAML_BYTES = 2 * 1024 * 1024
# The shipped workflow nests 7 levels deep. Each level costs a few Python frames while PyYAML
# composes and we convert (and the recursion limit is 1 000 frames); 50 leaves room for any
# structure a person writes.
MAX_DEPTH = 50
# Opening a FIFO waits for a writer unless O_NONBLOCK; O_NOCTTY keeps a terminal device from
# becoming ours. Neither exists on Windows, which has no FIFOs to open by path.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)

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


class FileNotRead(BadInput):
    """A file that was not read: not a regular file, or larger than its limit. ``reason`` says
    which, in both languages, without the path (a ``Problem`` shows it already)."""

    def __init__(self, path: str | FilePath, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def open_regular(path: str | FilePath) -> BinaryIO:
    """``path`` opened for reading in binary, if it is a regular file (``FileNotRead`` if not;
    ``FileNotFoundError`` or another ``OSError`` if it cannot be opened).

    The check is made on the opened file (``fstat``), so the file read is the file checked, and
    opening does not wait for a FIFO's writer: a FIFO, a device (``/dev/zero`` never ends) or a
    directory is refused before a byte is read. (Here because ``engine/base`` has no module for
    reading files yet; ``engine.ops.tabular`` uses it too.)
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileNotRead(path, "不是普通文件（是目录、设备或管道），不予读取 / not a regular file (a directory, "
                                    "a device or a pipe), so it is not read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def too_large(path: str | FilePath, size: int, limit: int) -> FileNotRead:
    """The refusal of a file of ``size`` bytes, over its ``limit``."""
    return FileNotRead(path, f"文件过大（{size:,} 字节），上限 {_size(limit)} / the file is too large ({size:,} "
                             f"bytes): at most {_size(limit)}")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def read_text_file(path: str | FilePath, limit: int = MAX_YAML_BYTES) -> str:
    """The UTF-8 text of ``path``, read only if it is a regular file of at most ``limit`` bytes
    (``FileNotRead`` otherwise); ``OSError`` and ``UnicodeDecodeError`` as ``Path.read_text``."""
    with open_regular(path) as file:
        size = os.fstat(file.fileno()).st_size
        if size > limit:
            raise too_large(path, size, limit)
        data = file.read(limit + 1)  # it may have grown since
    if len(data) > limit:
        raise too_large(path, len(data), limit)
    return data.decode("utf-8")


class _TooDeep(yaml.MarkedYAMLError):
    """The node being composed lies deeper than ``MAX_DEPTH``."""


class _DepthLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a node nested deeper than ``MAX_DEPTH`` before composing it
    (composing is recursive: the depth is counted on the way down)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(problem=f"nested more than {MAX_DEPTH} levels deep",
                               problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_yaml(text: str, file: str) -> Located:
    """Parse ``text``; syntax errors, forbidden constructs and a text beyond the limits
    (``MAX_YAML_BYTES``, ``MAX_DEPTH``) go to ``.problems``."""
    out = Located(file)
    if len(text) > MAX_YAML_BYTES:  # characters: never more than the bytes read_text_file allows
        out.problems.append(Problem(file, 1, 1, f"文件过大（{len(text):,} 个字符），上限 {_size(MAX_YAML_BYTES)} / "
                                                f"the file is too large ({len(text):,} characters): at most "
                                                f"{_size(MAX_YAML_BYTES)}"))
        return out
    try:
        root = yaml.compose(text, Loader=_DepthLoader)
    except _TooDeep as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        out.problems.append(Problem(file, line, col, f"嵌套超过 {MAX_DEPTH} 层 / nested more than {MAX_DEPTH} "
                                                     "levels deep: flatten the structure"))
        return out
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
