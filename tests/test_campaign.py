"""Time travel: the campaign from 03-01 to 12-31 on a simulated clock, checked exactly.

Case A (城关镇) goes through every step; case B (河西乡) is registered and then left in screening.
Every notice and transition the year produces is listed below with its date; the working-day
calendar decides the acceptance steps' deadlines.

The shipped workflow: the 3月16日 filing and the progress reports are the townships' duties.
城关镇 files them (one report late, after its reminder and escalation; a self-check asked for
meanwhile is refused), 河西乡 files nothing and is reminded and escalated for each; B itself
has no deadline in screening. The timed variant (tests/timed_workflow.py, the engine-level
tests' county): B's own screening deadline reminds and escalates, and A is asked for its
progress reports every two months — the per-case timers over a whole year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.base.clock import local
from engine.base.errors import TransitionRefused
from engine.daemon.ticker import tick
from engine.ops.cases import get_case
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.duties import duty_table, submit, unit_summary
from engine.ops.officials import actor_for
from engine.ops.orgs import get_org
from engine.ops.survey import record_survey
from engine.store.models import Case, Event, Notice, UnitDuty
from tests.county import ROOT, seed_county
from tests.test_engine import LI, READY, WANG, ZHAO, do, facts_, fire_, open_, spot_check_all

TZ = ZoneInfo("Asia/Shanghai")
A, B = "2014-1-0001", "2014-1-0002"

# --- the shipped workflow --------------------------------------------------------------------

# (day, template, the case, or the township of a duty's notice, or None for the bulletin)
SHIPPED_NOTICES = [
    ("03-12", "case_listed", A),
    # 河西乡's 汇总表 (due 03-16): reminded 3 and 1 days before, escalated 1 and 7 days after;
    # 城关镇 filed on 03-10, before its first reminder
    ("03-14", "duty_reminder", "T2"), ("03-16", "duty_reminder", "T2"),
    ("03-18", "duty_escalation", "T2"), ("03-24", "duty_escalation", "T2"),
    *[(f"{m:02d}-21", "county_bulletin", None) for m in range(3, 13)],  # monthly from 03-21
    # 河西乡 owes the progress reports too (it has a case since 03-05) and files none of them:
    # each is reminded 7 days before and escalated 1 and 7 days after its date
    *[(f"{m:02d}-{d}", kind, "T2") for m in (5, 7, 9, 11)
      for d, kind in (("14", "duty_reminder"), ("22", "duty_escalation"), ("28", "duty_escalation"))],
    # 城关镇 files its reports on the 10th, before their reminders, except July's: filed on 07-25,
    # after its reminder and its first escalation
    ("07-14", "duty_reminder", "T1"), ("07-22", "duty_escalation", "T1"),
    ("11-01", "deadline_reminder", A),  # 30 days before the end of 11-30
    ("11-14", "spot_check_notice", A),
    ("12-03", "accepted_notice", A),
    # the survey results (12-10), owed by the townships with cases: 城关镇 filed on 12-05
    ("12-08", "duty_reminder", "T2"), ("12-12", "duty_escalation", "T2"),
]

SHIPPED_FILINGS = {"03-10": "screening_report", "05-10": "progress_report", "07-25": "progress_report",
                   "09-10": "progress_report", "11-10": "progress_report", "12-05": "survey_report"}


@pytest.fixture
def shipped(store):
    """The small county of tests/county.py running the shipped workflow, with its duties."""
    seed_county(store, ROOT / "workflows" / "backward_orgs.yaml")
    return store


def file_(store, duty: str, when: str) -> None:
    """城关镇 files its earliest open occurrence of ``duty`` (``rectify duty submit``)."""
    def run(s):
        campaign = resolve_campaign(s, None)
        submit(s, campaign, compiled_version(campaign.current_version), actor_for(s, WANG), get_org(s, "T1"), duty,
               None, "", [], datetime.fromisoformat(when).replace(tzinfo=TZ))
    do(store, run)


def refused_for_reports(store, when: str) -> None:
    """On 07-23 A is ready but for its township's report of 07-20, due and not filed yet."""
    with pytest.raises(TransitionRefused, match="所在乡镇应报送 2 次，仅报送 1 次"):
        fire_(store, A, "submit_self_check", WANG, when)


def test_the_shipped_campaign_year_exactly(shipped):
    dues: dict[str, datetime | None] = {}
    agenda = common_agenda(shipped, dues)
    for day, duty in SHIPPED_FILINGS.items():
        agenda.setdefault(day, []).append(lambda w, duty=duty: file_(shipped, duty, w))
    agenda["07-23"] = [lambda w: refused_for_reports(shipped, w)]
    notices, transitions, states = run_year(shipped, agenda)
    assert sorted(notices, key=lambda n: (n[0], n[1], n[2] or "")) == \
        sorted(SHIPPED_NOTICES, key=lambda n: (n[0], n[1], n[2] or ""))
    assert transitions == EXPECTED_TRANSITIONS
    assert states == {A: "accepted", B: "screening"}
    assert dues == ACCEPTANCE_DUES
    with shipped.transaction() as s:
        campaign = resolve_campaign(s, None)
        table = duty_table(s, campaign, compiled_version(campaign.current_version), moment(date(2014, 12, 31), 23))
        standing = {u["unit_code"]: (u["done"], u["late"], u["missing"], u["open"]) for u in unit_summary(table)}
    # 城关镇: five on time, July's late; 河西乡: its 汇总表, four reports and the survey results missing
    assert standing == {"T1": (5, 1, 0, 0), "T2": (0, 0, 6, 0)}


# --- the timed variant: per-case deadlines and progress requests -------------------------------

EXPECTED_NOTICES = [
    ("03-12", "case_listed", A),
    ("03-14", "deadline_reminder", B),  # 3 days before the end of 03-16
    ("03-16", "deadline_reminder", B),
    ("03-18", "overdue_escalation", B),  # 1 day after
    ("03-21", "county_bulletin", None),  # monthly from the start of rectification
    ("03-24", "overdue_escalation", B),  # 7 days after
    ("04-21", "county_bulletin", None),
    ("05-12", "progress_report_request", A),  # every two months after confirmation
    ("05-21", "county_bulletin", None),
    ("06-21", "county_bulletin", None),
    ("07-12", "progress_report_request", A),
    ("07-21", "county_bulletin", None),
    ("08-21", "county_bulletin", None),
    ("09-12", "progress_report_request", A),
    ("09-21", "county_bulletin", None),
    ("10-21", "county_bulletin", None),
    ("11-01", "deadline_reminder", A),  # 30 days before the end of 11-30
    ("11-14", "spot_check_notice", A),
    ("11-21", "county_bulletin", None),
    ("12-03", "accepted_notice", A),
    ("12-21", "county_bulletin", None),
]

EXPECTED_TRANSITIONS = [
    ("03-12", A, "confirm", "rectifying"),
    ("11-03", A, "submit_self_check", "self_check"),
    ("11-05", A, "request_superior_check", "superior_check"),
    ("11-10", A, "pass_superior_check", "spot_check"),
    ("11-14", A, "pass_spot_check", "survey"),  # drawn, checked and passed the same day
    ("12-03", A, "conclude_survey", "accepted"),
]


def moment(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ)


def due_of(store, ref):
    return do(store, lambda s: get_case(s, ref).due_at)


def common_agenda(county, dues: dict[str, datetime | None]) -> dict[str, list]:
    """What the officials do on each day (at 10:00), the same in both workflows: A and B opened,
    A confirmed and taken through every step; ``dues`` gets each acceptance step's deadline."""
    def survey(s, when):
        record_survey(s, get_case(s, A), 40, 32, actor_for(s, WANG), when)

    return {
        "03-05": [lambda w: open_(county, "T1-01", WANG, w), lambda w: open_(county, "T2-01", ZHAO, w)],
        "03-12": [lambda w: fire_(county, A, "confirm", LI, w)],
        "04-01": [lambda w: facts_(county, A, READY, WANG, w)],
        "11-03": [lambda w: fire_(county, A, "submit_self_check", WANG, w),
                  lambda w: dues.__setitem__("self_check", due_of(county, A))],
        "11-05": [lambda w: facts_(county, A, {"self_check_report": "自查报告"}, WANG, w),
                  lambda w: fire_(county, A, "request_superior_check", WANG, w),
                  lambda w: dues.__setitem__("superior_check", due_of(county, A))],
        "11-10": [lambda w: facts_(county, A, {"superior_check_opinion": "同意"}, WANG, w),
                  lambda w: fire_(county, A, "pass_superior_check", WANG, w),
                  lambda w: dues.__setitem__("spot_check", due_of(county, A))],
        "11-14": [lambda w: spot_check_all(county, w, seed="2014")],
        "12-03": [lambda w: do(county, survey, datetime.fromisoformat(w).replace(tzinfo=TZ))],
    }


def run_year(county, agenda: dict[str, list]) -> tuple[list, list, dict]:
    """Each day from 03-01 to 12-31: the agenda's actions at 10:00, the daemon's tick at 18:00.
    Returns the notices (day, template, the case's ref or the township of a duty's notice), the
    transitions and the cases' states."""
    day = date(2014, 3, 1)
    while day <= date(2014, 12, 31):
        for action in agenda.get(day.strftime("%m-%d"), []):
            action(moment(day, 10).strftime("%Y-%m-%dT%H:%M"))
        tick(county, moment(day, 18))
        day += timedelta(days=1)

    with county.transaction() as s:
        refs = dict(s.execute(select(Case.id, Case.ref)).all())
        units = {row.id: row.unit.code for row in s.scalars(select(UnitDuty))}

        def whose(n: Notice) -> str | None:
            if n.case_id is not None:
                return refs[n.case_id]
            if n.idempotency_key.startswith("duty:"):  # duty:<occurrence's id>:<step>
                return units[int(n.idempotency_key.split(":")[1])]
            return None  # the bulletin

        notices = [(local(n.created_at, "Asia/Shanghai").strftime("%m-%d"), n.template, whose(n))
                   for n in s.scalars(select(Notice).order_by(Notice.created_at, Notice.id))]
        transitions = [(local(e.at, "Asia/Shanghai").strftime("%m-%d"), refs[e.case_id], e.trigger, e.to_state)
                       for e in s.scalars(select(Event).where(Event.kind == "transition").order_by(Event.at, Event.id))]
        states = dict(s.execute(select(Case.ref, Case.state)).all())
    return notices, transitions, states


# Working days: 10 after Mon 11-03 is Mon 11-17; after Wed 11-05, Wed 11-19; after Mon 11-10, Mon 11-24.
ACCEPTANCE_DUES = {"self_check": moment(date(2014, 11, 18), 0), "superior_check": moment(date(2014, 11, 20), 0),
                   "spot_check": moment(date(2014, 11, 25), 0)}


def test_the_timed_campaign_year_exactly(county):
    dues: dict[str, datetime | None] = {}
    agenda = common_agenda(county, dues)
    # the variant counts the reports on the case: 3 requested by 11-03 (05-12, 07-12, 09-12)
    agenda["11-03"].insert(0, lambda w: facts_(county, A, {"progress_reports": "3"}, WANG, w))
    notices, transitions, states = run_year(county, agenda)
    assert sorted(notices, key=lambda n: (n[0], n[1])) == sorted(EXPECTED_NOTICES, key=lambda n: (n[0], n[1]))
    assert transitions == EXPECTED_TRANSITIONS
    assert states == {A: "accepted", B: "screening"}
    assert dues == ACCEPTANCE_DUES
