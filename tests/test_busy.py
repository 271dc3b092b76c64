"""A database that stays locked: writes are retried whole, then refused with exit 3, never a traceback.

The lock is real: another connection holds SQLite's write lock (``BEGIN IMMEDIATE``), as a
long import or a stuck process would; the command's busy timeout is shortened through the
URL (``?busy_timeout=MS``) so the test takes a second, not forty.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.base.errors import DatabaseUnavailable
from engine.store.db import Store
from engine.store.models import Official
from tests.conftest import ROOT
from tests.runner import fingerprint


def hold_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


@pytest.mark.slow
def test_a_command_that_meets_a_lock_past_its_retries_exits_3_and_writes_nothing(ready_county, tmp_path):
    db = tmp_path / "county.db"
    db.write_bytes((ready_county / "county.db").read_bytes())
    before = fingerprint(f"sqlite:///{db}")
    holder = hold_write_lock(db)
    try:
        env = {**os.environ, "RECTIFY_DB": f"sqlite:///{db}?busy_timeout=100"}
        env.pop("RECTIFY_FAILPOINTS", None)
        done = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "--as", "王强", "--now", "2014-11-25",
                               "fact", "set", "T1-02", "plan_made", "是"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        holder.rollback()
        holder.close()
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "busy or unavailable and nothing was written" in done.stderr
    assert "database is locked" in done.stderr
    assert fingerprint(f"sqlite:///{db}") == before


class _ReleaseOnRetry(logging.Handler):
    """Lets the lock go when the store says it will try again: the retry then finds it free."""

    def __init__(self, holder: sqlite3.Connection):
        super().__init__()
        self.holder, self.retries = holder, 0

    def emit(self, record: logging.LogRecord) -> None:
        if "database busy: attempt" in record.getMessage():
            self.retries += 1
            if self.holder.in_transaction:
                self.holder.rollback()


def test_a_write_that_met_a_lock_is_run_again_whole(tmp_path):
    from engine.store.migrate import upgrade

    db = tmp_path / "r.db"
    store = Store(f"sqlite:///{db}?busy_timeout=50")
    upgrade(store)
    holder = hold_write_lock(db)
    release = _ReleaseOnRetry(holder)
    logger = logging.getLogger("rectify.db")
    logger.addHandler(release)
    logger.setLevel(logging.INFO)
    calls = []
    try:
        store.write(lambda session: calls.append(session.query(Official).count()))
    finally:
        logger.removeHandler(release)
        holder.close()
        store.dispose()
    assert release.retries == 1
    assert calls == [0]


def test_a_write_gives_up_after_its_attempts(tmp_path):
    from engine.store.migrate import upgrade

    db = tmp_path / "r.db"
    store = Store(f"sqlite:///{db}?busy_timeout=20")
    upgrade(store)
    holder = hold_write_lock(db)
    started = threading.Event()
    try:
        with pytest.raises(DatabaseUnavailable, match="database is locked"):
            store.write(lambda session: (session.query(Official).count(), started.set()), attempts=2)
    finally:
        holder.close()
        store.dispose()
    assert not started.is_set()  # the work never got past its first statement while the lock was held


@pytest.mark.parametrize("given", ["abc", "-1", "99999999"])
def test_a_bad_busy_timeout_is_bad_input(tmp_path, given):
    from engine.base.errors import DatabaseError

    with pytest.raises(DatabaseError, match="invalid busy_timeout"):
        Store(f"sqlite:///{tmp_path / 'x.db'}?busy_timeout={given}")
