"""Queries about organizations, officials, people (their assignments to cases) and secretaries'
terms, and the organization import's bulk statements.

The ops layer (``engine.ops.orgs``, ``officials``, ``identity``, ``notices``, ``ledger``,
``people``, ``audience``, ``secretaries``)
decides what to do with what these return. Every function takes the caller's session,
never commits, and returns ORM objects or plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.orm import aliased, joinedload

from engine.store.models import Assignment, Case, Official, Organization, Person, SecretaryTerm

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

LOOKUP_CHUNK = 5_000  # codes per IN (...) look-up: SQLite caps the parameters of a statement
# The columns of a new organization row, in the order of the tuples ``insert_organizations`` takes.
ORG_COLUMNS = ("id", "code", "name", "kind", "parent_id", "township_id", "path", "secretary_name",
               "secretary_phone", "sort_key")


# --- organizations -------------------------------------------------------------------------

def org_by_code(session: Session, code: str) -> Organization | None:
    """The organization whose code is ``code``, or None."""
    return session.scalar(select(Organization).where(Organization.code == code))


def orgs_named(session: Session, name: str) -> list[Organization]:
    """The organizations called ``name`` (names are not unique), their superior joined: the
    ledger tells them apart by the superior's name."""
    return list(session.scalars(select(Organization).options(joinedload(Organization.parent))
                                .where(Organization.name == name)))


def existing_orgs(session: Session, codes: Iterable[str]) -> dict[str, tuple[Organization, str | None]]:
    """The organizations among ``codes`` already in the database, with their parent's code, by
    code. A first import (an empty table, one cheap query) looks nothing up; otherwise one
    query per 5 000 codes."""
    if session.scalar(select(Organization.id).limit(1)) is None:
        return {}  # a first import: nothing to look up
    codes = list(codes)
    parent = aliased(Organization)
    found: dict[str, tuple[Organization, str | None]] = {}
    for i in range(0, len(codes), LOOKUP_CHUNK):
        found.update((org.code, (org, parent_code)) for org, parent_code in session.execute(
            select(Organization, parent.code).outerjoin(parent, parent.id == Organization.parent_id)
            .where(Organization.code.in_(codes[i:i + LOOKUP_CHUNK]))))
    return found


def insert_orgs(session: Session, rows: list[tuple]) -> None:
    """Insert new organizations (tuples of ``ORG_COLUMNS``, ids included) with one
    ``executemany`` of plain rows, straight to the driver: the columns are integers and text
    that need no conversion, and SQLAlchemy's per-row parameter handling was a third of the
    import's time (benchmarks/RESULTS.md)."""
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"  # SQLite; psycopg
    connection.exec_driver_sql(f"INSERT INTO {Organization.__tablename__} ({', '.join(ORG_COLUMNS)}) "
                               f"VALUES ({', '.join([marker] * len(ORG_COLUMNS))})", rows)


def orgs_below(session: Session, top_id: int, top_path: str) -> list[Organization]:
    """Every organization under the one at ``top_path`` (itself excluded), for the caller to
    update (a township changed kind: its descendants' township follows)."""
    return list(session.scalars(select(Organization).where(Organization.path.startswith(top_path, autoescape=True),
                                                           Organization.id != top_id)))


def move_cases_to_townships(session: Session, townships: dict[int, int | None]) -> None:
    """Each organization's cases (``townships``: organization id → its township now) take that
    township: the township index of cases is how the to-do list and the quota read them."""
    by_township: dict[int | None, list[int]] = {}
    for org_id, township_id in townships.items():
        by_township.setdefault(township_id, []).append(org_id)
    session.flush()
    for township_id, org_ids in by_township.items():
        for i in range(0, len(org_ids), 10_000):
            session.execute(update(Case).where(Case.organization_id.in_(org_ids[i:i + 10_000]))
                            .values(township_id=township_id).execution_options(synchronize_session="fetch"))


# --- officials -----------------------------------------------------------------------------

def official_by_name(session: Session, name: str) -> Official | None:
    """The official called ``name`` (names are unique), active or not, or None."""
    return session.scalar(select(Official).where(Official.name == name))


def official_name_taken(session: Session, name: str) -> bool:
    """Whether an official (active or not) is already called ``name``: only the id is read."""
    return session.scalar(select(Official.id).where(Official.name == name)) is not None


def official_by_login(session: Session, login: str) -> Official | None:
    """The official a login is mapped to, active or not (a login belongs to one official)."""
    return session.scalar(select(Official).where(Official.login == login))


def active_official_by_login(session: Session, login: str) -> Official | None:
    """The active official a login is mapped to, or None: who is acting."""
    return session.scalar(select(Official).where(Official.login == login, Official.active.is_(True)))


def admin_took_office(session: Session) -> bool:
    """Whether an administrator's own login has ever run rectify: until one has, the database
    is in bootstrap mode; once one has, bootstrap never comes back (``admin_since`` is never
    cleared, and deactivating or demoting the last active administrator is refused). One
    look-up that stops at the first."""
    return session.scalar(select(Official.id).where(Official.admin_since.is_not(None)).limit(1)) is not None


def admins_awaiting_office(session: Session) -> list[Official]:
    """Registered administrators whose login has not run rectify yet (bootstrap lasts until
    one of them does), by name."""
    return list(session.scalars(select(Official).where(Official.admin.is_(True), Official.active.is_(True),
                                                       Official.admin_since.is_(None)).order_by(Official.name)))


def active_admins(session: Session, limit: int = 2) -> int:
    """How many active administrators there are, counting no further than ``limit``."""
    ids = session.scalars(select(Official.id).where(Official.admin.is_(True), Official.active.is_(True))
                          .limit(limit)).all()
    return len(ids)


def officials_by_role(session: Session) -> list[Official]:
    """Every official, active or not, by role then name (``rectify official list``)."""
    return list(session.scalars(select(Official).order_by(Official.role, Official.name)))


def active_officials_in_roles(session: Session, roles: list[str]) -> list[Official]:
    """The active officials of ``roles``, by name (the administrators an alert goes to)."""
    return list(session.scalars(select(Official).where(Official.role.in_(roles), Official.active.is_(True))
                                .order_by(Official.name)))


# --- people and their assignments to cases (engine.ops.people) ---------------------------

def people_named(session: Session, name: str) -> list[Person]:
    """The people called ``name`` (unique per unit only), active or not, by unit."""
    return list(session.scalars(select(Person).where(Person.name == name).order_by(Person.unit)))


def person_in_unit(session: Session, name: str, unit: str) -> Person | None:
    """The person called ``name`` of ``unit`` (the pair is unique), active or not, or None."""
    return session.scalar(select(Person).where(Person.name == name, Person.unit == unit))


def all_people(session: Session) -> list[Person]:
    """Every person, active or not, by unit then name (``rectify person list``)."""
    return list(session.scalars(select(Person).order_by(Person.unit, Person.name)))


def case_assignments(session: Session, case_id: int, role: str | None = None) -> list[Assignment]:
    """A case's assignments (in ``role`` only, when given), their people joined, by role, start
    and id: the history as well as who is assigned now."""
    query = (select(Assignment).options(joinedload(Assignment.person)).where(Assignment.case_id == case_id)
             .order_by(Assignment.role, Assignment.starts_on, Assignment.id))
    if role is not None:
        query = query.where(Assignment.role == role)
    return list(session.scalars(query))


def overlapping_elsewhere(session: Session, person_id: int, roles: Iterable[str], case_id: int,
                          starts_on: date, ends_on: date | None) -> list[tuple[Assignment, str]]:
    """The person's assignments in ``roles`` on cases other than ``case_id`` whose period meets
    ``starts_on``–``ends_on`` (None: open), with the other case's reference: one indexed look-up
    of the person's assignments, whatever the number of cases."""
    query = (select(Assignment, Case.ref).join(Case, Case.id == Assignment.case_id)
             .where(Assignment.person_id == person_id, Assignment.role.in_(list(roles)),
                    Assignment.case_id != case_id,
                    or_(Assignment.ends_on.is_(None), Assignment.ends_on >= starts_on),
                    Assignment.ends_on.is_(None) | (Assignment.ends_on >= Assignment.starts_on))
             .order_by(Assignment.starts_on))
    if ends_on is not None:
        query = query.where(Assignment.starts_on <= ends_on)
    return [(a, ref) for a, ref in session.execute(query)]


def current_assignments_of(session: Session, person_id: int, day: date) -> list[tuple[Assignment, str]]:
    """The person's assignments not ended before ``day`` (current or to come), with their case's
    reference (a person assigned somewhere is not deactivated)."""
    return [(a, ref) for a, ref in session.execute(
        select(Assignment, Case.ref).join(Case, Case.id == Assignment.case_id)
        .where(Assignment.person_id == person_id, or_(Assignment.ends_on.is_(None), Assignment.ends_on >= day),
               Assignment.ends_on.is_(None) | (Assignment.ends_on >= Assignment.starts_on))
        .order_by(Case.sort_key, Assignment.role))]


def person_assignments(session: Session, person_id: int) -> list[tuple[Assignment, Case]]:
    """Every assignment of a person, withdrawn ones left out, with its case (organization joined),
    by start: ``rectify person show``."""
    return [(a, c) for a, c in session.execute(
        select(Assignment, Case).join(Case, Case.id == Assignment.case_id).options(joinedload(Case.organization))
        .where(Assignment.person_id == person_id,
               Assignment.ends_on.is_(None) | (Assignment.ends_on >= Assignment.starts_on))
        .order_by(Assignment.starts_on, Assignment.id))]


def assigned_between(session: Session, case_ids: Iterable[int], roles: Iterable[str], first: date,
                     last: date) -> list[Row]:
    """Who is assigned to the ``case_ids`` in ``roles`` at some day from ``first`` to ``last``,
    active people only, as rows (case_id, role, starts_on, ends_on, name, unit, title, phone,
    email, channels). One query along the (case, role) index, for one case or a daemon's chunk:
    its cost is the chunk's assignments, never the number of cases."""
    ids, wanted = list(case_ids), list(roles)
    if not ids or not wanted:
        return []
    return list(session.execute(
        select(Assignment.case_id, Assignment.role, Assignment.starts_on, Assignment.ends_on, Person.name,
               Person.unit, Person.title, Person.phone, Person.email, Person.channels)
        .join(Person, Person.id == Assignment.person_id)
        .where(Assignment.case_id.in_(ids), Assignment.role.in_(wanted), Person.active.is_(True),
               Assignment.starts_on <= last, or_(Assignment.ends_on.is_(None), Assignment.ends_on >= first))
        .order_by(Assignment.case_id, Assignment.role, Assignment.starts_on, Assignment.id)))


# --- secretaries' terms (engine.ops.secretaries) ------------------------------------------

def secretary_terms(session: Session, organization_id: int) -> list[SecretaryTerm]:
    """An organization's recorded secretaries, the one before the record began first, then by start."""
    return list(session.scalars(select(SecretaryTerm).where(SecretaryTerm.organization_id == organization_id)
                                .order_by(SecretaryTerm.starts_on.is_not(None), SecretaryTerm.starts_on,
                                          SecretaryTerm.id)))


def secretaries_on(session: Session, campaign_id: int, day: date) -> dict[int, tuple[str, str | None]]:
    """(name, phone) of the secretary in office on ``day``, by organization, for the organizations
    of the campaign's cases whose secretary has a recorded term then: one query for the whole
    ledger (an organization without terms keeps the secretary on its row)."""
    in_office = (select(SecretaryTerm.organization_id, SecretaryTerm.name, SecretaryTerm.phone)
                 .join(Case, (Case.organization_id == SecretaryTerm.organization_id) & (Case.campaign_id == campaign_id))
                 .where(or_(SecretaryTerm.starts_on.is_(None), SecretaryTerm.starts_on <= day),
                        or_(SecretaryTerm.ends_on.is_(None), SecretaryTerm.ends_on >= day))
                 .order_by(SecretaryTerm.id))
    return {org_id: (name, phone) for org_id, name, phone in session.execute(in_office)}
