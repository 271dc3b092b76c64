"""The working-day calendar and deadline arithmetic across holidays and adjusted working days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.base.errors import InvalidDefinition
from engine.spec.deadlines import plan_timers, shift
from engine.spec.definition import Duration, State
from engine.spec.loader import load_workflow_file
from engine.spec.workcalendar import DEFAULT_CALENDAR, parse_overrides
from tests.conftest import at

CAL = DEFAULT_CALENDAR
TZ = "Asia/Shanghai"
covered_days = st.dates(min_value=date(2010, 1, 1), max_value=date(2025, 12, 1))


def test_national_day_2014():
    assert [CAL.is_workday(date(2014, 10, d)) for d in range(1, 8)] == [False] * 7
    assert CAL.is_workday(date(2014, 9, 28))  # Sunday, an adjusted working day (调休)
    assert CAL.is_workday(date(2014, 10, 11))  # Saturday, adjusted
    assert CAL.info(date(2014, 10, 3)).name == "国庆节"
    assert CAL.add_workdays(date(2014, 9, 30), 1)[0] == date(2014, 10, 8)


@settings(max_examples=200, deadline=None)
@given(covered_days, st.integers(min_value=0, max_value=40))
def test_adding_working_days_lands_on_the_nth_working_day(start, n):
    end, skipped = CAL.add_workdays(start, n)
    between = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(CAL.is_workday(d) for d in between) == n
    assert n == 0 or CAL.is_workday(end)
    assert [s.day for s in skipped] == [d for d in between if not CAL.is_workday(d)]


@settings(max_examples=200, deadline=None)
@given(covered_days, st.integers(min_value=1, max_value=40))
def test_working_days_back_and_forth_from_a_working_day(start, n):
    start, _ = CAL.next_workday(start)
    forward, _ = CAL.add_workdays(start, n)
    assert CAL.add_workdays(forward, -n)[0] == start


@settings(max_examples=200, deadline=None)
@given(covered_days)
def test_next_workday_is_the_first_working_day_not_before(day):
    moved, skipped = CAL.next_workday(day)
    assert CAL.is_workday(moved)
    assert moved >= day
    assert all(not CAL.is_workday(day + timedelta(days=i)) for i in range((moved - day).days))
    assert len(skipped) == (moved - day).days


@settings(max_examples=100, deadline=None)
@given(covered_days, st.integers(min_value=1, max_value=30), st.sampled_from(["days", "weeks", "months"]))
def test_calendar_durations_ignore_holidays(start, n, unit):
    moment = at(start.isoformat())
    assert shift(moment, Duration(amount=n, unit=unit), 1, CAL, TZ).explain == []


def state(deadline: dict) -> State:
    return State.model_validate({"label": "x", "deadline": deadline})


def test_relative_working_day_deadline_skips_national_day():
    # Entered Monday 09-29: working days 09-30, 10-08, 10-09, 10-10, 10-11 (adjusted Saturday).
    planned = plan_timers(state({"after": "5 working days", "reminders": ("2 working days",)}), 1,
                          at("2014-09-29T09:00"), {}, TZ, CAL)
    deadline, reminder = planned
    assert deadline.due_at == at("2014-10-12")
    assert "跳过休息日 7 天" in deadline.payload["explain"][1]
    assert "国庆节" in deadline.payload["explain"][1]
    assert reminder.due_at == at("2014-10-10")  # two working days before the end of 10-11: 10-10 and 10-11


def test_date_deadline_on_a_holiday_moves_to_the_next_working_day():
    dates = {"due": date(2014, 10, 1)}
    kept = plan_timers(state({"date": "due"}), 1, at("2014-09-01"), dates, TZ, CAL)[0]
    moved = plan_timers(state({"date": "due", "if_holiday": "next_workday"}), 1, at("2014-09-01"), dates, TZ, CAL)[0]
    assert kept.due_at == at("2014-10-02")
    assert moved.due_at == at("2014-10-09")
    assert "顺延至 2014-10-08" in moved.payload["explain"][-1]


def test_overrides_cover_a_new_year_and_uncovered_years_are_flagged():
    problems: list = []
    cal = parse_overrides({"years": (2031,), "holidays": {"2031-01-01": "元旦"}, "workdays": {"2031-01-04": "调休"}},
                          lambda path, msg: problems.append((path, msg)))
    assert problems == []
    assert cal.covers(2031)
    assert not cal.covers(2032)
    assert not cal.is_workday(date(2031, 1, 1))
    assert cal.is_workday(date(2031, 1, 4))
    planned = plan_timers(state({"after": "3 working days"}), 1, at("2032-03-01"), {}, TZ, cal)[0]
    assert planned.payload["guessed"] is True
    assert "2032" in planned.payload["explain"][-1]


def test_bad_override_file_is_reported_with_its_place(workflow_copy):
    (workflow_copy.parent / "calendar.yaml").write_text(
        "years: [2027]\nholidays:\n  2027-13-01: 元旦\nweekend: []\n", encoding="utf-8")
    with pytest.raises(InvalidDefinition) as info:
        load_workflow_file(workflow_copy)
    places = [(p.file.rsplit("/", 1)[-1], p.line, p.column) for p in info.value.problems]
    assert places == [("calendar.yaml", 3, 3), ("calendar.yaml", 4, 1)]


def test_working_days_in_an_uncovered_year_warn_at_check_time(workflow_copy):
    text = workflow_copy.read_text(encoding="utf-8").replace("year: 2014", "year: 2031")
    workflow_copy.write_text(text, encoding="utf-8")
    loaded = load_workflow_file(workflow_copy)  # a warning, not an error
    assert len(loaded.warnings) == 1
    assert "2031、2032" in loaded.warnings[0].message
    (workflow_copy.parent / "calendar.yaml").write_text("years: [2031, 2032]\n", encoding="utf-8")
    assert load_workflow_file(workflow_copy).warnings == []
