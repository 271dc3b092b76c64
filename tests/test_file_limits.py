"""Files have limits (issue 13, item 4): an import reads a regular file only, streams its rows
within limits on size, rows, columns and cell length, and only after the login was found to be an
administrator; a workflow, its calendar and templates are read within a size cap, and YAML
nested too deep is a placed problem, never a RecursionError.

Most limits are shown with a small value patched into the module's constant; the 200 000-row
workbook with a cell in column XFD runs against the real defaults, in a process of its own whose
peak memory is measured.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

import engine.ops.tabular as tabular
from cli import main
from engine.base.errors import BadInput, InvalidDefinition
from engine.base.text import TEXT_LIMIT
from engine.base.yamlsafe import MAX_DEPTH, MAX_YAML_BYTES, read_yaml
from engine.ops.tabular import read_table
from engine.spec.loader import MAX_TEMPLATE_BYTES, load_workflow_file
from tests.runner import ROOT, Rectify, fingerprint

HEADER = ["编码", "名称", "类型", "上级编码", "书记姓名", "书记电话"]
ROWS = [["X", "测试县委", "县", "", "", ""], ["T1", "城关镇党委", "乡镇", "X", "", ""], ["T2", "河西乡党委", "乡镇", "X", "", ""]]
SHIPPED = ROOT / "workflows" / "backward_orgs.yaml"
PLACE = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): \S")


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("".join(",".join(row) + "\r\n" for row in rows), encoding="utf-8")
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def write_table(path: Path, rows: list[list[str]]) -> Path:
    return write_xlsx(path, rows) if path.suffix == ".xlsx" else write_csv(path, rows)


def far_right(sheet, value: object) -> list:
    """A header row whose last cell lies in column XFD (16 384): ``value``, or an empty cell
    with a style, as spreadsheets write a cell someone formatted."""
    if value is None:
        formatted = WriteOnlyCell(sheet)
        formatted.font = Font(bold=True)
        value = formatted
    return [*HEADER[:3], *[None] * (tabular.XLSX_COLUMNS - 4), value]


def finishes(work: Callable[[], object], fifo: Path | None = None, seconds: float = 10) -> object:
    """``work()``'s result (or raised error), failing the test, not hanging it, if it waits: a
    reader blocked on ``fifo`` is released by opening and closing the FIFO's writing end."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(seconds)
        pytest.fail(f"reading did not end within {seconds} s")
    return outcome[0]


# --- which files are read ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_only_a_regular_file_is_read(tmp_path, kind):
    path = tmp_path / "orgs.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")  # endless: it must not even be opened for reading
    else:
        path.mkdir()
    error = finishes(lambda: read_table(path), path if kind == "fifo" else None)
    assert isinstance(error, BadInput)
    assert "not a regular file" in str(error)
    assert "orgs.csv" in str(error)


def test_dev_zero_is_refused_by_the_import_command(tmp_path):
    run = Rectify(f"sqlite:///{tmp_path / 'county.db'}")
    run("init")  # bootstrap: every login is an administrator, so the file itself is judged
    out = run("org", "import", "/dev/zero", code=2).output
    assert "/dev/zero" in out
    assert "not a regular file" in out


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, suffix):
    path = tmp_path / f"orgs{suffix}"
    with path.open("wb") as file:  # sparse: 21 MB on paper, nothing on disk, nothing to parse
        file.truncate(tabular.MAX_FILE_BYTES + 1)
    with pytest.raises(BadInput, match=r"too large \(20,971,521 bytes\): at most 20 MB"):
        read_table(path)


def test_a_smaller_size_limit_counts_bytes(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "orgs.csv", [HEADER, *ROWS])
    monkeypatch.setattr(tabular, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(BadInput, match="orgs.csv: .*too large"):
        read_table(path)
    monkeypatch.setattr(tabular, "MAX_FILE_BYTES", path.stat().st_size)
    assert len(read_table(path).rows) == len(ROWS)


# --- rows, columns, cells --------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_rows_beyond_the_limit_are_refused_with_the_row(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(tabular, "MAX_ROWS", 4)
    fits = write_table(tmp_path / f"fits{suffix}", [HEADER, *ROWS, [], [""] * 6])  # empty rows beyond: fine
    assert [number for number, _ in read_table(fits).rows] == [2, 3, 4]
    over = write_table(tmp_path / f"over{suffix}", [HEADER, *ROWS, ["T3", "东城乡党委", "乡镇", "X", "", ""]])
    with pytest.raises(BadInput, match=r"第 5 行 row 5: .*beyond the limit of 4 rows"):
        read_table(over)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_data_beyond_the_column_limit_is_refused_with_its_place(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(tabular, "MAX_COLUMNS", 6)
    wide = [HEADER, ROWS[0], [*ROWS[1], "", "", "备注"]]
    path = write_table(tmp_path / f"orgs{suffix}", wide)
    with pytest.raises(BadInput, match=r"第 3 行 row 3, 列 column I（第 9 列）: .*beyond the limit of 6 columns"):
        read_table(path)


def test_empty_cells_beyond_the_column_limit_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_COLUMNS", 6)
    path = write_csv(tmp_path / "orgs.csv", [[*HEADER, "", ""], [*ROWS[0], "", " ", ""]])
    table = read_table(path)
    assert table.header == HEADER
    assert table.rows == [(2, ROWS[0])]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_cell_over_the_length_limit_is_refused_with_its_place(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(tabular, "MAX_CELL_CHARS", 10)
    path = write_table(tmp_path / f"orgs{suffix}", [HEADER, ROWS[0], ["T1", "一" * 11, "乡镇", "X", "", ""]])
    with pytest.raises(BadInput, match=r"第 3 行 row 3, 列 column B: .*longer than 10 characters \(11\)"):
        read_table(path)


def test_a_cell_beyond_the_csv_modules_own_limit_names_the_row(tmp_path):
    path = write_csv(tmp_path / "orgs.csv", [HEADER, ROWS[0], ["T1", "名" * 200_000, "乡镇", "X", "", ""]])
    with pytest.raises(BadInput, match=r"第 3 行 row 3: .*longer than 8,000 characters"):
        read_table(path)


def test_what_rectify_writes_in_a_ledger_cell_imports_again(tmp_path):
    measures = "'=" + "措" * (TEXT_LIMIT - 1)  # the longest measures, neutralised as the CSV export writes them
    path = write_csv(tmp_path / "ledger.csv", [["序号", "整改措施"], ["1", measures]])
    assert read_table(path).rows == [(2, ["1", "=" + "措" * (TEXT_LIMIT - 1)])]


# --- a workbook's declared width and its parts ----------------------------------------------------

def test_a_cell_in_column_xfd_is_refused_at_its_place(tmp_path):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(far_right(sheet, "备注"))
    sheet.append(ROWS[0])
    book.save(tmp_path / "orgs.xlsx")
    with pytest.raises(BadInput, match=r"第 1 行 row 1, 列 column XFD（第 16384 列）: .*beyond the limit of 64 "
                                       r"columns: delete what lies right of column BL"):
        read_table(tmp_path / "orgs.xlsx")


def test_an_empty_formatted_cell_in_column_xfd_widens_nothing(tmp_path):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(far_right(sheet, None))
    for row in ROWS:
        sheet.append(row[:2])
    book.save(tmp_path / "orgs.xlsx")
    table = read_table(tmp_path / "orgs.xlsx")
    assert table.header == HEADER[:3]
    assert [cells for _, cells in table.rows] == [[*row[:2], ""] for row in ROWS]


def _with_part(source: Path, target: Path, name: str, data: bytes) -> Path:
    """``source`` with its part ``name`` replaced (or added) by ``data``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != name:
                dst.writestr(item.filename, src.read(item.filename))
        dst.writestr(name, data)
    return target


# a part limit above every part of a small workbook (its theme is 10 KB) but its padded sheet
PART_LIMIT = 12_000
PADDING = "<!--" + " " * PART_LIMIT + "-->"  # a comment: bytes to unpack, no element to hold


def _sheet_xml(rows: str) -> bytes:
    return (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + PADDING.encode()
            + b"<sheetData>" + rows.encode() + b"</sheetData></worksheet>")


def test_styles_that_unpack_beyond_their_limit_are_refused(tmp_path):
    """3 MB of styles in a workbook of a few KB: openpyxl would have built them whole (300 MB)."""
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER, *ROWS])
    styles = (b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="1">'
              + b"<xf/>" * 600_000 + b"</cellXfs></styleSheet>")
    bomb = _with_part(good, tmp_path / "orgs.xlsx", "xl/styles.xml", styles)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(BadInput, match=r"part xl/styles.xml unpacks to 3,\d{3},\d{3} bytes, more than 2 MB"):
        read_table(bomb)


def test_a_big_part_is_judged_by_what_it_holds_not_its_name(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_PART_BYTES", PART_LIMIT)
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER, *ROWS * 100])
    assert zipfile.ZipFile(good).getinfo("xl/worksheets/sheet1.xml").file_size > PART_LIMIT
    assert len(read_table(good).rows) == len(ROWS) * 100  # its sheet is checked, and fine
    disguised = _with_part(good, tmp_path / "orgs.xlsx", "xl/worksheets/sheet9.xml",
                           b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                           + b"<xf/>" * PART_LIMIT + b"</styleSheet>")
    with pytest.raises(BadInput, match=r"part xl/worksheets/sheet9.xml unpacks to [\d,]+ bytes, more than 12,000 bytes"):
        read_table(disguised)


def test_a_sheet_beyond_its_own_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_PART_BYTES", PART_LIMIT)
    monkeypatch.setattr(tabular, "MAX_SHEET_BYTES", PART_LIMIT * 2)
    fits = write_xlsx(tmp_path / "fits.xlsx", [HEADER, *ROWS * 20])
    assert PART_LIMIT < zipfile.ZipFile(fits).getinfo("xl/worksheets/sheet1.xml").file_size <= PART_LIMIT * 2
    assert len(read_table(fits).rows) == len(ROWS) * 20
    over = write_xlsx(tmp_path / "orgs.xlsx", [HEADER, *ROWS * 30])
    with pytest.raises(BadInput, match=r"part xl/worksheets/sheet1.xml unpacks to [\d,]+ bytes, more than 24,000 bytes"):
        read_table(over)


@pytest.mark.parametrize(("rows", "message"), [
    ('<row r="1">' + '<c t="inlineStr"><is><t>编码</t></is></c>' * 11 + "</row>", "row 1 has more than 10 cells"),
    ('<row r="1"><c t="inlineStr"><is><t>编码</t></is></c></row>' * 11, "more than 10 rows"),
    ('<row r="1"><c t="inlineStr"><is>' + "<r><t>a</t></r>" * 20 + "</is></c></row>",
     "row 1 holds more than 30 elements"),
], ids=["cells", "rows", "rich-text"])
def test_a_sheet_openpyxl_would_hold_too_much_of_is_refused(tmp_path, monkeypatch, rows, message):
    """Rows of cells, or runs of rich text, that openpyxl holds whole, beyond what Excel writes."""
    for name, value in (("MAX_PART_BYTES", PART_LIMIT), ("XLSX_COLUMNS", 10), ("XLSX_ROWS", 10),
                        ("MAX_HELD_ELEMENTS", 30)):
        monkeypatch.setattr(tabular, name, value)
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER])
    padded = _with_part(good, tmp_path / "padded.xlsx", "xl/worksheets/sheet1.xml",
                        _sheet_xml('<row r="1"><c t="inlineStr"><is><t>编码</t></is></c></row>'))
    assert read_table(padded).header == ["编码"]  # checked (it is over the part limit), and fine
    odd = _with_part(good, tmp_path / "orgs.xlsx", "xl/worksheets/sheet1.xml", _sheet_xml(rows))
    with pytest.raises(BadInput, match=f"is not a sheet Excel or WPS writes \\({message}"):
        read_table(odd)


# --- the real limits, in a process of its own ------------------------------------------------------

SPARSE_ROWS = 200_000
MEMORY_CEILING_MB = 500
MEASURED = """
import resource, sys, time
cap = 3 << 30  # a regression ends in a MemoryError, not in the OOM killer
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from click.testing import CliRunner
from cli import main
db, path = sys.argv[1:]
assert CliRunner().invoke(main, ["--db", db, "init"]).exit_code == 0
start = time.monotonic()
result = CliRunner().invoke(main, ["--db", db, "org", "import", path])
print(result.exit_code, round(time.monotonic() - start, 1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
print(repr(result.exception))
print(result.output)
"""


@pytest.fixture(scope="module")
def sparse_xfd_workbook(tmp_path_factory) -> Path:
    """200 000 rows of one cell each under a header whose formatted last cell lies in column XFD,
    the shape that once took 24 GB (every row padded to 16 384 cells): ~1.5 MB on disk."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(far_right(sheet, None))
    for i in range(SPARSE_ROWS):
        sheet.append([f"V{i}"])
    path = tmp_path_factory.mktemp("sparse") / "orgs.xlsx"
    book.save(path)
    return path


@pytest.mark.slow  # 200 000 rows in a real process (~20 s of CPU); the XFD cell itself is tested above
def test_a_sparse_200000_row_workbook_with_column_xfd_is_refused_quickly_in_little_memory(
        sparse_xfd_workbook, tmp_path):
    assert sparse_xfd_workbook.stat().st_size < 2 * 1024 * 1024
    done = subprocess.run([sys.executable, "-c", MEASURED, f"sqlite:///{tmp_path / 'county.db'}",
                           str(sparse_xfd_workbook)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    head, exception, output = done.stdout.split("\n", 2)
    code, seconds, peak_mb = head.split()
    assert (int(code), exception) == (2, "SystemExit(2)"), done.stdout
    assert f"第 {tabular.MAX_ROWS + 1} 行 row {tabular.MAX_ROWS + 1}" in output
    assert f"beyond the limit of {tabular.MAX_ROWS:,} rows" in output
    assert int(peak_mb) < MEMORY_CEILING_MB, done.stdout
    assert float(seconds) < 120, done.stdout


# --- the administrator first, then the file -------------------------------------------------------

@pytest.mark.parametrize(("command", "what"), [("org", "import organizations"), ("ledger", "import a ledger")])
def test_a_refused_login_is_refused_before_the_file_is_read(county_with_logins, login, tmp_path, command, what):
    huge = tmp_path / "huge.xlsx"
    with huge.open("wb") as file:  # what reading would refuse (exit 2), had it been read first
        file.truncate(tabular.MAX_FILE_BYTES * 50)
    before = fingerprint(county_with_logins.db)
    login("wangq")
    start = time.monotonic()
    out = county_with_logins(command, "import", str(huge), code=1).output
    assert time.monotonic() - start < 10
    assert f"only an administrator may {what}" in out
    assert "too large" not in out
    assert fingerprint(county_with_logins.db) == before
    login("admin1")
    assert "too large" in county_with_logins(command, "import", str(huge), code=2).output


# --- workflow files and YAML ------------------------------------------------------------------------

def nested(depth: int) -> str:
    """A flow sequence ``depth`` levels deep: ``[[[…]]]``."""
    return "[" * depth + "]" * depth


def test_yaml_nested_to_the_limit_reads_and_one_more_level_is_a_placed_problem():
    assert read_yaml(nested(MAX_DEPTH), "f.yaml").problems == []
    problems = read_yaml(nested(MAX_DEPTH + 1), "f.yaml").problems
    assert [(p.line, p.column) for p in problems] == [(1, MAX_DEPTH + 1)]
    assert f"nested more than {MAX_DEPTH} levels deep" in problems[0].message


def test_yaml_over_the_size_limit_is_a_problem_before_parsing():
    problems = read_yaml("a: [" + "1," * (MAX_YAML_BYTES // 2) + "]", "f.yaml").problems
    assert [(p.line, p.column) for p in problems] == [(1, 1)]
    assert "too large" in problems[0].message


def test_workflow_check_of_yaml_nested_500_deep_exits_2_with_the_place(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("".join("  " * i + f"k{i}:\n" for i in range(500)) + "  " * 500 + "end\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["workflow", "check", str(path)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    place = PLACE.match(lines[0])
    assert place, lines[0]
    assert Path(place["file"]) == path
    assert int(place["line"]) in (MAX_DEPTH, MAX_DEPTH + 1)
    assert f"nested more than {MAX_DEPTH} levels deep" in lines[0]


def _check(*paths: Path | str) -> subprocess.CompletedProcess[str]:
    """``rectify workflow check`` as a real process: one that reads /dev/zero never ends by itself,
    so it gets a time limit and an address-space cap."""
    def capped() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    # this tree's cli (the installed console script may run another copy)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", "workflow", "check", *map(str, paths)],
                          cwd=ROOT, timeout=60,
                          capture_output=True, text=True, encoding="utf-8", preexec_fn=capped, check=False,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_workflow_check_refuses_what_is_not_a_regular_file(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "workflow.yaml"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    result = _check(path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: " in result.stderr
    assert "not a regular file" in result.stderr


def test_a_workflow_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "workflow.yaml"
    with path.open("wb") as file:
        file.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(BadInput, match=r"workflow.yaml: .*too large \(2,097,153 bytes\): at most 2 MB"):
        load_workflow_file(path)


def _shipped_copy(folder: Path) -> Path:
    (folder / "templates").mkdir()
    for template in (SHIPPED.parent / "templates").glob("*.j2"):
        (folder / "templates" / template.name).write_bytes(template.read_bytes())
    workflow = folder / SHIPPED.name
    workflow.write_bytes(SHIPPED.read_bytes())
    return workflow


def test_a_calendar_that_is_a_fifo_is_a_placed_problem(tmp_path):
    workflow = _shipped_copy(tmp_path)
    os.mkfifo(tmp_path / "calendar.yaml")
    error = finishes(lambda: load_workflow_file(workflow), tmp_path / "calendar.yaml")
    assert isinstance(error, InvalidDefinition)
    assert [(Path(p.file).name, p.line, p.column) for p in error.problems] == [("calendar.yaml", 1, 1)]
    assert "not a regular file" in error.problems[0].message


def test_a_template_over_its_size_limit_is_a_placed_problem(tmp_path):
    workflow = _shipped_copy(tmp_path)
    template = next((tmp_path / "templates").glob("*.j2"))
    template.write_bytes(template.read_bytes() + b" " * MAX_TEMPLATE_BYTES)
    with pytest.raises(InvalidDefinition) as raised:
        load_workflow_file(workflow)
    problem = next(p for p in raised.value.problems if Path(p.file) == template)
    assert (problem.line, problem.column) == (1, 1)
    assert "at most 256 KB" in problem.message


def test_the_shipped_workflow_is_far_within_the_limits():
    text = SHIPPED.read_text(encoding="utf-8")
    assert len(text.encode()) * 20 < MAX_YAML_BYTES
    assert read_yaml(text, str(SHIPPED)).problems == []
    assert load_workflow_file(SHIPPED).definition is not None
