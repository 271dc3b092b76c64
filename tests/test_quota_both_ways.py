""""5%左右" breached both ways: the backward_ratio rule's ``below: warn``.

The pure rule on hand-made figures, then ``rectify quota`` on a county with a township above
the band, one below it with no case at all and one within, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from rules.base import CaseView, Outcome, RuleContext
from rules.quota import BackwardRatio, QuotaParams, breach, judge_ratio
from tests.runner import Rectify

ROOT = Path(__file__).resolve().parent.parent
ABOVE_ONLY = "params: {target: 0.05, tolerance: 0.02, mode: warn}"
BOTH_WAYS = "params: {target: 0.05, tolerance: 0.02, mode: warn, below: warn}"
NOW = datetime(2014, 3, 10, 2, 0, tzinfo=timezone.utc)


def both_ways(**more) -> QuotaParams:
    return QuotaParams(target=0.05, tolerance=0.02, below="warn", **more)


def confirming(params: QuotaParams, township_cases: int, township_organizations: int):
    """The rule's verdict on a confirm, ``township_cases`` being confirmed before it."""
    case = CaseView("2014-1-0001", "screening", 1, False, False, (1,), NOW)
    figures = {"township_cases": township_cases, "township_organizations": township_organizations,
               "county_cases": township_cases, "county_organizations": township_organizations}
    return BackwardRatio(params).evaluate(RuleContext(case, {}, NOW, {}, figures))


# --- the pure rule ----------------------------------------------------------------------------

def test_below_the_band_warns_with_its_figures_both_languages():
    verdict = judge_ratio(0, 23, both_ways())
    assert verdict.outcome is Outcome.WARN
    assert verdict.reason_zh == "本乡镇后进比例 0.0%（0/23），低于目标 5%±2%"
    assert verdict.reason_en == "backward ratio per township 0.0% (0/23), below the target 5%±2%"
    assert dict(verdict.figures) == {"organizations": 23, "cases": 0, "ratio": 0.0, "target": 0.05,
                                     "tolerance": 0.02, "per": "township"}
    county = judge_ratio(2, 100, both_ways(per="county"))
    assert county.reason_zh == "全县后进比例 2.0%（2/100），低于目标 5%±2%"
    assert county.reason_en == "backward ratio per county 2.0% (2/100), below the target 5%±2%"


def test_above_the_band_says_above_and_keeps_its_mode():
    warned = judge_ratio(2, 23, both_ways())
    assert (warned.outcome, warned.reason_zh) == (Outcome.WARN, "本乡镇后进比例 8.7%（2/23），高于目标 5%±2%")
    assert warned.reason_en == "backward ratio per township 8.7% (2/23), above the target 5%±2%"
    assert judge_ratio(2, 23, both_ways(mode="block")).outcome is Outcome.FAIL


def test_below_never_blocks_even_in_block_mode():
    assert judge_ratio(0, 23, both_ways(mode="block")).outcome is Outcome.WARN


@pytest.mark.parametrize(("cases", "orgs", "side"), [
    (0, 23, "below"), (1, 23, None), (2, 23, "above"),
    (3, 100, None), (7, 100, None), (2, 100, "below"), (8, 100, "above"),  # the band's ends are within
    (0, 15, "below"),  # 1 of 15 = 6.7 % would be within: 0 is too few
    (0, 14, None), (0, 10, None),  # 1 of 14 = 7.1 %, 1 of 10 = 10 %: no count lands inside, 0 is the best
    (1, 10, "above"), (0, 0, None), (1, 0, "above"),
])
def test_which_side_of_the_band(cases, orgs, side):
    assert breach(cases, orgs, both_ways()) == side


def test_without_the_new_param_below_is_not_checked():
    """A workflow written before ``below`` existed behaves as it did."""
    shipped = QuotaParams(target=0.05, tolerance=0.02, mode="warn")
    assert shipped.below == "ignore"
    verdict = judge_ratio(0, 23, shipped)
    assert (verdict.outcome, verdict.reason_zh) == (Outcome.PASS, "本乡镇后进比例 0.0%（0/23），目标 5%±2%")
    assert breach(0, 23, shipped) is None
    assert confirming(shipped, 0, 50).reason_en == "backward ratio per township 2.0% (1/50), target 5%±2%"


def test_below_takes_only_ignore_or_warn():
    with pytest.raises(ValidationError, match="below"):
        QuotaParams(target=0.05, tolerance=0.02, below="block")


def test_a_confirm_that_leaves_the_township_below_passes_and_says_so():
    verdict = confirming(both_ways(mode="block"), 0, 50)  # 1 of 50 = 2 %, this confirm counted
    assert verdict.outcome is Outcome.PASS
    assert verdict.reason_zh == "本乡镇后进比例 2.0%（1/50），仍低于目标 5%±2%（确定整顿对象只会提高比例，不因此提醒）"
    assert verdict.reason_en == ("backward ratio per township 2.0% (1/50), still below the target 5%±2% "
                                 "(a confirm only raises the ratio: no warning)")
    assert confirming(both_ways(), 0, 23).reason_zh == "本乡镇后进比例 4.3%（1/23），目标 5%±2%"
    assert confirming(both_ways(), 1, 23).outcome is Outcome.WARN  # 2 of 23: above still warns
    assert confirming(both_ways(mode="block"), 1, 23).outcome is Outcome.FAIL


# --- rectify quota ----------------------------------------------------------------------------

def workflow_with(tmp_path: Path, params: str) -> Path:
    """A copy of the shipped workflow (templates beside it) whose within_quota has ``params``,
    whichever of the two lines the shipped file has."""
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "backward_orgs.yaml"
    source = path.read_text(encoding="utf-8")
    shipped = next(line for line in (BOTH_WAYS, ABOVE_ONLY) if line in source)
    path.write_text(source.replace(shipped, params), encoding="utf-8")
    return path


def add_townships(run: Rectify, tmp_path: Path) -> None:
    """T3 with 23 villages and T4 with 50, beside the CLI county's T1 and T2 of 20 each."""
    orgs = tmp_path / "more.csv"
    orgs.write_text("编码,名称,类型,上级编码\nT3,中共东山乡委员会,乡镇,X\nT4,中共南湖镇委员会,乡镇,X\n"
                    + "".join(f"T3-{i:02d},东山乡第{i}村党支部,村,T3\n" for i in range(1, 24))
                    + "".join(f"T4-{i:02d},南湖镇第{i}村党支部,村,T4\n" for i in range(1, 51)), encoding="utf-8")
    run("org", "import", str(orgs))


def test_quota_shows_townships_above_below_and_within(rectify, tmp_path):
    rectify("workflow", "deploy", str(workflow_with(tmp_path, BOTH_WAYS)), now="2014-03-02")
    add_townships(rectify, tmp_path)
    for org, who in (("T1-01", "王强"), ("T1-02", "王强"), ("T2-01", "赵刚"), ("T4-01", "李明")):
        rectify("case", "open", org, who=who, now="2014-03-05")
    for ref in ("2014-1-0001", "2014-1-0003"):
        assert "后进比例" not in rectify("fire", ref, "confirm", who="李明", now="2014-03-10").output
    assert "高于目标 5%±2%" in rectify("fire", "2014-1-0002", "confirm", who="李明", now="2014-03-10").output
    # T4 stays below after its confirm (1 of 50): the confirm is neither warned nor blocked.
    assert "后进比例" not in rectify("fire", "2014-1-0004", "confirm", who="李明", now="2014-03-10").output
    assert rectify.json("case", "show", "2014-1-0004")["state"] == "rectifying"

    report = rectify.json("quota", now="2014-03-16")
    assert (report["target"], report["tolerance"], report["mode"], report["below"]) == (0.05, 0.02, "warn", "warn")
    rows = {r["code"] or "county": r for r in report["rows"]}
    assert {code: (r["confirmed"], r["organizations"], r["outcome"], r["breach"]) for code, r in rows.items()} == {
        "T1": (2, 20, "warn", "above"), "T2": (1, 20, "pass", None), "T3": (0, 23, "warn", "below"),
        "T4": (1, 50, "warn", "below"), "county": (4, 113, "pass", None)}
    assert rows["T3"]["reason_zh"] == "本乡镇后进比例 0.0%（0/23），低于目标 5%±2%"
    assert rows["T3"]["reason_en"] == "backward ratio per township 0.0% (0/23), below the target 5%±2%"
    assert rows["T1"]["reason_en"] == "backward ratio per township 10.0% (2/20), above the target 5%±2%"

    out = rectify("quota", now="2014-03-16").stdout
    assert "高于、低于都查 / checked above and below" in out
    lines = {code: next(line for line in out.splitlines() if f" {code} " in line) for code in ("T1", "T2", "T3", "T4")}
    assert "高于目标（提醒）/ above (warning)" in lines["T1"]
    assert "低于目标（提醒）/ below (warning)" in lines["T3"]
    assert "低于目标（提醒）/ below (warning)" in lines["T4"]
    assert "目标（" not in lines["T2"]
    assert "低于目标" in rectify("report", now="2014-03-16").stdout  # the report's quota table too
    dashboard = rectify.json("report", now="2014-03-16")["quota"]
    assert dashboard["below"] == "warn"
    assert [(r["code"], r["breach"]) for r in dashboard["rows"]] == [
        ("T1", "above"), ("T2", None), ("T3", "below"), ("T4", "below"), ("", None)]


def test_quota_without_the_new_param_flags_only_above(rectify, tmp_path):
    rectify("workflow", "deploy", str(workflow_with(tmp_path, ABOVE_ONLY)), now="2014-03-02")
    add_townships(rectify, tmp_path)
    report = rectify.json("quota", now="2014-03-16")
    assert report["below"] == "ignore"
    assert {r["breach"] for r in report["rows"]} == {None}
    assert {r["outcome"] for r in report["rows"]} == {"pass"}
    assert "只查高于 / checked above only" in rectify("quota", now="2014-03-16").stdout
