"""A case's problem list (一支一策): add, update, close (销号) and reopen problems. The caller
owns the transaction.

Every change is also an event of kind ``problem`` in the case's hash chain (data: the problem's
``number``, the ``action`` and the ``fields`` changed, each as [old, new]), so the list can be
told from its history and ``rectify audit verify`` covers it. Who may keep a list is the
workflow's ``problem_list.roles`` within the official's jurisdiction, as for a fact. A refusal
or bad input raises before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.base.clock import fmt, start_of
from engine.base.errors import InvalidValue, NotFound, PermissionDenied, Refused
from engine.base.text import many_lines, one_line, visible
from engine.ops.cases import record_event
from engine.ops.deploy import compiled_version
from engine.ops.orgs import is_within
from engine.ops.problem_timers import cancel_problem_timers, schedule_problem_timers
from engine.store import problem_queries as queries
from engine.store.models import Problem
from engine.store.widths import width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.ops.officials import Actor
    from engine.spec.definition import Workflow
    from engine.store.models import Case

STATUS_LABELS = {"open": "整改中", "closed": "已销号", "reopened": "重新整改"}
CLEAR = ""  # given as a measure, a responsible person or a deadline: clears it


@dataclass(frozen=True)
class ProblemFields:
    """What an official gave for a problem; None: not given (an update leaves it as it is)."""

    category: int | None = None
    description: str | None = None
    measures: str | None = None
    responsible: str | None = None
    deadline: str | None = None  # YYYY-MM-DD; "" clears it

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def checked(given: ProblemFields) -> ProblemFields:
    """The fields as they will be stored, checked without the database: text within its column,
    a real date. Bad input raises ``InvalidValue`` (exit 2) before any transaction starts."""
    out = given
    if given.description is not None:
        text = many_lines(given.description, "问题描述", "the description")
        if not text:
            raise InvalidValue("问题描述为空 / the description is empty: say what the problem is")
        out = replace(out, description=text)
    if given.measures is not None:
        out = replace(out, measures=many_lines(given.measures, "整改措施", "the measures"))
    if given.responsible is not None and given.responsible.strip():
        out = replace(out, responsible=one_line(given.responsible, "责任人", "the person responsible",
                                                width(Problem.responsible)))
    elif given.responsible is not None:
        out = replace(out, responsible=CLEAR)
    if given.deadline is not None:
        out = replace(out, deadline=_deadline_text(given.deadline))
    return out


def _deadline_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        return CLEAR
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(f"'{visible(raw)}' 不是日期 / is not a date: write the deadline as YYYY-MM-DD") from None


# --- who may keep the list ---------------------------------------------------------------------

def _check_allowed(wf: Workflow, case: Case, actor: Actor) -> None:
    if actor.is_system:
        return
    roles = wf.problem_list.roles
    if roles and actor.role not in roles:
        allowed = "、".join(wf.roles.get(r, r) for r in roles)
        raise PermissionDenied(f"{actor.name}（{wf.roles.get(actor.role or '', actor.role)}）无权维护问题清单，须由{allowed}"
                               f"办理 / role '{actor.role}' may not keep problem lists; allowed roles: {', '.join(roles)}")
    if actor.jurisdiction is not None and not is_within(case.organization, actor.jurisdiction):
        org = case.organization
        raise PermissionDenied(f"{actor.name} 的管辖范围是“{actor.jurisdiction.name}”，不包括“{org.name}” / "
                               f"{org.name} is outside {actor.name}'s jurisdiction ({actor.jurisdiction.name})")


def _category(wf: Workflow, number: int) -> int:
    labels = wf.problem_labels
    if number not in labels:
        listed = "; ".join(f"{k} {v}" for k, v in labels.items()) or "none"
        raise InvalidValue(f"未知问题类别 / unknown problem category {number}; categories (problem_categories): {listed}")
    return number


def find(session: Session, case: Case, number: int) -> Problem:
    """Problem ``number`` of the case, or ``NotFound`` (exit 2) naming the numbers it has."""
    problem = queries.problem_of(session, case.id, number)
    if problem is None:
        numbers = [str(p.number) for p in queries.problems_of(session, case.id)]
        raise NotFound("problem 问题", f"{case.ref} #{number}",
                       f"problems of {case.ref}: {', '.join(numbers) or 'none yet'} ('rectify problem list {case.ref}')")
    return problem


# --- changes ---------------------------------------------------------------------------------

def add_problem(session: Session, case: Case, given: ProblemFields, actor: Actor, now: datetime) -> Problem:
    """Put a new problem on the case's list, numbered after the last one."""
    compiled = compiled_version(case.workflow_version)
    wf = compiled.definition
    given = checked(given)
    if given.category is None or not given.description:
        raise InvalidValue("新问题须有类别和描述 / a new problem needs --category N and --description TEXT")
    _check_allowed(wf, case, actor)
    _category(wf, given.category)
    # Every field goes through _apply, so the event of an addition names them all.
    problem = Problem(case_id=case.id, number=queries.last_number(session, case.id) + 1, measures="",
                      responsible="", status="open", opened_at=now, opened_by=actor.name)
    changed = _apply(session, wf, problem, given)
    session.add(problem)
    session.flush()
    _record(session, case, actor, now, problem, "add", changed)
    schedule_problem_timers(session, compiled, case, problem, now)
    return problem


def update_problem(session: Session, case: Case, number: int, given: ProblemFields, actor: Actor,
                   now: datetime) -> tuple[Problem, dict[str, list[Any]]]:
    """Change what was given; returns the problem and the fields changed ([old, new]), none
    when everything given was already so (then nothing is written)."""
    compiled = compiled_version(case.workflow_version)
    wf = compiled.definition
    given = checked(given)
    if not given.given():
        raise InvalidValue("没有要修改的内容 / nothing to change: give --category, --description, --measures, "
                           "--responsible or --deadline")
    _check_allowed(wf, case, actor)
    problem = find(session, case, number)
    if problem.status == "closed":
        raise Refused(f"{case.ref} 第{number}项问题已销号，须先重新打开（rectify problem reopen）才能修改 / problem "
                      f"{number} of {case.ref} is closed: reopen it first ('rectify problem reopen')")
    if given.category is not None:
        _category(wf, given.category)
    changed = _apply(session, wf, problem, given)
    if changed:
        _record(session, case, actor, now, problem, "update", changed)
        if "deadline" in changed:
            schedule_problem_timers(session, compiled, case, problem, now)
    return problem, changed


def close_problem(session: Session, case: Case, number: int, note: str | None, actor: Actor, now: datetime) -> Problem:
    """销号: close the problem; refused while the workflow asks for evidence and none is attached
    (since it was last reopened)."""
    note = note and many_lines(note, "销号说明", "the note")
    wf = compiled_version(case.workflow_version).definition
    _check_allowed(wf, case, actor)
    problem = find(session, case, number)
    if problem.status == "closed":
        when = fmt(problem.closed_at, wf.timezone, with_time=False)
        raise Refused(f"{case.ref} 第{number}项问题已于{when}销号 / problem {number} of {case.ref} is already closed "
                      f"(since {when})")
    if wf.problem_list.close_requires_evidence:
        since = last_reopened(session, case, number)
        if not queries.evidence_count(session, problem.id, since):
            again = "重新整改后" if since else ""
            raise Refused(f"{case.ref} 第{number}项问题销号须附{again}佐证材料：请先用 'rectify evidence add {case.ref} "
                          f"文件 --problem {number}' 上传 / closing problem {number} of {case.ref} needs evidence"
                          f"{' added since it was reopened' if since else ''}: attach a file with 'rectify evidence "
                          f"add {case.ref} FILE --problem {number}' first (problem_list.close_requires_evidence)")
    old = problem.status
    problem.status, problem.closed_at, problem.closed_by = "closed", now, actor.name
    _record(session, case, actor, now, problem, "close", {"status": [old, "closed"]}, note)
    cancel_problem_timers(session, case, number, now)
    return problem


def reopen_problem(session: Session, case: Case, number: int, reason: str, actor: Actor, now: datetime) -> Problem:
    """Reopen a closed problem (回头看 found it again, a check found the fix wanting): it is open
    again, with its deadline's reminders and escalations, and closing it needs fresh evidence."""
    reason = many_lines(reason, "重新打开的理由", "the reason")
    if not reason:
        raise InvalidValue("请说明重新打开的理由 / give the reason with --reason")
    compiled = compiled_version(case.workflow_version)
    _check_allowed(compiled.definition, case, actor)
    problem = find(session, case, number)
    if problem.status != "closed":
        raise Refused(f"{case.ref} 第{number}项问题尚未销号，无须重新打开 / problem {number} of {case.ref} is not "
                      f"closed ({problem.status})")
    problem.status, problem.closed_at, problem.closed_by = "reopened", None, None
    _record(session, case, actor, now, problem, "reopen", {"status": ["closed", "reopened"]}, reason)
    schedule_problem_timers(session, compiled, case, problem, now)
    return problem


def last_reopened(session: Session, case: Case, number: int) -> datetime | None:
    """When problem ``number`` was last reopened (its events say), None if never."""
    times = [e.at for e in queries.problem_events(session, case.id)
             if e.data.get("number") == number and e.data.get("action") == "reopen"]
    return max(times) if times else None


def _apply(session: Session, wf: Workflow, problem: Problem, given: ProblemFields) -> dict[str, list[Any]]:
    """Set the fields given; returns those that changed as [old, new] (JSON values)."""
    changed: dict[str, list[Any]] = {}
    for name, value in given.given().items():
        if name == "deadline":
            old = problem.deadline.isoformat() if problem.deadline else None
            new = value or None
            if old != new:
                day = date.fromisoformat(new) if new else None
                problem.deadline = day
                problem.due_at = start_of(day + timedelta(days=1), wf.timezone) if day else None  # its end
                changed[name] = [old, new]
            continue
        old = getattr(problem, name)
        if old != value:
            setattr(problem, name, value)
            changed[name] = [old, value]
    if "responsible" in changed:
        person = _person_id(session, problem.responsible)
        if person != problem.responsible_person_id:
            changed["responsible_person"] = [problem.responsible_person_id, person]
            problem.responsible_person_id = person
    return changed


def _person_id(session: Session, name: str) -> int | None:
    """The registered person the responsible name is, when exactly one active person bears it;
    None otherwise (the name stays free text: a list never waits for people to be registered)."""
    if not name:
        return None
    found = queries.people_named(session, name)
    return found[0].id if len(found) == 1 else None


def _record(session: Session, case: Case, actor: Actor, now: datetime, problem: Problem, action: str,
            changed: dict[str, list[Any]], note: str | None = None) -> None:
    record_event(session, case, actor, now, "problem", note=note or None,
                 data={"number": problem.number, "action": action, "fields": changed})
