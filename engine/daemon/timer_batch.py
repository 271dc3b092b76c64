"""Fire a chunk of due notice timers in one transaction, with one statement per table.

Fired one by one, a timer costs about 5 ms: a commit (an fsync on SQLite) and ORM loads of
its case, organization, superior, township and workflow version. Here a chunk of
reminders, escalations, recurring requests and deadlines is claimed with one query, its
cases read (and, on PostgreSQL, locked) with another, the notices rendered in Python, and
the events, notices, next timers and case heads written with ``executemany``. The result is
the same rows the one-by-one path (``engine.daemon.ticker``) writes.

Anything out of the ordinary is handed back rather than handled here: an automatic
transition never enters a chunk, and a conflict or error rolls the whole chunk back so the
caller can fire its timers one by one, where each failure stays its own — except an
operational database error (locked, connection lost), after which the caller stops the tick
and the chunk's timers stay pending (engine.daemon.ticker).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base import failpoints
from engine.base.clock import local
from engine.base.errors import Conflict
from engine.ops.audience import Holder, officials_in_roles, reach_of
from engine.ops.deploy import compiled_version
from engine.ops.documents import render_issued
from engine.ops.notices import CaseCard, notice_row, plan_due_notice
from engine.ops.officials import SYSTEM
from engine.ops.timers import moved_on, next_recurrence
from engine.spec.machine import CompiledWorkflow
from engine.store.chain import GENESIS, anchor_hash, event_hash, locked_anchor_head
from engine.store.db import reserve_ids
from engine.store.facts import facts_by_case
from engine.store.models import AnchorHead, TimerStatus
from engine.store.people_queries import assigned_between
from engine.store.timer_queries import (
    advance_case_heads,
    campaigns_of,
    case_heads,
    claim_timers,
    insert_fired,
    settle_timers,
    still_pending,
    workflow_versions,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

log = logging.getLogger("rectify.daemon")

BULK_KINDS = frozenset({"deadline", "reminder", "escalation", "recurring"})


@dataclass
class ChunkOutcome:
    """What one committed chunk did; ``rest`` are the ids it did not reach (stop, or a new
    timer already due that must fire first), ``locked`` those another transaction holds."""

    fired: Counter = field(default_factory=Counter)
    skipped: int = 0
    messages: list[str] = field(default_factory=list)
    locked: list[int] = field(default_factory=list)
    rest: list[int] = field(default_factory=list)


@dataclass
class _Head:
    """A case's row as the chunk sees it, its chain head moving as events are added."""

    card: CaseCard
    campaign_id: int
    version_id: int
    row_version: int
    due_at: datetime | None
    seq: int
    head: str
    touched: bool = False


def fire_chunk(session: Session, ids: list[int], now: datetime, stop: threading.Event | None = None) -> ChunkOutcome:
    """Fire the pending timers among ``ids`` (due order) inside the caller's transaction.

    Raises ``Conflict`` when a case changed under the chunk (the caller rolls back and
    fires the timers one by one).
    """
    out = ChunkOutcome()
    timers = claim_timers(session, ids)
    claimed = {t.id for t in timers}
    if len(claimed) < len(ids):  # not claimed: settled meanwhile, or held by another transaction
        out.locked = still_pending(session, [i for i in ids if i not in claimed])
    if not timers:
        return out
    case_ids = sorted({t.case_id for t in timers})
    # The campaigns' anchor heads first, as every writer takes them (engine.ops.audit.chain).
    anchor_heads = {cid: _anchor_head(session, cid) for cid in campaigns_of(session, case_ids)}
    heads = _read_cases(session, case_ids)
    compiled = {v.id: compiled_version(v) for v in workflow_versions(session, {h.version_id for h in heads.values()})}
    roles = sorted({r for t in timers if t.kind != "deadline" for r in t.payload.get("notify", ())})
    holders = officials_in_roles(session, roles) if roles else []
    # The people assigned to the chunk's cases in those roles (its person facts: 联系领导…) around
    # today, in one query: cost the chunk's assignments, whatever the number of cases.
    days = {local(now, wf.definition.timezone).date() for wf in compiled.values()} or {now.date()}
    assigned = _by_case(assigned_between(session, list(heads), roles, min(days), max(days))) if roles else {}
    # Every fact of the chunk's cases, in one query: a notice may state one (case.facts), and
    # a fact named after a role names whom the notice is for.
    facts = facts_by_case(session, list(heads))

    settled: list[tuple[int, str]] = []  # (timer, status)
    events: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    following: list[dict[str, Any]] = []
    anchors: list[dict[str, Any]] = []
    for index, timer in enumerate(timers):
        if stop is not None and stop.is_set():
            out.rest = [t.id for t in timers[index:]]
            break
        failpoints.point("tick.after_claim")
        head = heads[timer.case_id]
        if moved_on(timer.kind, timer.state, timer.round, head.card.state, head.card.round, head.due_at, now):
            settled.append((timer.id, TimerStatus.SKIPPED.value))
            out.skipped += 1
            continue
        settled.append((timer.id, TimerStatus.FIRED.value))
        out.fired[timer.kind] += 1
        if timer.kind == "deadline":
            continue
        wf = compiled[head.version_id]
        event, notice = _notice(session, wf, head, timer, now, holders, facts.get(timer.case_id, {}),
                                assigned.get(timer.case_id, []))
        anchors.append(_anchor(anchor_heads[head.campaign_id], event))
        events.append(event)
        notices.append(notice)
        if timer.kind == "recurring":
            nxt = next_recurrence(wf, head.card.id, head.card.state, head.card.round, timer.due_at, timer.payload,
                                  now, head.due_at)
            if nxt is not None:  # None: past the end of its window, the requests stop
                following.append(nxt)
    for event, notice, event_id in zip(events, notices, reserve_ids(session, "events", len(events)), strict=True):
        event["id"] = notice["event_id"] = event_id
    _write(session.connection(), now, settled, events, notices, following, heads, anchors)
    return out


def _anchor_head(session: Session, campaign_id: int) -> AnchorHead:
    """The campaign's anchor head, locked (a new one before the campaign's first anchor)."""
    head = locked_anchor_head(session, campaign_id)
    if head is None:
        head = AnchorHead(campaign_id=campaign_id, seq=0, hash=GENESIS)
        session.add(head)
    return head


def _anchor(head: AnchorHead, event: dict[str, Any]) -> dict[str, Any]:
    """The event's link in its campaign's anchor chain, as engine.ops.audit.chain makes it; the
    head (flushed with the transaction) moves on."""
    seq, prev = head.seq + 1, head.hash
    digest = anchor_hash(head.campaign_id, seq, event["case_id"], event["seq"], event["hash"], prev)
    head.seq, head.hash = seq, digest
    return {"campaign_id": head.campaign_id, "seq": seq, "case_id": event["case_id"], "case_seq": event["seq"],
            "event_hash": event["hash"], "prev_hash": prev, "hash": digest}


def _read_cases(session: Session, case_ids: list[int]) -> dict[int, _Head]:
    """The chunk's cases as heads, read (and, on PostgreSQL, locked) in one query."""
    heads = {}
    for r in case_heads(session, case_ids):
        card = CaseCard(r.id, r.ref, r.state, r.round, r.key_target, r.weak_and_lax, list(r.problems), list(r.flags),
                        r.name, r.code, r.path, r.superior or "", r.township, r.secretary_name, r.secretary_phone,
                        r.kind)
        heads[r.id] = _Head(card, r.campaign_id, r.workflow_version_id, r.version, r.due_at, r.event_seq,
                            r.event_head or GENESIS)
    return heads


def _by_case(rows: list[Any]) -> dict[int, list[Any]]:
    """Assignment rows grouped by their case."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.case_id, []).append(row)
    return grouped


def _notice(session: Session, compiled: CompiledWorkflow, head: _Head, timer: Any, now: datetime, holders: list[Holder],
            facts: dict[str, Any], assigned: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The timer's event (linked into the case's chain) and its rendered notice, planned as a
    timer fired alone plans them (engine.ops.notices.plan_due_notice)."""
    card = head.card
    plan = plan_due_notice(compiled, card, head.due_at, timer.id, timer.kind, timer.payload, now, SYSTEM.name,
                           timer.due_at, facts)
    seq, prev = head.seq + 1, head.head
    digest = event_hash(card.id, seq, now, SYSTEM.name, "timer", timer.kind, None, None, card.round, None,
                        plan.event_data, prev)
    head.seq, head.head, head.touched = seq, digest, True
    event = {"case_id": card.id, "seq": seq, "at": now, "actor": SYSTEM.name, "kind": "timer",
             "trigger": timer.kind, "from_state": None, "to_state": None, "round": card.round, "note": None,
             "data": plan.event_data, "prev_hash": prev, "hash": digest}
    rendered, number = render_issued(session, compiled, plan.template, plan.context, plan.audience, now)
    day = local(now, compiled.definition.timezone).date()
    reach = reach_of(compiled, plan.audience, holders, facts, card.org_path, assigned, day)
    notice = notice_row(key=f"timer:{timer.id}", template=plan.template, template_hash=rendered.template_hash,
                        title=rendered.title, body=rendered.body, recipients=reach.recipients, now=now, case_id=card.id,
                        missing=rendered.missing, document_number=number, unreached=reach.unreached)
    return event, notice


def _write(conn: Connection, now: datetime, settled: list[tuple[int, str]], events: list[dict[str, Any]],
           notices: list[dict[str, Any]], following: list[dict[str, Any]], heads: dict[int, _Head],
           anchors: list[dict[str, Any]]) -> None:
    """One statement per table (engine.store.timer_queries); ``Conflict`` when a case's row
    version moved on since the chunk read it."""
    insert_fired(conn, events, notices, following, anchors)
    for status in (TimerStatus.FIRED.value, TimerStatus.SKIPPED.value):
        ids = [tid for tid, st in settled if st == status]
        if ids:
            settle_timers(conn, ids, status, now)
    moved = [{"cid": h.card.id, "seen": h.row_version, "seq": h.seq, "head": h.head}
             for h in heads.values() if h.touched]
    if moved:
        matched = advance_case_heads(conn, moved, now)
        if matched != len(moved):  # the optimistic lock, as the ORM's version column does it
            raise Conflict(f"{len(moved) - matched} case(s) changed under the daemon's chunk")
