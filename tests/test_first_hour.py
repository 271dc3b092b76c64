"""A new county's first hour (issue 14, items 1 and 2): its own campaign from the scaffold, a
note when the real clock is far from the deployed campaign, and setting up people without
locking itself out.

Findings reproduced here: the README's first `official add … --login zhangmin --admin` ended
bootstrap at once, so the person setting up (another login) was refused the next line and
could not undo it; the shipped 2014 campaign deployed today made every case overdue with no
word why; copying only the YAML gave 24 "unknown notice template" errors.
"""

from __future__ import annotations

import datetime as dt
import filecmp
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.runner import Rectify, fingerprint
from workflows import DEFAULT_WORKFLOW


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


# --- 1. a county's own campaign ----------------------------------------------------------

def test_workflow_new_writes_an_editable_checked_copy_with_the_county_s_values(tmp_path):
    folder = tmp_path / "某某县2015"
    out = run("workflow", "new", str(folder), "--year", "2015", "--issuer", "中共某某县委组织部",
              "--doc-prefix", "某组通").output
    assert "某组通〔2015〕N号" in out
    text = (folder / "backward_orgs.yaml").read_text(encoding="utf-8")
    assert "year: 2015 " in text
    assert 'issuer: "中共某某县委组织部"' in text
    assert 'document_prefix: "某组通"' in text
    assert "督办通知: {prefix: 某组督}" in text  # the 督办 series is the county's too
    assert "{prefix: ×" not in text
    assert "# 活动年度" in text  # the comments an administrator edits by stay
    shipped = DEFAULT_WORKFLOW.parent / "templates"
    copied = sorted(p.name for p in (folder / "templates").glob("*.j2"))
    assert copied == sorted(p.name for p in shipped.glob("*.j2"))
    assert all(filecmp.cmp(shipped / name, folder / "templates" / name, shallow=False) for name in copied)
    assert run("workflow", "check", str(folder)).output.startswith(f"{folder}: OK")
    shown = run("workflow", "show", str(folder), "--json").stdout
    assert '"year": 2015' in shown
    assert '"issuer": "中共某某县委组织部"' in shown


def test_workflow_new_refuses_a_folder_in_use_or_a_bad_value_and_leaves_nothing(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    out = run("workflow", "new", str(taken), "--year", "2015", "--issuer", "中共某某县委组织部", code=2).output
    assert "nothing was written" in out
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    run("workflow", "new", str(tmp_path / "bad"), "--year", "1999", "--issuer", "x", code=2)
    run("workflow", "new", str(tmp_path / "bad"), "--year", "2015", "--issuer", "中共\n某县", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no folder, no staging left


def test_a_workflow_copied_without_its_templates_is_one_clear_problem(tmp_path):
    (tmp_path / "mine.yaml").write_text(DEFAULT_WORKFLOW.read_text(encoding="utf-8"), encoding="utf-8")
    out = run("workflow", "check", str(tmp_path / "mine.yaml"), code=2).output
    assert "rectify workflow new" in out
    assert "unknown notice template" not in out
    assert out.count("templates") >= 1
    assert len([line for line in out.splitlines() if line.strip()]) == 1


def test_a_folder_with_two_workflows_must_be_named(tmp_path):
    run("workflow", "new", str(tmp_path / "w"), "--year", "2015", "--issuer", "中共某某县委组织部")
    (tmp_path / "w" / "other.yaml").write_text("x: 1\n", encoding="utf-8")
    out = run("workflow", "check", str(tmp_path / "w"), code=2).output
    assert "backward_orgs.yaml, other.yaml" in out


def test_the_scaffold_deploys_and_a_campaign_near_today_says_nothing_about_the_clock(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    year = dt.datetime.now(dt.timezone.utc).year
    run("workflow", "new", str(tmp_path / "ours"), "--year", str(year), "--issuer", "中共某某县委组织部")
    run("--db", db, "init")
    deployed = run("--db", db, "workflow", "deploy", str(tmp_path / "ours"))
    assert f"{year}" in deployed.stdout
    assert "six months" not in run("--db", db, "case", "list").output


def test_a_campaign_far_from_the_real_clock_is_told_once_per_command(rectify: Rectify):
    """The CLI county runs the shipped 2014 campaign: without --now every command says so
    once (on stderr, so --json stays one document); with --now, nothing."""
    result = rectify("case", "list", "--json")
    assert result.stderr.count("more than six months from today") == 1
    assert "2014年3月16日" in result.stderr
    assert result.stdout.lstrip().startswith("[")
    assert "six months" not in rectify("case", "list", now="2014-04-01").output


# --- 2. setting up people cannot lock you out ----------------------------------------------

@pytest.fixture
def fresh(tmp_path, login) -> Rectify:
    """A new county's database: the shipped workflow deployed, organizations imported, no
    official yet (bootstrap mode); the set-up is done by the machine's administrator."""
    county = Rectify(f"sqlite:///{tmp_path / 'county.db'}")
    login("sysadmin")
    county("init")
    county("workflow", "deploy")
    run("org", "template", str(tmp_path / "orgs.csv"))
    county("org", "import", str(tmp_path / "orgs.csv"))
    return county


def test_registering_someone_else_as_administrator_keeps_bootstrap_until_their_login_runs(fresh, login):
    out = fresh("official", "add", "张敏", "--role", "county_department", "--jurisdiction", "X",
                "--login", "zhangmin", "--admin").output
    assert "张敏（登录名 zhangmin）" in out  # whom bootstrap waits for
    # the person setting up is not locked out: the next officials register
    fresh("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T01", "--login", "wangqiang")
    fresh("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X", "--login", "liming")
    assert "bootstrap mode" in fresh("whoami").output
    login("wangqiang")  # a read by someone else does not end it
    fresh("case", "list", now="2014-03-02")
    login("zhangmin")
    me = fresh("whoami").output
    assert "taken office" in me
    assert "管理员 administrator: 是 yes" in me
    login("sysadmin")
    before = fingerprint(fresh.db)
    out = fresh("official", "add", "赵刚", "--role", "township_committee", "--jurisdiction", "T02", code=1).output
    assert "only an administrator" in out
    assert fingerprint(fresh.db) == before
    login("zhangmin")
    assert "bootstrap" not in fresh("whoami").output


def test_registering_yourself_as_administrator_ends_bootstrap_at_once(fresh, login):
    login("zhangmin")
    out = fresh("official", "add", "张敏", "--role", "county_department", "--jurisdiction", "X",
                "--login", "zhangmin", "--admin").output
    assert "bootstrap mode has ended" in out
    fresh("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T01", "--login", "wangqiang")
    login("wangqiang")
    fresh("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X", code=1)


def test_an_administrator_without_a_login_is_named_as_the_reason_bootstrap_cannot_end(fresh):
    out = fresh("official", "add", "张敏", "--role", "county_department", "--jurisdiction", "X", "--admin").output
    assert "have no login" in out
    assert "bootstrap mode" in fresh("whoami").output


def test_the_first_write_of_the_administrator_s_login_ends_bootstrap(fresh, login):
    fresh("official", "add", "张敏", "--role", "county_department", "--jurisdiction", "X",
          "--login", "zhangmin", "--admin")
    login("zhangmin")
    fresh("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T01", "--login", "wangqiang")
    login("sysadmin")
    fresh("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X", code=1)


def test_org_template_writes_a_table_org_import_takes_as_it_is(tmp_path):
    for name in ("orgs.xlsx", "orgs.csv"):
        out = run("org", "template", str(tmp_path / name)).output
        assert "282" in out
    db = f"sqlite:///{tmp_path / 'c.db'}"
    run("--db", db, "init")
    run("--db", db, "workflow", "deploy")
    assert "新增 added 282" in run("--db", db, "org", "import", str(tmp_path / "orgs.xlsx")).output
    assert "更新 updated 282" in run("--db", db, "org", "import", str(tmp_path / "orgs.csv")).output
    assert Path(tmp_path / "orgs.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
