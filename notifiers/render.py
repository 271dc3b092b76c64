"""Notices from Jinja templates, rendered in a sandbox where an undefined variable is an error.

A template's first non-empty line is the notice's title; the rest is its body. Every
notice gets the same context shape (``workflow``, ``case``, ``transition``, ``deadline``,
``now``, ``actor``), with ``None`` where a part does not apply, so checking a template
against ``SAMPLE_CONTEXT`` when the workflow is loaded catches misspelt variables before
a notice is due at 3 a.m.

Every render also runs within a budget (``Budget``): loop steps, the size of every value a
template makes, the digits of its numbers, the nesting of its values and calls, the notice's
length and the wall-clock time. A notice is rendered inside the transaction of the command or
daemon tick that causes it, so a template that ran for ever would hold the database's write
lock for ever; over its budget, a render stops with a ``NoticeTemplateError`` at the
template's line instead. ``check`` renders each template against variants of the sample too,
so that a budget broken only in a branch the sample does not take is found by
``rectify workflow check`` rather than by the daemon.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import re
import string
import time
import types
from collections import abc
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import cache, cached_property, update_wrapper, wraps
from typing import TYPE_CHECKING, Any, cast

from engine.base.errors import BadInput

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment


@dataclass(frozen=True)
class RenderedNotice:
    template: str
    template_hash: str
    title: str
    body: str
    # What the notice needed and the record does not hold (``Unrecorded`` values it wrote): a
    # notice that states "主要问题：待补充" is not sent; the outbox holds it (engine.ops.notices).
    missing: tuple[str, ...] = ()


class Unrecorded:
    """A value a notice's context should carry and the record does not hold yet (a case
    listed without its problems). False in ``{% if %}``, so a template can say something else;
    written or joined, it writes a visible mark and the render reports it as missing."""

    __slots__ = ("label",)

    def __init__(self, label: str):
        self.label = label

    def __bool__(self) -> bool:
        return False

    def _mark(self) -> str:
        run = _RUN.get()
        if run is not None and self.label not in run.missing:
            run.missing.append(self.label)
        return f"【待补充：{self.label}】"

    def __str__(self) -> str:
        return self._mark()

    def __iter__(self) -> Iterator[str]:
        yield self._mark()

    def __repr__(self) -> str:
        return f"Unrecorded({self.label!r})"


class SampleFacts(dict):
    """``case.facts`` of the sample context: any fact reads "样例". Which names a template may
    use is the workflow's to say: engine.spec.validate checks ``case.facts.NAME`` against it."""

    def __missing__(self, key: str) -> str:
        return "样例"


class NoticeTemplateError(BadInput):
    """A notice template cannot be rendered (``TEMPLATE:LINE: message``): exit 2, the fix is in
    the template the administrators wrote. The workflow check reports it as a problem of the
    workflow; a notice that fails only on a case's data fails its timer with this message.
    ``over_budget`` says the template went over its render budget (whatever its data: a
    problem of the template itself, not of one use of it)."""

    def __init__(self, template: str, line: int, message: str, over_budget: bool = False, timed_out: bool = False):
        self.template, self.line, self.message, self.over_budget = template, line, message, over_budget
        self.timed_out = timed_out  # over the time budget only: a busy machine can cause it
        super().__init__(f"{template}:{line}: {message}")


def template_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# --- the budget of one render ----------------------------------------------------------------
# The shipped notices take well under a millisecond, a few dozen loop steps and about 2 000
# characters; every bound is far above that, and far below what would hold the write lock.

# Wall clock per render, checked at every loop step, operator, filter and call: a fired
# trigger holds the database's write lock this long at worst, and so does a daemon tick.
RENDER_SECONDS = 5.0  # below the 10 s busy timeout other writers wait; far above a busy machine's stalls
# For-loop steps in one render, all loops together (and the longest range()): a bulletin
# lists a county's overdue cases, a few hundred of them.
MAX_LOOP_STEPS = 10_000
# The rendered notice: an official notice is a page or two; this is a bulletin listing a
# thousand cases at a hundred characters each.
MAX_OUTPUT_CHARS = 100_000
# One value a template makes (a string's characters, a list's items and their text), the text
# of a macro or a {% set %} block, and all the text {{ … }} writes in one render: ten times
# the notice, so intermediate work has room; copying that much takes a few milliseconds.
MAX_VALUE_SIZE = 1_000_000
# The digits of a number a template computes: counts, days and percentages need a few;
# arithmetic on bigger numbers gets slow (999999**99999999 would take hours).
MAX_DIGITS = 100
# Calls nested in calls (a macro calling itself) and lists nested in lists: a notice needs two
# or three levels; Python's own recursion (repr, ==, hash, the macros' frames) stays far below
# its limit.
MAX_DEPTH = 50

_SCALARS = frozenset({int, float, bool, type(None)})
_STR_FACTOR = 10  # a value's text is at most about ten times its measure ('\U0001f600' for 😀)
# All the operators: each is a deadline check, and an intercepted operator is never folded at
# compile time (unintercepted, "a" * 10**10 is computed while the template compiles).
_BINOPS = frozenset({"+", "-", "*", "/", "//", "%", "**"})


@dataclass(frozen=True)
class Budget:
    """The limits of one render: the module's constants unless a caller (a test) tightens them."""

    seconds: float = RENDER_SECONDS
    loop_steps: int = MAX_LOOP_STEPS
    output_chars: int = MAX_OUTPUT_CHARS
    value_size: int = MAX_VALUE_SIZE
    digits: int = MAX_DIGITS
    depth: int = MAX_DEPTH


class _OverBudget(Exception):
    """A render went over one of its limits; ``NoticeRenderer.render`` reports it at the line
    of the template where it happened."""

    def __init__(self, zh: str, en: str, timed: bool = False):
        self.zh, self.en, self.timed = zh, en, timed  # timed: the clock ran out (depends on the machine)
        super().__init__(f"{zh} / {en}")

    def message(self) -> str:
        return f"模板超出渲染限制：{self.zh} / template exceeds its budget: {self.en}"


def _too_big(budget: Budget) -> _OverBudget:
    n = budget.value_size
    return _OverBudget(f"产生的值超过 {n} 个字符或元素", f"a value of more than {n} characters or items")


class _Run:
    """What one render has used so far, and when its time is up."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.deadline = time.monotonic() + budget.seconds
        self.steps = self.text = self.depth = 0
        self.missing: list[str] = []  # labels of the Unrecorded values written

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            s = self.budget.seconds
            raise _OverBudget(f"渲染超过 {s:g} 秒", f"rendering took more than {s:g} s", timed=True)

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.budget.loop_steps:
            n = self.budget.loop_steps
            raise _OverBudget(f"循环超过 {n} 步", f"more than {n} loop steps")
        self.tick()

    def enter(self) -> None:
        """One call deeper (macros calling macros, a recursive loop recursing); the caller
        takes one off ``depth`` when the call returns."""
        if self.depth >= self.budget.depth:
            n = self.budget.depth
            raise _OverBudget(f"调用嵌套超过 {n} 层", f"calls nested more than {n} deep")
        self.depth += 1

    def write(self, value: object) -> None:
        """Count what a ``{{ … }}`` writes, wherever it goes (the notice, a macro, a block)."""
        self.tick()
        kind = type(value)
        self.text += len(value) if kind is str else 1 if kind in _SCALARS else _size(value, self.budget.value_size)  # type: ignore[arg-type]
        if self.text > self.budget.value_size:
            n = self.budget.value_size
            raise _OverBudget(f"表达式输出的文字超过 {n} 个字符", f"expressions wrote more than {n} characters")


# The render under way in this thread (or task): the sandbox's hooks find their budget here.
_RUN: ContextVar[_Run | None] = ContextVar("notice_render", default=None)


def _tick() -> None:
    run = _RUN.get()
    if run is not None:
        run.tick()


def _counted(iterable: Iterable[Any], run: _Run) -> Iterator[Any]:
    for item in iterable:
        run.step()
        yield item


# --- measuring values ------------------------------------------------------------------------

def _is_namespace(value: object) -> bool:
    cls = type(value)
    return cls.__name__ == "Namespace" and cls.__module__.startswith("jinja2")


def _measure(value: object, cap: int) -> tuple[int, int]:
    """(size, depth) of a value: about how many characters its text takes (a string's length,
    a number's digits, one per item plus the items' own size) and how deeply it nests. A part
    shared by several items counts once per use, as in its text; the walk stops once the size
    passes ``cap``, so measuring never costs much more than ``cap`` steps."""
    size = depth = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack and size <= cap:
        item, level = stack.pop()
        if level > depth:
            depth = level
        kind = type(item)  # the exact types first: this runs for every call a template makes
        if kind is str or kind is bytes:
            size += len(item)  # type: ignore[arg-type]
        elif kind is int:
            size += item.bit_length() // 3 + 1  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            size += len(item) + 1  # type: ignore[arg-type]
            stack.extend([(part, level + 1) for part in item])  # type: ignore[attr-defined]
        elif kind is dict:
            size += len(item) + 1  # type: ignore[arg-type]
            stack.extend([(part, level + 1) for pair in item.items() for part in pair])  # type: ignore[attr-defined]
        else:
            size += _measure_other(item, level, stack)
    return size, depth


def _measure_other(item: object, level: int, stack: list[tuple[object, int]]) -> int:
    """``_measure`` of what is not exactly a str, int, list, tuple or dict: its own size, its
    parts pushed on ``stack``."""
    if isinstance(item, (str, bytes)):
        return len(item)
    if isinstance(item, (bool, float)) or item is None:
        return 1
    if isinstance(item, int):
        return item.bit_length() // 3 + 1
    if isinstance(item, dict):
        stack.extend([(part, level + 1) for pair in item.items() for part in pair])
        return len(item) + 1
    if isinstance(item, (list, tuple, set, frozenset, abc.KeysView, abc.ValuesView, abc.ItemsView)):
        stack.extend([(part, level + 1) for part in item])
        return len(item) + 1
    if isinstance(item, range):  # len() overflows past 2**63
        return max(0, (item.stop - item.start + item.step - (1 if item.step > 0 else -1)) // item.step)
    if _is_namespace(item):
        stack.append((object.__getattribute__(item, "_Namespace__attrs"), level))
        return 0
    return 1  # a macro, a loop, an undefined…: a short text, and nothing a template can grow


def _size(value: object, cap: int) -> int:
    return _measure(value, cap)[0]


def _check_size(size: int, budget: Budget) -> None:
    if size > budget.value_size:
        raise _too_big(budget)


def _check_number(value: int, budget: Budget) -> None:
    if value.bit_length() > 3 * budget.digits and abs(value) >= 10 ** budget.digits:
        raise _OverBudget(f"数字超过 {budget.digits} 位", f"a number of more than {budget.digits} digits")


def _check_value(value: object, budget: Budget) -> None:
    """Refuse a value a template made that is over the budget: a string, list or dict too big,
    a number with too many digits, lists nested too deeply."""
    if isinstance(value, str):
        if len(value) > budget.value_size:
            raise _too_big(budget)
    elif isinstance(value, int):
        _check_number(value, budget)
    elif not (isinstance(value, float) or value is None):
        size, depth = _measure(value, budget.value_size)
        _check_size(size, budget)
        if depth > budget.depth:
            raise _OverBudget(f"值嵌套超过 {budget.depth} 层", f"a value nested more than {budget.depth} deep")


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    """The arguments of a call, together one value a template makes (a macro's varargs)."""
    values = (*args, *kwargs.values()) if kwargs else args
    if all(type(value) in _SCALARS or type(value) is str for value in values):  # the usual case, quickly
        _check_size(sum(len(value) for value in values if type(value) is str), budget)
    else:
        _check_value((args, kwargs), budget)


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _length(value: object) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


# --- what an operator, a filter or a method would make, before it makes it --------------------

def _check_binop(op: str, left: Any, right: Any, budget: Budget) -> None:
    sequences = (str, bytes, list, tuple)
    if op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if right > 4 * budget.digits or right * math.log10(abs(left)) > budget.digits:
            raise _OverBudget(f"幂的结果超过 {budget.digits} 位", f"a power of more than {budget.digits} digits")
    elif op == "*" and isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > math.log2(10) * budget.digits + 2:
            raise _OverBudget(f"乘积超过 {budget.digits} 位", f"a product of more than {budget.digits} digits")
    elif op == "*":
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, sequences) and isinstance(times, int) and times > 0:
            _check_size(_size(seq, budget.value_size // times + 1) * times, budget)
    elif op == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        _check_size(_size(left, budget.value_size) + _size(right, budget.value_size), budget)
    elif op == "%" and isinstance(left, (str, bytes)):
        _check_size(_percent_size(left, right, budget.value_size), budget)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.S)


def _spec_number(digits: str | None) -> int:
    return int(digits) if digits and len(digits) <= 9 else (10**9 if digits else 0)


def _percent_size(fmt: str | bytes, args: object, cap: int) -> int:
    """About how long ``fmt % args`` is: each field may write any argument, padded."""
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    fields = widths = 0
    for match in _PERCENT_SPEC.finditer(text):
        if match.group(3) == "%":
            continue
        fields += 1
        for number in match.group(1, 2):
            if number == "*":
                raise _OverBudget("格式不能用 * 指定宽度或精度", "a '*' width or precision in a format")
            widths += _spec_number(number)
    return len(text) + widths + fields * (_STR_FACTOR * _size(args, cap) + 32)


def _brace_format_size(fmt: str, args: object, cap: int) -> int:
    """About how long ``fmt.format(...)`` is: each field may write any argument, padded."""
    fields = widths = 0
    for _, field, spec, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        fields += 1
        if spec and "{" in spec:
            raise _OverBudget("格式说明中不能嵌套字段", "a replacement field nested in a format spec")
        widths += sum(_spec_number(number) for number in re.findall(r"\d+", spec or ""))
    return len(fmt) + widths + fields * (_STR_FACTOR * _size(args, cap) + 32)


def _replaced_size(text: Any, old: Any, new: Any, count: Any) -> int:
    try:
        found = text.count(old)
    except (TypeError, AttributeError):  # the real call will say what is wrong
        return _length(text)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(_length(new) - _length(old), 0)


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _method_size(owner: object, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], cap: int) -> int | None:
    """What a method of a string (or int) that can grow its result would make; None for others."""
    if isinstance(owner, int) and name == "to_bytes":
        return _int(_arg(args, kwargs, 0, "length", 1))
    if not isinstance(owner, (str, bytes)):
        return None
    if name in ("ljust", "rjust", "center", "zfill"):
        return max(len(owner), _int(_arg(args, kwargs, 0, "width", 0)))
    if name == "expandtabs":
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return len(owner) + tabs * _int(_arg(args, kwargs, 0, "tabsize", 8))
    if name == "replace":
        return _replaced_size(owner, _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new"),
                              _arg(args, kwargs, 2, "count", -1))
    if name == "translate":
        table = _arg(args, kwargs, 0, "table")
        longest = max((len(v) for v in table.values() if isinstance(v, (str, bytes))), default=1) \
            if isinstance(table, dict) else 1
        return len(owner) * max(longest, 1)
    if name == "join":
        items = _arg(args, kwargs, 0, "iterable", ())
        return _size(items, cap) + len(owner) * max(_length(items) - 1, 0)
    return None


def _sum_size(a: dict[str, Any], cap: int) -> int:
    if not isinstance(a["start"], (int, float)):  # adding lists one by one is quadratic
        raise _OverBudget("sum 只能加数字", "sum of something other than numbers (use join, or + for two lists)")
    return 0


def _json_size(a: dict[str, Any], cap: int) -> int:
    indent = a["indent"]
    size, depth = _measure(a["value"], cap)
    return _STR_FACTOR * size * (1 + (len(indent) if isinstance(indent, str) else _int(indent)) * depth)


def _pprint_size(a: dict[str, Any], cap: int) -> int:
    size, depth = _measure(a["value"], cap)
    return _STR_FACTOR * size * (1 + depth)


def _wordwrap_size(a: dict[str, Any], cap: int) -> int:
    text = str(a["s"])
    lines = len(text) // max(_int(a["width"]), 1) + text.count("\n") + 1
    return len(text) + lines * len(str(a["wrapstring"] or "\n"))


def _urlize_size(a: dict[str, Any], cap: int) -> int:
    text = str(a["value"])
    return 3 * len(text) + (len(text.split()) + 1) * (len(str(a["target"] or "")) + len(str(a["rel"] or "")) + 64)


def _indent_size(a: dict[str, Any], cap: int) -> int:
    text, width = str(a["s"]), a["width"]
    return len(text) + (text.count("\n") + 2) * (len(width) if isinstance(width, str) else _int(width))


# The filters whose result can be much bigger than what they are given: what they would make,
# from their bound arguments (names as in jinja2.filters).
_FILTER_SIZES: dict[str, Callable[[dict[str, Any], int], int]] = {
    "center": lambda a, cap: max(_size(a["value"], cap), _int(a["width"])),
    "indent": _indent_size,
    "replace": lambda a, cap: _replaced_size(str(a["s"]), str(a["old"]), str(a["new"]), a["count"]),
    "join": lambda a, cap: _size(a["value"], cap) + len(str(a["d"])) * max(_length(a["value"]) - 1, 0),
    "format": lambda a, cap: _percent_size(str(a["value"]), a["kwargs"] or a["args"], cap),
    "batch": lambda a, cap: _size(a["value"], cap) + (_int(a["linecount"]) if a["fill_with"] is not None else 0),
    "slice": lambda a, cap: _size(a["value"], cap) + _int(a["slices"]),
    "sum": _sum_size,
    "wordwrap": _wordwrap_size,
    "urlize": _urlize_size,
    "tojson": _json_size,
    "pprint": _pprint_size,
}


def _binder(func: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Arguments by name, defaults filled in, as ``inspect.Signature.bind`` (ten times faster,
    without its checks: the call itself refuses wrong arguments)."""
    names: list[str] = []
    defaults: dict[str, Any] = {}
    rest = extra = None
    for param in inspect.signature(func).parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            rest = param.name
        elif param.kind is param.VAR_KEYWORD:
            extra = param.name
        else:
            names.append(param.name)
        if param.default is not param.empty:
            defaults[param.name] = param.default

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        arguments = {**defaults, **dict(zip(names, args, strict=False))}
        if rest:
            arguments[rest] = args[len(names):]
        if extra:
            arguments[extra] = kwargs
        else:
            arguments.update(kwargs)
        return arguments

    return bind


def _guard_filter(name: str, func: Callable[..., Any], budget: Budget) -> Callable[..., Any]:
    """``func`` checking its budget: the deadline, what it would make, what it made."""
    size = _FILTER_SIZES.get(name)
    bind = _binder(func) if size is not None else None  # the sync function's signature
    value = int(getattr(func, "jinja_pass_arg", None) is not None)  # where jinja passes the value
    # An async variant of a filter that takes no context is passed the eval context all the
    # same (and drops it): its signature does not show that first argument.
    wrapped = getattr(func, "__wrapped__", None)
    lead = int(value and wrapped is not None and getattr(wrapped, "jinja_pass_arg", None) is None)

    @wraps(func)  # keeps jinja's pass_context / pass_eval_context mark
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if size is not None and bind is not None:
            if len(args) > value and isinstance(args[value], Iterator):  # measured, then used
                args = (*args[:value], list(args[value]), *args[value + 1:])
            _check_size(size(bind(args[lead:], kwargs), budget.value_size), budget)
        result = func(*args, **kwargs)
        _check_value(result, budget)
        return result

    return guarded


# --- the sandbox -----------------------------------------------------------------------------

@cache
def _environment_class() -> Callable[..., ImmutableSandboxedEnvironment]:
    """The sandbox with its budget, made on the first render: Jinja is imported only then
    (most commands render nothing, tests/test_startup.py)."""
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.environment import Template
    from jinja2.runtime import Context, LoopContext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import generate_lorem_ipsum

    class BudgetCodeGenerator(CodeGenerator):
        """Compiles loops to count their steps, and lists, dicts, tuples and ``~`` to have their
        size checked: with the operators, filters and calls, every value a template makes."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.loop_iterables: set[int] = set()  # ids of For.iter nodes (the tree keeps them alive)

        def visit_For(self, node: nodes.For, frame: Frame) -> None:
            self.loop_iterables.add(id(node.iter))  # Jinja allows no node types of our own
            super().visit_For(node, frame)

        def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
            if id(node) not in self.loop_iterables:
                return super().visit(node, *args, **kwargs)
            self.write("environment.budget_steps(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None

        def _checked(self, visit: Callable[[Any, Frame], None], node: nodes.Expr, frame: Frame) -> None:
            self.write("environment.budget_value(")
            visit(node, frame)
            self.write(")")

        def visit_List(self, node: nodes.List, frame: Frame) -> None:
            self._checked(super().visit_List, node, frame)

        def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
            self._checked(super().visit_Dict, node, frame)

        def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
            if node.ctx == "load":  # not the target of {% for a, b in … %}
                self._checked(super().visit_Tuple, node, frame)
            else:
                super().visit_Tuple(node, frame)

        def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
            self._checked(super().visit_Concat, node, frame)

    class BudgetEnvironment(ImmutableSandboxedEnvironment):
        code_generator_class = BudgetCodeGenerator
        intercepted_binops = _BINOPS

        def __init__(self, budget: Budget, **options: Any):
            super().__init__(finalize=self.budget_write, **options)
            self.budget = budget
            self.globals["range"] = self.budget_range
            self.globals["lipsum"] = self.budget_lipsum
            self.filters = {name: _guard_filter(name, func, budget) for name, func in self.filters.items()}

        # hooks of the compiled code (BudgetCodeGenerator) and of the finalize option
        def budget_steps(self, iterable: Iterable[Any]) -> Iterable[Any]:
            run = _RUN.get()
            return iterable if run is None else _counted(iterable, run)

        def budget_value(self, value: Any) -> Any:
            _tick()
            _check_value(value, self.budget)
            return value

        def budget_write(self, value: Any) -> Any:
            run = _RUN.get()
            if run is not None:
                run.write(value)
            return value

        def concat(self, parts: Iterable[str]) -> str:  # a macro's or block's text
            parts = list(parts)
            if sum(map(len, parts)) > self.budget.value_size:
                n = self.budget.value_size
                raise _OverBudget(f"宏或区块的文字超过 {n} 个字符", f"a macro or block of more than {n} characters")
            return "".join(parts)

        # globals that would otherwise make as much as they are asked for
        def budget_range(self, *args: int) -> range:
            numbers = range(*args)
            if _size(numbers, self.budget.loop_steps) > self.budget.loop_steps:
                n = self.budget.loop_steps
                raise _OverBudget(f"range() 超过 {n} 项", f"range() of more than {n} items")
            return numbers

        def budget_lipsum(self, *args: Any, **kwargs: Any) -> str:
            bound = inspect.signature(generate_lorem_ipsum).bind(*args, **kwargs)
            bound.apply_defaults()
            if _int(bound.arguments["n"]) * _int(bound.arguments["max"]) > self.budget.loop_steps:
                n = self.budget.loop_steps
                raise _OverBudget(f"lipsum() 超过 {n} 个词", f"lipsum() of more than {n} words")
            return generate_lorem_ipsum(*bound.args, **bound.kwargs)

        # the sandbox's hooks
        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            _tick()
            _check_binop(operator, left, right, self.budget)
            result = super().call_binop(context, operator, left, right)
            if isinstance(result, int):
                _check_number(result, self.budget)
            return result

        def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
            run = _RUN.get()
            args = self._call_arguments(obj, args, kwargs)
            if run is None:
                result = super().call(context, obj, *args, **kwargs)
            else:
                run.enter()
                try:
                    result = super().call(context, obj, *args, **kwargs)
                finally:
                    run.depth -= 1
            _check_value(result, self.budget)
            return result

        def _call_arguments(self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            """The arguments of a call, checked (and a generator a method measures made a list)."""
            _tick()
            if isinstance(obj, LoopContext) and args:  # loop(children) in a recursive loop
                args = (self.budget_steps(args[0]), *args[1:])
            if isinstance(obj, (types.BuiltinMethodType, types.MethodType)):
                if obj.__name__ == "join" and args and isinstance(args[0], Iterator):
                    args = (list(args[0]), *args[1:])
                size = _method_size(obj.__self__, obj.__name__, args, kwargs, self.budget.value_size)
                if size is not None:
                    _check_size(size, self.budget)
            _check_arguments(args, kwargs, self.budget)
            return args

        def getattr(self, obj: Any, attribute: str) -> Any:
            _tick()
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            _tick()
            return super().getitem(obj, argument)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            sandboxed = super().wrap_str_format(value)
            if sandboxed is None:
                return None
            fmt, is_map, budget = value.__self__, value.__name__ == "format_map", self.budget

            def checked(*args: Any, **kwargs: Any) -> str:
                _check_size(_brace_format_size(fmt, args if is_map else (args, kwargs), budget.value_size), budget)
                return sandboxed(*args, **kwargs)

            return update_wrapper(checked, value)

        def get_template(self, name: Any, parent: str | None = None, globals: Any = None) -> Template:
            _tick()  # {% include %}, {% import %}, {% extends %}
            return super().get_template(name, parent, globals)

        def select_template(self, names: Any, parent: str | None = None, globals: Any = None) -> Template:
            _tick()
            return super().select_template(names, parent, globals)

    return BudgetEnvironment


class NoticeRenderer:
    """Renders the notice templates of one deployed workflow version, each within ``budget``.

    Jinja is imported and the environment built on the first render or check, not when
    the workflow is compiled: most commands (``case show``, ``case list``) render nothing.
    """

    def __init__(self, sources: Mapping[str, str], budget: Budget | None = None):
        self.sources = dict(sources)
        self.budget = budget or Budget()
        self._names: dict[str, tuple[nodes.Template, set[str]]] = {}  # _check_names, once a template

    @cached_property
    def _env(self) -> ImmutableSandboxedEnvironment:
        from jinja2 import DictLoader, StrictUndefined

        return _environment_class()(
            self.budget, loader=DictLoader(self.sources), undefined=StrictUndefined,
            autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedNotice:
        """The notice, or a NoticeTemplateError at the template's line: whatever goes wrong
        inside the template (its budget included) never escapes as another exception."""
        if name not in self.sources:
            raise NoticeTemplateError(name, 1, f"no template '{name}'; known: {', '.join(sorted(self.sources))}")
        run = _Run(self.budget)
        token = _RUN.set(run)
        try:
            text = self._text(name, context)
        except Exception as exc:  # the template's fault, whatever it raised
            raise _template_error(name, exc) from exc
        finally:
            _RUN.reset(token)
        title, _, body = text.strip().partition("\n")
        return RenderedNotice(name, template_hash(self.sources[name]), title.strip(), body.strip() + "\n",
                              tuple(run.missing))

    def _text(self, name: str, context: Mapping[str, Any]) -> str:
        stream = cast("Generator[str, None, None]", self._env.get_template(name).generate(**context))
        chunks: list[str] = []
        length = 0
        for chunk in stream:
            length += len(chunk)
            if length > self.budget.output_chars:
                n = self.budget.output_chars
                over = _OverBudget(f"通知超过 {n} 个字符", f"the notice is longer than {n} characters")
                stream.throw(over)  # raised where the template wrote it, so its line is reported
                raise over
            chunks.append(chunk)
        return "".join(chunks)

    def check(self, name: str, context: Mapping[str, Any] | None = None) -> NoticeTemplateError | None:
        """Find unknown variables (in every branch), render against a sample context, then
        against variants of it, so that a branch the sample does not take is rendered too.

        ``context`` is the shape a particular use gets (e.g. ``deadline`` is None for a
        transition's notice); without it, every part is filled in. A variant may be a shape
        the template never gets (a reminder without its deadline): only a variant that goes
        over the budget is reported, with what the variant changed.
        """
        context = SAMPLE_CONTEXT if context is None else context
        if name not in self.sources:
            return NoticeTemplateError(name, 1, f"no template '{name}'; known: {', '.join(sorted(self.sources))}")
        try:
            if name not in self._names:
                self._names[name] = self._check_names(name)
            tree, names = self._names[name]
            try:
                self.render(name, context)
            except NoticeTemplateError as exc:
                if not exc.timed_out:
                    raise
                # The clock, unlike steps and sizes, depends on the machine: a check on a busy
                # one gets a second, longer try before a template is called too slow.
                budget, self.budget = self.budget, replace(self.budget, seconds=self.budget.seconds * 5)
                try:
                    self.render(name, context)
                finally:
                    self.budget = budget
            self._check_branches(name, _variants(tree, names, context))
        except NoticeTemplateError as exc:
            return exc
        return None

    def _check_branches(self, name: str, variants: Iterable[tuple[str, dict[str, Any]]]) -> None:
        started = time.monotonic()
        for label, variant in variants:
            try:
                self.render(name, variant)
            except NoticeTemplateError as exc:
                if exc.over_budget and not exc.timed_out:  # a variant's clock is the machine's
                    raise NoticeTemplateError(name, exc.line, f"{exc.message}（样例数据 {label} / with the sample's "
                                                              f"{label}）", over_budget=True) from exc
            if time.monotonic() - started > self.budget.seconds:
                return  # best effort: a slow template is not checked for ever

    def _check_names(self, name: str) -> tuple[nodes.Template, set[str]]:
        from jinja2 import TemplateSyntaxError, meta, nodes

        # Rendering only walks the branches the sample takes; the syntax tree shows them all.
        try:
            tree = self._env.parse(self.sources[name])
            undeclared = meta.find_undeclared_variables(tree)
        except TemplateSyntaxError as exc:
            raise NoticeTemplateError(name, exc.lineno or 1, f"模板语法错误 / template syntax error: {exc.message}") from exc
        except Exception as exc:  # a number too long for Python, brackets nested too deep for the parser
            raise NoticeTemplateError(name, 1, f"模板无法解析 / template cannot be parsed: "
                                               f"{type(exc).__name__}: {exc}") from exc
        for var in sorted(undeclared):
            if var not in SAMPLE_CONTEXT:
                line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == var), 1)
                raise NoticeTemplateError(name, line, f"unknown variable '{var}'; known: {', '.join(SAMPLE_CONTEXT)}")
        for node in tree.find_all(nodes.Getattr):
            if isinstance(node.node, nodes.Name) and isinstance(SAMPLE_CONTEXT.get(node.node.name), dict):
                known = SAMPLE_CONTEXT[node.node.name]
                if node.attr not in known:
                    raise NoticeTemplateError(name, node.lineno, f"'{node.node.name}' has no field '{node.attr}'; "
                                                                 f"fields: {', '.join(known)}")
        return tree, undeclared


def _template_error(name: str, exc: Exception) -> NoticeTemplateError:
    from jinja2 import TemplateError, TemplateSyntaxError

    if isinstance(exc, _OverBudget):
        return NoticeTemplateError(name, _error_line(exc), exc.message(), over_budget=True, timed_out=exc.timed)
    if isinstance(exc, TemplateSyntaxError):
        return NoticeTemplateError(name, exc.lineno or 1, f"模板语法错误 / template syntax error: {exc.message}")
    if isinstance(exc, TemplateError):
        return NoticeTemplateError(name, _error_line(exc), f"模板渲染出错 / template error: {exc}")
    if isinstance(exc, RecursionError):
        return NoticeTemplateError(name, _error_line(exc), "模板嵌套过深（括号过多，或宏、include 调用自身） / template "
                                                           "nested too deeply (brackets, or a macro or include calling itself)")
    return NoticeTemplateError(name, _error_line(exc), f"模板渲染出错 / template error: {type(exc).__name__}: {exc}")


def _error_line(exc: BaseException) -> int:
    tb = exc.__traceback__
    line = 1
    while tb is not None:  # the innermost frame compiled from the template carries its line
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# The sample the workflow check renders every template against. ``rectify notices preview``
# shows its case and its bulletin figures too (engine.ops.notice_preview), so they are realistic:
# the sample county's figures in the third monthly bulletin (May) agree with one another (the
# states' counts add up to the total; the one overdue case missed its screening deadline).
SAMPLE_BULLETIN_FIGURES: dict[str, Any] = {
    "total": 16,
    "by_state": [{"state": "screening", "label": "排查建账", "count": 2, "final": False},
                 {"state": "rectifying", "label": "整顿转化", "count": 14, "final": False}],
    "finished": 0,
    # Cumulative: every case ever sent back to rectify, split by where it stands now.
    "re_rectified": {"total": 0, "finished": 0, "ongoing": 0},
    "overdue": [{"ref": "2014-1-0007", "organization": "××镇××村党支部", "township": "××镇党委",
                 "state_label": "排查建账", "due": "3月16日", "overdue_days": 66}],
    # Every survey concluded so far (each round's); none yet in May.
    "surveys": {"count": 0, "passed": 0, "failed": 0, "threshold": "70%", "average": "", "distribution": []},
    # What the townships owed so far (engine.ops.duties): done + late + missing = due.
    "duties": {"due": 4, "done": 2, "late": 1, "missing": 1,
               "units_missing": [{"unit": "××乡党委", "owed": ["排查情况汇总表（3月16日）"]}]},
}

SAMPLE_CONTEXT: dict[str, Any] = {
    "workflow": {"name": "backward_orgs", "title": "整顿后进基层党组织专项整治", "year": 2014,
                 "issuer": "中共××县委组织部"},
    "case": {
        "ref": "2014-1-0001", "organization": "××镇××村党支部", "org_code": "T01-001",
        "township": "××镇党委", "superior": "××镇党委", "state": "rectifying", "state_label": "整顿转化",
        "round": 1, "key_target": True, "weak_and_lax": False,
        "problems": ["班子配备不齐、书记缺职、工作停滞"], "flags": ["换届选举拉票贿选问题突出"],
        "secretary": "张三", "secretary_phone": "13800000000", "kind": "village",
        # Every declared fact as a notice states it (是/否, 2014年3月16日…); an unrecorded one holds
        # the notice that writes it (engine.ops.notices.fact_view).
        "facts": SampleFacts(),
        # The acceptance checks the case went through this round (engine.ops.notice_facts).
        "checks": ["基层党组织自查", "上级党组织检查", "群众满意度测评"],
    },
    "transition": {"trigger": "confirm", "label": "确认列为整顿对象", "source": "screening",
                   "source_label": "排查建账", "dest": "rectifying", "dest_label": "整顿转化", "note": "",
                   "next_round": 2,
                   "grounds": [{"rule": "satisfaction_passes", "label": "群众满意度不低于70%", "negated": True,
                                "reason": "满意度 63.0%（29/46），阈值 70%", "outcome": "fail"}],
                   "satisfaction": {"respondents": 46, "satisfied": 29, "ratio": "63%", "threshold": "70%",
                                    "passed": False},
                   "findings": [{"fact": "spot_check_opinion", "label": "县委组织部抽查意见",
                                 "value": "整改方案未向群众公布"}]},
    "deadline": {"kind": "reminder", "due": "11月30日", "due_date": "2014年11月30日", "label": "整顿转化",
                 "offset": "7 days", "days": 7, "notice_label": "", "as_of": "11月23日", "days_left": 7,
                 "overdue_days": 0},
    "recurring": {"label": "每两个月报送整顿建设情况", "occurrence": 2, "due": "5月21日",
                  "missed": ["7月21日", "9月21日"]},
    "now": "2014年3月20日",
    "today": "3月20日",
    # A document's kind (通知, 通报, 督办通知; "" for a message), its number (发文字号), the unit
    # it is addressed to (主送) and the roles it is copied to (抄送): engine.ops.documents.
    "document": {"kind": "通知", "number": "×组通〔2014〕12号", "to": "××镇党委", "cc": ["联系领导"]},
    "actor": "县委组织部 李四",
    "bulletin": {"period": "2014年5月", "number": 3, "as_of": "5月21日", **SAMPLE_BULLETIN_FIGURES},
    # What a unit owes (engine.ops.duties): a duty's reminder or escalation speaks of it, with its
    # date in ``deadline``; no case.
    "duty": {"name": "progress_report", "label": "整顿建设情况报告", "unit": "××镇党委", "occurrence": 2,
             "occurrences": 4, "returned": False, "reason": ""},
    # One problem of the case's list (engine.ops.problem_timers): its reminder or escalation
    # speaks of it, with its deadline in ``deadline``.
    "problem": {"number": 2, "category": "组织制度形同虚设、不开展活动", "description": "全年未召开党员大会",
                "measures": "制定“三会一课”计划，每季度召开党员大会", "responsible": "张三",
                "deadline": "2014年6月30日"},
    # 回头看 (engine.ops.look_back): when the case was accepted and how long ago.
    "look_back": {"after": "6个月", "accepted": "2014年12月6日", "fact": "look_back_sound",
                  "fact_label": "回头看：党组织仍然健全"},
}

NOTICE_KINDS = ("transition", "deadline", "recurring", "bulletin", "duty", "problem", "look_back")


def sample_context(kind: str) -> dict[str, Any]:
    """The sample context with the parts a notice of ``kind`` does not get set to None.

    Case notices have no ``bulletin``; the county bulletin has no ``case``.
    """
    context = dict(SAMPLE_CONTEXT)
    if kind != "transition":
        context["transition"] = None
    if kind != "deadline":
        context["deadline"] = None
    if kind != "recurring":
        context["recurring"] = None
    if kind != "bulletin":
        context["bulletin"] = None
    else:
        context["case"] = None
    if kind != "duty":
        context["duty"] = None
    else:  # a unit's duty: no case; its date is in ``deadline``
        context["case"] = None
        context["deadline"] = dict(SAMPLE_CONTEXT["deadline"], label="整顿建设情况报告")
    if kind != "problem":
        context["problem"] = None
    else:  # a problem of the case's list: its own deadline in ``deadline``
        context["deadline"] = dict(SAMPLE_CONTEXT["deadline"], label="第2项问题整改", due="6月30日",
                                   due_date="2014年6月30日", as_of="6月23日")
    if kind != "look_back":
        context["look_back"] = None
    return context


def _alternates(value: Any) -> list[Any]:
    """Other values a field of the context may have, to take the other side of an ``{% if %}``."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [other for other in (0, value + 1) if other != value]
    if isinstance(value, float):
        return [other for other in (0.0, 1.0) if other != value]
    if value is None:  # the one such field today is a ratio (bulletin.average_satisfaction)
        return [0.5, "样例"]
    if isinstance(value, str):
        return [""] if value else ["样例"]
    if isinstance(value, list) and value:
        return [[]]
    return []


def _variants(tree: nodes.Template, names: set[str], context: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what changed, context): ``context`` with one part or field the template uses changed at
    a time, then all those fields at once, and (for the general check) each kind's shape."""
    from jinja2 import nodes

    base = dict(context)
    for part in sorted(names & set(base)):
        value = base[part]
        if isinstance(value, dict):
            yield f"{part}=None", {**base, part: None}
        elif value is None and isinstance(SAMPLE_CONTEXT.get(part), dict):
            yield f"{part}≠None", {**base, part: SAMPLE_CONTEXT[part]}
        else:
            yield from ((f"{part}={alt!r}", {**base, part: alt}) for alt in _alternates(value))
    fields = {(n.node.name, n.attr) for n in tree.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name)}
    fields |= {(n.node.name, n.arg.value) for n in tree.find_all(nodes.Getitem)
               if isinstance(n.node, nodes.Name) and isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, str)}
    changed: dict[str, dict[str, Any]] = {}
    for part, field in sorted(fields):
        holder = base.get(part)
        if not isinstance(holder, dict) or field not in holder:
            continue
        for alt in _alternates(holder[field]):
            yield f"{part}.{field}={alt!r}", {**base, part: {**holder, field: alt}}
            changed.setdefault(part, {}).setdefault(field, alt)
    if sum(map(len, changed.values())) > 1:
        yield "(all of the above)", {**base, **{part: {**base[part], **alts} for part, alts in changed.items()}}
    if context is SAMPLE_CONTEXT:
        yield from ((f"({kind} notice)", sample_context(kind)) for kind in NOTICE_KINDS)
