"""The hash-chain formats of the audit log, and the store's reads and locks on its chains.

Three chains, one method (SHA-256 over canonical JSON, each link covering the previous hash):

- each case's **events**: an event's hash covers its content and the case's previous event's
  hash; the case row keeps the head;
- each campaign's **anchors**: every event appended to one of its cases also appends an
  anchor (case, the event's number and hash) linked to the campaign's previous anchor, so a
  case's head is kept outside its row too; the ``anchor_heads`` row keeps the chain's head;
- the **refusals** log: each refusal linked to the one before it.

The formats are part of the stored data, not of any operation on it: the rows already in a
database were hashed this way (migration 0005 chained the events that existed before, 0008
the refusals and the anchors), and ``audit verify`` recomputes exactly this. Changing one is a
new ``METHOD`` and a migration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Row, ScalarResult, select, text
from sqlalchemy.orm import Session, aliased

from engine.store.models import AnchorHead, AuditAnchor, CaseFact, Refusal

GENESIS = "0" * 64
METHOD = "sha256-chain-v1"


def utc_text(moment: datetime) -> str:
    """A moment as the chain hashes it (UTC, microseconds, Z)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(content: dict[str, Any]) -> str:
    text_ = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def event_hash(case_id: int, seq: int, at: datetime, actor: str, kind: str, trigger: str | None,
               from_state: str | None, to_state: str | None, round_: int, note: str | None,
               data: dict[str, Any], prev_hash: str) -> str:
    """The hash of one event, linked to the previous one (canonical JSON, sorted keys)."""
    return _digest({"case": case_id, "seq": seq, "at": utc_text(at), "actor": actor, "kind": kind,
                    "trigger": trigger, "from": from_state, "to": to_state, "round": round_, "note": note,
                    "data": data, "prev": prev_hash})


def anchor_hash(campaign_id: int, seq: int, case_id: int, case_seq: int, event_hash_: str, prev_hash: str) -> str:
    """The hash of one anchor of a campaign's chain, linked to the campaign's previous anchor."""
    return _digest({"campaign": campaign_id, "seq": seq, "case": case_id, "case_seq": case_seq,
                    "event": event_hash_, "prev": prev_hash})


def refusal_hash(seq: int, at: datetime, login: str, actor: str | None, command: str, reason: str,
                 prev_hash: str) -> str:
    """The hash of one refusal, linked to the previous refusal."""
    return _digest({"seq": seq, "at": utc_text(at), "login": login, "actor": actor, "command": command,
                    "reason": reason, "prev": prev_hash})


# --- appending: the heads, locked -------------------------------------------------------------

def locked_anchor_head(session: Session, campaign_id: int) -> AnchorHead | None:
    """The head of a campaign's anchor chain, locked until the caller's commit (``FOR UPDATE``
    on PostgreSQL; a SQLite write transaction holds the database), or None before its first
    anchor. A second append in the same transaction gets the same object, with its own changes."""
    return session.get(AnchorHead, campaign_id, with_for_update=True)


def last_refusal(session: Session, *, lock: bool = False) -> Refusal | None:
    """The newest refusal (along the unique index on its number). With ``lock``, the refusals
    log is first locked against other writers until the caller's commit (PostgreSQL; readers
    are not held up; a SQLite write transaction holds the database), so two refusals recorded
    at once never link to the same one."""
    if lock and session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE refusals IN EXCLUSIVE MODE"))
    return session.scalars(select(Refusal).order_by(Refusal.seq.desc()).limit(1)).first()


# --- verifying: the chains, streamed ----------------------------------------------------------

def anchor_heads(session: Session) -> dict[int, tuple[int, str]]:
    """Every campaign's anchor-chain head: campaign id → (last anchor's number, its hash)."""
    return {h.campaign_id: (h.seq, h.hash) for h in session.scalars(select(AnchorHead))}


def anchors_streamed(session: Session) -> ScalarResult[AuditAnchor]:
    """Every anchor, by campaign then number (along the unique index), streamed 2 000 at a time."""
    return session.scalars(select(AuditAnchor).order_by(AuditAnchor.campaign_id, AuditAnchor.seq)
                           .execution_options(yield_per=2000))


def anchors_of_cases(session: Session, case_ids: Iterable[int]) -> list[Row]:
    """The anchors of ``case_ids`` by case then number, as rows of the anchor's columns and
    ``next_prev``: the ``prev_hash`` of the campaign's anchor right after it (None if there is
    none), so one case's anchors can be checked without reading its whole campaign's chain."""
    following = aliased(AuditAnchor)
    query = (select(AuditAnchor.id, AuditAnchor.campaign_id, AuditAnchor.seq, AuditAnchor.case_id,
                    AuditAnchor.case_seq, AuditAnchor.event_hash, AuditAnchor.prev_hash, AuditAnchor.hash,
                    following.prev_hash.label("next_prev"))
             .outerjoin(following, (following.campaign_id == AuditAnchor.campaign_id)
                        & (following.seq == AuditAnchor.seq + 1))
             .where(AuditAnchor.case_id.in_(list(case_ids)))
             .order_by(AuditAnchor.case_id, AuditAnchor.seq))
    return list(session.execute(query))


def facts_streamed(session: Session, case_ids: Iterable[int] | None = None) -> Iterable[Row]:
    """Every stored fact (or those of ``case_ids``) as rows (case_id, name, value), by case
    then name, streamed 2 000 at a time."""
    query = (select(CaseFact.case_id, CaseFact.name, CaseFact.value).order_by(CaseFact.case_id, CaseFact.name)
             .execution_options(yield_per=2000))
    if case_ids is not None:
        query = query.where(CaseFact.case_id.in_(list(case_ids)))
    return session.execute(query)


def refusals_streamed(session: Session) -> ScalarResult[Refusal]:
    """Every refusal in storage order (id), streamed 2 000 at a time."""
    return session.scalars(select(Refusal).order_by(Refusal.id).execution_options(yield_per=2000))
