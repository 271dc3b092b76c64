"""The daemon's queries on timers: the due list, a chunk's claim, reads and writes, the admin's list.

The statements are those of a fired chunk (engine.daemon.timer_batch): one query per
read and one ``executemany`` per table written, so a chunk of timers costs a handful of
round trips whatever its size. Each function takes the caller's session (or its
connection) and never commits; what to do with the rows is the daemon's business.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.orm import Session, aliased

from engine.store.models import (
    AuditAnchor,
    Case,
    Event,
    Notice,
    Organization,
    Timer,
    TimerStatus,
    WorkflowVersion,
)


def due_timers(session: Session, now: datetime, passed_over: Collection[int], limit: int) -> list[Row]:
    """Rows (``id``, ``kind``) of at most ``limit`` pending timers due at ``now``, in due order,
    leaving out ``passed_over`` (held by another daemon this tick). Read along the partial
    index on pending timers' due time, so the cost is what is due, not the number of cases."""
    query = select(Timer.id, Timer.kind).where(Timer.status == TimerStatus.PENDING.value, Timer.due_at <= now)
    if passed_over:
        query = query.where(Timer.id.not_in(passed_over))
    return list(session.execute(query.order_by(Timer.due_at, Timer.id).limit(limit)))


def claim_timers(session: Session, ids: Sequence[int]) -> list[Row]:
    """The pending timers among ``ids``, in due order, locked for the caller's transaction:
    rows of ``id``, ``case_id``, ``state``, ``round``, ``kind``, ``due_at``, ``payload``. On
    PostgreSQL a timer another transaction holds is skipped (``FOR UPDATE SKIP LOCKED``), so
    two daemons never fire the same one; SQLite's write transaction holds the database."""
    claim = (select(Timer.id, Timer.case_id, Timer.state, Timer.round, Timer.kind, Timer.due_at, Timer.payload)
             .where(Timer.id.in_(ids), Timer.status == TimerStatus.PENDING.value)
             .order_by(Timer.due_at, Timer.id).with_for_update(of=Timer, skip_locked=True))
    return list(session.execute(claim).all())


def still_pending(session: Session, ids: Sequence[int]) -> list[int]:
    """The ids among ``ids`` still pending: of timers a claim skipped, those another
    transaction holds (the others were settled meanwhile)."""
    return list(session.scalars(select(Timer.id).where(Timer.id.in_(ids), Timer.status == TimerStatus.PENDING.value)))


def case_heads(session: Session, case_ids: Sequence[int]) -> list[Row]:
    """The cases ``case_ids`` with their organization, superior and township, in ONE query, by id.

    Each row: the case's ``id``, ``ref``, ``state``, ``round``, ``key_target``,
    ``weak_and_lax``, ``problems``, ``flags``, ``workflow_version_id``, ``version`` (for the
    optimistic lock), ``due_at``, ``event_seq``, ``event_head``; its organization's ``name``,
    ``code``, ``path``, ``secretary_name``, ``secretary_phone``, ``kind``; ``superior`` and
    ``township`` (names, None when absent). On PostgreSQL the cases are locked
    (``FOR UPDATE OF cases``): an official's commit is waited for, then its row is seen."""
    parent, township = aliased(Organization), aliased(Organization)
    query = (select(Case.id, Case.campaign_id, Case.ref, Case.state, Case.round, Case.key_target, Case.weak_and_lax,
                    Case.problems,
                    Case.flags, Case.workflow_version_id, Case.version, Case.due_at, Case.event_seq, Case.event_head,
                    Organization.name, Organization.code, Organization.path, Organization.secretary_name,
                    Organization.secretary_phone, Organization.kind, parent.name.label("superior"),
                    township.name.label("township"))
             .join(Organization, Case.organization_id == Organization.id)
             .outerjoin(parent, Organization.parent_id == parent.id)
             .outerjoin(township, Case.township_id == township.id)
             .where(Case.id.in_(case_ids)).order_by(Case.id)
             .with_for_update(of=Case))
    return list(session.execute(query))


def workflow_versions(session: Session, ids: Collection[int]) -> list[WorkflowVersion]:
    """The workflow versions ``ids``, in one query (a chunk compiles each once)."""
    return list(session.scalars(select(WorkflowVersion).where(WorkflowVersion.id.in_(ids))))


def campaigns_of(session: Session, case_ids: Collection[int]) -> list[int]:
    """The campaigns the cases ``case_ids`` belong to, by id (to lock their anchor heads first,
    in the order every writer takes them)."""
    return list(session.scalars(select(Case.campaign_id).where(Case.id.in_(case_ids)).distinct()
                                .order_by(Case.campaign_id)))


def insert_fired(conn: Connection, events: list[dict[str, Any]], notices: list[dict[str, Any]],
                 following: list[dict[str, Any]], anchors: list[dict[str, Any]] | None = None) -> None:
    """Insert a chunk's events and notices (with their ids already reserved), their anchors and
    the next timers of its recurring notices: one ``executemany`` per table, none for an empty list."""
    if events:
        conn.execute(insert(Event), events)
        conn.execute(insert(Notice), notices)
    if anchors:
        conn.execute(insert(AuditAnchor), anchors)
    if following:
        conn.execute(insert(Timer), following)


def settle_timers(conn: Connection, ids: list[int], status: str, now: datetime) -> None:
    """Mark the timers ``ids`` ``status`` (fired or skipped) at ``now``, in one statement."""
    conn.execute(update(Timer).where(Timer.id.in_(ids)).values(status=status, fired_at=now))


def advance_case_heads(conn: Connection, moved: list[dict[str, Any]], now: datetime) -> int:
    """Move the cases' chain heads, one ``executemany``; returns how many rows matched.

    ``moved`` holds ``cid`` (the case), ``seen`` (the row version the chunk read), ``seq`` and
    ``head`` (the new chain head). A case whose version moved on meanwhile is not updated:
    the optimistic lock, as the ORM's version column does it; the caller compares the count
    returned with ``len(moved)`` and gives up on a mismatch."""
    result = conn.execute(update(Case).where(Case.id == bindparam("cid"), Case.version == bindparam("seen"))
                          .values(event_seq=bindparam("seq"), event_head=bindparam("head"), updated_at=now,
                                  version=Case.version + 1), moved)
    return result.rowcount


def timers_listed(session: Session, *, failed: bool, due_at: datetime | None,
                  limit: int) -> list[tuple[Timer, str, str]]:
    """At most ``limit`` timers with their case's reference and organization's name.

    ``failed``: the timers set aside, newest first (by id, along the primary key); else the
    pending ones (due at ``due_at`` or before, when given), earliest first, along the
    partial index on pending timers' due time (those due at the same moment in the natural
    order of their cases' references)."""
    query = (select(Timer, Case.ref, Organization.name).join(Case, Timer.case_id == Case.id)
             .join(Organization, Case.organization_id == Organization.id))
    if failed:
        query = query.where(Timer.status == TimerStatus.FAILED.value).order_by(Timer.id.desc())
    else:
        query = query.where(Timer.status == TimerStatus.PENDING.value)
        if due_at is not None:
            query = query.where(Timer.due_at <= due_at)
        query = query.order_by(Timer.due_at, Case.sort_key, Timer.id)  # one moment's in natural ref order
    return [(timer, ref, org) for timer, ref, org in session.execute(query.limit(limit))]


def timers_locked(session: Session, ids: Sequence[int]) -> list[Timer]:
    """The timers ``ids`` that exist, locked (``FOR UPDATE``) until the caller's commit, so a
    retry and the daemon never both change one."""
    return list(session.scalars(select(Timer).where(Timer.id.in_(ids)).with_for_update()))
