"""A command reports only what committed: killed just before its commit, it printed nothing.

Every writing command runs as a real process with ``commit.before=kill`` (SIGKILL between
the end of its transaction's work and the commit): it must die having printed no line of
success, and the database must be exactly as it was. The same command without the fault
then succeeds and prints, which shows each case really reaches the commit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runner import fingerprint

pytestmark = pytest.mark.slow

WRITES = {
    "case open": ["--as", "王强", "--now", "2014-03-06", "case", "open", "T1-03"],
    "fire": ["--as", "李明", "--now", "2014-03-12", "fire", "T1-02", "confirm"],
    "fact set": ["--as", "王强", "--now", "2014-11-25", "fact", "set", "T1-02", "plan_made", "是"],
    "fact clear": ["--as", "王强", "--now", "2014-11-26", "fact", "clear", "T1-01", "measures"],
    "survey record": ["--as", "王强", "--now", "2014-12-03", "survey", "record", "T1-01", "--respondents", "50",
                      "--satisfied", "40"],
    "official add": ["official", "add", "孙丽", "--role", "county_department", "--jurisdiction", "X"],
    "official update": ["official", "update", "王强", "--login", "wangqiang"],
    "workflow deploy": ["--now", "2014-03-02", "workflow", "deploy", "{ready}/changed.yaml"],
    "org import": ["org", "import", "{ready}/new-orgs.csv"],
    "ledger import": ["--as", "李明", "--now", "2014-11-26", "ledger", "import", "{ready}/ledger.xlsx"],
    "notices retry": ["notices", "retry", "1"],
}


def _run(db: Path, args: list[str], faults: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RECTIFY_DB": f"sqlite:///{db}", "RECTIFY_FAILPOINTS": faults}
    for name in ("RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_CONFIG"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], env=env, cwd=db.parent,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("what", list(WRITES))
def test_killed_before_its_commit_a_command_printed_nothing(ready_county, tmp_path, what):
    db = tmp_path / "county.db"
    shutil.copyfile(ready_county / "county.db", db)
    args = [a.replace("{ready}", str(ready_county)) for a in WRITES[what]]
    before = fingerprint(f"sqlite:///{db}")
    killed = _run(db, args, "commit.before=kill")
    assert killed.returncode == -signal.SIGKILL, (killed.stdout, killed.stderr)
    assert killed.stdout == "", f"{what} printed before its commit: {killed.stdout!r}"
    assert fingerprint(f"sqlite:///{db}") == before
    done = _run(db, args, "")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.strip(), (done.stdout, done.stderr)
    assert fingerprint(f"sqlite:///{db}") != before
