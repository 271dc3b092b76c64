"""A notice that needs a fact the record does not hold is held, never sent with a placeholder:
``notices list`` shows it with what is missing, delivery passes it over, ``notices retry``
refuses it, and it takes no number from the 发文字号 register."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from engine.store.db import Store
from engine.store.models import Delivery, Notice
from tests.runner import ORGS, Rectify, register_people

ROOT = Path(__file__).resolve().parent.parent


def build_county_with(run: Rectify, folder: Path, workflow: Path) -> None:
    """The CLI tests' county (tests/runner.py build_county) with ``workflow`` deployed."""
    run("init")
    run("workflow", "deploy", str(workflow), now="2014-03-01")
    (folder / "orgs.csv").write_text(ORGS, encoding="utf-8-sig")
    run("org", "import", str(folder / "orgs.csv"))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    run("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1")
    register_people(run)


def test_a_case_listed_without_its_problems_has_its_notice_held(rectify, tmp_path):
    rectify("case", "open", "T1-04", who="王强", now="2014-03-05")  # no --problem
    rectify("fire", "2014-1-0001", "confirm", who="李明", now="2014-03-10")
    rectify("case", "open", "T1-05", "--problem", "1", who="王强", now="2014-03-05")
    rectify("fire", "2014-1-0002", "confirm", who="李明", now="2014-03-10")

    held = rectify.json("notices", "list", "--status", "held")
    assert [(n["template"], n["number"]) for n in held] == [("case_listed", "")]
    assert "缺少：主要问题" in held[0]["last_error"]
    assert "held: the record lacks 主要问题" in held[0]["last_error"]
    shown = rectify("notices", "show", str(held[0]["id"])).stdout
    assert "【待补充：主要问题】" in shown  # what the notice would have said, for the administrators
    assert "（暂缓发出，未编号）" in shown

    # The next document takes number 1: the held one took none.
    (issued,) = [n for n in rectify.json("notices", "list") if n["status"] == "pending"]
    assert issued["number"] == "×组通〔2014〕1号"

    refused = rectify("notices", "retry", str(held[0]["id"]), who="李明", code=1)
    assert "暂缓发出" in refused.output
    assert "never sent with a gap" in refused.output

    folder = tmp_path / "out"
    config = tmp_path / "files.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: '{folder}'}}\n", encoding="utf-8")
    rectify("--config", str(config), "notices", "deliver", now="2014-03-11")
    store = Store(rectify.db)
    with store.transaction() as s:
        statuses = dict(s.execute(select(Notice.id, Notice.status)).all())
        delivered_for = set(s.scalars(select(Delivery.notice_id)))
    store.dispose()
    assert statuses == {held[0]["id"]: "held", issued["id"]: "delivered"}
    assert delivered_for == {issued["id"]}
    assert not any("待补充" in p.read_text(encoding="utf-8") for p in folder.glob("*.txt"))


def test_a_notice_stating_an_unrecorded_fact_is_held_and_a_recorded_one_is_stated(tmp_path):
    """A county's template that names the contact leader (case.facts.contact_leader): held for
    the case that has none on record, sent for the one that has, 'yes' facts stated as 是."""
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    template = folder / "templates" / "case_listed.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("主要问题：", "联系领导：{{ case.facts.contact_leader }}；方案已公布：{{ case.facts.plan_published }}。\n主要问题："),
                        encoding="utf-8")
    run = Rectify(f"sqlite:///{tmp_path / 'f.db'}")
    build_county_with(run, tmp_path, folder / "backward_orgs.yaml")
    for org in ("T1-01", "T1-02"):
        run("case", "open", org, "--problem", "1", who="王强", now="2014-03-05")
    run("fact", "set", "T1-02", "contact_leader", "孙立", who="王强", now="2014-03-06")
    run("fact", "set", "T1-02", "plan_published", "是", who="王强", now="2014-03-06")
    for ref in ("2014-1-0001", "2014-1-0002"):
        run("fire", ref, "confirm", who="李明", now="2014-03-10")
    notices = {n["id"]: n for n in run.json("notices", "list")}
    held = [n for n in notices.values() if n["status"] == "held"]
    assert len(held) == 1
    assert "联系领导（党员领导干部）" in held[0]["last_error"]
    assert "整改方案已向群众公布" in held[0]["last_error"]
    sent = [n for n in notices.values() if n["status"] == "pending"]
    body = run.json("notices", "show", str(sent[0]["id"]))["body"]
    assert "联系领导：孙立；方案已公布：是。" in body
    assert sent[0]["number"] == "×组通〔2014〕1号"  # the held notice took no number


def test_workflow_check_names_an_undeclared_fact_a_template_states(tmp_path):
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    template = folder / "templates" / "accepted_notice.j2"
    template.write_text(template.read_text(encoding="utf-8").replace(
        "请认真总结经验", "{{ case.facts.no_such_fact }}请认真总结经验"), encoding="utf-8")
    out = Rectify(f"sqlite:///{tmp_path / 'c.db'}")("workflow", "check", str(folder), code=2).output
    assert "accepted_notice.j2:5:1: 未定义的事实 / unknown fact 'case.facts.no_such_fact'" in out
