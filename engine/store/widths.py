"""The width of a text column, so a value is checked against it before it is written.

SQLite keeps a 5 000-character name in a VARCHAR(50) column and PostgreSQL refuses it with a
driver error: checking the width first gives both the same clear refusal."""

from __future__ import annotations

from typing import Any


def width(attribute: Any) -> int:
    """The declared length of a mapped ``String(n)`` column, e.g. ``width(Official.name)``."""
    return int(attribute.property.columns[0].type.length)
