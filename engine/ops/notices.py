"""Notices into the outbox, rendered in the same transaction as the event that causes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import due_day, fmt
from engine.base.domain import KEY_TARGET_FLAGS, PROBLEM_CATEGORIES
from engine.ops.timers import recurrence_after
from engine.spec.definition import Transition
from engine.spec.machine import CompiledWorkflow
from engine.store.case_queries import role_holders
from engine.store.facts import case_facts
from engine.store.models import Case, Event, Notice, NoticeStatus
from engine.store.people_queries import active_officials_in_roles

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class CaseCard:
    """What a notice says about its case, as plain values: taken from a loaded case, or read
    for many cases at once by the daemon's bulk path (engine.daemon.timer_batch)."""

    id: int
    ref: str
    state: str
    round: int
    key_target: bool
    weak_and_lax: bool
    problems: list[Any]
    flags: list[Any]
    organization: str
    org_code: str
    org_path: str
    superior: str
    township: str | None
    secretary: str | None
    secretary_phone: str | None


def card_of(case: Case) -> CaseCard:
    org = case.organization
    return CaseCard(case.id, case.ref, case.state, case.round, case.key_target, case.weak_and_lax,
                    list(case.problems), list(case.flags), org.name, org.code, org.path,
                    org.parent.name if org.parent else "", case.township.name if case.township else None,
                    org.secretary_name, org.secretary_phone)


def case_context(compiled: CompiledWorkflow, case: Case | CaseCard) -> dict[str, Any]:
    wf = compiled.definition
    card = case if isinstance(case, CaseCard) else card_of(case)
    return {
        "ref": card.ref, "organization": card.organization, "org_code": card.org_code,
        "township": card.township if card.township is not None else card.superior, "superior": card.superior,
        "state": card.state, "state_label": wf.states[card.state].label, "round": card.round,
        "key_target": card.key_target, "weak_and_lax": card.weak_and_lax,
        "problems": [PROBLEM_CATEGORIES.get(p, str(p)) for p in card.problems],
        "flags": [KEY_TARGET_FLAGS.get(f, f) for f in card.flags],
        "secretary": card.secretary or "", "secretary_phone": card.secretary_phone or "",
    }


def notice_context(compiled: CompiledWorkflow, case: Case | CaseCard, now: datetime, actor: str,
                   transition: Transition | None = None, note: str | None = None,
                   source: str | None = None, deadline: dict[str, Any] | None = None,
                   recurring: dict[str, Any] | None = None) -> dict[str, Any]:
    wf = compiled.definition
    return {
        "workflow": {"name": wf.name, "title": wf.title, "year": wf.year, "issuer": wf.issuer},
        "case": case_context(compiled, case),
        "transition": None if transition is None else {
            "trigger": transition.trigger, "label": transition.label, "source": source,
            "source_label": wf.states[source].label if source else "", "dest": transition.dest,
            "dest_label": wf.states[transition.dest].label, "note": note or "",
        },
        "deadline": deadline,
        "recurring": recurring,
        "now": fmt(now, wf.timezone, with_time=False),
        "actor": actor,
        "bulletin": None,
    }


def resolve_recipients(session: Session, case: Case, audience: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """The officials a notice is for: by role, within whose jurisdiction the case lies.

    The cost is the number of officials holding those roles, never the number of cases.
    """
    if not audience:
        return []
    return pick_recipients(officials_in_roles(session, audience), case_facts(session, case.id),
                           case.organization.path)


@dataclass(frozen=True)
class Holder:
    """An active official holding a role, with where their jurisdiction lies."""

    name: str
    role: str
    jurisdiction_path: str
    address: dict[str, Any]  # {"name", "role", "email", "phone", **channels}: what a notice records


def officials_in_roles(session: Session, roles: tuple[str, ...] | list[str]) -> list[Holder]:
    """The active officials of ``roles``, by name, with where their jurisdiction lies (one query)."""
    rows = role_holders(session, list(roles))
    return [Holder(r.name, r.role, r.path, {"name": r.name, "role": r.role, "email": r.email, "phone": r.phone,
                                             **(r.channels or {})}) for r in rows]


def pick_recipients(holders: list[Holder], facts: dict[str, Any], org_path: str,
                    audience: tuple[str, ...] | list[str] = ()) -> list[dict[str, Any]]:
    """Of ``holders`` (by name), those a notice about the organization at ``org_path`` is for.

    When the case names the person for a role in a fact of the same name (its
    ``contact_leader``), only that person is meant; otherwise everyone of the role whose
    jurisdiction contains the organization.
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


TITLE_WIDTH = 300  # the outbox's title column


def notice_row(*, key: str, template: str, title: str, body: str, recipients: list[dict[str, Any]], now: datetime,
               template_hash: str = "", case_id: int | None = None, event_id: int | None = None) -> dict[str, Any]:
    """The column values of one new outbox row: the one place a notice row is made, whether
    it is added through the ORM (a transition's notice, a due timer fired alone, a bulletin,
    an alert) or inserted with many others (the daemon's chunks, engine.daemon.timer_batch).
    Pending, due at once, not yet expanded into deliveries."""
    return {"case_id": case_id, "event_id": event_id, "idempotency_key": key, "template": template,
            "template_hash": template_hash, "title": title[:TITLE_WIDTH], "body": body, "created_at": now,
            "status": NoticeStatus.PENDING.value, "attempts": 0, "last_error": None, "next_attempt_at": now,
            "expanded": False, "recipients": recipients}


def queue_notice(session: Session, compiled: CompiledWorkflow, template: str, context: dict[str, Any],
                 key: str, case: Case | None, event: Event | None, now: datetime,
                 audience: tuple[str, ...] | list[str] = ()) -> Notice:
    """Render ``template`` and add its notice, for the officials of ``audience``, to the outbox."""
    rendered = compiled.renderer.render(template, context)
    notice = Notice(**notice_row(key=key, template=template, template_hash=rendered.template_hash,
                                 title=rendered.title, body=rendered.body, now=now,
                                 recipients=resolve_recipients(session, case, audience) if case else [],
                                 case_id=case.id if case else None, event_id=event.id if event else None))
    session.add(notice)
    return notice


@dataclass(frozen=True)
class DueNotice:
    """What a due timer's notice is: the event that records it and the notice to render."""

    template: str
    context: dict[str, Any]
    audience: tuple[str, ...]
    event_data: dict[str, Any]  # only strings and integers: hashed as the database gives it back


def plan_due_notice(compiled: CompiledWorkflow, case: Case | CaseCard, case_due_at: datetime | None, timer_id: int,
                    kind: str, payload: dict[str, Any], now: datetime, actor: str,
                    timer_due_at: datetime | None = None) -> DueNotice:
    """The one plan of a reminder, an escalation or a recurring request, used alike by the
    daemon firing a timer alone (engine.daemon.ticker) and in chunks (engine.daemon.timer_batch):
    the deadline it speaks of (none for a recurring request), its template and context, who
    it is for, and what its event records."""
    wf = compiled.definition
    state = case.state
    deadline = None
    if kind != "recurring":
        deadline = {"kind": kind, "due": due_day(case_due_at, wf.timezone) if case_due_at else "",
                    "label": wf.states[state].label, "offset": payload.get("offset", ""),
                    "days": payload.get("days", 0), "notice_label": ""}
    recurring = None
    data: dict[str, Any] = {"timer": timer_id, "notice": str(payload["notice"])}
    if kind == "recurring":
        # Occurrences missed while the daemon was down: named in this notice, never replayed.
        missed = recurrence_after(compiled, state, timer_due_at or now, payload, now, case_due_at).missed
        rec = wf.states[state].recurring[payload["index"]]
        # The days the requests were due to go out: a request due at midnight is the new day's
        # (unlike a deadline at midnight, which closes the day before: due_day).
        recurring = {"label": rec.label, "occurrence": int(payload["occurrence"]),
                     "missed": [fmt(m, wf.timezone, with_time=False) for m in missed],
                     "due": fmt(timer_due_at, wf.timezone, with_time=False)}
        data |= {"occurrence": int(payload["occurrence"]), **({"missed": len(missed)} if missed else {})}
    context = notice_context(compiled, case, now, actor, deadline=deadline, recurring=recurring)
    return DueNotice(str(payload["notice"]), context, tuple(payload.get("notify", ())), data)


def resolve_admins(session: Session, roles: tuple[str, ...]) -> list[dict[str, Any]]:
    """The administrators alerted when a notice is dead-lettered: every official of ``roles``."""
    officials = active_officials_in_roles(session, list(roles))
    return [{"name": o.name, "role": o.role, "email": o.email, "phone": o.phone, **(o.channels or {})}
            for o in officials]


def alert_notice(template: str, key: str, title: str, body: str, recipients: list[dict[str, Any]], now: datetime,
                 case_id: int | None = None, event_id: int | None = None) -> Notice:
    """An alert to the administrators (a dead delivery, a timer set aside), ready for the caller
    to add to the outbox in the transaction that records what failed.

    Alerts are worded by the engine, not rendered from a workflow template (the template may
    be what broke), so their template hash is empty. Their idempotency key starts with
    ``alert:`` so that one failure alerts once, and the delivery engine never alerts about
    an alert's own dead delivery. The title is cut to the column's 300 characters.
    """
    assert key.startswith("alert:"), key
    return Notice(**notice_row(key=key, template=template, title=title, body=body, recipients=recipients, now=now,
                               case_id=case_id, event_id=event_id))
