"""The hash-chain format of stored events: what an event's hash covers and how it links.

It is part of the stored data's format, not of any operation on it: the events already in a
database were hashed this way (migration 0005 chained the events that existed before), and
``audit verify`` recomputes exactly this. Changing it is a new ``METHOD`` and a migration.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

GENESIS = "0" * 64
METHOD = "sha256-chain-v1"


def utc_text(moment: datetime) -> str:
    """A moment as the chain hashes it (UTC, microseconds, Z)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(case_id: int, seq: int, at: datetime, actor: str, kind: str, trigger: str | None,
               from_state: str | None, to_state: str | None, round_: int, note: str | None,
               data: dict[str, Any], prev_hash: str) -> str:
    """The hash of one event, linked to the previous one (canonical JSON, sorted keys)."""
    content = {"case": case_id, "seq": seq, "at": utc_text(at), "actor": actor, "kind": kind, "trigger": trigger,
               "from": from_state, "to": to_state, "round": round_, "note": note, "data": data, "prev": prev_hash}
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
