"""我的待办 (issue 17): what waits for one official, inside their jurisdiction, by deadline — cases whose
state has a trigger their role fires, with the engine's own reasons for what still blocks it,
duties their role files (a returned one with its reason), open problems; on SQLite and PostgreSQL.
The cost of a page does not grow with the county: its statements are counted at 20 and 200 cases."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import event, select

from engine.base.errors import InvalidValue, PermissionDenied
from engine.ops.cases import get_case, open_case, trigger_statuses
from engine.ops.deploy import compiled_version, deploy
from engine.ops.officials import SYSTEM, add_official
from engine.ops.orgs import OrgRow, import_organizations
from engine.ops.problems import ProblemFields, add_problem
from engine.ops.todo import Todo, role_triggers
from engine.services import Caller
from engine.services.todo import my_todo
from engine.spec.loader import load_workflow_file
from engine.store.db import Store
from engine.store.models import Campaign, Case, Organization, OrgKind
from tests.county import ROOT, at
from tests.runner import Rectify

REF = "2014-1-0001"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _logins(run: Rectify, login) -> Rectify:
    """The county past its bootstrap, 李明, 王强 and 赵刚 with the logins liming, wangq and zhaog
    (as tests/conftest.py ``county_with_logins``, for any of the built counties)."""
    run("official", "add", "管理员", "--role", "county_department", "--jurisdiction", "X", "--login", "admin1",
        "--admin")
    login("admin1")
    for name, user in (("李明", "liming"), ("王强", "wangq"), ("赵刚", "zhaog")):
        run("official", "update", name, "--login", user)
    return run


def todo(run: Rectify, login: str, now: str, **kw) -> Todo:
    store = Store(run.db)
    try:
        return my_todo(store, Caller(login, now_text=now), **kw).value
    finally:
        store.dispose()


def keys(found: Todo) -> list[str]:
    return [item.key for item in found.items]


def same_as_the_engine(where: Rectify | Store, found: Todo, role: str) -> None:
    """Every case item says what ``trigger_statuses`` says of that case, one case at a time: the
    page's batched facts and figures change nothing."""
    store = Store(where.db) if isinstance(where, Rectify) else where

    def engine_says(session, ref: str) -> list[tuple[str, bool, list[str], list[str]]]:
        case = get_case(session, ref)
        mine = set(role_triggers(compiled_version(case.workflow_version), case.state, role))
        said = []
        for s in trigger_statuses(session, case, found.now):
            if s.trigger in mine:
                reasons = list(dict.fromkeys((f.reason_zh, f.reason_en) for f in s.failures))
                said.append((s.trigger, s.available, [zh for zh, _ in reasons], [en for _, en in reasons]))
        return said

    try:
        for item in found.items:
            if item.kind == "case":
                page = [(t.trigger, t.available, t.blocked_by, t.blocked_by_en) for t in item.triggers]
                assert page == store.read(partial(engine_says, ref=item.key)), item.key
    finally:
        if store is not where:
            store.dispose()


@pytest.fixture
def county(rectify, login, tmp_path, monkeypatch) -> Rectify:
    """The CLI county with logins: T1-01 confirmed and in rectification with one problem due
    2014-06-30; T1-02 and T2-01 waiting in screening for the county's confirmation."""
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    run = _logins(rectify, login)
    for org, who in (("T1-01", "王强"), ("T1-02", "王强"), ("T2-01", "赵刚")):
        run("case", "open", org, "--problem", "2", who=who, now="2014-03-05")
    run("fire", REF, "confirm", who="李明", now="2014-03-12")
    run("problem", "add", REF, "--category", "4", "--description", "全年未召开党员大会", "--responsible", "张三",
        "--deadline", "2014-06-30", who="王强", now="2014-03-20")
    return run


def test_a_township_official_sees_its_own_work_by_deadline_with_the_engine_s_reasons(county):
    found = todo(county, "wangq", "2014-07-02T10:00")
    # overdue first: the 汇总表 and the first progress report, then the problem a day past its
    # deadline, the coming reports, the case (11-30), the survey results; nothing of 河西乡 (T2),
    # and not T1-02: confirming it is the county's
    assert keys(found) == ["screening_report:T1:1", "progress_report:T1:1", f"{REF}#1", "progress_report:T1:2",
                           "progress_report:T1:3", "progress_report:T1:4", REF, "survey_report:T1:1"]
    assert found.counts == {"case": 1, "duty": 6, "problem": 1}
    assert not found.more
    assert found.zone == "Asia/Shanghai"
    dues = [item.due for item in found.items]
    assert dues == sorted(dues)
    first = found.items[0]
    assert (first.organization, first.township, first.state_label, first.overdue_days) == (
        "中共城关镇委员会", "中共城关镇委员会", "逾期未报 overdue", 108)
    assert first.due_text.startswith("2014-03-16 24:00前，已逾期 108 天（其中工作日 ")
    case = found.items[6]
    assert (case.title, case.township, case.state_label, case.round, case.overdue_days) == (
        "城关镇第1村党支部（整顿转化）", "中共城关镇委员会", "整顿转化", 1, None)
    assert case.due_text == "2014-11-30 24:00前（还有 151 天） / due 2014-11-30 24:00 (151 days left)"
    assert case.what == ["整顿基本结束，开展自查（条件未满足）"]
    assert [t.trigger for t in case.triggers] == ["submit_self_check"]
    # the engine's reasons, each naming the step it holds back, English alongside
    assert "整顿基本结束，开展自查：整改方案已制定并向群众公布：尚未登记：已制定整改方案（一支一策）、整改方案已向群众公布" \
        in case.blocked
    assert any("所在乡镇应报送 1 次，仅报送 0 次" in reason for reason in case.blocked)  # the 05-20 report
    assert any("第1项" in reason for reason in case.blocked)  # its problem is still open
    assert len(case.blocked_en) == len(case.blocked)
    assert all(reason.startswith("submit_self_check: ") for reason in case.blocked_en)
    problem = found.items[2]
    assert (problem.title, problem.state_label, problem.overdue_days) == ("第1项问题：全年未召开党员大会", "整改中", 2)
    assert problem.blocked == ["问题销号：须先上传佐证材料"]
    assert problem.note == "责任人：张三"
    same_as_the_engine(county, found, "township_committee")
    # 赵刚 of 河西乡: its own duties, and T2-01 waits for the county, not for him
    other = todo(county, "zhaog", "2014-07-02T10:00")
    assert keys(other) == ["screening_report:T2:1", "progress_report:T2:1", "progress_report:T2:2",
                           "progress_report:T2:3", "progress_report:T2:4", "survey_report:T2:1"]


def test_the_county_sees_the_county_s_steps_and_not_the_township_s(surveyed_county, login):
    run = _logins(surveyed_county, login)
    found = todo(run, "liming", "2014-12-05")
    states = {item.key: item.state_label for item in found.items if item.kind == "case"}
    triggers = {item.key: [t.trigger for t in item.triggers] for item in found.items if item.kind == "case"}
    # 李明's: the new round of the re-rectified case, the rectifying case's self-check (the county
    # may send it too), confirming T2-01; the accepted case waits for nobody
    assert triggers == {"2014-1-0002": ["restart_rectification"], "2014-1-0003": ["submit_self_check"],
                        "2014-1-0004": ["confirm"]}
    assert states == {"2014-1-0002": "重新整顿", "2014-1-0003": "整顿转化", "2014-1-0004": "排查建账"}
    assert [item.kind for item in found.items].count("duty") == 0  # the county files no duty
    assert found.items[-1].key == "2014-1-0004"
    assert found.items[-1].due is None  # undated last
    same_as_the_engine(run, found, "county_department")
    # 王强 of 城关镇 at the same moment: the self-check only, neither the county's steps nor T2-01
    township = {item.key: [t.trigger for t in item.triggers] for item in todo(run, "wangq", "2014-12-05").items
                if item.kind == "case"}
    assert township == {"2014-1-0003": ["submit_self_check"]}


def test_the_spot_check_is_the_county_s_and_the_superior_check_the_township_s(county):
    run = county
    run("case", "open", "T2-02", "--problem", "1", who="赵刚", now="2014-03-05")
    store = Store(run.db)
    with store.transaction() as session:  # T2-02 at the county's spot check, T1-02 at the township's check
        for code, state, due in (("T2-02", "spot_check", "2014-12-12"), ("T1-02", "superior_check", "2014-12-10")):
            case = get_case(session, code)
            case.state, case.due_at = state, at(due)
    store.dispose()
    county_page = todo(run, "liming", "2014-12-05T10:00")
    steps = {item.organization: [t.trigger for t in item.triggers] for item in county_page.items if item.kind == "case"}
    assert steps == {"城关镇第1村党支部": ["submit_self_check"], "河西乡第2村党支部": ["pass_spot_check", "fail_spot_check"],
                     "河西乡第1村党支部": ["confirm"]}
    spot = next(item for item in county_page.items if item.organization == "河西乡第2村党支部")
    assert spot.state_label == "县委组织部抽查"
    assert spot.what == ["县委组织部抽查通过（或未抽中）（条件未满足）", "县委组织部抽查未通过（条件未满足）"]
    same_as_the_engine(run, county_page, "county_department")
    township_page = todo(run, "wangq", "2014-12-05T10:00")
    steps = {item.organization: [t.trigger for t in item.triggers] for item in township_page.items
             if item.kind == "case"}
    assert steps == {"城关镇第1村党支部": ["submit_self_check"],
                     "城关镇第2村党支部": ["pass_superior_check", "fail_superior_check"]}
    same_as_the_engine(run, township_page, "township_committee")
    assert not any(item.triggers for item in todo(run, "zhaog", "2014-12-05T10:00").items)  # the county's


def test_an_official_with_nothing_in_their_jurisdiction_sees_nothing(county):
    county("official", "add", "孙书记", "--role", "org_secretary", "--jurisdiction", "T2-05", "--login", "sunsj")
    found = todo(county, "sunsj", "2014-07-02")
    assert found.items == []
    assert found.counts == {"case": 0, "duty": 0, "problem": 0}
    assert not found.more
    store = Store(county.db)
    try:
        with pytest.raises(PermissionDenied, match="login 'nobody' is not mapped to an official"):
            my_todo(store, Caller("nobody", now_text="2014-07-02"))
        with pytest.raises(InvalidValue, match="between 1 and 500"):
            my_todo(store, Caller("wangq"), limit=0)
    finally:
        store.dispose()


def test_a_returned_filing_shows_why(county):
    county("duty", "submit", "screening_report", "--unit", "T1", who="王强", now="2014-03-10T10:00")
    assert "screening_report:T1:1" not in keys(todo(county, "wangq", "2014-03-11"))  # filed: nothing to do
    county("duty", "return", "screening_report", "--unit", "T1", "--reason", "汇总表未加盖党委印章", who="李明",
           now="2014-03-12T10:00")
    item = todo(county, "wangq", "2014-03-13T10:00").items[0]
    assert item.key == "screening_report:T1:1"
    assert item.note == ("已于2014-03-12 10:00被李明退回，理由：汇总表未加盖党委印章 / returned on 2014-03-12 10:00 by "
                         "李明: 汇总表未加盖党委印章")
    assert item.what == ["报送“排查情况汇总表”（重新报送）"]
    assert (item.state_label, item.overdue_days) == ("待报送 not yet due", None)
    assert item.due_text == "2014-03-16 24:00前（还有 3 天） / due 2014-03-16 24:00 (3 days left)"


def test_a_closed_problem_is_gone_and_a_reopened_one_is_back(county, tmp_path):
    path = tmp_path / "会议记录.pdf"
    path.write_bytes(PDF)
    county("evidence", "add", REF, str(path), "--problem", "1", who="王强", now="2014-06-20")
    item = next(i for i in todo(county, "wangq", "2014-06-21").items if i.kind == "problem")
    assert item.blocked == []
    assert item.what == ["整改销号（可办理）"]
    county("problem", "close", REF, "1", who="王强", now="2014-06-21")
    assert all(i.kind != "problem" for i in todo(county, "wangq", "2014-06-22").items)
    assert todo(county, "liming", "2014-06-22").counts["problem"] == 0
    county("problem", "reopen", REF, "1", "--reason", "会议记录不全", who="李明", now="2014-06-25")
    item = next(i for i in todo(county, "wangq", "2014-06-26").items if i.kind == "problem")
    assert (item.key, item.state_label) == (f"{REF}#1", "重新整改")
    assert item.blocked == ["问题销号：须先上传重新整改后佐证材料"]  # the file before the reopening no longer counts


# --- the cost of a page ---------------------------------------------------------------------------

STATES = ["screening", "rectifying", "self_check", "superior_check", "spot_check", "survey"]


def _seed_county(store: Store, villages: int) -> None:
    """A county of two townships of ``villages`` villages each, the shipped workflow, and 李明
    (county), 王强 (T1) with their logins: seeded through the engine, the cases added by ``_open``."""
    rows = [OrgRow(1, "X", "××县", OrgKind.COUNTY, None, None, None)]
    for t in (1, 2):
        rows.append(OrgRow(len(rows) + 1, f"T{t}", f"第{t}乡党委", OrgKind.TOWNSHIP, "X", None, None))
        rows += [OrgRow(len(rows) + 1 + v, f"T{t}-{v:03d}", f"第{t}乡第{v}村党支部", OrgKind.VILLAGE, f"T{t}", None, None)
                 for v in range(villages)]
    loaded = load_workflow_file(ROOT / "workflows" / "backward_orgs.yaml")
    with store.transaction() as session:
        import_organizations(session, rows, "county")
        deploy(session, loaded, "admin", at("2014-03-01"))
        for name, role, where, user in (("李明", "county_department", "X", "liming"),
                                        ("王强", "township_committee", "T1", "wangq")):
            add_official(session, name, role, where, loaded.definition.roles).login = user


def _open(store: Store, first: int, count: int) -> None:
    """Cases ``first`` … ``first + count - 1`` (alternating townships), spread over the states with
    deadlines a few hours apart (none in screening), every fifth with a problem on its list."""
    with store.transaction() as session:
        campaign = session.scalars(select(Campaign)).one()
        for n in range(first, first + count):
            case = open_case(session, campaign, f"T{n % 2 + 1}-{n // 2:03d}", SYSTEM, at("2014-03-05"))
            case.state = STATES[n // 2 % len(STATES)]  # each township has cases in every state
            case.due_at = None if case.state == "screening" else at("2014-06-01") + timedelta(hours=n)
            if n % 5 == 0:
                add_problem(session, case, ProblemFields(category=1, description=f"问题{n}",
                                                         deadline=f"2014-{6 + n % 6:02d}-15"), SYSTEM, at("2014-03-06"))


def _statements(store: Store, caller: Caller) -> tuple[int, Todo]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        found = my_todo(store, caller).value
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return len(seen), found


def test_a_page_costs_the_same_statements_at_20_and_at_200_cases(store):
    _seed_county(store, 100)
    _open(store, 0, 20)
    callers = {"county_department": Caller("liming", now_text="2014-06-10"),
               "township_committee": Caller("wangq", now_text="2014-06-10")}
    my_todo(store, callers["county_department"])  # the connection and the workflow's cache warm
    small = {role: _statements(store, caller) for role, caller in callers.items()}
    _open(store, 20, 180)
    large = {role: _statements(store, caller) for role, caller in callers.items()}
    for role in callers:
        (few, page_of_20), (many, page_of_200) = small[role], large[role]
        shown_20 = sum(item.kind == "case" for item in page_of_20.items)
        shown_200 = sum(item.kind == "case" for item in page_of_200.items)
        assert shown_20 < shown_200, role  # more cases on the page: per-case statements would show
        assert len(page_of_200.items) == 50
        assert page_of_200.more
        assert many <= few, (role, few, many)
        print(f"{role}: {few} statements for {shown_20} cases shown, {many} for {shown_200}")
        for found in (page_of_20, page_of_200):
            dated = [item.due for item in found.items if item.due is not None]
            assert dated == sorted(dated)
            same_as_the_engine(store, found, role)
    # the township's page holds its own cases only, and only the steps its role takes
    township = large["township_committee"][1]
    with store.transaction() as session:
        t1 = {ref for ref, in session.execute(select(Case.ref).where(Case.township_id == select(Case.township_id)
                                                                        .where(Case.ref == "2014-1-0001")
                                                                        .scalar_subquery()))}
    assert {item.key for item in township.items if item.kind == "case"} <= t1
    assert {t.trigger for item in township.items for t in item.triggers} <= {
        "submit_self_check", "request_superior_check", "pass_superior_check", "fail_superior_check",
        "conclude_survey"}
    # counted exactly while each state's cases fit in what a page reads (limit + 1 of each), else "more than"
    county_states = ("screening", "rectifying", "spot_check", "survey")
    with store.transaction() as session:
        waiting = len(session.scalars(select(Case.id).where(Case.state.in_(county_states))).all())
    assert large["county_department"][1].counts["case"] == waiting
    small_page = my_todo(store, callers["county_department"], limit=10).value
    assert small_page.counts["case"] is None
    assert len(small_page.items) == 10
    assert small_page.more


def test_a_county_among_several_and_an_organization_s_secretary_see_their_own_only(store):
    """In a database of two counties the county's list is read through its townships' index and its
    organizations under no township (a 县直 branch): every case of its own in the states it acts in,
    by deadline, none of the other county's, counted exactly; an organization's secretary sees its
    own organization's case only."""
    rows = []
    for county in ("X", "Y"):
        rows.append(OrgRow(len(rows) + 1, county, f"{county}县", OrgKind.COUNTY, None, None, None))
        rows.append(OrgRow(len(rows) + 1, f"{county}-J", f"{county}县直机关党支部", OrgKind.INSTITUTION, county, None,
                           None))
        for t in (1, 2):
            rows.append(OrgRow(len(rows) + 1, f"{county}T{t}", f"{county}县第{t}乡党委", OrgKind.TOWNSHIP, county,
                               None, None))
            rows += [OrgRow(len(rows) + 1 + v, f"{county}T{t}-{v}", f"{county}县第{t}乡第{v}村党支部", OrgKind.VILLAGE,
                            f"{county}T{t}", None, None) for v in range(4)]
    loaded = load_workflow_file(ROOT / "workflows" / "backward_orgs.yaml")
    codes = [row.code for row in rows if row.kind in (OrgKind.VILLAGE, OrgKind.INSTITUTION)]
    with store.transaction() as session:
        import_organizations(session, rows, "counties")
        deploy(session, loaded, "admin", at("2014-03-01"))
        for name, role, where, user in (("李明", "county_department", "X", "liming"),
                                        ("孙书记", "org_secretary", "XT1-2", "sunsj")):
            add_official(session, name, role, where, loaded.definition.roles).login = user
        campaign = session.scalars(select(Campaign)).one()
        for n, code in enumerate(codes):  # one of every three undated; deadlines interleaved across counties
            case = open_case(session, campaign, code, SYSTEM, at("2014-03-05"))
            # the secretary's step is the self-check's: three organizations there, one of them theirs
            case.state = "self_check" if code in ("XT1-2", "XT1-3", "YT1-2") else "rectifying"
            case.due_at = None if n % 3 == 0 else at("2014-06-01") + timedelta(hours=(n * 7) % 19)
    with store.transaction() as session:
        ours = {(ref, due) for ref, due, code in session.execute(
            select(Case.ref, Case.due_at, Organization.code).join(Case.organization)
            .where(Case.state == "rectifying")) if code.startswith("X")}
    now = "2014-06-01T00:00"
    found = my_todo(store, Caller("liming", now_text=now)).value
    cases = [item for item in found.items if item.kind == "case"]
    assert {item.key for item in cases} == {ref for ref, _ in ours}
    assert "X县直机关党支部" in {item.organization for item in cases}
    assert found.counts["case"] == len(ours) == 7
    dated = [item.due for item in cases if item.due is not None]
    assert dated == sorted(dated)
    assert len(dated) == sum(due is not None for _, due in ours)
    assert all(item.due is None for item in cases[len(dated):])
    same_as_the_engine(store, found, "county_department")
    # fewer shown than there are: the count is "more than", never a wrong figure
    few = my_todo(store, Caller("liming", now_text=now), limit=4).value
    assert [item.key for item in few.items if item.kind == "case"] == [item.key for item in cases[:4]]
    assert few.counts["case"] is None
    assert few.more
    secretary = my_todo(store, Caller("sunsj", now_text=now)).value
    assert [item.organization for item in secretary.items if item.kind == "case"] == ["X县第1乡第2村党支部"]
    # a re-import makes the 县直 branch a township (a new 街道) and the second township something
    # else: the cases follow their organizations' township (the lists read cases by it)
    changed = [OrgRow(1, "X-J", "X县新设街道党工委", OrgKind.TOWNSHIP, "X", None, None),
               OrgRow(2, "XT2", "X县第2乡党委", OrgKind.OTHER, "X", None, None)]
    with store.transaction() as session:
        import_organizations(session, changed, "changed")
        code_of = dict(session.execute(select(Organization.id, Organization.code)).all())
        now_in = {code: code_of.get(t) for code, t in session.execute(
            select(Organization.code, Case.township_id).join(Case.organization)
            .where(Organization.code.in_(["X-J", "XT2-0", "XT2-3"])))}
    assert now_in == {"X-J": "X-J", "XT2-0": None, "XT2-3": None}
    after = [item for item in my_todo(store, Caller("liming", now_text=now)).value.items if item.kind == "case"]
    assert {item.key for item in after} == {ref for ref, _ in ours}
