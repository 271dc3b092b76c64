"""Services for the daemon and its timers."""

from __future__ import annotations

from typing import Any

from engine.base.clock import fmt
from engine.daemon import timer_admin
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store


def may_run(store: Store, caller: Caller) -> Done[str]:
    """The time zone the daemon reads its clock in (the campaign's); a simulated clock fires
    what is not due yet, so it is an administrator's call."""
    def work(access: Access) -> str:
        if caller.clock_set:
            access.require_admin("以模拟时间（--now）运行守护进程", "run the daemon on another clock (--now)")
        return access.zone()
    return read(store, caller, work)


def list_timers(store: Store, caller: Caller, *, failed: bool = False, due: bool = False,
                limit: int = 50) -> Done[list[dict[str, Any]]]:
    """Pending timers (all, or those due at the caller's clock with ``due``) or failed ones,
    with times shown in the campaign's zone: a county-wide read."""
    def work(access: Access) -> list[dict[str, Any]]:
        access.require_everything("定时任务", "the daemon's timers")
        zone = access.zone()
        rows = timer_admin.list_timers(access.session, failed=failed, due_at=access.now(zone) if due else None,
                                       limit=limit)
        return [{**row, "due_at": fmt(row["due_at"], zone), "fired_at": fmt(row["fired_at"], zone)} for row in rows]
    return read(store, caller, work)


def retry_timers(store: Store, caller: Caller, ids: list[int]) -> Done[list[timer_admin.RetryOutcome]]:
    """Put failed timers back in the queue once the cause is fixed (an administrator's act)."""
    def work(access: Access) -> list[timer_admin.RetryOutcome]:
        access.require_admin("重新排队定时任务", "put timers back in the queue")
        return timer_admin.retry_timers(access.session, ids, access.now(access.zone()))
    return write(store, caller, work)
