"""Organization import from CSV/XLSX files as officials exchange them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

import engine.store.db
from cli import main
from engine.base.errors import BadInput, ImportFileError
from engine.ops.orgs import import_organizations, parse_org_table
from engine.ops.tabular import read_table
from engine.store.models import Organization

HEADER_ZH = ["编码", "名称", "类型", "上级编码", "书记姓名", "书记电话"]
HEADER_EN = ["code", "name", "kind", "parent_code", "secretary_name", "secretary_phone"]

# county → a 镇 and a 街道 → villages, a community, a school, an enterprise (kinds in Chinese)
COUNTY = [
    ["X", "测试县委", "县", "", "", ""],
    ["T1", "城关镇党委", "乡镇", "X", "王书记", "13800000001"],
    ["T2", "东城街道党工委", "街道", "X", "", ""],
    ["T1-01", "城关镇第一村党支部", "村", "T1", "张三", "13800000011"],
    ["T1-02", "城关镇第二村党支部", "村", "T1", "", ""],
    ["T1-S1", "城关镇中心小学党支部", "学校", "T1", "", ""],
    ["T2-01", "东城社区党委", "社区", "T2", "李四", "0571-88886666"],
    ["T2-E1", "东城某某公司党支部", "企业", "T2", "", ""],
]
EXPECTED = {  # code → (kind, parent code, township code)
    "X": ("county", None, None),
    "T1": ("township", "X", "T1"),
    "T2": ("township", "X", "T2"),
    "T1-01": ("village", "T1", "T1"),
    "T1-02": ("village", "T1", "T1"),
    "T1-S1": ("school", "T1", "T1"),
    "T2-01": ("community", "T2", "T2"),
    "T2-E1": ("enterprise", "T2", "T2"),
}


# --- helpers ---------------------------------------------------------------------------

def csv_text(rows: list[list[str]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # as Excel writes it
    writer.writerows(([header] if header is not None else [HEADER_ZH]) + rows)
    return out.getvalue()


def write_csv(path: Path, rows: list[list[str]], *, header: list[str] | None = None,
              encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(rows, header).encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], header: list[str] | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "组织"
    ws.append(header or HEADER_ZH)
    for row in rows:
        ws.append([None if v == "" else v for v in row])
    wb.save(path)
    return path


def do_import(store, path: Path | str) -> tuple[int, int]:
    with store.transaction() as session:
        rows = parse_org_table(read_table(path))
        return import_organizations(session, rows, str(path))


def count(store) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(Organization))


def snapshot(store) -> dict[str, tuple]:
    """Every organization as a comparable tuple, checking path and township_id on the way."""
    with store.transaction() as session:
        orgs = list(session.scalars(select(Organization)))
    by_id = {o.id: o for o in orgs}
    result = {}
    for o in orgs:
        chain, node = [], o
        while node is not None:
            chain.append(node)
            node = by_id.get(node.parent_id) if node.parent_id else None
        chain.reverse()  # root … o
        assert o.path == "/" + "".join(f"{n.id}/" for n in chain), o.code
        township = next((n for n in reversed(chain) if n.kind == "township"), None)
        assert o.township_id == (township.id if township else None), o.code
        parent = by_id[o.parent_id].code if o.parent_id else None
        result[o.code] = (o.id, o.name, o.kind, parent, township.code if township else None,
                          o.path, o.secretary_name, o.secretary_phone)
    return result


def assert_county(store) -> dict[str, tuple]:
    snap = snapshot(store)
    assert set(snap) == set(EXPECTED)
    for code, (kind, parent, township) in EXPECTED.items():
        assert snap[code][2:5] == (kind, parent, township), code
    ids = {code: v[0] for code, v in snap.items()}
    # explicit: a village's township_id is its township's id, its path the ancestor chain
    assert snap["T1-01"][5] == f"/{ids['X']}/{ids['T1']}/{ids['T1-01']}/"
    assert snap["T2-01"][5] == f"/{ids['X']}/{ids['T2']}/{ids['T2-01']}/"
    assert snap["X"][5] == f"/{ids['X']}/"
    assert snap["T1-01"][6:] == ("张三", "13800000011")
    assert snap["T2-01"][6:] == ("李四", "0571-88886666")
    assert snap["T1-02"][6:] == (None, None)
    return snap


def township_ids(store) -> dict[str, int | None]:
    with store.transaction() as session:
        orgs = list(session.scalars(select(Organization)))
    by_id = {o.id: o.code for o in orgs}
    return {o.code: (by_id[o.township_id] if o.township_id else None) for o in orgs}


def expect_rejected(store, path: Path | str, *fragments: str, error=ImportFileError) -> BadInput:
    """The import fails with every fragment in the message and leaves the database untouched."""
    before_count, before = count(store), snapshot(store)
    with pytest.raises(error) as info:
        do_import(store, path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert count(store) == before_count
    assert snapshot(store) == before
    return info.value


# --- good files ------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("header", [HEADER_ZH, HEADER_EN], ids=["zh-header", "en-header"])
def test_csv_encodings_import_the_same_hierarchy(store, tmp_path, encoding, header):
    path = write_csv(tmp_path / "orgs.csv", COUNTY, header=header, encoding=encoding)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")  # really not UTF-8
    assert do_import(store, path) == (len(COUNTY), 0)
    snap = assert_county(store)
    assert snap["T2"][1] == "东城街道党工委"  # Chinese text decoded, not mojibake


def test_csv_long_chinese_headers_and_header_row_not_first(store, tmp_path):
    header = ["组织编码", "党组织名称", "类型", "上级党组织编码", "党组织书记姓名", "党组织书记联系电话"]
    path = tmp_path / "orgs.csv"
    path.write_bytes(("\r\n" + csv_text(COUNTY, header)).encode("gb18030"))  # blank first line
    table = read_table(path)
    assert table.header_row == 2
    assert table.rows[0][0] == 3
    assert do_import(store, path) == (len(COUNTY), 0)
    assert_county(store)


def test_xlsx_import_with_number_cells(store, tmp_path):
    rows: list[list[object]] = [list(r) for r in COUNTY]
    rows[3][5] = 13800000011  # 张三's phone typed as a number: an int cell
    rows[1][5] = 13800000001.0  # and as a float cell, as other tools store it
    path = write_xlsx(tmp_path / "orgs.xlsx", rows)
    table = read_table(path)
    assert table.rows[3][1][5] == "13800000011"
    assert table.rows[1][1][5] == "13800000001"
    assert do_import(store, path) == (len(COUNTY), 0)
    snap = assert_county(store)
    assert snap["T1"][7] == "13800000001"


def test_xlsx_numeric_codes(store, tmp_path):
    rows = [[330100, "测试县委", "县", None, None, None],
            [330101, "城关镇党委", "镇", 330100, None, None],
            [3301010001, "第一村党支部", "村", 330101, "张三", 13800000000]]
    path = write_xlsx(tmp_path / "orgs.xlsx", rows)
    assert do_import(store, path) == (3, 0)
    snap = snapshot(store)
    assert snap["3301010001"][3:5] == ("330101", "330101")
    assert snap["3301010001"][7] == "13800000000"


def test_xlsx_with_wrong_declared_dimensions_reads_every_row(tmp_path):
    """Some exporters declare <dimension ref="A1"/>; openpyxl's read-only mode trusts it."""
    good = write_xlsx(tmp_path / "good.xlsx", COUNTY)
    bad = tmp_path / "dimension.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B3"', data)
                assert n == 1
            dst.writestr(item, data)
    table = read_table(bad)
    assert table.header == HEADER_ZH
    assert [cells for _, cells in table.rows] == COUNTY


def test_xlsx_without_default_style_reads_quietly(tmp_path):
    """Files from some other programs have a bare styles.xml; openpyxl warns (an error here)."""
    good = write_xlsx(tmp_path / "good.xlsx", COUNTY)
    bare = tmp_path / "bare.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bare, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/styles.xml":
                data = b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
            dst.writestr(item, data)
    table = read_table(bare)
    assert [cells for _, cells in table.rows] == COUNTY


def test_excel_unicode_text_is_utf16_with_tabs(store, tmp_path):
    """Excel's "Unicode text (*.txt)": UTF-16 with a BOM, tab-separated."""
    text_ = "\r\n".join("\t".join(r) for r in [HEADER_ZH, *COUNTY]) + "\r\n"
    path = tmp_path / "orgs.txt"
    path.write_bytes(text_.encode("utf-16"))
    assert do_import(store, path) == (len(COUNTY), 0)
    assert_county(store)


def test_quoted_cells_with_commas_are_read_and_line_breaks_refused(store, tmp_path):
    rows = [list(r) for r in COUNTY]
    rows[3][1] = "城关镇第一村党支部,（原一村）"
    path = write_csv(tmp_path / "orgs.csv", rows, encoding="utf-8-sig")
    assert do_import(store, path) == (len(COUNTY), 0)
    assert snapshot(store)["T1-01"][1] == "城关镇第一村党支部,（原一村）"
    rows[3][1] = "城关镇第一村党支部\n（原一村）"  # a name is one line: it goes into notice titles
    path = write_csv(tmp_path / "orgs.csv", rows, encoding="utf-8-sig")
    with pytest.raises(ImportFileError, match="'名称': 含有换行"):
        do_import(store, path)


def test_parents_later_in_the_file(store, tmp_path):
    path = write_csv(tmp_path / "reversed.csv", list(reversed(COUNTY)))
    assert do_import(store, path) == (len(COUNTY), 0)
    assert_county(store)


def test_second_import_updates_and_keeps_the_tree(store, tmp_path):
    path = write_csv(tmp_path / "orgs.csv", COUNTY)
    assert do_import(store, path) == (len(COUNTY), 0)
    first = assert_county(store)
    assert do_import(store, path) == (0, len(COUNTY))
    assert snapshot(store) == first  # same ids, paths, township_ids

    changed = [list(r) for r in reversed(COUNTY)]
    changed[-4][1:6] = ["城关镇第一村党总支", "村", "T1", "张三丰", "13900000000"]  # T1-01
    assert changed[-4][0] == "T1-01"
    assert do_import(store, write_csv(tmp_path / "changed.csv", changed)) == (0, len(COUNTY))
    after = snapshot(store)
    assert after["T1-01"][1] == "城关镇第一村党总支"
    assert after["T1-01"][6:] == ("张三丰", "13900000000")
    assert {c: v[:1] + v[2:6] for c, v in after.items()} == {c: v[:1] + v[2:6] for c, v in first.items()}


def test_rows_under_parents_already_in_the_database(store, tmp_path):
    do_import(store, write_csv(tmp_path / "orgs.csv", COUNTY))
    more = [["T2-02", "东城第二社区党委", "社区", "T2", "", ""],
            ["T2-02-1", "东城第二社区某小区党支部", "其他", "T2-02", "", ""]]
    assert do_import(store, write_csv(tmp_path / "more.csv", more)) == (2, 0)
    snap = snapshot(store)
    assert snap["T2-02-1"][3:5] == ("T2-02", "T2")
    assert snap["T2-02-1"][5] == f"{snap['T2-02'][5]}{snap['T2-02-1'][0]}/"


def test_kind_change_to_township_updates_descendants_in_the_database(store, tmp_path):
    rows = [list(r) for r in COUNTY]
    rows[2][2] = "其他"  # T2 first imported with the wrong kind
    do_import(store, write_csv(tmp_path / "orgs.csv", rows))
    assert township_ids(store)["T2-01"] is None
    # only T2's row is corrected: its children, in the database only, must follow
    assert do_import(store, write_csv(tmp_path / "fix.csv", [COUNTY[2]])) == (0, 1)
    assert_county(store)


def test_english_and_variant_kind_words(store, tmp_path):
    rows = [["X", "测试县委", "County", "", "", ""],
            ["T1", "城关镇党委", "乡镇(街道)", "X", "", ""],
            ["T1-01", "第一村党支部", "VILLAGE", "T1", "", ""],
            ["T1-02", "某局机关党支部", "机关", "T1", "", ""]]
    assert do_import(store, write_csv(tmp_path / "orgs.csv", rows)) == (4, 0)
    kinds = {code: v[2] for code, v in snapshot(store).items()}
    assert kinds == {"X": "county", "T1": "township", "T1-01": "village", "T1-02": "institution"}


# --- bad input: the message names the place, and nothing is written ---------------------

@pytest.fixture
def seeded(store, tmp_path):
    """The county already imported, so 'nothing written' also covers updates of existing rows."""
    do_import(store, write_csv(tmp_path / "seed.csv", COUNTY))
    return store


def _with(*extra: list[str]) -> list[list[str]]:
    """The county with every name changed (updates that must not land) plus extra rows."""
    return [[r[0], r[1] + "（改）", *r[2:]] for r in COUNTY] + [list(e) for e in extra]


ROW = len(COUNTY) + 2  # the file row number of the first extra row


def test_missing_required_header_column(seeded, tmp_path):
    header = [h for h in HEADER_ZH if h != "类型"]
    path = write_csv(tmp_path / "bad.csv", [r[:2] + r[3:] for r in _with()], header=header)
    err = expect_rejected(seeded, path, "第 1 行", "header row 1", "类型", "kind")
    assert len(err.problems) == 1


def test_missing_several_header_columns_all_reported(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [["X", "县"]], header=["名字", "类别"])
    err = expect_rejected(seeded, path, "编码", "名称", "类型")
    assert len(err.problems) == 3


def test_empty_code(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["", "无编码村", "村", "T1", "", ""]))
    expect_rejected(seeded, path, f"第 {ROW} 行", f"row {ROW}", "'编码'", "code is empty")


def test_duplicate_code_names_both_rows(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["T1-02", "重复村", "村", "T1", "", ""]))
    err = expect_rejected(seeded, path, f"row {ROW}", "'编码'", "duplicate code", "T1-02")
    first = 2 + [r[0] for r in COUNTY].index("T1-02")
    assert f"row {first}" in err.problems[0]
    assert f"第 {first} 行" in err.problems[0]


def test_unknown_kind(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村委会", "T1", "", ""]))
    expect_rejected(seeded, path, f"row {ROW}", "'类型'", "村委会", "unknown kind")


def test_bad_phone(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村", "T1", "赵", "138-abc"]))
    expect_rejected(seeded, path, f"row {ROW}", "'书记电话'", "138-abc", "not a phone number")


def test_missing_parent_below_county(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村", "", "", ""]))
    expect_rejected(seeded, path, f"row {ROW}", "'上级编码'", "parent code is required")


def test_unknown_parent(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村", "NOPE", "", ""]))
    expect_rejected(seeded, path, f"row {ROW}", "'上级编码'", "NOPE", "unknown parent")


def test_parent_cycle(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["A", "甲村", "村", "B", "", ""],
                                                 ["B", "乙村", "村", "A", "", ""]))
    err = expect_rejected(seeded, path, f"row {ROW}", f"row {ROW + 1}", "'上级编码'", "loops")
    assert len(err.problems) == 2


def test_own_parent_reported_once(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["A", "甲村", "村", "A", "", ""]))
    err = expect_rejected(seeded, path, f"row {ROW}", "'上级编码'", "own parent")
    assert len(err.problems) == 1


def test_moving_an_existing_organization_is_refused(seeded, tmp_path):
    rows = _with()
    rows[3][3] = "T2"  # T1-01 under T2
    expect_rejected(seeded, write_csv(tmp_path / "bad.csv", rows), "row 5", "'上级编码'", "not supported")


def test_too_long_values_are_reported_not_a_database_error(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["N" * 65, "新村", "村", "T1", "", ""],
                                                 ["N2", "村" * 201, "村", "T1", "书" * 51, ""]))
    err = expect_rejected(seeded, path, f"row {ROW}", f"row {ROW + 1}", "'编码'", "'名称'", "'书记姓名'")
    assert len(err.problems) == 3


def test_xls_file_asks_for_xlsx(seeded, tmp_path):
    path = tmp_path / "orgs.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)  # an OLE2 header
    expect_rejected(seeded, path, ".xls", ".xlsx", "orgs.xls", error=BadInput)


def test_other_extension_refused(seeded, tmp_path):
    path = write_csv(tmp_path / "orgs.json", COUNTY)
    expect_rejected(seeded, path, "orgs.json", ".csv", ".xlsx", error=BadInput)


def test_non_existent_file(seeded, tmp_path):
    expect_rejected(seeded, tmp_path / "nope.csv", "nope.csv", "not found", error=BadInput)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n,,,\r\n  ,\r\n"], ids=["empty", "bom", "blank"])
def test_empty_file(seeded, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    expect_rejected(seeded, path, "empty.csv", "no rows", error=BadInput)


def test_damaged_xlsx(seeded, tmp_path):
    path = tmp_path / "orgs.xlsx"
    path.write_bytes(csv_text(COUNTY).encode())  # a CSV renamed to .xlsx
    expect_rejected(seeded, path, "orgs.xlsx", "cannot read the workbook", error=BadInput)


def test_undecodable_csv(seeded, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes(csv_text(COUNTY).encode("utf-8") + b"\xff\xff")
    expect_rejected(seeded, path, "orgs.csv", "UTF-8", "GB18030", error=BadInput)


def test_directory_given_as_file(seeded, tmp_path):
    (tmp_path / "dir.csv").mkdir()
    expect_rejected(seeded, tmp_path / "dir.csv", "dir.csv", error=BadInput)


def test_several_bad_rows_all_reported(seeded, tmp_path):
    rows = _with(["", "无编码村", "村", "T1", "", ""],
                 ["N2", "新二村", "村委会", "T1", "", ""],
                 ["N3", "新三村", "村", "T1", "", "12ab"],
                 ["N4", "", "村", "", "", ""],
                 ["T1", "重复镇", "乡镇", "X", "", ""])
    path = tmp_path / "bad.csv"
    text_ = csv_text(rows)
    path.write_bytes(text_.replace("\r\nN2,", "\r\n\r\nN2,", 1).encode("gb18030"))  # a blank line
    err = expect_rejected(seeded, path)
    assert len(err.problems) == 6, err.problems
    joined = "\n".join(err.problems)
    for row, column in [(ROW, "编码"), (ROW + 2, "类型"), (ROW + 3, "书记电话"), (ROW + 4, "名称"),
                        (ROW + 4, "上级编码"), (ROW + 5, "编码")]:
        assert f"第 {row} 行 row {row}, 列 column '{column}'" in joined, (row, column, joined)
    assert f"{err.path}: 6 处错误" in str(err)


def test_several_hierarchy_problems_all_reported(seeded, tmp_path):
    rows = _with(["N1", "新村", "村", "NOPE", "", ""],
                 ["A", "甲村", "村", "B", "", ""],
                 ["B", "乙村", "村", "A", "", ""])
    err = expect_rejected(seeded, write_csv(tmp_path / "bad.csv", rows))
    assert len(err.problems) == 3
    for row in (ROW, ROW + 1, ROW + 2):
        assert any(f"row {row}, 列 column '上级编码'" in p for p in err.problems)


def test_phone_digits_must_be_ascii(seeded, tmp_path):
    path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村", "T1", "赵", "１３８００１３８０００"],
                                                 ["N2", "新二村", "村", "T1", "钱", "123456"]))  # full-width; too short
    err = expect_rejected(seeded, path, f"row {ROW}", f"row {ROW + 1}", "'书记电话'", "１３８００１３８０００")
    assert len(err.problems) == 2


def test_phones_in_their_usual_forms(store, tmp_path):
    rows = [*COUNTY, ["T1-03", "第三村党支部", "村", "T1", "", "+86 138-0000-0003"],
            ["T1-04", "第四村党支部", "村", "T1", "", "1380000"]]  # 7 digits: the shortest accepted
    assert do_import(store, write_csv(tmp_path / "orgs.csv", rows)) == (len(rows), 0)
    assert snapshot(store)["T1-03"][7] == "+86 138-0000-0003"


def test_a_file_without_the_optional_columns(store, tmp_path):
    path = write_csv(tmp_path / "orgs.csv", [r[:3] for r in COUNTY[:1]] + [[r[0], r[1], r[2], r[3]] for r in COUNTY[1:]],
                     header=HEADER_ZH[:4])
    assert do_import(store, path) == (len(COUNTY), 0)
    assert snapshot(store)["T1-01"][6:] == (None, None)


def test_rows_below_a_loop_are_checked_once(seeded, tmp_path):
    """Only the rows on the loop are named; the many hanging below it cost one step each."""
    below = [[f"V{i}", f"第{i}村", "村", "A", "", ""] for i in range(5000)]
    path = write_csv(tmp_path / "bad.csv", _with(["A", "甲村", "村", "B", "", ""], ["B", "乙村", "村", "A", "", ""], *below))
    err = expect_rejected(seeded, path, f"row {ROW}", f"row {ROW + 1}", "loops back to 'A'", "loops back to 'B'")
    assert len(err.problems) == 2


# --- the command line ------------------------------------------------------------------

@pytest.fixture
def run(db_url, monkeypatch):
    """Invoke ``rectify --db <url> …``, disposing the stores the CLI opens."""
    opened: list[engine.store.db.Store] = []

    class TrackedStore(engine.store.db.Store):
        def __init__(self, url: str, **options):
            super().__init__(url, **options)
            opened.append(self)

    monkeypatch.setattr(engine.store.db, "Store", TrackedStore)

    def invoke(*args: str):
        result = CliRunner().invoke(main, ["--db", db_url, *args])
        while opened:
            opened.pop().dispose()
        return result

    yield invoke
    while opened:
        opened.pop().dispose()


def test_cli_import_and_list(run, store, tmp_path):
    path = write_xlsx(tmp_path / "orgs.xlsx", [[*r[:5], 13800000011 if r[0] == "T1-01" else r[5]]
                                               for r in COUNTY])
    result = run("org", "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"added {len(COUNTY)}, 更新 updated 0" in result.output
    assert_county(store)

    result = run("org", "import", str(write_csv(tmp_path / "orgs.csv", COUNTY, encoding="gb18030")))
    assert result.exit_code == 0, result.output
    assert f"added 0, 更新 updated {len(COUNTY)}" in result.output

    result = run("org", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [o["code"] for o in listed][0] == "X"
    by_code = {o["code"]: o for o in listed}
    assert set(by_code) == set(EXPECTED)
    assert {c: (o["kind"], o["parent"]) for c, o in by_code.items()} == \
        {c: (kind, parent) for c, (kind, parent, _) in EXPECTED.items()}
    assert by_code["T1-01"]["phone"] == "13800000011"
    assert by_code["T1-01"]["secretary"] == "张三"
    assert by_code["T2-E1"]["name"] == "东城某某公司党支部"

    result = run("org", "list", "--township", "T2", "--json")
    assert result.exit_code == 0, result.output
    assert {o["code"] for o in json.loads(result.stdout)} == {"T2", "T2-01", "T2-E1"}


@pytest.mark.parametrize("bad", ["rows", "hierarchy", "xls", "missing"])
def test_cli_bad_file(run, store, tmp_path, bad):
    do_import(store, write_csv(tmp_path / "seed.csv", COUNTY))
    before = snapshot(store)
    if bad == "rows":
        path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村委会", "T1", "", ""]))
        expected = [f"row {ROW}", "类型", "nothing imported"]
    elif bad == "hierarchy":
        path = write_csv(tmp_path / "bad.csv", _with(["N1", "新村", "村", "NOPE", "", ""]))
        expected = [f"row {ROW}", "上级编码", "NOPE", "nothing imported"]
    elif bad == "xls":
        path = tmp_path / "orgs.xls"
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
        expected = [".xlsx"]
    else:
        path = tmp_path / "nope.csv"
        expected = ["not found", "nope.csv"]
    result = run("org", "import", str(path))
    assert result.exit_code == 2, result.output
    for fragment in expected:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped error
    assert snapshot(store) == before
