"""The daemon loop: tick, wait, repeat; stop cleanly on SIGTERM/SIGINT.

Signal handlers only set a flag: the first signal lets the current tick finish, a
second exits at once. Each tick's failure is logged with its traceback and the loop
carries on. (Delivery of the outbox, leases and systemd readiness come with the notifiers.)
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from engine.clock import utcnow
from engine.db import Store
from engine.ticker import TickReport, tick

log = logging.getLogger("rectify.daemon")


def run_until(store: Store, start: datetime, end: datetime,
              step: timedelta = timedelta(days=1)) -> Iterator[tuple[datetime, TickReport]]:
    """Simulated clock: one tick per ``step`` from ``start`` to ``end`` inclusive."""
    moment = start
    while moment <= end:
        yield moment, tick(store, moment)
        moment += step


def run_forever(store: Store, interval: float, clock: Callable[[], datetime] | None = None) -> None:
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(signum, _frame) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            log.warning("second signal %s: exiting now", signal.Signals(signum).name)
            raise SystemExit(1)
        log.info("signal %s: finishing the current tick, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("daemon started on %s, interval %.1fs", store.url, interval)
    while not stop.is_set():
        try:
            report = tick(store, (clock or utcnow)())
            if report.total or report.skipped:
                log.info("tick: fired %s, skipped %d", dict(report.fired), report.skipped)
        except Exception:
            log.exception("tick failed; retrying after the interval")
        stop.wait(interval)
    log.info("daemon stopped: signal received")
