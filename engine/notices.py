"""Notices into the outbox, rendered in the same transaction as the event that causes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engine.clock import fmt
from engine.definition import Transition
from engine.domain import KEY_TARGET_FLAGS, PROBLEM_CATEGORIES
from engine.machine import CompiledWorkflow
from engine.models import Case, Event, Notice, NoticeStatus, Official


def case_context(compiled: CompiledWorkflow, case: Case) -> dict[str, Any]:
    wf = compiled.definition
    org = case.organization
    superior = org.parent.name if org.parent else ""
    return {
        "ref": case.ref, "organization": org.name, "org_code": org.code,
        "township": case.township.name if case.township else superior, "superior": superior,
        "state": case.state, "state_label": wf.states[case.state].label, "round": case.round,
        "key_target": case.key_target, "weak_and_lax": case.weak_and_lax,
        "problems": [PROBLEM_CATEGORIES.get(p, str(p)) for p in case.problems],
        "flags": [KEY_TARGET_FLAGS.get(f, f) for f in case.flags],
        "secretary": org.secretary_name or "", "secretary_phone": org.secretary_phone or "",
    }


def notice_context(compiled: CompiledWorkflow, case: Case, now: datetime, actor: str,
                   transition: Transition | None = None, note: str | None = None,
                   source: str | None = None, deadline: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "now": fmt(now, wf.timezone, with_time=False),
        "actor": actor,
        "bulletin": None,
    }


def resolve_recipients(session: Session, case: Case, audience: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """The officials a notice is for: by role, within whose jurisdiction the case lies.

    When the case names the person for a role in a fact of the same name (its
    ``contact_leader``), only that person is meant. The cost is the number of officials
    holding those roles, never the number of cases.
    """
    if not audience:
        return []
    from engine.cases import case_facts  # cases imports this module

    facts = case_facts(session, case.id)
    officials = session.scalars(select(Official).options(joinedload(Official.jurisdiction))
                                .where(Official.role.in_(list(audience)), Official.active.is_(True))
                                .order_by(Official.name))
    found: dict[str, dict[str, Any]] = {}
    for official in officials:
        named = facts.get(official.role)
        if isinstance(named, str) and named.strip():
            if official.name != named.strip():
                continue
        elif not case.organization.path.startswith(official.jurisdiction.path):
            continue
        found.setdefault(official.name, {"name": official.name, "role": official.role, "email": official.email,
                                         "phone": official.phone, **(official.channels or {})})
    return list(found.values())


def queue_notice(session: Session, compiled: CompiledWorkflow, template: str, context: dict[str, Any],
                 key: str, case: Case | None, event: Event | None, now: datetime,
                 audience: tuple[str, ...] | list[str] = ()) -> Notice:
    rendered = compiled.renderer.render(template, context)
    notice = Notice(case_id=case.id if case else None, event_id=event.id if event else None,
                    idempotency_key=key, template=template, template_hash=rendered.template_hash,
                    title=rendered.title, body=rendered.body, created_at=now,
                    status=NoticeStatus.PENDING.value, attempts=0, next_attempt_at=now,
                    recipients=resolve_recipients(session, case, audience) if case else [], expanded=False)
    session.add(notice)
    return notice


def resolve_admins(session: Session, roles: tuple[str, ...]) -> list[dict[str, Any]]:
    """The administrators alerted when a notice is dead-lettered: every official of ``roles``."""
    officials = session.scalars(select(Official).where(Official.role.in_(list(roles)), Official.active.is_(True))
                                .order_by(Official.name))
    return [{"name": o.name, "role": o.role, "email": o.email, "phone": o.phone, **(o.channels or {})}
            for o in officials]
