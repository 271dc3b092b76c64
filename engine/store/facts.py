"""Case facts: one case's, or those of many cases at once (the daemon's chunks), and the
stored rows the ops layer changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.models import CaseFact


def case_facts(session: Session, case_id: int) -> dict[str, Any]:
    """Every fact of a case, by name (stored as ``{"v": value}``)."""
    return {f.name: f.value.get("v") for f in session.scalars(select(CaseFact).where(CaseFact.case_id == case_id))}


def facts_by_case(session: Session, case_ids: Iterable[int],
                  names: Iterable[str] | None = None) -> dict[int, dict[str, Any]]:
    """The facts called ``names`` (all, when None) of each of ``case_ids``, in one query; cases
    without any are absent."""
    found: dict[int, dict[str, Any]] = {}
    query = select(CaseFact.case_id, CaseFact.name, CaseFact.value).where(CaseFact.case_id.in_(list(case_ids)))
    if names is not None:
        query = query.where(CaseFact.name.in_(list(names)))
    for case_id, name, value in session.execute(query):
        found.setdefault(case_id, {})[name] = value.get("v")
    return found


def fact_row(session: Session, case_id: int, name: str) -> CaseFact | None:
    """The stored row of one fact of a case, or None: the row itself, so the caller can
    change or delete it in its transaction (setting a fact)."""
    return session.scalar(select(CaseFact).where(CaseFact.case_id == case_id, CaseFact.name == name))


def fact_rows(session: Session, case_id: int, names: Iterable[str]) -> list[CaseFact]:
    """The stored rows of the facts called ``names`` of a case, in one query (a new round
    deletes its ``per_round`` facts)."""
    return list(session.scalars(select(CaseFact).where(CaseFact.case_id == case_id,
                                                       CaseFact.name.in_(list(names)))))
