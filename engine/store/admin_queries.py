"""The services' own look-ups: organizations and officials, refusals, the newest campaign, counts.

Jurisdictions are given as an organization's materialised path (``/1/7/42/``): what lies
under it starts with it. Each function takes the caller's session and never commits.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.store.models import Campaign, Case, Event, Notice, Official, Organization, Refusal


def organizations_within(session: Session, path: str | None, township_id: int | None = None) -> list[Organization]:
    """The organizations in hierarchy order, each superior's in the natural order of their codes
    (``sort_key``): every one, or with ``path`` those under that jurisdiction, and with
    ``township_id`` those of that township."""
    query = select(Organization).order_by(Organization.sort_key)
    if path is not None:
        query = query.where(Organization.path.startswith(path, autoescape=True))
    if township_id is not None:
        query = query.where(Organization.township_id == township_id)
    return list(session.scalars(query))


def official_named(session: Session, name: str) -> Official | None:
    """The official called ``name`` (active or not), if registered (names are unique)."""
    return session.scalar(select(Official).where(Official.name == name))


def active_administrators(session: Session) -> list[Official]:
    """The active administrators, by name: who hears of a timer set aside and may retry it."""
    return list(session.scalars(select(Official).where(Official.admin.is_(True), Official.active.is_(True))
                                .order_by(Official.name)))


def refusals_newest_first(session: Session, limit: int) -> list[Refusal]:
    """At most ``limit`` refused attempts, newest first (by id, along the primary key)."""
    return list(session.scalars(select(Refusal).order_by(Refusal.id.desc()).limit(limit)))


def newest_campaign(session: Session) -> Campaign | None:
    """The campaign of the latest year (the last deployed among equals); None before any is:
    its workflow's time zone is the one to show times in when no one case is in view."""
    return session.scalar(select(Campaign).order_by(Campaign.year.desc(), Campaign.id.desc()).limit(1))


def events_in_round(session: Session, case_id: int, trigger: str, round_: int) -> int:
    """How many events of ``trigger`` a case has logged in round ``round_`` (the demo counts the
    progress reports a township sent)."""
    return session.scalar(select(func.count()).select_from(Event).where(
        Event.case_id == case_id, Event.trigger == trigger, Event.round == round_)) or 0


def case_counts_by_state(session: Session) -> dict[str, int]:
    """How many cases, of every campaign, are in each state."""
    return dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())


def case_counts_by_round(session: Session) -> dict[int, int]:
    """How many cases, of every campaign, are in each rectification round."""
    return dict(session.execute(select(Case.round, func.count()).group_by(Case.round)).all())


def notice_counts_by_template(session: Session) -> dict[str, int]:
    """How many notices each template has produced."""
    return dict(session.execute(select(Notice.template, func.count()).group_by(Notice.template)).all())


def event_count(session: Session) -> int:
    """How many events every case has logged in all."""
    return session.scalar(select(func.count()).select_from(Event)) or 0


def first_notice_of(session: Session, template: str, last: bool = False) -> Notice | None:
    """The first (or ``last``) notice made from ``template``, to show as a sample."""
    order = Notice.id.desc() if last else Notice.id
    return session.scalars(select(Notice).where(Notice.template == template).order_by(order).limit(1)).first()
