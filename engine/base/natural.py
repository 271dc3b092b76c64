"""Natural order of organization codes and case references: digit runs compare as numbers.

Text order puts ``T1-10`` before ``T1-2`` and ``2014-1-10000`` before ``2014-1-9999``; an
official reading a list expects 2 before 10. ``natural_key`` turns a code or reference into a
string whose plain (code point) order is the natural one, so it can be computed once, stored
in a ``sort_key`` column and ordered by along an index; Python sorts a list in memory with the
same function. One function, used everywhere a list is shown or exported.

How: each run of ASCII digits becomes its length (two digits) followed by the digits without
their leading zeros, so a shorter number sorts first and numbers of one length compare digit
by digit (``7`` → ``017``, ``10`` → ``0210``). The text itself follows a separator below any
character a code may hold, so codes that differ only in leading zeros (``T01``, ``T1``) are
still told apart, in text order. The database compares these keys by code point: the columns
are declared ``COLLATE "C"`` on PostgreSQL, whose default collation may ignore punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# Below every character a code or a reference may hold (they refuse control characters):
# between a key and its text, and between the levels of a hierarchy key.
SEPARATOR = "\x01"
_DIGIT_RUNS = re.compile(r"([0-9]+)")
# A run's length as two digits; codes are at most 64 characters, references 40 (a longer run
# says 99: such runs compare among themselves as text).
_LENGTHS = [f"{n:02d}" for n in range(100)]


def natural_key(text: str) -> str:
    """The key whose plain order is the natural order of ``text`` (``T1-2`` < ``T1-10`` < ``T02``)."""
    parts = _DIGIT_RUNS.split(text)  # text, digits, text, …: a loop, not a callback per run (import speed)
    for i in range(1, len(parts), 2):
        digits = parts[i].lstrip("0")
        parts[i] = _LENGTHS[min(len(digits), 99)] + digits
    parts += (SEPARATOR, text)
    return "".join(parts)


def hierarchy_key(parent_key: str | None, code: str) -> str:
    """An organization's ``sort_key``: its superior's key, then its own code's natural key.

    Ordered by it, a list shows each organization before those under it and the
    organizations under one superior in the natural order of their codes (the county, then
    ``T1``, ``T1-2``, ``T1-10``, then ``T02`` …), whatever order they were imported in.
    A superior's key is a prefix of each of its descendants', and the separator sorts below
    any character of a code, so one superior's subtree is never split by another's."""
    own = natural_key(code)
    return own if parent_key is None else parent_key + SEPARATOR + own


def natural_sorted(items: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """``items`` in the natural order of their text (or of ``key(item)``): for lists already in
    memory, such as the references a spot-check draw recorded."""
    text = key or str
    return sorted(items, key=lambda item: natural_key(text(item)))
