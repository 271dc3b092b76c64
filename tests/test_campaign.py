"""Time travel: the shipped campaign from 03-01 to 12-31 on a simulated clock, checked exactly.

Case A goes through every step; case B is registered and then left in screening, so its
deadline reminds and escalates. Every notice and transition the year produces is listed
below with its date; the working-day calendar decides the acceptance steps' deadlines.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.base.clock import local
from engine.daemon.ticker import tick
from engine.ops.cases import get_case
from engine.ops.officials import actor_for
from engine.ops.survey import record_survey
from engine.store.models import Case, Event, Notice
from tests.test_engine import LI, READY, WANG, do, facts_, fire_, open_, spot_check_all

TZ = ZoneInfo("Asia/Shanghai")
A, B = "2014-1-0001", "2014-1-0002"

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


def test_the_campaign_year_exactly(county):
    dues: dict[str, datetime | None] = {}

    def survey(s, when):
        record_survey(s, get_case(s, A), 40, 32, actor_for(s, WANG), when)

    agenda = {
        "03-05": [lambda w: open_(county, "T1-01", WANG, w), lambda w: open_(county, "T2-01", "河西乡赵", w)],
        "03-12": [lambda w: fire_(county, A, "confirm", LI, w)],
        "04-01": [lambda w: facts_(county, A, READY, WANG, w)],
        "11-03": [lambda w: facts_(county, A, {"progress_reports": "3"}, WANG, w),
                  lambda w: fire_(county, A, "submit_self_check", WANG, w),
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
    day = date(2014, 3, 1)
    while day <= date(2014, 12, 31):
        for action in agenda.get(day.strftime("%m-%d"), []):
            action(moment(day, 10).strftime("%Y-%m-%dT%H:%M"))
        tick(county, moment(day, 18))
        day += timedelta(days=1)

    with county.transaction() as s:
        refs = dict(s.execute(select(Case.id, Case.ref)).all())
        notices = [(local(n.created_at, "Asia/Shanghai").strftime("%m-%d"), n.template, refs.get(n.case_id))
                   for n in s.scalars(select(Notice).order_by(Notice.created_at, Notice.id))]
        transitions = [(local(e.at, "Asia/Shanghai").strftime("%m-%d"), refs[e.case_id], e.trigger, e.to_state)
                       for e in s.scalars(select(Event).where(Event.kind == "transition").order_by(Event.at, Event.id))]
        states = dict(s.execute(select(Case.ref, Case.state)).all())
    assert sorted(notices, key=lambda n: (n[0], n[1])) == sorted(EXPECTED_NOTICES, key=lambda n: (n[0], n[1]))
    assert transitions == EXPECTED_TRANSITIONS
    assert states == {A: "accepted", B: "screening"}
    # Working days: 10 after Mon 11-03 is Mon 11-17; after Wed 11-05, Wed 11-19; after Mon 11-10, Mon 11-24.
    assert dues == {"self_check": moment(date(2014, 11, 18), 0), "superior_check": moment(date(2014, 11, 20), 0),
                    "spot_check": moment(date(2014, 11, 25), 0)}
