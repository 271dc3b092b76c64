"""Fire what time has made due: reminders, escalations, recurring notices, automatic transitions.

Due notice timers fire in chunks, each chunk one short transaction that also writes their
notices to the outbox (engine.daemon.timer_batch); automatic transitions fire one by one. Finding
due timers reads the partial index on pending timers' due time, so a tick with nothing due
costs the same with 100 cases or 250 000. A timer
whose case has moved on is marked ``skipped`` (leaving a state cancels its timers, so
this only happens when two actors race).

No duty is dropped. An operational database error (a lock held past the busy timeout, a
lost connection, a serialization failure: ``engine.store.db.is_operational``) is the
database's trouble, not the timer's: the tick stops there, whatever it had not committed
stays pending, and the report says why so the daemon waits longer before the next tick
(engine.daemon.loop). A timer that fails for a reason of its own is set aside as ``failed``
and the administrators are alerted in the same transaction (engine.daemon.timer_admin).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from engine.base import failpoints
from engine.base.errors import Conflict, RectifyError
from engine.daemon.timer_admin import set_aside
from engine.daemon.timer_batch import BULK_KINDS, ChunkOutcome, fire_chunk
from engine.ops.bulletin import issue_due_bulletins
from engine.ops.cases import fire, record_event
from engine.ops.deploy import compiled_version
from engine.ops.duties import fire_due_duties
from engine.ops.look_back import fire_look_back
from engine.ops.notices import plan_due_notice, queue_notice
from engine.ops.officials import SYSTEM
from engine.ops.problem_timers import fire_problem_timer
from engine.ops.timers import moved_on, next_recurrence
from engine.store.db import Store, describe_operational, is_operational
from engine.store.duty_queries import due_duties
from engine.store.facts import case_facts
from engine.store.models import Case, Timer, TimerStatus
from engine.store.problem_queries import PROBLEM_TIMER_KINDS
from engine.store.timer_queries import due_timers
from notifiers.render import NoticeTemplateError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("rectify.daemon")


@dataclass
class TickReport:
    fired: Counter = field(default_factory=Counter)
    skipped: int = 0
    failed: int = 0  # timers set aside after an error (rectify timers list --failed)
    messages: list[str] = field(default_factory=list)
    unavailable: str | None = None  # the operational database error that ended the tick early

    @property
    def total(self) -> int:
        return sum(self.fired.values())


MAX_CONFLICTS = 3  # a timer whose commit conflicts this often in one tick is set aside as failed
FIRST_CHUNK, MAX_CHUNK = 4, 256  # timers per transaction: small at first (a stop costs little), then doubling


def tick(store: Store, now: datetime, batch: int = 500, stop: threading.Event | None = None) -> TickReport:
    """Fire every timer due at ``now``, in due order; then units' duties and bulletins.

    Notice timers fire in chunks, one transaction each (engine.daemon.timer_batch); automatic
    transitions, and the timers of a chunk that conflicted or failed, fire one by one, each
    in its own transaction. ``stop`` (set by a signal) ends the tick between two timers:
    what was fired is committed, and what is left is simply still due at the next start. A
    timer locked by another daemon is passed over for the rest of the tick (no busy loop);
    one whose commit keeps conflicting is set aside as failed, so the tick always ends.

    An operational database error ends the tick at once without marking anything: the
    timers it met stay pending for the next tick, one warning is logged and
    ``report.unavailable`` names the error (the daemon then backs off).
    """
    report = TickReport()
    try:
        _fire_due(store, now, batch, stop, report)
    except Exception as exc:
        if not is_operational(exc):
            raise
        report.unavailable = describe_operational(exc)
        report.messages.append(f"数据库暂时不可用，到期的定时任务留待下次 / database unavailable, due timers stay "
                               f"pending for the next tick: {report.unavailable}")
        log.warning("database unavailable: the tick stops and its due timers stay pending for the next one (%s)",
                    report.unavailable)
    return report


def _fire_due(store: Store, now: datetime, batch: int, stop: threading.Event | None, report: TickReport) -> None:
    passed_over: set[int] = set()
    conflicts: Counter = Counter()
    one_by_one: set[int] = set()
    chunk = FIRST_CHUNK
    while True:
        if stop is not None and stop.is_set():
            return
        with store.transaction() as session:
            due = due_timers(session, now, passed_over, batch)
        if not due:
            _duties(store, now, report)
            _bulletins(store, now, report)
            return
        at = 0
        while at < len(due):
            if stop is not None and stop.is_set():
                return
            if due[at].kind in BULK_KINDS and due[at].id not in one_by_one:
                ids = [d.id for d in _bulk_run(due, at, chunk, one_by_one)]
                outcome = _fire_chunk(store, ids, now, stop, report)
                if outcome is None:  # rolled back: fire them one by one, where each failure stays its own
                    one_by_one.update(ids)
                    continue
                passed_over.update(outcome.locked)
                chunk = min(2 * chunk, MAX_CHUNK)
                if outcome.rest:
                    break  # stopped (the loop returns), or a new timer is already due: keep due order
                at += len(ids)
                continue
            timer_id = due[at].id
            at += 1
            result = _fire_one(store, timer_id, now, report)
            if result == "locked":
                passed_over.add(timer_id)
            elif result == "conflict":
                conflicts[timer_id] += 1
                if conflicts[timer_id] >= MAX_CONFLICTS:
                    _mark_failed(store, timer_id, now, f"每次提交均与其他修改冲突 / its commit conflicted "
                                                       f"{MAX_CONFLICTS} times in a row", report)
                break  # read the due list again: the conflict may have been another daemon firing it
            elif result == "earlier":
                break  # it made a new timer that is already due (a missed recurrence): keep due order


def _bulk_run(due: list, at: int, size: int, one_by_one: set[int]) -> list:
    """The timers from ``at`` on that can fire in one chunk: consecutive, of the bulk kinds."""
    run = []
    for row in due[at:at + size]:
        if row.kind not in BULK_KINDS or row.id in one_by_one:
            break
        run.append(row)
    return run


def _fire_chunk(store: Store, ids: list[int], now: datetime, stop: threading.Event | None,
                report: TickReport) -> ChunkOutcome | None:
    """One chunk in one transaction; None when it was rolled back (its counts are not kept).

    An operational database error is raised on: the database, not these timers, is in
    trouble, and firing them one by one would only hammer it (the tick stops instead)."""
    try:  # a lock met past the busy timeout is retried whole first (Store.write)
        outcome = store.write(lambda session: fire_chunk(session, ids, now, stop))
    except Exception as exc:  # whatever else it was, the one-by-one path isolates it
        if is_operational(exc):
            raise
        log.info("a chunk of %d timers was rolled back (%s: %s); firing them one by one",
                 len(ids), type(exc).__name__, exc)
        return None
    report.fired.update(outcome.fired)
    report.skipped += outcome.skipped
    report.messages += outcome.messages
    return outcome


def _fire_one(store: Store, timer_id: int, now: datetime, report: TickReport) -> str:
    """Fire one timer in its own transaction; counts go into ``report`` only once committed."""
    def fire_it(session: Session) -> tuple[str, datetime | None, TickReport]:
        done = TickReport()  # afresh for each attempt: only the committed one counts
        timer = session.get(Timer, timer_id, with_for_update={"skip_locked": True})
        if timer is None:
            return "locked", None, done  # another daemon (or an official's transaction) holds it right now
        if timer.status != TimerStatus.PENDING.value:
            return "done", None, done
        failpoints.point("tick.after_claim")
        return "fired", _fire_timer(session, timer, now, done), done

    try:  # a lock met past the busy timeout is retried whole first (Store.write)
        result, following, done = store.write(fire_it)
        if result != "fired":
            return result
    except Conflict:
        return "conflict"
    except Exception as exc:  # one broken timer must not block every timer after it
        if is_operational(exc):
            raise  # not the timer's fault: it stays pending and the tick stops (see tick)
        log.exception("timer %s failed", timer_id)
        _mark_failed(store, timer_id, now, f"{type(exc).__name__}: {exc}", report)
        return "failed"
    report.fired.update(done.fired)
    report.skipped += done.skipped
    report.messages += done.messages
    return "earlier" if following is not None and following <= now else "fired"


def _mark_failed(store: Store, timer_id: int, now: datetime, error: str, report: TickReport) -> None:
    """Set a timer that cannot fire aside, with its error, so the next ones still fire; the
    administrators' alert is written in the same transaction (engine.daemon.timer_admin)."""
    with store.transaction() as session:
        # Locked: two daemons giving up on the same timer at once write one alert.
        timer = session.get(Timer, timer_id, with_for_update=True)
        if timer is None or timer.status != TimerStatus.PENDING.value:
            return
        set_aside(session, timer, now, error)
    report.failed += 1  # after the commit
    report.messages.append(f"timer {timer_id} failed: {error}")


def _duties(store: Store, now: datetime, report: TickReport, chunk: int = 200) -> None:
    """Units' duties due a reminder or an escalation (engine.ops.duties), a chunk per
    transaction until none is due."""
    while True:
        with store.transaction() as session:
            sent = fire_due_duties(session, now, chunk)
        for kind, message in sent:
            report.fired[f"duty_{kind}"] += 1
            report.messages.append(message)
        if not sent:
            with store.transaction() as session:  # the chunk may have only moved timers on: look again
                if not due_duties(session, now, 1):
                    return


def _bulletins(store: Store, now: datetime, report: TickReport) -> None:
    try:
        with store.transaction() as session:
            for key in issue_due_bulletins(session, now):
                report.fired["bulletin"] += 1
                report.messages.append(f"定期通报 / bulletin {key}")
    except Conflict:
        pass  # another daemon wrote the same bulletin at the same moment: it exists once


def _fire_timer(session: Session, timer: Timer, now: datetime, report: TickReport) -> datetime | None:
    """Fire one claimed timer; returns the due time of the timer it made next, if any."""
    case = session.get(Case, timer.case_id)
    assert case is not None
    timer.fired_at = now
    # A problem's deadline is its own, whatever the case's state (engine.ops.problem_timers).
    own = timer.kind in PROBLEM_TIMER_KINDS
    if (not own and moved_on(timer.kind, timer.state, timer.round, case.state, case.round, case.due_at, now)) \
            or (own and not fire_problem_timer(session, case, timer, now)) \
            or (timer.kind == "look_back" and not fire_look_back(session, case, timer, now)):
        timer.status = TimerStatus.SKIPPED.value  # nothing true left to say: nothing written
        report.skipped += 1
        return None
    timer.status = TimerStatus.FIRED.value
    following = None
    if timer.kind == "auto":
        _fire_auto(session, case, timer, now, report)
    elif timer.kind in ("reminder", "escalation", "recurring"):
        following = _fire_notice(session, case, timer, now, report)
    report.fired[timer.kind] += 1
    return following


def _fire_auto(session: Session, case: Case, timer: Timer, now: datetime, report: TickReport) -> None:
    trigger = timer.payload["trigger"]
    try:
        with session.begin_nested():  # a refused automatic transition must not undo the timer's status
            result = fire(session, case, trigger, SYSTEM, now, note="自动转换 / automatic transition")
    except NoticeTemplateError:
        raise  # the workflow's template is broken, not the transition refused: the timer is set aside
    except RectifyError as exc:
        timer.status = TimerStatus.SKIPPED.value
        timer.payload = {**timer.payload, "refused": str(exc)}
        report.messages.append(f"{case.ref}: automatic '{trigger}' refused: {exc}")
        log.warning("%s: automatic %s refused: %s", case.ref, trigger, exc)
        return
    report.messages.append(f"{case.ref}: {trigger} {result.source} → {result.dest}")


def _fire_notice(session: Session, case: Case, timer: Timer, now: datetime, report: TickReport) -> datetime | None:
    """A due notice fired alone: its event and outbox row (planned as the chunks plan them),
    and a recurring notice's next timer; returns that timer's due time, if any."""
    compiled = compiled_version(case.workflow_version)
    plan = plan_due_notice(compiled, case, case.due_at, timer.id, timer.kind, timer.payload, now, SYSTEM.name,
                           timer.due_at, case_facts(session, case.id))
    event = record_event(session, case, SYSTEM, now, "timer", trigger=timer.kind, data=plan.event_data)
    queue_notice(session, compiled, plan.template, plan.context, f"timer:{timer.id}", case, event, now, plan.audience)
    if timer.kind != "recurring":
        return None
    following = next_recurrence(compiled, case.id, case.state, case.round, timer.due_at, timer.payload, now,
                                case.due_at)
    if following is None:  # past the end of its window: the requests stop
        return None
    session.add(Timer(**following))
    return following["due_at"]
