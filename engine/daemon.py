"""The daemon loop: tick, wait, repeat; stop cleanly on SIGTERM/SIGINT.

Signal handlers only set a flag: the first signal lets the current tick finish, a
second exits at once. Each tick's failure is logged with its traceback and the loop
carries on. (Delivery of the outbox, leases and systemd readiness come with the notifiers.)
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from engine.clock import utcnow
from engine.db import Store
from engine.delivery import deliver
from engine.ticker import TickReport, tick
from notifiers.config import NotifierConfig

log = logging.getLogger("rectify.daemon")


def run_until(store: Store, start: datetime, end: datetime, step: timedelta = timedelta(days=1),
              config: NotifierConfig | None = None) -> Iterator[tuple[datetime, TickReport]]:
    """Simulated clock: one tick (and a delivery pass) per ``step`` from ``start`` to ``end``."""
    moment = start
    while moment <= end:
        report = tick(store, moment)
        if config is not None:
            deliver(store, config, moment)
        yield moment, report
        moment += step


def sd_notify(state: str) -> None:
    """Tell systemd (``Type=notify``) about our state; a no-op when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)


def run_forever(store: Store, interval: float, clock: Callable[[], datetime] | None = None,
                config: NotifierConfig | None = None) -> None:
    stop = threading.Event()
    signals: dict[str, Any] = {"count": 0, "name": ""}

    def on_signal(signum, _frame) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            log.warning("second signal %s: exiting now", signal.Signals(signum).name)
            raise SystemExit(1)
        signals["name"] = signal.Signals(signum).name
        log.info("signal %s: finishing the current tick, then stopping", signals["name"])
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("daemon started on %s, interval %.1fs", store.shown, interval)
    sd_notify("READY=1")
    while not stop.is_set():
        try:
            now = (clock or utcnow)()
            report = tick(store, now, stop=stop)
            if report.total or report.skipped:
                log.info("tick: fired %s, skipped %d", dict(report.fired), report.skipped)
            if config is not None and not stop.is_set():
                sent = deliver(store, config, now)  # after the tick's commits: never inside a transaction
                if sent.outcomes:
                    log.info("delivery: %s", dict(sent.outcomes))
                for error in sent.errors:
                    log.warning("delivery failed: %s", error)
        except Exception:
            log.exception("tick failed; retrying after the interval")
        stop.wait(interval)
    sd_notify("STOPPING=1")
    log.info("daemon stopped: signal %s received", signals["name"])
