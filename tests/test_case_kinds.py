"""Only grassroots organizations become cases: the workflow's ``case_kinds`` says which kinds,
and a township or the county is never one (it would count in its own backward ratio)."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.base.domain import GRASSROOTS_KINDS, ORG_KIND_LABELS
from engine.ops.quota import jurisdiction_counts
from engine.store.db import Store
from engine.store.models import OrgKind
from tests.runner import Rectify, fingerprint

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_LINE = "case_kinds: [village, community, enterprise, school, institution, other]\n"


def workflow_with(tmp_path: Path, kinds_line: str) -> Path:
    """A copy of the shipped workflow (templates beside it) whose ``case_kinds`` line is replaced."""
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "backward_orgs.yaml"
    source = path.read_text(encoding="utf-8")
    assert SHIPPED_LINE in source
    path.write_text(source.replace(SHIPPED_LINE, kinds_line), encoding="utf-8")
    return path


def add_community(run: Rectify, tmp_path: Path) -> None:
    orgs = tmp_path / "community.csv"
    orgs.write_text("编码,名称,类型,上级编码\nT1-30,城关镇东街社区党支部,社区,T1\n", encoding="utf-8")
    run("org", "import", str(orgs))


def test_the_kinds_are_the_store_s():
    assert set(ORG_KIND_LABELS) == {k.value for k in OrgKind}
    assert set(GRASSROOTS_KINDS) == set(ORG_KIND_LABELS) - {"county", "township"}


@pytest.mark.parametrize(("who", "code", "zh", "en"), [
    ("李明", "T1", "“中共城关镇委员会”（T1）的类型是“乡镇（街道）”，不能列为整顿对象", "T1 is a township organization"),
    ("王强", "T1", "“中共城关镇委员会”（T1）的类型是“乡镇（街道）”，不能列为整顿对象", "T1 is a township organization"),
    ("李明", "X", "“中共××县委”（X）的类型是“县”，不能列为整顿对象", "X is a county organization"),
])
def test_a_township_or_the_county_is_refused_and_nothing_written(rectify, who, code, zh, en):
    before = fingerprint(rectify.db)
    out = rectify("case", "open", code, "--problem", "1", who=who, now="2014-03-05", code=1).output
    assert zh in out
    assert en in out
    assert "村、社区、企业、学校、机关事业单位、其他" in out
    assert "village, community, enterprise, school, institution, other (case_kinds)" in out
    assert "Traceback" not in out
    assert fingerprint(rectify.db) == before
    assert rectify.json("case", "list") == []
    refused = rectify.json("audit", "refusals")[0]  # a rule said no: recorded like any refusal
    assert refused["command"] == f"rectify --as {who} --now 2014-03-05 case open {code} --problem 1"
    assert en in refused["reason"]


def test_a_kind_the_workflow_does_not_list_is_refused(rectify, tmp_path):
    add_community(rectify, tmp_path)
    rectify("workflow", "deploy", str(workflow_with(tmp_path, "case_kinds: [village]\n")), now="2014-03-02")
    before = fingerprint(rectify.db)
    out = rectify("case", "open", "T1-30", who="王强", now="2014-03-05", code=1).output
    assert "“城关镇东街社区党支部”（T1-30）的类型是“社区”，不能列为整顿对象；本工作流只整顿这些类型的基层党组织：村" in out
    assert "T1-30 is a community organization and cannot be a case: this workflow opens cases only for the " \
           "kinds village (case_kinds)" in out
    assert fingerprint(rectify.db) == before
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")  # a village is one
    assert [c["org_code"] for c in rectify.json("case", "list")] == ["T1-01"]


def test_a_workflow_without_the_key_opens_every_grassroots_kind_and_no_township(rectify, tmp_path):
    add_community(rectify, tmp_path)
    rectify("workflow", "deploy", str(workflow_with(tmp_path, "")), now="2014-03-02")
    rectify("case", "open", "T1", who="李明", now="2014-03-05", code=1)
    rectify("case", "open", "X", who="李明", now="2014-03-05", code=1)
    rectify("case", "open", "T1-30", who="王强", now="2014-03-05")
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    assert [c["org_code"] for c in rectify.json("case", "list")] == ["T1-30", "T1-01"]


def test_workflow_check_names_each_wrong_kind_at_its_place(tmp_path):
    path = workflow_with(tmp_path, "case_kinds: [village, hamlet, township, village]\n")
    line_no, line = next((n, s) for n, s in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                         if s.startswith("case_kinds:"))
    result = Rectify(f"sqlite:///{tmp_path / 'unused.db'}")("workflow", "check", str(path), code=2)
    problems = result.stderr.splitlines()
    assert len(problems) == 3, result.stderr
    hamlet, township, twice = problems
    assert hamlet.startswith(f"{path}:{line_no}:{line.index('hamlet') + 1}: ")
    assert "未知的组织类型 / unknown organization kind 'hamlet'; kinds: village, community, enterprise" in hamlet
    assert township.startswith(f"{path}:{line_no}:{line.index('township') + 1}: ")
    assert "'township' is not a grassroots kind and cannot be a case" in township
    assert twice.startswith(f"{path}:{line_no}:{line.rindex('village') + 1}: ")
    assert "kind 'village' is listed twice" in twice


def test_workflow_check_refuses_an_empty_list(tmp_path):
    path = workflow_with(tmp_path, "case_kinds: []\n")
    result = Rectify(f"sqlite:///{tmp_path / 'unused.db'}")("workflow", "check", str(path), code=2)
    assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: .*'case_kinds' is empty", result.stderr)


def _ledger_with(run: Rectify, tmp_path: Path, *rows: list[str]) -> Path:
    path = tmp_path / "ledger.csv"
    run("ledger", "export", "--format", "csv", "-o", str(path), now="2014-03-16")
    grid = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([*grid, *rows])
    return path


def test_a_ledger_row_naming_a_township_is_a_bad_row(rectify, tmp_path):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    path = _ledger_with(rectify, tmp_path, ["2", "中共城关镇委员会", "", "", "中共××县委", "", "", ""],
                        ["3", "城关镇第2村党支部", "", "", "中共城关镇委员会", "", "", ""])
    before = fingerprint(rectify.db)
    out = rectify("ledger", "import", str(path), who="李明", now="2014-03-17", code=2).output
    assert "row 5, 列 column '后进基层党组织名称': “中共城关镇委员会”（T1）的类型是“乡镇（街道）”" in out
    assert "T1 is a township organization and cannot be a case" in out
    assert "nothing imported" in out
    assert fingerprint(rectify.db) == before
    out = rectify("ledger", "import", str(path), "--skip-bad", who="李明", now="2014-03-17").output
    assert "opened 1" in out
    assert [c["org_code"] for c in rectify.json("case", "list")] == ["T1-01", "T1-02"]


def test_the_quota_does_not_count_a_township_s_own_case(rectify, tmp_path):
    """A township case opened before the rule (an older database, made here by hand) is neither
    counted in the township's backward ratio nor refused when the ledger reads it back."""
    for code in ("T1-01", "T1-02"):
        rectify("case", "open", code, who="王强", now="2014-03-05")
        rectify("fire", code, "confirm", who="李明", now="2014-03-12")
    engine = create_engine(rectify.db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET organization_id = (SELECT id FROM organizations WHERE code = 'T1') "
                          "WHERE ref = '2014-1-0002'"))
        township_id, path = conn.execute(text("SELECT id, path FROM organizations WHERE code = 'T1'")).one()
        campaign_id = conn.execute(text("SELECT id FROM campaigns")).scalar_one()
    engine.dispose()
    rows = {r["code"]: r for r in rectify.json("quota", now="2014-03-16")["rows"]}
    assert (rows["T1"]["organizations"], rows["T1"]["confirmed"]) == (20, 1)
    assert rows[""]["confirmed"] == 1  # the county's total
    store = Store(rectify.db)
    try:
        with store.reading() as session:
            counts = jurisdiction_counts(session, campaign_id, township_id, "screening", org_path=path)
    finally:
        store.dispose()
    assert counts == {"township_organizations": 20, "township_cases": 1, "county_organizations": 40,
                      "county_cases": 1}
    ledger = _ledger_with(rectify, tmp_path)
    out = rectify("ledger", "import", str(ledger), who="李明", now="2014-03-17").output
    assert "unchanged 2" in out
