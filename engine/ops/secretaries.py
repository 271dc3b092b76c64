"""An organization's secretaries (党组织书记) and their terms: a replacement keeps the history.

The organization's ``secretary_name``/``secretary_phone`` are always the current secretary's;
each replacement is a ``SecretaryTerm``: the new one's from its first day, the previous one's
closed the day before. The first replacement of an organization whose secretary came with the
organizations' import records that secretary too, as a term whose start is unknown (before the
record began). The ledger of a date shows the secretary then in office (engine.ops.ledger).

Two ways in: ``rectify org secretary ORG NAME`` (this module's ``replace``), and a fact of type
``secretary`` (the shipped ``secretary_appointed``: 党组织书记已选配到位), whose value is the new
secretary's name — recording it replaces the organization's secretary from that day, unless it
names the secretary already in office.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.errors import InvalidValue, Refused
from engine.base.text import many_lines, one_line
from engine.ops.orgs import PHONE
from engine.store.models import Organization, SecretaryTerm
from engine.store.people_queries import secretary_terms
from engine.store.widths import width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.ops.officials import Actor
    from engine.spec.machine import CompiledWorkflow
    from engine.store.models import Case


@dataclass(frozen=True)
class Replaced:
    """A replacement as recorded: who took office when, and who left (None: nobody recorded)."""

    organization: str
    code: str
    name: str
    phone: str | None
    starts_on: date
    previous: str | None

    def event_data(self) -> dict[str, Any]:
        """What a case event keeps of it (hashed into the case's chain)."""
        return {"secretary": {"name": self.name, "phone": self.phone, "from": self.starts_on.isoformat(),
                              "previous": self.previous}}


def replace(session: Session, org: Organization, name: str, phone: str | None, starts_on: date, reason: str,
            by: str, now: datetime) -> Replaced:
    """Make ``name`` the secretary of ``org`` from ``starts_on``: the term in office ends the day
    before (the first time, the secretary on the organization's row is recorded as a term of
    unknown start). Refused, nothing written: the same person already in office, or a start not
    after the current term's."""
    name = one_line(name, "书记姓名", "the secretary's name", width(SecretaryTerm.name))
    phone = phone.strip() if phone else None
    if phone and not PHONE.match(phone):
        raise InvalidValue(f"电话号码格式不对 / not a phone number: '{phone}'")
    reason = many_lines(reason, "更换原因", "the reason") if reason.strip() else ""
    terms = secretary_terms(session, org.id)
    current = next((t for t in reversed(terms) if t.ends_on is None), None)
    previous = current.name if current else org.secretary_name
    if previous == name:
        since = f"（自{current.starts_on}起）" if current and current.starts_on else ""
        raise Refused(f"{name}已是{org.name}的书记{since} / {name} is already the secretary of {org.code}")
    if current is not None and current.starts_on is not None and current.starts_on >= starts_on:
        raise Refused(f"现任书记{current.name}自{current.starts_on}任职，新任书记须晚于该日到任（--from）/ the current "
                      f"secretary {current.name} took office on {current.starts_on}: a successor starts after that (--from)")
    day_before = starts_on - timedelta(days=1)
    if current is not None:
        current.ends_on = day_before
    elif org.secretary_name:  # the first replacement: the imported secretary becomes history
        session.add(SecretaryTerm(organization_id=org.id, name=org.secretary_name, phone=org.secretary_phone,
                                  starts_on=None, ends_on=day_before, reason="", recorded_at=now, recorded_by=by))
    session.add(SecretaryTerm(organization_id=org.id, name=name, phone=phone, starts_on=starts_on, ends_on=None,
                              reason=reason, recorded_at=now, recorded_by=by))
    org.secretary_name, org.secretary_phone = name, phone
    session.flush()
    return Replaced(org.name, org.code, name, phone, starts_on, previous)


def replace_on_record(session: Session, org_code: str, name: str, phone: str | None, starts_on: date,
                      reason: str, actor: Actor, now: datetime) -> tuple[Replaced, list[str]]:
    """``rectify org secretary``: ``replace`` from ``starts_on``, by
    an actor whose jurisdiction holds the organization, and a ``secretary`` event on each of its
    cases not yet in a final state (every change to a case is in its hash chain). Returns the
    replacement and the cases it was recorded on."""
    from engine.ops.cases import check_jurisdiction, record_event
    from engine.ops.deploy import compiled_version
    from engine.ops.orgs import get_org
    from engine.store.case_queries import cases_by_org_code

    org = get_org(session, org_code)
    check_jurisdiction(actor, org)
    cases = cases_by_org_code(session, org.code)
    done = replace(session, org, name, phone, starts_on, reason, actor.name, now)
    recorded = []
    for case in cases:
        if not compiled_version(case.workflow_version).definition.states[case.state].final:
            record_event(session, case, actor, now, "secretary", note=reason or None, data=done.event_data())
            recorded.append(case.ref)
    return done, recorded


def appoint_by_fact(session: Session, compiled: CompiledWorkflow, case: Case, fact: str, name: str,
                    actor: Actor, now: datetime) -> dict[str, Any]:
    """A ``secretary`` fact recorded: its value (the name) becomes the organization's secretary
    from today, unless already in office. Returns what the fact's event keeps of it."""
    org = case.organization
    if name.strip() == (org.secretary_name or ""):
        return {}
    today = local(now, compiled.definition.timezone).date()
    label = compiled.definition.facts[fact].label
    done = replace(session, org, name, None, today, f"{case.ref} {label}", actor.name, now)
    return done.event_data()


def correct_current(session: Session, org: Organization, name: str | None, phone: str | None) -> None:
    """A correction of the current secretary's name or phone (the ledger's import): the row and
    the term in office, if one is recorded, alike — not a replacement."""
    org.secretary_name, org.secretary_phone = name, phone
    current = next((t for t in reversed(secretary_terms(session, org.id)) if t.ends_on is None), None)
    if current is not None and name:
        current.name, current.phone = name, phone


@dataclass(frozen=True)
class Term:
    name: str
    phone: str
    first: str  # "" before the record began
    last: str  # "" while in office
    reason: str
    recorded_by: str


def history(session: Session, org: Organization) -> list[Term]:
    """The organization's recorded secretaries, earliest first."""
    return [Term(t.name, t.phone or "", t.starts_on.isoformat() if t.starts_on else "",
                 t.ends_on.isoformat() if t.ends_on else "", t.reason, t.recorded_by)
            for t in secretary_terms(session, org.id)]
