"""Queries about evidence: a case's files, the rows ``audit verify`` checks, the 档案 package's.

The files themselves are in the evidence store (``engine.store.evidence_files``); these read the
``evidence`` rows that name them. Every function takes the caller's session and never commits;
the long reads stream (``yield_per``), so a county's archive never sits in memory, and return
the ``Result`` for the caller to close if it stops early (PostgreSQL streams through a server-side
cursor, which must not be left open).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from engine.store.models import Case, DutyAction, Evidence, Organization, Problem, UnitDuty

if TYPE_CHECKING:
    from sqlalchemy.engine import Result, Row
    from sqlalchemy.orm import Session

CHUNK = 500


def problem_of_case(session: Session, case_id: int, number: int) -> Problem | None:
    """Problem ``number`` of the case's problem list (一支一策), or None."""
    return session.scalar(select(Problem).where(Problem.case_id == case_id, Problem.number == number))


def evidence_of_case(session: Session, case_id: int) -> list[Row]:
    """The case's evidence, oldest first, as rows (``Evidence``, the problem's number or None)."""
    return list(session.execute(select(Evidence, Problem.number)
                                .outerjoin(Problem, Problem.id == Evidence.problem_id)
                                .where(Evidence.case_id == case_id).order_by(Evidence.id)))


def evidence_in_case(session: Session, case_id: int, evidence_id: int) -> Evidence | None:
    """Evidence ``evidence_id`` if it belongs to the case, else None."""
    return session.scalar(select(Evidence).where(Evidence.id == evidence_id, Evidence.case_id == case_id))


# --- audit verify -------------------------------------------------------------------------

def case_evidence_streamed(session: Session, case_ids: Iterable[int] | None = None) -> Result[Any]:
    """Every case's evidence (or that of ``case_ids``) by case then id, as rows (id, case_id,
    sha256, size, filename), streamed: ``audit verify`` holds them against the case's events."""
    query = (select(Evidence.id, Evidence.case_id, Evidence.sha256, Evidence.size, Evidence.filename)
             .where(Evidence.case_id.is_not(None)).order_by(Evidence.case_id, Evidence.id)
             .execution_options(yield_per=CHUNK))
    if case_ids is not None:
        query = query.where(Evidence.case_id.in_(list(case_ids)))
    return session.execute(query)


def evidence_by_hash_streamed(session: Session, case_ids: Iterable[int] | None = None) -> Result[Any]:
    """Every evidence row (or those of ``case_ids``) by hash then id, streamed, so each stored
    file is hashed once however many rows name it: rows of (id, sha256, filename, the case's
    reference or None, then for a duty's: the unit's name ``unit``, the duty and the submission's
    ``files``))."""
    unit = aliased(Organization)
    query = (select(Evidence.id, Evidence.sha256, Evidence.filename, Case.ref, unit.name.label("unit"),
                    UnitDuty.duty, DutyAction.files)
             .outerjoin(Case, Case.id == Evidence.case_id)
             .outerjoin(DutyAction, DutyAction.id == Evidence.duty_action_id)
             .outerjoin(UnitDuty, UnitDuty.id == DutyAction.unit_duty_id)
             .outerjoin(unit, unit.id == UnitDuty.unit_id)
             .order_by(Evidence.sha256, Evidence.id).execution_options(yield_per=CHUNK))
    if case_ids is not None:
        query = query.where(Evidence.case_id.in_(list(case_ids)))
    return session.execute(query)


# --- the 档案 package ---------------------------------------------------------------------

def package_case_rows(session: Session, campaign_id: int) -> Result[Evidence, str, str, str | None, int | None]:
    """The evidence of the campaign's cases in the ledger's order (hierarchy, codes in natural
    order), streamed: rows of (``Evidence``, case reference, organization name, township name or
    None, problem number or None)."""
    township = aliased(Organization)
    query = (select(Evidence, Case.ref, Organization.name, township.name, Problem.number)
             .join(Case, Case.id == Evidence.case_id)
             .join(Organization, Organization.id == Case.organization_id)
             .outerjoin(township, township.id == Case.township_id)
             .outerjoin(Problem, Problem.id == Evidence.problem_id)
             .where(Case.campaign_id == campaign_id)
             .order_by(Organization.sort_key, Evidence.id).execution_options(yield_per=CHUNK))
    return session.execute(query)


def package_duty_rows(session: Session, campaign_id: int) -> Result[Evidence, str, str, int]:
    """The files of the campaign's duty submissions (乡镇报送) by unit, duty and occurrence,
    streamed: rows of (``Evidence``, unit name, duty, occurrence)."""
    query = (select(Evidence, Organization.name, UnitDuty.duty, UnitDuty.occurrence)
             .join(DutyAction, DutyAction.id == Evidence.duty_action_id)
             .join(UnitDuty, UnitDuty.id == DutyAction.unit_duty_id)
             .join(Organization, Organization.id == UnitDuty.unit_id)
             .where(UnitDuty.campaign_id == campaign_id)
             .order_by(Organization.sort_key, UnitDuty.duty, UnitDuty.occurrence, Evidence.id)
             .execution_options(yield_per=CHUNK))
    return session.execute(query)


def evidence_named(session: Session, case_id: int, filename: str) -> Evidence | None:
    """The case's newest evidence kept under ``filename``, else None."""
    return session.scalar(select(Evidence).where(Evidence.case_id == case_id, Evidence.filename == filename)
                          .order_by(Evidence.id.desc()).limit(1))
