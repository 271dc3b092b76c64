"""我的待办: what waits for one official's action, inside their jurisdiction, by deadline.

Three kinds of work: cases whose state has a trigger the official's role may fire (with, for each,
whether it would fire now and the guards' reasons if not: ``trigger_statuses``, the engine's own
verdicts), occurrences of duties their role files and that stand unfiled (or returned), and the
open or reopened problems of cases, when their role keeps problem lists.

The cost is the page's, not the county's: each kind is read in deadline order along an index and
stops after ``limit`` + 1 rows (``engine.store.todo_queries``); the triggers are evaluated only
for the cases shown, their facts and figures read for all of them at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.base.clock import fmt
from engine.base.cndate import closing_day, days_between
from engine.ops.cases import trigger_statuses
from engine.ops.deploy import compiled_version
from engine.ops.duties import STANDING, standing
from engine.ops.problems import STATUS_LABELS
from engine.spec.machine import split_guard
from engine.store import duty_queries, todo_queries
from engine.store.campaign_queries import county_path
from engine.store.facts import facts_by_case
from engine.store.models import OrgKind, WorkflowVersion

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.ops.cases import TriggerStatus
    from engine.spec.machine import CompiledWorkflow
    from engine.spec.workcalendar import WorkCalendar
    from engine.store.models import Campaign, Case, DutyAction, Organization, Problem, UnitDuty

KINDS = ("case", "duty", "problem")  # also the order of equal deadlines
_MAX_COUNTED_YEARS = 10  # working days of a deadline further past are not counted


@dataclass(frozen=True)
class TodoTrigger:
    """A trigger the official's role may fire on a case: would it fire now, and if not, why not."""

    trigger: str
    label: str
    available: bool
    blocked_by: list[str]  # the guards' reasons, in Chinese
    blocked_by_en: list[str]


@dataclass(frozen=True)
class TodoItem:
    """One thing to do: a case (``key`` its reference), a duty's occurrence
    (``duty:unit_code:occurrence``) or a problem (``ref#number``)."""

    kind: str  # case | duty | problem
    key: str
    title: str
    organization: str
    township: str
    due: datetime | None
    due_text: str  # the deadline, and how far it is or how long it is past, 中文 / English
    overdue_days: int | None  # calendar days past the deadline; None: not overdue (or none)
    what: list[str]  # what is to be done, e.g. "整顿基本结束，开展自查（可办理）"
    blocked: list[str]  # what still stands in the way, each naming its step, in Chinese
    blocked_en: list[str]
    state_label: str
    note: str  # e.g. a returned filing's reason
    round: int | None = None  # a case's round of rectification
    triggers: list[TodoTrigger] = field(default_factory=list)  # a case's, for the buttons that fire them


@dataclass(frozen=True)
class Todo:
    """The first ``limit`` items by deadline (the undated last); ``more``: there are others.
    ``counts``: per kind, how many there are, or None where there are more than were read
    (counting them would read every one: "more than" is what the page says)."""

    items: list[TodoItem]
    more: bool
    counts: dict[str, int | None]
    now: datetime
    zone: str


@dataclass(frozen=True)
class _Slot:
    """An item before it is built: enough to order it."""

    kind: str
    due: datetime | None
    order: int  # the row's id: equal deadlines in the order the rows were made
    ref: Any  # a case id, a UnitDuty, a problem's row (todo_queries.open_problems)


def todo_for(session: Session, campaign: Campaign, role: str | None, jurisdiction: Organization,
             now: datetime, limit: int) -> Todo:
    """The to-do list of an official of ``role`` whose jurisdiction is ``jurisdiction``."""
    compiled = compiled_version(campaign.current_version)
    wf = compiled.definition
    reach = _reach(session, jurisdiction)
    versions = {v.id: v for v in todo_queries.workflow_versions(session, campaign.workflow_name)}
    case_slots, cases_counted = _case_slots(session, campaign, list(versions.values()), role, reach, limit)
    duty_rows = todo_queries.open_duties(session, campaign.id, _fileable(compiled, role), reach, limit + 1)
    problem_rows = (todo_queries.open_problems(session, campaign.id, reach, limit + 1)
                    if not wf.problem_list.roles or role in wf.problem_list.roles else [])
    slots = sorted([*case_slots, *(_Slot("duty", r.due_at, r.id, r) for r in duty_rows),
                    *(_Slot("problem", row.Problem.due_at, row.Problem.id, row) for row in problem_rows)],
                   key=_by_deadline)
    shown = slots[:limit]
    counts = {"case": cases_counted, "duty": _counted(duty_rows, limit), "problem": _counted(problem_rows, limit)}
    more = len(slots) > limit or any(n is None for n in counts.values())
    return Todo(_items(session, compiled, versions, shown, role, now), more, counts, now, wf.timezone)


def _by_deadline(slot: _Slot) -> tuple[bool, datetime | None, int, int]:
    return slot.due is None, slot.due, KINDS.index(slot.kind), slot.order


def _counted(rows: list[Any], limit: int) -> int | None:
    return len(rows) if len(rows) <= limit else None


# --- whose rows --------------------------------------------------------------------------------

def _reach(session: Session, jurisdiction: Organization) -> todo_queries.Reach:
    """The cheapest filter that says "inside ``jurisdiction``" (``engine.ops.orgs.is_within``): a
    township's own index, none for the county of a one-county database, else the path, read
    through the township index of the township it lies in or of the townships under it."""
    if jurisdiction.kind == OrgKind.TOWNSHIP.value:
        return todo_queries.Reach("township", township_id=jurisdiction.id, path=jurisdiction.path)
    if jurisdiction.township_id is not None:
        return todo_queries.Reach("within", township_id=jurisdiction.township_id, path=jurisdiction.path)
    if jurisdiction.parent_id is None and todo_queries.single_top(session):
        return todo_queries.Reach()
    return todo_queries.Reach("above", path=jurisdiction.path)


def _fileable(compiled: CompiledWorkflow, role: str | None) -> list[str]:
    """The duties ``role`` may file (``engine.ops.duties._may_file``: one naming no role, anyone)."""
    return [name for name, duty in compiled.definition.duties.items() if not duty.filed_by or role in duty.filed_by]


# --- cases ----------------------------------------------------------------------------------------

def role_triggers(compiled: CompiledWorkflow, state: str, role: str | None) -> list[str]:
    """The triggers from ``state`` that ``role`` may fire (``engine.ops.cases._allowed_candidates``:
    a transition naming no role is anyone's)."""
    return [t for t in compiled.triggers_from(state)
            if any(not c.roles or role in c.roles for c in compiled.candidates(t, state))]


def _states(versions: list[WorkflowVersion], role: str | None) -> dict[str, list[int] | None]:
    """The states where ``role`` has something to fire, each with the versions where it does (None:
    in every version, the usual case: no filter on the version then)."""
    where: dict[str, list[int]] = defaultdict(list)
    for version in versions:
        compiled = compiled_version(version)
        for state in compiled.definition.states:
            if role_triggers(compiled, state, role):
                where[state].append(version.id)
    return {state: None if len(ids) == len(versions) else ids for state, ids in sorted(where.items())}


def _case_slots(session: Session, campaign: Campaign, versions: list[WorkflowVersion], role: str | None,
                reach: todo_queries.Reach, limit: int) -> tuple[list[_Slot], int | None]:
    """The first ``limit`` + 1 cases waiting for ``role``, in deadline order, and how many there are
    (None when some state has more than were read)."""
    states = _states(versions, role)
    rows = todo_queries.case_slots(session, campaign.id, states, reach, limit + 1)
    per_part: dict[int, int] = defaultdict(int)
    for row in rows:
        per_part[row.part] += 1
    counted = None if any(n > limit for n in per_part.values()) else len(rows)
    slots = sorted((_Slot("case", row.due_at, row.id, row.id) for row in rows), key=_by_deadline)
    return slots[:limit + 1], counted


def _items(session: Session, compiled: CompiledWorkflow, versions: dict[int, WorkflowVersion], shown: list[_Slot],
           role: str | None, now: datetime) -> list[TodoItem]:
    """The items of the slots shown: the cases' triggers evaluated, the rest read, for all at once."""
    case_ids = [s.ref for s in shown if s.kind == "case"]
    cases = todo_queries.cases_with_places(session, case_ids, versions)
    statuses = _statuses(session, [cases[i] for i in case_ids], now)
    duties = [s.ref for s in shown if s.kind == "duty"]
    returns = todo_queries.last_returns(session, [d.id for d in duties])
    problems = [s.ref for s in shown if s.kind == "problem"]
    problem_versions = {row.Problem.id: compiled_version(_version(session, versions, row.version_id))
                        for row in problems}
    closable = _closable(session, problems, problem_versions)
    built = []
    for slot in shown:
        if slot.kind == "case":
            built.append(_case_item(cases[slot.ref], statuses[slot.ref], role, now))
        elif slot.kind == "duty":
            built.append(_duty_item(compiled, slot.ref, returns.get(slot.ref.id), now))
        else:
            problem = slot.ref.Problem
            built.append(_problem_item(slot.ref, problem_versions[problem.id], closable[problem.id], now))
    return built


def _version(session: Session, versions: dict[int, WorkflowVersion], version_id: int) -> WorkflowVersion:
    """A version of the campaign's workflow, read with them (another name's, should a case have one, by its key)."""
    found = versions.get(version_id) or session.get(WorkflowVersion, version_id)
    assert found is not None  # a case's version is a foreign key
    return found


def _statuses(session: Session, cases: list[Case], now: datetime) -> dict[int, list[TriggerStatus]]:
    """Every trigger's status of each case, as ``trigger_statuses`` gives it, with the facts and the
    figures of all the cases read at once."""
    facts = facts_by_case(session, [c.id for c in cases])
    figures = _figures(session, cases, now)
    return {c.id: trigger_statuses(session, c, now, facts.get(c.id, {}), figures[c.id]) for c in cases}


def _case_item(case: Case, statuses: list[TriggerStatus], role: str | None, now: datetime) -> TodoItem:
    compiled = compiled_version(case.workflow_version)
    wf = compiled.definition
    mine = set(role_triggers(compiled, case.state, role))
    triggers = [_todo_trigger(s) for s in statuses if s.trigger in mine]
    label = wf.states[case.state].label + (f"（第{case.round}轮）" if case.round > 1 else "")
    due_text, overdue = due_words(case.due_at, now, wf.timezone, compiled.loaded.calendar,
                                  bool(case.due_at and case.due_at < now))  # as engine.reports.views.case_row
    return TodoItem(
        "case", case.ref, f"{case.organization.name}（{label}）", case.organization.name,
        case.township.name if case.township else "", case.due_at, due_text, overdue,
        [f"{t.label}（{'可办理' if t.available else '条件未满足'}）" for t in triggers],
        [f"{t.label}：{reason}" for t in triggers for reason in t.blocked_by],
        [f"{t.trigger}: {reason}" for t in triggers for reason in t.blocked_by_en],
        label, "重点整顿对象 / key target" if case.key_target else "", case.round, triggers)


def _todo_trigger(status: TriggerStatus) -> TodoTrigger:
    # a trigger of two transitions (conclude_survey) may name the same failing guard twice
    reasons = list(dict.fromkeys((f.reason_zh, f.reason_en) for f in status.failures))
    return TodoTrigger(status.trigger, status.label, status.available, [zh for zh, _ in reasons],
                       [en for _, en in reasons])


# --- the figures of the cases' guards, for all the cases shown at once ----------------------------------

def _figures(session: Session, cases: list[Case], now: datetime) -> dict[int, dict[str, dict[str, Any]]]:
    """For each case, per need of its state's guards, the figures it brings, as
    ``engine.ops.cases._figures`` adds them case by case: here one or a few statements per need
    for the whole page."""
    needs = {c.id: _needs(c) for c in cases}
    figures: dict[int, dict[str, dict[str, Any]]] = {c.id: {} for c in cases}
    wanting = lambda need: [c for c in cases if need in needs[c.id]]  # noqa: E731
    if lists := wanting("problem_list"):
        found = todo_queries.problem_lists(session, [c.id for c in lists])
        for c in lists:
            figures[c.id]["problem_list"] = {"problem_list": found.get(c.id, {"total": 0, "open": []})}
    if sent := wanting("recurring_sent"):
        rounds = {c.id: c.round for c in sent}
        counted: dict[int, int] = defaultdict(int)
        for case_id, round_, data in todo_queries.recurring_requests(session, list(rounds)):
            if round_ == rounds[case_id]:
                counted[case_id] += 1 + int((data or {}).get("missed", 0))
        for c in sent:
            figures[c.id]["recurring_sent"] = {"recurring_sent": counted[c.id]}
    if filing := wanting("duty_counts"):
        by_township = _duty_counts(session, filing[0].campaign_id, {c.township_id for c in filing}, now)
        for c in filing:
            owed = by_township.get(c.township_id, {}) if c.township_id is not None else {}
            figures[c.id]["duty_counts"] = {"duty_counts": owed}
    if quota := wanting("jurisdiction_counts"):
        for case_id, quota_counts in _quota_figures(session, quota).items():
            figures[case_id]["jurisdiction_counts"] = dict(quota_counts)
    return figures


def _needs(case: Case) -> set[str]:
    compiled = compiled_version(case.workflow_version)
    names = {split_guard(g)[0] for t in compiled.triggers_from(case.state)
             for c in compiled.candidates(t, case.state) for g in c.guards}
    return set().union(*(compiled.loaded.rules[n].needs for n in names)) if names else set()


def _duty_counts(session: Session, campaign_id: int, township_ids: set[int | None],
                 now: datetime) -> dict[int, dict[str, dict[str, int]]]:
    """``engine.ops.duties.duty_counts`` of several townships from one read of their duties."""
    ids = [t for t in township_ids if t is not None]
    counts: dict[int, dict[str, dict[str, int]]] = {t: {} for t in ids}
    for row in duty_queries.duties_of(session, campaign_id, ids) if ids else []:
        entry = counts[row.unit_id].setdefault(row.duty, {"due": 0, "filed": 0})
        if now >= row.due_at:
            entry["due"] += 1
            entry["filed"] += standing(row, now) in ("done", "late")
    return counts


def _quota_figures(session: Session, cases: list[Case]) -> dict[int, dict[str, int]]:
    """``campaign_queries.jurisdiction_counts`` of each case (itself left out), from one count of
    its county's and of the page's townships' organizations and cases."""
    groups: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for c in cases:
        initial = compiled_version(c.workflow_version).definition.initial_state
        groups[initial, county_path(c.organization.path)].append(c)
    found: dict[int, dict[str, int]] = {}
    for (initial, county), members in groups.items():
        counts = todo_queries.quota_counts(session, members[0].campaign_id, initial, county,
                                           {c.township_id for c in members})
        for c in members:
            # the case itself is one of the confirmed ones counted when it is past screening
            itself = int(c.state != initial and c.organization.kind not in (OrgKind.COUNTY.value,
                                                                             OrgKind.TOWNSHIP.value))
            found[c.id] = {"township_organizations": counts.township_organizations.get(c.township_id, 0),
                           "township_cases": counts.township_cases.get(c.township_id, 0) - itself,
                           "county_organizations": counts.county_organizations,
                           "county_cases": counts.county_cases - itself}
    return found


# --- duties and problems ------------------------------------------------------------------------------

def _duty_item(compiled: CompiledWorkflow, row: UnitDuty, returned: DutyAction | None, now: datetime) -> TodoItem:
    """An occurrence as the campaign's workflow describes it (``engine.ops.duties`` reads it so)."""
    wf = compiled.definition
    duty = wf.duties.get(row.duty)
    label = duty.label if duty else row.duty
    times = len(duty.due) if duty else row.occurrence
    nth = f"第{row.occurrence}/{times}次" if times > 1 else ""
    where = standing(row, now)
    due_text, overdue = due_words(row.due_at, now, wf.timezone, compiled.loaded.calendar, where == "missing")
    note = ""
    if returned is not None:
        when = fmt(returned.at, wf.timezone)
        note = f"已于{when}被{returned.actor}退回，理由：{returned.note} / returned on {when} by {returned.actor}: {returned.note}"
    return TodoItem("duty", f"{row.duty}:{row.unit.code}:{row.occurrence}", f"{label}{nth and f'（{nth}）'}",
                    row.unit.name, row.unit.name if row.unit.kind == OrgKind.TOWNSHIP.value else "",
                    row.due_at, due_text, overdue, [f"报送“{label}”{nth}（重新报送）" if returned else f"报送“{label}”{nth}"],
                    [], [], STANDING[where], note, None, [])


def _closable(session: Session, rows: list[Any], compiled: dict[int, CompiledWorkflow]) -> dict[int, tuple[bool, bool]]:
    """Per problem: (evidence needed, evidence there): 销号 is refused without a file attached
    since the problem was last reopened when the workflow asks for one (``close_problem``)."""
    problems: list[Problem] = [row.Problem for row in rows]
    reopened = todo_queries.problem_reopenings(session, {p.case_id for p in problems if p.status == "reopened"})
    latest = todo_queries.latest_evidence(session, [p.id for p in problems])
    found = {}
    for p in problems:
        needed = compiled[p.id].definition.problem_list.close_requires_evidence
        since = reopened.get((p.case_id, p.number))
        last = latest.get(p.id)
        found[p.id] = (needed, last is not None and (since is None or last > since))
    return found


def _problem_item(row: Any, compiled: CompiledWorkflow, closable: tuple[bool, bool], now: datetime) -> TodoItem:
    """A problem, from its row (``todo_queries.open_problems``: the problem and its case's names)."""
    problem: Problem = row.Problem
    wf = compiled.definition
    needed, attached = closable
    overdue_now = problem.due_at is not None and problem.due_at <= now  # as engine.reports.views.problem_rows
    due_text, overdue = due_words(problem.due_at, now, wf.timezone, compiled.loaded.calendar, overdue_now)
    blocked, blocked_en = [], []
    if needed and not attached:
        again = "重新整改后" if problem.status == "reopened" else ""
        blocked.append(f"问题销号：须先上传{again}佐证材料")
        blocked_en.append(f"close: attach evidence{' added since it was reopened' if again else ''} first")
    description = problem.description.splitlines()[0] if problem.description else ""
    note = "；".join(filter(None, [problem.responsible and f"责任人：{problem.responsible}",
                                   problem.measures and f"整改措施：{problem.measures}"]))
    return TodoItem("problem", f"{row.ref}#{problem.number}", f"第{problem.number}项问题：{description}",
                    row.organization, row.township or "", problem.due_at, due_text,
                    overdue, [f"整改销号（{'可办理' if not blocked else '条件未满足'}）"], blocked, blocked_en,
                    STATUS_LABELS.get(problem.status, problem.status), note, None, [])


# --- deadlines in words -----------------------------------------------------------------------------

def due_words(due: datetime | None, now: datetime, tz: str, calendar: WorkCalendar,
              overdue: bool) -> tuple[str, int | None]:
    """The deadline as a page shows it (``fmt``: a midnight deadline reads 24:00 of its day) with
    the days left, or the days past it and how many of them were working days; and the days
    overdue (None when it is not)."""
    if due is None:
        return "无期限 / no deadline", None
    shown = fmt(due, tz, end_of_day=True)
    last, today = closing_day(due, tz), closing_day(now, tz)
    if not overdue:
        left = max(days_between(today, last), 0)
        if left == 0:
            return f"{shown}前（今天到期） / due {shown} (today)", None
        return f"{shown}前（还有 {left} 天） / due {shown} ({_days(left)} left)", None
    days = max(days_between(last, today), 0)
    working = working_days(calendar, last, today) if days else 0
    if days == 0:
        return f"{shown}前，已过期限 / due {shown}, past it", 0
    return (f"{shown}前，已逾期 {days} 天（其中工作日 {working} 天） / due {shown}, {_days(days)} overdue "
            f"({_days(working, 'working ')})", days)


def _days(n: int, kind: str = "") -> str:
    return f"{n} {kind}day{'' if n == 1 else 's'}"


# Per calendar and year, the running count of working days (entry i: days 1..i of the year): a
# page counts the working days of fifty deadlines, and the holiday library takes 0.1 ms a day.
# Keyed by the calendar's id, the calendar kept with its tables so the id is never reused; the
# calendars are those of the deployed workflows this process compiled, a handful.
_YEAR_TABLES: dict[int, tuple[WorkCalendar, dict[int, list[int]]]] = {}


def working_days(calendar: WorkCalendar, last: date, today: date) -> int:
    """How many working days come after ``last`` up to ``today`` included (0 if none)."""
    total = 0
    for year in range(last.year, min(today.year, last.year + _MAX_COUNTED_YEARS) + 1):
        table = _year_table(calendar, year)
        start = last.timetuple().tm_yday if year == last.year else 0
        end = today.timetuple().tm_yday if year == today.year else len(table) - 1
        total += max(table[end] - table[start], 0)
    return total


def _year_table(calendar: WorkCalendar, year: int) -> list[int]:
    _, tables = _YEAR_TABLES.setdefault(id(calendar), (calendar, {}))
    if year not in tables:
        table, day = [0], date(year, 1, 1)
        while day.year == year:
            table.append(table[-1] + calendar.is_workday(day))
            day += timedelta(days=1)
        tables[year] = table
    return tables[year]
