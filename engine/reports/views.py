"""Plain-data views of cases for the CLI's tables and ``--json`` (no click, no rich here)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.base.clock import fmt, local
from engine.ops.cases import case_facts, trigger_statuses
from engine.ops.deploy import compiled_version
from engine.ops.people import case_people
from engine.ops.problems import STATUS_LABELS
from engine.ops.timers import pending_timers
from engine.store import problem_queries
from engine.store.models import Case, Event, Timer

TIMER_LABELS = {"deadline": "办理期限", "reminder": "催办提醒", "escalation": "逾期督办",
                "recurring": "定期报送提醒", "auto": "自动转换", "problem_reminder": "问题整改提醒",
                "problem_escalation": "问题逾期督办", "look_back": "回头看"}
PROBLEM_ACTIONS = {"add": "登记问题", "update": "修改问题", "close": "问题销号", "reopen": "重新打开问题"}


def case_row(case: Case, now: datetime) -> dict[str, Any]:
    wf = compiled_version(case.workflow_version).definition
    return {
        "ref": case.ref, "organization": case.organization.name, "org_code": case.organization.code,
        "township": case.township.name if case.township else "", "state": case.state,
        "state_label": wf.states[case.state].label, "round": case.round, "key_target": case.key_target,
        "weak_and_lax": case.weak_and_lax, "due": fmt(case.due_at, wf.timezone, end_of_day=True),
        "overdue": bool(case.due_at and case.due_at < now),
    }


def _timer_detail(timer: Timer, wf) -> str:
    """Why the timer falls when it does: the Chinese (the rule, then how the time was computed),
    then the English of the rule."""
    explain = timer.payload.get("explain", [])
    zh, en = _timer_basis(timer, wf)
    if timer.kind == "deadline" and explain:
        zh = ""  # a deadline's explanation already says the rule, with the date it gives
    return f"{'；'.join(filter(None, [zh, *explain]))} / {en}"


def _timer_basis(timer: Timer, wf) -> tuple[str, str]:
    p = timer.payload
    if timer.kind == "deadline":
        basis = p.get("basis", "")
        if basis.startswith("date:"):
            name = basis[5:]
            return f"工作日期“{wf.dates[name].label}”({name}) 当日结束", f"end of campaign date {name}"
        zh, en = _duration_words(basis[6:])
        return f"进入本阶段后{zh}", f"{en} after entering the state"
    if timer.kind in ("reminder", "escalation"):
        zh, en = _duration_words(p.get("offset", ""))
        side_zh, side_en = ("期限前", "before") if timer.kind == "reminder" else ("期限后", "after")
        return f"{side_zh}{zh}，通知模板 {p.get('notice')}", f"{en} {side_en} the deadline"
    if timer.kind == "recurring":
        return f"第 {p.get('occurrence')} 次，通知模板 {p.get('notice')}", f"occurrence {p.get('occurrence')} of {p.get('notice')}"
    if timer.kind in ("problem_reminder", "problem_escalation"):
        zh, en = _duration_words(p.get("offset", ""))
        side_zh, side_en = ("前", "before") if timer.kind == "problem_reminder" else ("后", "after")
        return (f"第{p.get('problem')}项问题期限{side_zh}{zh}，通知模板 {p.get('notice')}",
                f"{en} {side_en} the deadline of problem {p.get('problem')}")
    if timer.kind == "look_back":
        zh, en = _duration_words(p.get("after", ""))
        return f"进入本阶段后{zh}回头看，通知模板 {p.get('notice')}", f"look-back {en} after entering the state"
    return f"自动执行 {p.get('trigger')}", f"fires {p.get('trigger')} by itself"


def _duration_words(text: str) -> tuple[str, str]:
    """A duration stored in a timer ("1 days", "10 working days") in Chinese and in English."""
    from engine.spec.definition import Duration

    try:
        duration = Duration.model_validate(text)
    except ValueError:  # an older row's wording: shown as stored
        return text, text
    unit = duration.unit.replace("_", " ")
    return duration.zh, f"{duration.amount} {unit[:-1] if duration.amount == 1 else unit}"


def case_detail(session: Session, case: Case, now: datetime) -> dict[str, Any]:
    compiled = compiled_version(case.workflow_version)
    wf = compiled.definition
    facts = case_facts(session, case.id)
    detail = case_row(case, now)
    categories, kind = wf.problem_labels, case.organization.kind
    detail.update({
        "workflow": f"{wf.name} v{case.workflow_version.version}",
        "opened": fmt(case.opened_at, wf.timezone), "entered": fmt(case.entered_at, wf.timezone),
        "problems": [f"{p} {categories.get(p, '')}".rstrip() for p in case.problems],
        "flags": [wf.key_target_circumstances.get(f, f) for f in case.flags],
        "superior": case.organization.parent.name if case.organization.parent else "",
        "secretary": case.organization.secretary_name or "",
        # a fact of other kinds of organization (applies_to) is not this case's to record: not listed
        # as missing, only shown if it was recorded before the workflow said so
        "facts": [{"name": n, "label": f.label, "value": facts.get(n), "type": f.type, "system_only": f.system_only,
                   "many": f.many} for n, f in wf.facts.items()
                  if f.applies(kind) or facts.get(n) is not None],
        "timers": [{"kind": t.kind, "kind_label": TIMER_LABELS.get(t.kind, t.kind), "due": fmt(t.due_at, wf.timezone, end_of_day=t.kind == "deadline"),
                    "detail": _timer_detail(t, wf)} for t in pending_timers(session, case.id)],
        "triggers": [{"trigger": s.trigger, "label": s.label, "available": s.available, "dest": s.dest,
                      "dest_label": wf.states[s.dest].label if s.dest else "", "roles": list(s.roles),
                      "role_labels": [wf.roles.get(r, r) for r in s.roles],
                      "blocked_by": [{"guard": f.guard, "transition": f.transition, "reason_zh": f.reason_zh,
                                      "reason_en": f.reason_en} for f in s.failures]}
                     for s in trigger_statuses(session, case, now)],
        "problem_list": problem_rows(session, case, now),
        "history": history(session, case),
        # who is assigned (联系领导, 驻村干部…): now and to come, then the ended ones (engine.ops.people)
        "people": [asdict(a) for a in case_people(session, compiled, case.id, local(now, wf.timezone).date())],
    })
    return detail


def problem_rows(session: Session, case: Case, now: datetime) -> list[dict[str, Any]]:
    """The case's problem list (一支一策): each problem with its measures, who is responsible,
    its deadline (overdue or not), its status and how many files back it."""
    wf = compiled_version(case.workflow_version).definition
    problems = problem_queries.problems_of(session, case.id)
    files = problem_queries.evidence_counts(session, [p.id for p in problems])
    return [{"number": p.number, "category": p.category, "category_label": wf.problem_labels.get(p.category or 0, ""),
             "description": p.description, "measures": p.measures, "responsible": p.responsible,
             "responsible_registered": p.responsible_person_id is not None,
             "deadline": p.deadline.isoformat() if p.deadline else "",
             "overdue": p.status != "closed" and p.due_at is not None and p.due_at <= now,
             "status": p.status, "status_label": STATUS_LABELS.get(p.status, p.status),
             "opened": fmt(p.opened_at, wf.timezone), "opened_by": p.opened_by,
             "closed": fmt(p.closed_at, wf.timezone), "closed_by": p.closed_by or "", "evidence": files.get(p.id, 0)}
            for p in problems]


def history(session: Session, case: Case) -> list[dict[str, Any]]:
    wf = compiled_version(case.workflow_version).definition
    label = lambda s: wf.states[s].label if s in wf.states else (s or "")  # noqa: E731
    rows = []
    for e in session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)):
        if e.kind == "fact" and isinstance(e.data.get("assignment"), dict):
            what = _assignment_words(e.data)
        elif e.kind == "secretary":
            what = _secretary_words(e.data)
        elif e.kind == "fact" and e.data.get("new") is None:
            what = f"撤销事实 {e.data.get('fact')}（原为 {_value(e.data.get('old'))}）"
        elif e.kind == "fact":
            what = f"登记事实 {e.data.get('fact')} = {_value(e.data.get('new'))}"
            if isinstance(e.data.get("secretary"), dict):  # a secretary fact replaced the secretary
                what += f"（{_secretary_words(e.data)}）"
        elif e.kind == "timer":
            what = f"{TIMER_LABELS.get(e.trigger or '', e.trigger)}：发出通知 {e.data.get('notice')}"
        elif e.kind == "problem":
            what = _problem_event(e.data)
        elif e.kind == "evidence":  # engine.ops.evidence: a file whose hash is chained here
            what = (f"添加证据 #{e.data.get('evidence')} {e.data.get('name')}（sha256 {str(e.data.get('sha256'))[:12]}）"
                    + (f" → 事实 {e.data['fact']}" if e.data.get("fact") else "")
                    + (f" → 问题第{e.data['problem']}项" if e.data.get("problem") else ""))
        elif e.kind == "opened":
            what = f"列入排查，进入“{label(e.to_state)}”"
        else:
            what = f"{e.trigger}：“{label(e.from_state)}” → “{label(e.to_state)}”"
        warnings = [w["reason_zh"] for w in e.data.get("warnings", [])]
        # The figures that decided a transition (satisfaction, respondents…) belong in the story.
        basis = [v["reason_zh"] for v in e.data.get("guards", {}).values()
                 if v["outcome"] == "fail" or _numeric(v.get("figures", {}))]
        rows.append({"seq": e.seq, "at": fmt(e.at, wf.timezone), "actor": e.actor, "kind": e.kind,
                     "trigger": e.trigger, "from": e.from_state, "to": e.to_state, "round": e.round,
                     "what": what, "note": e.note or "", "basis": [b for b in basis if b not in warnings],
                     "warnings": warnings, "data": e.data})
    return rows


def _problem_event(data: dict[str, Any]) -> str:
    """A problem event in the history: what was done to which problem, and what changed."""
    action = data.get("action", "")
    fields = data.get("fields") or {}
    what = f"{PROBLEM_ACTIONS.get(action, action)} 第{data.get('number')}项"
    if action == "add":
        return f"{what}：{(fields.get('description') or [None, ''])[1]}"
    if action == "update":
        return f"{what}（{'、'.join(name for name in fields if name != 'responsible_person')}）"
    return what


def _assignment_words(data: dict[str, Any]) -> str:
    """A person fact's change as the history tells it: who was assigned or withdrawn, for when."""
    a, role = data["assignment"], data.get("fact")
    ended = "；".join(f"{x.get('person')}（{x.get('unit')}）至 {x.get('to')}" for x in a.get("ended", []))
    if a.get("action") == "assign":
        period = f"自 {a.get('from')}" + (f" 至 {a.get('to')}" if a.get("to") else "")
        what = f"指派 {role}：{a.get('person')}（{a.get('unit')}），{period}"
    elif a.get("action") == "unassign":
        what = f"解除指派 {role}：{a.get('person')}（{a.get('unit')}），至 {a.get('to')}"
    else:
        what = f"撤销事实 {role}"
    return what + (f"；前任/结束：{ended}" if ended else "")


def _secretary_words(data: dict[str, Any]) -> str:
    s = data.get("secretary") or {}
    return f"更换书记：{s.get('previous') or '—'} → {s.get('name')}，自 {s.get('from')}"


def _numeric(figures: dict[str, Any]) -> bool:
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in figures.values())


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)
