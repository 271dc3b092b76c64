"""Who may do what: the OS login is the official, administrators alone use --as and --now and
run administrative commands, roles and jurisdictions are as the workflow says, and every
refused attempt is recorded."""

from __future__ import annotations

import itertools
import os
import stat
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

import engine.ops.identity
from engine.base.errors import PermissionDenied, RectifyError
from engine.ops.cases import fire, get_case, open_case
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.identity import os_login
from engine.ops.officials import Actor, add_official
from engine.services import Caller, outbox, records, reports
from engine.services import cases as cases_service
from engine.store.models import Case, Official, Refusal
from tests.conftest import at
from tests.county import seed_county
from tests.runner import ORGS, Rectify, fingerprint


def refusals(run: Rectify) -> list[dict]:
    """The refusals log, read by the administrator (it names every login: nobody else may)."""
    current = engine.ops.identity.os_login
    engine.ops.identity.os_login = lambda: "admin1"
    try:
        return run.json("audit", "refusals")
    finally:
        engine.ops.identity.os_login = current


def test_the_login_is_the_official(county_with_logins, login):
    login("wangq")
    out = county_with_logins("case", "open", "T1-01", "--problem", "1").stdout
    assert "2014-1-0001" in out
    assert county_with_logins.json("history", "T1-01")[0]["actor"] == "王强"
    who = county_with_logins("whoami").stdout
    assert "login: wangq" in who
    assert "王强（township_committee" in who
    assert "administrator: 否 no" in who


def test_outside_the_jurisdiction_is_refused_and_recorded(county_with_logins, login):
    login("wangq")
    before = fingerprint(county_with_logins.db)
    out = county_with_logins("case", "open", "T2-01", code=1).output
    assert "outside 王强's jurisdiction" in out
    assert fingerprint(county_with_logins.db) == before
    last = refusals(county_with_logins)[0]
    assert (last["login"], last["actor"], last["command"]) == ("wangq", "王强", "rectify case open T2-01")
    assert "jurisdiction" in last["reason"]


@pytest.mark.parametrize(("args", "message"), [
    (["--as", "李明", "case", "open", "T1-01"], "only an administrator may act as someone else (--as 李明)"),
    (["--now", "2014-03-05", "case", "open", "T1-01"], "only an administrator may act at another time (--now)"),
    (["workflow", "deploy"], "only an administrator may deploy a workflow"),
    (["official", "add", "孙", "--role", "county_department", "--jurisdiction", "X"],
     "only an administrator may register officials"),
    (["official", "update", "王强", "--admin"], "only an administrator may change officials"),
    (["init"], "only an administrator may upgrade the database"),
    (["--now", "2014-03-05", "daemon", "--once"], "only an administrator may run the daemon on another clock"),
])
def test_administrative_acts_need_an_administrator(county_with_logins, login, args, message):
    login("wangq")
    before = fingerprint(county_with_logins.db)
    out = county_with_logins(*args, code=1).output
    assert message in out
    assert "login wangq" in out
    assert fingerprint(county_with_logins.db) == before
    assert refusals(county_with_logins)[0]["command"] == "rectify " + " ".join(args)


def test_imports_need_an_administrator(county_with_logins, login, tmp_path):
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    login("wangq")
    assert "only an administrator may import organizations" in county_with_logins("org", "import", str(orgs), code=1).output
    login("admin1")
    county_with_logins("org", "import", str(orgs))


def test_an_unmapped_login_cannot_act(county_with_logins, login):
    login("stranger")
    out = county_with_logins("case", "open", "T1-01", code=1).output
    assert "login 'stranger' is not mapped to an official" in out
    assert "--login stranger" in out
    assert refusals(county_with_logins)[0]["login"] == "stranger"
    out = county_with_logins("case", "list", code=1).output  # nor read: the cases are not a stranger's business
    assert "login 'stranger' is not mapped to an official and may read nothing" in out
    assert refusals(county_with_logins)[0]["command"] == "rectify case list"


def test_a_refused_impersonation_is_recorded_under_the_login_own_official(county_with_logins, login):
    login("wangq")
    county_with_logins("case", "open", "T1-01")
    county_with_logins("--as", "李明", "fire", "T1-01", "confirm", code=1)
    last = refusals(county_with_logins)[0]
    assert (last["login"], last["actor"], last["command"]) == ("wangq", "王强", "rectify --as 李明 fire T1-01 confirm")


def test_only_an_administrator_reads_the_refusals_log(county_with_logins, login):
    login("wangq")
    assert "only an administrator may read the refusals log" in county_with_logins("audit", "refusals", code=1).output


def test_an_administrator_may_act_for_others_and_at_another_time(county_with_logins, login):
    login("admin1")
    county_with_logins("--as", "王强", "--now", "2014-03-05", "case", "open", "T1-01")
    history = county_with_logins.json("history", "T1-01")
    assert history[0]["actor"] == "王强"
    assert history[0]["at"].startswith("2014-03-05")
    login("wangq")
    county_with_logins("--as", "王强", "fact", "set", "T1-01", "plan_made", "是")  # naming yourself is no impersonation


def test_revoked_and_inactive_officials(county_with_logins, login):
    login("admin1")
    county_with_logins("official", "update", "王强", "--inactive")
    login("wangq")
    assert "is not mapped to an official" in county_with_logins("case", "open", "T1-01", code=1).output
    login("admin1")
    county_with_logins("official", "update", "王强", "--active", "--admin")
    login("wangq")
    county_with_logins("--as", "赵刚", "case", "open", "T2-01")  # now an administrator


def test_bootstrap_lets_a_new_county_set_itself_up(tmp_path, login):
    run = Rectify(f"sqlite:///{tmp_path / 'new.db'}")
    login("founder")
    run("init")
    assert "bootstrap" in run("whoami").stdout
    warning = "no administrator is registered, so anyone who can run rectify may do an administrator's work"
    assert warning in run("workflow", "deploy", now="2014-03-01").output  # said every time, until…
    assert warning in run("org", "import", str(_orgs(tmp_path))).output
    run("official", "add", "管理员", "--role", "county_department", "--jurisdiction", "X", "--login", "founder",
        "--admin")
    assert "bootstrap" not in run("whoami").stdout
    assert warning not in run("org", "import", str(_orgs(tmp_path))).output  # …an administrator is registered
    login("someone")
    assert "only an administrator" in run("workflow", "deploy", code=1).output


def _orgs(tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_text(ORGS, encoding="utf-8")
    return path


def test_a_login_belongs_to_one_official(county_with_logins, login):
    login("admin1")
    out = county_with_logins("official", "update", "赵刚", "--login", "wangq", code=2).output
    assert "login 'wangq' already belongs to 王强" in out


def test_init_creates_a_private_database_file(tmp_path, login):
    login("founder")
    path = tmp_path / "private.db"
    old = os.umask(0o022)
    try:
        Rectify(f"sqlite:///{path}")("init")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    for side in ("-wal", "-shm"):  # SQLite gives its side files the database's permissions
        extra = path.with_name(path.name + side)
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o007 == 0


def test_the_os_login_is_the_effective_user_not_an_environment_variable(monkeypatch):
    import pwd

    monkeypatch.setenv("USER", "somebody-else")
    monkeypatch.setenv("LOGNAME", "somebody-else")
    assert os_login() == pwd.getpwuid(os.geteuid()).pw_name


# --- every role × jurisdiction × transition of the shipped workflow --------------------

JURISDICTIONS = {"own township": "T1", "other township": "T2", "county": "X"}


@pytest.fixture
def matrix(store):
    loaded = seed_county(store)
    wf = loaded.definition
    with store.transaction() as s:
        for role, (place, code) in itertools.product(wf.roles, JURISDICTIONS.items()):
            add_official(s, f"{role}@{place}", role, code, wf.roles)
        ref = open_case(s, resolve_campaign(s, None), "T1-01", Actor("setup", None, None), at("2014-03-05")).ref
    return store, wf, ref


def test_every_role_jurisdiction_and_transition_is_as_the_workflow_says(matrix):
    store, wf, ref = matrix
    checked = 0
    for transition in wf.transitions:
        for source in transition.sources:
            candidates = [t for t in wf.transitions if t.trigger == transition.trigger and source in t.sources]
            roles = {r for t in candidates for r in t.roles}
            for role, place in itertools.product(wf.roles, JURISDICTIONS):
                allowed = (not roles or role in roles) and place != "other township"
                denied = _attempt(store, ref, source, transition.trigger, f"{role}@{place}")
                assert denied is not allowed, (transition.trigger, source, role, place, denied)
                checked += 1
    assert checked == sum(len(t.sources) for t in wf.transitions) * len(wf.roles) * len(JURISDICTIONS)


def _attempt(store, ref: str, state: str, trigger: str, official: str) -> bool:
    """Fire ``trigger`` on the case put in ``state`` as ``official``, then roll everything back;
    True if the permission check refused it (a guard may still refuse an allowed one)."""
    session = store.sessions()
    session.begin()
    try:
        case = get_case(session, ref)
        case.state = state
        person = session.scalar(select(Official).where(Official.name == official))
        fire(session, case, trigger, Actor(person.name, person.role, person.jurisdiction), at("2014-12-05"))
    except PermissionDenied:
        return True
    except RectifyError:  # a guard's or the state's refusal is not a permission's
        return False
    finally:
        session.rollback()
        session.close()
    return False


def test_the_matrix_left_the_case_as_it_was(matrix):
    store, wf, ref = matrix
    _attempt(store, ref, "survey", "conclude_survey", "county_department@county")
    with store.transaction() as s:
        case = s.scalar(select(Case).where(Case.ref == ref))
        assert (case.state, case.event_seq) == (compiled_version(case.workflow_version).definition.initial_state, 1)


# --- reads: every role × jurisdiction × read of a case ---------------------------------

CASE_READS = {
    "case show": lambda store, caller, ref: cases_service.show_case(store, caller, ref),
    "history": lambda store, caller, ref: cases_service.history(store, caller, ref),
    "notices of the case": lambda store, caller, ref: outbox.list_notices(store, caller, case_ref=ref),
    "notice preview": lambda store, caller, ref: outbox.preview(store, caller, "overdue_escalation", ref),
    "audit trail": lambda store, caller, ref: records.audit_trail(store, caller, ref),
    "audit verify of the case": lambda store, caller, ref: records.verify_audit(store, caller, ref),
}
COUNTY_READS = {
    "report": lambda store, caller: reports.report(store, caller),
    "quota": lambda store, caller: reports.quota(store, caller),
    "bulletin": lambda store, caller: reports.bulletin(store, caller),
    "audit verify": lambda store, caller: records.verify_audit(store, caller),
}


@pytest.fixture
def readers(matrix):
    """The matrix's officials with logins of their own names, and an administrator (so no bootstrap)."""
    store, wf, ref = matrix
    with store.transaction() as s:
        for person in s.scalars(select(Official)):
            person.login = person.name
        chief = add_official(s, "管理员", "county_department", "X", wf.roles)
        chief.login, chief.admin, chief.admin_since = "admin", True, datetime.now(timezone.utc)
    return store, wf, ref


def _refused(read) -> bool:
    try:
        read()
    except PermissionDenied:
        return True
    return False


def test_every_role_reads_a_case_only_inside_its_jurisdiction(readers):
    store, wf, ref = readers
    checked = 0
    for (role, place), (what, read) in itertools.product(itertools.product(wf.roles, JURISDICTIONS),
                                                         CASE_READS.items()):
        caller = Caller(f"{role}@{place}", command=f"rectify {what} {ref}")
        refused = _refused(lambda read=read, caller=caller: read(store, caller, ref))
        assert refused is (place == "other township"), (role, place, what)
        checked += 1
    assert checked == len(wf.roles) * len(JURISDICTIONS) * len(CASE_READS)
    with store.reading() as s:  # each refused read is on record, under the reader's own official
        recorded = list(s.scalars(select(Refusal).order_by(Refusal.id)))
    assert len(recorded) == len(wf.roles) * len(CASE_READS)
    assert all(r.actor == r.login and "jurisdiction" in r.reason for r in recorded)


def test_a_listing_shows_only_the_cases_inside_the_jurisdiction(readers):
    store, wf, ref = readers
    for role, place in itertools.product(wf.roles, JURISDICTIONS):
        listed = [c["ref"] for c in cases_service.list_cases(store, Caller(f"{role}@{place}")).value]
        assert listed == ([] if place == "other township" else [ref]), (role, place)


def test_county_wide_figures_need_a_county_wide_jurisdiction(readers):
    store, wf, _ = readers
    for (role, place), (what, read) in itertools.product(itertools.product(wf.roles, JURISDICTIONS),
                                                         COUNTY_READS.items()):
        refused = _refused(lambda read=read, role=role, place=place: read(store, Caller(f"{role}@{place}")))
        assert refused is (place != "county"), (role, place, what)
    assert not _refused(lambda: reports.report(store, Caller("admin")))


def test_an_administrator_reads_as_someone_else_only_within_their_reach(readers):
    store, _, ref = readers
    assert _refused(lambda: cases_service.show_case(store, Caller("admin", as_name="township_committee@other township"),
                                                    ref))
    assert not _refused(lambda: cases_service.show_case(store, Caller("admin", as_name="township_committee@own township"),
                                                        ref))
    assert _refused(lambda: cases_service.show_case(store, Caller("township_committee@own township",
                                                                  as_name="county_department@county"), ref))
