"""Deliver the outbox after commit: at least once, with a stable key, retries, then dead letter.

1. *Expand*: each new notice becomes one delivery per broadcast channel and one per
   recipient reachable on each personal channel (a recipient no channel reaches is a dead
   delivery whose error says so, so nothing disappears silently).
2. *Claim*: due deliveries are leased (``leased_until``, on the database's clock) in a short
   transaction — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several daemons never take
   the same one — and sent with no transaction open.
3. *Settle*: success marks it delivered; failure counts an attempt and schedules a retry
   with exponential backoff; after ``max_attempts`` it is dead and an alert notice goes to
   the administrators. A crash between send and settle means the lease expires and the same
   delivery (same idempotency key) is sent again: at-least-once.

A stopping daemon (``deliver(..., stop=)``) finishes the send in hand and gives back the
leases of what it claimed and did not send, so the next start sends those at once. Each
send is bounded by its channel's per-attempt ``deadline`` (notifiers.base.Deadline), and a
claim leases no more deliveries than the lease can cover at that deadline.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from engine.base import failpoints
from engine.base.clock import DEFAULT_TZ, local
from engine.ops.deploy import compiled_version
from engine.ops.notices import alert_notice, resolve_admins
from engine.store.admin_queries import newest_campaign
from engine.store.db import Store
from engine.store.models import Case, Delivery, Notice, NoticeStatus, WorkflowVersion
from engine.store.outbox_queries import (
    case_ref,
    delivery_statuses,
    delivery_with_key,
    lease_due_deliveries,
    notice_counts,
    release_leases,
    renew_lease,
    undelivered,
    unexpanded_notices,
)
from notifiers.base import DeliveryError, Message, redact
from notifiers.config import NotifierConfig

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("rectify.delivery")
NO_CHANNEL = "(none)"


@dataclass
class DeliveryReport:
    # delivered | retry | dead (a recipient no channel reaches included) | taken over
    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # one line per failed attempt, for a person
    released: int = 0  # leased, not sent, lease given back: the pass was stopped


def expand(store: Store, config: NotifierConfig, now: datetime, batch: int = 200,
           report: DeliveryReport | None = None) -> int:
    """Create the deliveries of notices not yet expanded; returns how many notices. A recipient
    no personal channel reaches is a dead delivery from the start: counted in ``report``."""
    def work(session: Session) -> tuple[int, list[str]]:
        # Locked and skipped by other daemons (PostgreSQL), so two never expand one notice.
        notices = unexpanded_notices(session, batch)
        unreached: list[str] = []
        for notice in notices:
            unreached += _expand_one(session, notice, config, now)
        return len(notices), unreached
    count, unreached = store.write(work)  # run again whole if it met a lock (SQLite) or a serialisation failure
    if report is not None and unreached:  # counted once, after the commit
        report.outcomes["dead"] += len(unreached)
        report.errors += unreached
    return count


def _expand_one(session: Session, notice: Notice, config: NotifierConfig, now: datetime) -> list[str]:
    """The notice's deliveries; returns how each recipient no channel reaches was reported."""
    reached: set[str] = set()
    unreached: list[str] = []
    personal = [c for c in config.channels.values() if c.personal]
    for channel in config.channels.values():
        if not channel.personal:
            _add(session, notice, channel.name, channel.name, "*", now)
            continue
        for person in notice.recipients:
            address = channel.address(person)
            if address:
                _add(session, notice, channel.name, address, person["name"], now)
                reached.add(person["name"])
    if personal:
        for person in notice.recipients:
            if person["name"] not in reached:
                names = "、".join(c.name for c in personal)
                dead = _add(session, notice, NO_CHANNEL, person["name"], person["name"], now)
                dead.status = NoticeStatus.DEAD.value
                dead.last_error = (f"{person['name']} 没有可用的联系方式（{names}），请用 rectify official 或 rectify person update 补充 / "
                                   f"{person['name']} has no address on any personal channel ({names})")
                ref = case_ref(session, notice.case_id) if notice.case_id else None
                unreached.append(f"{_described(notice.id, ref, notice.title)} [无可用渠道 no channel]（已放弃 / dead）: {dead.last_error}")
    notice.expanded = True
    _settle_notice(session, notice)
    return unreached


def _add(session: Session, notice: Notice, channel: str, address: str, recipient: str, now: datetime) -> Delivery:
    key = f"{notice.idempotency_key}|{channel}|{address}"
    existing = delivery_with_key(session, key)
    if existing is not None:  # two recipients sharing one address get one message
        return existing
    delivery = Delivery(notice_id=notice.id, channel=channel, address=address, recipient=recipient,
                        idempotency_key=key,
                        status=NoticeStatus.PENDING.value, attempts=0, next_attempt_at=now)
    session.add(delivery)
    session.flush()
    return delivery


def _claim(store: Store, now: datetime, batch: int, lease: timedelta) -> tuple[list[int], datetime]:
    """Lease up to ``batch`` due deliveries; returns their ids and the lease's end. A lease still
    running is another daemon's (or a crashed one's, until it expires); settling a delivery ends
    its lease and, on failure, puts its next attempt after ``now``, so one pass meets each
    delivery once."""
    return store.write(lambda session: lease_due_deliveries(session, now, batch, lease))


def _release(store: Store, ids: list[int], until: datetime) -> None:
    """Give back the leases of deliveries claimed and not sent (the daemon is stopping), in one
    short transaction, so the next start or another daemon sends them at once instead of
    after the lease. Only leases still ours (same end) are released: one that ran out and was
    taken over by another daemon is that daemon's now."""
    store.write(lambda session: release_leases(session, ids, until))


def claim_size(config: NotifierConfig, batch: int) -> int:
    """How many deliveries to lease at once: at most ``batch``, and few enough that sending every
    one of them at its channels' longest per-attempt deadline still ends within the lease (a
    lease that ran out would let another daemon send the same delivery meanwhile)."""
    longest = max((c.deadline or 0.0 for c in config.channels.values()), default=0.0)
    if longest <= 0:  # console, files: local and quick
        return batch
    return max(1, min(batch, int(config.policy.lease_seconds // longest)))


def deliver(store: Store, config: NotifierConfig, now: datetime, batch: int = 100,
            stop: threading.Event | None = None) -> DeliveryReport:
    """Expand new notices, then send every due delivery once.

    ``stop`` (the daemon's signal flag) is looked at between two expansion batches and
    between two deliveries: the send in hand finishes (each is bounded by its channel's
    per-attempt deadline), the deliveries leased and not yet sent get their lease back, and
    the pass ends. ``DeliveryReport.released`` says how many were given back.
    """
    report = DeliveryReport()
    zones: dict[int | None, str] = {}  # workflow version → its time zone, for the notices' days (_issued)
    lease = timedelta(seconds=config.policy.lease_seconds)
    size = claim_size(config, batch)
    while not _stopping(stop) and expand(store, config, now, report=report):
        pass
    while not _stopping(stop):
        ids, until = _claim(store, now, size, lease)
        if not ids:
            break
        for index, delivery_id in enumerate(ids):
            if _stopping(stop):
                _release(store, ids[index:], until)
                report.released += len(ids) - index
                log.info("stopping: %d leased deliveries released for the next start", len(ids) - index)
                return report
            _deliver_one(store, config, delivery_id, now, report, until, lease, zones)
    return report


def _stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _message(session: Session, delivery: Delivery, zones: dict[int | None, str]) -> Message:
    notice = session.get(Notice, delivery.notice_id)
    assert notice is not None
    case = session.get(Case, notice.case_id) if notice.case_id else None
    person = next((p for p in notice.recipients if p["name"] == delivery.recipient), None)
    return Message(delivery.idempotency_key, notice.title, notice.body, notice.template, case.ref if case else None,
                   person, tuple(p["name"] for p in notice.recipients), notice.id, _issued(session, notice, case, zones))


def _issued(session: Session, notice: Notice, case: Case | None, zones: dict[int | None, str]) -> date:
    """The day ``notice`` was written, in its case's workflow's zone (the newest campaign's for a
    notice of no case): the date a file channel names it by, the same on every retry. ``zones``
    keeps each workflow version's zone for the rest of the pass (a version never changes)."""
    if case is not None:
        version_id: int | None = case.workflow_version_id
    else:
        campaign = newest_campaign(session)
        version_id = campaign.current_version_id if campaign is not None else None
    if version_id not in zones:
        version = session.get(WorkflowVersion, version_id) if version_id is not None else None
        zones[version_id] = compiled_version(version).definition.timezone if version is not None else DEFAULT_TZ
    return local(notice.created_at, zones[version_id]).date()


def _described(notice_id: int | None, ref: str | None, title: str) -> str:
    """A notice as a log line names it: ``#12 2014-1-0007 催办提醒：…``."""
    return " ".join(part for part in (f"#{notice_id}", ref, title) if part)


def _deliver_one(store: Store, config: NotifierConfig, delivery_id: int, now: datetime,
                 report: DeliveryReport, held: datetime, lease: timedelta, zones: dict[int | None, str]) -> None:
    """Send one leased delivery and settle it. Its lease is renewed just before the send, so it
    covers the whole send however long the ones before took; a delivery whose lease ran out
    and was taken over meanwhile is another deliverer's: neither sent nor settled here."""
    renewed = store.write(lambda session: renew_lease(session, delivery_id, held, lease))
    if renewed is None:
        report.outcomes["taken over"] += 1
        log.warning("delivery %d: its lease ran out and another deliverer took it; not sent here", delivery_id)
        return
    with store.reading() as session:  # only reads: no write lock held for it
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        message, address = _message(session, delivery, zones), delivery.address
        where = delivery.channel if delivery.recipient == "*" else f"{delivery.channel} → {delivery.recipient}"
        described = f"{_described(message.notice_id, message.case_ref, message.title)} [{where}]"
    channel = config.channels.get(delivery.channel)
    error = None
    if channel is None:
        error = f"通知渠道“{delivery.channel}”未配置 / channel '{delivery.channel}' is not in the notifier config"
    else:
        try:
            failpoints.point("delivery.before_send")
            channel.send(message, address)  # outside any transaction: never hold a lock while talking to a server
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a channel's bug must not stop the other deliveries
            error = redact(f"{type(exc).__name__}: {exc}")
            log.error("channel %s failed: %s", delivery.channel, error)  # no traceback: it quotes secrets
    failpoints.point("delivery.after_send")

    def settle(session: Session) -> str | None:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        if delivery.leased_until != renewed:  # not ours any more: whoever holds it settles it
            return None
        return _settle(session, delivery, error, now, config)

    outcome = store.write(settle)  # the report is counted once, after the commit
    if outcome is None:
        report.outcomes["taken over"] += 1
        log.warning("delivery %d was taken over while it was being sent; left to its new holder", delivery_id)
        return
    report.outcomes[outcome] += 1
    if error is not None:
        then = "已放弃 / dead" if outcome == "dead" else "稍后重试 / will retry"
        report.errors.append(f"{described}（{then}）: {redact(error)}")


def _settle(session: Session, delivery: Delivery, error: str | None, now: datetime,
            config: NotifierConfig) -> str:
    """Record the attempt; returns its outcome: delivered, retry or dead."""
    delivery.attempts += 1
    delivery.leased_until = None
    error = None if error is None else redact(error)  # what is stored is shown, logged and quoted in alerts
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = NoticeStatus.DELIVERED.value, now, None
        outcome = "delivered"
    else:
        delivery.last_error = error
        if delivery.attempts >= config.policy.max_attempts:
            delivery.status = NoticeStatus.DEAD.value
            outcome = "dead"
            _alert(session, delivery, now, config)
        else:
            delivery.next_attempt_at = now + timedelta(seconds=config.policy.backoff(delivery.attempts))
            outcome = "retry"
    notice = session.get(Notice, delivery.notice_id)
    assert notice is not None
    notice.attempts = max(notice.attempts, delivery.attempts)
    notice.last_error = error or notice.last_error
    _settle_notice(session, notice)
    return outcome


def _settle_notice(session: Session, notice: Notice) -> None:
    session.flush()
    statuses = delivery_statuses(session, notice.id)
    if NoticeStatus.PENDING.value in statuses:
        return
    notice.status = NoticeStatus.DEAD.value if NoticeStatus.DEAD.value in statuses else NoticeStatus.DELIVERED.value


def _alert(session: Session, delivery: Delivery, now: datetime, config: NotifierConfig) -> None:
    """Tell the administrators a notice could not be delivered (never for an alert itself)."""
    notice = session.get(Notice, delivery.notice_id)
    assert notice is not None
    if notice.idempotency_key.startswith("alert:"):
        return
    session.add(alert_notice(
        "delivery_failed", f"alert:{delivery.idempotency_key}", f"通知投递失败：{notice.title}",
        (f"通知“{notice.title}”经 {delivery.attempts} 次尝试仍未能通过“{delivery.channel}”送达"
         f"{delivery.recipient if delivery.recipient != '*' else ''}。\n最后错误：{delivery.last_error}\n"
         f"处理后可执行：rectify notices retry {notice.id}\n"),
        resolve_admins(session, config.policy.alert_roles), now, case_id=notice.case_id, event_id=notice.event_id))


def retry(session: Session, notice_id: int, now: datetime) -> int:
    """Put a notice's dead (or waiting) deliveries back in the queue, due now; returns how many."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        from engine.base.errors import NotFound

        raise NotFound("notice 通知", notice_id, "list notices with 'rectify notices list'")
    if notice.status == NoticeStatus.HELD.value:
        from engine.base.errors import Refused

        raise Refused(f"通知 #{notice.id} 因缺少事实暂缓发出，不会带着空缺发送：{notice.last_error}；登记后由县委组织部另行"
                      f"发文 / notice #{notice.id} is held for missing facts and is never sent with a gap: "
                      f"record them and issue a corrected notice")
    count = 0
    for delivery in undelivered(session, notice_id, NO_CHANNEL):
        delivery.status, delivery.attempts, delivery.next_attempt_at = NoticeStatus.PENDING.value, 0, now
        count += 1
    if count or not notice.expanded:
        notice.status = NoticeStatus.PENDING.value
    return count


def counts(session: Session) -> dict[str, int]:
    """How many notices there are in each status."""
    return notice_counts(session)
