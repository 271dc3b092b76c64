"""What officials type is data: checked where it comes in, made visible where it goes out.

A name, a code or a title is one line: a line break in an organization's name forged a second
line in every notice title that named it, and a control character made the .docx channel fail
every time ("All strings must be XML compatible"). Notes, measures and opinions may have several
lines and tabs, nothing else below U+0020. Bidirectional overrides and zero-width characters
make a name read as another one (``王强\u202e`` and ``王强``), so names and codes refuse them.

On the way out, ``visible`` turns whatever control characters older rows may still hold into
readable escapes (``\\x1b``), so no value reaches another official's terminal as a command to it
(``\\x1b[2J`` clears the screen, ``\\x1b]0;…\\x07`` retitles the window).
"""

from __future__ import annotations

import re

from engine.base.errors import InvalidValue

# C0 and C1 controls, DEL, and the line and paragraph separators, which terminals and Word
# break lines at.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029"
# Characters that change how the text around them reads without being seen: bidirectional
# marks, embeddings, overrides and isolates, zero-width spaces and joiners, the BOM.
_INVISIBLE = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
_LINE_BAD = re.compile(f"[\t\n\r{_CONTROL}{_INVISIBLE}]")
_TEXT_BAD = re.compile(f"[\r{_CONTROL}{_INVISIBLE}]")
_SHOW = re.compile(f"[\r{_CONTROL}{_INVISIBLE}]")

TEXT_LIMIT = 4000  # characters in a note or a text fact: a page of the ledger, not a file


def _named(char: str) -> str:
    return {"\t": "制表符 (tab)", "\n": "换行 (line break)", "\r": "回车 (carriage return)"}.get(
        char, f"U+{ord(char):04X}")


def one_line(value: str, zh: str, en: str, limit: int) -> str:
    """``value`` without its surrounding spaces, refused if empty, longer than ``limit``
    characters (the column's width), or holding a line break, a control or invisible character."""
    text = value.strip()
    found = _LINE_BAD.search(text)
    if found:
        raise InvalidValue(f"{zh}只能是一行可见文字，不能含有{_named(found.group())} / {en} must be one "
                           f"line of visible text: it contains {_named(found.group())} at character {found.start() + 1}")
    if not text:
        raise InvalidValue(f"{zh}为空 / {en} is empty")
    if len(text) > limit:
        raise InvalidValue(f"{zh}过长：{len(text)} 个字符，最多 {limit} 个 / {en} is too long: "
                           f"{len(text)} characters, at most {limit}")
    return text


def many_lines(value: str, zh: str, en: str, limit: int = TEXT_LIMIT, strip: bool = True) -> str:
    """Text that may span lines (a note, measures, an opinion): line ends made ``\\n``,
    surrounding spaces removed unless ``strip`` is false; refused if longer than ``limit``
    characters or holding a control or invisible character other than tab and line break."""
    text = value.replace("\r\n", "\n")
    text = text.strip() if strip else text
    found = _TEXT_BAD.search(text)
    if found:
        raise InvalidValue(f"{zh}含有不可见的控制字符 {_named(found.group())} / {en} contains the control "
                           f"character {_named(found.group())} at character {found.start() + 1}")
    if len(text) > limit:
        raise InvalidValue(f"{zh}过长：{len(text)} 个字符，最多 {limit} 个 / {en} is too long: "
                           f"{len(text)} characters, at most {limit}")
    return text


def is_one_line(text: str) -> bool:
    """True when ``one_line`` would take ``text`` as it is (a fast check for bulk imports)."""
    return _LINE_BAD.search(text) is None


def line_problem(text: str) -> str | None:
    """What ``one_line`` would refuse in ``text``, in both languages; None if nothing."""
    found = _LINE_BAD.search(text)
    return None if found is None else (f"含有{_named(found.group())} / contains {_named(found.group())} "
                                       f"at character {found.start() + 1}")


def visible(text: str) -> str:
    """``text`` for a terminal: controls (but tab and line break) and invisible characters
    shown as escapes, so they are seen and not obeyed."""
    return _SHOW.sub(lambda m: repr(m.group())[1:-1], text)  # none of them is printable: repr escapes each
