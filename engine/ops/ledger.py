"""The ledger (台账): the source document's attachment 后进基层党组织情况汇总表, both ways.

Columns, in the attachment's order: 序号, 后进基层党组织名称, 党组织书记姓名, 党组织书记联系电话,
上级党组织名称, 主要问题, 整改措施, 联系领导; header fields 填表单位, 填报人及联系方式, 填表日期.
Export → import → export gives the same file, and export → import leaves the database as it
was, whatever was typed (text that looks like a formula included: see ``engine.reports.ledger_files``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.base.errors import BadInput, ImportFileError
from engine.ops.cases import case_facts, open_case, record_event, set_fact
from engine.ops.deploy import compiled_version
from engine.ops.officials import Actor
from engine.ops.orgs import PHONE, case_kind_refusal
from engine.ops.people import find_person
from engine.ops.problem_ledger import (
    listed_keys,
    listed_measures,
    measures_cell,
    problems_cell,
    with_problem_lists,
)
from engine.ops.secretaries import correct_current
from engine.ops.tabular import Table
from engine.store.campaign_queries import ledger_lines
from engine.store.case_queries import case_of_org
from engine.store.models import Campaign, Organization
from engine.store.people_queries import orgs_named, secretaries_on

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.definition import Workflow

TITLE = "后进基层党组织情况汇总表"
COLUMNS = ["序号", "后进基层党组织名称", "党组织书记姓名", "党组织书记联系电话", "上级党组织名称", "主要问题", "整改措施", "联系领导"]
FIELDS = ["填表单位", "填报人及联系方式", "填表日期"]
SEPARATOR = "；"
CHUNK = 2_000  # rows fetched at a time while the ledger is written


@dataclass
class Ledger:
    """The header fields and the rows (COLUMNS, as text).

    ``rows`` may be read once only: ``build_ledger`` streams them from the database while a
    writer consumes them (250 000 cases never sit in memory), so it must be written inside
    the transaction that built it. ``written`` counts the rows handed out by ``each_row``.
    """

    unit: str
    reporter: str
    date: str
    rows: Iterable[list[str]] = field(default_factory=list)
    written: int = 0

    def each_row(self) -> Iterator[list[str]]:
        """The rows, counted as they are handed out (what the writers read)."""
        for row in self.rows:
            self.written += 1
            yield row


def problems_text(problems: Iterable[int], flags: Iterable[str], wf: Workflow) -> str:
    """The 主要问题 cell: the labels of the case's problem categories and circumstances, in the
    words of ``wf``. A key ``wf`` no longer declares (dropped by a later version of the workflow) is
    written as it is stored, so that importing the ledger back names it rather than losing it."""
    categories, circumstances = wf.problem_labels, wf.key_target_circumstances
    labels = [categories.get(p, str(p)) for p in problems] + [circumstances.get(f, f) for f in flags]
    return SEPARATOR.join(labels)


def labels_to_keys(wf: Workflow) -> dict[str, tuple[str, int | str]]:
    """Each label of ``wf``'s problem categories and circumstances → ("problem", number) or
    ("flag", name): how the 主要问题 cell is read back (the workflow check keeps labels distinct)."""
    return {label.strip(): ("problem", key) for key, label in wf.problem_labels.items()} | {
        label.strip(): ("flag", key) for key, label in wf.key_target_circumstances.items()}


def build_ledger(session: Session, campaign: Campaign, unit: str, reporter: str, now: datetime,
                 tz: str) -> Ledger:
    """The campaign's cases in the attachment's form, ordered by township then organization
    (their rows are read as they are written: see ``Ledger``)."""
    day = now.astimezone(ZoneInfo(tz)).date()
    return Ledger(unit, reporter, day.isoformat(), ledger_rows(session, campaign, day))


def ledger_rows(session: Session, campaign: Campaign, day: date | None = None) -> Iterator[list[str]]:
    """One row per case, from one query read in chunks: the organization, its parent and the
    two facts the ledger shows come joined to the case (a facts query per case made 250 000
    cases take minutes). The labels are the campaign's current workflow's: one table, one wording.
    The 书记 columns show the secretary in office on ``day`` (the ledger's date): the recorded
    terms in office that day, read for the whole campaign in one query (engine.ops.secretaries),
    else the organization's own."""
    wf = compiled_version(campaign.current_version).definition
    in_office = secretaries_on(session, campaign.id, day) if day is not None else {}
    lines = with_problem_lists(session, ledger_lines(session, campaign.id, CHUNK), CHUNK)
    for number, (line, listed) in enumerate(lines, start=1):
        (name, secretary, phone, superior, problems, flags, case_measures, measures_fact, leader_fact,
         org_id) = line[:10]
        secretary, phone = in_office.get(org_id, (secretary, phone))
        # 主要问题 and 整改措施 from the problem list when the case has one (engine.ops.problem_ledger)
        issues = problems_cell(listed, flags, wf) if listed else problems_text(problems, flags, wf)
        measures = measures_cell(listed) or _fact(measures_fact) or case_measures or ""
        yield [str(number), name, secretary or "", phone or "", superior or "", issues, measures,
               _fact(leader_fact) or ""]


def _fact(stored: dict | None):
    """A fact's value as ``case_facts`` reads it (stored as {"v": value}), None if unset."""
    return stored.get("v") if stored else None


# --- import ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerRow:
    row: int
    name: str
    secretary: str
    phone: str
    superior: str
    issues: tuple[str, ...]  # the 主要问题 cell's labels, read against the workflow on import
    measures: str
    contact_leader: str


def parse_ledger(table: Table) -> tuple[dict[str, str], list[LedgerRow], list[str]]:
    """Header fields, good rows and a message per bad row (row number and column named)."""
    grid = [(table.header_row, table.header), *table.rows]
    header_at = next((i for i, (_, cells) in enumerate(grid) if "后进基层党组织名称" in [c.strip() for c in cells]), None)
    if header_at is None:
        raise ImportFileError(table.path, [f"找不到表头行（应含“后进基层党组织名称”等列）/ no header row with the "
                                           f"attachment's columns: {'、'.join(COLUMNS)}"])
    number, header = grid[header_at]
    header = [h.strip() for h in header]
    body_at = header_at + 1
    missing = [c for c in COLUMNS if c not in header]
    if missing and body_at < len(grid):
        # WPS users often merge a heading over two sub-headings (党组织书记 → 姓名 | 联系电话):
        # a merged cell reads as empty, so the heading is carried right and joined to each one.
        joined = two_row_header(header, grid[body_at][1])
        if all(c in joined for c in COLUMNS):
            header, body_at, missing = joined, body_at + 1, []
    if missing:
        raise ImportFileError(table.path, [f"第 {number} 行（表头）缺少列 / header row {number} lacks: {'、'.join(missing)}"
                                           "（列名须与附件一致，合并的表头请拆分为单列 / use the attachment's column "
                                           "names, one per column)"])
    index = {c: header.index(c) for c in COLUMNS}
    fields = _header_fields(grid[:header_at])
    rows: list[LedgerRow] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in grid[body_at:]:
        get = _getter(cells, index)
        row, errors = _parse_row(number, get)
        key = (row.name, row.superior) if row else None
        if key and key in seen:
            errors.append(f"第 {number} 行 row {number}, 列 column '后进基层党组织名称': 与第 {seen[key]} 行重复 / "
                          f"duplicate of row {seen[key]}")
        if errors:
            problems += errors
        elif row is not None and key is not None:
            seen[key] = number
            rows.append(row)
    return fields, rows, problems


def two_row_header(top: list[str], below: list[str]) -> list[str]:
    """Column names of a two-row header whose upper headings may be merged over several columns."""
    names, parent = [], ""
    for i, cell in enumerate(top):
        sub = below[i].strip() if i < len(below) else ""
        parent = cell or parent
        names.append((cell or parent) + sub if sub else cell)
    return names


def _getter(cells: list[str], index: dict[str, int]):
    def get(column: str) -> str:
        position = index[column]
        return cells[position].strip() if position < len(cells) else ""
    return get


def _header_fields(rows) -> dict[str, str]:
    fields: dict[str, str] = {}
    for _, cells in rows:
        for cell in cells:
            for name in FIELDS:
                if cell.strip().startswith(name):
                    fields[name] = cell.strip()[len(name):].lstrip("：:").strip()
    return fields


def _parse_row(number: int, get) -> tuple[LedgerRow | None, list[str]]:
    errors = []

    def bad(column: str, message: str) -> None:
        errors.append(f"第 {number} 行 row {number}, 列 column '{column}': {message}")

    name, superior, phone = get("后进基层党组织名称"), get("上级党组织名称"), get("党组织书记联系电话")
    if not name:
        bad("后进基层党组织名称", "名称为空 / the organization's name is empty")
    if phone and not PHONE.match(phone):
        bad("党组织书记联系电话", f"电话号码格式不对 '{phone}' / not a phone number")
    issues = tuple(filter(None, (p.strip() for p in get("主要问题").replace(";", SEPARATOR).split(SEPARATOR))))
    if errors:
        return None, errors
    return LedgerRow(number, name, get("党组织书记姓名"), phone, superior, issues, get("整改措施"), get("联系领导")), []


def _issue_keys(row: LedgerRow, by_label: dict[str, tuple[str, int | str]],
                problems: list[str]) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """The row's problem numbers and circumstance names, or None with a message per unknown label."""
    numbers: list[int] = []
    names: list[str] = []
    unknown = [label for label in row.issues if label not in by_label]
    for label in unknown:
        problems.append(f"第 {row.row} 行 row {row.row}, 列 column '主要问题': 未知的问题类别 '{label}' / unknown "
                        "problem category; use (problem_categories, key_target_circumstances): " + SEPARATOR.join(by_label))
    for label in row.issues:
        kind, key = by_label.get(label, ("", ""))
        if kind == "problem":
            numbers.append(int(key))
        elif kind == "flag":
            names.append(str(key))
    return None if unknown else (tuple(numbers), tuple(names))


def _trimmed(stored: object) -> object:
    """A stored value as an imported cell reads (import trims every cell): a value typed with
    spaces or a tab around it, exported and imported again, is unchanged, not rewritten."""
    if stored is None:
        return ""
    return stored.strip() if isinstance(stored, str) else stored


def _find_org(session: Session, row: LedgerRow) -> Organization | None:
    matches = orgs_named(session, row.name)
    if row.superior:
        matches = [o for o in matches if o.parent is not None and o.parent.name == row.superior]
    return matches[0] if len(matches) == 1 else None


@dataclass
class ImportResult:
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def import_ledger(session: Session, campaign: Campaign, path: str, rows: list[LedgerRow], problems: list[str],
                  actor: Actor, now: datetime, skip_bad: bool = False) -> ImportResult:
    """Open or update one case per row; all or nothing unless ``skip_bad`` (then listed)."""
    result = ImportResult()
    found: list[tuple[LedgerRow, Organization, tuple[tuple[int, ...], tuple[str, ...]]]] = []
    wf = compiled_version(campaign.current_version).definition
    kinds, by_label = wf.openable_kinds, labels_to_keys(wf)
    for row in rows:
        keys = _listed_keys(session, campaign, row, wf) or _issue_keys(row, by_label, problems)
        if keys is None:
            continue
        org = _find_org(session, row)
        refusal = None if org is None else case_kind_refusal(org, kinds)
        if org is not None and refusal is not None and case_of_org(session, campaign.id, org.id) is not None:
            refusal = None  # opened before the workflow said so: the row updates it, as an export reads it back
        if org is None:
            problems.append(f"第 {row.row} 行 row {row.row}, 列 column '后进基层党组织名称': 找不到“{row.name}”"
                            f"（上级“{row.superior}”）/ unknown organization: import it with 'rectify org import' first")
        elif refusal is not None:  # a row of the file, reported with the others (or skipped)
            problems.append(f"第 {row.row} 行 row {row.row}, 列 column '后进基层党组织名称': {refusal}")
        elif (leader := _unknown_leader(session, wf, row)) is not None:
            problems.append(f"第 {row.row} 行 row {row.row}, 列 column '联系领导': {leader}")
        else:
            found.append((row, org, keys))
    if problems and not skip_bad:
        raise ImportFileError(path, problems)
    result.skipped = problems
    for row, org, (numbers, names) in found:
        _apply_row(session, campaign, row, org, numbers, names, actor, now, result)
    return result


def _listed_keys(session: Session, campaign: Campaign, row: LedgerRow,
                 wf: Workflow) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """A case's own categories when the row's 主要问题 is its problem list as exported."""
    org = _find_org(session, row)
    return None if org is None else listed_keys(session, case_of_org(session, campaign.id, org.id), row.issues, wf)


def _unknown_leader(session: Session, wf: Workflow, row: LedgerRow) -> str | None:
    """Why the row's 联系领导 cannot be assigned (a person fact names a registered person), or None."""
    spec = wf.facts.get("contact_leader")
    if not row.contact_leader or spec is None or spec.type != "person":
        return None
    try:
        find_person(session, row.contact_leader)
    except BadInput as exc:  # unknown, or a name several units share
        return str(exc)
    return None


def _apply_row(session: Session, campaign: Campaign, row: LedgerRow, org: Organization, numbers: tuple[int, ...],
               names: tuple[str, ...], actor: Actor, now: datetime, result: ImportResult) -> None:
    case = case_of_org(session, campaign.id, org.id)
    changed = False
    if (_trimmed(org.secretary_name), _trimmed(org.secretary_phone)) != (row.secretary, row.phone):
        # a correction of the secretary in office (its recorded term too), not a replacement:
        # replacing keeps the history (rectify org secretary, engine.ops.secretaries)
        correct_current(session, org, row.secretary or None, row.phone or None)
        changed = True
    if case is None:
        case = open_case(session, campaign, org.code, actor, now, problems=numbers, flags=names,
                         measures=row.measures or None)
        result.opened.append(case.ref)
    else:
        problems, flags = sorted(set(numbers)), list(dict.fromkeys(names))
        if (case.problems, case.flags) != (problems, flags):
            record_event(session, case, actor, now, "updated", note="台账导入 / ledger import",
                         data={"problems": [case.problems, problems], "flags": [case.flags, flags]})
            case.problems, case.flags = problems, flags
            case.key_target = case.key_target or bool(flags)
            changed = True
    facts = case_facts(session, case.id)
    declared = compiled_version(case.workflow_version).definition.facts
    shown = {"measures": listed_measures(session, case) or facts.get("measures") or case.measures,
             "contact_leader": facts.get("contact_leader")}
    wanted = {"measures": row.measures, "contact_leader": row.contact_leader}
    for name, value in wanted.items():
        if (value and name in declared and declared[name].applies(org.kind)  # a fact of other kinds: not asked
                and _trimmed(shown[name]) != value):  # compare with what the export shows
            set_fact(session, case, name, value, actor, now)
            changed = True
    if case.ref not in result.opened:
        (result.updated if changed else result.unchanged).append(case.ref)
