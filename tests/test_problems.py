"""Problem lists (一支一策 at the level of problems), on SQLite and PostgreSQL: each change is an
event of the case's hash chain; 销号 needs evidence when the workflow says so; the guard keeps a
case out of self-check while a problem is open; a problem's deadline is reminded and escalated
by the daemon, never once it is closed; 回头看 asks the township months after acceptance; the
ledger, ``case show`` and the dashboard read the list; bad input writes nothing."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.runner import fingerprint

REF = "2014-1-0001"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def listed(rectify, tmp_path, monkeypatch):
    """The CLI county with T1-01 in rectification and one problem on its list, due 2014-06-30;
    evidence files go to a folder of the test's own (both backends)."""
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    rectify("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    rectify("fire", REF, "confirm", who="李明", now="2014-03-12")
    rectify("problem", "add", REF, "--category", "4", "--description", "全年未召开党员大会",
            "--measures", "制定“三会一课”计划", "--responsible", "张三", "--deadline", "2014-06-30",
            who="王强", now="2014-03-20")
    return rectify


def evidence(run, tmp_path, number: int, now: str, name: str = "会议记录.pdf") -> None:
    path = tmp_path / name
    path.write_bytes(PDF + name.encode())
    run("evidence", "add", REF, str(path), "--problem", str(number), who="王强", now=now)


def problems(run) -> list[dict]:
    return run.json("problem", "list", REF)["problems"]


def problem_events(run) -> list[tuple[int, str]]:
    return [(e["data"]["number"], e["data"]["action"]) for e in run.json("history", REF) if e["kind"] == "problem"]


def notices_of(run, template: str) -> list[dict]:
    return [n for n in run.json("notices", "list", "--case", REF, "--limit", "200") if n["template"] == template]


def test_add_update_close_reopen_are_events_of_the_chain(listed, tmp_path):
    run = listed
    run("problem", "add", REF, "--category", "1", "--description", "书记长期外出，工作停滞", who="王强", now="2014-03-21")
    changed = run("problem", "update", REF, "1", "--measures", "每季度召开党员大会", "--deadline", "2014-07-31",
                  who="王强", now="2014-03-22").stdout
    assert "整改措施 measures: 制定“三会一课”计划 → 每季度召开党员大会" in changed
    assert "期限 deadline: 2014-06-30 → 2014-07-31" in changed
    assert "无变化" in run("problem", "update", REF, "1", "--deadline", "2014-07-31", who="王强", now="2014-03-23").stdout
    evidence(run, tmp_path, 1, "2014-04-01")
    run("problem", "close", REF, "1", "--note", "已召开党员大会", who="王强", now="2014-04-02")
    run("problem", "reopen", REF, "1", "--reason", "上级检查发现会议记录不全", who="李明", now="2014-05-01")
    out = run("problem", "close", REF, "1", who="王强", now="2014-05-02", code=1).output
    assert "重新整改后佐证材料" in out
    assert "added since it was reopened" in out
    evidence(run, tmp_path, 1, "2014-05-10", "补充会议记录.pdf")
    run("problem", "close", REF, "1", who="王强", now="2014-05-11")

    first, second = problems(run)
    assert (first["number"], first["status"], first["measures"], first["deadline"]) == \
        (1, "closed", "每季度召开党员大会", "2014-07-31")
    assert (first["evidence"], first["closed_by"]) == (2, "王强")
    assert (second["number"], second["category"], second["status"], second["deadline"]) == (2, 1, "open", "")
    assert problem_events(run) == [(1, "add"), (2, "add"), (1, "update"), (1, "close"), (1, "reopen"), (1, "close")]
    added = next(e for e in run.json("history", REF) if e["kind"] == "problem")
    assert added["data"]["fields"]["description"] == [None, "全年未召开党员大会"]
    assert added["data"]["fields"]["deadline"] == [None, "2014-06-30"]
    reopened = [e for e in run.json("history", REF) if e["kind"] == "problem" and e["data"]["action"] == "reopen"]
    assert reopened[0]["note"] == "上级检查发现会议记录不全"
    run("audit", "verify")  # exit 0: every event, problem events included, is where its hash says


def test_closing_without_evidence_is_refused_and_writes_nothing(listed):
    before = fingerprint(listed.db)
    out = listed("problem", "close", REF, "1", who="王强", now="2014-04-02", code=1).output
    assert "销号须附佐证材料" in out
    assert "needs evidence" in out
    assert f"rectify evidence add {REF}" in out
    assert "Traceback" not in out
    assert fingerprint(listed.db) == before
    assert problems(listed)[0]["status"] == "open"


def test_the_guard_keeps_the_case_out_of_self_check_until_every_problem_is_closed(listed, tmp_path):
    def blocking() -> set[str]:
        shown = listed.json("case", "show", REF, now="2014-11-20")
        trigger = next(t for t in shown["triggers"] if t["trigger"] == "submit_self_check")
        return {b["guard"] for b in trigger["blocked_by"]}

    assert "problems_closed" in blocking()
    out = listed("fire", REF, "submit_self_check", who="王强", now="2014-11-20", code=1).output
    assert "problems_closed" in out
    assert "第1项尚未销号" in out
    evidence(listed, tmp_path, 1, "2014-06-01")
    listed("problem", "close", REF, "1", who="王强", now="2014-06-02")
    assert "problems_closed" not in blocking()
    listed("problem", "reopen", REF, "1", "--reason", "回头看发现问题反弹", who="李明", now="2014-06-10")
    assert "problems_closed" in blocking()


def test_a_case_without_a_list_is_not_blocked_by_the_guard(rectify):
    rectify("case", "open", "T1-02", "--problem", "1", who="王强", now="2014-03-05")
    rectify("fire", "T1-02", "confirm", who="李明", now="2014-03-12")
    shown = rectify.json("case", "show", "T1-02", now="2014-11-20")
    trigger = next(t for t in shown["triggers"] if t["trigger"] == "submit_self_check")
    assert "problems_closed" not in {b["guard"] for b in trigger["blocked_by"]}


def test_the_daemon_reminds_and_escalates_an_open_problem_and_never_a_closed_one(listed, tmp_path):
    run = listed
    run("problem", "add", REF, "--category", "1", "--description", "班子不健全", "--deadline", "2014-06-30",
        who="王强", now="2014-03-21")
    evidence(run, tmp_path, 2, "2014-06-01")
    run("problem", "close", REF, "2", who="王强", now="2014-06-02")  # before its reminder: never reminded
    # A transition in between leaves the problems' own timers alone.
    run("fact", "set", REF, "plan_made", "是", who="王强", now="2014-06-10")
    for day in ("2014-06-24T08:00", "2014-07-02T08:00", "2014-07-16T08:00", "2014-08-30T08:00"):
        run("daemon", "--once", now=day)

    reminders, escalations = notices_of(run, "problem_reminder"), notices_of(run, "problem_escalation")
    assert [n["created"] for n in reminders] == ["2014-06-24 08:00"]
    assert sorted(n["created"] for n in escalations) == ["2014-07-02 08:00", "2014-07-16 08:00"]
    for notice in reminders + escalations:
        assert "王强" in notice["recipients"]
        body = run.json("notices", "show", str(notice["id"]))["body"]
        assert "第1项“全年未召开党员大会”" in body
        assert "第2项" not in body
        assert "6月30日前" in body
    assert all(re.fullmatch(r"×组督〔2014〕\d+号", n["number"]) for n in escalations)  # 督办通知, numbered
    # the days as the calendar counts them when it is written (the 24th, 08:00: six days to the 30th)
    assert "距期限还有6天" in run.json("notices", "show", str(reminders[0]["id"]))["body"]
    bodies = sorted(run.json("notices", "show", str(n["id"]))["body"] for n in escalations)
    # written at 08:00 on 07-02 and 07-16: two and sixteen days past the 30th, as the calendar counts
    assert any("截至7月2日已逾期2天" in b for b in bodies)
    assert any("截至7月16日已逾期16天" in b for b in bodies)


def test_a_new_deadline_replans_the_timers_and_closing_cancels_them(listed, tmp_path):
    def problem_timers() -> list[str]:
        return sorted(t["due"] for t in listed.json("case", "show", REF)["timers"] if t["kind"].startswith("problem_"))

    assert problem_timers() == ["2014-06-24 00:00", "2014-07-02 00:00", "2014-07-16 00:00"]
    listed("problem", "update", REF, "1", "--deadline", "2014-09-30", who="王强", now="2014-04-01")
    assert problem_timers() == ["2014-09-24 00:00", "2014-10-02 00:00", "2014-10-16 00:00"]
    evidence(listed, tmp_path, 1, "2014-04-02")
    listed("problem", "close", REF, "1", who="王强", now="2014-04-03")
    assert problem_timers() == []
    listed("problem", "reopen", REF, "1", "--reason", "整改不到位", who="李明", now="2014-10-05")
    # reopened after its deadline: the reminder is past, the latest escalation due is sent once
    assert problem_timers() == ["2014-10-02 00:00", "2014-10-16 00:00"]
    listed("daemon", "--once", now="2014-10-06T08:00")
    assert len(notices_of(listed, "problem_escalation")) == 1
    assert len(notices_of(listed, "problem_reminder")) == 0


def test_look_back_asks_the_township_months_after_acceptance(surveyed_county):
    run = surveyed_county  # 2014-1-0001 was accepted on 2014-12-03
    timers = [t for t in run.json("case", "show", REF)["timers"] if t["kind"] == "look_back"]
    assert [t["due"][:10] for t in timers] == ["2015-06-03"]
    run("daemon", "--once", now="2015-06-02T08:00")
    assert notices_of(run, "look_back_request") == []  # not yet six months
    run("daemon", "--once", now="2015-06-04T08:00")
    [notice] = notices_of(run, "look_back_request")
    assert "王强" in notice["recipients"]
    body = run.json("notices", "show", str(notice["id"]))["body"]
    assert "已于2014年12月3日验收通过，至今已满6个月" in body
    # the township answers with a fact on the final state
    run("fact", "set", REF, "look_back_sound", "是", who="王强", now="2015-06-10")
    assert next(f for f in run.json("case", "show", REF)["facts"] if f["name"] == "look_back_sound")["value"] is True
    run("audit", "verify")


def test_an_answered_look_back_is_not_sent(surveyed_county):
    run = surveyed_county
    run("fact", "set", REF, "look_back_sound", "是", who="王强", now="2015-03-01")
    run("daemon", "--once", now="2015-06-04T08:00")
    assert notices_of(run, "look_back_request") == []


@pytest.mark.parametrize(("args", "message"), [
    (("add", REF, "--category", "9", "--description", "x"), "unknown problem category 9"),
    (("add", REF, "--category", "1", "--description", "  "), "the description is empty"),
    (("add", REF, "--category", "1", "--description", "x", "--deadline", "2014-02-30"), "is not a date"),
    (("add", REF, "--category", "x", "--description", "x"), "'x' is not a valid integer"),
    (("update", REF, "7", "--measures", "x"), "problem not found: 2014-1-0001 #7"),
    (("update", REF, "1", "--deadline", "明天"), "is not a date"),
    (("update", REF, "1"), "nothing to change"),
    (("close", REF, "3"), "problems of 2014-1-0001: 1"),
    (("reopen", REF, "2", "--reason", "x"), "problem not found"),
    (("close", REF, "0"), "0 is not in the range"),
    (("list", "2014-1-9999"), "case not found"),
])
def test_bad_input_is_exit_2_and_writes_nothing(listed, args, message):
    before = fingerprint(listed.db)
    out = listed("problem", *args, who="王强", now="2014-04-01", code=2).output
    assert message in out
    assert fingerprint(listed.db) == before


def test_only_the_officials_of_the_case_keep_its_list(listed):
    before = fingerprint(listed.db)
    out = listed("problem", "add", REF, "--category", "1", "--description", "x", who="赵刚", now="2014-04-01",
                 code=1).output
    assert "jurisdiction" in out
    out = listed("problem", "reopen", REF, "1", "--reason", "x", who="王强", now="2014-04-01", code=1).output
    assert "is not closed" in out
    assert fingerprint(listed.db) == before


def test_case_show_the_ledger_and_the_dashboard_read_the_list(listed, tmp_path):
    run = listed
    shown = run.json("case", "show", REF, now="2014-07-02")
    [problem] = shown["problem_list"]
    assert (problem["description"], problem["responsible"], problem["overdue"]) == ("全年未召开党员大会", "张三", True)
    assert "全年未召开党员大会" in run("case", "show", REF, now="2014-07-02").stdout

    def ledger(name: str) -> tuple[str, list[str]]:
        path = tmp_path / name
        run("ledger", "export", "--format", "csv", "-o", str(path), now="2014-07-02")
        text = path.read_text(encoding="utf-8-sig")
        row = next(r for r in csv.reader(io.StringIO(text)) if len(r) > 1 and r[1] == "城关镇第1村党支部")
        return text, row

    first, row = ledger("a.csv")
    assert (row[5], row[6]) == ("1. 全年未召开党员大会", "1. 制定“三会一课”计划")
    before = fingerprint(run.db)
    imported = run("ledger", "import", str(tmp_path / "a.csv"), who="李明", now="2014-07-03").stdout
    assert fingerprint(run.db) == before, imported  # read back as exported: nothing changes
    assert ledger("b.csv")[0] == first

    figures = run.json("report", now="2014-07-02")["problems"]
    assert figures == {"total": 1, "open": 1, "overdue": 1, "closed": 0}
    html = tmp_path / "d.html"
    run("report", "--html", str(html), now="2014-07-02")
    assert "问题未销号（其中逾期1）" in html.read_text(encoding="utf-8")


def test_a_registered_responsible_person_is_linked_and_hears_of_the_deadline(listed):
    listed("person", "add", "钱小红", "--unit", "县农业局", "--phone", "13900000777", now="2014-03-20")
    listed("problem", "add", REF, "--category", "2", "--description", "书记不在状态", "--responsible", "钱小红",
           "--deadline", "2014-05-31", who="王强", now="2014-03-21")
    assert [p["responsible_registered"] for p in problems(listed)] == [False, True]  # 张三 is not registered
    listed("daemon", "--once", now="2014-05-25T08:00")
    [reminder] = [n for n in notices_of(listed, "problem_reminder") if "第2项" in n["title"]]
    assert {"王强", "钱小红"} <= set(reminder["recipients"])


@pytest.mark.parametrize(("statement", "named"), [
    ("UPDATE problems SET deadline = '2014-12-31'", "deadline = '2014-12-31' (events: '2014-06-30')"),
    ("UPDATE problems SET status = 'closed'", "status = 'closed' (events: 'open')"),
    ("DELETE FROM problems", "the chain records problem 1, whose row is gone"),
])
def test_a_list_changed_behind_the_project_s_back_is_named_by_audit_verify(listed, statement, named):
    from sqlalchemy import create_engine, text

    engine = create_engine(listed.db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
    out = listed("audit", "verify", code=1).output
    assert REF in out
    assert named in out


def test_workflow_check_checks_the_problem_list_and_the_look_back(workflow_copy):
    from engine.base.errors import InvalidDefinition
    from engine.spec.loader import load_workflow_file

    templates = workflow_copy.parent / "templates"
    (templates / "problem_reminder.j2").write_text("【提醒】{{ problem.nothing }}\n{{ transition.label }}\n",
                                                   encoding="utf-8")
    text = workflow_copy.read_text(encoding="utf-8")
    text = text.replace("look_back_sound:          {label: 回头看：党组织仍然健全, type: bool}",
                        "look_back_sound:          {label: 回头看：党组织仍然健全, type: text}")
    text = text.replace("  roles: [county_department, township_committee]   # 可维护问题清单的角色",
                        "  roles: [county_department, nobody]")
    text = text.replace("  re_rectify:\n    label: 重新整顿\n", "  re_rectify:\n    label: 重新整顿\n    look_back: {after: 0 days}\n")
    workflow_copy.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidDefinition) as found:
        load_workflow_file(workflow_copy)
    message = str(found.value)
    assert "problem_reminder.j2:1" in message
    assert "'problem' has no field 'nothing'" in message
    assert "'look_back_sound' must be a declared bool fact" in message
    assert "unknown role 'nobody'" in message
    assert "'look_back' belongs on a final state: 're_rectify' is not final" in message
    assert "the look-back's 'after' must be more than 0" in message
