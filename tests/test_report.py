"""The county dashboard (``rectify report``) and the bulletin (``rectify bulletin``), through the CLI."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.runner import ORGS, Rectify, fingerprint


def test_figures_tell_the_county_s_story(surveyed_county):
    d = surveyed_county.json("report", now="2014-12-05")
    states = {s["state"]: s["count"] for s in d["states"]}
    assert d["total"] == 4
    assert d["key_targets"] == 1
    assert states == {"screening": 1, "rectifying": 1, "self_check": 0, "superior_check": 0, "spot_check": 0,
                      "survey": 0, "re_rectify": 1, "accepted": 1}
    towns = {t["code"]: t for t in d["townships"]}
    assert towns["T1"]["total"] == 3
    assert towns["T2"]["total"] == 1
    assert towns["T2"]["counts"]["screening"] == 1
    quota = {r["code"] or "county": r for r in d["quota"]["rows"]}
    assert quota["T1"]["confirmed"] == 3
    assert quota["T1"]["ratio"] == 0.15
    assert quota["T1"]["outcome"] == "warn"
    assert quota["county"]["organizations"] == 40

    # The one case past its deadline is 2014-1-0003, still rectifying after 11-30. 2014-1-0004,
    # never confirmed, is not overdue: screening has no deadline of its own; the 3月16日 filing is
    # its township's duty, missing below.
    assert d["overdue"]["count"] == 1
    [late] = d["overdue"]["rows"]
    assert (late["ref"], late["due"], late["days"], late["state_label"]) == ("2014-1-0003", "2014-11-30", 5, "整顿转化")
    assert late["responsible"] == ["王强（乡镇（街道）党委）", "孙立（联系领导）"]

    # What the townships filed, as of 12-05. 城关镇 filed its 汇总表 (03-16) and the reports of
    # 05-20, 07-20 and 09-20 all on 11-19 (late: tests/runner.py ``prepare``), not the one of 11-20;
    # 河西乡, with a case since 03-05, filed nothing. Each owes its survey results by 12-10 (open).
    duties = {u["unit_code"]: u for u in d["duties"]["units"]}
    assert {code: (u["done"], u["late"], u["missing"], u["open"]) for code, u in duties.items()} == {
        "T1": (0, 4, 1, 1), "T2": (0, 0, 5, 1)}
    assert duties["T1"]["missing_items"] == ["整顿建设情况报告（11月20日）"]
    assert duties["T2"]["missing_items"] == ["排查情况汇总表（3月16日）", "整顿建设情况报告（5月20日）",  # by date
                                             "整顿建设情况报告（7月20日）", "整顿建设情况报告（9月20日）",
                                             "整顿建设情况报告（11月20日）"]

    surveys = {r["ref"]: r for r in d["surveys"]["rows"]}
    assert d["surveys"]["threshold"] == 0.7
    assert (d["surveys"]["passed"], d["surveys"]["failed"]) == (1, 1)
    assert (surveys["2014-1-0001"]["ratio"], surveys["2014-1-0001"]["passed"]) == (0.7, True)  # 70 % passes
    assert (surveys["2014-1-0002"]["ratio"], surveys["2014-1-0002"]["passed"]) == (0.6, False)
    assert d["spot_checks"]
    assert all(s["seed"] == "2014" for s in d["spot_checks"])

    progress = d["progress"]
    assert progress["dates"][0] == "2014-03-05"
    assert progress["dates"][-1] == "2014-12-05"
    assert progress["dates"] == sorted(progress["dates"])
    last = {s["state"]: s["values"][-1] for s in progress["series"]}
    assert last == states  # the replayed history ends where the cases stand
    first = {s["state"]: s["values"][0] for s in progress["series"]}
    assert first["screening"] == 4
    assert sum(first.values()) == 4


def replayed(db_url: str, dates: list[str], tz: str = "Asia/Shanghai") -> dict[str, list[int]]:
    """Cases per state at the end of each date, replaying every state change in time order
    (the last change up to a date wins)."""
    from collections import Counter
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from engine.store.db import Store
    from engine.store.models import Event

    store = Store(db_url)
    with store.transaction() as session:
        changes = session.execute(select(Event.case_id, Event.at, Event.to_state)
                                  .where(Event.to_state.is_not(None)).order_by(Event.at, Event.id)).all()
    store.dispose()
    where: dict[int, str | None] = {}  # to_state is never None here (the query's filter)
    standing: list[Counter] = []
    for day in dates:
        for case_id, at_, state in changes:
            if at_.astimezone(ZoneInfo(tz)).date().isoformat() <= day:
                where[case_id] = state
        standing.append(Counter(where.values()))
    return {state: [c[state] for c in standing] for state in set().union(*standing)}


@pytest.mark.parametrize("now", ["2014-03-12", "2014-11-20", "2014-12-05"])
def test_progress_is_the_replayed_history(surveyed_county, now):
    # recorded late with a time before the case's opening: in time order it comes first, so the
    # replay has the case enter "rectifying" and then go back to "screening"
    surveyed_county("fire", "2014-1-0004", "confirm", who="李明", now="2014-03-04")
    progress = surveyed_county.json("report", now=now)["progress"]
    assert progress["dates"][0] == "2014-03-04"
    assert len(progress["dates"]) > 1
    got = {s["state"]: s["values"] for s in progress["series"]}
    assert {state: values for state, values in got.items() if any(values)} == replayed(surveyed_county.db, progress["dates"])
    assert all(v >= 0 for values in got.values() for v in values)


def test_upcoming_deadlines_and_the_clock(surveyed_county):
    d = surveyed_county.json("report", now="2014-11-20")
    # Nothing overdue: the rectification deadline is 11-30, and the unconfirmed case has none in
    # screening (the 3月16日 filing is its township's, counted in the duties).
    assert d["overdue"]["count"] == 0
    assert [(r["ref"], r["due"], r["days"]) for r in d["upcoming"]["rows"]] == [("2014-1-0003", "2014-11-30", 10)]
    # Nothing that happened after the report's moment is shown as done.
    assert d["surveys"]["rows"] == []
    assert d["progress"]["dates"][-1] == "2014-11-20"
    # At 00:00 on 11-20 the report of 11-20 is not due yet; 城关镇 filed the four before on 11-19.
    standing = {u["unit_code"]: (u["done"], u["late"], u["missing"], u["open"]) for u in d["duties"]["units"]}
    assert standing == {"T1": (0, 4, 0, 2), "T2": (0, 0, 4, 2)}
    # On 06-01 城关镇 had filed nothing yet (its filings are of 11-19): its 汇总表 and the report of
    # 05-20 were missing, and the later dates not due.
    june = surveyed_county.json("report", now="2014-06-01")["duties"]["units"]
    assert {u["unit_code"]: (u["done"], u["late"], u["missing"], u["open"]) for u in june} == {
        "T1": (0, 0, 2, 4), "T2": (0, 0, 2, 4)}


def test_terminal_tables(surveyed_county):
    out = surveyed_county("report", now="2014-12-05").stdout
    for heading in ("各阶段 / by state", "各乡镇（街道）/ by township", "后进比例 / quota", "逾期未完成 / overdue (1)",
                    "各乡镇（街道）报送情况 / what townships filed",
                    "群众满意度测评 / surveys — 阈值 70%，达标 1，未达标 1", "抽查抽签 / spot checks", "整顿进度 / progress"):
        assert heading in out
    assert "孙立（联系领导）" in out
    assert "1：整顿建设情况报告（11月20日）" in out  # 城关镇's one missing report, named


def test_the_longest_overdue_comes_first(surveyed_county):
    """After its survey failed, 2014-1-0002's second round (opened by the daemon on 12-05) is due 3
    months later, 2015-03-05; by 03-10 it is overdue 5 days, behind 2014-1-0003's 100 since 11-30."""
    surveyed_county("daemon", "--once", now="2014-12-05T10:00")
    rows = surveyed_county.json("report", now="2015-03-10")["overdue"]["rows"]
    assert [(r["ref"], r["round"], r["due"], r["days"]) for r in rows] == [
        ("2014-1-0003", 1, "2014-11-30", 100), ("2014-1-0002", 2, "2015-03-05", 5)]
    assert rows[1]["responsible"] == ["王强（乡镇（街道）党委）", "周建国（联系领导）"]


def test_terminal_lists_the_first_townships_of_a_province(surveyed_county, capsys):
    from commands.reports import _print_report
    from engine.reports.dashboard import LISTED

    d = surveyed_county.json("report", now="2014-12-05")
    town, quota = d["townships"][0], d["quota"]["rows"]
    d["townships"] = [{**town, "name": f"第{i}镇"} for i in range(LISTED + 5)]
    d["quota"]["rows"] = [{**quota[0], "name": f"第{i}镇"} for i in range(LISTED + 5)] + [quota[-1]]
    _print_report(d)
    out = capsys.readouterr().out
    assert f"第{LISTED - 1}镇" in out
    assert f"第{LISTED}镇" not in out
    assert out.count("5 more townships: see --json or --html") == 2
    assert "全县合计" in out


def test_html_is_one_self_contained_page(surveyed_county, tmp_path):
    page = tmp_path / "看板.html"
    out = surveyed_county("report", "--html", str(page), now="2014-12-05").stdout
    assert "dashboard written" in out
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "<link" not in html
    assert "@import" not in html
    assert "url(" not in html
    assert set(re.findall(r"https?://[^\"' )]+", html)) == {"http://www.w3.org/2000/svg"}  # the SVG namespace only
    charts = re.findall(r'data-chart="([a-z-]+)"', html)
    assert charts == ["by-state", "quota", "by-township", "surveys", "progress"]
    assert html.count("<polygon") >= 3
    assert "阈值 70%" in html
    assert "目标 5%" in html
    assert "整顿后进基层党组织专项整治工作看板" in html
    assert "孙立（联系领导）" in html


def test_names_are_escaped_in_the_page(tmp_path):
    run = Rectify(f"sqlite:///{tmp_path / 'x.db'}")
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(ORGS + 'T1-99,"<img src=x onerror=alert(1)>村党支部",村,T1,,\n'
                    'T9,"<img src=y onerror=alert(2)>镇党委",乡镇,X,,\n', encoding="utf-8")
    run("org", "import", str(orgs))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1")
    run("case", "open", "T1-99", who="王强", now="2014-03-05")
    run("fire", "2014-1-0001", "confirm", who="李明", now="2014-03-12")
    page = tmp_path / "r.html"
    # 10 days before the case's deadline (11-30), it is listed by name among those due soon; the
    # township that never filed its 汇总表 (03-16) is named in what the townships filed.
    run("report", "--html", str(page), now="2014-11-20")
    html = page.read_text(encoding="utf-8")
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;村党支部" in html
    assert "&lt;img src=y onerror=alert(2)&gt;镇党委" in html


def test_an_empty_campaign_still_reports(rectify, tmp_path):
    page = tmp_path / "empty.html"
    rectify("report", "--html", str(page), now="2014-03-02")
    html = page.read_text(encoding="utf-8")
    assert "尚无整顿对象" in html
    assert "目前没有逾期未完成的整顿对象" in html
    assert "尚未开展群众满意度测评" in html
    assert rectify.json("report", now="2014-03-02")["total"] == 0


def test_bad_output_and_database_are_clean_errors(surveyed_county, tmp_path):
    before = fingerprint(surveyed_county.db)
    bad = surveyed_county("report", "--html", str(tmp_path / "no" / "such" / "dir.html"), now="2014-12-05", code=2)
    assert "无法写入 / cannot write" in bad.output
    assert fingerprint(surveyed_county.db) == before
    missing = Rectify(f"sqlite:///{tmp_path / 'absent.db'}")
    assert "database file not found" in missing("report", code=2).output
    assert not (tmp_path / "absent.db").exists()


def test_bulletin_renders_the_periodic_notice(surveyed_county, tmp_path):
    before = fingerprint(surveyed_county.db)
    out = surveyed_county("bulletin", now="2014-12-05T10:00").stdout
    title, blank, mark, to, opening, *_ = out.splitlines()
    assert title == "关于全县整顿后进基层党组织工作进展情况的通报"
    assert (blank, mark, to) == ("", "〔发文字号〕", "各乡镇（街道）党委：")  # shown, not issued: no number taken
    # The 9th monthly bulletin since 03-21 is November's (12-21's is not due yet), its figures as of today.
    assert opening == "现将截至12月5日全县整顿后进基层党组织工作进展情况（2014年11月，第9期）通报如下。"
    # Every case by its current state, adding up to the total: 2014-1-0002 (60 %) waits in 重新整顿
    # for the daemon to open its second round, so no case has been past its first round yet.
    assert "\n全县共确定整顿对象4个，目前处于“排查建账”的1个，处于“整顿转化”的1个，处于“重新整顿”的1个，处于“验收通过”的1个。\n" in out
    assert "累计有" not in out
    # Both surveys (35 and 30 of 50: 70 % and 60 %), averaged and spread against the 70 % bar.
    assert ("\n已开展群众满意度测评2次（含重新整顿后的测评），平均满意率65%；达到70%的1次，低于70%的1次。"
            "分布：90%及以上的0次，80%—90%的0次，70%—80%的1次，低于70%的1次。\n") in out
    # What the townships owed by 12月5日 (the same figures as the dashboard's): 城关镇 its 汇总表 and
    # four progress reports, the first three filed late on 11-19 and the 11-20 one not at all;
    # 河西乡 the same five, none filed; the survey results (12-10) are not due yet.
    assert "\n各乡镇（街道）党委应报送材料10件次，按时报送0件次，逾期报送4件次，逾期未报6件次。\n" in out
    assert ("\n中共城关镇委员会逾期未报：整顿建设情况报告（11月20日）。\n"
            "中共河西乡委员会逾期未报：排查情况汇总表（3月16日）、整顿建设情况报告（5月20日）、整顿建设情况报告（7月20日）、"
            "整顿建设情况报告（9月20日）、整顿建设情况报告（11月20日）。\n") in out
    # Overdue by the calendar, to 12月5日: 5 days since 11月30日. The one case past its deadline:
    # 2014-1-0004 waits in 排查建账, which has none (the 3月16日 filing is 河西乡's, named above).
    assert (date(2014, 12, 5) - date(2014, 11, 30)).days == 5
    assert ("\n以下整顿对象工作已逾期，请所在乡镇（街道）党委督促整改：\n"
            "1. 中共城关镇委员会 城关镇第3村党支部（2014-1-0003），“整顿转化”阶段应于11月30日前完成，已逾期5天\n"
            "各单位要以") in out
    assert out.rstrip().endswith("中共××县委组织部\n2014年12月5日")
    assert "抄送" not in out  # a 通报 goes to every unit: no one is copied
    assert fingerprint(surveyed_county.db) == before  # shown, not sent
    surveyed_county("daemon", "--once", now="2014-12-05T10:00")  # 2014-1-0002 starts its second round
    out = surveyed_county("bulletin", now="2014-12-05T11:00").stdout
    assert "\n全县共确定整顿对象4个，目前处于“排查建账”的1个，处于“整顿转化”的2个，处于“验收通过”的1个。\n" in out
    assert "\n累计有1个整顿对象因检查、抽查或测评未通过进入重新整顿，其中0个已完成整顿，1个正在整顿。\n" in out
    doc = tmp_path / "通报.docx"
    surveyed_county("bulletin", "--docx", str(doc), now="2014-12-05T11:00")
    from docx import Document

    assert [p.text for p in Document(str(doc)).paragraphs if p.text][:3] == ["〔发文字号〕", title, "各乡镇（街道）党委："]


def test_a_bulletin_at_midnight_counts_to_the_day_it_states(surveyed_county):
    """At 00:00 on 12月5日 nothing of that day has passed: the figures and the 截至 day are 12月4日's."""
    out = surveyed_county("bulletin", now="2014-12-05").stdout
    assert "现将截至12月4日" in out
    day = date(2014, *map(int, re.search(r"现将截至(\d+)月(\d+)日", out).groups()))
    overdue = int(re.search(r"“整顿转化”阶段应于11月30日前完成，已逾期(\d+)天", out).group(1))
    assert overdue == (day - date(2014, 11, 30)).days


def test_bulletin_without_a_bulletin_section(tmp_path, workflow_copy):
    text = workflow_copy.read_text(encoding="utf-8")
    start = text.index("\nbulletin:")
    end = text.index("\nstates:")
    workflow_copy.write_text(text[:start] + text[end:], encoding="utf-8")
    run = Rectify(f"sqlite:///{tmp_path / 'b.db'}")
    run("init")
    run("workflow", "deploy", str(workflow_copy), now="2014-03-01")
    assert "has no bulletin section" in run("bulletin", code=2).output
