"""The outbox's queries: notices to expand, deliveries to lease, settle, count and put back.

The delivery pass (engine.daemon.delivery) and the outbox services call these inside their
own transactions; none commits. The claims lock with ``FOR UPDATE SKIP LOCKED`` (on
PostgreSQL; SQLite's write transaction holds the database), so several daemons never take
the same notice or delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Text, cast, func, or_, select, update
from sqlalchemy.orm import Session

from engine.store.db import database_now
from engine.store.models import Case, Delivery, Notice, NoticeStatus, Organization


def unexpanded_notices(session: Session, limit: int) -> list[Notice]:
    """At most ``limit`` pending notices not yet expanded into deliveries, oldest first, locked;
    those another daemon holds are skipped, so two never expand one notice."""
    return list(session.scalars(select(Notice).where(
        Notice.status == NoticeStatus.PENDING.value, Notice.expanded.is_(False)).order_by(Notice.id).limit(limit)
        .with_for_update(skip_locked=True)))


def delivery_with_key(session: Session, key: str) -> Delivery | None:
    """The delivery with idempotency key ``key``, if there is one (two recipients sharing an
    address get one delivery)."""
    return session.scalar(select(Delivery).where(Delivery.idempotency_key == key))


def notice_key_taken(session: Session, key: str) -> bool:
    """Whether a notice with idempotency key ``key`` exists (an alert's key is then numbered on)."""
    return session.scalar(select(Notice.id).where(Notice.idempotency_key == key)) is not None


def lease_due_deliveries(session: Session, now: datetime, limit: int,
                         lease: timedelta) -> tuple[list[int], datetime]:
    """Lease up to ``limit`` deliveries due at ``now``; returns their ids (due order) and the
    lease's end.

    A delivery is due when pending, its next attempt at ``now`` or before, and its lease
    absent or over. Leases are timed by the database's clock (``database_now``), whatever
    ``--now`` says, so daemons on several hosts agree on when one ends; rows another
    transaction holds are skipped."""
    real = database_now(session)
    query = (select(Delivery).where(Delivery.status == NoticeStatus.PENDING.value, Delivery.next_attempt_at <= now,
                                    or_(Delivery.leased_until.is_(None), Delivery.leased_until <= real))
             .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit).with_for_update(skip_locked=True))
    due = list(session.scalars(query))
    for delivery in due:
        delivery.leased_until = real + lease
    return [d.id for d in due], real + lease


def renew_lease(session: Session, delivery_id: int, held_until: datetime, lease: timedelta) -> datetime | None:
    """Extend our lease on a delivery for one more ``lease`` from the database's clock, just
    before it is sent; None when it is no longer ours (settled, or its lease ran out and another
    deliverer took it): then it must not be sent."""
    real = database_now(session)
    done = session.execute(update(Delivery).where(Delivery.id == delivery_id,
                                                  Delivery.status == NoticeStatus.PENDING.value,
                                                  Delivery.leased_until == held_until)
                           .values(leased_until=real + lease))
    return real + lease if done.rowcount == 1 else None  # type: ignore[attr-defined]


def release_leases(session: Session, ids: list[int], until: datetime) -> None:
    """End the leases of the pending deliveries ``ids`` still leased until ``until`` (ours: a
    lease that ran out and was taken over has another end), in one statement."""
    session.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.status == NoticeStatus.PENDING.value,
                                           Delivery.leased_until == until).values(leased_until=None))


def delivery_statuses(session: Session, notice_id: int) -> set[str]:
    """The statuses of a notice's deliveries (from which the notice's own status follows)."""
    return set(session.scalars(select(Delivery.status).where(Delivery.notice_id == notice_id)))


def case_ref(session: Session, case_id: int) -> str | None:
    """A case's reference (``T1-07``), quoted in the message sent; None if there is no such case."""
    return session.scalar(select(Case.ref).where(Case.id == case_id))


def undelivered(session: Session, notice_id: int, skip_channel: str) -> list[Delivery]:
    """A notice's deliveries not delivered, except those on ``skip_channel`` (the recipients no
    channel reaches: putting them back would change nothing)."""
    return list(session.scalars(select(Delivery).where(Delivery.notice_id == notice_id,
                                                       Delivery.status != NoticeStatus.DELIVERED.value,
                                                       Delivery.channel != skip_channel)))


def notice_counts(session: Session) -> dict[str, int]:
    """How many notices there are in each status, by status."""
    return dict(session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all())


def notices_within(session: Session, path: str | None, *, status: str | None, case_id: int | None,
                   limit: int, unreached: bool = False, before: int | None = None) -> list[Notice]:
    """At most ``limit`` notices, newest first: with ``path`` (a jurisdiction's materialised
    path), only those of cases of organizations under it (notices of no case are county-wide
    and left out); with ``status`` or ``case_id``, only those; with ``unreached``, only those
    with an audience that reached nobody (their JSON list is not the empty one); with ``before``,
    only those older than that notice (the next page, read along the primary key)."""
    query = select(Notice) if before is None else select(Notice).where(Notice.id < before)
    if path is not None:
        query = (query.join(Case, Case.id == Notice.case_id).join(Organization, Organization.id == Case.organization_id)
                 .where(Organization.path.startswith(path, autoescape=True)))
    query = query.order_by(Notice.id.desc()).limit(limit)
    if status:
        query = query.where(Notice.status == status)
    if case_id is not None:
        query = query.where(Notice.case_id == case_id)
    if unreached:
        query = query.where(cast(Notice.unreached, Text) != "[]")
    return list(session.scalars(query))


def deliveries_of(session: Session, notice_id: int) -> list[Delivery]:
    """A notice's deliveries, in the order they were created."""
    return list(session.scalars(select(Delivery).where(Delivery.notice_id == notice_id).order_by(Delivery.id)))


def unreached_of_campaign(session: Session, campaign_id: int) -> list[list]:
    """The ``unreached`` lists of the notices that reached nobody for some audience: those of the
    campaign's cases and those of no case (a unit's duty, a bulletin), for the dashboard's count.
    One query; its cost is such notices, a few in a county that registered its people."""
    of_campaign = select(Case.id).where(Case.campaign_id == campaign_id)
    return [row for row, in session.execute(
        select(Notice.unreached).where(cast(Notice.unreached, Text) != "[]",
                                       or_(Notice.case_id.is_(None), Notice.case_id.in_(of_campaign))))]
