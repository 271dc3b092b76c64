"""People as records (issue 16): assignments to cases, notices that reach the people assigned (or
say loudly that nobody could be reached), and secretaries replaced with their history kept."""

from __future__ import annotations

import csv

import pytest

from tests.runner import Rectify, file_due, fingerprint

LEADER_MAIL = "wuhai@example.org"


def people(run: Rectify) -> None:
    """The people the tests assign: a contact leader, two stationed cadres."""
    run("person", "add", "吴海", "--unit", "城关镇党委", "--title", "镇党委副书记", "--phone", "13911110000",
        "--email", LEADER_MAIL)
    run("person", "add", "刘洋", "--unit", "县农业局", "--title", "驻村干部", "--email", "liuyang@example.org")
    run("person", "add", "周平", "--unit", "县财政局", "--channel", "wecom=zhouping")


def confirmed(run: Rectify, *codes: str) -> list[str]:
    refs = []
    for code in codes:
        run("case", "open", code, "--problem", "1", who="王强" if code.startswith("T1") else "赵刚", now="2014-03-05")
        refs.append(run.json("case", "show", code)["ref"])
        run("fire", code, "confirm", who="李明", now="2014-03-12")
    return refs


def mail_config(tmp_path, port: int) -> str:
    config = tmp_path / "notifiers.yaml"
    config.write_text(f"channels:\n  mail: {{type: email, host: 127.0.0.1, port: {port}, security: none, "
                      "sender: zzb@example.org}\n", encoding="utf-8")
    return str(config)


def notice_of(run: Rectify, template: str, ref: str) -> dict:
    listed = [n for n in run.json("notices", "list", "--case", ref, "--limit", "500") if n["template"] == template]
    assert listed, f"no {template} notice for {ref}"
    return run.json("notices", "show", str(listed[0]["id"]))


def test_a_contact_leader_assigned_as_a_person_receives_every_notice_for_the_role(rectify, smtp_server, tmp_path):
    inbox, port = smtp_server
    run = rectify
    people(run)
    ref, = confirmed(run, "T1-01")
    out = run("fact", "set", "T1-01", "contact_leader", "吴海", who="王强", now="2014-03-13").output
    assert f"{ref} contact_leader: — → 吴海" in out
    # ready for self-check; the stationed cadre is a person too
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("secretary_trained", "2014-03-28"),
                        ("secretary_appointed", "张三"), ("stationed_cadre", "刘洋")]:
        run("fact", "set", "T1-01", name, value, who="王强", now="2014-04-01")
    file_due(run, "T1", "王强", "2014-11-19")  # the township's progress reports
    run("fire", "T1-01", "submit_self_check", who="王强", now="2014-11-20")
    run("fact", "set", "T1-01", "self_check_report", "已完成自查", who="王强", now="2014-11-21")
    run("fire", "T1-01", "request_superior_check", who="王强", now="2014-11-22")
    run("fact", "set", "T1-01", "superior_check_opinion", "整改不到位", who="王强", now="2014-11-24")
    run("fire", "T1-01", "fail_superior_check", who="王强", now="2014-11-24T10:00")  # a transition's notice

    config = mail_config(tmp_path, port)
    run("--config", config, "daemon", "--once", now="2014-11-24T12:00")  # round 2 starts: 3 months
    run("--config", config, "daemon", "--once", now="2015-03-05T09:00")  # its escalation, by the daemon's chunks

    for template in ("re_rectify_notice", "overdue_escalation"):
        notice = notice_of(run, template, ref)
        leader = [p for p in notice["recipients"] if p["name"] == "吴海"]
        assert leader == [{"name": "吴海", "role": "contact_leader", "email": LEADER_MAIL, "phone": "13911110000",
                           "unit": "城关镇党委", "title": "镇党委副书记"}], template
        assert notice["unreached"] == []
        mailed = [d for d in notice["deliveries"] if d["address"] == LEADER_MAIL]
        assert [(d["channel"], d["recipient"], d["status"]) for d in mailed] == [("mail", "吴海", "delivered")]
    sent_to = [rcpts for rcpts, _, _ in inbox.messages]
    assert sum(LEADER_MAIL in r for r in sent_to) >= 2
    # the stationed cadre, only in no notice's audience, received nothing
    assert not any("liuyang@example.org" in r for r in sent_to)
    assert run("audit", "verify").exit_code == 0


def test_a_role_nobody_is_assigned_to_is_shown_unreached_and_counted(rectify, tmp_path):
    run = rectify
    people(run)
    nobody, assigned = confirmed(run, "T1-01", "T1-02")
    run("person", "assign", "T1-02", "contact_leader", "吴海", "--unit", "城关镇党委", who="王强", now="2014-03-13")
    run("daemon", "--once", now="2014-12-02T09:00")  # rectification overdue since 11-30: escalations
    missed = notice_of(run, "overdue_escalation", nobody)
    assert missed["unreached"] == [{"role": "contact_leader", "label": "联系领导（党员领导干部）"}]
    assert {p["name"] for p in missed["recipients"]} == {"李明", "王强"}  # the officials still get it
    assert notice_of(run, "overdue_escalation", assigned)["unreached"] == []

    only = run.json("notices", "list", "--unreached", "--limit", "500")
    assert only
    assert all(n["unreached"] for n in only)
    assert {n["id"] for n in only} >= {missed["id"]}
    assert not any(n["title"] == notice_of(run, "overdue_escalation", assigned)["title"] for n in only)
    text = run("notices", "list", "--unreached").output
    assert "未送达" in text
    assert "⚠" in text
    assert "联系领导（党员领" in text
    assert "reached nobody for some audience" in text

    report = run.json("report", now="2014-12-02T10:00")
    assert report["unreached"]["count"] == len(run.json("notices", "list", "--unreached", "--limit", "5000"))
    assert report["unreached"]["roles"][0]["role"] == "contact_leader"
    page = tmp_path / "d.html"
    run("report", "--html", str(page), now="2014-12-02T10:00")
    assert f"{report['unreached']['count']} 份通知无人可送达" in page.read_text(encoding="utf-8")


def test_assignments_refused_with_a_clear_message_and_nothing_written(rectify):
    run = rectify
    people(run)
    first, second = confirmed(run, "T1-01", "T1-02")
    run("person", "assign", "T1-01", "stationed_cadre", "刘洋", "--from", "2014-04-01", who="王强", now="2014-04-01")
    run("person", "add", "吴海", "--unit", "河西乡党委")  # a namesake in another unit
    before = fingerprint(run.db)

    out = run("fact", "set", "T1-01", "contact_leader", "无名氏", who="王强", now="2014-04-02", code=2).output
    assert "未找到人员“无名氏” / person not found: 无名氏" in out
    assert "rectify person add" in out
    out = run("fact", "set", "T1-01", "contact_leader", "吴海", who="王强", now="2014-04-02", code=2).output
    assert "--unit" in out
    assert "城关镇党委" in out
    assert "河西乡党委" in out
    out = run("person", "assign", "T1-01", "stationed_cadre", "刘洋", "--from", "2014-05-01", who="王强",
              now="2014-04-02", code=1).output
    assert "already assigned as stationed_cadre on " + first in out
    out = run("person", "assign", "T1-02", "stationed_cadre", "刘洋", "--from", "2014-04-10", who="王强",
              now="2014-04-02", code=1).output
    assert f"stationed on case {first} as stationed_cadre" in out  # exclusive: one place at a time, named
    out = run("person", "assign", "T1-02", "first_secretary", "刘洋", who="王强", now="2014-04-02", code=1).output
    assert first in out  # any exclusive role counts
    out = run("person", "assign", "T1-01", "plan_made", "刘洋", who="王强", now="2014-04-02", code=2).output
    assert "'plan_made' is not a person fact" in out
    out = run("person", "assign", "T1-01", "contact_leader", "周平", "--to", "2014-01-01", who="王强",
              now="2014-04-02", code=2).output
    assert "is before --from" in out
    # 不转化不撤离: the last stationed cadre cannot be withdrawn before acceptance
    out = run("person", "unassign", "T1-01", "stationed_cadre", "刘洋", who="王强", now="2014-06-01", code=1).output
    assert "驻村干部或工作队不转化不撤离" in out
    out = run("person", "deactivate", "刘洋", code=1).output
    assert f"still assigned ({first}（stationed_cadre）)" in out
    assert fingerprint(run.db) == before

    # after the cadre's assignment ends (elsewhere), the other case may have them
    run("person", "assign", "T1-02", "stationed_cadre", "周平", who="王强", now="2014-04-03")
    run("person", "assign", "T1-01", "stationed_cadre", "周平", "--from", "2015-01-01", who="王强",
        now="2014-04-03", code=1)
    assert second


def test_a_one_person_role_set_again_ends_the_previous_and_keeps_the_history(rectify):
    run = rectify
    people(run)
    ref, = confirmed(run, "T1-01")
    run("fact", "set", "T1-01", "contact_leader", "周平", who="王强", now="2014-03-13")
    out = run("person", "assign", "T1-01", "contact_leader", "吴海", "--unit", "城关镇党委", "--from", "2014-06-01",
              who="王强", now="2014-05-20").output
    assert "contact_leader（联系领导（党员领导干部））: 周平 → 吴海" in out
    shown = run.json("case", "show", "T1-01", now="2014-05-20")
    leaders = [(p["name"], p["first"], p["last"], p["current"]) for p in shown["people"] if p["role"] == "contact_leader"]
    assert leaders == [("周平", "2014-03-13", "2014-05-31", True), ("吴海", "2014-06-01", "", True)]
    assert {f["name"]: f["value"] for f in shown["facts"]}["contact_leader"] == "吴海"
    text = run("case", "show", "T1-01", now="2014-05-20").output
    assert "指派人员 / people assigned" in text
    assert "城关镇党委" in text
    assert "13911110000" in text
    # a work team adds; unassigning one keeps the others
    run("fact", "set", "T1-01", "stationed_cadre", "刘洋", who="王强", now="2014-04-01")
    run("fact", "set", "T1-01", "stationed_cadre", "周平", who="王强", now="2014-04-01")
    facts = {f["name"]: f["value"] for f in run.json("case", "show", "T1-01")["facts"]}
    assert facts["stationed_cadre"] == "刘洋、周平"
    run("person", "unassign", "T1-01", "stationed_cadre", "刘洋", "--on", "2014-07-01", who="王强", now="2014-06-20")
    facts = {f["name"]: f["value"] for f in run.json("case", "show", "T1-01")["facts"]}
    assert facts["stationed_cadre"] == "周平"
    shown_person = run.json("person", "show", "刘洋")
    assert [(a["case"], a["role"], a["from"], a["to"]) for a in shown_person["assignments"]] == [
        (ref, "stationed_cadre", "2014-04-01", "2014-06-30")]
    history = [e["what"] for e in run.json("history", "T1-01")]
    assert "指派 contact_leader：吴海（城关镇党委），自 2014-06-01；前任/结束：周平（县财政局）至 2014-05-31" in history
    assert run("audit", "verify").exit_code == 0


def test_the_people_register_is_the_county_departments(county_with_logins, login):
    run = county_with_logins
    login("wangq")  # a township's official
    out = run("person", "add", "钱六", "--unit", "县委组织部", code=1).output
    assert "only an administrator or the county department (a county-wide jurisdiction)" in out
    login("liming")  # the county department
    run("person", "add", "钱六", "--unit", "县委组织部", "--email", "sunli@example.org")
    out = run("person", "add", "钱六", "--unit", "县委组织部", code=2).output
    assert "钱六 of 县委组织部 is already registered" in out
    run("person", "update", "钱六", "--phone", "13800001111", "--channel", "wecom=sunli")
    out = run("person", "add", "钱七", "--unit", "县委办", "--channel", "name=z", code=2).output
    assert "--channel takes KEY=VALUE" in out
    login("wangq")  # reads the register
    listed = run.json("person", "list")
    assert [(p["name"], p["phone"], p["channels"]) for p in listed if p["unit"] == "县委组织部"] == [
        ("孙立", "", {}), ("钱六", "13800001111", {"wecom": "sunli"}), ("陈静", "", {})]
    login("liming")
    run("person", "deactivate", "钱六")
    login("admin1")
    run("case", "open", "T1-01", who="王强", now="2014-03-08")
    out = run("fact", "set", "T1-01", "contact_leader", "钱六", who="王强", now="2014-03-08", code=1).output
    assert "is inactive" in out


def ledger_secretary(run: Rectify, tmp_path, day: str) -> tuple[str, str]:
    path = tmp_path / f"ledger-{day}.csv"
    run("ledger", "export", "--format", "csv", "-o", str(path), now=day)
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    row = next(r for r in rows if len(r) > 3 and r[1] == "城关镇第1村党支部")
    return row[2], row[3]


def test_a_secretary_replaced_keeps_the_history_and_the_ledger_shows_the_one_in_office(rectify, tmp_path):
    run = rectify
    ref, = confirmed(run, "T1-01")
    out = run("org", "secretary", "T1-01", "刘建国", "--phone", "13900001111", "--from", "2014-06-01",
              "--reason", "换届调整", who="王强", now="2014-05-20").output
    assert "书记 / secretary: 书记1 → 刘建国（自 from 2014-06-01）" in out
    assert ref in out
    terms = run.json("org", "secretaries", "T1-01")
    assert [(t["name"], t["first"], t["last"]) for t in terms] == [("书记1", "", "2014-05-31"),
                                                                 ("刘建国", "2014-06-01", "")]
    assert ledger_secretary(run, tmp_path, "2014-05-01") == ("书记1", "13800000001")
    assert ledger_secretary(run, tmp_path, "2014-07-01") == ("刘建国", "13900001111")
    assert run.json("case", "show", "T1-01")["secretary"] == "刘建国"
    # the shipped fact secretary_appointed replaces the secretary too, from its day
    run("fact", "set", "T1-01", "secretary_appointed", "王新", who="王强", now="2014-09-10")
    assert [t["name"] for t in run.json("org", "secretaries", "T1-01")] == ["书记1", "刘建国", "王新"]
    assert ledger_secretary(run, tmp_path, "2014-08-01") == ("刘建国", "13900001111")
    assert ledger_secretary(run, tmp_path, "2014-09-10") == ("王新", "")
    run("fact", "set", "T1-01", "secretary_appointed", "王新", who="王强", now="2014-09-11")  # the same: no new term
    assert len(run.json("org", "secretaries", "T1-01")) == 3
    before = fingerprint(run.db)
    run("org", "secretary", "T1-01", "王新", who="王强", now="2014-09-12", code=1)  # already in office
    run("org", "secretary", "T1-01", "李四", "--from", "2014-09-01", who="王强", now="2014-09-12", code=1)
    run("org", "secretary", "T2-01", "李四", who="王强", now="2014-09-12", code=1)  # not 王强's township
    assert fingerprint(run.db) == before
    history = [e["what"] for e in run.json("history", "T1-01")]
    assert "更换书记：书记1 → 刘建国，自 2014-06-01" in history
    assert run("audit", "verify").exit_code == 0


@pytest.mark.parametrize(("yaml_edit", "message"), [
    (("  org_secretary: 党组织书记\n", "  org_secretary: 党组织书记\n  contact_leader: 联系领导\n"),
     "'contact_leader' is both a role (roles) and a person fact"),
    (("escalate_to: [township_committee, contact_leader, county_department]\n      later_rounds:",
      "escalate_to: [township_committee, contact_leadr, county_department]\n      later_rounds:"),
     "'contact_leadr' to notify is neither a role nor a person fact"),
    (("{label: 已制定整改方案（一支一策）, type: bool}", "{label: 已制定整改方案（一支一策）, type: bool, many: true}"),
     "'many' applies to person facts only"),
])
def test_the_workflow_check_knows_person_facts(workflow_copy, yaml_edit, message):
    old, new = yaml_edit
    text = workflow_copy.read_text(encoding="utf-8")
    assert old in text
    workflow_copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    out = Rectify("sqlite:///unused.db")("workflow", "check", str(workflow_copy), code=2).output
    assert message in out


def test_the_daemons_chunk_reads_the_assignments_once_whatever_the_number_of_cases(county, monkeypatch):
    """Each escalation goes to its case's own contact leader, and each chunk of timers reads the
    assignments with one statement, for 2 cases as for 5."""
    from sqlalchemy import event, select
    from sqlalchemy.engine import Engine

    from engine.daemon import ticker
    from engine.ops.cases import get_case
    from engine.ops.officials import actor_for
    from engine.ops.people import Contacts, add_person, assign
    from engine.store.models import Notice
    from tests.conftest import at
    from tests.test_engine import LI, WANG, ZHAO, fire_, open_

    per_chunk: list[int] = []  # statements reading the assignments, in each chunk
    seen: list[str] = []

    def chunk(*args, _fire=ticker.fire_chunk, **kw):
        before = len(seen)
        try:
            return _fire(*args, **kw)
        finally:
            per_chunk.append(len(seen) - before)

    def count(_conn, _cursor, statement, *_args) -> None:
        if "FROM assignments" in statement:
            seen.append(statement)

    monkeypatch.setattr(ticker, "fire_chunk", chunk)

    def escalated(codes: list[str], moment: str) -> dict[str, list[str]]:
        for code in codes:
            ref = open_(county, org=code, who=WANG if code.startswith("T1") else ZHAO)
            fire_(county, ref, "confirm", LI, "2014-03-12")
            with county.transaction() as s:
                leader = add_person(s, f"联系领导{code}", "县委", Contacts(email=f"{code}@example.org"), "admin",
                                    at("2014-03-12"))
                assign(s, get_case(s, code), "contact_leader", leader, actor_for(s, LI), at("2014-03-13"))
        per_chunk.clear()
        event.listen(Engine, "before_cursor_execute", count)
        try:
            ticker.tick(county, at(moment))
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        with county.transaction() as s:
            return {n.title: [p["name"] for p in n.recipients if p.get("unit")]
                    for n in s.scalars(select(Notice).where(Notice.template == "overdue_escalation",
                                                            Notice.created_at == at(moment)))}

    sent = escalated(["T1-01", "T2-01"], "2014-12-02T09:00")
    assert sorted(sent.values()) == [["联系领导T1-01"], ["联系领导T2-01"]]  # each case's own
    assert max(per_chunk) == 1  # at most one read per chunk (a chunk of bare deadlines reads none)
    sent = escalated(["T1-02", "T1-03", "T2-02", "T2-03", "T2-04"], "2014-12-02T09:05")
    assert sorted(sent.values()) == [[f"联系领导{c}"] for c in ("T1-02", "T1-03", "T2-02", "T2-03", "T2-04")]
    assert max(per_chunk) == 1  # at most one read per chunk (a chunk of bare deadlines reads none)
