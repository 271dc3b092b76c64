"""Read a CSV or XLSX table as officials exchange them (Excel/WPS, UTF-8 with or without BOM, GB18030),
and keep the text rectify writes to a CSV file from being run as a formula.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.base.errors import BadInput

# A cell starting with one of these is a formula to Excel and WPS when they open a CSV file
# (=, + and - start a formula, @ a function call, a tab or a carriage return is skipped before
# one): OWASP's "CSV injection". A name typed as =HYPERLINK(…) or =cmd|' /C calc'!A0 must reach
# the reader as text, so such a cell is written with a leading apostrophe, and read back without it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet runs: with a leading ``'`` when it would start a
    formula. The apostrophe also goes before text that already starts with apostrophes followed
    by a formula character ('=x → ''=x), so ``restore_cell`` gives back exactly what was written,
    even text a user really typed with an apostrophe; other text is left alone."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def restore_cell(text: str) -> str:
    """The text ``neutralise_cell`` was given: one leading ``'`` removed where it added one."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class Table:
    path: str
    header: list[str]
    header_row: int  # 1-based row number of the header in the file
    rows: list[tuple[int, list[str]]]  # (1-based row number, cells as text)


def read_table(path: str | Path) -> Table:
    """The first non-empty row as the header, the other non-empty rows as text, stripped.

    A CSV cell's protective apostrophe (see ``neutralise_cell``) is removed, so what rectify
    exported imports as it was typed; an XLSX cell is read as it is (rectify writes text there
    as string cells, which no spreadsheet runs, so it adds nothing to remove).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"找不到文件 / file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise BadInput(f"{path}: 不支持旧版 .xls 格式，请在 Excel/WPS 中另存为 .xlsx / "
                       "the old .xls format is not supported: save it as .xlsx in Excel or WPS")
    cell: Callable[[str], str]
    if suffix in (".xlsx", ".xlsm"):
        grid, cell = _xlsx_rows(path), str.strip
    elif suffix in (".csv", ".txt"):
        text = _decode(path)
        # most files hold no apostrophe at all: one scan of the text spares the check per cell
        grid, cell = _csv_rows(path, text), _csv_cell if "'" in text else str.strip
    else:
        raise BadInput(f"{path}: 只支持 .csv 和 .xlsx 文件 / only .csv and .xlsx files are supported")
    header: list[str] | None = None
    header_row, width = 0, 0
    rows: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(grid, start=1):  # one pass, one new list per row: files run to 10⁶ rows
        cells = [cell(c) for c in raw]
        if not any(cells):
            continue
        if header is None:
            header, header_row, width = cells, number, len(cells)
            continue
        if len(cells) < width:  # spreadsheets omit trailing empty cells: give every row the header's width
            cells += [""] * (width - len(cells))
        rows.append((number, cells))
    if header is None:
        raise BadInput(f"{path}: 文件中没有数据 / the file has no rows")
    return Table(str(path), header, header_row, rows)


def _csv_cell(raw: str) -> str:
    text = raw.strip()  # first: an editor may have padded the apostrophe with spaces
    return restore_cell(text) if text.startswith("'") else text


def _csv_rows(path: Path, text: str) -> list[list[str]]:
    first_line = text.split("\n", 1)[0]
    # Excel's "Unicode text (*.txt)" is tab-separated; everything else here uses commas
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise BadInput(f"{path}: 不是有效的 CSV 文件 / not a valid CSV file: {exc}") from exc


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: 无法读取文件 / cannot read the file: {exc.strerror}") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM, as Excel saves "Unicode text"
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInput(f"{path}: 无法识别文件编码（应为 UTF-8 或 GB18030）/ cannot decode: use UTF-8 or GB18030")


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook  # imported here: most commands never read a spreadsheet

    # openpyxl warns about harmless things other tools write (no default style, unsupported
    # extensions); the user cannot act on them, so they must not clutter the command's output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise BadInput(f"{path}: 无法读取 Excel 文件 / cannot read the workbook: {exc}") from exc
        try:
            sheet = workbook.worksheets[0]
            # read-only mode trusts the <dimension> the writing program declared, and some
            # declare "A1" or a stale range: rows and columns beyond it would be dropped silently
            sheet.reset_dimensions()
            return [["" if v is None else _cell_text(v) for v in row]
                    for row in sheet.iter_rows(values_only=True)]
        except Exception as exc:  # a damaged sheet part fails only while it is parsed
            raise BadInput(f"{path}: 无法读取 Excel 文件 / cannot read the workbook: {exc}") from exc
        finally:
            workbook.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 13800000000 as a float
    return str(value)
