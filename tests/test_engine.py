"""The engine against a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.base.errors import InvalidValue, NotFound, PermissionDenied, TransitionRefused
from engine.daemon.ticker import tick
from engine.ops.cases import case_facts, fire, get_case, open_case, set_fact, trigger_statuses
from engine.ops.deploy import compiled_version, deploy, resolve_campaign
from engine.ops.officials import actor_for
from engine.ops.orgs import OrgRow, import_organizations
from engine.ops.spotcheck import announce, commitment_of, draw
from engine.spec.loader import load_workflow_file
from engine.spec.machine import compiled
from engine.store.models import Case, CaseFact, Event, Notice, OrgKind, Timer, TimerStatus
from tests.conftest import WORKFLOW, at
from tests.county import seed_county
from tests.timed_workflow import timed_text

LI, WANG, ZHAO = "县委组织部李", "城关镇王", "河西乡赵"
READY = {"plan_made": "是", "plan_published": "是", "contact_leader": "周建国", "secretary_trained": "2014-03-28",
         "secretary_appointed": "张三", "stationed_cadre": "驻村工作队"}


def snapshot(store) -> dict[str, object]:
    """Everything a refused action must leave untouched."""
    with store.transaction() as s:
        return {
            "events": s.scalar(select(func.count()).select_from(Event)),
            "notices": s.scalar(select(func.count()).select_from(Notice)),
            "timers": sorted(s.execute(select(Timer.id, Timer.status)).all()),
            "facts": s.scalar(select(func.count()).select_from(CaseFact)),
            "cases": sorted(s.execute(select(Case.ref, Case.state, Case.round, Case.version)).all()),
        }


def do(store, fn, *args, **kwargs):
    with store.transaction() as s:
        return fn(s, *args, **kwargs)


def open_(store, org="T1-01", who=WANG, when="2014-03-05", **kw):
    kw.setdefault("problems", (1,))  # a case is listed with its problems: its listing notice states them
    def run(s):
        case = open_case(s, resolve_campaign(s, None), org, actor_for(s, who), at(when), **kw)
        return case.ref
    return do(store, run)


def fire_(store, ref, trigger, who=LI, when="2014-03-10", note=None):
    def run(s):
        result = fire(s, get_case(s, ref), trigger, actor_for(s, who), at(when), note)
        return result.dest, [w.outcome.value for w in result.warnings], list(result.notices)
    return do(store, run)


def facts_(store, ref, values, who=WANG, when="2014-04-01"):
    def run(s):
        case, actor = get_case(s, ref), actor_for(s, who)
        for name, value in values.items():
            set_fact(s, case, name, value, actor, at(when))
    do(store, run)


def state_of(store, ref):
    return do(store, lambda s: (lambda c: (c.state, c.round))(get_case(s, ref)))


def spot_check_all(store, when="2014-11-05", seed="test"):
    """The county draws; drawn cases get their spot check and pass; returns the draw's selection."""
    def run(s):
        campaign, actor = resolve_campaign(s, None), actor_for(s, LI)
        announce(s, campaign, actor, at(when), commitment_of(seed))  # the seed fixed before the draw
        result = draw(s, campaign, actor, at(when), seed)
        return list(result.draw.selected)
    selected = do(store, run)
    for ref in selected:
        facts_(store, ref, {"spot_check_opinion": "抽查合格"}, LI, when)
        with store.transaction() as s:
            trigger = compiled_version(get_case(s, ref).workflow_version).definition.spot_check.pass_trigger
        fire_(store, ref, trigger, LI, when)
    return selected


def to_survey(store, ref, start="2014-11-01"):
    """From screening through the acceptance steps up to the survey."""
    fire_(store, ref, "confirm")
    facts_(store, ref, READY)
    fire_(store, ref, "submit_self_check", WANG, start)
    facts_(store, ref, {"self_check_report": "自查报告"}, WANG, start)
    fire_(store, ref, "request_superior_check", WANG, start)
    facts_(store, ref, {"superior_check_opinion": "同意"}, WANG, start)
    fire_(store, ref, "pass_superior_check", WANG, start)
    spot_check_all(store, start)


def test_a_case_goes_from_screening_to_accepted(county):
    ref = open_(county)
    assert state_of(county, ref) == ("screening", 1)
    to_survey(county, ref)
    facts_(county, ref, {"survey_respondents": "40", "survey_satisfied": "30"}, WANG, "2014-12-03")
    dest, _, notices = fire_(county, ref, "conclude_survey", WANG, "2014-12-03")
    assert dest == "accepted"
    assert notices == ["accepted_notice"]
    with county.transaction() as s:
        case = get_case(s, ref)
        events = s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)).all()
        path = [e.to_state for e in events if e.kind in ("opened", "transition")]
        assert path == ["screening", "rectifying", "self_check", "superior_check", "spot_check",
                        "survey", "accepted"]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert case.due_at is None  # a final state has no deadline
        pending = s.scalars(select(Timer.kind).where(Timer.case_id == case.id, Timer.status == "pending")).all()
        assert pending == ["look_back"]  # only the 回头看 some months after acceptance


def test_low_satisfaction_re_rectifies_and_the_daemon_restarts_a_fresh_round(county):
    ref = open_(county)
    to_survey(county, ref)
    facts_(county, ref, {"survey_respondents": "40", "survey_satisfied": "27"}, WANG, "2014-12-03")
    dest, _, notices = fire_(county, ref, "conclude_survey", WANG, "2014-12-03T10:00")
    assert dest == "re_rectify"
    assert notices == ["re_rectify_notice"]
    report = tick(county, at("2014-12-03T10:05"))
    assert report.fired["auto"] == 1
    assert state_of(county, ref) == ("rectifying", 2)
    with county.transaction() as s:
        case = get_case(s, ref)
        # Round 2 gets a fresh relative deadline (3 months after re-entering), not 11-30.
        assert case.due_at == at("2015-03-03T10:05")
        last = s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq.desc())).first()
        assert (last.actor, last.trigger, last.round) == ("system", "restart_rectification", 2)


@pytest.mark.parametrize(("satisfied", "dest"), [(28, "accepted"), (27, "re_rectify")])
def test_seventy_percent_exactly_passes(county, satisfied, dest):
    ref = open_(county)
    to_survey(county, ref)
    facts_(county, ref, {"survey_respondents": "40", "survey_satisfied": str(satisfied)}, WANG, "2014-12-03")
    assert fire_(county, ref, "conclude_survey", WANG, "2014-12-03")[0] == dest


def test_too_few_respondents_blocks_both_outcomes(county):
    ref = open_(county)
    to_survey(county, ref)
    facts_(county, ref, {"survey_respondents": "10", "survey_satisfied": "2"}, WANG, "2014-12-03")
    before = snapshot(county)
    with pytest.raises(TransitionRefused, match="少于最低要求 20"):
        fire_(county, ref, "conclude_survey", WANG, "2014-12-03")
    assert snapshot(county) == before


def test_guards_report_every_reason_and_change_nothing(county):
    ref = open_(county)
    fire_(county, ref, "confirm")
    before = snapshot(county)
    with pytest.raises(TransitionRefused) as refused:
        fire_(county, ref, "submit_self_check", WANG, "2014-11-01")
    guards = {f.guard for f in refused.value.failures}
    assert guards == {"plan_ready", "secretary_in_place", "secretary_trained_on_time", "contact_leader_assigned",
                      "cadre_stationed"}
    assert "整改方案已向群众公布" in str(refused.value)
    assert snapshot(county) == before


def test_key_target_needs_county_staffing(county):
    ref = open_(county, flags=("canvassing",))
    fire_(county, ref, "confirm")
    facts_(county, ref, READY)
    with pytest.raises(TransitionRefused) as refused:
        fire_(county, ref, "submit_self_check", WANG, "2014-11-01")
    assert [f.guard for f in refused.value.failures] == ["key_target_staffed"]
    facts_(county, ref, {"county_contact_leader": "周建国", "county_cadre": "陈静"})
    assert fire_(county, ref, "submit_self_check", WANG, "2014-11-01")[0] == "self_check"


def test_wrong_state_unknown_trigger_role_and_jurisdiction_are_refused(county):
    ref = open_(county)
    before = snapshot(county)
    with pytest.raises(TransitionRefused, match="not allowed in state 'screening'; available now: confirm"):
        fire_(county, ref, "pass_spot_check")
    with pytest.raises(NotFound, match="no_such_trigger"):
        fire_(county, ref, "no_such_trigger")
    with pytest.raises(PermissionDenied, match="allowed roles: county_department"):
        fire_(county, ref, "confirm", WANG)
    fire_(county, ref, "confirm")
    facts_(county, ref, READY)
    mid = snapshot(county)
    with pytest.raises(PermissionDenied, match="jurisdiction"):
        fire_(county, ref, "submit_self_check", ZHAO, "2014-11-01")  # another township's official
    with pytest.raises(PermissionDenied, match="jurisdiction"):
        facts_(county, ref, {"measures": "x"}, ZHAO)
    assert snapshot(county) == mid
    assert before != mid


def test_bad_facts_and_cases_are_refused(county):
    ref = open_(county)
    before = snapshot(county)
    with pytest.raises(NotFound, match="plan_made"):  # the message lists the known facts
        facts_(county, ref, {"no_such_fact": "1"})
    with pytest.raises(InvalidValue, match="whole number"):
        facts_(county, ref, {"survey_respondents": "-3"})
    with pytest.raises(InvalidValue, match="yes/no"):
        facts_(county, ref, {"plan_made": "maybe"})
    with pytest.raises(NotFound, match="case"):
        fire_(county, "2014-9-9999", "confirm")
    with pytest.raises(NotFound, match="organization"):
        open_(county, org="NOPE")
    with pytest.raises(InvalidValue, match="problem category"):
        open_(county, org="T1-02", problems=(9,))
    with pytest.raises(PermissionDenied, match="only county_department, township_committee"):
        open_(county, org="T1-02", who="书记孙")
    assert snapshot(county) == before


def test_quota_warns_but_allows(county):
    refs = [open_(county, org=f"T1-0{i}") for i in (1, 2)]
    assert fire_(county, refs[0], "confirm")[1] == ["warn"]  # 1 of 6 villages is already > 7 %
    with county.transaction() as s:
        event = s.scalars(select(Event).where(Event.kind == "transition")).one()
        assert event.data["warnings"][0]["figures"] == {
            "organizations": 6, "cases": 1, "ratio": 0.1667, "target": 0.05, "tolerance": 0.02,
            "per": "township"}


def test_timers_are_scheduled_on_entry_and_cancelled_on_exit(county):
    ref = open_(county)
    with county.transaction() as s:
        case = get_case(s, ref)
        kinds = sorted(t.kind for t in s.scalars(select(Timer).where(Timer.case_id == case.id)))
        assert kinds == ["deadline", "escalation", "escalation", "reminder", "reminder"]
        assert case.due_at == at("2014-03-17")  # the end of 03-16
    fire_(county, ref, "confirm")
    with county.transaction() as s:
        case = get_case(s, ref)
        statuses = {(t.state, t.status) for t in s.scalars(select(Timer).where(Timer.case_id == case.id))}
        assert ("screening", "pending") not in statuses
        assert ("rectifying", "pending") in statuses
        assert case.due_at == at("2014-12-01")


def test_tick_fires_reminders_once_and_recurring_notices_repeat(county):
    ref = open_(county)
    report = tick(county, at("2014-03-14T09:00"))  # reminder 3 days before the end of 03-16
    assert report.fired == {"reminder": 1}
    assert tick(county, at("2014-03-14T09:00")).total == 0  # nothing fires twice
    fire_(county, ref, "confirm", when="2014-03-15")
    tick(county, at("2014-07-16"))  # the 05-15 request, naming the missed 07-15 one: one notice
    with county.transaction() as s:
        keys = s.scalars(select(Notice.idempotency_key).order_by(Notice.id)).all()
        templates = s.scalars(select(Notice.template).order_by(Notice.id)).all()
    # …and the county's monthly bulletin: only the latest one due (06-21; the first is 03-21).
    assert templates == ["deadline_reminder", "case_listed", "progress_report_request", "county_bulletin"]
    tick(county, at("2014-09-15T11:00"))  # on time again: one request, one occurrence
    with county.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Notice).where(
            Notice.template == "progress_report_request")) == 2
    assert len(set(keys)) == len(keys)
    with county.transaction() as s:
        body = s.scalars(select(Notice.body).where(Notice.template == "deadline_reminder")).one()
        # the 3-days-before reminder, fired at 09:00 on 03-14: 03-14 has begun, two days are left
        assert "应于3月16日前完成，距期限还有2天" in body


def test_overdue_escalation_names_the_days(county):
    """The days overdue are the calendar's, as of the moment the notice is written: at midnight
    the day that ends is the last one counted; a late daemon states the real delay, not the
    escalation's planned offset."""
    open_(county)
    tick(county, at("2014-03-18T00:00"))  # 1 day after the end of 03-16: 03-17 has passed
    tick(county, at("2014-03-24T00:00"))  # 7 days after
    with county.transaction() as s:
        notices = s.scalars(select(Notice).where(Notice.template == "overdue_escalation").order_by(Notice.id)).all()
    assert [n.title for n in notices] == ["关于督促城关镇第1村党支部加快“排查建账”工作的督办通知"] * 2
    assert "应于3月16日前完成，截至3月17日已逾期1天" in notices[0].body
    assert "应于3月16日前完成，截至3月23日已逾期7天" in notices[1].body
    assert [n.document_number for n in notices] == ["×组督〔2014〕1号", "×组督〔2014〕2号"]
    assert [n.body.splitlines()[0] for n in notices] == ["×组督〔2014〕1号", "×组督〔2014〕2号"]


def test_skipped_timer_for_a_case_that_moved_on(county):
    ref = open_(county)
    with county.transaction() as s:  # simulate a race: the timer row is still pending after the case left
        case = get_case(s, ref)
        timer = s.scalars(select(Timer).where(Timer.case_id == case.id, Timer.kind == "reminder")).first()
        timer_id = timer.id
        case.state = "rectifying"
    report = tick(county, at("2014-03-16"))
    assert report.skipped >= 1
    with county.transaction() as s:
        assert s.get(Timer, timer_id).status == TimerStatus.SKIPPED.value


def test_trigger_statuses_explain_what_blocks(county):
    ref = open_(county)
    fire_(county, ref, "confirm")
    with county.transaction() as s:
        statuses = trigger_statuses(s, get_case(s, ref), at("2014-04-01"))
    assert [(st.trigger, st.available) for st in statuses] == [("submit_self_check", False)]
    assert len(statuses[0].failures) == 5


def test_an_administrator_changes_the_workflow_without_code(county, workflow_copy):
    ref_v1 = open_(county)
    data = timed_text(workflow_copy.read_text(encoding="utf-8"))  # as the county's own (tests/county.py)
    data = data.replace("params: {threshold: 0.70}", "params: {threshold: 0.80}")
    data = data.replace("trigger: pass_spot_check", "trigger: clear_spot_check")
    data = data.replace("pass_trigger: pass_spot_check", "pass_trigger: clear_spot_check")
    data = data.replace('survey_end:             {date: "12-10"', 'survey_end:             {date: "12-12"')
    # A new state between spot check and survey.
    data = data.replace("""    source: spot_check
    dest: survey""", """    source: spot_check
    dest: publicity""")
    data += """  - trigger: end_publicity
    label: 公示期满
    source: publicity
    dest: survey
    roles: [county_department]
"""
    data = data.replace("""  re_rectify:
    label: 重新整顿""", """  publicity:
    label: 验收结果公示
  re_rectify:
    label: 重新整顿""")
    workflow_copy.write_text(data, encoding="utf-8")
    loaded = load_workflow_file(workflow_copy)
    version = do(county, lambda s: deploy(s, loaded, "admin", at("2014-03-06"))[0].version)
    assert version == 2
    ref_v2 = open_(county, org="T1-02")
    for ref in (ref_v1, ref_v2):
        fire_(county, ref, "confirm")
        # a stationed work team is in one place at a time (exclusive): the second case has its own
        facts_(county, ref, READY if ref == ref_v1 else READY | {"stationed_cadre": "新的工作队"})
        fire_(county, ref, "submit_self_check", WANG, "2014-11-01")
        facts_(county, ref, {"self_check_report": "r", "superior_check_opinion": "ok"}, WANG, "2014-11-01")
        fire_(county, ref, "request_superior_check", WANG, "2014-11-01")
        fire_(county, ref, "pass_superior_check", WANG, "2014-11-01")
    with pytest.raises(NotFound, match="pass_spot_check"):
        fire_(county, ref_v1, "clear_spot_check")  # v1 does not know the renamed trigger…
    spot_check_all(county)  # …each case moves on by its own version's trigger
    assert state_of(county, ref_v1) == ("survey", 1)
    assert state_of(county, ref_v2) == ("publicity", 1)  # v2 goes through the new state
    fire_(county, ref_v2, "end_publicity")
    for ref in (ref_v1, ref_v2):
        facts_(county, ref, {"survey_respondents": "40", "survey_satisfied": "30"}, WANG, "2014-12-03")
    assert fire_(county, ref_v1, "conclude_survey", WANG, "2014-12-03")[0] == "accepted"  # 75 % ≥ 70 %
    assert fire_(county, ref_v2, "conclude_survey", WANG, "2014-12-03")[0] == "re_rectify"  # 75 % < 80 %
    with county.transaction() as s:
        assert get_case(s, ref_v2).workflow_version.version == 2
        assert get_case(s, ref_v1).workflow_version.version == 1


def test_redeploying_the_same_text_is_a_no_op(county):
    loaded = load_workflow_file(WORKFLOW)
    version, created = do(county, lambda s: deploy(s, loaded, "admin", at("2014-03-02")))
    assert (version.version, created) == (1, False)


def test_one_shared_machine_per_version_with_no_models(county):
    first, second = compiled(load_workflow_file(WORKFLOW)), compiled(load_workflow_file(WORKFLOW))
    assert first is second
    ref = open_(county)
    fire_(county, ref, "confirm")
    with county.transaction() as s:
        assert compiled_version(get_case(s, ref).workflow_version).machine is first.machine
    assert first.machine.models == []


def test_deadlines_absolute_and_relative(county):
    ref = open_(county)
    fire_(county, ref, "confirm")
    facts_(county, ref, READY)
    fire_(county, ref, "submit_self_check", WANG, "2014-11-01T15:30")
    with county.transaction() as s:
        # Self check: 10 working days after the day of entry (Sat 11-01): 11-03 … 11-14.
        assert get_case(s, ref).due_at == at("2014-11-15")
    facts_(county, ref, {"self_check_report": "r", "superior_check_opinion": "ok"}, WANG, "2014-11-02")
    fire_(county, ref, "request_superior_check", WANG, "2014-11-02")
    fire_(county, ref, "pass_superior_check", WANG, "2014-11-03")
    spot_check_all(county, "2014-11-04")
    with county.transaction() as s:
        assert get_case(s, ref).due_at == at("2014-12-11")  # survey: the end of 12-10


def test_concurrent_change_is_a_conflict_and_writes_nothing(county, db_url):
    """Two officials fire on the same case at once: the second commit is refused whole."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the race cannot interleave")
    from engine.base.errors import Conflict

    ref = open_(county)
    # The conflict may surface at the flush or at the commit: the whole transaction is inside.
    with pytest.raises(Conflict, match="the case changed while you were acting"), county.transaction() as second:  # noqa: PT012
        stale = get_case(second, ref)  # read before the other official commits
        fire_(county, ref, "confirm")  # the other official, in their own transaction
        before = snapshot(county)
        fire(second, stale, "confirm", actor_for(second, LI), at("2014-03-10"))
    assert snapshot(county) == before
    assert state_of(county, ref) == ("rectifying", 1)


def seed_with_county_quota_blocking(store, workflow_copy) -> None:
    """The small county, its workflow's quota set to block above 10 % of the county."""
    shipped = "params: {target: 0.05, tolerance: 0.02, mode: warn, below: warn}"
    text = workflow_copy.read_text(encoding="utf-8")
    assert shipped in text  # the swap below must not silently do nothing
    workflow_copy.write_text(text.replace(shipped, "params: {target: 0.05, tolerance: 0.05, mode: block, per: county}"),
                             encoding="utf-8")
    seed_county(store, workflow_copy)


def test_quota_can_block_per_county(store, workflow_copy):
    seed_with_county_quota_blocking(store, workflow_copy)
    refs = [open_(store, org=f"T{t}-0{i}", who=LI) for t, i in ((1, 1), (2, 1), (2, 2))]
    fire_(store, refs[0], "confirm")  # 1/12 = 8.3 % ≤ 10 %
    before = snapshot(store)
    with pytest.raises(TransitionRefused, match="全县后进比例 16.7%（2/12）"):
        fire_(store, refs[1], "confirm")  # 2/12 > 10 %: blocked
    assert snapshot(store) == before


def test_a_case_directly_under_the_county_counts_in_the_county_quota(store, workflow_copy):
    """An organization with no township (an enterprise under the county itself) still counts."""
    seed_with_county_quota_blocking(store, workflow_copy)
    with store.transaction() as s:
        import_organizations(s, [OrgRow(99, "X-E1", "县直企业党支部", OrgKind.ENTERPRISE, "X", None, None)], "more")
    refs = [open_(store, org="X-E1", who=LI), open_(store, org="T2-01", who=LI)]
    fire_(store, refs[0], "confirm")  # 1/13 = 7.7 % ≤ 10 %
    with pytest.raises(TransitionRefused, match="全县后进比例 15.4%（2/13）"):
        fire_(store, refs[1], "confirm")  # the county's own case makes it 2/13


def test_stationed_cadre_is_not_withdrawn_before_acceptance(county):
    """不转化不撤离: clearing the stationed cadre is refused until the case is accepted."""
    ref = open_(county)
    to_survey(county, ref)
    before = snapshot(county)
    with pytest.raises(TransitionRefused, match="不转化不撤离"):
        facts_(county, ref, {"stationed_cadre": None}, WANG, "2014-12-01")
    assert snapshot(county) == before
    facts_(county, ref, {"stationed_cadre": "新的工作队"}, WANG, "2014-12-01")  # replacing is fine
    facts_(county, ref, {"survey_respondents": "40", "survey_satisfied": "30"}, WANG, "2014-12-03")
    fire_(county, ref, "conclude_survey", WANG, "2014-12-03")
    facts_(county, ref, {"stationed_cadre": None}, WANG, "2014-12-05")  # accepted: may withdraw
    with county.transaction() as s:
        assert "stationed_cadre" not in case_facts(s, get_case(s, ref).id)


def test_progress_reports_must_keep_up_with_requests(county):
    ref = open_(county)
    fire_(county, ref, "confirm", when="2014-03-15")
    facts_(county, ref, READY)
    tick(county, at("2014-07-16"))  # the 05-15 request naming the missed 07-15 one: both are owed
    facts_(county, ref, {"progress_reports": "1"})
    with pytest.raises(TransitionRefused, match="应报送整顿建设情况 2 次，仅报送 1 次"):
        fire_(county, ref, "submit_self_check", WANG, "2014-07-20")
    facts_(county, ref, {"progress_reports": "2"})
    assert fire_(county, ref, "submit_self_check", WANG, "2014-07-20")[0] == "self_check"
