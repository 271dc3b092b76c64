"""Pure deadline arithmetic: which timers a state entry schedules, when, and why.

A deadline is a *boundary* in the campaign's zone. A date deadline (``date:
rectification_end``) falls at the end of that day ("11月底前" includes 11-30). A relative
deadline (``after: 3 months``) runs from the moment the case entered the state, so a
re-rectification round gets fresh deadlines; ``after: 10 working days`` ends with the
10th working day after the day of entry. Reminders fall before the deadline, escalations
after it; working-day offsets skip statutory holidays and count adjusted working days.
Every planned time carries its explanation (which rule, which inputs, which calendar
adjustments) for ``rectify case show``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.base.clock import local, start_of
from engine.spec.definition import Deadline, Duration, State
from engine.spec.workcalendar import DayInfo, WorkCalendar


@dataclass
class Moment:
    """A computed time and how it was computed."""

    at: datetime
    explain: list[str] = field(default_factory=list)
    guessed: bool = False


def _skipped_text(skipped: list[DayInfo]) -> str:
    runs: list[list[DayInfo]] = []  # consecutive days of the same holiday read as one span
    for d in (d for d in skipped if d.name):
        if runs and runs[-1][-1].name == d.name and abs((d.day - runs[-1][-1].day).days) == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    named = [f"{r[0].day:%m-%d}{'' if len(r) == 1 else f'至{r[-1].day:%m-%d}'}{r[0].name}" for r in runs]
    return f"跳过休息日 {len(skipped)} 天" + (f"（含 {'、'.join(named)}）" if named else "")


def _guess_note(year: int) -> str:
    return (f"{year}年节假日安排尚未收录，按周末休息推算，请在 calendar.yaml 中补充 / "
            f"the {year} holiday schedule is not known: weekends assumed, add it to calendar.yaml")


def last_day(boundary: datetime, tz: str) -> date:
    """The calendar day a boundary closes: midnight ends the day before."""
    return (local(boundary, tz) - timedelta(microseconds=1)).date()


def shift(moment: datetime, duration: Duration, sign: int, calendar: WorkCalendar, tz: str) -> Moment:
    """``moment`` moved by ``duration`` (forward if ``sign`` > 0, back otherwise)."""
    n = duration.amount * sign
    if duration.unit == "months":
        # dateutil's only use: imported here rather than by every command that loads this module.
        from dateutil.relativedelta import relativedelta

        return Moment(moment + relativedelta(months=n))
    if duration.unit != "working_days":
        return Moment(moment + timedelta(days=n * (7 if duration.unit == "weeks" else 1)))
    # Working days count whole days: from the day a boundary closes (or the day of entry).
    anchor = last_day(moment, tz) if local(moment, tz).time() == datetime.min.time() else local(moment, tz).date()
    if sign < 0:
        anchor += timedelta(days=1)  # "N working days before the end of X" starts counting from X itself
    target, skipped = calendar.add_workdays(anchor, n)
    at = start_of(target + timedelta(days=1) if sign > 0 else target, tz)
    result = Moment(at, [f"{duration.zh}{'后' if sign > 0 else '前'}为 {target}" + (
        f"，{_skipped_text(skipped)}" if skipped else "")])
    for year in sorted({anchor.year, target.year}):
        if not calendar.covers(year):
            result.guessed = True
            result.explain.append(_guess_note(year))
    return result


def deadline_for(state: State, round_no: int) -> Deadline | None:
    """The deadline spec that applies in ``round_no`` (rounds ≥ 2 use ``later_rounds``)."""
    deadline = state.deadline
    if deadline is not None and round_no > 1 and deadline.later_rounds is not None:
        return deadline.later_rounds
    return deadline


def due_moment(deadline: Deadline, entered_at: datetime, dates: dict[str, date], tz: str,
               calendar: WorkCalendar, labels: dict[str, str] | None = None) -> Moment:
    if deadline.date is not None:
        day = dates[deadline.date]
        label = (labels or {}).get(deadline.date, deadline.date)
        due = Moment(start_of(day + timedelta(days=1), tz), [f"工作日期“{label}”({deadline.date}) {day} 当日结束"])
    else:
        assert deadline.after is not None
        due = shift(entered_at, deadline.after, 1, calendar, tz)
        due.explain.insert(0, f"进入本阶段（{local(entered_at, tz):%Y-%m-%d %H:%M}）后 {deadline.after.zh}")
    if deadline.if_holiday == "next_workday":
        closing = last_day(due.at, tz)
        moved, skipped = calendar.next_workday(closing)
        if moved != closing:
            due.at = start_of(moved + timedelta(days=1), tz) if due.at == start_of(closing + timedelta(days=1), tz) \
                else due.at + timedelta(days=(moved - closing).days)
            due.explain.append(f"{closing} 为休息日（{skipped[0].name or '周末'}），顺延至 {moved}")
        if not calendar.covers(closing.year):
            due.guessed = True
            due.explain.append(_guess_note(closing.year))
    return due


@dataclass(frozen=True)
class PlannedTimer:
    kind: str  # deadline | reminder | escalation | recurring | auto
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def _payload(moment: Moment, **extra: Any) -> dict[str, Any]:
    return {**extra, "explain": moment.explain, **({"guessed": True} if moment.guessed else {})}


def plan_timers(state: State, round_no: int, entered_at: datetime, dates: dict[str, date], tz: str,
                calendar: WorkCalendar, labels: dict[str, str] | None = None) -> list[PlannedTimer]:
    """Every timer entering ``state`` in ``round_no`` at ``entered_at`` schedules."""
    planned: list[PlannedTimer] = []
    deadline = deadline_for(state, round_no)
    if deadline is not None:
        due = due_moment(deadline, entered_at, dates, tz, calendar, labels)
        basis = f"date:{deadline.date}" if deadline.date else f"after:{deadline.after}"
        planned.append(PlannedTimer("deadline", due.at, _payload(due, basis=basis, round=round_no)))
        for offset in deadline.reminders:
            at = shift(due.at, offset, -1, calendar, tz)
            if at.at > entered_at:  # a reminder already in the past would only be noise
                planned.append(PlannedTimer("reminder", at.at, _payload(
                    at, offset=str(offset), days=(due.at - at.at).days, notice=deadline.reminder_notice,
                    notify=list(deadline.remind))))
        for offset in deadline.escalations:
            at = shift(due.at, offset, 1, calendar, tz)
            planned.append(PlannedTimer("escalation", at.at, _payload(
                at, offset=str(offset), days=(at.at - due.at).days, notice=deadline.escalation_notice,
                notify=list(deadline.escalate_to))))
    for i, rec in enumerate(state.recurring):
        at = shift(entered_at, rec.every, 1, calendar, tz)
        planned.append(PlannedTimer("recurring", at.at, _payload(at, index=i, notice=rec.notice, occurrence=1,
                                                                 notify=list(rec.notify))))
    for auto in state.auto:
        at = shift(entered_at, auto.after, 1, calendar, tz)
        planned.append(PlannedTimer("auto", at.at, _payload(at, trigger=auto.trigger)))
    return planned
