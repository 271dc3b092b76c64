"""The ledger as files: XLSX laid out for printing, CSV that Excel opens (BOM), and HTML; and
the 档案 package, a zip of the ledger with every evidence file behind it (``write_package``).

Each writer streams the ledger's rows to the file as they come (see ``engine.ops.ledger.Ledger``):
memory stays flat whatever the number of cases. Each writes atomically (``engine.base.atomic``):
a failure half-way leaves the previous file as it was.

What officials typed is data in every format, never something the reader's program runs:
XLSX cells are string cells (never formulas), CSV cells that a spreadsheet would take for a
formula carry a protective apostrophe (``engine.ops.tabular.neutralise_cell``, removed again on
import), and HTML escapes every value.
"""

from __future__ import annotations

import csv
import html
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from copy import copy
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from engine.base import clock
from engine.base.atomic import atomic_path
from engine.ops.evidence import PackedFile
from engine.ops.ledger import COLUMNS, TITLE, Ledger
from engine.ops.tabular import neutralise_cell
from engine.store.evidence_files import EvidenceFiles, safe_file_name

WIDTHS = [6, 30, 12, 16, 24, 40, 40, 12]  # characters, for A4 landscape
CENTRED = (1, 3, 4, 8)  # 序号, 党组织书记姓名, 党组织书记联系电话, 联系领导 (1-based columns)
FONT = "宋体"


def fields(ledger: Ledger) -> list[str]:
    return [f"填表单位：{ledger.unit}", f"填报人及联系方式：{ledger.reporter}", f"填表日期：{ledger.date}"]


def grid(ledger: Ledger) -> Iterator[list[str]]:
    """The sheet as rows of text: title, header fields, column names, cases."""
    yield [TITLE]
    yield fields(ledger)
    yield list(COLUMNS)
    yield from ledger.each_row()


def write_csv(ledger: Ledger, path: Path) -> None:
    """Every cell neutralised, the 序号 and phone columns included: a phone may be written
    +8613800000000, which Excel would otherwise read as a formula giving a number (the + lost,
    the digits shown as 8.61E+12), and one rule for every cell cannot miss a column. The
    apostrophe is removed again by ``rectify ledger import`` (``engine.ops.tabular.read_table``)."""
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8-sig", newline="") as out:
        # the BOM makes Excel read UTF-8
        csv.writer(out).writerows([neutralise_cell(cell) for cell in row] for row in grid(ledger))


def write_html(ledger: Ledger, path: Path) -> None:
    """The ledger as a printable page; every value escaped (quotes too: html.escape's default)."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8") as out:
        out.write(f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(TITLE)}</title>
<style>
body {{ font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; margin: 2em; }}
h1 {{ text-align: center; font-size: 20pt; }}
.fields {{ display: flex; justify-content: space-between; margin-bottom: .5em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #000; padding: 4px 6px; vertical-align: top; }}
th {{ background: #f2f2f2; }}
@page {{ size: A4 landscape; margin: 1.5cm; }}
</style></head><body>
<h1>{e(TITLE)}</h1>
<div class="fields"><span>填表单位：{e(ledger.unit)}</span><span>填报人及联系方式：{e(ledger.reporter)}</span>
<span>填表日期：{e(ledger.date)}</span></div>
<table><thead><tr>{head}</tr></thead><tbody>""")
        for row in ledger.each_row():
            out.write("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>")
        out.write("</tbody></table>\n</body></html>\n")


def _printable(value: str) -> str:
    """Cell text without the control characters an XLSX file cannot hold."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value)


def write_xlsx(ledger: Ledger, path: Path) -> None:
    """The attachment laid out for A4 landscape, in openpyxl's write-only mode: each row goes
    to the file as it is appended (so the layout is set before the first row)."""
    from openpyxl import Workbook

    # first: a folder that cannot be written fails before any work
    with atomic_path(path) as temporary, temporary.open("wb") as out:
        book = Workbook(write_only=True)
        book.properties.title = TITLE
        sheet = book.create_sheet("汇总表")
        _lay_out(sheet)
        try:
            _append_rows(sheet, ledger)
        finally:
            sheet.close()  # ends openpyxl's stream of the sheet even if reading the rows failed
        book.save(out)


def _lay_out(sheet) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    for i, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.row_dimensions[1].height = 30
    for cell_range in (f"A1:{get_column_letter(len(COLUMNS))}1", "A2:C2", "D2:F2", "G2:H2"):
        sheet.merged_cells.add(cell_range)
    sheet.freeze_panes = "A4"
    setup = sheet.page_setup
    setup.orientation, setup.paperSize = "landscape", Worksheet.PAPERSIZE_A4
    setup.fitToWidth, setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "3:3"
    sheet.print_options.horizontalCentered = True


def text_cell(sheet, value: str | None):
    """A cell holding ``value`` as text, whatever it looks like.

    openpyxl takes a string starting with "=" for a formula and "#N/A", "#REF!"… for error
    values, and would write them as such: Excel would run a name typed as =HYPERLINK(…). A
    string cell (written inline, t="inlineStr") is shown as typed and never evaluated.
    """
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _append_rows(sheet, ledger: Ledger) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    def styled(value: str | None, **style) -> WriteOnlyCell:
        cell = text_cell(sheet, value)
        for name, applied in style.items():
            setattr(cell, name, applied)
        return cell

    def grid_cell(column: int, header: bool) -> WriteOnlyCell:
        thin = Side(style="thin", color="000000")
        return styled(None, border=Border(left=thin, right=thin, top=thin, bottom=thin),
                      font=Font(name=FONT, size=11, bold=header), number_format="@",  # phones stay text
                      alignment=Alignment(wrap_text=True, vertical="center",
                                          horizontal="center" if header or column in CENTRED else "left"),
                      **({"fill": PatternFill("solid", fgColor="F2F2F2")} if header else {}))

    sheet.append([styled(TITLE, font=Font(name=FONT, size=16, bold=True),
                         alignment=Alignment(horizontal="center", vertical="center"))])
    first, second, third = (styled(_printable(text), font=Font(name=FONT, size=11)) for text in fields(ledger))
    sheet.append([first, None, None, second, None, None, third])  # each over its merged range
    sheet.append([styled(name, _style=grid_cell(i, True)._style) for i, name in enumerate(COLUMNS, start=1)])
    # The body's styles are resolved once per column and each cell takes a copy (openpyxl's
    # own way to copy a style): resolving Font and Border objects per cell is what is slow.
    body = [grid_cell(i, False)._style for i in range(1, len(COLUMNS) + 1)]
    printable = partial(ILLEGAL_CHARACTERS_RE.sub, "")
    for row in ledger.each_row():
        cells = []
        for value, style in zip(row, body, strict=True):
            cell = WriteOnlyCell(sheet, printable(value))
            cell.data_type = "s"  # text, never a formula: see _text_cell (inlined: this loop runs per cell)
            cell._style = copy(style)
            cells.append(cell)
        sheet.append(cells)


# --- the 档案 package: the 汇总表 with every file behind it ------------------------------------

MANIFEST = "清单.csv"
MANIFEST_COLUMNS = ["路径 path", "整顿对象 case", "附于 attached to", "sha256", "大小（字节）size", "添加人 added by",
                    "添加时间 added at"]
ZIP64_FROM = 2**31  # an entry this large needs ZIP64 sizes, decided before its first byte


@dataclass(frozen=True)
class Packed:
    """What a package holds: the ledger's rows, the files and their bytes."""

    rows: int
    files: int
    size: int
    path: str


def write_package(path: Path, ledger: Ledger, file_format: str, entries: Iterable[PackedFile], files: EvidenceFiles,
                  tz: str) -> Packed:
    """A zip a checker can browse: the 汇总表 (as ``ledger export`` writes it in ``file_format``)
    at the top, each file under its folder (``engine.ops.evidence.PackedFile``) with its
    original name made safe and unique, and 清单.csv listing every one with its hash. Written
    atomically; each file is verified while it is packed, and a missing or altered one
    (``EvidenceFileError``) leaves no zip."""
    writer = {"xlsx": write_xlsx, "csv": write_csv, "html": write_html}[file_format]
    count = size = 0
    used: set[str] = set()
    with atomic_path(path) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive, \
            tempfile.TemporaryDirectory(prefix="rectify-package-") as work:
        summary = Path(work) / f"{TITLE}.{file_format}"
        writer(ledger, summary)
        archive.write(summary, summary.name)
        manifest = Path(work) / MANIFEST
        with manifest.open("w", encoding="utf-8-sig", newline="") as out:  # the BOM makes Excel read UTF-8
            table = csv.writer(out)
            table.writerow(MANIFEST_COLUMNS)
            for entry in entries:
                name = _unique_name(entry, used)
                _pack(archive, name, entry, files, tz)
                table.writerow([neutralise_cell(cell) for cell in (
                    name, entry.case, entry.attached_to, entry.sha256, str(entry.size), entry.added_by,
                    clock.fmt(entry.added_at, tz))])
                count, size = count + 1, size + entry.size
        archive.write(manifest, MANIFEST)
    return Packed(ledger.written, count, size, str(path))


def _unique_name(entry: PackedFile, used: set[str]) -> str:
    """The entry's path in the zip: each folder and the name made safe (``safe_file_name``),
    then " (2)", " (3)"… before the extension while another file has it (compared without case:
    Windows unpacks A.pdf and a.pdf onto one file)."""
    folder = "/".join(safe_file_name(part) for part in entry.folder)
    name = safe_file_name(entry.name)
    stem, dot, extension = name.rpartition(".")
    if not stem:
        stem, dot, extension = name, "", ""
    candidate, number = f"{folder}/{name}", 1
    while candidate.casefold() in used:
        number += 1
        candidate = f"{folder}/{stem} ({number}){dot}{extension}"
    used.add(candidate.casefold())
    return candidate


def _pack(archive: zipfile.ZipFile, name: str, entry: PackedFile, files: EvidenceFiles, tz: str) -> None:
    """Copy the stored file into the zip, hashing it on the way (the store raises at its end)."""
    moment = clock.local(entry.added_at, tz)
    info = zipfile.ZipInfo(name, date_time=(max(moment.year, 1980), *moment.timetuple()[1:6]))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=entry.size >= ZIP64_FROM) as out:
        for chunk in files.stream(entry.sha256, entry.name):
            out.write(chunk)
