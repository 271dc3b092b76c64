"""No duty is dropped (issue 12): a database in trouble leaves timers due, a broken timer is
set aside with an alert to the administrators, and an administrator can list and retry them.

Real parts only: a second SQLite connection really holding the write lock, the project's
failpoints raising a real SQLAlchemy ``OperationalError`` inside the daemon's transaction,
a notice template that really fails to render on one case's data, and the daemon as a real
process for the backoff.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing

import pytest
from sqlalchemy import event, select, update

from engine.base import failpoints
from engine.base.errors import InvalidValue, NotFound
from engine.daemon import ticker
from engine.daemon.loop import MAX_BACKOFF, retry_wait
from engine.daemon.ticker import tick
from engine.daemon.timer_admin import list_timers, retry_timers
from engine.store.db import Store
from engine.store.migrate import upgrade
from engine.store.models import Notice, Official, Organization, Timer, TimerStatus
from tests.conftest import at
from tests.county import seed_county
from tests.polling import wait_until
from tests.test_engine import LI, WANG, ZHAO, fire_, open_
from tests.test_time_races import Hooked, many_cases
from tests.timed_workflow import timed_text

NOW = "2014-03-14T09:00"  # the screening reminder "3 days before the end of 03-16" is due


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """SQLite only: the test holds the database's write lock from a raw connection."""
    url = f"sqlite:///{tmp_path / 'duties.db'}"
    store = Store(url)
    upgrade(store)
    seed_county(store)
    store.dispose()
    return url


def short_busy_timeout(store: Store, millis: int = 200) -> Store:
    """The daemon's store, waiting ``millis`` for a lock instead of 10 s (runs after the
    store's own connect hook, so it has the last word)."""
    @event.listens_for(store.engine, "connect")
    def _busy(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={millis}")
        cursor.close()
    return store


def timer_rows(store) -> list[tuple[int, str, str, dict]]:
    with store.transaction() as s:
        return [(t.id, t.kind, t.status, t.payload) for t in s.scalars(select(Timer).order_by(Timer.id))]


def notice_keys(store) -> Counter:
    with store.transaction() as s:
        return Counter(s.scalars(select(Notice.idempotency_key)))


@pytest.fixture(params=["chunk", "one_by_one"])
def path(request, monkeypatch) -> str:
    """Both ways a notice timer fires: in a chunk (engine.daemon.timer_batch) or on its own."""
    if request.param == "one_by_one":
        monkeypatch.setattr(ticker, "BULK_KINDS", frozenset())
    return request.param


# --- an operational database error leaves the timer due ------------------------------------

def test_a_lock_held_past_the_busy_timeout_leaves_the_timer_due_and_the_next_tick_fires_it(
        sqlite_url, path, caplog):
    store = Store(sqlite_url)
    open_(store)
    daemon = short_busy_timeout(Hooked(sqlite_url))
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    # Between the daemon's read of its due list (transaction 1) and its firing of the reminder:
    # an official's long write holds the lock past the daemon's busy timeout.
    daemon.after_commit = lambda n: holder.execute("BEGIN IMMEDIATE") if n == 1 else None
    with caplog.at_level(logging.WARNING, logger="rectify.daemon"):
        report = tick(daemon, at(NOW))
    holder.execute("ROLLBACK")
    holder.close()
    assert report.unavailable is not None
    assert "database is locked" in report.unavailable
    assert report.total == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "database is locked" in warnings[0]
    # Nothing marked: the lock was the database's trouble, not the timer's. No notice, no alert.
    assert {status for _, _, status, _ in timer_rows(store)} == {"pending"}
    assert notice_keys(store) == Counter()
    daemon.after_commit = None
    again = tick(daemon, at(NOW))
    assert again.unavailable is None
    assert again.fired == {"reminder": 1}
    assert tick(daemon, at(NOW)).total == 0
    fired = [tid for tid, kind, status, _ in timer_rows(store) if kind == "reminder" and status == "fired"]
    assert len(fired) == 1
    assert notice_keys(store) == Counter({f"timer:{fired[0]}": 1})
    daemon.dispose()
    store.dispose()


def test_a_database_error_while_firing_never_fails_the_timer(county, path):
    """On both backends: the driver's OperationalError, raised inside the firing transaction."""
    open_(county)
    open_(county, "T2-01", ZHAO)
    failpoints.arm("tick.after_claim", "dberror")
    try:
        report = tick(county, at(NOW))
    finally:
        failpoints.arm("tick.after_claim", None)
    assert report.unavailable is not None
    assert "database unavailable (failpoint tick.after_claim)" in report.unavailable
    assert report.total == 0
    assert any("database unavailable" in m for m in report.messages)
    assert {status for _, _, status, _ in timer_rows(county)} == {"pending"}
    assert notice_keys(county) == Counter()
    assert tick(county, at(NOW)).fired == {"reminder": 2}
    keys = notice_keys(county)
    assert sum(1 for k in keys if k.startswith("timer:")) == 2
    assert set(keys.values()) == {1}
    assert not any(key.startswith("alert:") for key in keys)


def test_the_wait_doubles_while_the_database_stays_unavailable_up_to_a_cap():
    assert [retry_wait(60, n) for n in range(5)] == [60, 120, 240, 480, MAX_BACKOFF]
    assert retry_wait(60, 10_000) == MAX_BACKOFF  # no overflow, however long the outage
    assert retry_wait(0.2, 1) == 0.4
    assert retry_wait(900, 3) == 900  # an interval longer than the cap is never shortened


@pytest.mark.slow
def test_the_daemon_backs_off_after_a_database_error_then_fires_every_timer_once(tmp_path):
    """A real daemon process whose first firing transaction meets a database error."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = Store(url)
    upgrade(store)
    many_cases(store, 6)
    env = {**os.environ, "RECTIFY_DB": url, "RECTIFY_NOW": NOW, "PYTHONUNBUFFERED": "1",
           "RECTIFY_FAILPOINTS": "tick.after_claim=dberror"}  # only the first time the point is reached
    daemon = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "daemon", "--interval", "0.2"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: _reminders(tmp_path / "d.db") == 6, "the daemon has fired the six reminders")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, log = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, log
    assert log.count("database unavailable: the tick stops") == 1, log
    assert "database unavailable 1 time(s) in a row: next attempt in 0.4s" in log
    statuses = Counter(status for _, _, status, _ in timer_rows(store))
    assert statuses["failed"] == 0
    assert statuses["fired"] >= 6
    keys = notice_keys(store)
    assert set(keys.values()) == {1}
    assert not any(k.startswith("alert:") for k in keys)
    store.dispose()


def _reminders(path) -> int:
    """Reminders committed so far, read without the write lock (as tests/test_time_races does)."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*) FROM notices WHERE template = 'deadline_reminder'").fetchone()[0]


# --- a timer that fails for a reason of its own --------------------------------------------

@pytest.fixture
def brittle(store, workflow_copy):
    """The county, with a reminder template that calls the secretary by surname (张书记): it
    passes the workflow check (the sample has a secretary) and fails for an organization
    whose secretary is not recorded. 城关镇王 is the county's administrator."""
    workflow_copy.write_text(timed_text(workflow_copy.read_text(encoding="utf-8")), encoding="utf-8")
    template = workflow_copy.parent / "templates" / "deadline_reminder.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("请抓紧推进", "请{{ case.secretary[0] }}书记抓紧推进"), encoding="utf-8")
    seed_county(store, workflow_copy)
    with store.transaction() as s:
        s.execute(update(Official).where(Official.name == WANG).values(admin=True, admin_since=at("2014-03-01")))
    return store


def secretary(store, code: str, name: str | None) -> None:
    with store.transaction() as s:
        s.execute(update(Organization).where(Organization.code == code).values(secretary_name=name))


def test_a_timer_whose_notice_cannot_render_is_set_aside_with_an_alert_and_retried_after_the_fix(brittle, path):
    store = brittle
    broken, moved_on = open_(store, "T1-01"), open_(store, "T1-03")
    open_(store, "T2-01", ZHAO)  # its secretary is recorded: its reminder fires
    secretary(store, "T1-01", None)
    secretary(store, "T1-03", None)
    report = tick(store, at(NOW))
    assert report.fired == {"reminder": 1}
    assert report.unavailable is None
    failed = list_timers_(store, failed=True)
    assert [(r["case"], r["kind"], r["status"], r["notice"]) for r in failed] == [
        (moved_on, "reminder", "failed", "deadline_reminder"), (broken, "reminder", "failed", "deadline_reminder")]
    assert all("NoticeTemplateError" in r["error"] and "deadline_reminder" in r["error"] for r in failed)
    assert failed[1]["organization"] == "城关镇第1村党支部"
    broken_id, moved_id = failed[1]["id"], failed[0]["id"]
    with store.transaction() as s:
        alert = s.scalars(select(Notice).where(Notice.idempotency_key == f"alert:timer:{broken_id}")).one()
        reminders = list(s.scalars(select(Notice.case_id).where(Notice.template == "deadline_reminder")))
    assert len(reminders) == 1
    assert alert.title == f"定时提醒未能生成：{broken} 催办提醒（deadline_reminder）"
    assert [p["name"] for p in alert.recipients] == [WANG]  # the administrator, not the whole county department
    assert f"rectify timers retry {broken_id}" in alert.body
    assert "NoticeTemplateError" in alert.body
    assert alert.status == "pending"  # in the outbox, delivered like any notice

    # The administrators fix the cause (the secretaries are recorded); one case has moved on meanwhile.
    secretary(store, "T1-01", "张三")
    fire_(store, moved_on, "confirm", LI, "2014-03-14T10:00")
    with store.transaction() as s:
        outcomes = retry_timers(s, [broken_id, moved_id], at("2014-03-14T11:00"))
    assert [(o.timer_id, o.outcome) for o in outcomes] == [(broken_id, "queued"), (moved_id, "skipped")]
    assert "is due again" in outcomes[0].message
    assert "has left state 'screening'" in outcomes[1].message
    assert list_timers_(store, failed=True) == []
    row = next(r for r in list_timers_(store, due_at=at("2014-03-14T11:00")) if r["id"] == broken_id)
    assert (row["status"], row["error"], row["due_at"]) == ("pending", None, at("2014-03-14"))  # due as planned
    assert tick(store, at("2014-03-14T11:00")).fired == {"reminder": 1}
    keys = notice_keys(store)
    assert keys[f"timer:{broken_id}"] == 1
    assert f"timer:{moved_id}" not in keys
    assert keys[f"alert:timer:{broken_id}"] == 1
    assert keys[f"alert:timer:{moved_id}"] == 1
    assert dict(Counter(status for tid, _, status, _ in timer_rows(store) if tid in (broken_id, moved_id))) == {
        "fired": 1, "skipped": 1}


def test_a_timer_that_fails_again_after_a_retry_alerts_again(brittle):
    store = brittle
    open_(store, "T1-01")
    secretary(store, "T1-01", None)
    tick(store, at(NOW))
    (failed,) = list_timers_(store, failed=True)
    with store.transaction() as s:
        assert [o.outcome for o in retry_timers(s, [failed["id"]], at(NOW))] == ["queued"]
    tick(store, at(NOW))  # not fixed: it fails again
    keys = notice_keys(store)
    assert keys[f"alert:timer:{failed['id']}"] == 1
    assert keys[f"alert:timer:{failed['id']}:2"] == 1


def test_retry_refuses_unknown_timers_and_leaves_others_alone(county):
    open_(county)
    before = timer_rows(county)
    pending = before[0][0]
    with pytest.raises(NotFound, match="timer not found: 999"), county.transaction() as s:
        retry_timers(s, [pending, 999], at(NOW))
    with county.transaction() as s:
        (outcome,) = retry_timers(s, [pending, pending], at(NOW))
    assert outcome.outcome == "unchanged"
    assert "not failed" in outcome.message
    assert timer_rows(county) == before


def list_timers_(store, **kw) -> list[dict]:
    with store.reading() as s:
        return list_timers(s, **kw)


def test_listing_pending_timers_by_due_time_reads_the_earliest_first(county):
    refs = [open_(county, "T1-01"), open_(county, "T2-01", ZHAO, when="2014-03-06")]
    with county.transaction() as s:
        expected = [(t.id, t.due_at) for t in s.scalars(
            select(Timer).where(Timer.status == "pending", Timer.due_at <= at("2014-03-18"))
            .order_by(Timer.due_at, Timer.id))]
    rows = list_timers_(county, due_at=at("2014-03-18"))
    assert [(r["id"], r["due_at"]) for r in rows] == expected
    assert {r["kind"] for r in rows} == {"reminder", "deadline", "escalation"}  # the 03-24 escalation is later
    assert {r["case"] for r in rows} == set(refs)
    assert all(r["error"] is None for r in rows)
    assert [r["id"] for r in list_timers_(county, due_at=at("2014-03-18"), limit=3)] == [i for i, _ in expected[:3]]
    assert len(list_timers_(county)) == len(timer_rows(county))  # every pending one
    assert list_timers_(county, failed=True) == []
    with pytest.raises(InvalidValue, match="choose one of --failed and --due"):
        list_timers_(county, failed=True, due_at=at(NOW))
    with pytest.raises(InvalidValue, match="at least 1"):
        list_timers_(county, limit=0)


def test_failed_timers_are_listed_newest_first_with_their_error(county):
    for org, who in (("T1-01", WANG), ("T1-02", WANG), ("T2-01", ZHAO)):
        open_(county, org, who)
    with county.transaction() as s:  # two reminders name a template that does not exist
        ids = list(s.scalars(select(Timer.id).where(Timer.kind == "reminder").order_by(Timer.due_at, Timer.id)))[:2]
        for timer in s.scalars(select(Timer).where(Timer.id.in_(ids))):
            timer.payload = {**timer.payload, "notice": "no_such_template"}
    assert tick(county, at(NOW)).fired["reminder"] == 1
    rows = list_timers_(county, failed=True)
    assert [r["id"] for r in rows] == sorted(ids, reverse=True)
    assert all(r["status"] == TimerStatus.FAILED.value and "no template 'no_such_template'" in r["error"]
               for r in rows)
    assert [r["id"] for r in list_timers_(county, failed=True, limit=1)] == [max(ids)]
    with county.transaction() as s:  # no administrator registered yet: the county department is alerted
        recipients = {tuple(p["name"] for p in n.recipients) for n in s.scalars(
            select(Notice).where(Notice.template == "timer_failed"))}
    assert recipients == {(LI,)}


# --- the same through the command line -----------------------------------------------------

def test_an_administrator_lists_and_retries_failed_timers_from_the_command_line(brittle, monkeypatch):
    import engine.ops.identity
    from tests.runner import Rectify

    store = brittle
    broken = open_(store, "T1-01")
    secretary(store, "T1-01", None)
    tick(store, at(NOW))
    with store.transaction() as s:
        s.execute(update(Official).where(Official.name == WANG).values(login="wang"))
        s.execute(update(Official).where(Official.name == ZHAO).values(login="zhao"))
    run = Rectify(store.url)
    monkeypatch.setattr(engine.ops.identity, "os_login", lambda: "zhao")
    assert "only an administrator may put timers back in the queue" in run("timers", "retry", "1", code=1).output
    assert "covers the whole county" in run("timers", "list", "--failed", code=1).output  # 赵 is a township's
    monkeypatch.setattr(engine.ops.identity, "os_login", lambda: "wang")
    [row] = run.json("timers", "list", "--failed")
    assert (row["case"], row["status"], row["notice"]) == (broken, "failed", "deadline_reminder")
    assert "NoticeTemplateError" in row["error"]
    assert row["due_at"].startswith("2014-03-1")
    assert "failed timers (1)" in run("timers", "list", "--failed").stdout
    secretary(store, "T1-01", "张三")
    out = run("--now", "2014-03-14T11:00", "timers", "retry", str(row["id"])).stdout
    assert f"timer {row['id']} of case {broken} is due again" in out
    assert run.json("timers", "list", "--failed") == []
    assert [r["id"] for r in run.json("--now", "2014-03-14T11:00", "timers", "list", "--due")] == [row["id"]]
    assert "timer not found: 999" in run("timers", "retry", "999", code=2).output
