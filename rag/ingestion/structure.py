"""Document structure: section titles and list markers, found so that they are never cited.

A :class:`Layout` holds the spans of a document's headings and list markers. They stay in
``Document.text`` (offsets into it stay exact) but sentences are split only from the text
between them (see :func:`rag.ingestion.sentences.split_sentences`), and each chunk carries the title
of its section (:func:`section_at`) in the text that is embedded and BM25-indexed.

How headings and list items are found depends on where the text came from (``markup``):

- ``"markdown"`` (.md): markdown-it's CommonMark parse: ATX (``#``..``######``) and setext
  headings, bullet (``-`` ``*`` ``+``) and ordered (``1.`` ``1)``) list items; nothing inside
  code blocks.
- ``"text"`` (.txt): a one-line paragraph that looks like a title (:func:`title_like`: short,
  starts with a capital or a digit, no final punctuation, does not end on a word like "of")
  followed by a paragraph of running text; list items are lines starting with a bullet (``-``
  ``*`` ``+`` ``•`` ...) or, at the start of a paragraph, after another item or after a line
  ending with a colon, a number (``1.`` ``1)``).
- ``"pdf"`` (text from pypdf, pages joined by a blank line): title-like lines at the top of a
  page or paragraph, followed by a line of running text that starts a sentence; list items as
  for text. Headings in the middle of a page's text are not guessed (too easily a wrapped line).
- ``"rst"`` (.rst): reStructuredText section titles, a line underlined (and optionally overlined)
  by one punctuation character repeated (``=`` ``-`` ``~`` ``^`` ...), after a blank line; levels
  in the order the styles first appear, as docutils numbers them. List items: ``-`` ``*`` ``+``
  ``•`` bullets, ``#.`` and ``1.`` ``1)`` ``(1)`` numbers, at the start of a paragraph or after
  another item (or its indented continuation). Directives and literal blocks stay text.
- HTML pages get theirs from trafilatura's XML (``<head rend="h1">``, ``<list>/<item>``), see
  :func:`rag.ingestion.html.html_document`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.records import Document

MARKUPS = ("markdown", "text", "pdf", "rst")
"""The ``markup`` values :func:`layout` understands ("" means no structure: paragraphs only)."""

Heading = tuple[int, int, int]
Span = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """Spans of a document's section titles ``(start, end, level)`` and list markers ``(start, end)``, in order."""

    headings: tuple[Heading, ...] = ()
    markers: tuple[Span, ...] = ()


def layout(text: str, start: int, markup: str) -> Layout:
    """Headings and list markers of ``text[start:]`` read as ``markup`` (one of MARKUPS, or "" for none).

    >>> layout("# Bridge\\n\\n- It opened in 1998.\\n", 0, "markdown")
    Layout(headings=((0, 8, 1),), markers=((10, 11),))
    """
    if markup == "markdown":
        return _markdown_layout(text, start)
    if markup in ("text", "pdf"):
        return _plain_layout(text, start, markup)
    if markup == "rst":
        return _rst_layout(text, start)
    return Layout()


# --- Markdown -------------------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n?|\n")  # markdown-it's own line breaks (not str.splitlines's)


def _markdown_layout(text: str, start: int) -> Layout:
    from markdown_it import MarkdownIt

    body = text[start:]
    line_starts = [0, *(m.end() for m in _NEWLINE.finditer(body))]
    line_end = [*(m.start() for m in _NEWLINE.finditer(body)), len(body)]
    headings: list[Heading] = []
    markers: list[Span] = []
    consumed: dict[int, int] = {}  # line -> where the last marker found on it ends ("- - item")
    for token in MarkdownIt("commonmark").parse(body):
        if token.map is None:
            continue
        first, last = token.map
        if token.type == "heading_open":
            span = _trim(body, line_starts[first], line_end[last - 1])
            if span:
                headings.append((start + span[0], start + span[1], int(token.tag[1])))
        elif token.type == "list_item_open":
            found = _marker_at(body, consumed.get(first, line_starts[first]), line_end[first])
            if found:
                consumed[first] = found[1]
                markers.append((start + found[0], start + found[1]))
    return Layout(tuple(headings), tuple(sorted(markers)))


_MD_MARKER = re.compile(r"[-*+]|\d{1,9}[.)]")  # CommonMark's list markers, where markdown-it found an item


def _marker_at(body: str, pos: int, end: int) -> Span | None:
    """The list marker after indentation and ``>`` quote marks from ``pos`` (None if there is none)."""
    while pos < end and body[pos] in " \t>":
        pos += 1
    found = _MD_MARKER.match(body, pos, end)
    return found.span() if found else None


# --- Plain text and PDF text ----------------------------------------------------------------

_BULLET = re.compile(r"[ \t]*([-*+•◦▪‣⁃–])[ \t]+\S")
_NUMBERED = re.compile(r"[ \t]*(\d{1,3}[.)])[ \t]+\S")
_CLOSERS = "\"'”’»)]"
_FINAL = ".,;:!?…-–—"
_FUNCTION_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "than", "that", "the", "to"}
    | {"via", "which", "who", "with"}
)  # a line ending on one of these continues on the next: it is no title
MAX_TITLE_CHARS, MAX_TITLE_WORDS = 80, 12


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    paragraph_start: bool  # first line after a blank line (or of the body): also the top of a PDF page


def _lines(text: str, start: int) -> Iterator[_Line]:
    """Non-blank lines of ``text[start:]`` with their offsets."""
    after_blank = True
    pos = start
    while pos <= len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        if text[pos:end].strip():
            yield _Line(pos, end, after_blank)
            after_blank = False
        else:
            after_blank = True
        pos = end + 1


def _plain_layout(text: str, start: int, markup: str) -> Layout:
    lines = list(_lines(text, start))
    headings: list[Heading] = []
    markers: list[Span] = []
    list_may_start = True  # numbers start items only here: "in\n1998. It" is no item
    i = 0
    while i < len(lines):
        if run := _title_run(text, lines, i, markup):
            headings.extend(_heading(text, line) for line in lines[i : i + run])
            i, list_may_start = i + run, True
            continue
        line = lines[i]
        marker = _list_marker(text, line, list_may_start or line.paragraph_start)
        if marker is not None:
            markers.append(marker)
        list_may_start = marker is not None or text[line.start : line.end].rstrip().endswith(":")
        i += 1
    return Layout(tuple(headings), tuple(markers))


MAX_TITLE_RUN = 3
"""At most this many title lines in a row ("Part One", "Chapter 2", "The Crossing") before text."""


def _title_run(text: str, lines: list[_Line], i: int, markup: str) -> int:
    """How many lines from ``i`` on are section titles (0: none).

    A run of title-like lines counts only when a line of running text follows it: in plain
    text each title is a paragraph of its own; in PDF text the run starts a page or paragraph
    and the line after it starts a sentence. Short lines alone (a poem, an address) stay text.
    """
    if not lines[i].paragraph_start:
        return 0
    j = i
    while j < len(lines) and j - i < MAX_TITLE_RUN and _title_line(text, lines, j, markup):
        j += 1
    if j == i or j == len(lines) or title_like(text[lines[j].start : lines[j].end]):
        return 0
    first = text[lines[j].start : lines[j].end].lstrip()[:1]
    if markup == "pdf" and not (first.isupper() or first.isdigit() or first in "\"'“‘•-*("):
        return 0
    return j - i


def _title_line(text: str, lines: list[_Line], j: int, markup: str) -> bool:
    line = text[lines[j].start : lines[j].end]
    if _BULLET.match(line) or _NUMBERED.match(line) or not title_like(line):
        return False
    alone = lines[j].paragraph_start and (j + 1 == len(lines) or lines[j + 1].paragraph_start)
    return markup == "pdf" or alone


def _heading(text: str, line: _Line) -> Heading:
    span = _trim(text, line.start, line.end) or (line.start, line.end)
    words = text[span[0] : span[1]]
    level = len(words) - len(words.lstrip("#")) if words.startswith("#") else 1
    return (span[0], span[1], min(max(level, 1), 6))


def _list_marker(text: str, line: _Line, numbered: bool) -> Span | None:
    """A line's bullet or, when ``numbered`` (after a blank line, an item or a colon), its number."""
    found = _BULLET.match(text, line.start, line.end)
    if found is None and numbered:
        found = _NUMBERED.match(text, line.start, line.end)
    return found.span(1) if found else None


def title_like(line: str) -> bool:
    """Whether a line reads as a title: short, starts with a capital, a digit or ``#``, contains a
    letter, and ends neither on punctuation nor on a word that a sentence would continue after.

    >>> title_like("The Heron Bridge"), title_like("It was designed by"), title_like("Opened in 1998.")
    (True, False, False)
    """
    s = line.strip()
    words = s.split()
    if not 2 <= len(s) <= MAX_TITLE_CHARS or len(words) > MAX_TITLE_WORDS or not any(c.isalpha() for c in s):
        return False
    if not (s[0].isupper() or s[0].isdigit() or s[0] == "#"):
        return False
    bare = s.rstrip(_CLOSERS)
    return bool(bare) and bare[-1] not in _FINAL and words[-1].strip(_CLOSERS).lower() not in _FUNCTION_WORDS


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


# --- reStructuredText -----------------------------------------------------------------------

_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1*")  # one ASCII punctuation character, repeated
_RST_ITEM = re.compile(r"[ \t]*([-*+•‣⁃]|#[.)]|\d{1,3}[.)]|\(\d{1,3}\))[ \t]+\S")


def adornment(line: str) -> bool:
    """Whether a line is a reStructuredText adornment (or a setext underline): one punctuation
    character repeated, nothing else.

    >>> adornment("====="), adornment("~~~ "), adornment("=-=-"), adornment("Title")
    (True, True, False, False)
    """
    return _ADORNMENT.fullmatch(line.strip()) is not None


def _rst_layout(text: str, start: int) -> Layout:
    lines = list(_lines(text, start))
    styles: list[tuple[str, bool]] = []  # (character, overlined) in the order first seen: level = place + 1
    headings: list[Heading] = []
    markers: list[Span] = []
    may_start = False  # an item may start here without a blank line: after a title, an item or its continuation
    i = 0
    while i < len(lines):
        if found := _rst_title(text, lines, i):
            size, style = found
            styles += [style] if style not in styles else []
            span = _trim(text, lines[i].start, lines[i + size - 1].end) or (lines[i].start, lines[i].end)
            headings.append((*span, min(styles.index(style) + 1, 6)))
            i, may_start = i + size, True
            continue
        line = lines[i]
        item = _RST_ITEM.match(text, line.start, line.end) if may_start or line.paragraph_start else None
        if item:
            markers.append(item.span(1))
        may_start = item is not None or (may_start and text[line.start] in " \t")
        i += 1
    return Layout(tuple(headings), tuple(markers))


def _rst_title(text: str, lines: list[_Line], i: int) -> tuple[int, tuple[str, bool]] | None:
    """``(lines, style)`` of the section title starting at line ``i`` (None if there is none):
    a title line then its underline, or an overline, the title and an identical underline."""
    rows = [text[line.start : line.end].rstrip() for line in lines[i : i + 3]]
    joined = [not line.paragraph_start for line in lines[i + 1 : i + 3]]  # no blank line between
    if not lines[i].paragraph_start or len(rows) < 2 or not joined[0]:
        return None
    title, under = rows[0], rows[1]
    if adornment(title) and len(rows) == 3 and joined[1] and rows[2] == title and not adornment(under):
        fits = len(under.strip()) <= len(title)  # an overlined title may be inset, never longer
        return (3, (title[0], True)) if fits else None
    if adornment(title) or not adornment(under) or title[0] in " \t":
        return None
    return (2, (under[0], False)) if len(under) >= min(len(title), 4) else None


# --- Sections -------------------------------------------------------------------------------


def heading_title(text: str) -> str:
    """The words of a heading span: without ``#`` marks, a setext underline or line breaks.

    >>> heading_title("## Opening ##"), heading_title("The Heron\\nBridge\\n===="), heading_title("~~~~~\\nFares\\n~~~~~")
    ('Opening', 'The Heron Bridge', 'Fares')
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) > 1 and adornment(lines[-1]):  # a setext or reStructuredText underline
        lines = lines[:-1]
    if len(lines) > 1 and adornment(lines[0]):  # a reStructuredText overline
        lines = lines[1:]
    words = " ".join(lines).lstrip("> \t")
    words = words.lstrip("#").strip()
    if words.endswith("#"):
        words = words.rstrip("#").rstrip()
    return " ".join(words.split())


def section_at(doc: Document, offset: int, max_chars: int = 200) -> str:
    """The section titles in effect at ``offset`` of ``doc``, outermost first, joined by " > "
    (titles equal to the document's title are left out); "" outside any section."""
    ends = [end for _, end, _ in doc.headings]
    i = bisect.bisect_right(ends, offset) - 1
    path: list[str] = []
    level = 7
    while i >= 0 and level > 1:
        start, end, heading_level = doc.headings[i]
        if heading_level < level:
            level = heading_level
            title = heading_title(doc.text[start:end])
            if title and title.casefold() != doc.title.strip().casefold():
                path.append(title)
        i -= 1
    return " > ".join(reversed(path))[:max_chars]


def top_title(text: str, body_start: int, headings: tuple[Heading, ...]) -> str:
    """The title of the heading that opens the body (nothing but spaces before it), else ""."""
    if headings and not text[body_start : headings[0][0]].strip() and headings[0][2] == 1:
        return heading_title(text[headings[0][0] : headings[0][1]])
    return ""


def headline(text: str, start: int) -> str:
    """The first line of ``text[start:]`` when it reads as a headline (:func:`title_like`) and
    running text follows it on the next lines, else "" (a plain-text file titled on its first line).

    >>> headline("Zorblat lighthouse\\nIt was built in 1887 on Kelp Island.", 0)
    'Zorblat lighthouse'
    >>> headline("It was built in 1887.\\nOn Kelp Island.", 0)
    ''
    """
    body = text[start:].lstrip()
    first, _, rest = body.partition("\n")
    return " ".join(first.split()) if rest.strip() and title_like(first) else ""
