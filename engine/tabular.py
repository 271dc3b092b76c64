"""Read a CSV or XLSX table as officials exchange them (Excel/WPS, UTF-8 with or without BOM, GB18030)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from engine.errors import BadInput


@dataclass(frozen=True)
class Table:
    path: str
    header: list[str]
    header_row: int  # 1-based row number of the header in the file
    rows: list[tuple[int, list[str]]]  # (1-based row number, cells as text)


def read_table(path: str | Path) -> Table:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"找不到文件 / file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise BadInput(f"{path}: 不支持旧版 .xls 格式，请在 Excel/WPS 中另存为 .xlsx / "
                       "the old .xls format is not supported: save it as .xlsx in Excel or WPS")
    if suffix in (".xlsx", ".xlsm"):
        grid = _xlsx_rows(path)
    elif suffix in (".csv", ".txt"):
        grid = list(csv.reader(io.StringIO(_decode(path))))
    else:
        raise BadInput(f"{path}: 只支持 .csv 和 .xlsx 文件 / only .csv and .xlsx files are supported")
    numbered = [(i + 1, [c.strip() for c in row]) for i, row in enumerate(grid)]
    numbered = [(n, row) for n, row in numbered if any(row)]
    if not numbered:
        raise BadInput(f"{path}: 文件中没有数据 / the file has no rows")
    (header_row, header), *rows = numbered
    return Table(str(path), header, header_row, rows)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInput(f"{path}: 无法识别文件编码（应为 UTF-8 或 GB18030）/ cannot decode: use UTF-8 or GB18030")


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook  # imported here: most commands never read a spreadsheet

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise BadInput(f"{path}: 无法读取 Excel 文件 / cannot read the workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        return [["" if v is None else _cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 13800000000 as a float
    return str(value)
