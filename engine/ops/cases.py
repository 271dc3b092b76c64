"""Cases: open one, record facts, fire triggers. The caller owns the transaction.

Firing a trigger is one unit: the state change, its event, its timers and its notices are
written together or not at all. A refusal raises before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.base import failpoints
from engine.base.domain import ORG_KIND_LABELS
from engine.base.errors import (
    BadInput,
    GuardFailure,
    InvalidValue,
    NotFound,
    PermissionDenied,
    Refused,
    TransitionRefused,
)
from engine.base.natural import natural_key
from engine.base.text import many_lines, visible
from engine.ops.audit import chain
from engine.ops.deploy import compiled_version
from engine.ops.duties import duty_counts, ensure_unit_duties
from engine.ops.notices import queue_notice, transition_notice_context
from engine.ops.officials import Actor
from engine.ops.orgs import case_kind_refusal, get_org, is_within
from engine.ops.timers import cancel_case_timers, schedule_state_timers
from engine.spec.machine import CompiledWorkflow, guard_passes, split_guard
from engine.store import case_queries, problem_queries
from engine.store.facts import case_facts, fact_row, fact_rows
from engine.store.models import Campaign, Case, CaseFact, Event, Organization
from rules.base import CaseView, Outcome, RuleContext, Verdict, evaluate_safely, passed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.definition import Fact, Workflow


def get_case(session: Session, ref: str) -> Case:
    """A case by its reference (``2014-1-0003``) or by its organization's code.

    By reference it is one query, with what every command reads next (the organization, its
    superior, the township) joined."""
    case = case_queries.case_by_ref(session, ref)
    if case is None:
        matches = case_queries.cases_by_org_code(session, ref)
        if len(matches) == 1:
            return matches[0]
        raise NotFound("case 整顿对象", ref, "list cases with 'rectify case list'")
    return case


def record_event(session: Session, case: Case, actor: Actor, now: datetime, kind: str, *, trigger: str | None = None,
            from_state: str | None = None, to_state: str | None = None, note: str | None = None,
            data: dict[str, Any] | None = None) -> Event:
    data = dict(data or {})
    if actor.via is not None:  # how the official acted (web, api, cli client, local): chained with the rest
        data["via"] = actor.via
    event = Event(case_id=case.id, at=now, actor=actor.name, kind=kind, trigger=trigger,
                  from_state=from_state, to_state=to_state, round=case.round, note=note, data=data)
    chain(session, case, event)  # numbered and hash-linked from the head on the case row (optimistic lock)
    session.add(event)
    case.updated_at = now  # every change bumps the case's version (optimistic locking)
    session.flush()
    return event


def check_jurisdiction(actor: Actor, org: Organization) -> None:
    """Refuse an actor acting on an organization outside their jurisdiction."""
    _check_jurisdiction(actor, org)


def _check_jurisdiction(actor: Actor, org: Organization) -> None:
    if actor.is_system or actor.jurisdiction is None:
        return
    if not is_within(org, actor.jurisdiction):
        raise PermissionDenied(
            f"{actor.name} 的管辖范围是“{actor.jurisdiction.name}”，不包括“{org.name}” / "
            f"{org.name} is outside {actor.name}'s jurisdiction ({actor.jurisdiction.name})")


def open_case(session: Session, campaign: Campaign, org_code: str, actor: Actor, now: datetime, *,
              problems: tuple[int, ...] = (), flags: tuple[str, ...] = (), key_target: bool = False,
              weak_and_lax: bool = False, measures: str | None = None) -> Case:
    """Register an organization as a case of ``campaign``, in the workflow's initial state."""
    # kept as typed, ends included: the ledger exports them and must import them back exactly
    measures = measures and many_lines(measures, "整改措施", "the measures", strip=False)
    version = campaign.current_version
    compiled = compiled_version(version)
    wf = compiled.definition
    org = get_org(session, org_code)
    if wf.open_roles and not actor.is_system and actor.role not in wf.open_roles:
        allowed = "、".join(wf.roles[r] for r in wf.open_roles)
        raise PermissionDenied(f"只有{allowed}可以登记整顿对象 / only {', '.join(wf.open_roles)} may open cases "
                               f"({actor.name} is {actor.role})")
    _check_jurisdiction(actor, org)
    refusal = case_kind_refusal(org, wf.openable_kinds)
    if refusal is not None:  # a rule of the workflow (case_kinds), not a typing mistake: exit 1
        raise Refused(refusal)
    _check_vocabulary(wf, problems, flags)
    exists = case_queries.case_ref_of_org(session, campaign.id, org.id)
    if exists:
        raise BadInput(f"“{org.name}”已是整顿对象 / {org.code} is already case {exists} in this campaign")
    campaign.case_seq += 1
    ref = f"{campaign.year}-{campaign.id}-{campaign.case_seq:04d}"
    case = Case(ref=ref, sort_key=natural_key(ref), campaign_id=campaign.id,
                organization=org, township_id=org.township_id, workflow_version_id=version.id,
                state=wf.initial_state, round=1, key_target=key_target or bool(flags), weak_and_lax=weak_and_lax,
                problems=sorted(set(problems)), flags=list(dict.fromkeys(flags)), measures=measures,
                opened_at=now, entered_at=now, updated_at=now)
    session.add(case)
    session.flush()
    record_event(session, case, actor, now, "opened", to_state=case.state,
            data={"workflow_version": version.version, "problems": case.problems, "flags": case.flags,
                  "key_target": case.key_target, "weak_and_lax": weak_and_lax})
    schedule_state_timers(session, compiled, case, now)
    # what its township owes once it has a case (progress reports): engine.ops.duties
    ensure_unit_duties(session, campaign, compiled, now, [org.township_id] if org.township_id else [])
    return case


def _check_vocabulary(wf: Workflow, problems: tuple[int, ...], flags: tuple[str, ...]) -> None:
    """Problem categories and key-target circumstances are the workflow's own words."""
    categories = wf.problem_labels
    for p in problems:
        if p not in categories:
            raise InvalidValue(f"未知问题类别 / unknown problem category {p}; categories (problem_categories): "
                               + ("; ".join(f"{k} {v}" for k, v in categories.items()) or "none"))
    for f in flags:
        if f not in wf.key_target_circumstances:
            raise InvalidValue(f"未知重点整顿情形 / unknown flag '{visible(f)}'; flags (key_target_circumstances): "
                               + ("; ".join(f"{k}（{v}）" for k, v in wf.key_target_circumstances.items()) or "none"))


# --- facts -----------------------------------------------------------------------------

_TRUE = {"true", "yes", "y", "1", "是", "已", "有"}
_FALSE = {"false", "no", "n", "0", "否", "未", "无"}


def parse_fact(kind: str, raw: str) -> Any:
    text = raw.strip()
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise InvalidValue(f"'{visible(raw)}' 不是是/否值 / is not yes/no: write 是/否 or true/false")
    if kind == "int":
        # ASCII digits only: str.isdigit() takes "²" and "١", which int() then refuses or reads
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise InvalidValue(f"'{visible(raw)}' 不是非负整数 / is not a whole number ≥ 0 (at most 18 digits)")
        return int(text)
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidValue(f"'{visible(raw)}' 不是日期 / is not a date: write YYYY-MM-DD") from None
    text = many_lines(raw, "事实内容", "the value")
    if not text:
        raise InvalidValue("内容为空 / the value is empty")
    return text


def checked_fact(session: Session, case: Case, name: str, actor: Actor, setting: bool,
                 system: bool = False) -> tuple[CompiledWorkflow, Fact]:
    """The case's workflow and its fact ``name``, once the actor may change it: a fact the
    workflow declares, a case within the actor's jurisdiction, not the system's own, and (when
    ``setting``) one that concerns the case's kind of organization."""
    compiled = compiled_version(case.workflow_version)
    wf = compiled.definition
    if name not in wf.facts:
        known = "; ".join(f"{k}（{f.label}）" for k, f in wf.facts.items())
        raise NotFound("fact 事实", name, f"facts of this workflow: {known}")
    _check_jurisdiction(actor, case.organization)
    if wf.facts[name].system_only and not system:
        raise PermissionDenied(f"“{wf.facts[name].label}”由系统自动登记，不能手工修改 / '{name}' is recorded by "
                               "the system (e.g. the spot-check draw) and cannot be set by hand")
    if setting and not wf.facts[name].applies(case.organization.kind):
        raise Refused(_fact_kind_refusal(name, wf.facts[name], case.organization))
    return compiled, wf.facts[name]


def set_fact(session: Session, case: Case, name: str, raw: str | None, actor: Actor,
             now: datetime, system: bool = False) -> tuple[Any, Any]:
    """Record a fact (``raw`` None clears it); returns (old value, new value).

    The fact's own guards (e.g. 不转化不撤离 on the stationed cadre) judge the facts as
    they would be after the change; a refusal writes nothing. A person fact assigns the person
    named (or, cleared, ends its assignments: engine.ops.people); a secretary fact makes the
    person named the organization's secretary (engine.ops.secretaries).
    """
    compiled, spec = checked_fact(session, case, name, actor, raw is not None, system)
    if spec.type == "person":
        from engine.ops import people  # it records its facts through this module

        return people.set_person_fact(session, compiled, case, name, raw, actor, now)
    value = None if raw is None else parse_fact(spec.type, raw)
    data: dict[str, Any] = {}
    if spec.type == "secretary" and value is not None:
        from engine.ops.secretaries import appoint_by_fact

        data = appoint_by_fact(session, compiled, case, name, value, actor, now)
    return write_fact(session, compiled, case, name, value, actor, now, data)


def write_fact(session: Session, compiled: CompiledWorkflow, case: Case, name: str, value: Any, actor: Actor,
               now: datetime, data: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """Store fact ``name`` of ``case`` as ``value`` (None: cleared) once its guards pass, and
    record its event (``data``: more the event keeps, e.g. the assignment that changed it);
    returns (old value, new value)."""
    wf = compiled.definition
    facts = case_facts(session, case.id)
    old = facts.get(name)
    if wf.facts[name].guards:
        after = {k: v for k, v in facts.items() if k != name} | ({} if value is None else {name: value})
        verdicts = evaluate_guards(session, compiled, case, set(wf.facts[name].guards), now, after)
        labels = {n: u.label for n, u in wf.rules.items()}
        failures = [GuardFailure(f"fact {name}", g, f"{labels.get(g) or g}：{verdicts[g].reason_zh}",
                                 verdicts[g].reason_en) for g in wf.facts[name].guards if not verdicts[g].allows]
        if failures:
            raise TransitionRefused(case.ref, name, f"{case.ref} 不能{'撤销' if value is None else '修改'}“{wf.facts[name].label}”"
                                    f" / the change of '{name}' is refused:", failures)
    row = fact_row(session, case.id, name)
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(CaseFact(case_id=case.id, name=name, value={"v": value}, set_at=now, set_by=actor.name))
    else:
        row.value, row.set_at, row.set_by = {"v": value}, now, actor.name
    record_event(session, case, actor, now, "fact", data={"fact": name, "old": old, "new": value, **(data or {})})
    return old, value


def _fact_kind_refusal(name: str, fact: Fact, org: Organization) -> str:
    """Why ``fact`` cannot be recorded on a case of ``org``: the workflow limits it to some kinds.

    A rule of the workflow, not a typing mistake (exit 1, recorded like any refusal), as a case of a
    kind ``case_kinds`` leaves out. Clearing stays allowed: a value recorded before the workflow said
    so can be taken back."""
    kinds = fact.applies_to or ()
    zh, en = "、".join(ORG_KIND_LABELS.get(k, k) for k in kinds), ", ".join(kinds)
    return (f"“{fact.label}”（{name}）只适用于{zh}党组织，“{org.name}”（{org.code}）是"
            f"{ORG_KIND_LABELS.get(org.kind, org.kind)}党组织，不能登记 / fact '{name}' applies to {en} "
            f"organizations only; {org.code} is a {org.kind} organization (applies_to)")


def not_applicable(kind: str) -> Verdict:
    """The verdict of a rule instance whose ``applies_to`` leaves out a case's kind: passed."""
    return passed(f"不适用于{ORG_KIND_LABELS.get(kind, kind)}党组织", f"not applicable to {kind} organizations",
                  not_applicable=kind)


# --- guards and firing -----------------------------------------------------------------

def _figures(session: Session, case: Case, needs: set[str], now: datetime) -> dict[str, Any]:
    from engine.ops.quota import jurisdiction_counts

    figures: dict[str, Any] = {}
    if "jurisdiction_counts" in needs:
        initial = compiled_version(case.workflow_version).definition.initial_state
        figures.update(jurisdiction_counts(session, case.campaign_id, case.township_id, initial, case.id,
                                           case.organization.path))
    if "recurring_sent" in needs:
        figures["recurring_sent"] = case_queries.recurring_sent(session, case.id, case.round)
    if "problem_list" in needs:  # rules.problems: the case's problem list, its open numbers
        figures["problem_list"] = problem_queries.list_figures(session, case.id)
    if "duty_counts" in needs:  # the township's filings, not the case's (engine.ops.duties)
        figures["duty_counts"] = duty_counts(session, case.campaign_id, case.township_id, now)
    return figures


def evaluate_guards(session: Session, compiled: CompiledWorkflow, case: Case, names: set[str],
                    now: datetime, facts: dict[str, Any] | None = None,
                    gathered: dict[str, dict[str, Any]] | None = None) -> dict[str, Verdict]:
    """The verdict of each rule instance in ``names`` on ``case``; one whose ``applies_to`` leaves out
    the case's kind of organization is not run (nor are its figures gathered): it passes.
    ``gathered``: per need, the figures it brings, read for many cases at once (the to-do list);
    the other needs' figures are read here."""
    kind = case.organization.kind
    uses = compiled.definition.rules
    skipped = {name: not_applicable(kind) for name in names if not uses[name].applies(kind)}
    rules = {name: compiled.loaded.rules[name] for name in names if name not in skipped}
    needs = set().union(*(r.needs for r in rules.values())) if rules else set()
    given = {need: gathered[need] for need in needs if gathered and need in gathered}
    figures = _figures(session, case, needs - set(given), now)
    for part in given.values():
        figures.update(part)
    ctx = RuleContext(
        case=CaseView(case.ref, case.state, case.round, case.key_target, case.weak_and_lax,
                      tuple(case.problems), case.entered_at),
        facts=case_facts(session, case.id) if facts is None else facts, now=now,
        dates=compiled.definition.resolved_dates(), figures=figures,
        fact_labels={n: f.label for n, f in compiled.definition.facts.items()})
    return skipped | {name: evaluate_safely(name, rule, ctx) for name, rule in rules.items()}


def guard_failures(candidates, verdicts: dict[str, Verdict], labels: dict[str, str]) -> list[GuardFailure]:
    failures = []
    for t in candidates:
        for guard in t.guards:
            name, negated = split_guard(guard)
            verdict = verdicts[name]
            if not guard_passes(verdict, negated):
                label = labels.get(name) or name
                if negated and verdict.outcome is not Outcome.ERROR:
                    zh, en = f"“{label}”已满足（本转换要求不满足）：{verdict.reason_zh}", f"'{name}' holds: {verdict.reason_en}"
                else:
                    zh, en = f"{label}：{verdict.reason_zh}", verdict.reason_en
                failures.append(GuardFailure(f"{t.trigger}: {'/'.join(t.sources)} → {t.dest}", guard, zh, en))
    return failures


@dataclass
class FireResult:
    case: Case
    source: str
    dest: str
    event: Event
    warnings: list[Verdict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _allowed_candidates(compiled: CompiledWorkflow, case: Case, trigger: str, actor: Actor):
    wf = compiled.definition
    if trigger not in compiled.by_trigger:
        available = ", ".join(compiled.triggers_from(case.state)) or "none"
        raise NotFound("trigger 操作", trigger, f"triggers from '{case.state}' now: {available}")
    candidates = compiled.candidates(trigger, case.state)
    if not candidates:
        available = ", ".join(compiled.triggers_from(case.state)) or "none"
        raise TransitionRefused(case.ref, trigger,
                                f"{case.ref} 当前处于“{wf.states[case.state].label}”，不能执行“{trigger}” / "
                                f"'{trigger}' is not allowed in state '{case.state}'; available now: {available}")
    if actor.is_system:
        return candidates
    allowed = [t for t in candidates if not t.roles or actor.role in t.roles]
    if not allowed:
        roles = sorted({r for t in candidates for r in t.roles})
        raise PermissionDenied(
            f"{actor.name}（{wf.roles.get(actor.role or '', actor.role)}）无权执行“{trigger}”，须由"
            f"{'、'.join(wf.roles[r] for r in roles)}办理 / role '{actor.role}' may not fire '{trigger}'; "
            f"allowed roles: {', '.join(roles)}")
    _check_jurisdiction(actor, case.organization)
    return allowed


def fire(session: Session, case: Case, trigger: str, actor: Actor, now: datetime,
         note: str | None = None) -> FireResult:
    """Fire ``trigger`` on ``case`` as ``actor``; raise (writing nothing) if refused."""
    note = note and many_lines(note, "备注", "the note")
    compiled = compiled_version(case.workflow_version)
    candidates = _allowed_candidates(compiled, case, trigger, actor)
    names = {split_guard(g)[0] for t in candidates for g in t.guards}
    verdicts = evaluate_guards(session, compiled, case, names, now)
    transition = compiled.fire(case.state, trigger, verdicts, actor.role)
    if transition is None:
        labels = {n: u.label for n, u in compiled.definition.rules.items()}
        raise TransitionRefused(case.ref, trigger,
                                f"{case.ref} 不满足“{trigger}”的条件 / guards refused '{trigger}' on {case.ref}:",
                                guard_failures(candidates, verdicts, labels))
    failpoints.point("fire.before_write")
    return _apply(session, compiled, case, transition, actor, now, note, verdicts)


def _apply(session: Session, compiled: CompiledWorkflow, case: Case, transition, actor: Actor,
           now: datetime, note: str | None, verdicts: dict[str, Verdict]) -> FireResult:
    source = case.state
    used = {split_guard(g)[0] for g in transition.guards}
    warnings = [v for n, v in verdicts.items() if n in used and v.outcome is Outcome.WARN]
    cancel_case_timers(session, case.id, now)
    case.state = transition.dest
    cleared: dict[str, Any] = {}
    if transition.new_round:
        case.round += 1
        cleared = _clear_round_facts(session, compiled, case)
    case.entered_at = now
    failpoints.point("fire.after_state")
    event = record_event(session, case, actor, now, "transition", trigger=transition.trigger, from_state=source,
                    to_state=case.state, note=note,
                    data={"guards": {n: verdicts[n].as_dict() for n in sorted(used)},
                          "warnings": [w.as_dict() for w in warnings],
                          **({"cleared_facts": cleared} if cleared else {})})
    failpoints.point("fire.after_event")
    schedule_state_timers(session, compiled, case, now)
    result = FireResult(case, source, case.state, event, warnings)
    if transition.notice:
        context = transition_notice_context(session, compiled, case, now, actor.name, transition, note, source, event)
        queue_notice(session, compiled, transition.notice, context,
                     f"{case.ref}:event:{event.seq}:{transition.notice}", case, event, now, transition.notify)
        result.notices.append(transition.notice)
        failpoints.point("fire.after_outbox")
    return result


def _clear_round_facts(session: Session, compiled: CompiledWorkflow, case: Case) -> dict[str, Any]:
    """A new round is checked afresh: drop the facts the workflow marks ``per_round``."""
    names = [n for n, f in compiled.definition.facts.items() if f.per_round]
    rows = fact_rows(session, case.id, names)
    for row in rows:
        session.delete(row)
    return {row.name: row.value.get("v") for row in rows}


@dataclass
class TriggerStatus:
    trigger: str
    label: str
    dest: str | None  # where it would go now, if it can fire
    roles: tuple[str, ...]
    failures: list[GuardFailure]

    @property
    def available(self) -> bool:
        return self.dest is not None


def trigger_statuses(session: Session, case: Case, now: datetime, facts: dict[str, Any] | None = None,
                     gathered: dict[str, dict[str, Any]] | None = None) -> list[TriggerStatus]:
    """For each trigger from the case's state: would it fire now, and if not, why not.
    ``facts`` and ``gathered`` (``evaluate_guards``), when given, were read for many cases at
    once (engine.ops.todo)."""
    compiled = compiled_version(case.workflow_version)
    facts = case_facts(session, case.id) if facts is None else facts
    labels = {n: u.label for n, u in compiled.definition.rules.items()}
    statuses = []
    for trigger in compiled.triggers_from(case.state):
        candidates = compiled.candidates(trigger, case.state)
        names = {split_guard(g)[0] for t in candidates for g in t.guards}
        verdicts = evaluate_guards(session, compiled, case, names, now, facts, gathered)
        chosen = compiled.fire(case.state, trigger, verdicts)
        roles = tuple(sorted({r for t in candidates for r in t.roles}))
        statuses.append(TriggerStatus(trigger, candidates[0].label if chosen is None else chosen.label,
                                      chosen.dest if chosen else None, roles,
                                      [] if chosen else guard_failures(candidates, verdicts, labels)))
    return statuses


def list_cases(session: Session, campaign: Campaign | None = None, state: str | None = None,
               township: Organization | None = None, overdue_at: datetime | None = None,
               limit: int | None = None, within: Organization | None = None) -> list[Case]:
    """Cases by reference, filtered; ``within`` keeps those of organizations under that
    jurisdiction (the reader's)."""
    return case_queries.list_cases(
        session, campaign_id=campaign.id if campaign is not None else None, state=state,
        township_id=township.id if township is not None else None, overdue_at=overdue_at, limit=limit,
        within_path=within.path if within is not None else None)
