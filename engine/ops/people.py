"""People as records, and their assignments to cases (联系领导, 蹲点干部, 第一书记, 驻村干部, 工作队).

A person is someone a notice must reach who is not necessarily an official with a login: a
name, a sending unit (派出单位: the name is unique within it), a title and contact channels. A
*person fact* of the workflow (``type: person``) is a role people are assigned to on a case for
a period (``Assignment``: first and last day, the last None while it lasts). The fact's value
stays what the rules read — the names of the people assigned, not ended before the day of the
change — and every change of an assignment is a fact event of the case's hash chain, its
``assignment`` part saying who, from when, until when.

A one-person role set again ends the previous holder's assignment the day before the new one
starts (an assignment that had not begun yet is then withdrawn: its last day falls before its
first); a ``many`` role (a work team) adds. An ``exclusive`` role (a first secretary, a cadre
stationed in a village) is held in one place at a time: an overlapping assignment of the same
person on another case in any exclusive role is refused, naming that case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.errors import BadInput, InvalidValue, NotFound, Refused
from engine.base.text import one_line
from engine.ops.cases import checked_fact, write_fact
from engine.ops.orgs import PHONE
from engine.store.models import Assignment, Person
from engine.store.people_queries import (
    all_people,
    case_assignments,
    current_assignments_of,
    overlapping_elsewhere,
    people_named,
    person_in_unit,
)
from engine.store.widths import width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.ops.officials import Actor
    from engine.spec.definition import Fact
    from engine.spec.machine import CompiledWorkflow
    from engine.store.models import Case

PERSON = "person 人员"
HINT = "register them with 'rectify person add NAME --unit UNIT'; list them with 'rectify person list'"
CHANNEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# What a notice records of a recipient besides its channels: a channel may not be called so.
RESERVED = frozenset({"name", "role", "unit", "title", "email", "phone"})


# --- people --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Contacts:
    """How a person is reached, as typed (None: left as it is on an update)."""

    title: str | None = None
    phone: str | None = None
    email: str | None = None
    channels: tuple[str, ...] = ()  # "key=value", e.g. "dingtalk=13900000001"


def add_person(session: Session, name: str, unit: str, contacts: Contacts, by: str, now: datetime) -> Person:
    """Register a person of ``unit``; refused if that unit already has someone of that name."""
    name = one_line(name, "姓名", "a person's name", width(Person.name))
    unit = one_line(unit, "派出单位", "the sending unit (--unit)", width(Person.unit))
    if person_in_unit(session, name, unit) is not None:
        raise BadInput(f"{unit}的{name}已登记 / {name} of {unit} is already registered: change them with "
                       f"'rectify person update {name} --unit {unit}'")
    person = Person(name=name, unit=unit, title="", phone=None, email=None, channels={}, active=True,
                    added_at=now, added_by=by)
    _apply_contacts(person, contacts)
    session.add(person)
    session.flush()
    return person


def update_person(person: Person, contacts: Contacts, active: bool | None = None) -> Person:
    """Change a person's title, contacts or channels (a channel given as ``key=`` is removed)."""
    _apply_contacts(person, contacts)
    if active is not None:
        person.active = active
    return person


def _apply_contacts(person: Person, contacts: Contacts) -> None:
    if contacts.title is not None:
        person.title = one_line(contacts.title, "职务", "the title", width(Person.title)) if contacts.title.strip() else ""
    if contacts.phone is not None:
        phone = contacts.phone.strip()
        if phone and not PHONE.match(phone):
            raise InvalidValue(f"电话号码格式不对 / not a phone number: '{contacts.phone}'")
        person.phone = phone or None
    if contacts.email is not None:
        email = contacts.email.strip()
        if email and ("@" not in email or len(email) > width(Person.email) or any(c.isspace() for c in email)):
            raise InvalidValue(f"邮箱格式不对 / not an e-mail address: '{contacts.email}'")
        person.email = email or None
    if contacts.channels:
        channels = dict(person.channels or {})
        for item in contacts.channels:
            key, value = parse_channel(item)
            if value:
                channels[key] = value
            else:
                channels.pop(key, None)
        person.channels = channels


def parse_channel(item: str) -> tuple[str, str]:
    """``key=value`` of ``--channel``: a channel's key (lowercase, as the notifier config names
    the field it reads) and the address on it; an empty value removes the channel."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not CHANNEL_KEY.match(key) or key in RESERVED:
        raise InvalidValue(f"联系渠道应写作 键=值 / --channel takes KEY=VALUE, KEY lowercase letters, digits and "
                           f"underscores, not one of {', '.join(sorted(RESERVED))}: got '{item}'")
    return key, one_line(value, "联系渠道", f"channel {key}", 200) if value.strip() else ""


def find_person(session: Session, name: str, unit: str | None = None) -> Person:
    """The person called ``name`` (of ``unit``, when given), active or not. An unknown name, or
    one several units share without ``unit``, is bad input (exit 2) naming what to type."""
    found = people_named(session, name.strip())
    if unit is not None:
        found = [p for p in found if p.unit == unit.strip()]
    if not found:
        raise NotFound(PERSON, name.strip() if unit is None else f"{name.strip()}（{unit.strip()}）", HINT)
    if len(found) > 1:
        units = "、".join(p.unit for p in found)
        raise BadInput(f"有{len(found)}名“{name.strip()}”，请用 --unit 指明派出单位：{units} / several people are called "
                       f"{name.strip()}: say which with --unit (units: {', '.join(p.unit for p in found)})")
    return found[0]


def deactivate(session: Session, person: Person, today: date) -> Person:
    """Mark a person inactive (notices no longer reach them); refused while they are assigned to
    a case now or later, naming the cases: they are unassigned first, which their role's rules judge."""
    current = current_assignments_of(session, person.id, today)
    if current:
        where = "、".join(f"{ref}（{a.role}）" for a, ref in current)
        raise Refused(f"{person.name}（{person.unit}）仍被指派到 {where}，请先解除指派 / {person.name} of {person.unit} is "
                      f"still assigned ({where}): end those with 'rectify person unassign CASE ROLE {person.name}' first")
    person.active = False
    return person


def list_people(session: Session) -> list[Person]:
    return all_people(session)


# --- assignments -----------------------------------------------------------------------------

def parse_day(text: str | None, option: str) -> date | None:
    """A day typed as YYYY-MM-DD for ``option`` (None: not given)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"{option} '{text}' 不是日期 / is not a date: write YYYY-MM-DD") from None


def _meets(a: Assignment, first: date, last: date | None) -> bool:
    """Whether ``a`` (a withdrawn one never does) shares a day with ``first``–``last`` (None: open)."""
    if a.ends_on is not None and a.ends_on < a.starts_on:
        return False
    return (a.ends_on is None or a.ends_on >= first) and (last is None or a.starts_on <= last)


def _period(first: date, last: date | None) -> str:
    return f"{first.isoformat()}—{last.isoformat() if last else ''}"


def holders_now(assignments: list[Assignment], day: date, many: bool) -> str | None:
    """A person fact's value on ``day``: the names of those assigned not ended before it (now or
    to come), in order of their start, joined with 、 — of a one-person role, the last of them
    (the one who holds it from now on); None when there is nobody."""
    names = [a.person.name for a in sorted(assignments, key=lambda a: (a.starts_on, a.id is None, a.id or 0))
             if (a.ends_on is None or a.ends_on >= day) and (a.ends_on is None or a.ends_on >= a.starts_on)]
    if not many:
        names = names[-1:]
    return "、".join(dict.fromkeys(names)) or None


def _person_fact(compiled: CompiledWorkflow, role: str) -> Fact:
    spec = compiled.definition.facts[role]
    if spec.type != "person":
        known = ", ".join(compiled.definition.person_facts) or "none"
        raise InvalidValue(f"“{spec.label}”（{role}）不是人员事实 / '{role}' is not a person fact "
                           f"(type: person); person facts of this workflow: {known}")
    return spec


def _assignment_data(action: str, person: Person, first: date | None, last: date | None,
                     ended: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What a fact event keeps of an assignment change (hashed into the case's chain)."""
    data: dict[str, Any] = {"action": action, "person": person.name, "unit": person.unit,
                            "from": first.isoformat() if first else None, "to": last.isoformat() if last else None}
    if ended:
        data["ended"] = ended
    return {"assignment": data}


def assign(session: Session, case: Case, role: str, person: Person, actor: Actor, now: datetime,
           first: date | None = None, last: date | None = None) -> tuple[Any, Any]:
    """Assign ``person`` to ``case`` in the person fact ``role`` from ``first`` (default: today)
    to ``last`` (default: open); returns the fact's (old, new) value. Refused, nothing written: an
    inactive person, an overlap with the same person's assignment in the role on the case, or
    (an exclusive role) with their assignment in an exclusive role on another case."""
    compiled, _ = checked_fact(session, case, role, actor, setting=True)
    spec = _person_fact(compiled, role)
    wf = compiled.definition
    today = local(now, wf.timezone).date()
    first = first or today
    if last is not None and last < first:
        raise InvalidValue(f"结束日期 {last} 早于开始日期 {first} / --to {last} is before --from {first}")
    if not person.active:
        raise Refused(f"{person.name}（{person.unit}）已停用 / {person.name} of {person.unit} is inactive: "
                      f"'rectify person update {person.name} --unit {person.unit} --active' first")
    existing = case_assignments(session, case.id, role)
    for a in existing:
        if a.person_id == person.id and _meets(a, first, last):
            raise Refused(f"{person.name}已被指派为{case.ref}的“{spec.label}”（{_period(a.starts_on, a.ends_on)}），与新指派"
                          f"（{_period(first, last)}）重叠 / {person.name} is already assigned as {role} on {case.ref} "
                          f"({_period(a.starts_on, a.ends_on)}), overlapping {_period(first, last)}")
    if spec.exclusive:
        exclusive = [n for n, f in wf.person_facts.items() if f.exclusive]
        clash = overlapping_elsewhere(session, person.id, exclusive, case.id, first, last)
        if clash:
            a, ref = clash[0]
            raise Refused(f"{person.name}（{person.unit}）已派驻{ref}（{a.role}，{_period(a.starts_on, a.ends_on)}），"
                          f"同一时期只能派驻一处 / {person.name} of {person.unit} is stationed on case {ref} as {a.role} "
                          f"({_period(a.starts_on, a.ends_on)}): an exclusive role is held in one place at a time")
    ended = [] if spec.many else _end_others(existing, person, first, last)
    assignment = Assignment(person=person, case_id=case.id, role=role, starts_on=first, ends_on=last,
                            recorded_at=now, recorded_by=actor.name)
    session.add(assignment)
    value = holders_now([*existing, assignment], today, spec.many)
    return write_fact(session, compiled, case, role, value, actor, now,
                      _assignment_data("assign", person, first, last, ended))


def _end_others(existing: list[Assignment], person: Person, first: date,
                last: date | None) -> list[dict[str, Any]]:
    """A one-person role: the others' assignments meeting the new one end the day before it starts."""
    ended = []
    for a in existing:
        if a.person_id != person.id and _meets(a, first, last):
            a.ends_on = first - timedelta(days=1)
            ended.append({"person": a.person.name, "unit": a.person.unit, "to": a.ends_on.isoformat()})
    return ended


def unassign(session: Session, case: Case, role: str, person: Person, actor: Actor, now: datetime,
             on: date | None = None) -> tuple[Any, Any]:
    """End ``person``'s assignment in ``role`` on ``case``: no longer assigned from ``on``
    (default: today), so their last day is the day before. The role's rules judge the change
    (不转化不撤离 refuses withdrawing the last stationed cadre before acceptance)."""
    compiled, _ = checked_fact(session, case, role, actor, setting=False)
    spec = _person_fact(compiled, role)
    today = local(now, compiled.definition.timezone).date()
    on = on or today
    existing = case_assignments(session, case.id, role)
    mine = [a for a in existing if a.person_id == person.id and _meets(a, on, None)]
    if not mine:
        raise BadInput(f"{person.name}（{person.unit}）自{on}起并未被指派为{case.ref}的“{spec.label}” / {person.name} "
                       f"of {person.unit} is not assigned as {role} on {case.ref} on or after {on}")
    for a in mine:
        a.ends_on = on - timedelta(days=1)
    # the value as it stands once the change takes effect (an end announced ahead included)
    return write_fact(session, compiled, case, role, holders_now(existing, max(today, on), spec.many), actor, now,
                      _assignment_data("unassign", person, None, on - timedelta(days=1)))


def set_person_fact(session: Session, compiled: CompiledWorkflow, case: Case, role: str, raw: str | None,
                    actor: Actor, now: datetime) -> tuple[Any, Any]:
    """``rectify fact set CASE ROLE NAME`` on a person fact: assigns the registered person NAME
    from today (a name several units share: ``rectify person assign … --unit``); ``fact clear``
    ends every assignment of the role from today."""
    if raw is not None:
        try:
            person = find_person(session, raw)
        except BadInput as exc:
            if isinstance(exc, NotFound):
                raise
            raise BadInput(f"{exc} — rectify person assign {case.ref} {role} {raw.strip()} --unit UNIT") from None
        return assign(session, case, role, person, actor, now)
    today = local(now, compiled.definition.timezone).date()
    existing = case_assignments(session, case.id, role)
    ended = []
    for a in existing:
        if _meets(a, today, None):
            a.ends_on = today - timedelta(days=1)
            ended.append({"person": a.person.name, "unit": a.person.unit, "to": a.ends_on.isoformat()})
    data = {"assignment": {"action": "clear", "ended": ended}} if ended else {}
    return write_fact(session, compiled, case, role, holders_now(existing, today, True), actor, now, data)


@dataclass(frozen=True)
class Assigned:
    """One assignment of a case as ``case show`` lists it."""

    role: str
    label: str
    name: str
    unit: str
    title: str
    phone: str
    first: str
    last: str
    current: bool  # in force on the day asked (or to come)


def case_people(session: Session, compiled: CompiledWorkflow, case_id: int, day: date) -> list[Assigned]:
    """The case's assignments in the workflow's order of person facts, each saying whether it is
    current (in force on ``day`` or to come) or history; withdrawn ones are left out."""
    facts = compiled.definition.facts
    order = {name: i for i, name in enumerate(facts)}
    rows = [a for a in case_assignments(session, case_id)
            if a.ends_on is None or a.ends_on >= a.starts_on]
    rows.sort(key=lambda a: (order.get(a.role, len(order)), a.starts_on, a.id))
    return [Assigned(a.role, facts[a.role].label if a.role in facts else a.role, a.person.name, a.person.unit,
                     a.person.title or "", a.person.phone or "", a.starts_on.isoformat(),
                     a.ends_on.isoformat() if a.ends_on else "", a.ends_on is None or a.ends_on >= day)
            for a in rows]
