"""Time and races (issue 6): a timer met twice or after its case moved on, a deadline
escalation racing an official, clock jumps, and a daemon stopped in the middle of a tick.

Races are made deterministic with real stores and real connections: ``Hooked`` runs test
code between (or inside) the daemon's own transactions, and on PostgreSQL the test waits
until the other connection is really blocked on a row lock before letting the first one
commit. Every test here runs on SQLite and PostgreSQL unless it says otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update

from engine.base.clock import local
from engine.base.errors import Conflict
from engine.daemon.ticker import tick
from engine.ops.cases import fire, get_case, open_case, set_fact
from engine.ops.deploy import resolve_campaign
from engine.ops.officials import actor_for
from engine.ops.orgs import OrgRow, import_organizations
from engine.store.db import Store
from engine.store.migrate import upgrade
from engine.store.models import (
    Case,
    Delivery,
    Event,
    Notice,
    NoticeStatus,
    OrgKind,
    Timer,
    TimerStatus,
)
from tests.conftest import at
from tests.county import seed_county
from tests.polling import wait_until
from tests.servers import Hook
from tests.test_engine import LI, WANG, fire_, open_, snapshot, state_of

SETTLED = {TimerStatus.FIRED.value, TimerStatus.CANCELLED.value, TimerStatus.SKIPPED.value,
           TimerStatus.FAILED.value}


class Hooked(Store):
    """A real store that runs test code at a chosen point of each of its transactions.

    Transactions are numbered from 1. ``before_commit(n)`` runs inside transaction n after
    its body (its rows written and locked, not yet committed); ``after_commit(n)`` runs
    once it has committed. ``tick`` reads its due list in its first transaction and fires
    the first chunk of timers in its second, so ``after_commit(1)`` is "between the
    daemon's read of the due list and its claim of the first timer".
    """

    def __init__(self, url: str):
        super().__init__(url)
        self.count = 0
        self.before_commit: Callable[[int], None] | None = None
        self.after_commit: Callable[[int], None] | None = None

    @contextmanager
    def transaction(self) -> Iterator:
        self.count += 1
        number = self.count
        with super().transaction() as session:
            yield session
            if self.before_commit is not None:
                self.before_commit(number)
        if self.after_commit is not None:
            self.after_commit(number)


class Worker(threading.Thread):
    """A thread that keeps its function's result or exception for the test to inspect."""

    def __init__(self, fn: Callable[[], object]):
        super().__init__(daemon=True)
        self.fn = fn
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # handed to the test, which asserts on it
            self.error = exc


def notices(store) -> list[tuple[str, str | None]]:
    """(template, case ref) of every notice, in the order they were written."""
    with store.transaction() as s:
        refs = dict(s.execute(select(Case.id, Case.ref)).all())
        return [(n.template, refs.get(n.case_id)) for n in s.scalars(select(Notice).order_by(Notice.id))]


def timers_of(store, ref) -> list[tuple[str, str, datetime, datetime | None]]:
    """(kind, status, due, fired/cancelled at) of a case's timers, by due time."""
    with store.transaction() as s:
        case = get_case(s, ref)
        return [(t.kind, t.status, t.due_at, t.fired_at) for t in s.scalars(
            select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at, Timer.id))]


def timer_events(store) -> int:
    with store.transaction() as s:
        return s.scalar(select(func.count()).select_from(Event).where(Event.kind == "timer")) or 0


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def wait_for_lock_waiter(store, timeout: float = 20) -> None:
    """Return once another connection to this PostgreSQL database is blocked on a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.transaction() as s:
            waiting = s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'"))
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the other connection never blocked on a lock: the race was not set up")


# --- 5. a timer met again, or met after its case moved on ----------------------------------

def test_a_timer_fires_once_however_often_the_daemon_ticks(county):
    ref = open_(county)
    first = tick(county, at("2014-03-14T09:00"))  # reminder 3 days before the end of 03-16
    assert (first.fired, first.skipped) == ({"reminder": 1}, 0)
    before = snapshot(county)
    for moment in ("2014-03-14T09:00", "2014-03-14T09:00:01", "2014-03-15T23:59"):
        again = tick(county, at(moment))
        assert (again.total, again.skipped) == (0, 0), moment
    assert snapshot(county) == before
    assert notices(county) == [("deadline_reminder", ref)]
    reminder = timers_of(county, ref)[0]
    assert reminder == ("reminder", "fired", at("2014-03-14"), at("2014-03-14T09:00"))  # fired_at not rewritten
    assert timer_events(county) == 1


def test_a_daemon_that_read_its_due_list_before_another_daemon_fired_it_writes_nothing(county, db_url):
    refs = [open_(county, org) for org in ("T1-01", "T1-02")]
    now = at("2014-03-14T09:00")
    rival, late = Store(db_url), Hooked(db_url)
    won = []
    late.after_commit = lambda n: won.append(tick(rival, now)) if n == 1 else None
    try:
        lost = tick(late, now)
    finally:
        rival.dispose()
        late.dispose()
    assert [r.fired for r in won] == [{"reminder": 2}]
    assert (lost.total, lost.skipped) == (0, 0)
    assert late.count >= 4, "the late daemon should have tried to claim the timers it had read as due"
    assert notices(county) == [("deadline_reminder", refs[0]), ("deadline_reminder", refs[1])]
    assert timer_events(county) == 2
    for ref in refs:
        assert timers_of(county, ref)[0][1:] == ("fired", at("2014-03-14"), now)


def test_two_daemons_ticking_at_once_fire_every_timer_once(county, db_url):
    refs = [open_(county, f"T1-0{i}") for i in range(1, 7)]
    # Due: the deadline and the first escalation of each case; its two reminders too, but the
    # deadline they announce has passed: they are skipped, once.
    now = at("2014-03-20T09:00")
    stores = [Store(db_url), Store(db_url)]
    workers = [Worker(lambda s=s: tick(s, now)) for s in stores]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    for s in stores:
        s.dispose()
    assert [w.error for w in workers] == [None, None]
    fired = Counter()
    for w in workers:
        fired.update(w.result.fired)  # type: ignore[attr-defined]
    assert fired == {"deadline": 6, "escalation": 6}
    assert sum(w.result.skipped for w in workers) == 12  # type: ignore[attr-defined]
    assert sorted(notices(county)) == sorted([("overdue_escalation", r) for r in refs])
    assert timer_events(county) == 6
    with county.transaction() as s:
        keys = s.scalars(select(Notice.idempotency_key)).all()
    assert len(keys) == len(set(keys)) == 6


def test_a_timer_of_a_case_an_official_moved_on_stays_cancelled(county):
    ref = open_(county)
    fire_(county, ref, "confirm", LI, "2014-03-10T10:00")
    before = snapshot(county)
    report = tick(county, at("2014-03-20T09:00"))  # every screening timer but one is past due
    assert (report.total, report.skipped) == (0, 0)
    assert snapshot(county) == before
    screening = [t for t in timers_of(county, ref) if t[2] < at("2014-04-01")]
    assert [(k, st, fired) for k, st, _, fired in screening] == [
        ("reminder", "cancelled", at("2014-03-10T10:00")), ("reminder", "cancelled", at("2014-03-10T10:00")),
        ("deadline", "cancelled", at("2014-03-10T10:00")), ("escalation", "cancelled", at("2014-03-10T10:00")),
        ("escalation", "cancelled", at("2014-03-10T10:00"))]
    assert notices(county) == [("case_listed", ref)]


@pytest.mark.parametrize("moved", [{"state": "rectifying"}, {"round": 2}], ids=["state", "round"])
def test_a_pending_timer_of_a_case_that_moved_on_is_skipped_and_writes_nothing(county, moved):
    """Leaving a state cancels its timers in the same transaction, so this needs the race
    simulated: the case changes under a timer that is still pending."""
    ref = open_(county)
    with county.transaction() as s:
        case = get_case(s, ref)
        for name, value in moved.items():
            setattr(case, name, value)
    before = snapshot(county)
    report = tick(county, at("2014-03-20T09:00"))  # reminders 03-14 and 03-16, deadline 03-17, escalation 03-18
    assert (report.total, report.skipped) == (0, 4)
    after = snapshot(county)
    assert (after["events"], after["notices"]) == (before["events"], before["notices"])
    assert [(k, st) for k, st, _, _ in timers_of(county, ref)] == [
        ("reminder", "skipped"), ("reminder", "skipped"), ("deadline", "skipped"), ("escalation", "skipped"),
        ("escalation", "pending")]
    assert tick(county, at("2014-03-20T09:00")).skipped == 0  # a skipped timer is settled, not met again


def test_a_timer_that_can_never_commit_does_not_hold_the_daemon_forever(county, db_url):
    """A timer set back to pending after it fired (by hand, or a partial restore of the
    timers table) meets its own notice's unique key: the daemon must set it aside and
    return, not retry it in a loop."""
    ref = open_(county)
    tick(county, at("2014-03-14T09:00"))
    with county.transaction() as s:
        s.execute(update(Timer).where(Timer.status == "fired").values(status="pending"))
    stop = threading.Event()
    looping = Hooked(db_url)
    looping.after_commit = lambda n: stop.set() if n >= 50 else None  # a sound tick needs about 4
    try:
        report = tick(looping, at("2014-03-14T09:00"), stop=stop)
    finally:
        looping.dispose()
    # The unique key keeps the outbox right (one reminder), and the administrators hear of the
    # timer set aside (engine.daemon.timer_admin)…
    assert notices(county) == [("deadline_reminder", ref), ("timer_failed", ref)]
    assert timer_events(county) == 1
    assert looping.count < 50, f"tick ran {looping.count} transactions and reported {dict(report.fired)}"
    assert timers_of(county, ref)[0][1] != "pending"  # …and the timer says why it did not fire again


# --- 6. a deadline escalation racing an official's transition ------------------------------

def past_deadline(store) -> str:
    """A case whose 03-16 deadline has passed; its deadline fired on 03-17 (its reminders, come
    due too late to say anything true, skipped)."""
    ref = open_(store)
    report = tick(store, at("2014-03-17T09:00"))
    assert (report.fired, report.skipped) == ({"deadline": 1}, 2)
    return ref


def test_official_first_then_the_daemon_the_escalation_is_cancelled(county):
    ref = past_deadline(county)
    assert fire_(county, ref, "confirm", LI, "2014-03-18T10:00")[0] == "rectifying"  # escalation due 00:00
    report = tick(county, at("2014-03-18T10:05"))
    assert (report.total, report.skipped) == (0, 0)
    escalations = [t for t in timers_of(county, ref) if t[0] == "escalation" and t[2] < at("2014-04-01")]
    assert [(st, fired) for _, st, _, fired in escalations] == [
        ("cancelled", at("2014-03-18T10:00")), ("cancelled", at("2014-03-18T10:00"))]
    assert tick(county, at("2014-03-25T09:00")).fired == {"bulletin": 1}  # and the 7-day one never fires
    assert notices(county) == [("case_listed", ref),
                               ("county_bulletin", None)]
    assert timer_events(county) == 0  # the late reminders were skipped: no event


def test_official_fires_between_the_daemons_read_and_its_claim(county, db_url):
    ref = past_deadline(county)
    daemon = Hooked(db_url)
    moved = []
    daemon.after_commit = lambda n: moved.append(fire_(county, ref, "confirm", LI, "2014-03-18T10:00")) \
        if n == 1 else None
    try:
        report = tick(daemon, at("2014-03-18T10:00"))
    finally:
        daemon.dispose()
    assert [m[0] for m in moved] == ["rectifying"]
    assert (report.total, report.skipped) == (0, 0)
    assert daemon.count >= 3, "the daemon should have tried to claim the escalation it had read as due"
    assert notices(county) == [("case_listed", ref)]
    assert [t[1] for t in timers_of(county, ref) if t[0] == "escalation" and t[2] < at("2014-04-01")] == [
        "cancelled", "cancelled"]


def test_daemon_first_then_the_official_the_transition_cancels_the_rest(county):
    ref = past_deadline(county)
    assert tick(county, at("2014-03-18T09:00")).fired == {"escalation": 1}
    assert fire_(county, ref, "confirm", LI, "2014-03-18T10:00")[0] == "rectifying"
    escalations = [t for t in timers_of(county, ref) if t[0] == "escalation" and t[2] < at("2014-04-01")]
    assert [(st, fired) for _, st, _, fired in escalations] == [
        ("fired", at("2014-03-18T09:00")), ("cancelled", at("2014-03-18T10:00"))]
    assert tick(county, at("2014-03-25T09:00")).fired == {"bulletin": 1}
    assert notices(county) == [
                               ("overdue_escalation", ref), ("case_listed", ref), ("county_bulletin", None)]
    with county.transaction() as s:
        kinds = s.execute(select(Event.kind, Event.trigger).where(Event.case_id == get_case(s, ref).id)
                          .order_by(Event.seq)).all()
    assert kinds == [("opened", None), ("timer", "escalation"), ("transition", "confirm")]


def test_postgres_official_commits_while_the_daemon_is_ticking(county, db_url):
    """The official's transaction holds the escalation's row when the daemon meets it: the
    daemon passes it by (SKIP LOCKED) and, once the official commits, finds it cancelled."""
    if not is_postgres(db_url):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the two cannot overlap")
    ref = past_deadline(county)
    holding, release = threading.Event(), threading.Event()

    def official():
        with county.transaction() as s:
            result = fire(s, get_case(s, ref), "confirm", actor_for(s, LI), at("2014-03-18T10:00"))
            s.flush()
            holding.set()
            release.wait(20)
            return result.dest

    worker = Worker(official)
    worker.start()
    assert holding.wait(20)
    daemon = Hooked(db_url)
    daemon.after_commit = lambda n: release.set() if n >= 2 else None  # after it met the locked escalation
    try:
        report = tick(daemon, at("2014-03-18T10:00"))
    finally:
        release.set()
        worker.join(20)
        daemon.dispose()
    assert (worker.error, worker.result) == (None, "rectifying")
    assert (report.total, report.skipped) == (0, 0)
    assert notices(county) == [("case_listed", ref)]
    assert timer_events(county) == 0  # the late reminders were skipped: no event
    assert [t[1] for t in timers_of(county, ref) if t[0] == "escalation" and t[2] < at("2014-04-01")] == [
        "cancelled", "cancelled"]


def test_postgres_daemon_commits_while_the_official_fires_the_official_conflicts(county, db_url):
    """The daemon holds the escalation it is firing; the official read the case before and
    blocks on that row: when the daemon commits, the official's change is refused whole."""
    if not is_postgres(db_url):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the two cannot overlap")
    ref = past_deadline(county)
    loaded = threading.Event()

    def official():
        with county.transaction() as s:
            case, actor = get_case(s, ref), actor_for(s, LI)
            loaded.set()
            return fire(s, case, "confirm", actor, at("2014-03-18T10:00")).dest

    worker = Worker(official)
    daemon = Hooked(db_url)

    def hold_the_escalation(n: int) -> None:
        if n == 2:  # the escalation fired, its notice written, not committed yet
            worker.start()
            assert loaded.wait(20)
            wait_for_lock_waiter(county)

    daemon.before_commit = hold_the_escalation
    try:
        report = tick(daemon, at("2014-03-18T10:00"))
    finally:
        daemon.dispose()
    worker.join(20)
    assert report.fired == {"escalation": 1}
    assert isinstance(worker.error, Conflict), worker.error
    assert state_of(county, ref) == ("screening", 1)
    assert notices(county) == [("overdue_escalation", ref)]
    assert [(k, st) for k, st, due, _ in timers_of(county, ref) if due < at("2014-04-01")] == [
        ("reminder", "skipped"), ("reminder", "skipped"), ("deadline", "fired"), ("escalation", "fired"),
        ("escalation", "pending")]  # the official's cancellation was rolled back with the rest
    assert fire_(county, ref, "confirm", LI, "2014-03-18T10:01")[0] == "rectifying"  # trying again works
    assert [(k, st) for k, st, due, _ in timers_of(county, ref) if k == "escalation" and due < at("2014-04-01")] \
        == [("escalation", "fired"), ("escalation", "cancelled")]


def fact_races_reminder(county, db_url):
    """PostgreSQL: an official records a fact while the daemon fires the case's reminder; the
    daemon's write waits on the official's row and conflicts when the official commits."""
    if not is_postgres(db_url):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the two cannot overlap")
    ref = open_(county)
    holding, release = threading.Event(), threading.Event()

    def official():
        with county.transaction() as s:
            set_fact(s, get_case(s, ref), "measures", "整改措施", actor_for(s, WANG), at("2014-03-14T09:00"))
            holding.set()
            release.wait(20)

    worker = Worker(official)
    worker.start()
    assert holding.wait(20)
    daemon = Store(db_url)
    ticking = Worker(lambda: tick(daemon, at("2014-03-14T09:00")))
    ticking.start()
    try:
        wait_for_lock_waiter(county)
    finally:
        release.set()
        worker.join(20)
        ticking.join(20)
        daemon.dispose()
    assert (worker.error, ticking.error) == (None, None)
    return ref, ticking.result


def test_postgres_a_reminder_that_loses_a_race_to_a_fact_fires_once_in_the_same_tick(county, db_url):
    ref, report = fact_races_reminder(county, db_url)
    assert report.fired == {"reminder": 1}  # the conflicted attempt is not counted
    assert notices(county) == [("deadline_reminder", ref)]
    assert timers_of(county, ref)[0][:2] == ("reminder", "fired")
    with county.transaction() as s:
        kinds = s.execute(select(Event.kind, Event.trigger).where(Event.case_id == get_case(s, ref).id)
                          .order_by(Event.seq)).all()
    # The official committed first; the daemon's first attempt was refused whole and redone after it.
    assert kinds == [("opened", None), ("fact", None), ("timer", "reminder")]


# --- 7. clock jumps -------------------------------------------------------------------------

def test_a_timer_does_not_fire_a_moment_before_it_is_due(county):
    ref = open_(county)
    due = at("2014-03-14").astimezone(timezone.utc)  # the first reminder, given in UTC: zones must not matter
    for early in (due - timedelta(seconds=1), due - timedelta(microseconds=1)):
        report = tick(county, early)
        assert (report.total, report.skipped) == (0, 0), early
    assert notices(county) == []
    report = tick(county, due)
    assert report.fired == {"reminder": 1}
    assert notices(county) == [("deadline_reminder", ref)]
    assert timers_of(county, ref)[0][1:] == ("fired", due, due)


def test_after_a_jump_back_nothing_fires_again(county):
    refs = [open_(county, org) for org in ("T1-01", "T1-02")]
    assert tick(county, at("2014-03-25T09:00")).fired == {"deadline": 2, "escalation": 4, "bulletin": 1}
    before = snapshot(county)
    for moment in ("2014-03-14T00:00", "2014-03-01T00:00", "2014-03-24T23:59", "2014-03-25T09:00"):
        report = tick(county, at(moment))
        assert (report.total, report.skipped) == (0, 0), moment
    assert snapshot(county) == before
    for ref in refs:
        # every timer settled once: the reminders skipped (due before their deadline passed), the rest fired
        assert {(k, st) for k, st, _, _ in timers_of(county, ref)} == {
            ("reminder", "skipped"), ("deadline", "fired"), ("escalation", "fired")}


def test_after_a_jump_back_no_earlier_bulletin_is_written(county):
    open_(county)
    assert tick(county, at("2014-04-25T09:00")).fired == {"deadline": 1, "escalation": 2,
                                                          "bulletin": 1}  # April's; March's was passed over
    report = tick(county, at("2014-03-25T09:00"))  # the clock is set back a month
    assert report.total == 0, f"fired {dict(report.fired)} after the clock went back"


def test_a_jump_forward_fires_each_overdue_timer_once_in_due_order(county):
    a, b = open_(county, "T1-01"), open_(county, "T1-02")
    report = tick(county, at("2014-03-30T09:00"))  # from 03-05 over every screening due time
    # The reminders of 03-14 and 03-16 come due after their deadline: skipped, never sent late.
    assert (report.fired, report.skipped) == ({"deadline": 2, "escalation": 4, "bulletin": 1}, 4)
    # (due, id) order interleaves the two cases; the order of creation would not.
    assert notices(county) == [("overdue_escalation", a), ("overdue_escalation", b),  # 03-18
                               ("overdue_escalation", a), ("overdue_escalation", b),  # 03-24
                               ("county_bulletin", None)]
    with county.transaction() as s:
        titles = s.scalars(select(Notice.title).where(Notice.template == "overdue_escalation")
                           .order_by(Notice.id)).all()
    assert len(titles) == 4
    with county.transaction() as s:
        bodies = s.scalars(select(Notice.body).where(Notice.template == "overdue_escalation")).all()
    # Written on 03-30, each states the delay as it is on 03-30, not its timer's planned offset.
    assert all("应于3月16日前完成，截至3月30日已逾期14天" in b for b in bodies)
    assert tick(county, at("2014-03-30T09:00")).total == 0


def recurring_case(store) -> str:
    """A case confirmed on 03-05: progress reports every two months, the 11-30 deadline."""
    ref = open_(store)
    fire_(store, ref, "confirm", LI, "2014-03-05T10:00")
    return ref


def test_a_jump_forward_sends_one_request_naming_the_missed_ones_and_stops_at_the_window(county):
    """Issue 13's finding: a daemon started in 2026 on the 2014 campaign sent 679 progress-report
    requests in one tick. The missed occurrences are named in one request, and requests stop
    with the state's deadline (11-30 here): none is planned for 2015."""
    ref = recurring_case(county)
    report = tick(county, at("2014-12-20T09:00"))
    assert report.fired == {"recurring": 1, "deadline": 1, "escalation": 2, "bulletin": 1}
    assert report.skipped == 2  # the 11-30 deadline's reminders, due before it and fired after it
    assert Counter(notices(county)) == {("case_listed", ref): 1, ("progress_report_request", ref): 1,
                                        ("overdue_escalation", ref): 2, ("county_bulletin", None): 1}
    with county.transaction() as s:
        (event,) = s.scalars(select(Event).where(Event.kind == "timer", Event.trigger == "recurring"))
        body = s.scalar(select(Notice.body).where(Notice.template == "progress_report_request"))
    assert (event.data["occurrence"], event.data["missed"]) == (1, 3)
    assert "本应于5月5日及7月5日、9月5日、11月5日发出的4次报送提醒" in body
    assert [k for k, st, _, _ in timers_of(county, ref) if st == "pending" and k == "recurring"] == []
    assert tick(county, at("2014-12-20T09:00")).total == 0


def test_a_jump_forward_fires_what_is_due_in_due_order(county):
    ref = recurring_case(county)
    tick(county, at("2014-12-20T09:00"))
    with county.transaction() as s:
        case_id = get_case(s, ref).id
        due = {t.id: (t.kind, local(t.due_at, "Asia/Shanghai").strftime("%m-%d"))
               for t in s.scalars(select(Timer).where(Timer.case_id == case_id))}
        fired = [due[e.data["timer"]] for e in s.scalars(
            select(Event).where(Event.case_id == case_id, Event.kind == "timer").order_by(Event.seq))]
    assert fired == [("recurring", "05-05"), ("escalation", "12-02"), ("escalation", "12-16")]


def test_recurring_requests_on_time_are_sent_one_by_one_until_the_window_ends(county):
    recurring_case(county)
    for moment in ("2014-05-05T11:00", "2014-07-05T11:00", "2014-09-05T11:00", "2014-11-05T11:00",
                   "2015-01-05T11:00"):
        tick(county, at(moment))
    with county.transaction() as s:
        occurrences = [(e.data["occurrence"], e.data.get("missed")) for e in s.scalars(
            select(Event).where(Event.kind == "timer", Event.trigger == "recurring").order_by(Event.id))]
        bodies = list(s.scalars(select(Notice.body).where(Notice.template == "progress_report_request")))
    assert occurrences == [(1, None), (2, None), (3, None), (4, None)]  # none after 11-30
    assert len(bodies) == 4
    assert not any("合并" in b for b in bodies)


# --- 9. SIGTERM in the middle of a tick, then a restart ------------------------------------

CASES = 50
DB_FILE = "daemon.db"
NOW = "2014-03-16T09:00"  # both screening reminders of every case due, their deadline not yet passed


def many_cases(store, n: int) -> None:
    seed_county(store)
    rows = [OrgRow(i, f"T1-V{i:03d}", f"城关镇第{i}组党支部", OrgKind.VILLAGE, "T1", None, None)
            for i in range(1, n + 1)]
    with store.transaction() as s:
        import_organizations(s, rows, "generated")
        campaign, actor = resolve_campaign(s, None), actor_for(s, WANG)
        for row in rows:
            open_case(s, campaign, row.code, actor, at("2014-03-05"))


def committed_notices(path) -> int:
    """Notices committed so far, read without the write lock every ``Store`` transaction takes
    on SQLite (BEGIN IMMEDIATE): polling through it would queue behind the daemon's writes."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*) FROM notices").fetchone()[0]


def left_in_flight(store) -> dict[str, object]:
    """What a stopped daemon must not leave behind, and what it must have kept consistent."""
    with store.transaction() as s:
        timers = s.execute(select(Timer.id, Timer.kind, Timer.status)).all()
        keys = set(s.scalars(select(Notice.idempotency_key)))
        leased = s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status == NoticeStatus.PENDING.value, Delivery.leased_until.is_not(None)))
    with_notice = [(status, f"timer:{tid}" in keys) for tid, kind, status in timers if kind != "deadline"]
    return {
        "unsettled timers": Counter(st for _, _, st in timers if st not in SETTLED | {TimerStatus.PENDING.value}),
        "fired without a notice": sum(1 for st, has in with_notice if st == "fired" and not has),
        "pending with a notice": sum(1 for st, has in with_notice if st == "pending" and has),
        "leased deliveries": leased,
    }


CLEAN = {"unsettled timers": Counter(), "fired without a notice": 0, "pending with a notice": 0,
         "leased deliveries": 0}


@pytest.fixture
def sqlite_store(tmp_path):
    """SQLite only: the daemon runs three times as a real process, too slow to repeat per backend."""
    store = Store(f"sqlite:///{tmp_path / DB_FILE}")
    upgrade(store)
    yield store
    store.dispose()


@pytest.mark.slow
def test_sigterm_mid_tick_leaves_nothing_claimed_and_a_restart_delivers_every_notice_once(
        sqlite_store, tmp_path, http_server):
    store = sqlite_store
    many_cases(store, CASES)
    config = tmp_path / "notifiers.yaml"
    config.write_text(json.dumps({"channels": {"hook": {"type": "webhook", "url": f"{http_server}/ok"}},
                                  "delivery": {"max_attempts": 3}}), encoding="utf-8")
    env = {**os.environ, "RECTIFY_DB": store.url, "RECTIFY_NOW": NOW, "RECTIFY_CONFIG": str(config),
           "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", "import cli; cli.main()", "daemon"]

    gate = tmp_path / "gate"
    gate.mkdir()

    def start(faults: str = "") -> subprocess.Popen:
        return subprocess.Popen([*cmd, "--interval", "0.2"], env={**env, "RECTIFY_FAILPOINTS": faults}, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def stop(daemon: subprocess.Popen) -> str:
        daemon.send_signal(signal.SIGTERM)
        (gate / "tick.after_claim.go").touch()  # a daemon held at the failpoint goes on, and meets the signal
        _, log = daemon.communicate(timeout=60)
        assert daemon.returncode == 0, log
        assert "daemon stopped: signal SIGTERM" in log
        return log

    expected = 2 * CASES  # two reminders per case
    # 1. SIGTERM while the tick is firing timers: held at its 40th timer (a chunk's worth have
    # been committed before it; the daemon fires hundreds in a blink otherwise).
    first = start(f"tick.after_claim=pause:{gate}@40")
    wait_until(lambda: (gate / "tick.after_claim.reached").exists(), "the daemon has fired a few timers")
    stop(first)
    fired_before_stop = committed_notices(tmp_path / DB_FILE)
    assert 5 <= fired_before_stop < expected, "the signal should arrive while timers are still being fired"
    assert left_in_flight(store) == CLEAN
    # 2. Restarted, and SIGTERM again while it delivers.
    second = start()
    wait_until(lambda: len(Hook.requests) >= 5, "the restarted daemon has delivered a few notices")
    at_signal = len(Hook.requests)
    stop(second)
    assert at_signal < expected, "the signal should arrive while notices are still being delivered"
    assert left_in_flight(store) == CLEAN
    # 3. One more run finishes whatever is left.
    done = subprocess.run([*cmd, "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert left_in_flight(store) == CLEAN
    with store.transaction() as s:
        templates = Counter(s.scalars(select(Notice.template)))
        notice_status = Counter(s.scalars(select(Notice.status)))
        deliveries = s.execute(select(Delivery.idempotency_key, Delivery.status, Delivery.attempts)).all()
        timer_status = Counter(s.scalars(select(Timer.status)))
    assert templates == {"deadline_reminder": 2 * CASES}
    assert timer_status == {"fired": 2 * CASES, "pending": 3 * CASES}  # the deadline and escalations: not due yet
    assert notice_status == {"delivered": expected}
    assert Counter((st, n) for _, st, n in deliveries) == {("delivered", 1): expected}
    received = Counter(json.loads(body)["key"] for _, _, body in Hook.requests)
    assert received == {key: 1 for key, _, _ in deliveries}  # every notice reached the hook exactly once
