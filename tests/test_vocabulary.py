"""The campaign's words are the workflow's: its problem categories and key-target circumstances
(``problem_categories``, ``key_target_circumstances``), and what concerns only some kinds of
organization (``applies_to`` on a fact or a rule instance)."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from engine.spec.definition import DEFAULT_KEY_TARGET_CIRCUMSTANCES, DEFAULT_PROBLEM_CATEGORIES
from engine.spec.loader import load_workflow_file
from tests.runner import Rectify, fingerprint

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "workflows" / "backward_orgs.yaml"
SHIPPED_WORDS = """problem_categories:
  1: 班子配备不齐、书记缺职、工作停滞
  2: 书记不胜任现职、工作不在状态
  3: 班子不团结、内耗严重
  4: 组织制度形同虚设、不开展活动
"""
SHIPPED_CIRCUMSTANCES = """key_target_circumstances:
  canvassing: 换届选举拉票贿选问题突出
  interference: “三宗”和黑恶势力干扰渗透严重
  disclosure: 村务居务财务公开和民主管理混乱
  petitions: 社会治安问题和信访矛盾纠纷集中
"""
# The county's own words: category 2 reworded, 4 dropped, 5 added; petitions dropped, land added.
COUNTY_WORDS = """problem_categories:
  1: 班子配备不齐、书记缺职、工作停滞
  2: 书记能力不足、长期不在岗
  3: 班子不团结、内耗严重
  5: 集体经济空壳、服务群众能力弱
"""
COUNTY_CIRCUMSTANCES = """key_target_circumstances:
  canvassing: 换届选举拉票贿选问题突出
  land: 征地拆迁矛盾纠纷集中
"""
SCHOOL = "编码,名称,类型,上级编码\nT1-30,城关镇中心学校党支部,学校,T1\n"


def workflow_with(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """A copy of the shipped workflow (templates beside it) with each (old, new) replaced once."""
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "backward_orgs.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_workflow_declares_the_source_document_s_words():
    """The default a workflow without the keys gets is what the shipped one declares."""
    wf = load_workflow_file(SHIPPED).definition
    assert wf.problem_categories == DEFAULT_PROBLEM_CATEGORIES
    assert wf.key_target_circumstances == DEFAULT_KEY_TARGET_CIRCUMSTANCES
    assert wf.problem_labels[4] == "组织制度形同虚设、不开展活动"
    assert {n for n, f in wf.facts.items() if f.applies_to} == {"secretary_trained", "stationed_cadre"}
    assert {n: u.applies_to for n, u in wf.rules.items() if u.applies_to} == {
        name: ("village", "community") for name in ("secretary_trained_on_time", "cadre_stationed", "cadre_kept")}


@pytest.fixture
def county_words(rectify, tmp_path):
    """The CLI county, its workflow redeployed with the county's own words."""
    path = workflow_with(tmp_path, (SHIPPED_WORDS, COUNTY_WORDS), (SHIPPED_CIRCUMSTANCES, COUNTY_CIRCUMSTANCES))
    rectify("workflow", "deploy", str(path), now="2014-03-02")
    return rectify


def test_case_open_takes_the_workflow_s_keys(county_words):
    run = county_words
    run("case", "open", "T1-01", "--problem", "5", "--problem", "2", "--flag", "land", who="王强", now="2014-03-05")
    shown = run.json("case", "show", "T1-01")
    assert shown["problems"] == ["2 书记能力不足、长期不在岗", "5 集体经济空壳、服务群众能力弱"]
    assert shown["flags"] == ["征地拆迁矛盾纠纷集中"]
    assert shown["key_target"] is True
    out = run("case", "show", "T1-01").stdout
    assert "主要问题：2 书记能力不足、长期不在岗；5 集体经济空壳、服务群众能力弱" in out
    assert "重点整顿情形：征地拆迁矛盾纠纷集中" in out


@pytest.mark.parametrize(("args", "said"), [
    (("--problem", "4"), "未知问题类别 / unknown problem category 4; categories (problem_categories): "
                         "1 班子配备不齐、书记缺职、工作停滞; 2 书记能力不足、长期不在岗; 3 班子不团结、内耗严重; "
                         "5 集体经济空壳、服务群众能力弱"),
    (("--flag", "petitions"), "未知重点整顿情形 / unknown flag 'petitions'; flags (key_target_circumstances): "
                              "canvassing（换届选举拉票贿选问题突出）; land（征地拆迁矛盾纠纷集中）"),
])
def test_case_open_refuses_a_key_the_workflow_dropped_with_the_valid_ones(county_words, args, said):
    before = fingerprint(county_words.db)
    out = county_words("case", "open", "T1-01", *args, who="王强", now="2014-03-05", code=2).output
    assert said in out
    assert "Traceback" not in out
    assert fingerprint(county_words.db) == before


def test_help_lists_the_deployed_words(county_words):
    out = county_words("case", "open", "--help").stdout
    assert "集体经济空壳、服务群众能力弱" in out
    assert "征地拆迁矛盾纠纷集中" in out
    assert "组织制度形同虚设" not in out  # 4 was dropped: the campaign's deployed workflow is what counts


def test_the_ledger_writes_and_reads_the_workflow_s_labels(county_words, tmp_path):
    run = county_words
    run("case", "open", "T1-01", "--problem", "5", "--flag", "land", who="王强", now="2014-03-05")
    path = tmp_path / "ledger.csv"
    run("ledger", "export", "--format", "csv", "-o", str(path), now="2014-03-16")
    grid = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert grid[3][5] == "集体经济空壳、服务群众能力弱；征地拆迁矛盾纠纷集中"
    grid.append(["2", "城关镇第2村党支部", "", "", "中共城关镇委员会", "书记能力不足、长期不在岗；换届选举拉票贿选问题突出",
                 "", ""])
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(grid)
    out = run("ledger", "import", str(path), who="李明", now="2014-03-17").stdout
    assert "opened 1" in out
    assert "unchanged 1" in out
    shown = run.json("case", "show", "T1-02")
    assert (shown["problems"], shown["flags"]) == (["2 书记能力不足、长期不在岗"], ["换届选举拉票贿选问题突出"])


def test_the_ledger_refuses_a_label_the_workflow_does_not_declare(county_words, tmp_path):
    run = county_words
    path = tmp_path / "ledger.csv"
    run("ledger", "export", "--format", "csv", "-o", str(path), now="2014-03-16")
    grid = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    grid.append(["1", "城关镇第2村党支部", "", "", "中共城关镇委员会", "组织制度形同虚设、不开展活动", "", ""])
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(grid)
    before = fingerprint(run.db)
    out = run("ledger", "import", str(path), who="李明", now="2014-03-17", code=2).output
    assert "列 column '主要问题': 未知的问题类别 '组织制度形同虚设、不开展活动'" in out
    assert "班子不团结、内耗严重；集体经济空壳、服务群众能力弱；换届选举拉票贿选问题突出；征地拆迁矛盾纠纷集中" in out  # the valid ones
    assert fingerprint(run.db) == before


def test_a_workflow_without_the_keys_gets_the_source_document_s_words(rectify, tmp_path):
    """As a workflow deployed before the keys existed reads: cases keep their stored numbers."""
    path = workflow_with(tmp_path, (SHIPPED_WORDS, ""), (SHIPPED_CIRCUMSTANCES, ""))
    rectify("workflow", "deploy", str(path), now="2014-03-02")
    rectify("case", "open", "T1-01", "--problem", "4", "--flag", "petitions", who="王强", now="2014-03-05")
    shown = rectify.json("case", "show", "T1-01")
    assert shown["problems"] == ["4 组织制度形同虚设、不开展活动"]
    assert shown["flags"] == ["社会治安问题和信访矛盾纠纷集中"]


@pytest.mark.parametrize(("old", "new", "place", "said"), [
    ("  4: 组织制度", "  four: 组织制度", "four", "problem category 'four' must be a whole number from 1"),
    ("  petitions: ", "  Petitions: ", "Petitions", "circumstance 'Petitions' must be lowercase letters"),
    ("  3: 班子不团结、内耗严重", "  3: 班子不团结；内耗严重", "3", "a label is one line without '；' or ';'"),
    ("  petitions: 社会治安问题和信访矛盾纠纷集中", "  petitions: 班子不团结、内耗严重", "petitions",
     "the label '班子不团结、内耗严重' is also problem_categories.3's"),
])
def test_workflow_check_places_a_bad_key_or_label(tmp_path, old, new, place, said):
    path = workflow_with(tmp_path, (old, new))
    line_no = next(n for n, s in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if s.startswith(new))
    result = Rectify(f"sqlite:///{tmp_path / 'unused.db'}")("workflow", "check", str(path), code=2)
    assert result.stderr.startswith(f"{path}:{line_no}:3: "), result.stderr
    assert said in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


# --- applies_to -------------------------------------------------------------------------------

READY = [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周建国"), ("secretary_appointed", "张三")]
KIND_LIMITED = {"secretary_trained_on_time", "cadre_stationed"}


@pytest.fixture
def with_school(rectify, tmp_path):
    """The CLI county with a school's party branch (T1-30) and a village (T1-01) confirmed as cases,
    each with what every kind needs at the self-check recorded — not the training nor the 驻村干部."""
    orgs = tmp_path / "school.csv"
    orgs.write_text(SCHOOL, encoding="utf-8")
    rectify("org", "import", str(orgs))
    for code in ("T1-01", "T1-30"):
        rectify("case", "open", code, "--problem", "4", who="王强", now="2014-03-05")
        rectify("fire", code, "confirm", who="李明", now="2014-03-12")
        for name, value in READY:
            rectify("fact", "set", code, name, value, who="王强", now="2014-04-01")
    return rectify


def _blocking(run: Rectify, code: str) -> set[str]:
    triggers = {t["trigger"]: t for t in run.json("case", "show", code, now="2014-04-02")["triggers"]}
    return {b["guard"] for b in triggers["submit_self_check"]["blocked_by"]}


def test_a_school_is_not_asked_for_the_secretaries_training_nor_the_stationed_cadre(with_school):
    run = with_school
    assert _blocking(run, "T1-01") == {"cadre_stationed", "secretary_trained_on_time"}
    assert _blocking(run, "T1-30") == set()
    facts = {f["name"] for f in run.json("case", "show", "T1-30")["facts"]}
    assert not facts & {"secretary_trained", "stationed_cadre"}  # never listed as missing
    assert {"secretary_trained", "stationed_cadre"} <= {f["name"] for f in run.json("case", "show", "T1-01")["facts"]}
    out = run("fire", "T1-01", "submit_self_check", who="王强", now="2014-04-02", code=1).output
    assert "驻村干部或工作队在岗" in out
    run("fire", "T1-30", "submit_self_check", who="王强", now="2014-04-02")
    event = run.json("history", "T1-30")[-1]
    assert event["trigger"] == "submit_self_check"
    for name in KIND_LIMITED:
        verdict = event["data"]["guards"][name]
        assert verdict["outcome"] == "pass"
        assert (verdict["reason_zh"], verdict["reason_en"]) == ("不适用于学校党组织", "not applicable to school organizations")


def test_a_fact_of_villages_cannot_be_set_on_a_school(with_school):
    run = with_school
    before = fingerprint(run.db)
    out = run("fact", "set", "T1-30", "stationed_cadre", "驻村工作队周平", who="王强", now="2014-04-02", code=1).output
    assert ("“驻村（社区）干部或工作队”（stationed_cadre）只适用于村、社区党组织，“城关镇中心学校党支部”（T1-30）是学校党组织，"
            "不能登记") in out
    assert "fact 'stationed_cadre' applies to village, community organizations only; T1-30 is a school organization" in out
    assert "Traceback" not in out
    assert fingerprint(run.db) == before
    assert "applies to village, community" in run.json("audit", "refusals")[0]["reason"]
    run("fact", "set", "T1-01", "stationed_cadre", "驻村工作队周平", who="王强", now="2014-04-02")  # a village's


@pytest.mark.parametrize(("old", "new", "bad", "said"), [
    ("    params: {facts: [stationed_cadre]}\n    applies_to: [village, community]\n",
     "    params: {facts: [stationed_cadre]}\n    applies_to: [village, hamlet]\n", "hamlet",
     "未知的组织类型 / unknown organization kind 'hamlet'; kinds: village, community, enterprise"),
    ("    params: {facts: [stationed_cadre]}\n    applies_to: [village, community]\n",
     "    params: {facts: [stationed_cadre]}\n    applies_to: [village, township]\n", "township",
     "'township' is not a grassroots kind and is never a case"),
])
def test_workflow_check_names_a_wrong_kind_in_applies_to_at_its_place(tmp_path, old, new, bad, said):
    path = workflow_with(tmp_path, (old, new))
    lines = path.read_text(encoding="utf-8").splitlines()
    line_no = next(n for n, s in enumerate(lines, 1) if s == new.splitlines()[1])
    result = Rectify(f"sqlite:///{tmp_path / 'unused.db'}")("workflow", "check", str(path), code=2)
    problems = result.stderr.splitlines()
    place = f"{path}:{line_no}:{lines[line_no - 1].index(bad) + 1}: "
    assert [p for p in problems if p.startswith(place)], result.stderr
    assert said in result.stderr
    assert len(problems) == 1, result.stderr


def test_workflow_check_wants_a_rule_reading_a_limited_fact_limited_alike(tmp_path):
    old = "    params: {facts: [stationed_cadre]}\n    applies_to: [village, community]\n"
    path = workflow_with(tmp_path, (old, "    params: {facts: [stationed_cadre]}\n"))
    result = Rectify(f"sqlite:///{tmp_path / 'unused.db'}")("workflow", "check", str(path), code=2)
    line_no = next(n for n, s in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                   if s == "  cadre_stationed:")
    assert re.match(rf"^{re.escape(str(path))}:{line_no}:\d+: .*rule 'cadre_stationed' reads fact 'stationed_cadre', "
                    r"which applies to village, community only, but the rule applies to enterprise, school, "
                    "institution, other too", result.stderr), result.stderr
