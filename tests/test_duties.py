"""What townships owe (issue 16): the 汇总表 due 03-16 and the progress reports are each
township's duty, filed with `rectify duty submit`, returned with `rectify duty return`, chased
by reminders and escalations of their own — never made late by the county's confirmation of
cases, and a township that files nothing is chased. On SQLite and PostgreSQL."""

from __future__ import annotations

from tests.runner import Rectify, fingerprint


def _notices(run: Rectify, template: str) -> list[dict]:
    return [n for n in run.json("notices", "list", "--limit", "500") if n["template"] == template]


def _standing(run: Rectify, unit: str, duty: str) -> list[str]:
    rows = run.json("duty", "list", "--unit", unit, now="2014-12-31")["rows"]
    return [r["standing"] + ("*" if r["returned"] else "") for r in rows if r["duty"] == duty]


def test_a_township_is_chased_for_its_own_filing_and_the_county_confirming_late_changes_nothing(rectify: Rectify):
    run = rectify
    run("case", "open", "T1-01", "--problem", "1", who="王强", now="2014-03-03")
    run("duty", "submit", "screening_report", "--unit", "T1", "--note", "城关镇排查汇总表", who="王强",
        now="2014-03-04T10:00")
    run("daemon", "--once", now="2014-03-14T09:00")  # 3 days before the end of 03-16
    reminders = _notices(run, "duty_reminder")
    assert [n["title"] for n in reminders] == ["【报送提醒】中共河西乡委员会“排查情况汇总表”3月16日到期"]
    assert reminders[0]["recipients"] == ["赵刚"]
    run("daemon", "--once", now="2014-03-18T09:00")
    run("fire", "2014-1-0001", "confirm", who="李明", now="2014-03-19")  # the county confirms late
    escalations = _notices(run, "duty_escalation")
    assert len(escalations) == 1  # 河西乡 only: 城关镇 filed on 03-04
    assert escalations[0]["title"] == "关于督促中共河西乡委员会报送“排查情况汇总表”的督办通知"
    assert escalations[0]["number"] == "×组督〔2014〕1号"
    assert sorted(escalations[0]["recipients"]) == ["李明", "赵刚"]
    body = run.json("notices", "show", str(escalations[0]["id"]))["body"]
    assert "应于3月16日前报县委组织部，截至3月18日你单位仍未报送，已逾期2天" in body
    assert _standing(run, "T1", "screening_report") == ["done"]
    assert _standing(run, "T2", "screening_report") == ["missing"]
    run("duty", "submit", "screening_report", "--unit", "T2", who="赵刚", now="2014-03-20T10:00")
    assert _standing(run, "T2", "screening_report") == ["late"]
    run("daemon", "--once", now="2014-03-24T09:00")  # the 7-days escalation: 河西乡 has filed since
    assert len(_notices(run, "duty_escalation")) == 1


def test_a_returned_filing_is_open_again_and_the_township_is_told_why(rectify: Rectify):
    run = rectify
    run("duty", "submit", "screening_report", "--unit", "T1", who="王强", now="2014-03-10T10:00")
    run("duty", "return", "screening_report", "--unit", "T1", "--reason", "汇总表未加盖党委印章", who="李明",
        now="2014-03-12T10:00")
    returned = _notices(run, "duty_returned")
    assert [n["recipients"] for n in returned] == [["王强"]]
    body = run.json("notices", "show", str(returned[0]["id"]))["body"]
    assert "退回理由：汇总表未加盖党委印章。请修改完善后重新报送，期限为3月16日" in body
    run("daemon", "--once", now="2014-03-14T09:00")  # chased again, like a township that never filed
    assert {n["title"] for n in _notices(run, "duty_reminder")} == {
        "【报送提醒】中共城关镇委员会“排查情况汇总表”3月16日到期", "【报送提醒】中共河西乡委员会“排查情况汇总表”3月16日到期"}
    run("duty", "submit", "screening_report", "--unit", "T1", who="王强", now="2014-03-15T10:00")
    assert _standing(run, "T1", "screening_report") == ["done*"]
    listed = run("duty", "list", now="2014-03-18").stdout
    assert "逾期未报 overdue: 中共河西乡委员会：排查情况汇总表（3月16日）" in listed


def test_progress_reports_are_the_townships_and_hold_back_self_check(rectify: Rectify):
    run = rectify
    run("case", "open", "T1-01", "--problem", "1", who="王强", now="2014-03-03")
    assert _standing(run, "T1", "progress_report") == ["missing"] * 4  # owed once a case is open
    assert _standing(run, "T2", "progress_report") == []  # no case in 河西乡: nothing owed
    run("fire", "2014-1-0001", "confirm", who="李明", now="2014-03-12")
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周建国"),
                        ("secretary_trained", "2014-03-28"), ("secretary_appointed", "张三"),
                        ("stationed_cadre", "驻村工作队")]:
        run("fact", "set", "2014-1-0001", name, value, who="王强", now="2014-04-01")
    run("duty", "submit", "progress_report", "--unit", "T1", who="王强", now="2014-05-19T10:00")
    refused = run("fire", "2014-1-0001", "submit_self_check", who="王强", now="2014-07-25", code=1).output
    assert "所在乡镇应报送 2 次，仅报送 1 次" in refused
    run("duty", "submit", "progress_report", "--unit", "T1", who="王强", now="2014-07-25T10:00")
    run("fire", "2014-1-0001", "submit_self_check", who="王强", now="2014-07-25T11:00")
    assert _standing(run, "T1", "progress_report") == ["done", "late", "missing", "missing"]


def test_bad_filings_are_refused_and_write_nothing(rectify: Rectify):
    run = rectify
    run("duty", "submit", "screening_report", "--unit", "T1", who="王强", now="2014-03-10T10:00")
    before = fingerprint(run.db)
    out = run("duty", "submit", "no_such_duty", "--unit", "T1", who="王强", now="2014-03-10", code=2).output
    assert "未知的报送事项 / unknown duty 'no_such_duty'" in out
    assert "screening_report（排查情况汇总表）" in out
    out = run("duty", "submit", "screening_report", "--unit", "T2", who="王强", now="2014-03-10", code=1).output
    assert "不包括“中共河西乡委员会”" in out  # another township's duty
    out = run("duty", "submit", "screening_report", "--unit", "T1", who="王强", now="2014-03-11", code=1).output
    assert "均已报送" in out  # filed already: the county returns it first
    out = run("duty", "submit", "screening_report", "--unit", "T2", who="李明", now="2014-03-11", code=1).output
    assert "只有乡镇（街道）党委可以报送" in out
    out = run("duty", "return", "screening_report", "--unit", "T2", "--reason", "x", who="李明", now="2014-03-11",
              code=1).output
    assert "尚未报送" in out
    out = run("duty", "return", "screening_report", "--unit", "T1", "--reason", "x", who="王强", now="2014-03-11",
              code=1).output
    assert "只有县委组织部可以退回" in out
    out = run("duty", "submit", "screening_report", "--unit", "T1-01", who="王强", now="2014-03-11", code=2).output
    assert "不是报送“排查情况汇总表”的单位" in out
    assert fingerprint(run.db) == before


def test_a_township_official_reads_only_its_own_units_duties(rectify: Rectify):
    run = rectify
    units = {r["unit_code"] for r in run.json("duty", "list", who="王强", now="2014-03-10")["rows"]}
    assert units == {"T1"}
    run("duty", "list", "--unit", "T2", who="王强", now="2014-03-10", code=1)


def test_an_edited_filing_is_found_by_audit_verify(rectify: Rectify):
    """The filings are append-only (triggers) and chained: an edit made with the triggers
    dropped, as an intruder with the database file could, is named by `audit verify`."""
    import sqlalchemy

    run = rectify
    run("duty", "submit", "screening_report", "--unit", "T1", "--note", "按时报送", who="王强", now="2014-03-10T10:00")
    run("duty", "submit", "screening_report", "--unit", "T2", who="赵刚", now="2014-03-11T10:00")
    assert "2 条报送记录 filings" in run("audit", "verify").stdout
    engine = sqlalchemy.create_engine(run.db)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE duty_actions DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER duty_actions_no_update")
        conn.exec_driver_sql("UPDATE duty_actions SET at = at - INTERVAL '10 days'" if engine.dialect.name ==
                             "postgresql" else "UPDATE duty_actions SET at = datetime(at, '-10 days')")
    engine.dispose()
    out = run("audit", "verify", code=1).output
    assert "单位报送记录 / the units' filings 第 1 条报送记录 filing #1" in out
    assert "记录被修改" in out


def test_history_lists_filings_and_returns(rectify: Rectify):
    run = rectify
    run("duty", "submit", "screening_report", "--unit", "T1", "--note", "初报", who="王强", now="2014-03-10T10:00")
    run("duty", "return", "screening_report", "--unit", "T1", "--reason", "缺少附表", who="李明", now="2014-03-11T10:00")
    run("duty", "submit", "screening_report", "--unit", "T1", "--note", "补报", who="王强", now="2014-03-12T10:00")
    rows = run.json("duty", "history", "--unit", "T1", who="王强", now="2014-03-12")
    assert [(r["kind"], r["actor"], r["note"]) for r in rows] == [
        ("submit", "王强", "初报"), ("return", "李明", "缺少附表"), ("submit", "王强", "补报")]
    run("duty", "history", "--unit", "T2", who="王强", now="2014-03-12", code=1)  # another township's


def test_a_filing_carries_its_files_and_a_replaced_one_is_named(rectify: Rectify, tmp_path, monkeypatch):
    run = rectify
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))  # PostgreSQL's needs a folder
    report = tmp_path / "汇总表.pdf"
    report.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    run("duty", "submit", "screening_report", "--unit", "T1", "--file", str(report), who="王强", now="2014-03-10T10:00")
    files = run.json("duty", "history", "--unit", "T1", now="2014-03-10")[0]["files"]
    assert [f["name"] for f in files] == ["汇总表.pdf"]
    page = tmp_path / "page.html"
    page.write_text("<html><script>alert(1)</script></html>", encoding="utf-8")
    before = fingerprint(run.db)
    run("duty", "submit", "screening_report", "--unit", "T2", "--file", str(page), who="赵刚", now="2014-03-10",
        code=2)  # refused kind: nothing written
    assert fingerprint(run.db) == before
    stored = next(p for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    stored.chmod(0o644)
    stored.write_bytes(b"%PDF-1.4 forged")
    out = run("audit", "verify", code=1).output
    assert "汇总表.pdf" in out
    assert files[0]["sha256"] in out
