"""Whom a case's notice reaches: the officials of its roles, the people assigned to its person
facts, and — never dropped silently — each audience that reaches nobody.

An audience name of a notice (``notify``, ``remind``, ``escalate_to``) is either a role of the
workflow — the active officials of that role whose jurisdiction holds the case's organization —
or a person fact (``type: person``: 联系领导, 驻村干部) — the active people assigned to the case in
that role on the notice's date (engine.ops.people). A name that finds nobody is recorded on the
notice as unreached (``Notice.unreached``: [{"role", "label"}]), which ``rectify notices list``
and the dashboard show.

Both the one-notice path (``resolve_audience``: a fired transition, a timer fired alone) and the
daemon's chunks (engine.daemon.timer_batch: officials and assignments read once per chunk) end in
``reach_of``, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.store.case_queries import role_holders
from engine.store.facts import case_facts
from engine.store.people_queries import assigned_between

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from engine.spec.machine import CompiledWorkflow
    from engine.store.models import Case


@dataclass(frozen=True)
class Holder:
    """An active official holding a role, with where their jurisdiction lies."""

    name: str
    role: str
    jurisdiction_path: str
    address: dict[str, Any]  # {"name", "role", "email", "phone", **channels}: what a notice records


@dataclass(frozen=True)
class Reach:
    """Whom a notice is for (the addresses it records) and the audiences that reach nobody."""

    recipients: list[dict[str, Any]] = field(default_factory=list)
    unreached: list[dict[str, str]] = field(default_factory=list)  # [{"role", "label"}]


def officials_in_roles(session: Session, roles: Iterable[str]) -> list[Holder]:
    """The active officials of ``roles``, by name, with where their jurisdiction lies (one query)."""
    rows = role_holders(session, list(roles))
    return [Holder(r.name, r.role, r.path, {"name": r.name, "role": r.role, "email": r.email, "phone": r.phone,
                                             **(r.channels or {})}) for r in rows]


def pick_recipients(holders: list[Holder], facts: dict[str, Any], org_path: str,
                    audience: tuple[str, ...] | list[str] = ()) -> list[dict[str, Any]]:
    """Of ``holders`` (by name), those a notice about the organization at ``org_path`` is for.

    When the case names the person for a role in a text fact of the same name (a workflow
    written before person facts: its ``contact_leader``), only that official is meant;
    otherwise everyone of the role whose jurisdiction contains the organization.
    """
    found: dict[str, dict[str, Any]] = {}
    for holder in holders:
        if audience and holder.role not in audience:
            continue
        named = facts.get(holder.role)
        if isinstance(named, str) and named.strip():
            if holder.name != named.strip():
                continue
        elif not org_path.startswith(holder.jurisdiction_path):
            continue
        found.setdefault(holder.name, dict(holder.address))
    return list(found.values())


def person_address(row: Row) -> dict[str, Any]:
    """What a notice records of an assigned person: as an official's address (name, role, e-mail,
    phone and channels, which the channels read), with the sending unit and title."""
    return {"name": row.name, "role": row.role, "email": row.email, "phone": row.phone, **(row.channels or {}),
            "unit": row.unit, "title": row.title or ""}


def covers(row: Row, day: date) -> bool:
    """Whether an assignment row is in force on ``day`` (its first and last days included)."""
    return row.starts_on <= day and (row.ends_on is None or row.ends_on >= day)


def reach_of(compiled: CompiledWorkflow, audience: Iterable[str], holders: list[Holder], facts: dict[str, Any],
             org_path: str, assigned: list[Row], day: date) -> Reach:
    """Whom a notice for ``audience`` about one case reaches on ``day``: the officials (as
    ``pick_recipients`` picks them, by name), then the people ``assigned`` to the case (rows of
    ``assigned_between``) in the audience's person facts; and each audience name that reached
    nobody, with its label."""
    wf = compiled.definition
    people = wf.person_facts
    names = list(dict.fromkeys(audience))
    officials = [r for r in names if r not in people]
    recipients = pick_recipients(holders, facts, org_path, officials) if officials else []
    reached = {address.get("role") for address in recipients}
    seen: set[tuple[str, str]] = set()
    for row in assigned:
        if row.role in people and row.role in names and covers(row, day):
            reached.add(row.role)
            if (row.name, row.unit) not in seen:  # one person in two roles gets one copy
                seen.add((row.name, row.unit))
                recipients.append(person_address(row))
    unreached = [{"role": r, "label": people[r].label if r in people else wf.roles.get(r, r)}
                 for r in names if r not in reached]
    return Reach(recipients, unreached)


def resolve_audience(session: Session, compiled: CompiledWorkflow, case: Case, audience: Iterable[str],
                     day: date) -> Reach:
    """Whom one case's notice for ``audience`` reaches on ``day``: two queries (the officials of
    the roles, the case's assignments), never one per case of the campaign."""
    names = list(dict.fromkeys(audience))
    if not names:
        return Reach()
    holders = officials_in_roles(session, names)
    assigned = assigned_between(session, [case.id], names, day, day)
    return reach_of(compiled, names, holders, case_facts(session, case.id), case.organization.path, assigned, day)
