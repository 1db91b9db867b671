"""A document's own title and date: YAML front matter, ``Title:``/``Date:`` header lines, PDF metadata
(and the title test for Word and Excel properties).

Dates are normalised to ``YYYY-MM-DD`` (:func:`normalise_date`); a value that is not a full
date is ignored rather than guessed. Metadata is optional: a malformed block is read as text
and unreadable PDF metadata is skipped, never an error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_HEADER_CHARS = 20_000
"""Front matter or header lines must end within this many characters of the start."""
TITLE_KEYS = ("title", "subject")
DATE_KEYS = ("date", "published_at", "published")
AUTHOR_KEYS = ("author", "from")

_FENCE = re.compile(r"---[ \t]*\r?\n")
_FENCE_END = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,40}):[ \t]*(.*?)[ \t]*\r?\n")
_BLANK = re.compile(r"[ \t]*(?:\r?\n|\Z)")


@dataclass(frozen=True)
class Header:
    """Metadata found at the top of a text document; ``end`` is where its body starts (0: no header)."""

    end: int = 0
    title: str = ""
    date: str = ""
    author: str = ""


def read_header(text: str) -> Header:
    """YAML front matter (``---`` ... ``---``) or header lines (``Title: ...``, ``Date: ...``, as in
    Pelican or e-mail, ending at a blank line) at the very start of ``text``.

    Header lines count only when every line is ``Name: value`` and one names a title, subject or
    date, so a first paragraph such as "Note: ..." stays text.

    >>> read_header("---\\ntitle: Heron Bridge\\ndate: 2024-05-01\\n---\\nText.")
    Header(end=45, title='Heron Bridge', date='2024-05-01', author='')
    >>> read_header("Date: Wed, 01 May 2024 09:30:00 +0200\\n\\nText.").date
    '2024-05-01'
    """
    return _front_matter(text) or _header_lines(text) or Header()


def _front_matter(text: str) -> Header | None:
    import yaml

    opening = _FENCE.match(text)
    closing = _FENCE_END.search(text, opening.end(), MAX_HEADER_CHARS) if opening else None
    if opening is None or closing is None:
        return None
    try:
        fields = yaml.safe_load(text[opening.end() : closing.start()])
    except (yaml.YAMLError, RecursionError, ValueError):
        return None  # not YAML after all (e.g. a rule then text): the lines stay body text
    if not isinstance(fields, dict):
        return None
    return _header(closing.end(), {str(k).lower(): v for k, v in fields.items()})


def _header_lines(text: str) -> Header | None:
    fields: dict[str, Any] = {}
    pos = 0
    while (line := _FIELD.match(text, pos, MAX_HEADER_CHARS)) is not None:
        fields.setdefault(line.group(1).lower(), line.group(2))
        pos = line.end()
    blank = _BLANK.match(text, pos)
    if not fields or blank is None or not any(k in fields for k in (*TITLE_KEYS, "date")):
        return None
    return _header(blank.end(), fields)


def _header(end: int, fields: dict[str, Any]) -> Header:
    def first(keys: tuple[str, ...]) -> Any:
        return next((fields[k] for k in keys if fields.get(k) not in (None, "")), "")

    # Only scalars are taken: a YAML alias bomb as a title would be huge once made a string.
    return Header(end, _scalar(first(TITLE_KEYS)), normalise_date(first(DATE_KEYS)), _scalar(first(AUTHOR_KEYS)))


def _scalar(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) else ""


def normalise_date(value: Any) -> str:
    """``YYYY-MM-DD`` for a date, a datetime or a date string (ISO 8601, e-mail, PDF ``D:2024...``,
    "May 1, 2024"...), "" when ``value`` does not give a full date.

    >>> [normalise_date(v) for v in ("2024-05-01T09:30:00Z", "D:20240501093000+02'00'", "1 May 2024", "May 2024")]
    ['2024-05-01', '2024-05-01', '2024-05-01', '']
    """
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    text = str(value or "").strip()[:100]
    if not text or isinstance(value, bool):
        return ""
    for parse in (_iso, _pdf, _email, _free):
        found = parse(text)
        if found is not None:
            return found.isoformat()[:10]
    return ""


def _iso(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if re.match(r"\d{4}-\d{2}-\d{2}(?!\d)", text) else None
    except ValueError:
        return None


def _pdf(text: str) -> dt.date | None:
    found = re.match(r"D:(\d{4})(\d{2})(\d{2})", text)
    try:
        return dt.date(*map(int, found.groups())) if found else None
    except ValueError:
        return None


def _email(text: str) -> dt.date | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _free(text: str) -> dt.date | None:
    """Dates in words ("1 May 2024", "May 1, 2024"), accepted only when day, month and year are all given."""
    from dateutil import parser

    try:
        # Parsed against two different defaults: any field the text leaves out differs between them.
        one = parser.parse(text, default=dt.datetime(2001, 1, 1))
        two = parser.parse(text, default=dt.datetime(2002, 2, 2))
    except (ValueError, OverflowError, TypeError):
        return None
    return one.date() if one.date() == two.date() else None


def pdf_metadata(path: Path) -> tuple[str, str]:
    """``(title, date)`` from a PDF's document information (``/Title``, ``/CreationDate``); ("", "")
    when it has none or they cannot be read (the text may still be fine)."""
    from pypdf import PdfReader

    try:
        info = PdfReader(str(path)).metadata
        if info is None:
            return "", ""
        title, created = info.title, info.creation_date_raw
    except Exception:  # metadata is optional: a damaged info dictionary must not cost the document its text
        return "", ""
    return plausible_title(title), normalise_date(str(created) if created is not None else "")


def plausible_title(title: Any) -> str:
    """A title from a file's metadata (PDF ``/Title``, Word core properties), "" when it is none:
    not text, a file name or a placeholder left by the authoring tool.

    >>> plausible_title(" Annual  report "), plausible_title("report.docx"), plausible_title("Untitled")
    ('Annual report', '', '')
    """
    text = _scalar(title) if isinstance(title, str) else ""
    if re.search(r"\.(docx?|odt|pdf|rtf|tex|pptx?|xlsx?|csv)$", text, re.IGNORECASE) or text.lower() in ("untitled", "title"):
        return ""
    return text
