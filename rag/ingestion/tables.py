"""Spreadsheets as text: CSV/TSV files (the csv module) and Excel workbooks (.xlsx, openpyxl).

The first non-empty row of a table is its header; every later row becomes one block of text,
``Header1: value1; Header2: value2``, so that each row carries its header as context (empty
cells are left out, empty rows skipped). A workbook is one document: each worksheet with rows
starts with its name as a heading when the workbook has more than one. Rows are streamed: the
text grows row by row and stops being read past the limits below (DocumentError, "split it").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import DocumentError
from rag.ingestion.metadata import plausible_title
from rag.ingestion.structure import Layout
from rag.ingestion.writer import TextWriter, one_line

MAX_TABLE_CHARS = 50 * 2**20
"""Text of one table file, rows written out (the size of the largest upload, UploadLimits.max_file_bytes)."""
MAX_TABLE_ROWS = 2**20
"""Rows of one file, empty ones too (all sheets together; Excel's own limit per sheet)."""
MAX_TABLE_CELLS = 5_000_000
"""Cells of one file, empty ones too (a row as wide as its last cell)."""
SNIFF_CHARS = 64 * 1024
DELIMITERS = ";\t|"
"""Tried by csv.Sniffer for a .csv whose header line has no comma (e.g. Excel's ``;`` in many locales)."""


@dataclass(frozen=True)
class Table:
    """A table file's text (one row a block), its layout (sheet headings) and title ("" for none)."""

    text: str
    layout: Layout
    title: str = ""


def row_line(headers: Sequence[str], values: Sequence[str]) -> str:
    """A row as ``Header: value`` pairs joined by ``; ``; a value without a header is named by its column.

    >>> row_line(["Name", "Born", ""], ["Ada", "", "London"])
    'Name: Ada; Column 3: London'
    """
    pairs = []
    for n, value in enumerate(values):
        if value:
            header = headers[n] if n < len(headers) and headers[n] else f"Column {n + 1}"
            pairs.append(f"{header}: {value}")
    return "; ".join(pairs)


def cell_text(value: Any) -> str:
    """A cell's value as text: numbers without a needless ``.0``, dates as ISO 8601, booleans as Excel shows them.

    >>> [cell_text(v) for v in (None, " two  words ", 3.0, 0.25, True, dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 1, 9, 30))]
    ['', 'two words', '3', '0.25', 'TRUE', '2024-05-01', '2024-05-01 09:30:00']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return one_line(str(value))


class _Rows:
    """Writes the rows of one file's tables, within the limits."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.writer = TextWriter()
        self.rows = self.cells = 0

    def table(self, rows: Iterable[Sequence[Any]], heading: str = "") -> None:
        """The rows of one table (a CSV file, a worksheet), after ``heading`` when it has any row below its header."""
        headers: list[str] | None = None
        for row in rows:
            self._count(row)
            values = [cell_text(value) for value in row]
            if not any(values):
                continue
            if headers is None:
                headers = values
                continue
            if heading:
                self.writer.heading(heading, 1)
                heading = ""
            self.writer.paragraph(row_line(headers, values))
            if self.writer.size > MAX_TABLE_CHARS:
                raise DocumentError(f"{self.path}: more than {MAX_TABLE_CHARS:,} characters of rows as text; split it")

    def _count(self, row: Sequence[Any]) -> None:
        self.rows += 1
        self.cells += len(row)
        if self.rows > MAX_TABLE_ROWS:
            raise DocumentError(f"{self.path}: more than {MAX_TABLE_ROWS:,} rows; split it")
        if self.cells > MAX_TABLE_CELLS:
            raise DocumentError(f"{self.path}: more than {MAX_TABLE_CELLS:,} cells; split it")

    def done(self, title: str = "") -> Table:
        return Table(self.writer.text(), self.writer.layout(), title)


def csv_table(text: str, path: Path) -> Table:
    """The rows of a CSV (``.csv``, comma or the delimiter csv.Sniffer finds) or TSV (``.tsv``) file's text."""
    out = _Rows(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text, path.suffix.lower()))
    try:
        out.table(reader)
    except csv.Error as err:  # e.g. "field larger than field limit (131072)"
        raise DocumentError(f"{path}: unreadable CSV (line {reader.line_num}: {err})") from None
    return out.done()


def delimiter(text: str, suffix: str) -> str:
    """Tab for .tsv; for .csv a comma when the header line has one, else csv.Sniffer's pick of DELIMITERS (else a comma).

    >>> delimiter("Name;Born\\nAda;1815\\nAlan;1912\\n", ".csv"), delimiter("Name,Note\\nAda,a;b\\n", ".csv")
    (';', ',')
    """
    if suffix == ".tsv":
        return "\t"
    sample = text[:SNIFF_CHARS]
    header = next((line for line in sample.splitlines() if line.strip()), "")
    if "," in header:
        return ","
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def xlsx_table(path: Path) -> Table:
    """The rows of every worksheet of an Excel workbook (openpyxl, read-only and streamed; formulas
    as the values Excel last computed), titled by the workbook's properties ("" for none).
    Raises openpyxl's own exceptions on a damaged file."""
    import openpyxl

    with warnings.catch_warnings():  # e.g. "Workbook contains no default style": nothing to act on
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            out = _Rows(path)
            sheets = book.worksheets
            for sheet in sheets:
                sheet.reset_dimensions()  # rows as wide as their cells, not as the size the file claims
                out.table(sheet.iter_rows(values_only=True), sheet.title if len(sheets) > 1 else "")
            return out.done(plausible_title(book.properties.title))
        finally:
            book.close()
