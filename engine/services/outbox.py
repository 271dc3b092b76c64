"""Services on the notice outbox: list, show, export, preview, put back in the queue.

An official sees the notices of the cases inside their jurisdiction; notices that belong to
no case (bulletins, alerts) are county-wide and shown to county-wide readers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.base.clock import fmt
from engine.base.errors import InvalidValue, NotFound
from engine.base.text import many_lines
from engine.daemon import delivery
from engine.ops.cases import get_case
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.notice_preview import (
    PreviewedUse,
    case_subject,
    preview_use,
    sample_subject,
    select_uses,
)
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store
from engine.store.models import Case, Notice, NoticeStatus
from engine.store.outbox_queries import deliveries_of, notices_within


def _readable_within(access: Access) -> str | None:
    """The path of the jurisdiction whose notices the caller may read; None for every notice
    (an administrator, or a county-wide jurisdiction, reads those of no case too)."""
    scope = access.scope()
    if scope is None or scope.parent_id is None:
        return None
    return scope.path


def _notice(access: Access, notice_id: int) -> Notice:
    """A notice the caller may read: refused (and recorded) outside their jurisdiction."""
    notice = access.session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice 通知", notice_id, "list notices with 'rectify notices list'")
    case = access.session.get(Case, notice.case_id) if notice.case_id else None
    if case is not None:
        access.require_case(case)
    else:
        access.require_everything(f"通知 #{notice_id}", f"notice #{notice_id}")
    return notice


def list_notices(store: Store, caller: Caller, *, status: str | None = None, case_ref: str | None = None,
                 limit: int = 50, unreached: bool = False, before: int | None = None) -> Done[list[dict[str, Any]]]:
    """Notices newest first (``unreached``: only those with an audience that reached nobody;
    ``before``: only those older than that notice, a page after the one that ended there)."""
    def work(access: Access) -> list[dict[str, Any]]:
        within = _readable_within(access)
        case_id = access.require_case(get_case(access.session, case_ref)).id if case_ref else None
        zone = access.zone()
        found = notices_within(access.session, within, status=status, case_id=case_id, limit=limit,
                               unreached=unreached, before=before)
        return [{"id": n.id, "created": fmt(n.created_at, zone), "template": n.template, "title": n.title,
                 "number": n.document_number or "", "status": n.status, "attempts": n.attempts, "recipients": [p["name"] for p in n.recipients],
                 "last_error": n.last_error, "unreached": list(n.unreached or [])} for n in found]
    return read(store, caller, work)


def show_notice(store: Store, caller: Caller, notice_id: int) -> Done[dict[str, Any]]:
    """A notice's text, template hash, recipients and each delivery's status."""
    def work(access: Access) -> dict[str, Any]:
        n = _notice(access, notice_id)
        zone = access.zone()
        rows = deliveries_of(access.session, n.id)
        return {"id": n.id, "key": n.idempotency_key, "template": n.template, "template_hash": n.template_hash,
                "title": n.title, "number": n.document_number or "", "body": n.body, "status": n.status,
                "last_error": n.last_error, "created": fmt(n.created_at, zone),
                "recipients": n.recipients, "unreached": list(n.unreached or []),
                "deliveries": [{"channel": d.channel, "address": d.address, "recipient": d.recipient,
                                "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
                                "next_attempt": fmt(d.next_attempt_at, zone),
                                "delivered": fmt(d.delivered_at, zone), "key": d.idempotency_key}
                               for d in rows]}
    return read(store, caller, work)


@dataclass(frozen=True)
class NoticeText:
    title: str
    body: str
    key: str


def notice_text(store: Store, caller: Caller, notice_id: int) -> Done[NoticeText]:
    def work(access: Access) -> NoticeText:
        n = _notice(access, notice_id)
        return NoticeText(n.title, n.body, n.idempotency_key)
    return read(store, caller, work)


def retry_notice(store: Store, caller: Caller, notice_id: int) -> Done[int]:
    """Put a notice's undelivered deliveries back in the queue (an administrator's act)."""
    def work(access: Access) -> int:
        access.require_admin("重新投递通知", "put notices back in the queue")
        return delivery.retry(access.session, notice_id, access.now())
    return write(store, caller, work)


def retry_dead_notices(store: Store, caller: Caller, limit: int = 500) -> Done[tuple[int, int]]:
    """Put the newest ``limit`` dead notices back in the queue, as ``retry_notice`` does one (an
    administrator's act, once the cause is fixed); returns how many notices and deliveries. At most
    ``limit`` in one transaction: a county whose channel was down for weeks presses again."""
    def work(access: Access) -> tuple[int, int]:
        access.require_admin("重新投递通知", "put notices back in the queue")
        dead = notices_within(access.session, None, status=NoticeStatus.DEAD.value, case_id=None, limit=limit)
        now = access.now()
        return len(dead), sum(delivery.retry(access.session, n.id, now) for n in dead)
    return write(store, caller, work)


def may_deliver(store: Store, caller: Caller) -> Done[datetime]:
    """The moment to deliver at: the caller's clock; another time than now is an
    administrator's act."""
    def work(access: Access) -> datetime:
        if caller.clock_set:
            access.require_admin("以其他时间（--now）投递通知", "deliver at another time (--now)")
        return access.now(access.zone())
    return read(store, caller, work)


@dataclass(frozen=True)
class NoticePreview:
    """A template as each of its uses renders it, for a real case or the sample case."""

    template: str
    workflow: str  # name@vN: the deployed version whose uses and templates these are
    case: str | None  # the case's reference; None: the sample case
    zone: str  # the workflow's time zone, to show ``at`` in
    uses: list[PreviewedUse]


def preview(store: Store, caller: Caller, template: str, ref: str | None = None, *, use: int | None = None,
            note: str | None = None, campaign_ref: str | None = None) -> Done[NoticePreview]:
    """Render ``template`` for each use the deployed workflow makes of it (or use number ``use``),
    for case ``ref`` within the caller's jurisdiction, else for the sample case of the campaign's
    current workflow; the bulletin with a case shows the county's figures, for county-wide
    readers only. Nothing is written or sent."""
    note = note and many_lines(note, "备注", "the note")
    if ref is not None and campaign_ref is not None:
        raise InvalidValue("整顿对象已确定所属专项整治，不必再用 --campaign / a case names its campaign: "
                           "drop --campaign")

    def work(access: Access) -> NoticePreview:
        case = access.require_case(get_case(access.session, ref)) if ref is not None else None
        if case is None:
            access.scope()  # an official's read: a login that is no official is refused
            version = resolve_campaign(access.session, campaign_ref).current_version
        else:
            version = case.workflow_version
        compiled = compiled_version(version)
        uses = select_uses(compiled, template, use)
        if case is not None and any(u.kind == "bulletin" for u in uses):
            access.require_everything("定期通报", "the periodic bulletin")
        subject = (sample_subject(compiled) if case is None
                   else case_subject(access.session, compiled, case, access.now(case), access.actor_name()))
        shown = [preview_use(access.session, compiled, u, subject, note) for u in uses]
        return NoticePreview(template, f"{version.name}@v{version.version}", case.ref if case else None,
                             compiled.definition.timezone, shown)
    return read(store, caller, work)
