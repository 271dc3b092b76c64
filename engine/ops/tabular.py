"""Read a CSV or XLSX table as officials exchange them (Excel/WPS, UTF-8 with or without BOM, GB18030),
within limits, and keep the text rectify writes to a CSV file from being run as a formula.

Whoever may run an import may hand it any file, so a file is read only if it is a regular file
(a FIFO would block the command, ``/dev/zero`` never ends) of at most ``MAX_FILE_BYTES``, and its
rows are streamed and checked as they come: a 1 MB workbook declaring a cell in column XFD on
200 000 rows once took 24 GB to read. A workbook is a zip archive, so what it unpacks to is
bounded too (``_check_parts``) before openpyxl reads any of it.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO
from xml.parsers import expat

from engine.base.errors import BadInput
from engine.base.text import TEXT_LIMIT

MB = 1024 * 1024
# A county's list of organizations is ~1 800 rows and a ledger a few hundred; 20 MB holds a
# 100 000-row list of the usual columns in CSV (~12 MB) or XLSX (~5 MB), and keeps what one
# import may hold in memory (the file, its text, its rows) to a few hundred MB.
MAX_FILE_BYTES = 20 * MB
# Fifty times a county's organizations: a city's or a province's list is imported in parts. Bounds
# the rows a table holds (and the work, at ~3 s per 10 000 XLSX rows). Counted as the file counts
# them, title and header rows included, so the message's row number is the one Excel shows.
MAX_ROWS = 100_000
# The organizations' file has 6 columns and the ledger 8; a cell with data further right is not
# one of ours, and a row is never held wider than this, whatever width the sheet declares.
MAX_COLUMNS = 64
# What rectify itself writes in a ledger cell must import again: a text fact or the measures run
# to TEXT_LIMIT characters, plus the apostrophe that guards a formula-like text. Twice that leaves
# room for what an official pastes, and stops a single cell from holding a whole file.
MAX_CELL_CHARS = 2 * TEXT_LIMIT
# What the parts of an XLSX archive may unpack to (the archive's own sizes bound what zipfile
# reads). openpyxl builds whole object trees of the parts it does not stream: 10 MB of styles
# took it 1 GB and 100 s, so those stay small; a worksheet is streamed row by row (a 100 000-row
# sheet of 8 columns is ~70 MB); openpyxl keeps the shared strings in a list (~6 times their size).
MAX_PART_BYTES = 2 * MB
MAX_SHEET_BYTES = 256 * MB
MAX_STRINGS_BYTES = 32 * MB
# The format's own limits (column XFD, row 1 048 576): a sheet beyond them was not written by
# Excel or WPS, and a row of millions of empty cells would make openpyxl hold millions of dicts.
XLSX_COLUMNS = 16_384
XLSX_ROWS = 1_048_576
# The elements openpyxl may hold at once (see ``_PartShape``): a row of 16 384 cells with a value
# each, and room for rich text in a row of our width; ~100 MB of openpyxl's objects at most.
MAX_HELD_ELEMENTS = 131_072
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main "  # expat's "namespace name"

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
    """The first non-empty row as the header (without its trailing empty cells), the other
    non-empty rows as text, stripped, at least as wide as the header; a ``BadInput`` naming the
    limit and the place when the file goes beyond one (see ``MAX_FILE_BYTES`` and below).

    A CSV cell's protective apostrophe (see ``neutralise_cell``) is removed, so what rectify
    exported imports as it was typed; an XLSX cell is read as it is (rectify writes text there
    as string cells, which no spreadsheet runs, so it adds nothing to remove).
    """
    path = Path(path)
    with _open_regular(path) as file:
        suffix = path.suffix.lower()
        if suffix == ".xls":
            raise BadInput(f"{path}: 不支持旧版 .xls 格式，请在 Excel/WPS 中另存为 .xlsx / "
                           "the old .xls format is not supported: save it as .xlsx in Excel or WPS")
        if suffix in (".xlsx", ".xlsm"):
            with closing(_xlsx_rows(path, file)) as rows:  # closed (the workbook with it) even when refused
                return _collect(path, rows, _xlsx_cell)
        if suffix in (".csv", ".txt"):
            text = _decode(path, file)
            # most files hold no apostrophe at all: one scan of the text spares the check per cell
            return _collect(path, _csv_rows(path, text), _csv_cell if "'" in text else str.strip)
        raise BadInput(f"{path}: 只支持 .csv 和 .xlsx 文件 / only .csv and .xlsx files are supported")


def _collect(path: Path, grid: Iterator[Sequence], cell: Callable[[Any], str]) -> Table:
    """The table of ``grid``'s rows, each checked against the limits as it comes."""
    header: list[str] | None = None
    header_row, width = 0, 0
    rows: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(grid, start=1):  # one pass, one new list per row
        if len(raw) > MAX_COLUMNS:  # a sheet's row is as wide as its last cell, even an empty one
            _refuse_beyond_columns(path, number, raw, cell)
            raw = raw[:MAX_COLUMNS]
        cells = [cell(c) for c in raw]
        if not any(cells):
            continue
        if number > MAX_ROWS:
            raise BadInput(f"{path}: 第 {number} 行 row {number}: 超出行数上限 {MAX_ROWS} 行，请分成几个文件导入 / "
                           f"beyond the limit of {MAX_ROWS:,} rows: split the file and import the parts")
        if max(map(len, cells)) > MAX_CELL_CHARS:
            _refuse_long_cell(path, number, cells)
        if header is None:
            while not cells[-1]:  # trailing empty cells name no column: they must not widen every row
                cells.pop()
            header, header_row, width = cells, number, len(cells)
            continue
        if len(cells) < width:  # spreadsheets omit trailing empty cells: give every row the header's width
            cells += [""] * (width - len(cells))
        rows.append((number, cells))
    if header is None:
        raise BadInput(f"{path}: 文件中没有数据 / the file has no rows")
    return Table(str(path), header, header_row, rows)


def _refuse_beyond_columns(path: Path, number: int, raw: Sequence, cell: Callable[[Any], str]) -> None:
    for position in range(MAX_COLUMNS, len(raw)):
        if cell(raw[position]):
            column = column_name(position + 1)
            raise BadInput(f"{path}: 第 {number} 行 row {number}, 列 column {column}（第 {position + 1} 列）: 超出列数上限 "
                           f"{MAX_COLUMNS} 列，请删去 {column_name(MAX_COLUMNS)} 列右边的内容 / holds data beyond the limit "
                           f"of {MAX_COLUMNS} columns: delete what lies right of column {column_name(MAX_COLUMNS)}")


def _refuse_long_cell(path: Path, number: int, cells: list[str]) -> None:
    position = next(i for i, c in enumerate(cells) if len(c) > MAX_CELL_CHARS)
    raise BadInput(f"{path}: 第 {number} 行 row {number}, 列 column {column_name(position + 1)}: 超过 {MAX_CELL_CHARS} "
                   f"个字符（{len(cells[position])} 个）/ longer than {MAX_CELL_CHARS:,} characters "
                   f"({len(cells[position]):,})")


def column_name(position: int) -> str:
    """The spreadsheet's name of the 1-based column ``position``: A, …, Z, AA, …, XFD."""
    name = ""
    while position:
        position, rest = divmod(position - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file of at most ``MAX_FILE_BYTES``: nothing
    is read from a FIFO, a device or a directory (``open_regular``)."""
    # imported here: yamlsafe brings PyYAML, which short commands never load (tests/test_startup.py)
    from engine.base.yamlsafe import open_regular

    try:
        file = open_regular(path)
    except FileNotFoundError as exc:
        raise BadInput(f"找不到文件 / file not found: {path}") from exc
    except OSError as exc:
        raise BadInput(f"{path}: 无法读取文件 / cannot read the file: {exc.strerror}") from exc
    size = os.fstat(file.fileno()).st_size
    if size > MAX_FILE_BYTES:
        file.close()
        raise _too_large(path, size)
    return file


def _too_large(path: Path, size: int) -> BadInput:
    from engine.base.yamlsafe import too_large

    refused = too_large(path, size, MAX_FILE_BYTES)
    return BadInput(f"{refused}; 请分成几个文件导入 / split it and import the parts")


def _csv_cell(raw: object) -> str:
    text = str(raw).strip()  # first: an editor may have padded the apostrophe with spaces
    return restore_cell(text) if text.startswith("'") else text


def _csv_rows(path: Path, text: str) -> Iterator[list[str]]:
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    # Excel's "Unicode text (*.txt)" is tab-separated; everything else here uses commas
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    number = 1  # the row being read
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            yield row
            number += 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # the csv module's own bound, far above ours
            raise BadInput(f"{path}: 第 {number} 行 row {number}: 有单元格超过 {MAX_CELL_CHARS} 个字符 / a cell is "
                           f"longer than {MAX_CELL_CHARS:,} characters") from exc
        raise BadInput(f"{path}: 不是有效的 CSV 文件 / not a valid CSV file: {exc}") from exc


def _decode(path: Path, file: BinaryIO) -> str:
    try:
        raw = file.read(MAX_FILE_BYTES + 1)  # the file may have grown since it was checked
    except OSError as exc:
        raise BadInput(f"{path}: 无法读取文件 / cannot read the file: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise _too_large(path, len(raw))
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


def _xlsx_cell(value: object) -> str:
    return "" if value is None else _cell_text(value).strip()


def _xlsx_rows(path: Path, file: BinaryIO) -> Generator[tuple, None, None]:
    """The first sheet's rows as openpyxl reads them in read-only mode: one at a time, each as
    wide as its last cell (the dimension the sheet declares is not used)."""
    from openpyxl import load_workbook  # imported here: most commands never read a spreadsheet

    _check_parts(path, file)
    # openpyxl warns about harmless things other tools write (no default style, unsupported
    # extensions); the user cannot act on them, so they must not clutter the command's output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            workbook = load_workbook(file, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise _unreadable(path, exc) from exc
        try:
            sheet = workbook.worksheets[0]
            # read-only mode trusts the <dimension> the writing program declared, and some
            # declare "A1" or a stale range: rows and columns beyond it would be dropped silently,
            # and a declared XFD1048576 would make every row 16 384 cells wide
            sheet.reset_dimensions()
            yield from sheet.iter_rows(values_only=True)
        except Exception as exc:  # a damaged sheet part fails only while it is parsed
            raise _unreadable(path, exc) from exc
        finally:
            workbook.close()


def _unreadable(path: Path, exc: Exception) -> BadInput:
    return BadInput(f"{path}: 无法读取 Excel 文件 / cannot read the workbook: {exc}")


def _check_parts(path: Path, file: BinaryIO) -> None:
    """Refuse an archive whose parts unpack beyond what openpyxl may be given (see the limits above).

    A part larger than ``MAX_PART_BYTES`` is read once here by expat, which keeps nothing but
    counts: whatever its name says, it must be a worksheet or the shared strings within their
    limits, shaped as ``_PartShape`` checks.
    """
    try:
        with zipfile.ZipFile(file) as archive:
            for part in archive.infolist():
                if part.file_size > MAX_PART_BYTES:
                    with archive.open(part) as source:
                        _PartShape(path, part).check(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, expat.ExpatError, OSError, EOFError,
            RuntimeError, NotImplementedError) as exc:  # RuntimeError: encrypted; NotImplementedError: compression
        raise _unreadable(path, exc) from exc
    file.seek(0)


class _PartShape:
    """What openpyxl would hold at once of a big part, counted while expat reads it.

    openpyxl parses a worksheet into a tree that it clears after each row: a row is held whole
    (its cells, their rich text runs) and so is anything else it meets (merged cells, hyperlinks,
    conditional formats), while cleared rows stay in the tree as empty elements. So the rows are
    bounded by the format's limits, and what one row, or everything outside the rows, holds by
    ``MAX_HELD_ELEMENTS``. The shared strings are bounded by their size alone.
    """

    def __init__(self, path: Path, part: zipfile.ZipInfo):
        self.path, self.part = path, part
        self.depth = self.row_depth = 0  # row_depth: the depth of the row being read, 0 between rows
        self.rows = self.cells = self.held = self.outside = 0
        self.done = False

    def check(self, source: IO[bytes]) -> None:
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.ordered_attributes = True  # a list per element is cheaper than a dict
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        while not self.done and (chunk := source.read(1 << 16)):
            parser.Parse(chunk, False)
        if not self.done:
            parser.Parse(b"", True)

    def start(self, name: str, _attributes: list) -> None:
        if self.done:
            return
        self.depth += 1
        if self.depth == 1:
            self._root(name)
        elif self.row_depth:
            self.held += 1
            if name == _MAIN + "c":
                self.cells += 1
                if self.cells > XLSX_COLUMNS:
                    raise self._odd(f"第 {self.rows} 行超过 {XLSX_COLUMNS} 个单元格",
                                    f"row {self.rows} has more than {XLSX_COLUMNS:,} cells")
            if self.held > MAX_HELD_ELEMENTS:
                raise self._odd(f"第 {self.rows} 行超过 {MAX_HELD_ELEMENTS} 个元素",
                                f"row {self.rows} holds more than {MAX_HELD_ELEMENTS:,} elements")
        elif name == _MAIN + "row":
            self.row_depth, self.rows, self.cells, self.held = self.depth, self.rows + 1, 0, 0
            if self.rows > XLSX_ROWS:
                raise self._odd(f"超过 {XLSX_ROWS} 行", f"more than {XLSX_ROWS:,} rows")
        else:
            self.outside += 1
            if self.outside > MAX_HELD_ELEMENTS:
                raise self._odd(f"行外超过 {MAX_HELD_ELEMENTS} 个元素",
                                f"more than {MAX_HELD_ELEMENTS:,} elements outside its rows")

    def end(self, _name: str) -> None:
        if self.depth == self.row_depth:
            self.row_depth = 0
        self.depth -= 1

    def _root(self, name: str) -> None:
        """What the part is, told by its root element; refused if it is too big for that."""
        if name == _MAIN + "sst" and self.part.file_size <= MAX_STRINGS_BYTES:
            self.done = True  # openpyxl keeps the shared strings as a list: their size bounds it
        elif name != _MAIN + "worksheet":
            raise self._too_big(MAX_STRINGS_BYTES if name == _MAIN + "sst" else MAX_PART_BYTES)
        elif self.part.file_size > MAX_SHEET_BYTES:
            raise self._too_big(MAX_SHEET_BYTES)

    def _too_big(self, limit: int) -> BadInput:
        name, size = self.part.filename, self.part.file_size
        most = f"{limit // MB} MB" if limit >= MB else f"{limit:,} bytes"
        return BadInput(f"{self.path}: 工作簿的 {name} 解压后过大（{size:,} 字节，上限 {most}），请在 Excel/WPS 中另存为新文件"
                        f"或分成几个文件 / the workbook's part {name} unpacks to {size:,} bytes, more than {most}: "
                        "save it anew from Excel or WPS, or split it")

    def _odd(self, zh: str, en: str) -> BadInput:
        name = self.part.filename
        return BadInput(f"{self.path}: 工作簿的 {name} 不是 Excel/WPS 写出的工作表（{zh}），请在 Excel/WPS 中另存为新文件 / "
                        f"the workbook's part {name} is not a sheet Excel or WPS writes ({en}): save it anew from "
                        "Excel or WPS")


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 13800000000 as a float
    return str(value)
