"""The ledger's 主要问题 and 整改措施 cells of a case with a problem list (一支一策).

A case with a list shows its problems (``1. 全年未召开党员大会``) and the circumstances of a key
target in 主要问题, and the problems' measures in 整改措施 (the measures fact while none has
any). The list is kept with ``rectify problem``, not through the ledger: an import that reads
these cells back as they were exported leaves the case as it is (export → import → export gives
the same file), and one that gives category labels instead updates the categories as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from engine.store import problem_queries

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from engine.spec.definition import Workflow
    from engine.store.models import Case, Problem

SEPARATOR = "；"  # the ledger's (engine.ops.ledger.SEPARATOR)


def split_cell(text: str) -> tuple[str, ...]:
    """A 主要问题 cell's items, as the import reads them: split at ；or ;, each trimmed."""
    return tuple(filter(None, (part.strip() for part in text.replace(";", SEPARATOR).split(SEPARATOR))))


def problems_cell(problems: Iterable[Problem], flags: Iterable[str], wf: Workflow) -> str:
    """The 主要问题 cell of a case with a problem list: each problem, then the circumstances."""
    circumstances = wf.key_target_circumstances
    items = [f"{p.number}. {' '.join(p.description.split())}" for p in problems]
    return SEPARATOR.join(items + [circumstances.get(f, f) for f in flags])


def measures_cell(problems: Iterable[Problem]) -> str:
    """The 整改措施 cell from the problems' measures ("" when none has any)."""
    return SEPARATOR.join(f"{p.number}. {' '.join(p.measures.split())}" for p in problems if p.measures.strip())


def listed_keys(session: Session, case: Case | None, issues: tuple[str, ...],
                wf: Workflow) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """The case's own categories and circumstances when ``issues`` (an imported 主要问题 cell)
    is its problem list's cell as exported: the row leaves them as they are. None otherwise
    (the cell is read as labels, as for a case without a list)."""
    if case is None:
        return None
    problems = problem_queries.problems_of(session, case.id)
    if problems and split_cell(problems_cell(problems, case.flags, wf)) == issues:
        return tuple(case.problems), tuple(case.flags)
    return None


def listed_measures(session: Session, case: Case) -> str:
    """What the 整改措施 cell of ``case`` shows from its problem list ("" if nothing)."""
    return measures_cell(problem_queries.problems_of(session, case.id))


def with_problem_lists(session: Session, lines: Iterable[Row], size: int) -> Iterator[tuple[Row, list[Problem]]]:
    """Each of the ledger's ``lines`` (rows with a ``case_id``) with its case's problems: read
    ``size`` lines at a time and the problems of those cases in one query, so the ledger costs a
    query per chunk, not per case."""
    batch: list[Row] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield from _listed(session, batch)
            batch = []
    if batch:
        yield from _listed(session, batch)


def _listed(session: Session, batch: list[Row]) -> Iterator[tuple[Row, list[Problem]]]:
    found = problem_queries.problems_of_cases(session, [line.case_id for line in batch])
    for line in batch:
        yield line, found.get(line.case_id, [])
