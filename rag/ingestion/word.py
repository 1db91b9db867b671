"""Word documents (.docx, python-docx): the body's paragraphs, headings, list items and tables
laid out as text with a :class:`rag.ingestion.structure.Layout`, and the title and date of the
document's core properties.

- paragraphs are blocks of text (line breaks kept, blank lines dropped);
- ``Title`` and ``Heading 1``..``Heading 9`` paragraphs are headings (levels 1..6);
- ``List Bullet``/``List Number`` paragraphs and paragraphs with Word numbering are list items,
  written after a ``-`` marker (``1.``, ``2.`` ... for the List Number styles);
- tables are rows of text: with a header row, each row as ``Header: value; Header: value``
  (:func:`rag.ingestion.tables.row_line`), a one-row table as its values.

Headers, footers, footnotes, comments, text boxes and tables nested in tables are not read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.ingestion.metadata import normalise_date, plausible_title
from rag.ingestion.structure import Layout
from rag.ingestion.tables import row_line
from rag.ingestion.writer import TextWriter, one_line, tidy_lines

_HEADING = re.compile(r"heading ([1-9])", re.IGNORECASE)
TEMPLATE_CREATED = dt.datetime(2013, 12, 23, 23, 15)
"""The creation time python-docx's own template carries: a file saved by python-docx without
setting one has it, and it is no date of the document."""


@dataclass(frozen=True)
class WordDocument:
    """A Word document's text (blocks apart by blank lines), its layout, title and date."""

    text: str
    layout: Layout
    title: str
    date: str


def word_document(path: Path) -> WordDocument:
    """The text, headings, list markers, title and date of the Word document at ``path``.

    The title is the core properties' title (unless a file name or placeholder), else the first
    heading ("" when there is none); the date is the properties' creation date, as for a PDF's
    ``/CreationDate``. Raises the parser's own exceptions on a damaged file.
    """
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    writer = TextWriter()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            _table(writer, block)
        else:
            _paragraph(writer, block)
    text = writer.text()
    first_heading = next((one_line(text[a:b]) for a, b, _ in writer.headings), "")
    props = document.core_properties
    return WordDocument(text, writer.layout(), plausible_title(props.title) or first_heading, _created(props.created))


def _paragraph(writer: TextWriter, paragraph: Any) -> None:
    text = tidy_lines(paragraph.text)
    style = str(getattr(paragraph.style, "name", "") or "")
    heading = _HEADING.fullmatch(style)
    if style == "Title" or heading:
        writer.heading(text, int(heading.group(1)) if heading else 1)
    elif style.startswith(("List Bullet", "List Number")) or _numbered(paragraph):
        writer.item(text, numbered=style.startswith("List Number"))
    else:
        writer.paragraph(text)


def _numbered(paragraph: Any) -> bool:
    """Whether the paragraph has Word numbering of its own (``<w:numPr>``), as list items made in Word do."""
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


def _table(writer: TextWriter, table: Any) -> None:
    rows = [_cells(row) for row in table.rows]
    rows = [row for row in rows if any(row)]
    if len(rows) == 1:
        writer.paragraph("; ".join(cell for cell in rows[0] if cell))
        return
    for row in rows[1:]:
        writer.paragraph(row_line(rows[0], row))


def _cells(row: Any) -> list[str]:
    """The texts of a row's cells, a cell merged across columns once (python-docx repeats it)."""
    out, previous = [], None
    for cell in row.cells:
        if cell._tc is not previous:
            out.append(one_line(cell.text))
        previous = cell._tc
    return out


def _created(value: Any) -> str:
    if not isinstance(value, dt.datetime) or value.replace(tzinfo=None) == TEMPLATE_CREATED:
        return ""
    return normalise_date(value)
