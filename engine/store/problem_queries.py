"""Queries about cases' problem lists (一支一策), the evidence behind them and their timers.

Every function takes the caller's session, never commits, and returns ORM objects or plain
values; what to make of them is ``engine.ops.problems``'s business.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case as case_when
from sqlalchemy import func, select, update

from engine.store.models import Case, Event, Evidence, Person, Problem, Timer, TimerStatus

if TYPE_CHECKING:
    from sqlalchemy import Result
    from sqlalchemy.orm import Session

# The timers a problem's deadline schedules (engine.ops.problem_timers): they belong to the
# problem, not to the case's state, so a transition leaves them pending.
PROBLEM_TIMER_KINDS = ("problem_reminder", "problem_escalation")
OPEN_STATUSES = ("open", "reopened")


def problems_of(session: Session, case_id: int) -> list[Problem]:
    """A case's problems, by number."""
    return list(session.scalars(select(Problem).where(Problem.case_id == case_id).order_by(Problem.number)))


def problem_of(session: Session, case_id: int, number: int) -> Problem | None:
    """Problem ``number`` of the case, or None."""
    return session.scalar(select(Problem).where(Problem.case_id == case_id, Problem.number == number))


def last_number(session: Session, case_id: int) -> int:
    """The highest number on the case's list (0 for none): the next problem is one more. Two
    officials adding at once both bump the case's version, so one of them is refused."""
    return session.scalar(select(func.max(Problem.number)).where(Problem.case_id == case_id)) or 0


def list_figures(session: Session, case_id: int) -> dict[str, object]:
    """What the ``problems_closed`` rule judges: how many problems the case lists and the
    numbers of those not closed (open or reopened). One indexed read of the case's few rows."""
    rows = session.execute(select(Problem.number, Problem.status).where(Problem.case_id == case_id)
                           .order_by(Problem.number)).all()
    return {"total": len(rows), "open": [n for n, status in rows if status in OPEN_STATUSES]}


def evidence_count(session: Session, problem_id: int, since: datetime | None = None) -> int:
    """How many files are attached to the problem (added after ``since``, when given)."""
    query = select(func.count()).select_from(Evidence).where(Evidence.problem_id == problem_id)
    if since is not None:
        query = query.where(Evidence.added_at > since)
    return session.scalar(query) or 0


def people_named(session: Session, name: str) -> list[Person]:
    """The active people registered under ``name`` (one per unit at most)."""
    return list(session.scalars(select(Person).where(Person.name == name, Person.active.is_(True))
                                .order_by(Person.id)))


def problem_events(session: Session, case_id: int) -> list[Event]:
    """The case's problem events, in chain order (a case has a few dozen at most)."""
    return list(session.scalars(select(Event).where(Event.case_id == case_id, Event.kind == "problem")
                                .order_by(Event.seq)))


def pending_problem_timers(session: Session, case_id: int) -> list[Timer]:
    """The case's pending problem timers (each names its problem in ``payload["problem"]``)."""
    return list(session.scalars(select(Timer).where(Timer.case_id == case_id, Timer.kind.in_(PROBLEM_TIMER_KINDS),
                                                    Timer.status == TimerStatus.PENDING.value)
                                .order_by(Timer.due_at, Timer.id)))


def cancel_timers(session: Session, ids: Collection[int], now: datetime) -> None:
    """Mark the timers ``ids`` cancelled at ``now``, in one statement."""
    if ids:
        session.execute(update(Timer).where(Timer.id.in_(list(ids)))
                        .values(status=TimerStatus.CANCELLED.value, fired_at=now))


def problems_of_cases(session: Session, case_ids: Collection[int]) -> dict[int, list[Problem]]:
    """The problems of the cases ``case_ids`` by case, each list by number: one query for a
    chunk of the ledger's rows."""
    found: dict[int, list[Problem]] = {}
    if not case_ids:
        return found
    for problem in session.scalars(select(Problem).where(Problem.case_id.in_(list(case_ids)))
                                   .order_by(Problem.case_id, Problem.number)):
        found.setdefault(problem.case_id, []).append(problem)
    return found


def campaign_counts(session: Session, campaign_id: int, now: datetime) -> dict[str, int]:
    """The campaign's problems: ``open`` (open or reopened), of those ``overdue`` (past their
    deadline at ``now``), and ``closed``; one grouped query."""
    still_open = Problem.status.in_(OPEN_STATUSES)
    row = session.execute(
        select(func.count(), func.sum(case_when((still_open, 1), else_=0)),
               func.sum(case_when((still_open & (Problem.due_at < now), 1), else_=0)))
        .select_from(Problem).join(Case, Case.id == Problem.case_id).where(Case.campaign_id == campaign_id)).one()
    total, opened, overdue = (int(v or 0) for v in row)
    return {"total": total, "open": opened, "overdue": overdue, "closed": total - opened}


def evidence_counts(session: Session, problem_ids: Collection[int]) -> dict[int, int]:
    """How many files back each of the problems ``problem_ids`` (those with none left out)."""
    if not problem_ids:
        return {}
    rows = session.execute(select(Evidence.problem_id, func.count()).where(Evidence.problem_id.in_(list(problem_ids)))
                           .group_by(Evidence.problem_id))
    return {int(pid): int(n) for pid, n in rows if pid is not None}


def problems_streamed(session: Session, case_ids: Collection[int] | None = None) -> Result[Any]:
    """Every case's problems (or those of ``case_ids``) by case then number, as rows (case_id,
    number, category, description, measures, responsible, responsible_person_id, deadline,
    status), streamed: ``audit verify`` holds them against the case's events."""
    query = (select(Problem.case_id, Problem.number, Problem.category, Problem.description, Problem.measures,
                    Problem.responsible, Problem.responsible_person_id, Problem.deadline, Problem.status)
             .order_by(Problem.case_id, Problem.number).execution_options(yield_per=2000))
    if case_ids is not None:
        query = query.where(Problem.case_id.in_(list(case_ids)))
    return session.execute(query)
