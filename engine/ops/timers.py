"""Durable timers: scheduled when a case enters a state, cancelled when it leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.base.clock import local
from engine.spec.deadlines import Moment, PlannedTimer, plan_timers, shift
from engine.spec.definition import LookBack
from engine.spec.machine import CompiledWorkflow
from engine.store import case_queries
from engine.store.models import Case, Timer, TimerStatus
from engine.store.problem_queries import PROBLEM_TIMER_KINDS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.workcalendar import WorkCalendar


def schedule_state_timers(session: Session, compiled: CompiledWorkflow, case: Case, now: datetime) -> list[Timer]:
    """Create the timers of ``case``'s current state and round; set ``case.due_at``."""
    wf = compiled.definition
    planned = plan_timers(wf.states[case.state], case.round, case.entered_at, wf.resolved_dates(), wf.timezone,
                          compiled.loaded.calendar, {n: d.label for n, d in wf.dates.items()})
    look = wf.states[case.state].look_back
    if look is not None:
        planned.append(plan_look_back(look, case.entered_at, compiled.loaded.calendar, wf.timezone))
    timers = [Timer(case_id=case.id, state=case.state, round=case.round, kind=p.kind, due_at=p.due_at,
                    payload=p.payload, status=TimerStatus.PENDING.value) for p in planned]
    session.add_all(timers)
    case.due_at = next((t.due_at for t in timers if t.kind == "deadline"), None)
    return timers


def cancel_case_timers(session: Session, case_id: int, now: datetime) -> int:
    """Cancel every pending timer of a case (it is leaving its state), but its problems' own
    (engine.ops.problem_timers: a problem's deadline does not move with the case); returns how many."""
    return case_queries.cancel_pending_timers(session, case_id, now, keep=PROBLEM_TIMER_KINDS)


def plan_look_back(look: LookBack, entered_at: datetime, calendar: WorkCalendar, tz: str) -> PlannedTimer:
    """The 回头看 timer of a case that entered a state with ``look_back`` at ``entered_at``
    (engine.ops.look_back fires it)."""
    at = shift(entered_at, look.after, 1, calendar, tz)
    explain = [f"进入本阶段（{local(entered_at, tz):%Y-%m-%d}）后 {look.after.zh}回头看", *at.explain]
    return PlannedTimer("look_back", at.at, {"notice": look.notice, "notify": list(look.notify), "fact": look.fact,
                                             "after": str(look.after), "explain": explain})


def pending_timers(session: Session, case_id: int) -> list[Timer]:
    """A case's pending timers, soonest first."""
    return case_queries.pending_timers_of(session, case_id)


MAX_MISSED = 1000  # occurrences looked through after a long stop: decades of a monthly request


@dataclass(frozen=True)
class Recurrence:
    """What follows a recurring notice due at ``due_at`` and fired at ``now``."""

    missed: list[datetime]  # later occurrences already past at ``now``: covered by this notice, not replayed
    following: Moment | None  # the next occurrence to schedule; None once past the window's end


def recurrence_after(compiled: CompiledWorkflow, state: str, due_at: datetime, payload: dict[str, Any],
                     now: datetime, window_end: datetime | None) -> Recurrence:
    """The one rule of a recurring notice's rhythm, used to word the notice that fires and to
    schedule the next: occurrences missed while the daemon was down (already past at ``now``)
    are listed for the notice that fires now, never fired one by one; and the requests stop at
    the end of their window — the case's deadline in its state, else the campaign's last date."""
    wf = compiled.definition
    rec = wf.states[state].recurring[payload["index"]]
    end = window_end or campaign_end(compiled)
    missed: list[datetime] = []
    following = shift(due_at, rec.every, 1, compiled.loaded.calendar, wf.timezone)
    while following.at <= now and len(missed) < MAX_MISSED:
        if end is not None and following.at > end:
            return Recurrence(missed, None)
        missed.append(following.at)
        following = shift(following.at, rec.every, 1, compiled.loaded.calendar, wf.timezone)
    if end is not None and following.at > end:
        return Recurrence(missed, None)
    return Recurrence(missed, following)


def campaign_end(compiled: CompiledWorkflow) -> datetime | None:
    """The campaign's last date (the end of its last named day), None if it names no date."""
    dates = compiled.definition.resolved_dates()
    if not dates:
        return None
    last = max(dates.values())
    return datetime.combine(last + timedelta(days=1), time(), ZoneInfo(compiled.definition.timezone))


def next_recurrence(compiled: CompiledWorkflow, case_id: int, state: str, round_: int, due_at: datetime,
                    payload: dict[str, Any], now: datetime, window_end: datetime | None) -> dict[str, Any] | None:
    """The column values of a recurring notice's next timer (see ``recurrence_after``), or None
    when the requests have reached the end of their window: the one plan used by the daemon
    firing a timer alone and in chunks."""
    after = recurrence_after(compiled, state, due_at, payload, now, window_end)
    if after.following is None:
        return None
    return {"case_id": case_id, "state": state, "round": round_, "kind": "recurring",
            "due_at": after.following.at, "status": TimerStatus.PENDING.value, "fired_at": None,
            "payload": {**payload, "occurrence": payload["occurrence"] + 1 + len(after.missed),
                        "explain": after.following.explain}}


def moved_on(timer_kind: str, timer_state: str, timer_round: int, case_state: str, case_round: int,
             case_due_at: datetime | None, now: datetime) -> bool:
    """Whether a due timer no longer has anything true to say, and is settled as skipped: its
    case left the state or round it was set for, or it is a reminder of a deadline that has
    passed (a daemon that was down would tell "today is the last day" after it; the
    escalations tell what is true then)."""
    if (case_state, case_round) != (timer_state, timer_round):
        return True
    return timer_kind == "reminder" and case_due_at is not None and now >= case_due_at
