"""The daemon's bulk path (engine.daemon.timer_batch) writes what the one-by-one path writes.

The same campaign runs on two databases of the same backend: one daemon fires its due
notice timers in chunks, the other one at a time (the bulk kinds switched off). Every
event, notice (title, body, recipients), timer and case head must come out the same, and
both hash chains must verify.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.daemon import ticker
from engine.daemon.ticker import tick
from engine.ops.audit import verify
from engine.ops.cases import get_case, set_fact
from engine.ops.officials import actor_for
from engine.store.db import Store
from engine.store.migrate import upgrade
from engine.store.models import AuditAnchor, Case, Event, Notice, Timer, TimerStatus
from tests.conftest import at, pg_database
from tests.county import seed_county
from tests.test_engine import LI, WANG, ZHAO, fire_, open_


@pytest.fixture
def twin(db_url, request, tmp_path):
    """A second migrated database on the same backend as ``store``."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'twin.db'}"
        s = Store(url)
        upgrade(s)
    else:
        s = Store(pg_database(request.getfixturevalue("pg_server")))
    yield s
    s.dispose()


def campaign(store: Store) -> list[str]:
    """Cases in several states and rounds, one naming its contact leader, one whose timers
    are left pending after it moved on (the race a chunk must also skip)."""
    seed_county(store)
    refs = [open_(store, org) for org in ("T1-01", "T1-02", "T1-03")] + [open_(store, "T2-01", ZHAO)]
    fire_(store, refs[0], "confirm", LI, "2014-03-05T10:00")  # recurring progress reports from here
    fire_(store, refs[1], "confirm", LI, "2014-03-12T10:00")
    with store.transaction() as s:
        set_fact(s, get_case(s, refs[0]), "contact_leader", "联系领导周", actor_for(s, WANG), at("2014-03-06"))
        get_case(s, refs[3]).round = 2  # its screening timers stay pending: they must be skipped
    return refs


def written(store: Store) -> dict[str, object]:
    """Everything the daemon wrote, without the ids (the two paths number new timers apart)."""
    with store.transaction() as s:
        refs = dict(s.execute(select(Case.id, Case.ref)).all())
        events = [(refs[e.case_id], e.seq, e.at, e.kind, e.trigger, e.round,
                   {k: v for k, v in e.data.items() if k != "timer"})
                  for e in s.scalars(select(Event).order_by(Event.id))]
        notices = [(refs.get(n.case_id) if n.case_id is not None else None, n.template, n.title, n.body, n.recipients, n.created_at, n.status,
                    n.event_id is not None)
                   for n in s.scalars(select(Notice).order_by(Notice.id))]
        timers = sorted((refs[t.case_id], t.kind, t.state, t.round, t.due_at, t.status, t.fired_at,
                         t.payload.get("occurrence")) for t in s.scalars(select(Timer)))
        # Not the version: it moves once per transaction that changes the row, not once per event.
        cases = sorted(s.execute(select(Case.ref, Case.state, Case.round, Case.event_seq, Case.event_head)).all())
        anchors = [(a.campaign_id, a.seq, refs[a.case_id], a.case_seq, a.event_hash, a.hash)
                   for a in s.scalars(select(AuditAnchor).order_by(AuditAnchor.campaign_id, AuditAnchor.seq))]
        keys_match = all(n.idempotency_key == f"timer:{e.data['timer']}" for n, e in s.execute(
            select(Notice, Event).join(Event, Notice.event_id == Event.id).where(Event.kind == "timer")))
    return {"events": events, "notices": notices, "timers": timers, "cases": cases, "keys": keys_match,
            "anchors": anchors}


def test_chunks_write_what_one_by_one_writes(store, twin, monkeypatch):
    for s in (store, twin):
        campaign(s)
    one_by_one = []
    with monkeypatch.context() as m:
        m.setattr(ticker, "_fire_one", lambda *a, _f=ticker._fire_one: one_by_one.append(a[1]) or _f(*a))
        bulk = [tick(store, at(moment)) for moment in ("2014-03-20T09:00", "2014-12-20T09:00")]
    assert len(one_by_one) == sum(r.fired["auto"] for r in bulk)  # only automatic transitions go one by one
    with monkeypatch.context() as m:
        m.setattr(ticker, "BULK_KINDS", frozenset())
        single = [tick(twin, at(moment)) for moment in ("2014-03-20T09:00", "2014-12-20T09:00")]
    assert [(r.fired, r.skipped) for r in bulk] == [(r.fired, r.skipped) for r in single]
    # Two cases rectifying since March, the daemon stopped until December: one request each,
    # naming the occurrences it missed, never the four replayed one by one.
    assert bulk[1].fired["recurring"] == 2
    progress = [n for n in written(store)["notices"] if n[1] == "progress_report_request"]
    assert len(progress) == 2
    assert all("合并为本次提醒" in n[3] for n in progress)
    # 2014-1-0004's four screening timers due (its round moved on), and 2014-1-0003's two reminders,
    # whose 03-16 deadline had passed when the daemon ran: a reminder then has nothing true to say.
    assert bulk[0].skipped == 6
    mine, theirs = written(store), written(twin)
    assert mine == theirs
    assert mine["keys"] is True
    recipients = {tuple(sorted(p["name"] for p in n[4])) for n in mine["notices"] if n[0] is not None}
    assert ("县委组织部李", "城关镇王", "联系领导周") in recipients  # the contact leader named on the case
    refs = {c for c, *_ in mine["cases"]}
    for s in (store, twin):
        with s.transaction() as session:
            problems = verify(session).problems
        # The chains hold; the one difference is the round set by hand in campaign(), which the
        # audit rightly finds (it replays each case's events against its row).
        assert [(p.where, "round" in p.problem) for p in problems] == [("2014-1-0004", True)], problems
        assert "2014-1-0004" in refs


def test_a_broken_notice_in_a_chunk_fails_alone(store, monkeypatch):
    """A template that cannot render rolls its chunk back; one by one, only its timer fails."""
    refs = campaign(store)
    with store.transaction() as s:
        broken = get_case(s, refs[2]).id  # still in screening: its reminders come due
        s.execute(update(Timer).where(Timer.case_id == broken, Timer.kind == "reminder")
                  .values(payload={"notice": "no_such_template", "offset": "1 days", "days": 1}))
    early = tick(store, at("2014-03-16T09:00"))  # both reminders due, the deadline not yet passed
    assert early.failed == 2
    report = tick(store, at("2014-03-20T09:00"))
    with store.transaction() as s:
        statuses = sorted((t.case_id == broken, t.kind, t.status) for t in s.scalars(
            select(Timer).where(Timer.due_at <= at("2014-03-20T09:00"))))
    assert statuses.count((True, "reminder", TimerStatus.FAILED.value)) == 2
    assert (True, "escalation", TimerStatus.FIRED.value) in statuses  # the same case's good timers still fire
    assert not any(st == TimerStatus.PENDING.value for _, _, st in statuses if _ is True)
    assert report.fired == {"escalation": 1, "deadline": 1}
    assert sum("failed" in m for m in early.messages) == 2
