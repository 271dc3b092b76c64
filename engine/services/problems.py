"""Services on a case's problem list (一支一策): add, update, close (销号), reopen and list.

Each is one transaction with the policy decided inside it (``Access``: who acts, at what time;
``engine.ops.problems``: the role and the jurisdiction) and returns plain data once committed.
What can be checked without the database (text, dates) is checked before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.ops import problems as ops
from engine.ops.cases import get_case
from engine.reports.views import problem_rows
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store
from engine.store.models import Problem

ProblemFields = ops.ProblemFields  # what a front end fills in: None where nothing was given


@dataclass(frozen=True)
class ProblemChanged:
    ref: str
    number: int
    action: str  # add | update | close | reopen
    status: str
    changed: dict[str, list[Any]] = field(default_factory=dict)  # field → [old, new]


def _changed(ref: str, problem: Problem, action: str, changed: dict[str, list[Any]] | None = None) -> ProblemChanged:
    return ProblemChanged(ref, problem.number, action, problem.status, dict(changed or {}))


def add(store: Store, caller: Caller, ref: str, given: ops.ProblemFields) -> Done[ProblemChanged]:
    """Put a problem on case ``ref``'s list (category and description required)."""
    given = ops.checked(given)

    def work(access: Access) -> ProblemChanged:
        case = get_case(access.session, ref)
        problem = ops.add_problem(access.session, case, given, access.actor(), access.now(case))
        return _changed(case.ref, problem, "add", {k: [None, v] for k, v in given.given().items() if v != ""})
    return write(store, caller, work)


def update(store: Store, caller: Caller, ref: str, number: int, given: ops.ProblemFields) -> Done[ProblemChanged]:
    """Change the fields given of problem ``number``; nothing is written when none changes."""
    given = ops.checked(given)

    def work(access: Access) -> ProblemChanged:
        case = get_case(access.session, ref)
        problem, changed = ops.update_problem(access.session, case, number, given, access.actor(), access.now(case))
        return _changed(case.ref, problem, "update", changed)
    return write(store, caller, work)


def close(store: Store, caller: Caller, ref: str, number: int, note: str | None = None) -> Done[ProblemChanged]:
    """销号: close problem ``number`` (with evidence attached, when the workflow asks for it)."""
    def work(access: Access) -> ProblemChanged:
        case = get_case(access.session, ref)
        problem = ops.close_problem(access.session, case, number, note, access.actor(), access.now(case))
        return _changed(case.ref, problem, "close")
    return write(store, caller, work)


def reopen(store: Store, caller: Caller, ref: str, number: int, reason: str) -> Done[ProblemChanged]:
    """Reopen closed problem ``number``, saying why."""
    def work(access: Access) -> ProblemChanged:
        case = get_case(access.session, ref)
        problem = ops.reopen_problem(access.session, case, number, reason, access.actor(), access.now(case))
        return _changed(case.ref, problem, "reopen")
    return write(store, caller, work)


def list_problems(store: Store, caller: Caller, ref: str) -> Done[dict[str, Any]]:
    """The problem list of a case inside the caller's jurisdiction."""
    def work(access: Access) -> dict[str, Any]:
        case = access.require_case(get_case(access.session, ref))
        return {"ref": case.ref, "organization": case.organization.name,
                "problems": problem_rows(access.session, case, access.now(case))}
    return read(store, caller, work)
