"""Durable timers: scheduled when a case enters a state, cancelled when it leaves."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.spec.deadlines import plan_timers, shift
from engine.spec.machine import CompiledWorkflow
from engine.store import case_queries
from engine.store.models import Case, Timer, TimerStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def schedule_state_timers(session: Session, compiled: CompiledWorkflow, case: Case, now: datetime) -> list[Timer]:
    """Create the timers of ``case``'s current state and round; set ``case.due_at``."""
    wf = compiled.definition
    planned = plan_timers(wf.states[case.state], case.round, case.entered_at, wf.resolved_dates(), wf.timezone,
                          compiled.loaded.calendar, {n: d.label for n, d in wf.dates.items()})
    timers = [Timer(case_id=case.id, state=case.state, round=case.round, kind=p.kind, due_at=p.due_at,
                    payload=p.payload, status=TimerStatus.PENDING.value) for p in planned]
    session.add_all(timers)
    case.due_at = next((t.due_at for t in timers if t.kind == "deadline"), None)
    return timers


def cancel_case_timers(session: Session, case_id: int, now: datetime) -> int:
    """Cancel every pending timer of a case (it is leaving its state); returns how many."""
    return case_queries.cancel_pending_timers(session, case_id, now)


def pending_timers(session: Session, case_id: int) -> list[Timer]:
    """A case's pending timers, soonest first."""
    return case_queries.pending_timers_of(session, case_id)


def next_recurrence(compiled: CompiledWorkflow, case_id: int, state: str, round_: int, due_at: datetime,
                    payload: dict[str, Any]) -> dict[str, Any]:
    """The column values of a recurring notice's next timer, one period after the one that
    fired (``due_at``): the one plan used by the daemon firing a timer alone and in chunks."""
    wf = compiled.definition
    rec = wf.states[state].recurring[payload["index"]]
    following = shift(due_at, rec.every, 1, compiled.loaded.calendar, wf.timezone)
    return {"case_id": case_id, "state": state, "round": round_, "kind": "recurring", "due_at": following.at,
            "status": TimerStatus.PENDING.value, "fired_at": None,
            "payload": {**payload, "occurrence": payload["occurrence"] + 1, "explain": following.explain}}
