"""Pure deadline arithmetic: which timers a state entry schedules, and when.

A date deadline (``date: rectification_end``) falls due at the *end* of that day in the
campaign's zone ("11月底前" includes 11-30). A relative deadline (``after: 3 months``)
runs from the moment the case entered the state, so a re-rectification round gets fresh
deadlines. Reminders fall before the deadline, escalations after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from engine.clock import start_of
from engine.definition import Deadline, Duration, State


def add(moment: datetime, duration: Duration, sign: int = 1) -> datetime:
    n = duration.amount * sign
    if duration.unit == "months":
        return moment + relativedelta(months=n)
    return moment + timedelta(days=n * (7 if duration.unit == "weeks" else 1))


@dataclass(frozen=True)
class PlannedTimer:
    kind: str  # deadline | reminder | escalation | recurring | auto
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def deadline_for(state: State, round_no: int) -> Deadline | None:
    """The deadline spec that applies in ``round_no`` (rounds ≥ 2 use ``later_rounds``)."""
    deadline = state.deadline
    if deadline is not None and round_no > 1 and deadline.later_rounds is not None:
        return deadline.later_rounds
    return deadline


def due_moment(deadline: Deadline, entered_at: datetime, dates: dict[str, date], tz: str) -> datetime:
    if deadline.date is not None:
        return start_of(dates[deadline.date] + timedelta(days=1), tz)
    assert deadline.after is not None
    return add(entered_at, deadline.after)


def plan_timers(state: State, round_no: int, entered_at: datetime, dates: dict[str, date],
                tz: str) -> list[PlannedTimer]:
    """Every timer entering ``state`` in ``round_no`` at ``entered_at`` schedules."""
    planned: list[PlannedTimer] = []
    deadline = deadline_for(state, round_no)
    if deadline is not None:
        due = due_moment(deadline, entered_at, dates, tz)
        basis = f"date:{deadline.date}" if deadline.date else f"after:{deadline.after}"
        planned.append(PlannedTimer("deadline", due, {"basis": basis}))
        for offset in deadline.reminders:
            at = add(due, offset, -1)
            if at > entered_at:  # a reminder already in the past would only be noise
                planned.append(PlannedTimer("reminder", at, {"offset": str(offset), "days": _days(offset, due, at),
                                                             "notice": deadline.reminder_notice}))
        for offset in deadline.escalations:
            planned.append(PlannedTimer("escalation", add(due, offset), {
                "offset": str(offset), "days": _days(offset, add(due, offset), due),
                "notice": deadline.escalation_notice}))
    for i, rec in enumerate(state.recurring):
        planned.append(PlannedTimer("recurring", add(entered_at, rec.every),
                                    {"index": i, "notice": rec.notice, "occurrence": 1}))
    for auto in state.auto:
        planned.append(PlannedTimer("auto", add(entered_at, auto.after), {"trigger": auto.trigger}))
    return planned


def _days(_offset: Duration, later: datetime, earlier: datetime) -> int:
    return (later - earlier).days
