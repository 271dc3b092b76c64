"""Timers that could not fire: set aside with an alert, listed, and put back after the fix.

A reminder or an escalation is a duty an official is held accountable by, so none may
disappear quietly. A timer that fails for a reason of its own (a notice template that
raises on this case's data, a bug) is set aside as ``failed`` with its error, and in the
same transaction an alert goes to the administrators saying what failed and what to run
once the cause is fixed. An operational database error never comes here: the timer stays
due and the next tick tries again (engine.daemon.ticker). The front ends (``rectify timers list``,
``rectify timers retry``) call ``list_timers`` and ``retry_timers``; like every engine
function they take the caller's session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import fmt
from engine.base.errors import InvalidValue, NotFound
from engine.ops.deploy import compiled_version
from engine.ops.notices import alert_notice, resolve_admins
from engine.store.admin_queries import active_administrators
from engine.store.models import Case, Notice, Organization, Timer, TimerStatus
from engine.store.outbox_queries import notice_key_taken
from engine.store.timer_queries import timers_listed, timers_locked

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

KIND_LABELS = {"reminder": "催办提醒", "escalation": "逾期督办通报", "recurring": "定期提醒", "auto": "自动转换",
               "deadline": "期限", "problem_reminder": "问题整改提醒", "problem_escalation": "问题逾期督办",
               "look_back": "回头看"}
# Alerted when no administrator is registered yet (bootstrap): the county department, as a
# dead delivery's alert goes by default (notifiers.config.DeliveryPolicy.alert_roles).
FALLBACK_ROLES = ("county_department",)
ERROR_SHOWN = 2000  # characters of an error quoted in an alert


def set_aside(session: Session, timer: Timer, now: datetime, error: str) -> Notice:
    """Mark a timer ``failed`` with its error and queue an alert to the administrators, in the
    caller's transaction (the one that gives up on the timer: both are written or neither)."""
    timer.status, timer.fired_at = TimerStatus.FAILED.value, now
    timer.payload = {**timer.payload, "error": error}
    case = session.get(Case, timer.case_id)
    assert case is not None
    org = session.get(Organization, case.organization_id)
    wf = compiled_version(case.workflow_version).definition
    state = wf.states[timer.state].label if timer.state in wf.states else timer.state
    what = _label(timer)
    headline = "自动转换未能执行" if timer.kind == "auto" else "定时提醒未能生成"
    shown = error if len(error) <= ERROR_SHOWN else error[:ERROR_SHOWN] + "…"
    body = (f"{org.name if org else ''}（{case.ref}）“{state}”阶段第{timer.round}轮的{what}"
            f"（定时任务 #{timer.id}，应于 {fmt(timer.due_at, wf.timezone)} 执行）未能完成，已暂停，不会自动重试。\n"
            f"错误：{shown}\n"
            f"排除原因后请执行：rectify timers retry {timer.id}\n"
            f"Timer {timer.id} ({timer.kind}, {what}) of case {case.ref} could not fire and is set aside; "
            f"after fixing the cause, run: rectify timers retry {timer.id}\n")
    notice = alert_notice("timer_failed", _alert_key(session, timer.id), f"{headline}：{case.ref} {what}", body,
                          administrators(session), now, case_id=case.id)
    session.add(notice)
    return notice


def _label(timer: Timer) -> str:
    """What the timer was to do, as an official names it: 催办提醒（deadline_reminder）, 自动转换 restart…"""
    detail = timer.payload.get("notice") or timer.payload.get("trigger")
    label = KIND_LABELS.get(timer.kind, timer.kind)
    return f"{label}（{detail}）" if detail else label


def _alert_key(session: Session, timer_id: int) -> str:
    """``alert:timer:<id>``; a timer that fails again after a retry alerts again, as ``…:2``, ``…:3``."""
    attempt = 1
    while True:
        key = f"alert:timer:{timer_id}" + (f":{attempt}" if attempt > 1 else "")
        if not notice_key_taken(session, key):
            return key
        attempt += 1


def administrators(session: Session) -> list[dict[str, Any]]:
    """Who hears of a timer set aside: the active administrators, who may retry it; before any
    is registered, the county department (``FALLBACK_ROLES``), so the alert always has readers
    when the county has officials at all."""
    found = [{"name": o.name, "role": o.role, "email": o.email, "phone": o.phone, **(o.channels or {})}
             for o in active_administrators(session)]
    return found or resolve_admins(session, FALLBACK_ROLES)


def list_timers(session: Session, *, failed: bool = False, due_at: datetime | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
    """Timers for an administrator to look at, at most ``limit``, as plain rows.

    - ``failed=True``: the timers set aside, newest first (by id, along the primary key);
    - ``due_at=T``: the pending timers due at ``T`` or before, earliest first;
    - neither: every pending timer, earliest first.

    Pending timers are read along the partial index on their due time, so the cost is the
    rows returned, not the size of the campaign. Each row: ``id``, ``case`` (its reference),
    ``organization``, ``kind``, ``state``, ``round``, ``due_at`` (aware UTC datetime),
    ``status``, ``notice`` (the notice template, or the trigger of an automatic transition),
    ``fired_at`` (when it fired, failed or was skipped) and ``error`` (None unless failed).
    """
    if failed and due_at is not None:
        raise InvalidValue("--failed 与 --due 不能同时使用 / choose one of --failed and --due")
    if limit < 1:
        raise InvalidValue(f"数量必须是正数 / the limit must be at least 1, not {limit}")
    rows = timers_listed(session, failed=failed, due_at=due_at, limit=limit)
    return [_row(timer, ref, org) for timer, ref, org in rows]


def _row(timer: Timer, ref: str, organization: str) -> dict[str, Any]:
    payload = timer.payload or {}
    return {"id": timer.id, "case": ref, "organization": organization, "kind": timer.kind, "state": timer.state,
            "round": timer.round, "due_at": timer.due_at, "status": timer.status,
            "notice": payload.get("notice") or payload.get("trigger"), "fired_at": timer.fired_at,
            "error": payload.get("error") if timer.status == TimerStatus.FAILED.value else None}


@dataclass(frozen=True)
class RetryOutcome:
    """What ``retry_timers`` did with one timer: ``queued`` (pending again, due now),
    ``skipped`` (its case has moved on: it will never fire) or ``unchanged`` (it was not failed)."""

    timer_id: int
    outcome: str
    message: str  # Chinese and English, for the front end to print


def retry_timers(session: Session, ids: list[int], now: datetime) -> list[RetryOutcome]:
    """Put failed timers back in the queue, after the cause of their failure was fixed.

    A failed timer whose case is still in the timer's state and round becomes pending again,
    its error cleared, due at once: its due time is kept when already past (the order of
    due timers and the rhythm of a recurring notice stay as planned) and is ``now``
    otherwise. One whose case has moved on is marked ``skipped``, keeping its error. Any
    unknown id raises ``NotFound`` (and the caller's transaction writes nothing); a timer
    that is not failed is left as it is. One outcome per id, in the order given.
    """
    wanted = list(dict.fromkeys(ids))
    timers = {t.id: t for t in timers_locked(session, wanted)}
    missing = [i for i in wanted if i not in timers]
    if missing:
        raise NotFound("timer 定时任务", ", ".join(map(str, missing)),
                       "list the failed ones with 'rectify timers list --failed'")
    return [_retry_one(session, timers[i], now) for i in wanted]


def _retry_one(session: Session, timer: Timer, now: datetime) -> RetryOutcome:
    if timer.status != TimerStatus.FAILED.value:
        return RetryOutcome(timer.id, "unchanged", f"定时任务 #{timer.id} 的状态是 {timer.status}，不是 failed，未作改动 / "
                                                   f"timer {timer.id} is {timer.status}, not failed: left as it is")
    case = session.get(Case, timer.case_id)
    assert case is not None
    if case.state != timer.state or case.round != timer.round:
        timer.status, timer.fired_at = TimerStatus.SKIPPED.value, now
        return RetryOutcome(timer.id, "skipped",
                            f"整顿对象 {case.ref} 已离开“{timer.state}”阶段第{timer.round}轮，定时任务 #{timer.id} 作废，"
                            f"不再发出 / case {case.ref} has left state '{timer.state}' (round {timer.round}): "
                            f"timer {timer.id} is skipped, not fired")
    timer.status, timer.fired_at = TimerStatus.PENDING.value, None
    timer.due_at = min(timer.due_at, now)
    timer.payload = {k: v for k, v in timer.payload.items() if k != "error"}
    return RetryOutcome(timer.id, "queued", f"定时任务 #{timer.id}（{case.ref}）已重新排队，守护进程下一次运行时发出 / "
                                            f"timer {timer.id} of case {case.ref} is due again: the daemon's next "
                                            "tick fires it")
