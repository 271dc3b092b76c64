"""The ``rectify`` CLI: the whole story told with commands only, and every bad input answered cleanly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.runner import ORGS, Rectify, file_due, fingerprint, prepare, rectify_command


def test_screening_to_accepted_with_the_cli_only(rectify):
    out = rectify("case", "open", "T1-01", "--problem", "1", "--problem", "4", who="王强", now="2014-03-05").stdout
    assert "2014-1-0001" in out
    prepare(rectify, "2014-1-0001")
    rectify("fact", "set", "T1-01", "survey_respondents", "50", who="王强", now="2014-12-03")  # by org code too
    rectify("fact", "set", "2014-1-0001", "survey_satisfied", "35", who="王强", now="2014-12-03")
    out = rectify("fire", "2014-1-0001", "conclude_survey", who="王强", now="2014-12-03").stdout
    assert "群众满意度测评 → 验收通过" in out
    assert "accepted_notice" in out
    show = rectify.json("case", "show", "2014-1-0001", now="2014-12-04")
    assert show["state"] == "accepted"
    assert show["triggers"] == []
    assert [t["kind"] for t in show["timers"]] == ["look_back"]  # only the 回头看, six months on
    steps = [e["to"] for e in rectify.json("history", "2014-1-0001") if e["kind"] == "transition"]
    assert steps == ["rectifying", "self_check", "superior_check", "spot_check", "survey", "accepted"]
    text = rectify("history", "2014-1-0001").stdout
    assert "conclude_survey" in text
    assert "抽查合格" in text


def test_re_rectify_and_back_to_rectifying_with_the_cli_only(rectify):
    rectify("case", "open", "T1-02", "--flag", "petitions", who="王强", now="2014-03-05")
    rectify("fact", "set", "T1-02", "county_contact_leader", "周建国", who="李明", now="2014-04-01")
    rectify("fact", "set", "T1-02", "county_cadre", "陈静", who="李明", now="2014-04-01")
    prepare(rectify, "2014-1-0001")
    rectify("fact", "set", "T1-02", "survey_respondents", "40", who="王强", now="2014-12-03")
    rectify("fact", "set", "T1-02", "survey_satisfied", "27", who="王强", now="2014-12-03")
    out = rectify("fire", "T1-02", "conclude_survey", who="王强", now="2014-12-03T10:00").stdout
    assert "重新整顿" in out
    assert "re_rectify_notice" in out
    out = rectify("daemon", "--once", now="2014-12-03T10:01").stdout
    assert "restart_rectification re_rectify → rectifying" in out
    file_due(rectify, "T1", "王强", "2014-12-04")  # the township's progress report of 11-20
    show = rectify.json("case", "show", "T1-02", now="2014-12-04")
    assert (show["state"], show["round"], show["key_target"]) == ("rectifying", 2, True)
    assert show["due"] == "2015-03-03 10:01"  # a fresh relative deadline for round 2
    assert [t["trigger"] for t in show["triggers"]] == ["submit_self_check"]
    assert show["triggers"][0]["available"]  # facts from round 1 still hold
    history = rectify.json("history", "T1-02")
    assert history[-1]["actor"] == "system"
    assert history[-1]["round"] == 2
    table = rectify("case", "show", "T1-02", now="2014-12-04").stdout
    assert "第 2 轮" in table
    assert "满意度 67.5%" in table


def test_case_show_explains_what_blocks(rectify):
    rectify("case", "open", "T1-03", who="王强", now="2014-03-05")
    rectify("fire", "T1-03", "confirm", who="李明", now="2014-03-12")
    show = rectify.json("case", "show", "T1-03", now="2014-03-13")
    blocked = show["triggers"][0]
    assert blocked["trigger"] == "submit_self_check"
    assert not blocked["available"]
    assert {b["guard"] for b in blocked["blocked_by"]} == {
        "plan_ready", "secretary_in_place", "secretary_trained_on_time", "contact_leader_assigned",
        "cadre_stationed"}
    kinds = [t["kind"] for t in show["timers"]]
    assert kinds.count("reminder") == 2
    assert "deadline" in kinds
    assert "recurring" not in kinds  # progress reports are the township's duty (rectify duty list)
    assert show["due"] == "2014-11-30 24:00"


def test_case_list_filters(rectify):
    for org in ("T1-01", "T1-02"):
        rectify("case", "open", org, who="王强", now="2014-03-05")
    rectify("case", "open", "T2-01", who="赵刚", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-10")
    assert len(rectify.json("case", "list")) == 3
    assert [c["org_code"] for c in rectify.json("case", "list", "--state", "rectifying")] == ["T1-01"]
    assert [c["org_code"] for c in rectify.json("case", "list", "--township", "T2")] == ["T2-01"]
    # screening has no deadline of its own (the 3月16日 filing is the township's duty): only the
    # confirmed case can fall behind, in rectification
    assert rectify.json("case", "list", "--overdue", now="2014-03-20") == []
    overdue = rectify.json("case", "list", "--overdue", now="2014-12-02")
    assert [c["org_code"] for c in overdue] == ["T1-01"]
    assert "城关镇第1村党支部" in rectify("case", "list").stdout


@pytest.mark.parametrize(("args", "who", "code", "message"), [
    (("fire", "2014-1-0001", "pass_spot_check"), "李明", 1, "not allowed in state 'screening'"),
    (("fire", "2014-1-0001", "confirm"), "王强", 1, "allowed roles: county_department"),
    (("fire", "2014-1-0001", "confirm"), "赵刚", 1, "allowed roles"),
    (("fire", "2014-1-0001", "fly"), "李明", 2, "trigger not found"),
    (("fire", "2014-9-9999", "confirm"), "李明", 2, "case not found"),
    (("fire", "2014-1-0001", "confirm"), "nobody", 2, "official not found"),
    (("fire", "2014-1-0001", "confirm"), None, 2, "--as NAME"),
    (("case", "open", "NOPE"), "王强", 2, "organization not found"),
    (("case", "open", "T1-01"), "王强", 2, "already case 2014-1-0001"),
    (("case", "open", "T2-05"), "王强", 1, "jurisdiction"),
    (("case", "open", "T1-05", "--problem", "7"), "王强", 2, "unknown problem category 7"),
    (("case", "open", "T1-05", "--flag", "bribes"), "王强", 2, "unknown flag 'bribes'"),
    (("fact", "set", "2014-1-0001", "plan_made", "maybe"), "王强", 2, "is not yes/no"),
    (("fact", "set", "2014-1-0001", "color", "red"), "王强", 2, "fact not found"),
    (("official", "add", "新人", "--role", "mayor", "--jurisdiction", "X"), None, 2, "unknown role 'mayor'"),
    (("official", "add", "王强", "--role", "county_department", "--jurisdiction", "X"), None, 2, "already exists"),
    (("case", "list", "--state", "rectifying", "--township", "NOPE"), None, 2, "organization not found"),
])
def test_bad_input_and_refusals_exit_cleanly_and_write_nothing(rectify, args, who, code, message):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    before = fingerprint(rectify.db)
    result = rectify(*args, who=who, now="2014-03-10", code=code)
    assert message in result.output
    assert fingerprint(rectify.db) == before


def test_a_refused_guard_exits_1_with_every_reason(rectify):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-10")
    before = fingerprint(rectify.db)
    out = rectify("fire", "T1-01", "submit_self_check", who="王强", now="2014-11-01", code=1).output
    for guard in ("plan_ready", "secretary_in_place", "contact_leader_assigned", "cadre_stationed"):
        assert guard in out
    assert "整改方案已向群众公布" in out
    assert fingerprint(rectify.db) == before


def test_bad_clock_and_missing_database(tmp_path):
    run = Rectify(f"sqlite:///{tmp_path / 'absent.db'}")
    assert "database file not found" in run("case", "list", code=2).output
    assert not (tmp_path / "absent.db").exists()  # no stray empty database was created
    run = Rectify(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    assert "folder" in run("init", code=2).output
    run = Rectify(f"sqlite:///{tmp_path / 'blank.db'}")
    (tmp_path / "blank.db").write_bytes(b"")
    assert "rectify init" in run("case", "list", code=2).output
    run = Rectify(f"sqlite:///{tmp_path / 'ok.db'}")
    run("init")
    assert "no workflow deployed" in run("case", "list", code=2).output
    assert "cannot read the time" in run("case", "list", now="next tuesday", code=2).output
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    assert "cannot open database" in Rectify(f"sqlite:///{junk}")("case", "list", code=2).output


def test_init_twice_is_up_to_date(tmp_path):
    run = Rectify(f"sqlite:///{tmp_path / 'r.db'}")
    assert "created" in run("init").stdout
    assert "up to date" in run("init").stdout
    # Roles come from the deployed workflow: before a deploy none is known, so none is guessed.
    assert "no workflow deployed" in run("official", "add", "王强", "--role", "township_committee",
                                         "--jurisdiction", "X", code=2).output


def test_workflow_show_and_deploy_of_a_broken_file(rectify, tmp_path):
    out = rectify("workflow", "show").stdout
    assert "排查建账" in out
    assert "conclude_survey" in out
    out = rectify("workflow", "show", "--deployed").stdout
    assert "deployed version v1" in out
    assert "验收通过" in out
    assert rectify.json("workflow", "show")["states"]["survey"]["label"] == "群众满意度测评"
    broken = tmp_path / "wf.yaml"
    broken.write_text("name: x\nname: y\n", encoding="utf-8")
    before = fingerprint(rectify.db)
    assert f"{broken}:2:1: 重复的键" in rectify("workflow", "deploy", str(broken), code=2).output
    assert fingerprint(rectify.db) == before



@pytest.mark.slow
def test_real_process_exit_codes_and_no_traceback(tmp_path):
    """The installed console script, as a real process: exit codes and stderr."""
    env = {**os.environ, "RECTIFY_DB": str(tmp_path / "p.db"), "RECTIFY_NOW": "2014-03-05"}
    env.pop("RECTIFY_USER", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*rectify_command(), *args], env=env, capture_output=True, text=True,
                              cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)

    assert run("init").returncode == 0
    assert run("workflow", "deploy").returncode == 0
    orgs = tmp_path / "orgs.csv"
    orgs.write_bytes(ORGS.encode("gb18030"))
    assert run("org", "import", str(orgs)).returncode == 0
    assert run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1").returncode == 0
    assert run("--as", "王强", "case", "open", "T1-01").returncode == 0
    refused = run("--as", "王强", "fire", "T1-01", "confirm")
    assert refused.returncode == 1
    assert "county_department" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    bad = run("--as", "王强", "fire", "T1-01", "nope")
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    usage = run("case", "open")
    assert usage.returncode == 2
    assert "Missing argument" in usage.stderr


@pytest.mark.slow
def test_demo_runs_the_campaign(tmp_path):
    from engine.services.demo import run_demo

    lines: list[str] = []
    summary = run_demo(tmp_path / "demo", 7, lines.append)
    assert "验收通过" in summary
    assert "重新整顿" in summary
    assert "第2轮" in summary
    assert "overdue_escalation" in summary
    assert "deadline_reminder" in summary
    for heading in ("督办通知样例", "重新整顿通知样例", "验收通过通知样例"):  # quoted as the record has them
        assert heading in summary
    assert "转入第2轮整顿" in summary
    assert (tmp_path / "demo" / "rectify.db").stat().st_mode & 0o777 == 0o660  # as 'rectify init' makes one
    run = Rectify(f"sqlite:///{Path(tmp_path / 'demo' / 'rectify.db')}")
    cases = run.json("case", "list")
    assert 12 <= len(cases) <= 20
    assert {c["state"] for c in cases} == {"accepted"}
    assert max(c["round"] for c in cases) == 2
    for page in ("看板-11月20日.html", "看板-12月3日.html", "看板.html"):  # dashboards as the year went
        assert "data-chart=\"progress\"" in (tmp_path / "demo" / page).read_text(encoding="utf-8")


def test_quota_per_township_and_county(rectify):
    for org in ("T1-01", "T1-02", "T1-03"):
        rectify("case", "open", org, who="王强", now="2014-03-05")
    rectify("case", "open", "T2-01", who="赵刚", now="2014-03-05")
    for ref in ("T1-01", "T1-02"):
        rectify("fire", ref, "confirm", who="李明", now="2014-03-10")
    rectify("fire", "T2-01", "confirm", who="李明", now="2014-03-10")
    report = rectify.json("quota")
    assert (report["target"], report["tolerance"]) == (0.05, 0.02)
    rows = {r["code"] or "county": r for r in report["rows"]}
    assert (rows["T1"]["organizations"], rows["T1"]["screening"], rows["T1"]["confirmed"]) == (20, 1, 2)
    assert rows["T1"]["ratio"] == 0.1
    assert rows["T1"]["outcome"] == "warn"
    assert rows["T2"]["ratio"] == 0.05
    assert rows["T2"]["outcome"] == "pass"
    assert (rows["county"]["organizations"], rows["county"]["confirmed"], rows["county"]["ratio"]) == (40, 3, 0.075)
    assert "城关镇" in rectify("quota").stdout


def test_fact_clear_respects_the_facts_guards(rectify):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    rectify("fact", "set", "T1-01", "stationed_cadre", "驻村工作队", who="王强")
    rectify("fact", "set", "T1-01", "measures", "整改", who="王强")
    before = fingerprint(rectify.db)
    out = rectify("fact", "clear", "T1-01", "stationed_cadre", who="王强", code=1).output
    assert "不转化不撤离" in out
    assert fingerprint(rectify.db) == before
    assert "measures: 整改 → —" in rectify("fact", "clear", "T1-01", "measures", who="王强").stdout
    assert "撤销事实 measures" in rectify("history", "T1-01").stdout


def test_notices_preview_renders_without_sending(rectify):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-12")
    written = len(rectify.json("notices", "list"))
    out = rectify("notices", "preview", "overdue_escalation", "T1-01", "--use", "1", now="2014-12-04").stdout
    assert "\n关于督促城关镇第1村党支部加快“整顿转化”工作的督办通知\n\n〔发文字号〕\n中共城关镇委员会：\n" in out
    # The 1-day escalation has been due since 12月2日 00:00; written now, at 00:00 on 12月4日,
    # it speaks as of 12月3日: 3 days past 11月30日, not the 1 day of its offset.
    assert "“整顿转化”阶段工作应于11月30日前完成，截至12月3日已逾期3天。" in out
    assert "\n中共××县委组织部\n2014年12月4日\n" in out
    assert len(rectify.json("notices", "list")) == written  # nothing was written
    assert "no template 'nope'" in rectify("notices", "preview", "nope", "T1-01", code=2).output
    assert "notice not found" in rectify("notices", "show", "99", code=2).output
