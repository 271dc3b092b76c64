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

from tests.conftest import ROOT
from tests.test_cli import Rectify, fingerprint, prepare

pytestmark = pytest.mark.slow

NEW_ORG = "编码,名称,类型,上级编码,书记姓名,书记电话\nT1-99,城关镇新设村党支部,村,T1,,\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A county on SQLite, built once: T1-01 waits for its survey, T1-02 for confirmation, and a
    ledger that registers T1-04 too."""
    from tests.test_cli import ORGS

    folder = tmp_path_factory.mktemp("base")
    run = Rectify(f"sqlite:///{folder / 'county.db'}")
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    (folder / "orgs.csv").write_text(ORGS, encoding="utf-8")
    run("org", "import", str(folder / "orgs.csv"))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1")
    for code in ("T1-01", "T1-02"):
        run("case", "open", code, who="王强", now="2014-03-05")
    prepare(run, "2014-1-0001")
    run("fact", "set", "T1-01", "measures", "整改", who="王强", now="2014-11-25")
    # Every notice so far dies at its first attempt (nothing listens on port 9): 'notices retry' has work.
    (folder / "dead-end.yaml").write_text("channels:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/x'}\n"
                                          "delivery:\n  max_attempts: 1\n", encoding="utf-8")
    run("--config", str(folder / "dead-end.yaml"), "notices", "deliver", now="2014-11-25")
    shutil.copyfile(folder / "county.db", folder / "scratch.db")  # a ledger with one case more: T1-04
    scratch = Rectify(f"sqlite:///{folder / 'scratch.db'}")
    scratch("case", "open", "T1-04", who="王强", now="2014-03-05")
    scratch("ledger", "export", "--format", "xlsx", "-o", str(folder / "ledger.xlsx"), now="2014-11-25")
    (folder / "new-orgs.csv").write_text(NEW_ORG, encoding="utf-8")
    changed = (ROOT / "workflows" / "backward_orgs.yaml").read_text(encoding="utf-8").replace(
        "\ntitle: ", "\ntitle: 新", 1)
    shutil.copytree(ROOT / "workflows" / "templates", folder / "templates")
    (folder / "changed.yaml").write_text(changed, encoding="utf-8")
    return folder


WRITES = {
    "case open": ["--as", "王强", "--now", "2014-03-06", "case", "open", "T1-03"],
    "fire": ["--as", "李明", "--now", "2014-03-12", "fire", "T1-02", "confirm"],
    "fact set": ["--as", "王强", "--now", "2014-11-25", "fact", "set", "T1-02", "plan_made", "是"],
    "fact clear": ["--as", "王强", "--now", "2014-11-26", "fact", "clear", "T1-01", "measures"],
    "survey record": ["--as", "王强", "--now", "2014-12-03", "survey", "record", "T1-01", "--respondents", "50",
                      "--satisfied", "40"],
    "official add": ["official", "add", "孙丽", "--role", "county_department", "--jurisdiction", "X"],
    "official update": ["official", "update", "王强", "--login", "wangqiang"],
    "workflow deploy": ["--now", "2014-03-02", "workflow", "deploy", "{base}/changed.yaml"],
    "org import": ["org", "import", "{base}/new-orgs.csv"],
    "ledger import": ["--as", "李明", "--now", "2014-11-26", "ledger", "import", "{base}/ledger.xlsx"],
    "notices retry": ["notices", "retry", "1"],
}


def _run(db: Path, args: list[str], faults: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RECTIFY_DB": f"sqlite:///{db}", "RECTIFY_FAILPOINTS": faults}
    for name in ("RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_CONFIG"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], env=env, cwd=db.parent,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("what", list(WRITES))
def test_killed_before_its_commit_a_command_printed_nothing(base, tmp_path, what):
    db = tmp_path / "county.db"
    shutil.copyfile(base / "county.db", db)
    args = [a.replace("{base}", str(base)) for a in WRITES[what]]
    before = fingerprint(f"sqlite:///{db}")
    killed = _run(db, args, "commit.before=kill")
    assert killed.returncode == -signal.SIGKILL, (killed.stdout, killed.stderr)
    assert killed.stdout == "", f"{what} printed before its commit: {killed.stdout!r}"
    assert fingerprint(f"sqlite:///{db}") == before
    done = _run(db, args, "")
    assert done.returncode == 0 and done.stdout.strip(), (done.stdout, done.stderr)
    assert fingerprint(f"sqlite:///{db}") != before
