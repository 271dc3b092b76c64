"""Concurrency and crash safety with real processes, on SQLite and PostgreSQL.

Processes are held or killed at named failpoints (engine/base/failpoints.py): one official's
command between its read and its write while another commits; a transition killed between
any two of its writes; a delivery killed between send and settle; several daemons at once.
The workflow is tests/fixtures/pingpong: cases move back and forth as often as a test needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.base import failpoints
from engine.base.failpoints import FailpointError
from engine.ops.cases import fire, get_case, open_case
from engine.ops.deploy import deploy, resolve_campaign
from engine.ops.officials import actor_for, add_official
from engine.ops.orgs import OrgRow, import_organizations
from engine.spec.loader import load_workflow_file
from engine.store.db import Store
from engine.store.models import Case, Delivery, Event, Notice, OrgKind, Timer, TimerStatus
from tests.conftest import ROOT, at
from tests.polling import wait_for_file, wait_until
from tests.runner import fingerprint
from tests.servers import Hook

pytestmark = pytest.mark.slow  # real processes killed, racing and stressed

PINGPONG = ROOT / "tests" / "fixtures" / "pingpong" / "pingpong.yaml"
START = "2014-03-05T10:00"


def seed(store: Store, cases: int) -> list[str]:
    """A county of ``cases`` organizations under one township, each a pingpong case in 'ping'."""
    loaded = load_workflow_file(PINGPONG)
    rows = [OrgRow(1, "X", "××县", OrgKind.COUNTY, None, None, None),
            OrgRow(2, "T1", "城关镇党委", OrgKind.TOWNSHIP, "X", None, None)]
    rows += [OrgRow(i + 3, f"V{i:04d}", f"城关镇第{i}村党支部", OrgKind.VILLAGE, "T1", None, None) for i in range(cases)]
    with store.transaction() as s:
        import_organizations(s, rows, "generated")
        deploy(s, loaded, "admin", at("2014-03-01"))
        add_official(s, "李明", "county_department", "X", loaded.definition.roles)
        add_official(s, "王强", "township_committee", "T1", loaded.definition.roles)
        campaign, actor = resolve_campaign(s, None), actor_for(s, "王强")
        return [open_case(s, campaign, f"V{i:04d}", actor, at(START)).ref for i in range(cases)]


@pytest.fixture
def seeded(store):
    return store, seed(store, 4)


def rectify(db_url: str, *args: str, faults: str = "", timeout: float = 60,
            popen: bool = False) -> subprocess.CompletedProcess | subprocess.Popen:
    env = {**os.environ, "RECTIFY_DB": db_url, "RECTIFY_FAILPOINTS": faults}
    env.pop("RECTIFY_USER", None)
    env.pop("RECTIFY_NOW", None)
    cmd = [sys.executable, "-c", "import cli; cli.main()", *args]
    if popen:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def count(store: Store, model, *where) -> int:
    with store.transaction() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- two officials at once ---------------------------------------------------------------

def test_two_processes_fire_on_one_case_exactly_one_commits(seeded, db_url, tmp_path):
    store, refs = seeded
    gate = tmp_path / "gate"
    gate.mkdir()
    fire_go = ("--as", "李明", "--now", "2014-03-06T09:00", "fire", refs[0], "go")
    first = rectify(db_url, *fire_go, faults=f"fire.before_write=pause:{gate}", popen=True)
    wait_for_file(gate / "fire.before_write.reached")  # read the case, judged it, wrote nothing yet
    if db_url.startswith("sqlite"):
        # SQLite: the second asks for the write lock the first holds (BEGIN IMMEDIATE) and waits.
        second = rectify(db_url, *fire_go, faults=f"sqlite.begin_write=mark:{gate}", popen=True)
        wait_for_file(gate / "sqlite.begin_write.reached")
        (gate / "fire.before_write.go").touch()
        out1, out2 = first.communicate(timeout=60), second.communicate(timeout=60)
        winner, loser = (first, out1), (second, out2)
        assert "'go' is not allowed in state 'pong'" in loser[1][1]  # it saw the case as it now is
    else:
        second = rectify(db_url, *fire_go, popen=True)
        out2 = second.communicate(timeout=60)  # PostgreSQL: the second reads, writes and commits
        assert second.returncode == 0, out2
        (gate / "fire.before_write.go").touch()
        out1 = first.communicate(timeout=60)
        winner, loser = (second, out2), (first, out1)
        assert "the case changed while you were acting" in loser[1][1]
    assert winner[0].returncode == 0, winner[1]
    assert loser[0].returncode == 1
    assert "Traceback" not in loser[1][1]
    with store.transaction() as s:
        case = get_case(s, refs[0])
        assert (case.state, case.event_seq) == ("pong", 2)
        notices = list(s.scalars(select(Notice.idempotency_key).where(Notice.case_id == case.id)))
    assert notices == [f"{refs[0]}:event:2:moved_notice"]  # the loser's outbox row does not exist


STRESS_WORKER = """
import json, random, sys
from engine.ops.cases import get_case
from engine.store.db import Store
from engine.base.errors import Conflict, DatabaseUnavailable, TransitionRefused
from engine.services import Caller
from engine.services.cases import fire
url, refs, n, seed = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
rng, store = random.Random(seed), Store(url)
caller = Caller("stress", as_name="李明", now_text="2014-03-06T09:00")  # bootstrap: --as is allowed
done = {"ok": 0, "conflict": 0, "refused": 0, "lock": 0, "other": []}
for i in range(n):
    ref = rng.choice(refs)
    with store.reading() as s:  # as an official looks before acting: the state may change meanwhile
        trigger = "go" if get_case(s, ref).state == "ping" else "back"
    try:
        fire(store, caller, ref, trigger)  # the service every front end calls: busy means retried whole
        done["ok"] += 1
    except Conflict:
        done["conflict"] += 1
    except TransitionRefused:
        done["refused"] += 1
    except DatabaseUnavailable as exc:
        done["lock"] += 1
        done["other"].append(str(exc))
store.dispose()
print(json.dumps(done))
"""
BURNER = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def test_eight_processes_and_a_daemon_two_hundred_transitions_each(seeded, db_url, tmp_path):
    """8 officials' processes × 200 transitions on 4 cases, while a daemon fires the daily
    reminders of every case that comes back to 'ping' (its clock is a month ahead), and two
    CPU-bound processes keep the 2-core machine busy: nobody sees "database is locked"."""
    store, refs = seeded
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(2)]
    with store.transaction() as s:
        before = {c.ref: c.version for c in s.scalars(select(Case))}
    config = tmp_path / "notifiers.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: {tmp_path / 'out'}}}\n", encoding="utf-8")
    daemon = rectify(db_url, "--config", str(config), "--now", "2014-04-05", "daemon", "--interval", "0.1", popen=True)
    env = {**os.environ, "RECTIFY_FAILPOINTS": ""}
    workers = [subprocess.Popen([sys.executable, "-c", STRESS_WORKER, db_url, ",".join(refs), "200", str(i)],
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(8)]
    results = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=600)
            assert worker.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    # The race may have left every case in 'pong' and skipped every request it met (a case that
    # moved on): one case sent back to 'ping' makes a request due, which the daemon must fire.
    extra = 0
    with store.transaction() as s:
        if all(c.state == "pong" for c in s.scalars(select(Case))):
            fire(s, get_case(s, refs[0]), "back", actor_for(s, "李明"), at("2014-03-06T09:00"))
            extra = 1
    wait_until(lambda: count(store, Event, Event.kind == "timer") > 0, "the daemon fired a due request", 120)
    daemon.send_signal(signal.SIGTERM)
    _, daemon_log = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, daemon_log
    assert "Traceback" not in daemon_log, daemon_log
    assert "locked" not in daemon_log, daemon_log
    ok = sum(r["ok"] for r in results)
    assert sum(r["lock"] for r in results) == 0
    assert [r["other"] for r in results] == [[]] * 8
    assert ok + sum(r["conflict"] + r["refused"] for r in results) == 1600
    assert ok > 0
    ok += extra
    with store.transaction() as s:
        versions = {c.ref: c.version for c in s.scalars(select(Case))}
        heads = {c.ref: c.event_seq for c in s.scalars(select(Case))}
    reminders = count(store, Event, Event.kind == "timer")
    assert reminders > 0  # the daemon did write while the officials did
    assert count(store, Event, Event.kind == "transition") == ok
    assert sum(versions[r] - before[r] for r in refs) == ok + reminders  # one version per committed change
    assert count(store, Notice, Notice.template == "moved_notice") == ok
    assert count(store, Notice, Notice.template == "tick_notice") == reminders
    assert sum(heads.values()) == count(store, Event)  # every chain is whole


# --- killed in the middle of a transition ------------------------------------------------

@pytest.mark.parametrize("point", ["fire.after_state", "fire.after_event", "fire.after_outbox", "commit.before"])
def test_a_transition_killed_at_any_point_is_all_or_nothing(seeded, db_url, point):
    store, refs = seeded
    before = fingerprint(db_url)
    killed = rectify(db_url, "--as", "李明", "--now", "2014-03-06T09:00", "fire", refs[0], "go",
                     faults=f"{point}=kill")
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no cleanup ran
    assert fingerprint(db_url) == before  # nothing of it is in the database
    again = rectify(db_url, "--as", "李明", "--now", "2014-03-06T09:00", "fire", refs[0], "go")
    assert again.returncode == 0, again.stderr
    with store.transaction() as s:
        case = get_case(s, refs[0])
        assert (case.state, case.event_seq) == ("pong", 2)
    assert count(store, Notice, Notice.template == "moved_notice") == 1


def test_a_transition_that_fails_after_its_outbox_row_leaves_nothing(seeded, db_url):
    store, refs = seeded
    before = fingerprint(db_url)
    failpoints.arm("fire.after_outbox", "raise")
    try:
        with pytest.raises(FailpointError), store.transaction() as s:
            fire(s, get_case(s, refs[0]), "go", actor_for(s, "李明"), at("2014-03-06T09:00"))
    finally:
        failpoints.arm("fire.after_outbox", None)
    assert fingerprint(db_url) == before
    assert count(store, Notice) == 0
    assert count(store, Event, Event.kind == "transition") == 0


def test_an_unknown_failpoint_is_refused():
    with pytest.raises(ValueError, match="unknown point 'fire.after_evnet'"):
        failpoints.arm("fire.after_evnet", "kill")


# --- several daemons ---------------------------------------------------------------------

def test_four_daemons_fire_each_of_500_due_timers_once(store, db_url, tmp_path):
    seed(store, 500)
    due = count(store, Timer, Timer.status == TimerStatus.PENDING.value)
    assert due == 500  # one daily reminder per case
    config = tmp_path / "notifiers.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: {tmp_path / 'out'}}}\n", encoding="utf-8")
    daemons = [rectify(db_url, "--config", str(config), "--now", "2014-03-06T12:00", "daemon", "--once", popen=True)
               for _ in range(4)]
    for daemon in daemons:
        out, err = daemon.communicate(timeout=300)
        assert daemon.returncode == 0, err
        assert "Traceback" not in err
    with store.transaction() as s:
        keys = list(s.scalars(select(Notice.idempotency_key).where(Notice.template == "tick_notice")))
        fired = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == TimerStatus.FIRED.value))
    assert len(keys) == len(set(keys)) == 500
    assert fired == 500
    assert count(store, Event, Event.kind == "timer") == 500
    assert count(store, Timer, Timer.status == TimerStatus.PENDING.value) == 500  # tomorrow's, once each
    assert len(list((tmp_path / "out").glob("*.txt"))) == 500


# --- killed while delivering -------------------------------------------------------------

LEASE = 0.3  # seconds


def test_sigkill_during_delivery_thirty_times_loses_nothing(db_url, store, http_server, tmp_path):
    """On both databases: the lease is timed by each one's own clock."""
    refs = seed(store, 40)
    with store.transaction() as s:
        for ref in refs:
            fire(s, get_case(s, ref), "go", actor_for(s, "李明"), at("2014-03-06T09:00"))
    config = tmp_path / "notifiers.yaml"
    # A short lease: what a killed run had claimed is free again a moment later (real time); the
    # send's deadline shorter still, as the config requires (the loopback endpoint answers at once).
    config.write_text(f"channels:\n  hook: {{type: webhook, url: \"{http_server}/ok\", deadline: {LEASE / 2}}}\n"
                      f"delivery: {{lease_seconds: {LEASE}}}\n", encoding="utf-8")
    clock = at("2014-03-06T10:00")
    kills = 0
    for i in range(30):
        time.sleep(LEASE)  # past the lease of what the killed run had claimed
        clock += timedelta(minutes=10)
        point = "delivery.after_send" if i % 3 else "delivery.before_send"
        run = rectify(db_url, "--config", str(config), "--now", clock.isoformat(), "notices", "deliver",
                      faults=f"{point}=kill@{1 + i % 2}")
        kills += run.returncode == -9
    assert kills == 30  # every run died before it could settle what it had sent
    for _ in range(3):
        time.sleep(LEASE)
        clock += timedelta(minutes=10)
        done = rectify(db_url, "--config", str(config), "--now", clock.isoformat(), "notices", "deliver")
        assert done.returncode == 0, done.stderr
    with store.transaction() as s:
        expected = set(s.scalars(select(Delivery.idempotency_key)))
        statuses = set(s.scalars(select(Delivery.status)))
    assert len(expected) == 40
    assert statuses == {"delivered"}
    received = [headers["Idempotency-Key"] for _, headers, _ in Hook.requests]
    assert set(received) == expected  # every notice arrived
    assert len(received) - len(expected) <= kills  # at most one resend per kill, same key
