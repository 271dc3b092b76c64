"""Queries about what units owe (``unit_duties``) and how they filed it (``duty_actions``).

The ops layer (``engine.ops.duties``) decides what to do with what these return. Every function
takes the caller's session and never commits. Their cost is the number of units and of a
duty's dates (a county's townships times a handful), or what is due: never the number of cases.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload

from engine.store.chain import GENESIS, utc_text

__all__ = ["GENESIS"]
from engine.store.models import Case, DutyAction, Evidence, Organization, UnitDuty

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def units_of_kind(session: Session, kind: str) -> list[Organization]:
    """Every organization of ``kind`` (the townships), in hierarchy order."""
    return list(session.scalars(select(Organization).where(Organization.kind == kind)
                                .order_by(Organization.sort_key)))


def units_by_id(session: Session, ids: Iterable[int]) -> list[Organization]:
    ids = list(ids)
    if not ids:
        return []
    return list(session.scalars(select(Organization).where(Organization.id.in_(ids))))


def units_with_cases(session: Session, campaign_id: int) -> set[int]:
    """The townships with at least one case of the campaign (read when a workflow is deployed,
    not by the daemon)."""
    return {row for row in session.scalars(select(func.distinct(Case.township_id)).where(Case.campaign_id == campaign_id))
            if row is not None}


def existing_keys(session: Session, campaign_id: int, unit_ids: Iterable[int] | None = None) -> set[tuple[int, str, int]]:
    """(unit, duty, occurrence) of the campaign's duty rows (of ``unit_ids`` only, if given)."""
    query = select(UnitDuty.unit_id, UnitDuty.duty, UnitDuty.occurrence).where(UnitDuty.campaign_id == campaign_id)
    if unit_ids is not None:
        query = query.where(UnitDuty.unit_id.in_(list(unit_ids)))
    return {(r.unit_id, r.duty, r.occurrence) for r in session.execute(query)}


def duties_of(session: Session, campaign_id: int, unit_ids: Iterable[int] | None = None,
              duty: str | None = None) -> list[UnitDuty]:
    """The campaign's duty rows (of ``unit_ids``, of ``duty``), their unit loaded, by unit then
    duty and date."""
    query = (select(UnitDuty).options(joinedload(UnitDuty.unit)).join(Organization, UnitDuty.unit_id == Organization.id)
             .where(UnitDuty.campaign_id == campaign_id))
    if unit_ids is not None:
        query = query.where(UnitDuty.unit_id.in_(list(unit_ids)))
    if duty is not None:
        query = query.where(UnitDuty.duty == duty)
    return list(session.scalars(query.order_by(Organization.sort_key, UnitDuty.duty, UnitDuty.due_at)))


def due_duties(session: Session, now: datetime, limit: int) -> list[UnitDuty]:
    """Duty rows whose next reminder or escalation is due, along the partial index on
    ``next_at``, claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two daemons never send the
    same one)."""
    # the unit joined (its name and path address the notice): one query per chunk, not one per row
    query = (select(UnitDuty).options(joinedload(UnitDuty.unit, innerjoin=True))
             .where(UnitDuty.next_at.is_not(None), UnitDuty.next_at <= now)
             .order_by(UnitDuty.next_at, UnitDuty.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=UnitDuty, skip_locked=True)
    return list(session.scalars(query))


def actions_of(session: Session, duty_ids: Iterable[int]) -> list[DutyAction]:
    """The submissions and returns of ``duty_ids``, oldest first."""
    ids = list(duty_ids)
    if not ids:
        return []
    return list(session.scalars(select(DutyAction).where(DutyAction.unit_duty_id.in_(ids)).order_by(DutyAction.seq)))


def filed_file(session: Session, campaign_id: int, unit_id: int, duty: str, occurrence: int,
               sha256: str) -> Evidence | None:
    """The stored file ``sha256`` filed with occurrence ``occurrence`` of ``duty`` by unit ``unit_id``
    (the newest filing that carried it), or None."""
    return session.scalars(select(Evidence).join(DutyAction, DutyAction.id == Evidence.duty_action_id)
                           .join(UnitDuty, UnitDuty.id == DutyAction.unit_duty_id)
                           .where(UnitDuty.campaign_id == campaign_id, UnitDuty.unit_id == unit_id,
                                  UnitDuty.duty == duty, UnitDuty.occurrence == occurrence,
                                  Evidence.sha256 == sha256)
                           .order_by(Evidence.id.desc()).limit(1)).first()


def returned_ids(session: Session, duty_ids: Iterable[int]) -> set[int]:
    """Which of ``duty_ids`` have had a filing returned (退回) at least once."""
    ids = list(duty_ids)
    if not ids:
        return set()
    return set(session.scalars(select(func.distinct(DutyAction.unit_duty_id))
                               .where(DutyAction.unit_duty_id.in_(ids), DutyAction.kind == "return")))


# --- the chain of submissions and returns -------------------------------------------------------

def last_duty_action(session: Session, *, lock: bool = False) -> DutyAction | None:
    """The newest submission or return; with ``lock``, the log is first locked against other
    writers until the caller's commit (PostgreSQL; a SQLite write transaction holds the
    database), so two filings at once never link to the same one."""
    if lock and session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE duty_actions IN EXCLUSIVE MODE"))
    return session.scalars(select(DutyAction).order_by(DutyAction.seq.desc()).limit(1)).first()


def duty_action_hash(seq: int, unit_duty_id: int, kind: str, at: datetime, actor: str, note: str,
                     files: list[Any], prev_hash: str, via: str | None = None) -> str:
    """The hash of one submission or return, linked to the one before (canonical JSON); how the
    official acted is hashed when it was recorded (actions written before it was kept have none)."""
    content = {"seq": seq, "duty": unit_duty_id, "kind": kind, "at": utc_text(at), "actor": actor, "note": note,
               "files": files, "prev": prev_hash}
    if via is not None:
        content["via"] = via
    text_ = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def duty_actions_streamed(session: Session):
    """Every submission and return in storage order, streamed 2 000 at a time (audit verify)."""
    return session.scalars(select(DutyAction).order_by(DutyAction.id).execution_options(yield_per=2000))


def units_below(session: Session, path: str) -> list[Organization]:
    """The townships (and any other owing unit) at or below ``path`` that owe something."""
    owing = select(UnitDuty.unit_id).distinct().scalar_subquery()
    return list(session.scalars(select(Organization).where(Organization.path.startswith(path, autoescape=True),
                                                           Organization.id.in_(owing))))
