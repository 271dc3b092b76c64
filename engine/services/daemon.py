"""Services for the daemon and its timers."""

from __future__ import annotations

from engine.db import Store
from engine.services import Access, Caller, Done, read


def may_run(store: Store, caller: Caller) -> Done[str]:
    """The time zone the daemon reads its clock in (the campaign's); a simulated clock fires
    what is not due yet, so it is an administrator's call."""
    def work(access: Access) -> str:
        if caller.clock_set:
            access.require_admin("以模拟时间（--now）运行守护进程", "run the daemon on another clock (--now)")
        return access.zone()
    return read(store, caller, work)
