"""A problem's deadline: its reminders before and escalations after (``problem_list`` of the
workflow), scheduled in the timers table and fired by the daemon one by one.

The timers belong to the problem, not to the case's state: a transition leaves them pending
(engine.ops.timers.cancel_case_timers); closing the problem cancels them, changing its deadline
or reopening it schedules them afresh. Each names its problem (``payload["problem"]``) and the
deadline it was planned for, and one that fires for a problem since closed, or whose deadline
moved, writes nothing: a notice says only what is true when it is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.cndate import cn_date
from engine.ops.cases import record_event
from engine.ops.deploy import compiled_version
from engine.ops.notice_facts import deadline_facts
from engine.ops.notices import DueNotice, notice_context, queue_notice
from engine.ops.officials import SYSTEM
from engine.spec.deadlines import shift
from engine.store import problem_queries as queries
from engine.store.facts import case_facts
from engine.store.models import Person, Timer, TimerStatus

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from engine.ops.notices import CaseCard
    from engine.spec.definition import Workflow
    from engine.spec.machine import CompiledWorkflow
    from engine.store.models import Case, Problem

KINDS = {"problem_reminder": "reminder", "problem_escalation": "escalation"}  # timer kind → deadline kind


def planned_times(compiled: CompiledWorkflow, due_at: datetime, now: datetime) -> list[tuple[str, datetime, str, int]]:
    """(timer kind, when, offset, days) of a deadline falling at ``due_at``, as seen at ``now``:
    the reminders still ahead, the escalations ahead, and of those already past only the latest
    (a deadline recorded late is escalated once, not once for every offset it missed)."""
    wf = compiled.definition
    spec, calendar, tz = wf.problem_list, compiled.loaded.calendar, wf.timezone
    times: list[tuple[str, datetime, str, int]] = []
    for offset in spec.reminders:
        at = shift(due_at, offset, -1, calendar, tz).at
        if at > now:
            times.append(("problem_reminder", at, str(offset), (due_at - at).days))
    escalations = [(shift(due_at, offset, 1, calendar, tz).at, str(offset)) for offset in spec.escalations]
    past = [e for e in escalations if e[0] <= now]
    for at, offset in [*past[-1:], *(e for e in escalations if e[0] > now)]:
        times.append(("problem_escalation", at, offset, (at - due_at).days))
    return times


def schedule_problem_timers(session: Session, compiled: CompiledWorkflow, case: Case, problem: Problem,
                            now: datetime) -> list[Timer]:
    """Cancel the problem's pending timers and, while it is open with a deadline, plan them anew."""
    cancel_problem_timers(session, case, problem.number, now)
    if problem.status == "closed" or problem.due_at is None or problem.deadline is None:
        return []
    spec = compiled.definition.problem_list
    timers = []
    for kind, at, offset, days in planned_times(compiled, problem.due_at, now):
        notice, notify = ((spec.reminder_notice, spec.remind) if kind == "problem_reminder"
                          else (spec.escalation_notice, spec.escalate_to))
        timers.append(Timer(case_id=case.id, state=case.state, round=case.round, kind=kind, due_at=at,
                            status=TimerStatus.PENDING.value,
                            payload={"problem": problem.number, "deadline": problem.deadline.isoformat(),
                                     "offset": offset, "days": days, "notice": notice, "notify": list(notify),
                                     "explain": [f"第{problem.number}项问题期限 {problem.deadline.isoformat()}"]}))
    session.add_all(timers)
    return timers


def cancel_problem_timers(session: Session, case: Case, number: int, now: datetime) -> None:
    """Cancel the pending timers of problem ``number`` of the case."""
    ids = [t.id for t in queries.pending_problem_timers(session, case.id) if t.payload.get("problem") == number]
    queries.cancel_timers(session, ids, now)


def problem_view(problem: Problem, wf: Workflow) -> dict[str, Any]:
    """``problem`` in a notice's context: its number, category's label, description, measures,
    the person responsible and its deadline as documents write dates."""
    labels = wf.problem_labels
    category = labels.get(problem.category, str(problem.category)) if problem.category is not None else ""
    return {"number": problem.number, "category": category, "description": problem.description,
            "measures": problem.measures, "responsible": problem.responsible,
            "deadline": cn_date(problem.deadline) if problem.deadline else ""}


def plan_problem_notice(compiled: CompiledWorkflow, case: Case | CaseCard, problem: dict[str, Any],
                        due_at: datetime | None, timer_id: int, kind: str, payload: Mapping[str, Any], now: datetime,
                        facts: Mapping[str, Any] | None = None) -> DueNotice:
    """The one plan of a problem's reminder or escalation, used by the daemon and the preview:
    the problem, and its deadline with the days left or overdue measured on the calendar now."""
    wf = compiled.definition
    short = KINDS[kind]
    deadline = {"kind": short, "label": f"第{problem['number']}项问题整改", "offset": payload.get("offset", ""),
                "days": payload.get("days", 0), "notice_label": "", **deadline_facts(short, due_at, now, wf.timezone)}
    context = notice_context(compiled, case, now, SYSTEM.name, deadline=deadline, facts=facts)
    context["problem"] = problem
    data = {"timer": timer_id, "notice": str(payload["notice"]), "problem": int(problem["number"])}
    return DueNotice(str(payload["notice"]), context, tuple(payload.get("notify", ())), data)


def fire_problem_timer(session: Session, case: Case, timer: Timer, now: datetime) -> bool:
    """Write the notice of a due problem timer (its event, its outbox row); False, writing
    nothing, when there is nothing true to say: the problem was closed or its deadline moved,
    or a reminder's deadline has already passed."""
    problem = queries.problem_of(session, case.id, int(timer.payload.get("problem", 0)))
    if problem is None or problem.status == "closed" or problem.deadline is None or problem.due_at is None:
        return False
    if problem.deadline.isoformat() != timer.payload.get("deadline"):
        return False
    if timer.kind == "problem_reminder" and now >= problem.due_at:
        return False
    compiled = compiled_version(case.workflow_version)
    plan = plan_problem_notice(compiled, case, problem_view(problem, compiled.definition), problem.due_at, timer.id,
                               timer.kind, timer.payload, now, case_facts(session, case.id))
    event = record_event(session, case, SYSTEM, now, "timer", trigger=timer.kind, data=plan.event_data)
    notice = queue_notice(session, compiled, plan.template, plan.context, f"timer:{timer.id}", case, event, now,
                          plan.audience)
    person = session.get(Person, problem.responsible_person_id) if problem.responsible_person_id else None
    if person is not None and person.active and person.name not in {r["name"] for r in notice.recipients}:
        # The person responsible hears of their own problem's deadline, as the roles do.
        notice.recipients = [*notice.recipients, {"name": person.name, "role": "responsible", "email": person.email,
                                                  "phone": person.phone, **(person.channels or {})}]
    return True
