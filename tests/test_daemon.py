"""The daemon as a real process: SIGTERM mid-run, restart, nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from engine.ops.cases import open_case
from engine.ops.deploy import resolve_campaign
from engine.ops.officials import actor_for
from engine.ops.orgs import OrgRow, import_organizations
from engine.store.db import Store
from engine.store.migrate import upgrade
from engine.store.models import Notice, OrgKind, Timer
from tests.conftest import at
from tests.county import seed_county
from tests.polling import wait_for_file, wait_until

pytestmark = pytest.mark.slow  # real daemons with 400 cases, signalled

CASES = 400


def seeded(tmp_path) -> tuple[Store, str]:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = Store(url)
    upgrade(store)
    seed_county(store)
    rows = [OrgRow(i, f"T1-V{i:04d}", f"城关镇第{i}组党支部", OrgKind.VILLAGE, "T1", None, None)
            for i in range(1, CASES + 1)]
    with store.transaction() as s:
        import_organizations(s, rows, "generated")
        campaign, actor = resolve_campaign(s, None), actor_for(s, "城关镇王")
        for row in rows:
            open_case(s, campaign, row.code, actor, at("2014-03-05"))
    return store, url


def count(store: Store, what) -> int:
    with store.transaction() as s:
        return s.scalar(select(func.count()).select_from(Notice).where(what)) or 0


def test_sigterm_mid_run_then_restart_loses_and_doubles_nothing(tmp_path):
    store, url = seeded(tmp_path)
    # Both screening reminders of every case are due, and their deadline has not passed yet.
    env = {**os.environ, "RECTIFY_DB": url, "RECTIFY_NOW": "2014-03-16T09:00", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", "import cli; cli.main()", "daemon", "--interval", "0.2"]
    # Held at its 100th timer: the daemon fires 800 in under a second, faster than a test can
    # poll, so the signal is sent while it is known to be in the middle of the tick.
    gate = tmp_path / "gate"
    gate.mkdir()
    daemon = subprocess.Popen(cmd, env={**env, "RECTIFY_FAILPOINTS": f"tick.after_claim=pause:{gate}@100"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    wait_for_file(gate / "tick.after_claim.reached")
    daemon.send_signal(signal.SIGTERM)
    (gate / "tick.after_claim.go").touch()
    _, log = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, log
    assert "signal SIGTERM: finishing the current tick" in log
    assert "daemon stopped: signal SIGTERM" in log
    first = count(store, Notice.case_id.is_not(None))
    assert 5 <= first < 2 * CASES, "the signal should arrive while timers are still being fired"
    done = subprocess.run([*cmd[:3], "daemon", "--once"], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    with store.transaction() as s:
        keys = s.scalars(select(Notice.idempotency_key).where(Notice.case_id.is_not(None))).all()
        templates = s.execute(select(Notice.template, func.count()).group_by(Notice.template)).all()
        pending = s.scalar(select(func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.due_at <= at("2014-03-16T09:00")))
    # Two reminders per case, every one exactly once.
    assert len(keys) == len(set(keys)) == 2 * CASES
    assert dict(templates) == {"deadline_reminder": 2 * CASES}
    assert pending == 0
    store.dispose()


def test_a_second_signal_exits_at_once(tmp_path):
    """The first signal lets the timer in hand finish; a second one ends the daemon even while
    that timer is stuck, and the unfinished transaction leaves nothing behind."""
    store, url = seeded(tmp_path)
    env = {**os.environ, "RECTIFY_DB": url, "RECTIFY_NOW": "2014-03-14T09:00", "PYTHONUNBUFFERED": "1"}
    gate = tmp_path / "gate"
    gate.mkdir()  # its ".go" file is never created: the first timer stays in hand
    daemon = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "daemon", "--interval", "30"],
                              env={**env, "RECTIFY_FAILPOINTS": f"tick.after_claim=pause:{gate}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(iter(daemon.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for_file(gate / "tick.after_claim.reached")
        daemon.send_signal(signal.SIGINT)
        wait_until(lambda: any("signal SIGINT: finishing the current tick" in line for line in log),
                   "the daemon acknowledges the first signal")
        assert daemon.poll() is None, "the first signal must let the timer in hand finish"
        daemon.send_signal(signal.SIGINT)
        assert daemon.wait(timeout=30) == 1  # while the timer is still held at the gate
    finally:
        if daemon.poll() is None:
            daemon.kill()
    reader.join(timeout=30)
    daemon.stderr.close()
    text = "".join(log)
    assert "second signal SIGINT: exiting now" in text, text
    assert "daemon stopped" not in text, text
    assert "Traceback" not in text, text
    assert count(store, Notice.case_id.is_not(None)) == 0  # the held timer's work rolled back
    store.dispose()
