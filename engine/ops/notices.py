"""Notices into the outbox, rendered in the same transaction as the event that causes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.cndate import cn_date, cn_day
from engine.ops.audience import (  # noqa: F401 (Holder… stay importable here: the daemon, the duties)
    Holder,
    Reach,
    officials_in_roles,
    pick_recipients,
    resolve_audience,
)
from engine.ops.deploy import compiled_version
from engine.ops.documents import render_issued
from engine.ops.notice_facts import checks_passed, deadline_facts, transition_grounds
from engine.ops.timers import recurrence_after
from engine.spec.definition import Transition
from engine.spec.machine import CompiledWorkflow
from engine.store.facts import case_facts
from engine.store.models import Case, Event, Notice, NoticeStatus
from engine.store.people_queries import active_officials_in_roles
from notifiers.render import SampleFacts, Unrecorded

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
    kind: str = "village"  # the organization's kind (Organization.kind): some measures concern some kinds only


def card_of(case: Case) -> CaseCard:
    org = case.organization
    return CaseCard(case.id, case.ref, case.state, case.round, case.key_target, case.weak_and_lax,
                    list(case.problems), list(case.flags), org.name, org.code, org.path,
                    org.parent.name if org.parent else "", case.township.name if case.township else None,
                    org.secretary_name, org.secretary_phone, org.kind)


def case_context(compiled: CompiledWorkflow, case: Case | CaseCard) -> dict[str, Any]:
    wf = compiled.definition
    card = case if isinstance(case, CaseCard) else card_of(case)
    return {
        "ref": card.ref, "organization": card.organization, "org_code": card.org_code,
        "township": card.township if card.township is not None else card.superior, "superior": card.superior,
        "state": card.state, "state_label": wf.states[card.state].label, "round": card.round,
        "key_target": card.key_target, "weak_and_lax": card.weak_and_lax,
        "problems": [wf.problem_labels.get(p, str(p)) for p in card.problems],
        "flags": [wf.key_target_circumstances.get(f, f) for f in card.flags],
        "secretary": card.secretary or "", "secretary_phone": card.secretary_phone or "", "kind": card.kind,
    }


def notice_context(compiled: CompiledWorkflow, case: Case | CaseCard, now: datetime, actor: str,
                   transition: Transition | None = None, note: str | None = None,
                   source: str | None = None, deadline: dict[str, Any] | None = None,
                   recurring: dict[str, Any] | None = None, grounds: dict[str, Any] | None = None,
                   checks: list[str] | None = None, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The context every case notice is rendered with. ``grounds`` (``notice_facts.transition_grounds``)
    says why a transition fired; ``checks`` (``notice_facts.checks_passed``) which acceptance
    checks the case went through this round. Dates are in the official form (2014年3月18日;
    3月18日 in a body)."""
    wf = compiled.definition
    today = local(now, wf.timezone).date()
    context_case = case_context(compiled, case)
    context_case["checks"] = list(checks or [])
    context_case["facts"] = fact_view(compiled, facts)
    if not context_case["problems"]:  # a notice never goes out saying "主要问题：待补充"
        context_case["problems"] = Unrecorded("主要问题")
    return {
        "workflow": workflow_context(compiled),
        "case": context_case,
        "transition": None if transition is None else {
            "trigger": transition.trigger, "label": transition.label, "source": source,
            "source_label": wf.states[source].label if source else "", "dest": transition.dest,
            "dest_label": wf.states[transition.dest].label, "note": note or "",
            "next_round": case.round + (1 if _opens_round(compiled, transition.dest) else 0),
            **(grounds or {"grounds": [], "satisfaction": None, "findings": []}),
        },
        "deadline": deadline,
        "recurring": recurring,
        "now": cn_date(today),
        "today": cn_day(today, today.year),
        "actor": actor,
        "bulletin": None,
        "duty": None,
        "problem": None,  # a problem's reminder or escalation sets it (engine.ops.problem_timers)
        "look_back": None,  # a 回头看 request sets it (engine.ops.look_back)
        # What kind of document it is, its number, 主送 and 抄送: filled in by the one who issues
        # it (queue_notice, the daemon), which knows the template and its audience.
        "document": {"kind": "", "number": "", "to": context_case["superior"], "cc": []},
    }


def fact_view(compiled: CompiledWorkflow, facts: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``case.facts``: each fact the workflow declares as a notice states it (a yes/no as 是/否,
    a date as 2014年3月16日), an unrecorded one as ``Unrecorded`` (a notice that writes it is
    held). ``facts`` None: the sample's (``rectify workflow check``, a preview without a case).
    Each is worked out when a template reads it: most notices read none, and the daemon writes
    thousands a second."""
    if facts is None:
        return SampleFacts()
    return _FactView(compiled, facts)


class _FactView(dict):
    """The facts of one case as a notice states them, each computed on first read (a dict to the
    sandbox: ``case.facts.NAME`` finds it; an undeclared name is a KeyError, caught by the check)."""

    def __init__(self, compiled: CompiledWorkflow, facts: Mapping[str, Any]):
        super().__init__()
        self._specs, self._facts = compiled.definition.facts, facts

    def __missing__(self, name: str) -> Any:
        spec = self._specs[name]  # KeyError for a name the workflow does not declare
        value = self._facts.get(name)
        if value is None or value == "":
            shown: Any = Unrecorded(spec.label)
        elif spec.type == "bool":
            shown = "是" if value in (True, "是") else "否"
        elif spec.type == "date" and isinstance(value, str):
            shown = cn_date(date.fromisoformat(value[:10]))
        else:
            shown = value
        self[name] = shown
        return shown


def workflow_context(compiled: CompiledWorkflow) -> dict[str, Any]:
    wf = compiled.definition
    return {"name": wf.name, "title": wf.title, "year": wf.year, "issuer": wf.issuer}


def _opens_round(compiled: CompiledWorkflow, dest: str) -> bool:
    """Whether a case in ``dest`` goes on to a new round without anyone's decision: a state
    whose automatic transition opens one (重新整顿 → 开始新一轮整顿)."""
    wf = compiled.definition
    autos = {a.trigger for a in wf.states[dest].auto}
    return any(t.new_round and t.trigger in autos and dest in t.sources for t in wf.transitions)


def resolve_recipients(session: Session, case: Case, audience: tuple[str, ...] | list[str],
                       day: date) -> list[dict[str, Any]]:
    """Whom a notice about ``case`` for ``audience`` reaches on ``day``: the officials of its roles
    within whose jurisdiction the case lies, and the people assigned to its person facts
    (engine.ops.audience). The cost is the officials of those roles and the case's assignments,
    never the number of cases."""
    return resolve_audience(session, compiled_version(case.workflow_version), case, audience, day).recipients


TITLE_WIDTH = 300  # the outbox's title column


def notice_row(*, key: str, template: str, title: str, body: str, recipients: list[dict[str, Any]], now: datetime,
               template_hash: str = "", case_id: int | None = None, event_id: int | None = None,
               missing: tuple[str, ...] = (), document_number: str | None = None,
               unreached: list[dict[str, str]] | tuple = ()) -> dict[str, Any]:
    """The column values of one new outbox row: the one place a notice row is made, whether
    it is added through the ORM (a transition's notice, a due timer fired alone, a bulletin,
    an alert) or inserted with many others (the daemon's chunks, engine.daemon.timer_batch).
    Pending, due at once, not yet expanded into deliveries; or, when the notice needed facts
    the record does not hold (``missing``), held: never delivered with a placeholder, listed
    by ``rectify notices list`` with what is missing. ``unreached``: the audiences it found
    nobody for (engine.ops.audience), shown by ``notices list`` and the dashboard."""
    held = bool(missing)
    return {"case_id": case_id, "event_id": event_id, "idempotency_key": key, "template": template,
            "template_hash": template_hash, "title": title[:TITLE_WIDTH], "body": body, "created_at": now,
            "status": (NoticeStatus.HELD if held else NoticeStatus.PENDING).value, "attempts": 0,
            "last_error": held_reason(missing) if held else None, "next_attempt_at": None if held else now,
            "expanded": False, "recipients": recipients, "document_number": document_number,
            "unreached": list(unreached)}


def held_reason(missing: tuple[str, ...] | list[str]) -> str:
    return f"暂缓发出，缺少：{'、'.join(missing)} / held: the record lacks {', '.join(missing)}"


def queue_notice(session: Session, compiled: CompiledWorkflow, template: str, context: dict[str, Any],
                 key: str, case: Case | None, event: Event | None, now: datetime,
                 audience: tuple[str, ...] | list[str] = ()) -> Notice:
    """Render ``template`` and add its notice to the outbox, for whom ``audience`` reaches on the
    notice's date (engine.ops.audience), recording the audiences that reach nobody."""
    rendered, number = render_issued(session, compiled, template, context, audience, now)
    reach = (resolve_audience(session, compiled, case, audience, local(now, compiled.definition.timezone).date())
             if case else Reach())
    notice = Notice(**notice_row(key=key, template=template, template_hash=rendered.template_hash,
                                 title=rendered.title, body=rendered.body, now=now, recipients=reach.recipients,
                                 case_id=case.id if case else None, event_id=event.id if event else None,
                                 missing=rendered.missing, document_number=number, unreached=reach.unreached))
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
                    timer_due_at: datetime | None = None, facts: Mapping[str, Any] | None = None) -> DueNotice:
    """The one plan of a reminder, an escalation or a recurring request, used alike by the
    daemon firing a timer alone (engine.daemon.ticker) and in chunks (engine.daemon.timer_batch):
    the deadline it speaks of (none for a recurring request), its template and context, who
    it is for, and what its event records."""
    wf = compiled.definition
    state = case.state
    deadline = None
    if kind != "recurring":
        # ``days`` is the timer's planned offset; what the notice states is ``days_left`` /
        # ``overdue_days``, measured on the calendar now (the daemon may have been down).
        deadline = {"kind": kind, "label": wf.states[state].label, "offset": payload.get("offset", ""),
                    "days": payload.get("days", 0), "notice_label": "",
                    **deadline_facts(kind, case_due_at, now, wf.timezone)}
    recurring = None
    data: dict[str, Any] = {"timer": timer_id, "notice": str(payload["notice"])}
    if kind == "recurring":
        # Occurrences missed while the daemon was down: named in this notice, never replayed.
        missed = recurrence_after(compiled, state, timer_due_at or now, payload, now, case_due_at).missed
        rec = wf.states[state].recurring[payload["index"]]
        # The days the requests were due to go out: a request due at midnight is the new day's
        # (unlike a deadline at midnight, which closes the day before).
        year = local(now, wf.timezone).year
        recurring = {"label": rec.label, "occurrence": int(payload["occurrence"]),
                     "missed": [cn_day(local(m, wf.timezone).date(), year) for m in missed],
                     "due": cn_day(local(timer_due_at or now, wf.timezone).date(), year)}
        data |= {"occurrence": int(payload["occurrence"]), **({"missed": len(missed)} if missed else {})}
    context = notice_context(compiled, case, now, actor, deadline=deadline, recurring=recurring, facts=facts)
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


def transition_notice_context(session: Session, compiled: CompiledWorkflow, case: Case, now: datetime, actor: str,
                              transition: Transition, note: str | None, source: str, event: Event) -> dict[str, Any]:
    """The context of a transition's notice, with what the record says at that moment: why it
    fired (its event's verdicts, the findings its guards read) and the checks the case went
    through this round."""
    facts = case_facts(session, case.id)
    grounds = transition_grounds(compiled, transition, (event.data or {}).get("guards", {}), facts)
    checks = checks_passed(session, compiled, case.id, case.round, facts)
    return notice_context(compiled, case, now, actor, transition, note, source, grounds=grounds, checks=checks,
                          facts=facts)
