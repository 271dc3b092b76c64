"""The ledger (后进基层党组织情况汇总表): XLSX for printing, CSV, HTML, and import that round-trips."""

from __future__ import annotations

import csv

import pytest
from openpyxl import load_workbook

from engine.ops.ledger import COLUMNS, TITLE
from tests.runner import Rectify, fingerprint


@pytest.fixture
def with_cases(rectify):
    rectify("case", "open", "T1-02", "--problem", "1", "--problem", "3", "--flag", "canvassing",
            "--measures", "选优配强班子", who="王强", now="2014-03-05")
    rectify("case", "open", "T1-01", "--problem", "4", who="王强", now="2014-03-05")
    rectify("fact", "set", "T1-01", "contact_leader", "周建国", who="王强", now="2014-03-06")
    return rectify


def export(run: Rectify, tmp_path, fmt: str, name: str = "ledger"):
    path = tmp_path / f"{name}.{fmt}"
    run("ledger", "export", "--format", fmt, "-o", str(path), "--reporter", "李明 13900000001", now="2014-03-16")
    return path


def test_xlsx_is_the_attachment_laid_out_for_printing(with_cases, tmp_path):
    sheet = load_workbook(export(with_cases, tmp_path, "xlsx")).active
    assert sheet["A1"].value == TITLE
    assert "A1:H1" in [str(r) for r in sheet.merged_cells.ranges]
    assert [sheet["A2"].value, sheet["D2"].value, sheet["G2"].value] == [
        "填表单位：中共××县委组织部", "填报人及联系方式：李明 13900000001", "填表日期：2014-03-16"]
    assert [c.value for c in sheet[3]] == COLUMNS
    first, second = [c.value for c in sheet[4]], [c.value for c in sheet[5]]
    assert first == ["1", "城关镇第1村党支部", "书记1", "13800000001", "中共城关镇委员会",
                     "组织制度形同虚设、不开展活动", None, "周建国"]  # an empty cell reads back as None
    assert second[5] == "班子配备不齐、书记缺职、工作停滞；班子不团结、内耗严重；换届选举拉票贿选问题突出"
    assert second[6] == "选优配强班子"
    assert sheet.page_setup.orientation == "landscape"
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4
    assert sheet.freeze_panes == "A4"
    assert sheet.print_title_rows == "$3:$3"
    assert sheet["B4"].alignment.wrap_text
    assert sheet["B4"].border.left.style == "thin"
    assert sheet["B4"].font.name == "宋体"
    assert sheet.column_dimensions["F"].width == 40
    assert sheet["G4"].value is None
    assert sheet["G4"].border.left.style == "thin"
    assert sheet["D4"].number_format == "@"
    assert sheet["C3"].fill.fgColor.rgb == "00F2F2F2"


def test_export_reads_the_cases_in_a_fixed_number_of_queries(with_cases, tmp_path):
    """The ledger's rows come from one query, not one per case: as many statements for 6 cases as for 2."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def statements(fmt: str) -> tuple[int, str]:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            seen.append(statement)

        event.listen(Engine, "before_cursor_execute", count)
        try:
            out = with_cases("ledger", "export", "--format", fmt, "-o", str(tmp_path / f"l.{fmt}")).stdout
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        return len(seen), out

    few = {fmt: statements(fmt) for fmt in ("xlsx", "csv", "html")}
    for org in ("T1-03", "T1-04", "T1-05", "T1-06"):
        with_cases("case", "open", org, "--problem", "2", who="王强", now="2014-03-07")
    for fmt, (before, out) in few.items():
        after, out_after = statements(fmt)
        assert after == before, fmt
        assert "exported 2 行" in out
        assert "exported 6 行" in out_after


def test_csv_opens_in_excel_and_html_is_a_table(with_cases, tmp_path):
    raw = export(with_cases, tmp_path, "csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == [TITLE]
    assert rows[2] == COLUMNS
    assert len(rows) == 5
    page = export(with_cases, tmp_path, "html").read_text(encoding="utf-8")
    assert f"<h1>{TITLE}</h1>" in page
    assert page.count("<tr>") == 3
    assert "size: A4 landscape" in page


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_import_export_is_identical(with_cases, tmp_path, fmt):
    first = export(with_cases, tmp_path, fmt, "first")
    out = with_cases("ledger", "import", str(first), who="李明", now="2014-03-16").stdout
    assert "opened 0" in out
    assert "updated 0" in out
    assert "unchanged 2" in out
    second = export(with_cases, tmp_path, fmt, "second")
    if fmt == "csv":
        assert first.read_bytes() == second.read_bytes()
    else:
        grid = lambda p: [[c.value for c in row] for row in load_workbook(p).active.iter_rows()]  # noqa: E731
        assert grid(first) == grid(second)


def test_import_registers_and_updates_cases(with_cases, tmp_path):
    path = export(with_cases, tmp_path, "csv")
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    rows[3][3] = "13900009999"  # a new phone for the secretary
    rows.append(["3", "城关镇第3村党支部", "新书记", "", "中共城关镇委员会", "书记不胜任现职、工作不在状态", "调整书记", "周建国"])
    path.write_bytes("\n".join(",".join(r) for r in rows).encode("gb18030"))  # as WPS saves it
    out = with_cases("ledger", "import", str(path), who="李明", now="2014-03-17").stdout
    assert "opened 1" in out
    assert "updated 1" in out
    cases = {c["org_code"]: c for c in with_cases.json("case", "list")}
    assert set(cases) == {"T1-01", "T1-02", "T1-03"}
    facts = {f["name"]: f["value"] for f in with_cases.json("case", "show", "T1-03")["facts"]}
    assert facts["contact_leader"] == "周建国"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda rows: rows[2].remove("联系领导"), "lacks: 联系领导"),
    (lambda rows: rows.__setitem__(2, ["序号", "名称"]), "no header row"),
    (lambda rows: rows[3].__setitem__(1, "不存在的党支部"), "row 4, 列 column '后进基层党组织名称': 找不到"),
    (lambda rows: rows.append(list(rows[3])), "duplicate of row 4"),
    (lambda rows: rows[3].__setitem__(3, "电话12"), "row 4, 列 column '党组织书记联系电话'"),
    (lambda rows: rows[3].__setitem__(5, "班子太差"), "unknown problem category"),
])
def test_bad_ledgers_are_refused_whole(with_cases, tmp_path, edit, message):
    path = export(with_cases, tmp_path, "csv")
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    edit(rows)
    rows.append(["9", "城关镇第4村党支部", "", "", "中共城关镇委员会", "", "", ""])  # a good row: not imported either
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(rows)
    before = fingerprint(with_cases.db)
    result = with_cases("ledger", "import", str(path), who="李明", now="2014-03-17", code=2)
    assert message in result.output
    assert "nothing imported" in result.output
    assert fingerprint(with_cases.db) == before


def test_skip_bad_imports_the_good_rows_and_lists_the_rest(with_cases, tmp_path):
    path = export(with_cases, tmp_path, "csv")
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    rows.append(["3", "不存在的党支部", "", "", "中共城关镇委员会", "", "", ""])
    rows.append(["4", "城关镇第4村党支部", "", "", "中共城关镇委员会", "", "", ""])
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(rows)
    result = with_cases("ledger", "import", str(path), "--skip-bad", who="李明", now="2014-03-17")
    assert "opened 1" in result.stdout
    assert "不存在的党支部" in result.output
    assert {c["org_code"] for c in with_cases.json("case", "list")} == {"T1-01", "T1-02", "T1-04"}


def test_an_xls_file_is_refused_with_advice(with_cases, tmp_path):
    old = tmp_path / "ledger.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert "save it as .xlsx" in with_cases("ledger", "import", str(old), who="李明", code=2).output


def test_export_to_a_missing_folder_is_bad_input(with_cases, tmp_path):
    out = with_cases("ledger", "export", "-o", str(tmp_path / "missing" / "l.xlsx"), code=2).output
    assert "cannot write" in out


def _merged_header_workbook(path, sub_names=("姓名", "联系电话")):
    """The attachment as WPS users often lay it out: 党组织书记 merged over two sub-headings,
    the other headings merged down over both header rows."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([TITLE])
    sheet.append(["填表单位：城关镇党委", None, None, "填报人及联系方式：王强", None, None, "填表日期：2014-03-15"])
    sheet.append(["序号", "后进基层党组织名称", "党组织书记", None, "上级党组织名称", "主要问题", "整改措施", "联系领导"])
    sheet.append([None, None, *sub_names, None, None, None, None])
    for column in "ABEFGH":
        sheet.merge_cells(f"{column}3:{column}4")
    sheet.merge_cells("C3:D3")
    sheet.append(["1", "城关镇第3村党支部", "孙书记", "13800000003", "中共城关镇委员会", "组织制度形同虚设、不开展活动",
                  "恢复三会一课", "周建国"])
    book.save(path)
    return path


def test_a_merged_two_row_header_is_read(with_cases, tmp_path):
    path = _merged_header_workbook(tmp_path / "merged.xlsx")
    out = with_cases("ledger", "import", str(path), who="李明", now="2014-03-16").stdout
    assert "opened 1" in out
    assert "城关镇党委" in out
    shown = with_cases.json("case", "show", "T1-03")
    assert shown["secretary"] == "孙书记"
    assert {f["name"]: f["value"] for f in shown["facts"]}["contact_leader"] == "周建国"


def test_a_merged_header_that_does_not_resolve_is_named(with_cases, tmp_path):
    path = _merged_header_workbook(tmp_path / "merged.xlsx", ("名字", "手机"))
    before = fingerprint(with_cases.db)
    out = with_cases("ledger", "import", str(path), who="李明", now="2014-03-16", code=2).output
    assert "header row 3 lacks: 党组织书记姓名、党组织书记联系电话" in out
    assert "合并的表头请拆分为单列" in out
    assert fingerprint(with_cases.db) == before
