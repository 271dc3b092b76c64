"""Services on people (联系领导, 第一书记, 驻村干部…), their assignments to cases, and secretaries.

The people's register is the county's: adding, changing or deactivating a person is for an
administrator or an official whose jurisdiction is the whole county (the county department);
any registered official may read it. Assigning someone to a case is recording a fact of the
case: whoever may record its facts may (the case inside their jurisdiction). Replacing an
organization's secretary is for an official whose jurisdiction holds the organization.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.base.clock import local
from engine.base.errors import PermissionDenied
from engine.ops import people as ops
from engine.ops import secretaries
from engine.ops.cases import get_case
from engine.ops.deploy import compiled_version
from engine.ops.orgs import get_org, is_within
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store
from engine.store.models import Person
from engine.store.people_queries import person_assignments


@dataclass(frozen=True)
class PersonShown:
    name: str
    unit: str
    title: str
    phone: str
    email: str
    channels: dict[str, Any]
    active: bool
    assignments: list[dict[str, Any]]  # those on cases the reader may read


def _shown(person: Person, assignments: list[dict[str, Any]] | None = None) -> PersonShown:
    return PersonShown(person.name, person.unit, person.title or "", person.phone or "", person.email or "",
                       dict(person.channels or {}), person.active, assignments or [])


def _manager(access: Access, what_zh: str, what_en: str) -> str:
    """Who changes the people's register: an administrator, or an official of the whole county."""
    if access.identity.admin:
        access.require_admin(what_zh, what_en)
        return access.actor_name()
    actor = access.actor()
    where = actor.jurisdiction
    if where is not None and where.parent_id is None:
        return actor.name
    raise PermissionDenied(f"只有管理员或县委组织部（管辖全县）可以{what_zh}，{actor.name}的管辖范围是“"
                           f"{where.name if where else '—'}” / only an administrator or the county department (a "
                           f"county-wide jurisdiction) may {what_en}; {actor.name}'s is {where.name if where else '—'}")


def add(store: Store, caller: Caller, name: str, unit: str, contacts: ops.Contacts) -> Done[PersonShown]:
    def work(access: Access) -> PersonShown:
        by = _manager(access, "登记人员", "register people")
        return _shown(ops.add_person(access.session, name, unit, contacts, by, access.now(access.zone())))
    return write(store, caller, work)


def update(store: Store, caller: Caller, name: str, unit: str | None, contacts: ops.Contacts,
           active: bool | None = None) -> Done[PersonShown]:
    def work(access: Access) -> PersonShown:
        _manager(access, "修改人员", "change people")
        person = ops.find_person(access.session, name, unit)
        if active is False:
            ops.deactivate(access.session, person, local(access.now(), access.zone()).date())
        return _shown(ops.update_person(person, contacts, None if active is False else active))
    return write(store, caller, work)


def deactivate(store: Store, caller: Caller, name: str, unit: str | None) -> Done[PersonShown]:
    def work(access: Access) -> PersonShown:
        _manager(access, "停用人员", "deactivate people")
        person = ops.find_person(access.session, name, unit)
        return _shown(ops.deactivate(access.session, person, local(access.now(), access.zone()).date()))
    return write(store, caller, work)


def listed(store: Store, caller: Caller) -> Done[list[dict[str, Any]]]:
    """The people's register (any registered official may read it)."""
    def work(access: Access) -> list[dict[str, Any]]:
        access.scope()
        return [{"name": p.name, "unit": p.unit, "title": p.title or "", "phone": p.phone or "",
                 "email": p.email or "", "channels": dict(p.channels or {}), "active": p.active}
                for p in ops.list_people(access.session)]
    return read(store, caller, work)


def show(store: Store, caller: Caller, name: str, unit: str | None) -> Done[PersonShown]:
    """A person with their assignments on the cases the caller may read."""
    def work(access: Access) -> PersonShown:
        scope = access.scope()
        person = ops.find_person(access.session, name, unit)
        rows = []
        for a, case in person_assignments(access.session, person.id):
            if scope is not None and not is_within(case.organization, scope):
                continue
            facts = compiled_version(case.workflow_version).definition.facts
            rows.append({"case": case.ref, "organization": case.organization.name, "role": a.role,
                         "label": facts[a.role].label if a.role in facts else a.role,
                         "from": a.starts_on.isoformat(), "to": a.ends_on.isoformat() if a.ends_on else ""})
        return _shown(person, rows)
    return read(store, caller, work)


@dataclass(frozen=True)
class AssignmentChanged:
    ref: str
    role: str
    label: str
    old: Any
    new: Any


def assign(store: Store, caller: Caller, ref: str, role: str, name: str, unit: str | None = None,
           first: str | None = None, last: str | None = None) -> Done[AssignmentChanged]:
    """Assign a registered person to a case in a person fact, from ``first`` to ``last`` (YYYY-MM-DD)."""
    starts, ends = ops.parse_day(first, "--from"), ops.parse_day(last, "--to")

    def work(access: Access) -> AssignmentChanged:
        case = get_case(access.session, ref)
        person = ops.find_person(access.session, name, unit)
        old, new = ops.assign(access.session, case, role, person, access.actor(), access.now(case), starts, ends)
        return _changed(case, role, old, new)
    return write(store, caller, work)


def unassign(store: Store, caller: Caller, ref: str, role: str, name: str, unit: str | None = None,
             on: str | None = None) -> Done[AssignmentChanged]:
    """End a person's assignment: no longer assigned from ``on`` (YYYY-MM-DD; default today)."""
    day = ops.parse_day(on, "--on")

    def work(access: Access) -> AssignmentChanged:
        case = get_case(access.session, ref)
        person = ops.find_person(access.session, name, unit)
        old, new = ops.unassign(access.session, case, role, person, access.actor(), access.now(case), day)
        return _changed(case, role, old, new)
    return write(store, caller, work)


def _changed(case: Any, role: str, old: Any, new: Any) -> AssignmentChanged:
    facts = compiled_version(case.workflow_version).definition.facts
    return AssignmentChanged(case.ref, role, facts[role].label if role in facts else role, old, new)


@dataclass(frozen=True)
class SecretaryReplaced:
    organization: str
    code: str
    name: str
    phone: str | None
    starts_on: date
    previous: str | None
    cases: list[str]  # the cases whose history records it


def replace_secretary(store: Store, caller: Caller, org_code: str, name: str, phone: str | None = None,
                      first: str | None = None, reason: str = "") -> Done[SecretaryReplaced]:
    """Make ``name`` the organization's secretary from ``first`` (default: today), keeping the history."""
    starts = ops.parse_day(first, "--from")

    def work(access: Access) -> SecretaryReplaced:
        now = access.now(access.zone())
        day = starts or local(now, access.zone()).date()
        done, cases = secretaries.replace_on_record(access.session, org_code, name, phone, day, reason,
                                                    access.actor(), now)
        return SecretaryReplaced(done.organization, done.code, done.name, done.phone, done.starts_on,
                                 done.previous, cases)
    return write(store, caller, work)


def secretary_history(store: Store, caller: Caller, org_code: str) -> Done[list[secretaries.Term]]:
    """An organization's recorded secretaries (inside the caller's jurisdiction)."""
    def work(access: Access) -> list[secretaries.Term]:
        org = get_org(access.session, org_code)
        access.require_org(org, f"党组织 {org.code}", f"organization {org.code}")
        return secretaries.history(access.session, org)
    return read(store, caller, work)
