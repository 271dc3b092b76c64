"""Organizations: the county → township → village/community/other hierarchy, and its import."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.base.domain import ORG_KIND_LABELS
from engine.base.errors import ImportFileError, NotFound
from engine.base.natural import hierarchy_key
from engine.base.text import is_one_line, line_problem, visible
from engine.ops.tabular import Table
from engine.store.db import reserve_ids
from engine.store.models import Organization, OrgKind
from engine.store.people_queries import (
    ORG_COLUMNS,
    existing_orgs,
    insert_orgs,
    move_cases_to_townships,
    org_by_code,
    orgs_below,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

KIND_LABELS = {OrgKind(kind): label for kind, label in ORG_KIND_LABELS.items()}
_KIND_WORDS = {label: kind for kind, label in KIND_LABELS.items()} | {
    "县": OrgKind.COUNTY, "县（市、区）": OrgKind.COUNTY, "乡镇": OrgKind.TOWNSHIP, "乡": OrgKind.TOWNSHIP,
    "镇": OrgKind.TOWNSHIP, "街道": OrgKind.TOWNSHIP, "机关": OrgKind.INSTITUTION,
    "事业单位": OrgKind.INSTITUTION, "非公企业": OrgKind.ENTERPRISE,
} | {kind.value: kind for kind in OrgKind}

COLUMNS = {  # field → accepted headers (Chinese first)
    "code": ("编码", "组织编码", "code"),
    "name": ("名称", "党组织名称", "name"),
    "kind": ("类型", "kind"),
    "parent_code": ("上级编码", "上级党组织编码", "parent_code", "parent"),
    "secretary_name": ("书记姓名", "党组织书记姓名", "secretary_name"),
    "secretary_phone": ("书记电话", "党组织书记联系电话", "secretary_phone"),
}
REQUIRED = ("code", "name", "kind")
MAX_LENGTH = {"code": 64, "name": 200, "secretary_name": 50}  # the column sizes in engine.store.models
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
_ABSENT = sys.maxsize  # the position of an optional column the file lacks: every row reads it as ""


@dataclass(frozen=True)
class OrgRow:
    row: int
    code: str
    name: str
    kind: OrgKind
    parent_code: str | None
    secretary_name: str | None
    secretary_phone: str | None


def parse_org_table(table: Table) -> list[OrgRow]:
    """Validate every row; raise ``ImportFileError`` listing each bad row and column.

    A good row (nearly every row of a real file) passes a few cheap checks; only a row that
    fails one is looked at again to name each of its problems.
    """
    index, problems = _column_index(table)
    if problems:
        raise ImportFileError(table.path, problems)
    at = [index.get(f, _ABSENT) for f in COLUMNS]  # code, name, kind, parent_code, secretary_name, …_phone
    rows: list[OrgRow] = []
    seen: dict[str, int] = {}
    county, longest = OrgKind.COUNTY, MAX_LENGTH
    for number, cells in table.rows:
        width = len(cells)
        code, name, kind_text, parent, secretary, phone = [cells[i].strip() if i < width else "" for i in at]
        kind = _KIND_WORDS.get(kind_text) or _kind(kind_text)
        if (code and name and kind is not None and code not in seen and (parent or kind is county)
                and len(code) <= longest["code"] and len(name) <= longest["name"]
                and len(secretary) <= longest["secretary_name"] and (not phone or _is_phone(phone))
                and is_one_line(code + name + secretary)):
            seen[code] = number
            rows.append(OrgRow(number, code, name, kind, parent or None, secretary or None, phone or None))
        else:
            problems += _row_problems(number, dict(zip(COLUMNS, (code, name, kind_text, parent, secretary, phone),
                                                       strict=True)), kind, seen)
    if problems:
        raise ImportFileError(table.path, problems)
    return rows


def _is_phone(text: str) -> bool:
    if text.isascii() and text.isdigit():  # the usual case, without the regex
        return 7 <= len(text) <= 20
    return PHONE.match(text) is not None


def _row_problems(number: int, value: dict[str, str], kind: OrgKind | None, seen: dict[str, int]) -> list[str]:
    """Each problem of a row that failed the quick checks, by column (its code goes in ``seen``)."""
    found: list[tuple[str, str]] = []  # (column, message)
    code, name, kind_text = value["code"], value["name"], value["kind"]
    if not code:
        found.append(("编码", "编码为空 / code is empty"))
    elif code in seen:
        found.append(("编码", f"编码 '{code}' 与第 {seen[code]} 行重复 / duplicate code (row {seen[code]})"))
    else:
        seen[code] = number
    if not name:
        found.append(("名称", "名称为空 / name is empty"))
    for field, column in (("code", "编码"), ("name", "名称"), ("secretary_name", "书记姓名")):
        if len(value[field]) > MAX_LENGTH[field]:  # PostgreSQL would refuse it with a DataError
            found.append((column, f"超过 {MAX_LENGTH[field]} 个字 / longer than {MAX_LENGTH[field]} characters"))
        if problem := line_problem(value[field]):  # one line of visible text: it goes into notice titles
            found.append((column, problem))
    if kind is None:
        found.append(("类型", f"未知类型 '{visible(kind_text)}' / unknown kind; use one of: {'、'.join(KIND_LABELS.values())}"))
    phone = value["secretary_phone"]
    if phone and not _is_phone(phone):
        found.append(("书记电话", f"电话号码格式不对 '{visible(phone)}' / not a phone number"))
    if kind is not None and kind is not OrgKind.COUNTY and not value["parent_code"]:
        found.append(("上级编码", "非县级组织必须填写上级编码 / parent code is required below the county"))
    return [f"第 {number} 行 row {number}, 列 column '{column}': {msg}" for column, msg in found]


def _kind(text: str) -> OrgKind | None:
    """The kind a cell names: Chinese label or English value, any case, ASCII or full-width brackets."""
    text = text.replace("(", "（").replace(")", "）").replace(" ", "")
    return _KIND_WORDS.get(text) or _KIND_WORDS.get(text.lower())


def _column_index(table: Table) -> tuple[dict[str, int], list[str]]:
    index: dict[str, int] = {}
    for field, names in COLUMNS.items():
        for position, header in enumerate(table.header):
            if header.strip().lower() in names:
                index[field] = position
                break
    problems = [f"第 {table.header_row} 行（表头）缺少列 / header row {table.header_row} lacks column "
                f"'{COLUMNS[f][0]}' ({f})" for f in REQUIRED if f not in index]
    return index, problems


INSERT_CHUNK = 10_000
_WALKING, _PLACED = 1, 2


def import_organizations(session: Session, rows: list[OrgRow], path: str) -> tuple[int, int]:
    """Insert new organizations and update existing ones (by code); returns (added, updated).

    Parents may come later in the file or already be in the database. Nothing is written
    by the caller's transaction if any row is bad. New organizations get their ids up front
    and go in with one ``executemany`` per 10 000 rows (a province's file is millions of
    rows): one pass orders and checks the rows, one computes their paths and sort keys (the
    superior's key, then the code's natural key: ``engine.base.natural``), as plain tuples.
    Only updated organizations go through the ORM.
    """
    by_code = {r.code: r for r in rows}
    existing = existing_orgs(session, by_code.keys() | {r.parent_code for r in rows if r.parent_code})
    ordered, problems = _parents_first(rows, by_code, existing)
    if problems:
        raise ImportFileError(path, problems)
    ids = iter(reserve_ids(session, "organizations", sum(1 for r in ordered if r.code not in existing)))
    placed = {code: (org.id, org.path, org.township_id, org.sort_key) for code, (org, _) in existing.items()}
    new: list[tuple] = []  # ORG_COLUMNS, as insert_orgs takes them
    changes: list[tuple[Organization, dict]] = []
    township = OrgKind.TOWNSHIP
    for row in ordered:  # parents first: each row's parent is placed before it
        parent = placed.get(row.parent_code) if row.parent_code else None
        old = existing.get(row.code)
        org_id = next(ids) if old is None else old[0].id
        if parent is None:
            parent_id, org_path, township_id = None, f"/{org_id}/", org_id if row.kind is township else None
        else:
            parent_id, org_path = parent[0], f"{parent[1]}{org_id}/"
            township_id = org_id if row.kind is township else parent[2]
        sort_key = hierarchy_key(parent[3] if parent else None, row.code)
        placed[row.code] = (org_id, org_path, township_id, sort_key)
        values = (org_id, row.code, row.name, row.kind.value, parent_id, township_id, org_path,
                  row.secretary_name, row.secretary_phone, sort_key)
        if old is None:
            new.append(values)
        else:
            changes.append((old[0], dict(zip(ORG_COLUMNS[1:], values[1:], strict=True))))
    for i in range(0, len(new), INSERT_CHUNK):  # parents first, so every row's parent is already in
        insert_orgs(session, new[i:i + INSERT_CHUNK])  # one executemany straight to the driver
    _update(session, changes)
    return len(new), len(changes)


def _update(session: Session, changes: list[tuple[Organization, dict]]) -> None:
    """Existing organizations take the file's values (after the inserts: one may now hang under
    a new one); when a kind changes to or from township, the descendants follow, and so do the
    cases of every organization whose township changed (the to-do list and the quota read cases
    by their township)."""
    moved_township: list[Organization] = []
    for org, values in changes:
        old_township = org.township_id
        for key, value in values.items():
            setattr(org, key, value)
        if org.township_id != old_township:
            moved_township.append(org)
    retownshipped = {org.id: org.township_id for org in moved_township}
    for org in moved_township:
        retownshipped |= _retownship_below(session, org)
    if retownshipped:
        move_cases_to_townships(session, retownshipped)


def _retownship_below(session: Session, top: Organization) -> dict[int, int | None]:
    """The township of each organization below ``top`` worked out again; returns those that changed."""
    below = orgs_below(session, top.id, top.path)
    township = {top.id: top.township_id}
    changed: dict[int, int | None] = {}
    for org in sorted(below, key=lambda o: o.path.count("/")):
        new = org.id if org.kind == OrgKind.TOWNSHIP.value else (
            township.get(org.parent_id) if org.parent_id is not None else None)
        if new != org.township_id:
            org.township_id = changed[org.id] = new
        township[org.id] = new
    return changed


def _parents_first(rows: list[OrgRow], by_code: dict[str, OrgRow],
                   existing: dict[str, tuple[Organization, str | None]]) -> tuple[list[OrgRow], list[str]]:
    """The rows ordered so that each comes after its parent, and the hierarchy's problems in
    row order: an unknown parent, an organization its own parent, a parent chain that loops
    back to the row, an existing organization given another parent.

    One walk up from each row to the first row already placed (or the top, or a parent in the
    database): linear in the rows, however long the chains or wherever a loop is.
    """
    state: dict[str, int] = {}
    looped: set[str] = set()  # rows on a loop of parents
    ordered: list[OrgRow] = []
    problems: list[str] = []
    for row in rows:
        chain: list[OrgRow] = []
        current: OrgRow | None = row
        while current is not None and current.code not in state:
            state[current.code] = _WALKING
            chain.append(current)
            current = by_code.get(current.parent_code) if current.parent_code else None
        if current is not None and state[current.code] == _WALKING:  # back on this walk: a loop
            start = next(i for i, r in enumerate(chain) if r.code == current.code)
            looped.update(r.code for r in chain[start:])
        for walked in chain:
            state[walked.code] = _PLACED
        ordered.extend(reversed(chain))
        problems += _hierarchy_problems(row, by_code, existing, looped)
    return ordered, problems


def _hierarchy_problems(row: OrgRow, by_code: dict[str, OrgRow],
                        existing: dict[str, tuple[Organization, str | None]], looped: set[str]) -> list[str]:
    found = []
    if row.parent_code and row.parent_code not in by_code and row.parent_code not in existing:
        found.append(f"上级组织 '{row.parent_code}' 不存在 / unknown parent")
    if row.parent_code == row.code:
        found.append("不能以自己为上级 / an organization cannot be its own parent")
    elif row.code in looped:
        found.append(f"上下级关系成环 / the parent chain loops back to '{row.code}'")
    old = existing.get(row.code)
    if old is not None and old[1] != row.parent_code:
        found.append("暂不支持调整已有组织的上级 / moving an existing organization to another parent is not supported")
    return [f"第 {row.row} 行 row {row.row}, 列 column '上级编码': {message}" for message in found]


def get_org(session: Session, code: str) -> Organization:
    org = org_by_code(session, code)
    if org is None:
        raise NotFound("organization 基层党组织", code, "list them with 'rectify org list'")
    return org


def case_kind_refusal(org: Organization, allowed: tuple[str, ...]) -> str | None:
    """Why ``org`` cannot be opened as a case when the workflow allows the kinds ``allowed``
    (its ``case_kinds``), in both languages; None when it can. A township or the county leads
    grassroots organizations: opened as a case it would count in its own backward ratio."""
    if org.kind in allowed:
        return None
    label = ORG_KIND_LABELS.get(org.kind, org.kind)
    return (f"“{org.name}”（{org.code}）的类型是“{label}”，不能列为整顿对象；本工作流只整顿这些类型的基层党组织："
            f"{'、'.join(ORG_KIND_LABELS.get(k, k) for k in allowed)} / {org.code} is a {org.kind} organization and "
            f"cannot be a case: this workflow opens cases only for the kinds {', '.join(allowed)} (case_kinds)")


def is_within(org: Organization, jurisdiction: Organization) -> bool:
    return org.path.startswith(jurisdiction.path)
