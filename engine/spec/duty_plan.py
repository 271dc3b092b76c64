"""Pure arithmetic of a unit's duty: when each occurrence is due, and when its reminders
(报送提醒, before) and escalations (督办, after) fall — the same boundaries and offsets as a
case's deadline (engine.spec.deadlines): a date closes at the end of its day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.base.clock import start_of
from engine.spec.deadlines import shift
from engine.spec.definition import Duty
from engine.spec.workcalendar import WorkCalendar


@dataclass(frozen=True)
class DutyStep:
    """A reminder or an escalation of one occurrence of a duty."""

    kind: str  # reminder | escalation
    at: datetime
    offset: str  # "3 days": the planned distance from the date, as written in the workflow
    notice: str
    audience: tuple[str, ...]


def due_boundary(day: date, tz: str) -> datetime:
    """The moment a duty due on ``day`` becomes late: the midnight that ends the day."""
    return start_of(day + timedelta(days=1), tz)


def duty_steps(duty: Duty, due_at: datetime, calendar: WorkCalendar, tz: str) -> list[DutyStep]:
    """Every reminder and escalation of an occurrence due at ``due_at``, in time order."""
    steps = [DutyStep("reminder", shift(due_at, offset, -1, calendar, tz).at, str(offset), duty.reminder_notice,
                      duty.remind) for offset in duty.reminders]
    steps += [DutyStep("escalation", shift(due_at, offset, 1, calendar, tz).at, str(offset), duty.escalation_notice,
                       duty.escalate_to) for offset in duty.escalations]
    return sorted(steps, key=lambda s: (s.at, s.kind))


def next_step_after(steps: list[DutyStep], moment: datetime) -> int:
    """The index of the first step later than ``moment`` (``len(steps)``: none)."""
    return next((i for i, s in enumerate(steps) if s.at > moment), len(steps))
