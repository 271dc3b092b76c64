"""The daemon loop: tick, deliver, wait, repeat; stop cleanly on SIGTERM/SIGINT.

Signal handlers only set a flag: the first signal lets the timer and the send in hand
finish (the tick and the delivery pass both look at the flag between two of them), a
second exits at once. Each round's failure is logged with its traceback and the loop
carries on. When the database is unavailable (locked past the busy timeout, unreachable)
the loop backs off: see ``retry_wait``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.base.clock import utcnow
from engine.daemon.delivery import DeliveryReport, deliver
from engine.daemon.summary import delivery_words, is_troubled, tick_words
from engine.daemon.ticker import TickReport, describe_operational, is_operational, tick
from engine.store.db import Store
from notifiers.config import NotifierConfig

log = logging.getLogger("rectify.daemon")
MAX_BACKOFF = 600.0  # seconds: the longest wait between ticks while the database stays unavailable
LOG_FORMAT, LOG_TIME = "%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"


def log_to_stderr() -> None:
    """The daemon's log on stderr: its own lines (``rectify.*``) from INFO up, a library's
    (transitions, SQLAlchemy, alembic, urllib3, …) only from WARNING up, each with a readable
    time and its level; Python's warnings go the same way. A process whose logging is set up
    already (an application embedding the daemon, a test) keeps its own set-up."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_TIME))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # transitions logs "Executed callback '<function …>'" at INFO
    logging.getLogger("rectify").setLevel(logging.INFO)
    logging.captureWarnings(True)


@dataclass
class Round:
    """One simulated day: when, what the tick fired, what the delivery pass sent (None
    without a notifier config)."""

    moment: datetime
    tick: TickReport
    delivery: DeliveryReport | None


def retry_wait(interval: float, failures: int) -> float:
    """Seconds to wait before the next round after ``failures`` consecutive rounds met an
    unavailable database: the interval, doubled for each (interval × 2ⁿ), at most
    ``MAX_BACKOFF`` (or the interval, if that is longer). A database in trouble is not
    hammered, and no round is a busy loop; the first healthy round resets the count."""
    if failures <= 0:
        return interval
    return min(interval * 2 ** min(failures, 32), max(interval, MAX_BACKOFF))


def run_until(store: Store, start: datetime, end: datetime, step: timedelta = timedelta(days=1),
              config: NotifierConfig | None = None) -> Iterator[Round]:
    """Simulated clock: one tick (and a delivery pass) per ``step`` from ``start`` to ``end``.
    A tick that met an unavailable database ends the run there (its report says why)."""
    moment = start
    while moment <= end:
        report = tick(store, moment)
        if report.unavailable is not None:
            yield Round(moment, report, None)
            return
        yield Round(moment, report, deliver(store, config, moment) if config is not None else None)
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
        log.warning("无法通知 systemd / cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)


def run_forever(store: Store, interval: float, clock: Callable[[], datetime] | None = None,
                config: NotifierConfig | None = None) -> None:
    """Tick and deliver every ``interval`` seconds (longer while the database is unavailable)
    until SIGTERM or SIGINT; ``clock`` gives each round's ``now`` (default: the real time)."""
    stop = threading.Event()
    signals: dict[str, Any] = {"count": 0, "name": ""}

    def on_signal(signum, _frame) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            log.warning("再次收到信号，立即退出 / second signal %s: exiting now", signal.Signals(signum).name)
            raise SystemExit(1)
        signals["name"] = signal.Signals(signum).name
        log.info("收到信号，完成手头的任务后停止 / signal %s: finishing the current tick, then stopping",
                 signals["name"])
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    simulated = f", simulated clock 模拟时间 {clock():%Y-%m-%d %H:%M}" if clock is not None else ""
    log.info("守护进程已启动 / daemon started on %s, interval %.1fs%s", store.shown, interval, simulated)
    sd_notify("READY=1")
    failures = 0  # consecutive rounds that met an unavailable database
    while not stop.is_set():
        healthy = _round(store, (clock or utcnow)(), config, stop)
        failures = 0 if healthy else failures + 1
        wait = retry_wait(interval, failures)
        if failures:
            log.info("数据库连续 %d 次不可用 / database unavailable %d time(s) in a row: next attempt in %.1fs",
                     failures, failures, wait)
        stop.wait(wait)
    sd_notify("STOPPING=1")
    log.info("守护进程已停止 / daemon stopped: signal %s received", signals["name"])


def _round(store: Store, now: datetime, config: NotifierConfig | None, stop: threading.Event) -> bool:
    """One tick, then one delivery pass; False when the database was unavailable (the caller
    backs off). Delivery is skipped then: it would only meet the same trouble."""
    try:
        report = tick(store, now, stop=stop)
        # an unavailable database's line comes last, and the tick has logged it as a warning already
        for message in report.messages[:-1] if report.unavailable is not None else report.messages:
            log.info("%s", message)
        if report.total or report.skipped or report.failed:
            log.log(logging.WARNING if is_troubled(report) else logging.INFO, "定时任务 timers: %s", tick_words(report))
        if report.unavailable is not None:
            return False  # the tick has logged it
        if config is not None and not stop.is_set():
            sent = deliver(store, config, now, stop=stop)  # after the tick's commits: never inside a transaction
            for error in sent.errors:
                log.warning("投递失败 / delivery failed: %s", error)
            if sent.outcomes or sent.released:
                log.log(logging.WARNING if is_troubled(delivery=sent) else logging.INFO, "投递 deliveries: %s",
                        delivery_words(sent))
    except Exception as exc:
        if is_operational(exc):
            log.warning("投递时数据库不可用 / database unavailable during delivery: %s", describe_operational(exc))
            return False
        log.exception("本轮出错，间隔后再试 / tick failed; retrying after the interval")
    return True
