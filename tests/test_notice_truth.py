"""Every notice of a whole simulated campaign, read claim by claim against the record.

The demo's campaign (engine.services.demo, seed 2014) has every outcome a notice must tell
truly: a case sent back by the superior check, one by the spot check and one by the survey,
each accepted in the following year; cases drawn for the spot check and cases passed over;
cases late in rectification and in the survey, and cases on time; townships that file their
汇总表 late or never and a progress report late, reminded and escalated (no case is late at
screening: the 3月16日 filing is the townships', issue 16); a monthly bulletin. After it ran,
each notice in the outbox is checked against the events, facts, timers and filings it speaks
of: the state and round, the reason, the days overdue or left, the checks performed, the
figures, the township and its occurrence; and each numbered document against the register.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from fractions import Fraction

import pytest
from sqlalchemy import select

from engine.base.clock import local
from engine.base.cndate import closing_day, cn_day
from engine.ops.deploy import compiled_version
from engine.services.demo import run_demo
from engine.store.db import Store
from engine.store.doc_numbers import parse_document_number
from engine.store.models import Campaign, Case, Event, Notice, Timer, UnitDuty

pytestmark = pytest.mark.slow

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture
def campaign(db_url, tmp_path):
    """The demo's campaign run on ``db_url``; (store, compiled workflow, notices, events by id)."""
    run_demo(tmp_path / "demo", 2014, lambda _: None, url=db_url)
    store = Store(db_url)
    with store.transaction() as s:
        camp = s.scalars(select(Campaign)).one()
        compiled = compiled_version(camp.current_version)
        notices = list(s.scalars(select(Notice).where(~Notice.idempotency_key.startswith("alert:"))
                                 .order_by(Notice.id)))
        events = {e.id: e for e in s.scalars(select(Event))}
        cases = {c.id: c for c in s.scalars(select(Case))}
        timers = list(s.scalars(select(Timer)))
        duties = {d.id: d for d in s.scalars(select(UnitDuty))}  # the townships' occurrences
        for d in duties.values():
            _ = d.unit.name
        for n in notices:  # loaded before the session closes
            _ = (n.body, n.title, n.document_number)
        for c in cases.values():
            _ = (c.organization.name, c.organization.parent.name, c.organization.kind)
    yield store, compiled, notices, events, cases, timers, duties
    store.dispose()


def _day(moment, compiled):
    return local(moment, compiled.definition.timezone).date()


def _events_of(events, case_id):
    return sorted((e for e in events.values() if e.case_id == case_id), key=lambda e: e.seq)


def _fact_at(events, case_id, name, round_, before_seq):
    """The value of fact ``name`` recorded in round ``round_`` before event ``before_seq``."""
    value = None
    for e in _events_of(events, case_id):
        if e.seq >= before_seq:
            break
        if e.kind == "fact" and e.round == round_ and (e.data or {}).get("fact") == name:
            value = (e.data or {}).get("new")
    return value


def test_every_notice_is_true_of_the_record(campaign):
    _store, compiled, notices, events, cases, timers, duties = campaign
    seen = Counter(n.template for n in notices)
    # The campaign exercised what the notices must tell truly.
    assert seen["re_rectify_notice"] == 3
    assert seen["accepted_notice"] >= 10
    assert seen["overdue_escalation"] >= 2  # in rectification and in the survey
    assert seen["duty_reminder"] >= 1
    assert seen["duty_escalation"] >= 1
    assert seen["county_bulletin"] >= 9
    for n in notices:
        assert not ISO_DATE.search(n.body), (n.id, n.body)  # official dates: 2014年3月16日, 3月16日前
        assert "待补充" not in n.body, (n.id, n.body)
        assert "None" not in n.body, (n.id, n.body)
        assert n.status != "held", (n.id, n.last_error)  # the demo records every fact its notices need
        check = CHECKS.get(n.template)
        if check is not None:
            check(n, compiled, events, cases, timers)
        duty_check = DUTY_CHECKS.get(n.template)
        if duty_check is not None:
            duty_check(n, compiled, duties)
    _check_register(notices, compiled)
    reasons = {_source(events[n.event_id]) for n in notices if n.template == "re_rectify_notice"}
    assert reasons == {"superior_check", "spot_check", "survey"}  # every trigger that opens a new round


def _source(event):
    return event.from_state


def _check_re_rectify(n, compiled, events, cases, timers):
    wf = compiled.definition
    event, case = events[n.event_id], cases[n.case_id]
    assert event.to_state == "re_rectify"
    assert f"第{event.round}轮整顿在“{wf.states[event.from_state].label}”环节未通过" in n.body
    assert f"转入第{event.round + 1}轮整顿" in n.body  # the round being opened
    ratio = next((v["figures"] for v in event.data["guards"].values() if "ratio" in v.get("figures", {})), None)
    if event.from_state == "survey":
        assert ratio is not None
        share = Fraction(ratio["satisfied"], ratio["respondents"])
        assert f"参评{ratio['respondents']}人，满意{ratio['satisfied']}人" in n.body
        assert f"满意率{float(share) * 100:.1f}".rstrip("0").rstrip(".") in n.body
        assert "满意度低于70%的要重新进行整顿" in n.body
    else:  # a check that failed is not a satisfaction below 70 %
        assert ratio is None
        assert "满意度" not in n.body
        opinion = "superior_check_opinion" if event.from_state == "superior_check" else "spot_check_opinion"
        recorded = _fact_at(events, case.id, opinion, event.round, event.seq)
        assert recorded
        assert f"{wf.facts[opinion].label}：{recorded}" in n.body
    stationed = "驻村干部和工作队不转化不撤离" in n.body
    assert stationed == (case.organization.kind in ("village", "community"))


def _check_accepted(n, compiled, events, cases, timers):
    wf = compiled.definition
    event, case = events[n.event_id], cases[n.case_id]
    assert event.to_state == "accepted"
    left = [e.from_state for e in _events_of(events, case.id)
            if e.kind == "transition" and e.round == event.round and e.seq <= event.seq]
    drawn = _fact_at(events, case.id, "spot_drawn", event.round, event.seq)
    spot = wf.states["spot_check"].label
    assert (spot in n.body) == (drawn in (True, "是")), (n.body, drawn)
    for state in ("self_check", "superior_check", "survey"):
        assert (wf.states[state].label in n.body) == (state in left)
    figures = event.data["guards"]["satisfaction_passes"]["figures"]
    assert f"参评{figures['respondents']}人，满意{figures['satisfied']}人" in n.body
    assert (f"在第{event.round}轮整顿中" in n.body) == (event.round > 1)


def _deadline_of(n, timers):
    """The deadline a reminder's or an escalation's notice (key ``timer:ID``) speaks of: the
    deadline timer of the same case, state and round."""
    fired = next(t for t in timers if n.idempotency_key == f"timer:{t.id}")
    return next(t for t in timers if (t.case_id, t.state, t.round, t.kind) ==
                (fired.case_id, fired.state, fired.round, "deadline")).due_at


def _check_escalation(n, compiled, events, cases, timers):
    tz = compiled.definition.timezone
    due = closing_day(_deadline_of(n, timers), tz)
    as_of = closing_day(n.created_at, tz)
    year = local(n.created_at, tz).year
    assert n.title.endswith("的督办通知")  # one unit's overdue item: a 督办通知, not a 通报
    assert f"应于{cn_day(due, year)}前完成，截至{cn_day(as_of, year)}已逾期{(as_of - due).days}天" in n.body
    assert (as_of - due).days >= 1


def _check_reminder(n, compiled, events, cases, timers):
    tz = compiled.definition.timezone
    due = closing_day(_deadline_of(n, timers), tz)
    left = (due - closing_day(n.created_at, tz)).days
    assert f"应于{cn_day(due, local(n.created_at, tz).year)}前完成" in n.body
    assert (f"距期限还有{left}天" if left > 0 else "今天到期") in n.body


def _check_bulletin(n, compiled, events, cases, timers):
    body = n.body
    total = int(re.search(r"全县共确定整顿对象(\d+)个", body)[1])
    by_state = [int(x) for x in re.findall(r"处于“[^”]+”的(\d+)个", body)]
    assert sum(by_state) == total  # current states add up to the total
    again = re.search(r"累计有(\d+)个整顿对象.*?其中(\d+)个已完成整顿，(\d+)个正在整顿", body)
    if again:
        assert int(again[1]) == int(again[2]) + int(again[3])
    surveys = [e for e in events.values() if e.kind == "transition" and e.from_state == "survey"
               and e.at <= n.created_at]
    found = re.search(r"已开展群众满意度测评(\d+)次.*?平均满意率([\d.]+)%；达到70%的(\d+)次，低于70%的(\d+)次。分布：(.*?)。",
                      body)
    if not surveys:
        assert found is None
        return
    assert found is not None, body
    count, average, passed, failed = int(found[1]), float(found[2]), int(found[3]), int(found[4])
    ratios = [Fraction(e.data["guards"]["satisfaction_passes"]["figures"]["satisfied"],
                       e.data["guards"]["satisfaction_passes"]["figures"]["respondents"]) for e in surveys]
    assert count == len(surveys)
    assert passed + failed == count
    assert failed == sum(1 for r in ratios if r < Fraction(7, 10))  # the failure is counted, not left out
    assert abs(average - float(sum(ratios) / len(ratios)) * 100) < 0.051
    assert sum(int(x) for x in re.findall(r"(\d+)次", found[5])) == count


def _check_listed(n, compiled, events, cases, timers):
    case = cases[n.case_id]
    assert "主要问题：" in n.body
    assert case.problems


CHECKS = {"re_rectify_notice": _check_re_rectify, "accepted_notice": _check_accepted,
          "overdue_escalation": _check_escalation, "deadline_reminder": _check_reminder,
          "county_bulletin": _check_bulletin, "case_listed": _check_listed}


def _check_duty_notice(n, compiled, duties):
    """A township's reminder or escalation (key duty:<occurrence>:<step>): sent while the
    occurrence stood unfiled, to the township's officials of the step's roles, addressed to the
    township, naming the duty, its occurrence and its date, with the days counted by the calendar."""
    wf, tz = compiled.definition, compiled.definition.timezone
    row = duties[int(n.idempotency_key.split(":")[1])]
    duty = wf.duties[row.duty]
    assert row.submitted_at is None or row.submitted_at > n.created_at, (n.id, n.title)  # chased, not filed
    roles = duty.remind if n.template == "duty_reminder" else duty.escalate_to
    assert n.recipients, (n.id, n.title)
    assert all(r["role"] in roles for r in n.recipients), n.recipients
    assert row.unit.name in n.title
    assert f"{row.unit.name}：" in n.body.splitlines()[:2]  # 主送 the township, after a document's number
    due, as_of = closing_day(row.due_at, tz), closing_day(n.created_at, tz)
    year = local(n.created_at, tz).year
    which = f"第{row.occurrence}次" if len(duty.due) > 1 else ""
    assert f"{which}“{duty.label}”应于{cn_day(due, year)}前报县委组织部" in n.body, n.body
    if n.template == "duty_reminder":
        left = (due - as_of).days
        assert left >= 0
        assert (f"距期限还有{left}天" if left > 0 else "今天到期") in n.body, n.body
    else:
        assert (as_of - due).days >= 1
        assert f"截至{cn_day(as_of, year)}你单位仍未报送，已逾期{(as_of - due).days}天" in n.body, n.body


def _check_bulletin_duties(n, compiled, duties):
    """The bulletin's count of what the townships owed, and the townships it names, recounted
    from the occurrences as they stood when it was written (the demo returns no filing)."""
    tz = compiled.definition.timezone
    year = local(n.created_at, tz).year
    due = [d for d in duties.values() if n.created_at >= d.due_at]
    filed = [d for d in due if d.submitted_at is not None and d.submitted_at <= n.created_at]
    on_time = sum(1 for d in filed if d.submitted_at <= d.due_at)
    missing = sorted((d for d in due if d not in filed), key=lambda d: d.due_at)
    if not due:
        assert "应报送材料" not in n.body
        return
    assert (f"应报送材料{len(due)}件次，按时报送{on_time}件次，逾期报送{len(filed) - on_time}件次，"
            f"逾期未报{len(missing)}件次。") in n.body, n.body
    named: dict[str, list[str]] = defaultdict(list)
    for d in missing:  # each township, its occurrences in date order
        named[d.unit.name].append(f"{compiled.definition.duties[d.duty].label}（{cn_day(closing_day(d.due_at, tz), year)}）")
    assert dict(re.findall(r"^(\S+)逾期未报：(.+)。$", n.body, re.M)) == {u: "、".join(v) for u, v in named.items()}


DUTY_CHECKS = {"duty_reminder": _check_duty_notice, "duty_escalation": _check_duty_notice,
               "county_bulletin": _check_bulletin_duties}


def _check_register(notices, compiled):
    """Numbered documents: unique, gapless from 1 per prefix and year, in the order issued,
    written in the notice; messages unnumbered; 主送 the case's township, 抄送 not the issuer."""
    docs = compiled.definition.documents
    by_series: dict[tuple[str, int], list[int]] = defaultdict(list)
    for n in notices:
        kind = docs.templates.get(n.template)
        if not kind:
            assert n.document_number is None, (n.template, n.document_number)
            continue
        number = parse_document_number(n.document_number)
        assert n.body.splitlines()[0] == n.document_number
        assert number.year == local(n.created_at, compiled.definition.timezone).year
        by_series[(number.prefix, number.year)].append(number.number)
        assert "抄送：" not in n.body or compiled.definition.roles[docs.issuer_role] not in n.body.split("抄送：")[1]
    assert by_series, "no numbered document"
    for series, numbers in by_series.items():
        assert numbers == list(range(1, len(numbers) + 1)), series
