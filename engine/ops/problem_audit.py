"""A case's problem list against its ``problem`` events (``rectify audit verify``).

The list's rows can be changed behind the project's back without touching a hash chain; their
events cannot. Replaying the events (each ``fields`` entry is [old, new], a close or a reopen
sets the status) gives what every row must hold, and any difference is named.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FIELDS = ("category", "description", "measures", "responsible", "deadline", "responsible_person")
STATUS_OF = {"add": "open", "close": "closed", "reopen": "reopened"}


def replayed(events: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """Each problem's number → what its events say it holds (its fields and status)."""
    found: dict[int, dict[str, Any]] = {}
    for event in events:
        data = event.data if event.kind == "problem" and isinstance(event.data, dict) else None
        if data is None or not isinstance(data.get("number"), int):
            continue
        number, action = int(data["number"]), data.get("action")
        said = found.setdefault(number, {"category": None, "description": None, "measures": "", "responsible": "",
                                         "deadline": None, "responsible_person": None, "status": None})
        for name, change in (data.get("fields") or {}).items():
            if name in FIELDS and isinstance(change, list) and len(change) == 2:
                said[name] = change[1]
        if action in STATUS_OF:
            said["status"] = STATUS_OF[action]
    return found


def _held(row: Any) -> dict[str, Any]:
    return {"category": row.category, "description": row.description, "measures": row.measures,
            "responsible": row.responsible, "deadline": row.deadline.isoformat() if row.deadline else None,
            "responsible_person": row.responsible_person_id, "status": row.status}


def case_problems(events: Iterable[Any], rows: Iterable[Any]) -> list[str]:
    """What differs between a case's problem rows and its problem events, one message each."""
    said = replayed(events)
    found = []
    for row in rows:
        expected = said.pop(row.number, None)
        if expected is None:
            found.append(f"问题清单第{row.number}项在事件链中没有记录：是绕过本系统添加的 / problem {row.number} is in no "
                         "event of the case's chain: it was added behind the project's back")
            continue
        held = _held(row)
        differs = [f"{name} = {held[name]!r} (events: {expected[name]!r})" for name in (*FIELDS, "status")
                   if held[name] != expected[name]]
        if differs:
            found.append(f"问题清单第{row.number}项与其事件不符：被绕过本系统改动 / problem {row.number} differs from what "
                         f"its events say, changed behind the project's back: {'; '.join(differs)}")
    for number in said:
        found.append(f"事件链记有问题清单第{number}项，但该记录已不存在 / the chain records problem {number}, whose row is gone")
    return found
