"""Services for the daemon and its timers."""

from __future__ import annotations

from engine.db import Store
from engine.services import Access, Caller, Done, read


def may_run(store: Store, caller: Caller) -> Done[None]:
    """The daemon on a simulated clock fires what is not due yet: an administrator's call."""
    def work(access: Access) -> None:
        if caller.clock_set:
            access.require_admin("以模拟时间（--now）运行守护进程", "run the daemon on another clock (--now)")
    return read(store, caller, work)
