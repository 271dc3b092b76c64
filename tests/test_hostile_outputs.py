"""Outputs that cannot be turned against their readers (issue 12, item 8).

What officials type — organization names, secretaries' names and phones, superiors, measures,
contact leaders, the ledger's unit and reporter — is typed here as formulas, markup and
quotes, and every export must give it back as data: XLSX string cells (no formula), CSV cells
neutralised with an apostrophe, HTML escaped, .docx text in plain runs; the ledger's export →
import round trip leaves the database as it was; notice files land in their folder under safe
names; and every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from engine.base.atomic import atomic_path, atomic_write
from engine.ops.ledger import COLUMNS, Ledger
from engine.ops.tabular import FORMULA_STARTS, neutralise_cell, read_table, restore_cell
from engine.reports.ledger_files import write_csv, write_html, write_xlsx
from notifiers.base import Message
from notifiers.files import DocxChannel, FileChannel, FileSettings, file_name
from notifiers.officialdoc import split_notice, write_notice_docx
from tests.conftest import BACKENDS
from tests.runner import Rectify, build_county, fingerprint

HOSTILE = [
    '=HYPERLINK("http://x","点我")',
    "@SUM(1+1)",
    '=cmd|" /C calc"!A0',
    "+1+1",
    "-2+3",
    "\t=1",
    "<script>alert(1)</script>",
    '"</td><img src=x onerror=alert(1)>',
    "'=already",
    "'plain",  # an apostrophe a user typed before ordinary text: kept as it is
    "A&B \"甲\" '乙' 党支部",
    "#N/A",  # an error value to openpyxl, unless the cell is a string cell
]
TOWNS = {"T8": '=cmd|" /C calc"!A0', "T9": "<script>alert(1)</script>"}  # hostile superiors
UNIT, REPORTER = '=HYPERLINK("http://x","填表")', "<script>alert(2)</script> +86 139"
PHONE = "+8613800000001"  # a real phone that starts like a formula
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def typed(i: int) -> dict[str, str]:
    """What was typed for the i-th hostile organization, field by field."""
    n = len(HOSTILE)
    return {"code": f"T{8 + i % 2}-{i:02d}", "name": HOSTILE[i], "secretary": HOSTILE[(i + 1) % n],
            "phone": PHONE if i % 2 == 0 else "", "superior": TOWNS[f"T{8 + i % 2}"],
            "measures": HOSTILE[(i + 2) % n], "contact_leader": HOSTILE[(i + 3) % n]}


def stored(value: str) -> str:
    r"""What the database keeps of a name or a fact typed: ``org import`` and ``fact set`` trim
    the ends (the "\t=1" typed is "=1"), and nothing else (``case open --measures`` keeps
    even the ends: the round trip must leave that "\t=1" as it is)."""
    return value.strip()


def org_file(path: Path) -> Path:
    """The hostile organizations as a CSV file, each cell as rectify writes a CSV cell."""
    rows = [["编码", "名称", "类型", "上级编码", "书记姓名", "书记电话"],
            *[[code, name, "乡镇", "X", "", ""] for code, name in TOWNS.items()],
            *[[t["code"], t["name"], "村", t["code"][:2], t["secretary"], t["phone"]]
              for t in map(typed, range(len(HOSTILE)))]]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([neutralise_cell(c) for c in row] for row in rows)
    return path


def build_hostile(run: Rectify, folder: Path) -> None:
    """The test county plus two townships and one case per hostile value, every text field typed
    hostile; the first case confirmed, so that a notice names it."""
    build_county(run, folder)
    run("org", "import", str(org_file(folder / "hostile-orgs.csv")))
    run("official", "add", "钱八", "--role", "township_committee", "--jurisdiction", "T8")
    run("official", "add", "孙九", "--role", "township_committee", "--jurisdiction", "T9")
    # contact leaders are registered people (person facts): hostile names too, and the two a
    # township types into the ledger later (test_a_changed_hostile_value_imports_as_typed)
    for leader in [*dict.fromkeys(stored(v) for v in HOSTILE), "=新联系领导()", "=quoted by hand"]:
        run("person", "add", "--unit", "县委", "--", leader)
    for i in range(len(HOSTILE)):
        t = typed(i)
        who = "钱八" if t["code"].startswith("T8") else "孙九"
        run("case", "open", t["code"], "--problem", "1", f"--measures={t['measures']}", who=who, now="2014-03-05")
        run("fact", "set", "--", t["code"], "contact_leader", t["contact_leader"], who=who, now="2014-03-06")
    run("fire", typed(0)["code"], "confirm", who="李明", now="2014-03-10")


@pytest.fixture(params=BACKENDS)
def hostile(request, built_counties, tmp_path) -> Rectify:
    """``build_hostile``'s county on each backend: built once per session (30 commands), copied
    for each test."""
    return built_counties.copy("hostile", build_hostile, request.param, tmp_path)


def export(run: Rectify, path: Path) -> Path:
    run("ledger", "export", "--format", path.suffix[1:], "-o", str(path), f"--unit={UNIT}", f"--reporter={REPORTER}",
        now="2014-03-16")
    return path


def expected_rows() -> list[list[str]]:
    """The ledger's body rows, in its order (township, then organization)."""
    ts = sorted(map(typed, range(len(HOSTILE))), key=lambda t: (t["code"][:2], int(t["code"][3:])))
    rows = []
    for number, t in enumerate(ts, start=1):
        rows.append([str(number), stored(t["name"]), stored(t["secretary"]), t["phone"], t["superior"],
                     "班子配备不齐、书记缺职、工作停滞", t["measures"], stored(t["contact_leader"])])
    return rows


def test_the_database_holds_what_was_typed(hostile):
    for i in range(len(HOSTILE)):
        t = typed(i)
        shown = hostile.json("case", "show", t["code"])
        facts = {f["name"]: f["value"] for f in shown["facts"]}
        assert (shown["secretary"], facts["contact_leader"]) == (stored(t["secretary"]), stored(t["contact_leader"]))


# --- XLSX: string cells, never formulas -------------------------------------------------------

def test_xlsx_holds_text_in_string_cells_only(hostile, tmp_path):
    path = export(hostile, tmp_path / "ledger.xlsx")
    with zipfile.ZipFile(path) as book:
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    assert sheet.findall(".//m:f", NS) == []  # no formula anywhere
    filled = [c for c in sheet.iterfind(".//m:c", NS) if len(c)]
    assert filled
    assert {c.get("t") for c in filled} == {"inlineStr"}
    grid = load_workbook(path).active
    assert [grid["A2"].value, grid["D2"].value] == [f"填表单位：{UNIT}", f"填报人及联系方式：{REPORTER}"]
    body = [[c.value if c.value is not None else "" for c in row] for row in grid.iter_rows(min_row=4)]
    assert body == expected_rows()
    assert all(c.data_type == "s" for row in grid.iter_rows() for c in row if c.value is not None)


# --- CSV: neutralised cells ------------------------------------------------------------------

def test_csv_cells_that_would_be_formulas_are_neutralised(hostile, tmp_path):
    text = export(hostile, tmp_path / "ledger.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert not [c for row in rows for c in row if c.startswith(FORMULA_STARTS)]
    assert rows[1] == [f"填表单位：{UNIT}", f"填报人及联系方式：{REPORTER}", "填表日期：2014-03-16"]
    assert rows[2] == COLUMNS
    assert [[restore_cell(c) for c in row] for row in rows[3:]] == expected_rows()
    cells = {c for row in rows[3:] for c in row}
    assert {"'=HYPERLINK(\"http://x\",\"点我\")", "'@SUM(1+1)", "'+1+1", "'-2+3", "''=already", "'plain",
            "'" + PHONE, "#N/A"} <= cells  # the phone too: Excel would turn +86… into a number


@given(st.text(st.characters(codec="utf-8"), max_size=12)
       | st.tuples(st.sampled_from(["", "'", "''", " "]), st.sampled_from([*FORMULA_STARTS, "'", "a", ""]),
                   st.text(max_size=3)).map("".join))
@settings(max_examples=300, deadline=None)
def test_neutralised_cells_restore_exactly(text):
    cell = neutralise_cell(text)
    assert restore_cell(cell) == text
    assert not cell.startswith(FORMULA_STARTS)
    assert cell == text or cell == "'" + text


def test_an_xlsx_cell_is_read_as_it_is(tmp_path):
    """Only CSV carries the protective apostrophe: an XLSX cell's leading ' is the user's."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["名称"])
    book.active.append(["'=already"])
    book.save(tmp_path / "t.xlsx")
    (tmp_path / "t.csv").write_text("名称\n'=already\n''=twice\n'plain\n", encoding="utf-8")
    assert [cells for _, cells in read_table(tmp_path / "t.xlsx").rows] == [["'=already"]]
    assert [cells for _, cells in read_table(tmp_path / "t.csv").rows] == [["=already"], ["'=twice"], ["'plain"]]


# --- the round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_leaves_the_database_as_it_was(hostile, tmp_path, suffix):
    first = export(hostile, tmp_path / f"first{suffix}")
    before = fingerprint(hostile.db)
    out = hostile("ledger", "import", str(first), who="李明", now="2014-03-17").stdout
    assert f"unchanged {len(HOSTILE)}" in out
    assert "opened 0" in out
    assert "updated 0" in out
    assert fingerprint(hostile.db) == before  # every name, phone, measure and leader exactly as typed
    second = export(hostile, tmp_path / f"second{suffix}")
    if suffix == ".csv":
        assert first.read_bytes() == second.read_bytes()


def test_a_changed_hostile_value_imports_as_typed(hostile, tmp_path):
    """The import reads what a township typed into the exported CSV, formula-like or not."""
    path = export(hostile, tmp_path / "ledger.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    rows[3][7] = neutralise_cell("=新联系领导()")
    rows[4][7] = "'=quoted by hand"  # an apostrophe typed in a text editor: taken as protection too
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(rows)
    assert "updated 2" in hostile("ledger", "import", str(path), who="李明", now="2014-03-17").stdout
    leaders = {}
    for i in range(len(HOSTILE)):
        facts = hostile.json("case", "show", typed(i)["code"])["facts"]
        leaders[typed(i)["code"]] = {f["name"]: f["value"] for f in facts}["contact_leader"]
    assert {"=新联系领导()", "=quoted by hand"} <= set(leaders.values())


# --- HTML: escaped -------------------------------------------------------------------------------

class Page(HTMLParser):
    """The tags, attributes and text of a page as a browser would parse them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.cells: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


DANGEROUS_TAGS = {"script", "img", "iframe", "object", "embed", "a", "link", "form", "base"}


def assert_inert(html: str) -> Page:
    page = Page(html)
    assert "<script" not in html
    assert "<img" not in html
    assert not page.tags & DANGEROUS_TAGS, page.tags & DANGEROUS_TAGS
    assert not {a for a in page.attributes if a.startswith("on")}  # no event handler came in with the data
    return page


def test_html_ledger_escapes_every_value(hostile, tmp_path):
    html = export(hostile, tmp_path / "ledger.html").read_text(encoding="utf-8")
    page = assert_inert(html)
    body = page.cells
    width = len(COLUMNS)
    assert [body[i:i + width] for i in range(0, len(body), width)] == expected_rows()
    assert f"填表单位：{UNIT}" in "".join(page.text)
    assert f"填报人及联系方式：{REPORTER}" in "".join(page.text)


def test_dashboard_escapes_every_value(hostile, tmp_path):
    path = tmp_path / "看板.html"
    for i in range(1, len(HOSTILE)):  # confirmed, late: overdue in rectification by December
        hostile("fire", typed(i)["code"], "confirm", who="李明", now="2014-03-12")
    hostile("report", "--html", str(path), now="2014-12-02")
    html = path.read_text(encoding="utf-8")
    text = "".join(assert_inert(html).text)
    for i in range(1, len(HOSTILE)):  # the overdue cases
        t = typed(i)
        assert stored(t["name"]) in text
        assert f"{stored(t['contact_leader'])}（联系领导）" in text
    assert all(town in text for town in TOWNS.values())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&lt;/td&gt;&lt;img" in html


def test_dashboard_template_marks_nothing_safe():
    template = (Path(__file__).parent.parent / "engine" / "reports" / "templates" / "dashboard.html.j2").read_text(encoding="utf-8")
    assert "|safe" not in template.replace(" ", "")
    assert "autoescape" not in template


# --- .docx: text in plain runs -------------------------------------------------------------------

def docx_parts(path: Path) -> tuple[list, str]:
    """The document's non-empty paragraphs and its main part's XML."""
    with zipfile.ZipFile(path) as document:
        xml = document.read("word/document.xml").decode("utf-8")
    return [p for p in Document(str(path)).paragraphs if p.text], xml


def assert_plain_runs(paragraphs: list, xml: str) -> None:
    assert all(len(p.runs) == 1 for p in paragraphs)  # one run each: no markup came in with the text
    for element in ("w:fldChar", "w:instrText", "w:fldSimple", "w:hyperlink", "w:object", "w:altChunk"):
        assert f"<{element}" not in xml  # no field, link or embedded content (the page number is in the footer)


def test_cli_docx_of_a_notice_naming_a_hostile_organization(hostile, tmp_path):
    notice = hostile.json("notices", "list")[0]
    assert HOSTILE[0] in notice["title"]
    path = tmp_path / "通知.docx"
    hostile("notices", "docx", str(notice["id"]), "-o", str(path))
    paragraphs, xml = docx_parts(path)
    # The 发文字号 above the title (the register's, nothing typed), then the title as stored.
    assert re.fullmatch(r"×组通〔2014〕[1-9][0-9]*号", notice["number"]), notice
    assert [p.text for p in paragraphs[:2]] == [notice["number"], notice["title"]]
    assert_plain_runs(paragraphs, xml)
    assert Document(str(path)).core_properties.title == notice["title"]


def test_docx_text_equals_the_input_and_control_characters_are_removed(tmp_path):
    lines = [f"第{i}项：{value}" for i, value in enumerate(HOSTILE)]
    title = f"关于{HOSTILE[0]}的通知\x00\x1b[31m"
    body = "中共<城关镇>委员会：\n" + "\n".join(lines) + "\n控制\x01字符\x0b\x7f\x9b不可见\n\n中共××县委组织部\n2014-03-05\n"
    path = tmp_path / "hostile.docx"
    write_notice_docx(title, body, path, key="k\x02ey")
    paragraphs, xml = docx_parts(path)
    assert [p.text for p in paragraphs] == [f"关于{HOSTILE[0]}的通知[31m", "中共<城关镇>委员会：", *[line.strip() for line in lines],
                                            "控制字符不可见", "中共××县委组织部", "2014年3月5日"]
    assert_plain_runs(paragraphs, xml)
    properties = Document(str(path)).core_properties
    assert (properties.title, properties.identifier) == (f"关于{HOSTILE[0]}的通知[31m", "key")
    assert split_notice(title, body).title == paragraphs[0].text
    long_title = "关于" + "很长的党组织名称" * 40 + "的通知"  # beyond the 255 characters a property holds
    write_notice_docx(long_title, body, path)
    assert docx_parts(path)[0][0].text == long_title
    assert Document(str(path)).core_properties.title == long_title[:255]


# --- notice files: safe names in the chosen folder -----------------------------------------------

HOSTILE_KEYS = ["../../etc/passwd", "..", ".", "", "/abs/path", "a\\b\\..\\c", "x\x00y\nz", ".hidden", "键|文件",
                "a" * 400, "b" * 400, "k|打印|", "k|存档|", "2014-1-0001:event:2:case_listed|printed|"]


def hostile_message(text: str) -> Message:
    """A message whose key, title and case reference are all ``text`` (a file is named by them)."""
    return Message(text, text, "正文", "t", text or None)


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_file_name_from_a_key_stays_in_its_folder(key, tmp_path):
    name = file_name(hostile_message(key), ".txt")
    assert "/" not in name
    assert "\\" not in name
    assert ".." not in name
    assert not name.startswith(".")
    assert name.isprintable()
    assert len(name.encode()) <= 255
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_file_names_are_stable_and_distinct():
    names = [file_name(hostile_message(k), ".txt") for k in HOSTILE_KEYS]
    assert len(set(names)) == len(names)  # titles that read alike here: a digest of the key tells them apart
    assert names == [file_name(hostile_message(k), ".txt") for k in HOSTILE_KEYS]  # a retry rewrites the same file


@pytest.mark.parametrize("channel_type", [FileChannel, DocxChannel])
def test_channels_write_hostile_notices_inside_their_folder(channel_type, tmp_path):
    folder = tmp_path / "out"
    channel = channel_type("printed", FileSettings(folder=str(folder)))
    for key in HOSTILE_KEYS:
        channel.send(Message(key, f"标题{HOSTILE[0]}\x1b[2J", "正文\r覆盖\x07\n" + "\n".join(HOSTILE), "t", None), "")
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == len(HOSTILE_KEYS)
    assert not [n for n in written if n.startswith(".")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing outside the folder
    if channel_type is FileChannel:
        text = (folder / written[0]).read_text(encoding="utf-8")
        assert "\x1b" not in text
        assert "\r" not in text
        assert "\x07" not in text
        assert "正文\n覆盖" in text


# --- atomic writes --------------------------------------------------------------------------------

def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "ledger.csv"
    target.write_text("old", encoding="utf-8")

    def half_then_fail(temporary: Path) -> None:
        temporary.write_text("half of the new", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["ledger.csv"]
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temporary:  # noqa: PT012 (Ctrl-C halfway)
        temporary.write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["ledger.csv"]
    assert atomic_write(target, lambda t: t.write_text("new", encoding="utf-8")) == 3
    assert target.read_text(encoding="utf-8") == "new"
    assert os.listdir(tmp_path) == ["ledger.csv"]


def _failing_rows():
    yield ["1", "城关镇第1村党支部", "", "", "", "", "", ""]
    raise RuntimeError("the database went away")


@pytest.mark.parametrize("writer", [write_csv, write_xlsx, write_html])
def test_an_export_that_fails_midway_leaves_the_old_file(writer, tmp_path):
    target = tmp_path / "汇总表.out"
    target.write_bytes(b"the previous export")
    with pytest.raises(RuntimeError, match="went away"):
        writer(Ledger("单位", "填报人", "2014-03-16", _failing_rows()), target)
    assert target.read_bytes() == b"the previous export"
    assert os.listdir(tmp_path) == ["汇总表.out"]


def test_written_files_get_the_usual_permissions(tmp_path):
    """Not mkstemp's 0600: a new file gets what the umask allows, a replaced one keeps its mode."""
    fresh, kept = tmp_path / "new.html", tmp_path / "kept.html"
    kept.write_text("old", encoding="utf-8")
    kept.chmod(0o640)
    mask = os.umask(0o022)
    os.umask(mask)
    for path in (fresh, kept):
        atomic_write(path, lambda t: t.write_text("new", encoding="utf-8"))
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_a_link_is_replaced_not_followed_and_a_pipe_is_written_in_place(tmp_path):
    outside = tmp_path / "system-file"
    outside.write_text("precious", encoding="utf-8")
    folder = tmp_path / "notices"
    folder.mkdir()
    (folder / "n.txt").symlink_to(outside)
    atomic_write(folder / "n.txt", lambda t: t.write_text("notice", encoding="utf-8"))
    assert outside.read_text(encoding="utf-8") == "precious"
    assert not (folder / "n.txt").is_symlink()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the write does not block
    try:
        atomic_write(fifo, lambda t: t.write_text("through the pipe", encoding="utf-8"))
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe: not replaced by a file


def test_a_missing_folder_is_an_os_error_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_csv(Ledger("单位", "", "2014-03-16", []), tmp_path / "missing" / "l.csv")
    assert os.listdir(tmp_path) == []
