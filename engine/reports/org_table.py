"""The organization table ``rectify org import`` reads, written out as a filled-in example.

A new county's first question is what its table must look like. ``rectify org template FILE``
answers with the table itself: the import's headers and an example county (the demo's
generated one), which ``rectify org import FILE`` accepts as it is and which the county
replaces row by row with its own organizations.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from engine.base.atomic import atomic_path
from engine.ops.orgs import KIND_LABELS, OrgRow
from engine.ops.tabular import neutralise_cell
from engine.reports.ledger_files import text_cell

HEADERS = ("编码", "名称", "类型", "上级编码", "书记姓名", "书记电话")
WIDTHS = (12, 40, 10, 12, 12, 16)


def cells(row: OrgRow) -> list[str]:
    return [row.code, row.name, KIND_LABELS[row.kind], row.parent_code or "", row.secretary_name or "",
            row.secretary_phone or ""]


def write_org_table(rows: Iterable[OrgRow], path: Path) -> None:
    """``rows`` as an import table: XLSX for a ``.xlsx`` path, else CSV (UTF-8 with a BOM for
    Excel, every cell neutralised as the ledger's are)."""
    if path.suffix.lower() == ".xlsx":
        _write_xlsx(rows, path)
        return
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows([neutralise_cell(cell) for cell in cells(row)] for row in rows)


def _write_xlsx(rows: Iterable[OrgRow], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    with atomic_path(path) as temporary, temporary.open("wb") as out:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("基层党组织")
        for i, width in enumerate(WIDTHS, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
        sheet.append(list(HEADERS))
        for row in rows:
            sheet.append([text_cell(sheet, cell) for cell in cells(row)])
        sheet.close()
        book.save(out)
