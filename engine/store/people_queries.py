"""Queries about organizations and officials, and the organization import's bulk statements.

The ops layer (``engine.ops.orgs``, ``officials``, ``identity``, ``notices``, ``ledger``)
decides what to do with what these return. Every function takes the caller's session,
never commits, and returns ORM objects or plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import aliased, joinedload

from engine.store.models import Official, Organization

if TYPE_CHECKING:
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
