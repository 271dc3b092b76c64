"""The ledger as files: XLSX laid out for printing, CSV that Excel opens (BOM), and HTML."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from engine.ledger import COLUMNS, TITLE, Ledger

WIDTHS = [6, 30, 12, 16, 24, 40, 40, 12]  # characters, for A4 landscape


def grid(ledger: Ledger) -> list[list[str]]:
    """The sheet as rows of text: title, header fields, column names, cases."""
    return [[TITLE], [f"填表单位：{ledger.unit}", f"填报人及联系方式：{ledger.reporter}", f"填表日期：{ledger.date}"],
            list(COLUMNS), *ledger.rows]


def write_csv(ledger: Ledger, path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:  # the BOM makes Excel read UTF-8
        csv.writer(out).writerows(grid(ledger))


def write_html(ledger: Ledger, path: Path) -> None:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in ledger.rows)
    path.write_text(f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{TITLE}</title>
<style>
body {{ font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; margin: 2em; }}
h1 {{ text-align: center; font-size: 20pt; }}
.fields {{ display: flex; justify-content: space-between; margin-bottom: .5em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #000; padding: 4px 6px; vertical-align: top; }}
th {{ background: #f2f2f2; }}
@page {{ size: A4 landscape; margin: 1.5cm; }}
</style></head><body>
<h1>{TITLE}</h1>
<div class="fields"><span>填表单位：{e(ledger.unit)}</span><span>填报人及联系方式：{e(ledger.reporter)}</span>
<span>填表日期：{e(ledger.date)}</span></div>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
</body></html>
""", encoding="utf-8")


def _printable(value: str) -> str:
    """Cell text without the control characters an XLSX file cannot hold."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value)


def write_xlsx(ledger: Ledger, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "汇总表"
    font = "宋体"
    last = get_column_letter(len(COLUMNS))
    rows = [[_printable(v) for v in row] for row in grid(ledger)]
    sheet.append([TITLE])
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(name=font, size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[1].height = 30
    fields = rows[1]
    for cell_range, text in zip(("A2:C2", "D2:F2", "G2:H2"), fields, strict=True):
        sheet.merge_cells(cell_range)
        anchor = sheet[cell_range.split(":")[0]]
        anchor.value, anchor.font = text, Font(name=font, size=11)
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for row in rows[2:]:
        sheet.append(row)
    for r, row in enumerate(sheet.iter_rows(min_row=3, max_row=sheet.max_row, max_col=len(COLUMNS)), start=3):
        for cell in row:
            cell.border = border
            cell.alignment = Alignment(wrap_text=True, vertical="center",
                                       horizontal="center" if r == 3 or cell.column in (1, 3, 4, 8) else "left")
            cell.font = Font(name=font, size=11, bold=r == 3)
            cell.number_format = "@"  # phone numbers stay text, never 1.38E+10
            if r == 3:
                cell.fill = PatternFill("solid", fgColor="F2F2F2")
    for i, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A4"
    setup = sheet.page_setup
    setup.orientation, setup.paperSize = "landscape", sheet.PAPERSIZE_A4
    setup.fitToWidth, setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "3:3"
    sheet.print_options.horizontalCentered = True
    book.properties.title = TITLE
    book.save(path)
