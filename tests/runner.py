"""Running ``rectify`` from a test: in-process like an official at a terminal (``Rectify``), or as
the installed console script (``rectify_command``); the small county every CLI test starts from;
and ``fingerprint``, proof that a failed command wrote nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from click.testing import CliRunner

from cli import main
from tests.county import ROOT

ORGS = """编码,名称,类型,上级编码,书记姓名,书记电话
X,中共××县委,县,,,
T1,中共城关镇委员会,乡镇,X,,
T2,中共河西乡委员会,乡镇,X,,
""" + "".join(f"T1-{i:02d},城关镇第{i}村党支部,村,T1,书记{i},1380000{i:04d}\n" for i in range(1, 21)) \
    + "".join(f"T2-{i:02d},河西乡第{i}村党支部,村,T2,,\n" for i in range(1, 21))



class Rectify:
    """Runs ``rectify`` in-process against one database, like an official at a terminal."""

    def __init__(self, db_url: str):
        self.db = db_url
        self.runner = CliRunner()

    def __call__(self, *args: str, who: str | None = None, now: str | None = None, code: int = 0):
        argv = ["--db", self.db]
        if who:
            argv += ["--as", who]
        if now:
            argv += ["--now", now]
        result = self.runner.invoke(main, [*argv, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, **kw):
        return json.loads(self(*args, "--json", **kw).stdout)


def fingerprint(db_url: str) -> str:
    """A digest of every row of every table: proof that a failed command wrote nothing.

    The refusals log is left out: recording who tried what is the one thing a refused
    command writes (tests/test_permissions.py checks it)."""
    from sqlalchemy import MetaData, create_engine, select  # here: importing the runner stays light

    engine = create_engine(db_url)
    meta = MetaData()
    meta.reflect(engine)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            if table.name == "refusals":
                continue
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return digest.hexdigest()


def build_county(run: Rectify, folder: Path) -> None:
    """The county of the CLI tests: 2 townships of 20 villages each, the shipped workflow deployed
    on 2014-03-01, and the county department's 李明 with the townships' 王强 and 赵刚."""
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    orgs = folder / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8-sig")
    run("org", "import", str(orgs))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1", "--phone", "13900000001")
    run("official", "add", "赵刚", "--role", "township_committee", "--jurisdiction", "T2")
    register_people(run)


# The people the CLI tests assign to cases (the workflow's person facts: contact_leader,
# county_cadre, stationed_cadre…), with their sending units; a stationed cadre (exclusive) is
# in one place at a time, so each case ``prepare`` readies gets its own work team.
PEOPLE = [("周建国", "县委"), ("孙立", "县委组织部"), ("陈静", "县委组织部"), ("驻村工作队", "县直机关"),
          ("驻村工作队周平", "县直机关")]


def register_people(run: Rectify) -> None:
    for name, unit in PEOPLE:
        run("person", "add", name, "--unit", unit)


def file_due(run: Rectify, unit: str, who: str, now: str) -> None:
    """File every occurrence of the unit's duties due by ``now`` and not filed yet (the progress
    reports a township owes before its cases may go to self-check)."""
    rows = run.json("duty", "list", "--unit", unit, "--standing", "missing", now=now)["rows"]
    for row in rows:
        run("duty", "submit", row["duty"], "--unit", unit, "--occurrence", str(row["occurrence"]), who=who, now=now)


def prepare(run: Rectify, ref: str) -> None:
    run("fire", ref, "confirm", who="李明", now="2014-03-12")
    team = f"驻村工作队（{ref}）"
    run("person", "add", team, "--unit", "县直机关", who="李明", now="2014-04-01")
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周建国"),
                        ("secretary_trained", "2014-03-28"),
                        ("secretary_appointed", "张三"), ("stationed_cadre", team)]:
        run("fact", "set", ref, name, value, who="王强", now="2014-04-01")
    file_due(run, "T1", "王强", "2014-11-19")
    run("fire", ref, "submit_self_check", who="王强", now="2014-11-20")
    run("fact", "set", ref, "self_check_report", "已完成自查", who="王强", now="2014-11-21")
    run("fire", ref, "request_superior_check", who="王强", now="2014-11-22")
    run("fact", "set", ref, "superior_check_opinion", "同意", who="王强", now="2014-11-24")
    run("fire", ref, "pass_superior_check", who="王强", now="2014-11-24")
    run("spot-check", "announce", "--seed-hash", hashlib.sha256(b"2014").hexdigest(), who="李明", now="2014-11-25")
    drawn = json.loads(run("spot-check", "draw", "--seed", "2014", "--json", who="李明", now="2014-11-26").stdout)
    for selected in drawn["selected"]:  # drawn: the county checks, then passes it
        run("fact", "set", selected, "spot_check_opinion", "抽查合格", who="李明", now="2014-11-27")
        run("fire", selected, "pass_spot_check", "--note", "抽查合格", who="李明", now="2014-11-27")


def rectify_command() -> list[str]:
    """The installed console script, or the module when the package is not installed."""
    exe = shutil.which("rectify")
    return [exe] if exe else [sys.executable, "-c", "import cli; cli.main()"]


def survey(run: Rectify, ref: str, satisfied: int, respondents: int = 50) -> None:
    run("survey", "record", ref, "--respondents", str(respondents), "--satisfied", str(satisfied),
        who="王强", now="2014-12-03")


def build_surveyed_county(run: Rectify, folder: Path) -> None:
    """``build_county``, then two cases through the survey (70 % exactly: accepted; 60 %:
    re-rectify), one left in rectification, one never confirmed."""
    build_county(run, folder)
    for org in ("T1-01", "T1-02", "T1-03"):
        run("case", "open", org, "--problem", "2", who="王强", now="2014-03-05")
    run("case", "open", "T2-01", "--problem", "4", "--key-target", who="赵刚", now="2014-03-05")
    prepare(run, "2014-1-0001")
    prepare(run, "2014-1-0002")
    survey(run, "2014-1-0001", 35)
    survey(run, "2014-1-0002", 30)
    run("fire", "2014-1-0003", "confirm", who="李明", now="2014-03-12")
    run("fact", "set", "2014-1-0003", "contact_leader", "孙立", who="王强", now="2014-03-13")


NEW_ORG = "编码,名称,类型,上级编码,书记姓名,书记电话\nT1-99,城关镇新设村党支部,村,T1,,\n"


def build_ready_county(folder: Path) -> None:
    """In ``folder``: county.db, a county on SQLite in which T1-01 waits for its survey and T1-02
    for confirmation, every notice so far dead at its first attempt (``notices retry`` has
    work); ledger.xlsx, a ledger that registers T1-04 too; new-orgs.csv, one village more;
    changed.yaml, the shipped workflow retitled, beside a copy of its templates."""
    run = Rectify(f"sqlite:///{folder / 'county.db'}")
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    (folder / "orgs.csv").write_text(ORGS, encoding="utf-8")
    run("org", "import", str(folder / "orgs.csv"))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1")
    register_people(run)
    for code in ("T1-01", "T1-02"):
        run("case", "open", code, "--problem", "1", who="王强", now="2014-03-05")
    prepare(run, "2014-1-0001")
    run("fact", "set", "T1-01", "measures", "整改", who="王强", now="2014-11-25")
    # Nothing listens on port 9: every notice dies at its first attempt.
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


def build_timed_county(run: Rectify, folder: Path) -> None:
    """``build_county`` with tests/timed_workflow.py's variant deployed instead of the shipped
    workflow (a deadline on each case in screening, progress-report requests every two months,
    no duties): the county of the CLI tests about the timers' mechanics."""
    from tests.county import WORKFLOW  # the variant, written once per process

    run("init")
    run("workflow", "deploy", str(WORKFLOW), now="2014-03-01")
    orgs = folder / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8-sig")
    run("org", "import", str(orgs))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1", "--phone", "13900000001")
    run("official", "add", "赵刚", "--role", "township_committee", "--jurisdiction", "T2")
    register_people(run)
