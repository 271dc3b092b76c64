"""Queries about cases, their events (the audit chains) and timers, and who is told about them.

The ops layer (``engine.ops.cases``, ``notices``, ``timers``, ``audit``, ``spotcheck``, ``ledger``)
decides what to do with what these return; the SQL lives here. Every function takes the
caller's session, never commits, and returns ORM objects or plain rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from engine.store.models import Case, Event, Official, Organization, Timer, TimerStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Row, ScalarResult
    from sqlalchemy.orm import Session


def _with_places():
    """The organization (with its superior) and the township, joined to the case."""
    return joinedload(Case.organization).joinedload(Organization.parent), joinedload(Case.township)


def case_by_ref(session: Session, ref: str) -> Case | None:
    """The case called ``ref`` (``2014-1-0003``), or None. One query: the organization, its
    superior and the township come joined, because every command reads them next (one round
    trip instead of four)."""
    return session.scalar(select(Case).options(*_with_places()).where(Case.ref == ref))


def cases_by_org_code(session: Session, code: str) -> list[Case]:
    """The cases (one per campaign) of the organization whose code is ``code``, with the same
    places joined as ``case_by_ref``: a case may be named by its organization's code."""
    return list(session.scalars(select(Case).options(*_with_places()).join(Case.organization)
                                .where(Organization.code == code)))


def case_of_org(session: Session, campaign_id: int, org_id: int) -> Case | None:
    """The organization's case in the campaign, or None (there is at most one)."""
    return session.scalar(select(Case).where(Case.campaign_id == campaign_id, Case.organization_id == org_id))


def case_ref_of_org(session: Session, campaign_id: int, org_id: int) -> str | None:
    """The reference of the organization's case in the campaign, or None: only the reference,
    to say which case it already is."""
    return session.scalar(select(Case.ref).where(Case.campaign_id == campaign_id, Case.organization_id == org_id))


def list_cases(session: Session, *, campaign_id: int | None = None, state: str | None = None,
               township_id: int | None = None, overdue_at: datetime | None = None, limit: int | None = None,
               within_path: str | None = None) -> list[Case]:
    """Cases in the natural order of their references (``sort_key``: 2014-1-9999 before
    2014-1-10000), each filter applied only when given: ``township_id`` keeps the township's
    cases and the township's own; ``within_path`` those of organizations at or under that
    materialised path (a reader's jurisdiction)."""
    query = select(Case).order_by(Case.sort_key)
    if within_path is not None:
        query = query.join(Case.organization).where(Organization.path.startswith(within_path, autoescape=True))
    if campaign_id is not None:
        query = query.where(Case.campaign_id == campaign_id)
    if state is not None:
        query = query.where(Case.state == state)
    if township_id is not None:
        query = query.where(or_(Case.township_id == township_id, Case.organization_id == township_id))
    if overdue_at is not None:
        query = query.where(Case.due_at < overdue_at)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def cases_in_state(session: Session, campaign_id: int, state: str) -> list[Case]:
    """The campaign's cases in ``state``, in the natural order of their references (the spot
    check's population)."""
    return list(session.scalars(select(Case).where(Case.campaign_id == campaign_id, Case.state == state)
                                .order_by(Case.sort_key)))


def recurring_sent(session: Session, case_id: int, round_: int) -> int:
    """How many occurrences of recurring requests a case was asked for in its round: one per
    request event, plus the occurrences a late request named as missed (``data.missed``) and
    asked to be answered together. A figure rules may need; a few rows per case."""
    rows = session.scalars(select(Event.data).where(
        Event.case_id == case_id, Event.kind == "timer", Event.trigger == "recurring", Event.round == round_))
    return sum(1 + int((data or {}).get("missed", 0)) for data in rows)


def pending_timers_of(session: Session, case_id: int) -> list[Timer]:
    """A case's pending timers, soonest first."""
    return list(session.scalars(select(Timer).where(
        Timer.case_id == case_id, Timer.status == TimerStatus.PENDING.value).order_by(Timer.due_at)))


def cancel_pending_timers(session: Session, case_id: int, now: datetime, keep: Iterable[str] = ()) -> int:
    """Mark every pending timer of a case cancelled at ``now``, in one UPDATE, but those of the
    kinds ``keep`` (a problem's own timers outlive the case's state); returns how many."""
    query = update(Timer).where(Timer.case_id == case_id, Timer.status == TimerStatus.PENDING.value)
    if keep:
        query = query.where(Timer.kind.not_in(list(keep)))
    result = session.execute(query.values(status=TimerStatus.CANCELLED.value, fired_at=now))
    return getattr(result, "rowcount", 0) or 0  # an UPDATE's CursorResult


def role_holders(session: Session, roles: list[str]) -> list[Row]:
    """The active officials of ``roles``, by name, as rows (name, role, email, phone, channels,
    path: their jurisdiction's materialised path). One query whose cost is the number of
    officials holding those roles, never the number of cases: who a notice is for is decided
    from it."""
    return list(session.execute(select(Official.name, Official.role, Official.email, Official.phone,
                                       Official.channels, Organization.path)
                                .join(Organization, Official.jurisdiction_id == Organization.id)
                                .where(Official.role.in_(roles), Official.active.is_(True))
                                .order_by(Official.name)))


# --- the audit chains -----------------------------------------------------------------------

def cases_by_id(session: Session, case_ids: Iterable[int] | None = None) -> list[Case]:
    """Every case (or those of ``case_ids``), by id."""
    query = select(Case).order_by(Case.id)
    if case_ids is not None:
        query = query.where(Case.id.in_(list(case_ids)))
    return list(session.scalars(query))


def events_streamed(session: Session, case_ids: Iterable[int] | None = None) -> ScalarResult[Event]:
    """Every event (or those of ``case_ids``) by case id then storage order (id), streamed
    2 000 at a time from one query: a county's events never sit in memory at once."""
    query = select(Event).order_by(Event.case_id, Event.id).execution_options(yield_per=2000)
    if case_ids is not None:
        query = query.where(Event.case_id.in_(list(case_ids)))
    return session.scalars(query)


def case_refs(session: Session) -> set[str]:
    """The reference of every case (a checkpoint's cases must all still exist)."""
    return set(session.scalars(select(Case.ref)))


def chain_heads(session: Session) -> list[Row]:
    """Every case's chain head as rows (ref, last event number, last hash or None), by ref."""
    return list(session.execute(select(Case.ref, Case.event_seq, Case.event_head).order_by(Case.ref)))


def events_of(session: Session, case_id: int) -> list[Event]:
    """A case's events in chain order (their number)."""
    return list(session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.seq)))


def states_left_in_round(session: Session, case_id: int, round_: int, states: Iterable[str]) -> list[str]:
    """The states among ``states`` the case left by a transition in round ``round_``, in order
    (one indexed read of the case's events)."""
    return list(session.scalars(select(Event.from_state).where(
        Event.case_id == case_id, Event.round == round_, Event.kind == "transition",
        Event.from_state.in_(tuple(states))).order_by(Event.seq)))
