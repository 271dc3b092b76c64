"""A county that renames the final state and the survey's facts gets the same bulletin, dashboard
and ledger: no figure depends on the names the shipped workflow happens to use (issue 15)."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from tests.runner import ORGS, Rectify, prepare, register_people

ROOT = Path(__file__).resolve().parent.parent


def renamed_workflow(folder: Path) -> Path:
    """The shipped workflow with ``accepted`` called ``transformed`` (已转化) and the survey's
    facts called ``respondents_count`` and ``satisfied_count``, templates beside it."""
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "backward_orgs.yaml"
    text = path.read_text(encoding="utf-8")
    text, states = re.subn(r"\baccepted\b(?!_)", "transformed", text)  # accepted_notice keeps its name
    assert states >= 3  # the state, the transition's dest, cadre_kept's until
    text = text.replace("    label: 验收通过\n", "    label: 已转化\n")
    text, facts = re.subn(r"\bsurvey_respondents\b", "respondents_count", text)
    text, more = re.subn(r"\bsurvey_satisfied\b", "satisfied_count", text)
    assert facts == more == 1  # declared once each; the rules name them below
    named = "respondents_fact: respondents_count, satisfied_fact: satisfied_count"
    text = text.replace("params: {min_respondents: 20}", f"params: {{min_respondents: 20, {named}}}")
    text = text.replace("params: {threshold: 0.70}", f"params: {{threshold: 0.70, {named}}}")
    assert text.count(named) == 2
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def renamed_county(tmp_path) -> Rectify:
    run = Rectify(f"sqlite:///{tmp_path / 'r.db'}")
    run("init")
    run("workflow", "deploy", str(renamed_workflow(tmp_path / "wf")), now="2014-03-01")
    (tmp_path / "orgs.csv").write_text(ORGS, encoding="utf-8-sig")
    run("org", "import", str(tmp_path / "orgs.csv"))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1")
    run("official", "add", "赵刚", "--role", "township_committee", "--jurisdiction", "T2")
    register_people(run)  # prepare assigns registered people (contact leader, work team)
    for org in ("T1-01", "T1-02"):
        run("case", "open", org, "--problem", "2", who="王强", now="2014-03-05")
    for ref in ("2014-1-0001", "2014-1-0002"):
        prepare(run, ref)
    run("survey", "record", "2014-1-0001", "--respondents", "50", "--satisfied", "35", who="王强", now="2014-12-03")
    run("survey", "record", "2014-1-0002", "--respondents", "40", "--satisfied", "24", who="王强", now="2014-12-03")
    return run


def test_the_bulletin_dashboard_and_ledger_follow_the_workflow_s_names(renamed_county, tmp_path):
    run = renamed_county
    cases = {c["ref"]: c["state"] for c in run.json("case", "list")}
    assert cases == {"2014-1-0001": "transformed", "2014-1-0002": "re_rectify"}

    bulletin = run("bulletin", now="2014-12-05").stdout
    assert "全县共确定整顿对象2个，目前处于“重新整顿”的1个，处于“已转化”的1个。" in bulletin
    assert "累计有1个整顿对象" not in bulletin  # re_rectify is not yet a new round: nobody is past round 1
    # Both surveys, the failed one included: (70 % + 60 %) / 2.
    assert "已开展群众满意度测评2次（含重新整顿后的测评），平均满意率65%；达到70%的1次，低于70%的1次" in bulletin
    assert "分布：90%及以上的0次，80%—90%的0次，70%—80%的1次，低于70%的1次。" in bulletin

    d = run.json("report", now="2014-12-05")
    finals = {s["state"]: s["count"] for s in d["states"] if s["final"]}
    assert finals == {"transformed": 1}
    assert (d["surveys"]["passed"], d["surveys"]["failed"]) == (1, 1)
    assert sorted((r["respondents"], r["satisfied"]) for r in d["surveys"]["rows"]) == [(40, 24), (50, 35)]

    target = tmp_path / "台账.csv"
    run("ledger", "export", "--format", "csv", "-o", str(target), now="2014-12-05")
    rows = [r for r in csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))) if r and r[0].isdigit()]
    assert [r[1] for r in rows] == ["城关镇第1村党支部", "城关镇第2村党支部"]
    assert all("书记不胜任现职、工作不在状态" in r for r in rows)
