"""What units owe the county (a township's 汇总表 due 03-16, its progress reports on fixed dates, its
survey results): the occurrences, their filing (报送) and return (退回), and the reminders and
escalations the daemon sends a unit that has not filed.

A duty is the unit's, not a case's: the county's confirmation of cases never makes a township
late, and a township that files nothing is chased. Each occurrence is a ``UnitDuty`` row created
when the workflow is deployed (every unit of the level) or when a unit's first case is opened
(a duty ``only_with_cases``); its ``next_at`` is its own timer, read by the daemon along a
partial index, so a tick's cost is what is due. Filings and returns are appended to a
hash-chained log (``DutyAction``) that ``rectify audit verify`` walks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.cndate import closing_day, cn_date, cn_day
from engine.base.errors import InvalidValue, NotFound, PermissionDenied, Refused
from engine.base.text import many_lines
from engine.ops.deploy import compiled_version
from engine.ops.documents import document_context, numbered
from engine.ops.notice_facts import deadline_facts
from engine.ops.notices import notice_row, officials_in_roles, pick_recipients, workflow_context
from engine.ops.officials import Actor
from engine.ops.orgs import is_within
from engine.spec.definition import Duty
from engine.spec.duty_plan import DutyStep, due_boundary, duty_steps, next_step_after
from engine.spec.machine import CompiledWorkflow
from engine.store import duty_queries
from engine.store.models import Campaign, DutyAction, DutyStatus, Notice, Organization, UnitDuty

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# How an occurrence stands, as the dashboard, the bulletin and `rectify duty list` say it.
STANDING = {"done": "按时报送 on time", "late": "逾期报送 filed late", "missing": "逾期未报 overdue",
            "open": "待报送 not yet due"}


# --- the occurrences ------------------------------------------------------------------------------

def ensure_unit_duties(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime,
                       unit_ids: Iterable[int] | None = None) -> int:
    """Create the occurrences the workflow's duties give ``unit_ids`` (None: every unit that owes
    them, as at a deploy) that do not exist yet; returns how many were created. A duty owed
    only by units with cases is not owed for a date already past when the unit's first case
    was opened."""
    wf = compiled.definition
    if not wf.duties:
        return 0
    given = None if unit_ids is None else {u for u in unit_ids if u is not None}
    if given is not None and not given:
        return 0
    units = duty_queries.units_by_id(session, given) if given is not None else None
    with_cases: set[int] | None = None
    existing = duty_queries.existing_keys(session, campaign.id, given)
    dates, tz, created = wf.resolved_dates(), wf.timezone, 0
    for name, duty in wf.duties.items():
        owing = [u for u in (units if units is not None else duty_queries.units_of_kind(session, duty.owed_by))
                 if u.kind == duty.owed_by]
        if duty.only_with_cases and given is None:
            if with_cases is None:
                with_cases = duty_queries.units_with_cases(session, campaign.id)
            owing = [u for u in owing if u.id in with_cases]
        for number, day in enumerate(duty.days(wf.year, dates), start=1):
            due_at = due_boundary(day, tz)
            if duty.only_with_cases and due_at <= now:
                continue
            steps = duty_steps(duty, due_at, compiled.loaded.calendar, tz)
            for unit in owing:
                if (unit.id, name, number) in existing:
                    continue
                session.add(UnitDuty(campaign_id=campaign.id, unit_id=unit.id, duty=name, occurrence=number,
                                     due_at=due_at, status=DutyStatus.OPEN.value, submitted_at=None,
                                     next_at=steps[0].at if steps else None, step=0))
                created += 1
    if created:
        session.flush()
    return created


def standing(row: UnitDuty, now: datetime) -> str:
    """done (filed by its date), late (filed after it), missing (its date passed, nothing
    stands), or open (not due yet). A filing made after ``now`` does not stand yet: a report as of
    an earlier day shows what stood then, as its other figures do."""
    if row.status == DutyStatus.SUBMITTED.value and row.submitted_at is not None and row.submitted_at <= now:
        return "done" if row.submitted_at <= row.due_at else "late"
    return "missing" if now >= row.due_at else "open"


# --- the daemon: reminders and escalations -----------------------------------------------------------

def fire_due_duties(session: Session, now: datetime, limit: int = 200) -> list[tuple[str, str]]:
    """Send the reminder or escalation due for each occurrence whose timer is due and which is
    still not filed; returns what was sent: (reminder | escalation, in words). After a stop, only the latest step due is
    sent (a reminder already past its date is not); the occurrence's timer moves to its next
    step, or ends."""
    sent: list[tuple[str, str]] = []
    compiled_of: dict[int, CompiledWorkflow] = {}
    for row in duty_queries.due_duties(session, now, limit):
        if row.campaign_id not in compiled_of:
            campaign = session.get(Campaign, row.campaign_id)
            assert campaign is not None
            compiled_of[row.campaign_id] = compiled_version(campaign.current_version)
        compiled = compiled_of[row.campaign_id]
        duty = compiled.definition.duties.get(row.duty)
        if duty is None or row.status == DutyStatus.SUBMITTED.value:
            row.next_at = None  # filed, or no longer a duty of the deployed workflow
            continue
        steps = duty_steps(duty, row.due_at, compiled.loaded.calendar, compiled.definition.timezone)
        after = next_step_after(steps, now)
        due_now = [i for i in range(row.step, after)]
        if due_now:
            index = due_now[-1]
            step = steps[index]
            if step.kind == "escalation" or now < row.due_at:  # a reminder past the date says nothing true
                issue_step(session, compiled, row, duty, step, index, now)
                sent.append((step.kind, f"{row.unit.name}“{duty.label}”{'督办' if step.kind == 'escalation' else '提醒'}"
                                        f" / {row.duty} {step.kind} to {row.unit.code}"))
        row.step = after
        row.next_at = steps[after].at if after < len(steps) else None
    return sent


def issue_step(session: Session, compiled: CompiledWorkflow, row: UnitDuty, duty: Duty, step: DutyStep, index: int,
               now: datetime) -> Notice:
    """The notice of one reminder or escalation of ``row``, into the outbox."""
    return _issue(session, compiled, row, duty, step.notice, step.audience, step.kind, now,
                  f"duty:{row.id}:{index}", offset=step.offset)


def _issue(session: Session, compiled: CompiledWorkflow, row: UnitDuty, duty: Duty, template: str,
           audience: tuple[str, ...], kind: str, now: datetime, key: str, offset: str = "",
           reason: str = "") -> Notice:
    context = duty_notice_context(compiled, row, duty, template, audience, kind, now, offset, reason)
    # addressed to the unit itself (its document part is in the context): rendered, then numbered
    rendered, number = numbered(session, compiled, compiled.renderer.render(template, context), now)
    recipients, unreached = unit_recipients(session, compiled, row.unit, audience)
    notice = Notice(**notice_row(key=key, template=template, template_hash=rendered.template_hash, title=rendered.title,
                                 body=rendered.body, recipients=recipients, now=now, missing=rendered.missing,
                                 document_number=number))
    notice.unreached = unreached
    session.add(notice)
    return notice


def duty_notice_context(compiled: CompiledWorkflow, row: UnitDuty, duty: Duty, template: str,
                        audience: tuple[str, ...], kind: str, now: datetime, offset: str = "",
                        reason: str = "") -> dict[str, Any]:
    """What a duty's notice may say: the unit, the duty and which of its dates, the date and the
    days left or overdue on the calendar now; no case."""
    wf = compiled.definition
    today = local(now, wf.timezone).date()
    return {
        "workflow": workflow_context(compiled),
        "case": None, "transition": None, "recurring": None, "bulletin": None,
        "deadline": {"kind": kind, "label": duty.label, "offset": offset, "days": 0, "notice_label": "",
                     **deadline_facts(kind, row.due_at, now, wf.timezone)},
        "duty": {"name": row.duty, "label": duty.label, "unit": row.unit.name, "occurrence": row.occurrence,
                 "occurrences": len(duty.due), "returned": bool(reason), "reason": reason},
        "document": document_context(compiled, template, audience, row.unit.name),
        "now": cn_date(today), "today": cn_day(today, today.year), "actor": "system",
    }


def unit_recipients(session: Session, compiled: CompiledWorkflow, unit: Organization,
                    audience: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The officials of ``audience`` whose jurisdiction holds ``unit``, and the roles of it that
    reach nobody (shown loudly, never dropped)."""
    found = pick_recipients(officials_in_roles(session, audience), {}, unit.path, audience) if audience else []
    reached = {address.get("role") for address in found}
    roles = compiled.definition.roles
    return found, [{"role": r, "label": roles.get(r, r)} for r in audience if r not in reached]


# --- filing and returning ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Filed:
    """A submission or a return, as committed."""

    unit: str
    unit_code: str
    duty: str
    label: str
    occurrence: int
    due: str
    standing: str
    action_id: int
    seq: int


def duty_spec(compiled: CompiledWorkflow, name: str) -> Duty:
    duties = compiled.definition.duties
    if name not in duties:
        listed = "; ".join(f"{k}（{d.label}）" for k, d in duties.items()) or "none"
        raise InvalidValue(f"未知的报送事项 / unknown duty '{name}'; the workflow's duties: {listed}")
    return duties[name]


def occurrence_of(session: Session, campaign: Campaign, compiled: CompiledWorkflow, unit: Organization, name: str,
                  occurrence: int | None, now: datetime, *, filed: bool) -> UnitDuty:
    """The occurrence of duty ``name`` of ``unit`` meant: number ``occurrence``, or the earliest
    still open (``filed`` False: to file) or the latest filed (``filed`` True: to return)."""
    duty = duty_spec(compiled, name)
    if unit.kind != duty.owed_by:
        raise InvalidValue(f"“{unit.name}”不是报送“{duty.label}”的单位（应为 {duty.owed_by}）/ {unit.code} is a "
                           f"{unit.kind}; '{name}' is owed by each {duty.owed_by}")
    ensure_unit_duties(session, campaign, compiled, now, [unit.id])
    rows = duty_queries.duties_of(session, campaign.id, [unit.id], name)
    if not rows:
        raise Refused(f"“{unit.name}”没有应报送的“{duty.label}”（仅有整顿对象的单位报送）/ {unit.code} owes no "
                      f"'{name}': it is owed only by units with a case")
    if occurrence is not None:
        row = next((r for r in rows if r.occurrence == occurrence), None)
        if row is None:
            raise NotFound("occurrence 报送次数", f"{name} #{occurrence}",
                           f"{unit.code} owes '{name}' {len(rows)} time(s): --occurrence "
                           f"{', '.join(str(r.occurrence) for r in rows)}")
        return row
    wanted = DutyStatus.SUBMITTED.value if filed else DutyStatus.OPEN.value
    candidates = [r for r in rows if r.status == wanted]
    if not candidates:
        if filed:
            raise Refused(f"“{unit.name}”尚未报送“{duty.label}”，无可退回 / {unit.code} has filed no '{name}' to return")
        raise Refused(f"“{unit.name}”的“{duty.label}”均已报送 / every '{name}' of {unit.code} is filed; to file again, "
                      "the county returns the filing first (rectify duty return)")
    return candidates[-1] if filed else candidates[0]


def submit(session: Session, campaign: Campaign, compiled: CompiledWorkflow, actor: Actor, unit: Organization,
           name: str, occurrence: int | None, note: str, files: list[dict[str, Any]], now: datetime) -> tuple[UnitDuty, DutyAction]:
    """File an occurrence (报送): who, when, the note and the files' hashes, chained; the
    occurrence stops being chased."""
    duty = duty_spec(compiled, name)
    _may_file(actor, unit, duty, compiled)
    note = many_lines(note or "", "报送说明", "the note") if note else ""
    row = occurrence_of(session, campaign, compiled, unit, name, occurrence, now, filed=False)
    if row.status == DutyStatus.SUBMITTED.value:
        raise Refused(f"“{unit.name}”第 {row.occurrence} 次“{duty.label}”已报送；如需重报，请县委组织部先退回 / "
                      f"occurrence {row.occurrence} of '{name}' is already filed; the county returns it first "
                      "(rectify duty return)")
    action = append_action(session, row, "submit", actor.name, note, files, now, actor.via)
    row.status, row.submitted_at, row.next_at = DutyStatus.SUBMITTED.value, now, None
    return row, action


def give_back(session: Session, campaign: Campaign, compiled: CompiledWorkflow, actor: Actor,
              unit: Organization, name: str, occurrence: int | None, reason: str, now: datetime) -> tuple[UnitDuty, DutyAction]:
    """Return a filing (退回) with the reason: the occurrence is open again, chased by its
    remaining steps, and the unit is told why."""
    duty = duty_spec(compiled, name)
    if actor.is_system or actor.role not in duty.returned_by:
        allowed = "、".join(compiled.definition.roles.get(r, r) for r in duty.returned_by)
        raise PermissionDenied(f"只有{allowed or '工作流 returned_by 所列角色'}可以退回“{duty.label}” / only "
                               f"{', '.join(duty.returned_by) or 'the roles of its returned_by (none declared)'} may "
                               f"return '{name}' ({actor.name} is {actor.role})")
    if actor.jurisdiction is not None and not is_within(unit, actor.jurisdiction):
        raise PermissionDenied(f"“{unit.name}”不在{actor.name}的管辖范围内 / {unit.code} is outside {actor.name}'s "
                               "jurisdiction")
    reason = many_lines(reason or "", "退回理由", "the reason")
    if not reason:
        raise InvalidValue("退回须写明理由 / a return needs its reason (--reason)")
    row = occurrence_of(session, campaign, compiled, unit, name, occurrence, now, filed=True)
    if row.status != DutyStatus.SUBMITTED.value:
        raise Refused(f"第 {row.occurrence} 次“{duty.label}”尚未报送，无可退回 / occurrence {row.occurrence} of "
                      f"'{name}' is not filed: nothing to return")
    action = append_action(session, row, "return", actor.name, reason, [], now, actor.via)
    steps = duty_steps(duty, row.due_at, compiled.loaded.calendar, compiled.definition.timezone)
    after = next_step_after(steps, now)
    row.status, row.submitted_at = DutyStatus.OPEN.value, None
    row.step, row.next_at = after, steps[after].at if after < len(steps) else None
    if duty.returned_notice:
        _issue(session, compiled, row, duty, duty.returned_notice, duty.remind,
               "escalation" if now >= row.due_at else "reminder", now, f"duty-return:{action.seq}", reason=reason)
    return row, action


def _may_file(actor: Actor, unit: Organization, duty: Duty, compiled: CompiledWorkflow) -> None:
    if actor.is_system:
        return
    if duty.filed_by and actor.role not in duty.filed_by:
        allowed = "、".join(compiled.definition.roles.get(r, r) for r in duty.filed_by)
        raise PermissionDenied(f"只有{allowed}可以报送“{duty.label}” / only {', '.join(duty.filed_by)} may file "
                               f"'{duty.label}' ({actor.name} is {actor.role})")
    if actor.jurisdiction is not None and not is_within(unit, actor.jurisdiction):
        raise PermissionDenied(f"{actor.name} 的管辖范围是“{actor.jurisdiction.name}”，不包括“{unit.name}” / "
                               f"{unit.code} is outside {actor.name}'s jurisdiction ({actor.jurisdiction.name})")


def append_action(session: Session, row: UnitDuty, kind: str, actor: str, note: str, files: list[dict[str, Any]],
                  now: datetime, via: str | None = None) -> DutyAction:
    """Append a submission or a return to the log, linked to the one before; ``via``: how the
    official acted (web, api, cli, local), chained with the rest."""
    last = duty_queries.last_duty_action(session, lock=True)
    seq, prev = (last.seq + 1, last.hash) if last else (1, duty_queries.GENESIS)
    action = DutyAction(unit_duty_id=row.id, kind=kind, at=now, actor=actor, note=note, files=files, seq=seq,
                        prev_hash=prev, via=via)
    action.hash = duty_queries.duty_action_hash(seq, row.id, kind, now, actor, note, files, prev, via)
    session.add(action)
    session.flush()
    return action


def filed(row: UnitDuty, duty: Duty, action: DutyAction, now: datetime, tz: str) -> Filed:
    return Filed(row.unit.name, row.unit.code, row.duty, duty.label, row.occurrence,
                 cn_date(closing_day(row.due_at, tz)), standing(row, now), action.id, action.seq)


# --- how units stand ---------------------------------------------------------------------------------

def duty_table(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime,
               unit_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Every occurrence of every duty of the units (``unit_ids``, or all), with how it stands."""
    wf = compiled.definition
    rows = duty_queries.duties_of(session, campaign.id, unit_ids)
    returned = duty_queries.returned_ids(session, [r.id for r in rows])
    tz = wf.timezone
    table = []
    for row in rows:
        duty = wf.duties.get(row.duty)
        table.append({
            "unit": row.unit.name, "unit_code": row.unit.code, "duty": row.duty,
            "label": duty.label if duty else row.duty, "occurrence": row.occurrence,
            "occurrences": len(duty.due) if duty else row.occurrence,
            "due": closing_day(row.due_at, tz).isoformat(), "due_cn": cn_day(closing_day(row.due_at, tz), wf.year),
            "standing": standing(row, now), "returned": row.id in returned,
            "submitted_at": local(row.submitted_at, tz).strftime("%Y-%m-%d %H:%M") if row.submitted_at else "",
        })
    return table


def unit_summary(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per unit: how many occurrences are done, late, missing and open (the dashboard's and the
    bulletin's table), with the missing ones named in date order (the table comes by duty name,
    which a document must not read in)."""
    units: dict[str, dict[str, Any]] = {}
    for item in table:
        unit = units.setdefault(item["unit_code"], {"unit": item["unit"], "unit_code": item["unit_code"], "done": 0,
                                                   "late": 0, "missing": 0, "open": 0, "missing_items": []})
        unit[item["standing"]] += 1
        if item["standing"] == "missing":
            unit["missing_items"].append((item["due"], f"{item['label']}（{item['due_cn']}）"))
    for unit in units.values():
        unit["missing_items"] = [named for _, named in sorted(unit["missing_items"], key=lambda m: m[0])]
    return list(units.values())


def duty_counts(session: Session, campaign_id: int, unit_id: int | None, now: datetime) -> dict[str, dict[str, int]]:
    """For a rule: per duty of the unit, how many occurrences were due by ``now`` and how many of
    those stand filed."""
    counts: dict[str, dict[str, int]] = {}
    if unit_id is None:
        return counts
    for row in duty_queries.duties_of(session, campaign_id, [unit_id]):
        entry = counts.setdefault(row.duty, {"due": 0, "filed": 0})
        if now >= row.due_at:
            entry["due"] += 1
            entry["filed"] += standing(row, now) in ("done", "late")  # filed by now, as the reports count
    return counts


def units_within(session: Session, scope: Organization) -> list[Organization]:
    """The units (of any duty's level) inside ``scope``: a township official reads its own."""
    return duty_queries.units_below(session, scope.path)


def ensure_all(session: Session, now: datetime) -> int:
    """Every campaign's occurrences for every unit that owes them (after a deploy or an import of
    organizations: a county-wide pass, never made by the daemon)."""
    from engine.ops.deploy import campaigns

    return sum(ensure_unit_duties(session, c, compiled_version(c.current_version), now) for c in campaigns(session))


def history(session: Session, campaign: Campaign, compiled: CompiledWorkflow, unit: Organization,
            name: str | None = None) -> list[dict[str, Any]]:
    """Every filing and return of ``unit`` (of duty ``name``), oldest first: who, when, the note
    or reason, the files' hashes."""
    wf = compiled.definition
    rows = {r.id: r for r in duty_queries.duties_of(session, campaign.id, [unit.id], name)}
    return [{"seq": a.seq, "duty": rows[a.unit_duty_id].duty,
             "label": wf.duties[rows[a.unit_duty_id].duty].label if rows[a.unit_duty_id].duty in wf.duties
             else rows[a.unit_duty_id].duty,
             "occurrence": rows[a.unit_duty_id].occurrence, "kind": a.kind,
             "at": local(a.at, wf.timezone).strftime("%Y-%m-%d %H:%M"), "actor": a.actor, "note": a.note,
             "files": list(a.files or [])}
            for a in duty_queries.actions_of(session, list(rows))]
