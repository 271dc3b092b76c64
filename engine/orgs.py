"""Organizations: the county → township → village/community/other hierarchy, and its import."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from engine.errors import ImportFileError, NotFound
from engine.models import Organization, OrgKind
from engine.tabular import Table

KIND_LABELS = {
    OrgKind.COUNTY: "县", OrgKind.TOWNSHIP: "乡镇（街道）", OrgKind.VILLAGE: "村",
    OrgKind.COMMUNITY: "社区", OrgKind.ENTERPRISE: "企业", OrgKind.SCHOOL: "学校",
    OrgKind.INSTITUTION: "机关事业单位", OrgKind.OTHER: "其他",
}
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
MAX_LENGTH = {"code": 64, "name": 200, "secretary_name": 50}  # the column sizes in engine.models
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")


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
    """Validate every row; raise ``ImportFileError`` listing each bad row and column."""
    index, problems = _column_index(table)
    if problems:
        raise ImportFileError(table.path, problems)
    rows: list[OrgRow] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        value = {field: cells[i].strip() if i < len(cells) else "" for field, i in index.items()}
        found: list[tuple[str, str]] = []  # (column, message) for this row
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
            if len(value.get(field, "")) > MAX_LENGTH[field]:  # PostgreSQL would refuse it with a DataError
                found.append((column, f"超过 {MAX_LENGTH[field]} 个字 / longer than {MAX_LENGTH[field]} characters"))
        kind = _kind(kind_text)
        if kind is None:
            found.append(("类型", f"未知类型 '{kind_text}' / unknown kind; use one of: {'、'.join(KIND_LABELS.values())}"))
        phone = value.get("secretary_phone", "")
        if phone and not PHONE.match(phone):
            found.append(("书记电话", f"电话号码格式不对 '{phone}' / not a phone number"))
        parent = value.get("parent_code") or None
        if kind is not None and kind is not OrgKind.COUNTY and parent is None:
            found.append(("上级编码", "非县级组织必须填写上级编码 / parent code is required below the county"))
        problems.extend(f"第 {number} 行 row {number}, 列 column '{column}': {msg}" for column, msg in found)
        if kind is not None and not found:
            rows.append(OrgRow(number, code, name, kind, parent, value.get("secretary_name") or None, phone or None))
    if problems:
        raise ImportFileError(table.path, problems)
    return rows


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


LOOKUP_CHUNK = 5_000  # codes per IN (...) look-up: SQLite caps the parameters of a statement
INSERT_CHUNK = 10_000


@dataclass(frozen=True)
class _Placed:
    id: int
    path: str
    township_id: int | None


def import_organizations(session: Session, rows: list[OrgRow], path: str) -> tuple[int, int]:
    """Insert new organizations and update existing ones (by code); returns (added, updated).

    Parents may come later in the file or already be in the database. Nothing is written
    by the caller's transaction if any row is bad. New organizations get their ids up front
    and go in with one ``executemany`` per 10 000 rows (a province's file is millions of
    rows); only updated ones go through the ORM.
    """
    codes = list({r.code for r in rows} | {r.parent_code for r in rows if r.parent_code})
    existing: dict[str, Organization] = {}
    for i in range(0, len(codes), LOOKUP_CHUNK):
        existing.update((o.code, o) for o in session.scalars(
            select(Organization).where(Organization.code.in_(codes[i:i + LOOKUP_CHUNK]))))
    by_code = {r.code: r for r in rows}
    problems = _hierarchy_problems(rows, by_code, existing)
    if problems:
        raise ImportFileError(path, problems)
    placed = {code: _Placed(o.id, o.path, o.township_id) for code, o in existing.items()}
    ids = iter(_reserve_ids(session, sum(1 for r in rows if r.code not in existing)))
    new: list[dict] = []
    changes: list[tuple[Organization, dict]] = []
    for row in _parents_first(rows, by_code):
        parent = placed.get(row.parent_code) if row.parent_code else None
        org = existing.get(row.code)
        org_id = next(ids) if org is None else org.id
        here = _Placed(org_id, f"{parent.path if parent else '/'}{org_id}/",
                       org_id if row.kind is OrgKind.TOWNSHIP else (parent.township_id if parent else None))
        placed[row.code] = here
        values = {"code": row.code, "name": row.name, "kind": row.kind.value, "parent_id": parent.id if parent else None,
                  "township_id": here.township_id, "path": here.path, "secretary_name": row.secretary_name,
                  "secretary_phone": row.secretary_phone}
        if org is None:
            new.append({"id": org_id, **values})
        else:
            changes.append((org, values))
    for i in range(0, len(new), INSERT_CHUNK):  # parents first, so every row's parent is already in
        session.execute(insert(Organization), new[i:i + INSERT_CHUNK])
    moved_township: list[Organization] = []  # existing organizations whose township_id changed
    for org, values in changes:  # after the inserts: an existing row may now hang under a new one
        old_township = org.township_id
        for key, value in values.items():
            setattr(org, key, value)
        if org.township_id != old_township:
            moved_township.append(org)
    for org in moved_township:  # a kind changed to or from township: descendants follow
        _retownship_below(session, org)
    return len(new), len(changes)


def _reserve_ids(session: Session, count: int) -> list[int]:
    """Ids for ``count`` new organizations: from PostgreSQL's sequence, or after SQLite's
    largest (a SQLite write transaction holds the database, so nobody takes them meanwhile)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text("SELECT nextval(pg_get_serial_sequence('organizations', 'id')) "
                                         "FROM generate_series(1, :n)"), {"n": count}))
    start = (session.scalar(select(func.max(Organization.id))) or 0) + 1
    return list(range(start, start + count))


def _retownship_below(session: Session, top: Organization) -> None:
    below = session.scalars(select(Organization).where(Organization.path.startswith(top.path, autoescape=True),
                                                       Organization.id != top.id))
    township = {top.id: top.township_id}
    for org in sorted(below, key=lambda o: o.path.count("/")):
        org.township_id = org.id if org.kind == OrgKind.TOWNSHIP.value else (
            township.get(org.parent_id) if org.parent_id is not None else None)
        township[org.id] = org.township_id


def _hierarchy_problems(rows: list[OrgRow], by_code: dict[str, OrgRow],
                        existing: dict[str, Organization]) -> list[str]:
    problems = []
    for r in rows:
        if r.parent_code and r.parent_code not in by_code and r.parent_code not in existing:
            problems.append(f"第 {r.row} 行 row {r.row}, 列 column '上级编码': 上级组织 '{r.parent_code}' 不存在 / unknown parent")
        if r.parent_code == r.code:
            problems.append(f"第 {r.row} 行 row {r.row}, 列 column '上级编码': 不能以自己为上级 / an organization cannot be its own parent")
        elif _in_cycle(r, by_code):
            problems.append(f"第 {r.row} 行 row {r.row}, 列 column '上级编码': 上下级关系成环 / the parent chain loops back to '{r.code}'")
        old = existing.get(r.code)
        if old is not None and (old.parent.code if old.parent else None) != r.parent_code:
            problems.append(f"第 {r.row} 行 row {r.row}, 列 column '上级编码': 暂不支持调整已有组织的上级 / "
                            "moving an existing organization to another parent is not supported")
    return problems


def _in_cycle(row: OrgRow, by_code: dict[str, OrgRow]) -> bool:
    current = by_code.get(row.parent_code or "")
    for _ in range(len(by_code)):
        if current is None:
            return False
        if current.code == row.code:
            return True
        current = by_code.get(current.parent_code or "")
    return False


def _parents_first(rows: list[OrgRow], by_code: dict[str, OrgRow]) -> Iterable[OrgRow]:
    done: set[str] = set()
    ordered: list[OrgRow] = []

    def visit(row: OrgRow, trail: tuple[str, ...]) -> None:
        if row.code in done or row.code in trail:
            return
        parent = by_code.get(row.parent_code or "")
        if parent is not None:
            visit(parent, (*trail, row.code))
        done.add(row.code)
        ordered.append(row)

    for row in rows:
        visit(row, ())
    return ordered


def get_org(session: Session, code: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.code == code))
    if org is None:
        raise NotFound("organization 基层党组织", code, "list them with 'rectify org list'")
    return org


def is_within(org: Organization, jurisdiction: Organization) -> bool:
    return org.path.startswith(jurisdiction.path)
