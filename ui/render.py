"""HTML for the UI: cited sentences highlighted in their paragraphs, abstentions, index status.

Pure functions, no Gradio. Every piece of document text, title, source and message that
goes into HTML passes through :func:`html.escape` here, so a document containing
``<script>`` is shown literally, never run.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.records import Citation, Document

CONTEXT_CHARS = 600
"""At most this many characters of a paragraph are shown on each side of the highlighted sentences."""
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_URL = re.compile(r"\Ahttps?://[^\s\"'<>]+\Z", re.IGNORECASE)


@dataclass(frozen=True)
class Passage:
    """A paragraph (``text[start:end]`` of document ``doc_id``) with the citations it holds."""

    doc_id: str
    start: int
    end: int
    citations: tuple[Citation, ...]


def esc(value: Any) -> str:
    """``str(value)`` escaped for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def paragraph_bounds(text: str, start: int, end: int, floor: int = 0) -> tuple[int, int]:
    """``(a, b)`` of the paragraph around ``text[start:end]``: the text between the blank lines
    before ``start`` and after ``end``, without surrounding whitespace, never starting before ``floor``.

    >>> t = "One.\\n\\nTwo. Three.\\n\\nFour."
    >>> a, b = paragraph_bounds(t, 11, 17)
    >>> t[a:b]
    'Two. Three.'
    """
    a = floor
    for sep in _BLANK_LINE.finditer(text, floor, max(floor, start)):
        a = sep.end()
    after = _BLANK_LINE.search(text, end)
    b = after.start() if after else len(text)
    while a < start and text[a].isspace():
        a += 1
    while b > end and text[b - 1].isspace():
        b -= 1
    return a, b


def _window(text: str, a: int, b: int, start: int, end: int) -> tuple[int, int]:
    """Narrow ``[a, b)`` to about CONTEXT_CHARS around ``[start, end)``, cutting at whitespace."""
    if start - a > CONTEXT_CHARS:
        cut = text.find(" ", start - CONTEXT_CHARS, start)
        a = cut + 1 if cut >= 0 else start - CONTEXT_CHARS
    if b - end > CONTEXT_CHARS:
        cut = text.rfind(" ", end, end + CONTEXT_CHARS)
        b = cut if cut >= 0 else end + CONTEXT_CHARS
    return a, b


def highlight(text: str, a: int, b: int, marks: Sequence[Citation], css_class: str = "cited") -> str:
    """HTML of ``text[a:b]`` with each citation's ``[start, end)`` in a ``<mark>``, followed by its
    ``[n]`` label when ``n`` is non-zero. Marks must lie inside ``[a, b)``; overlapping ones are skipped.
    """
    out, pos = [], a
    for c in sorted(marks, key=lambda m: m.start):
        if c.start < pos or c.end > b:
            continue
        out.append(esc(text[pos : c.start]))
        out.append(f'<mark class="{css_class}">{esc(text[c.start : c.end])}</mark>')
        if c.n:
            out.append(f'<sup class="cite-n">[{c.n}]</sup>')
        pos = c.end
    out.append(esc(text[pos:b]))
    return "".join(out)


def group_passages(citations: Sequence[Citation], docs: Mapping[str, Document]) -> list[Passage]:
    """Citations grouped by the paragraph holding them, in order of first appearance.

    A citation whose document is not in ``docs`` (removed since) is its own passage.
    """
    groups: dict[tuple[str, int, int], list[Citation]] = {}
    for c in citations:
        doc = docs.get(c.doc_id)
        valid = doc is not None and doc.text[c.start : c.end] == c.text
        a, b = paragraph_bounds(doc.text, c.start, c.end, doc.body_start) if doc is not None and valid else (c.start, c.end)
        groups.setdefault((c.doc_id if valid else f"missing:{c.doc_id}:{c.start}", a, b), []).append(c)
    return [Passage(key[0], key[1], key[2], tuple(cs)) for key, cs in groups.items()]


def passage_html(passage: Passage, docs: Mapping[str, Document], css_class: str = "cited", with_head: bool = True) -> str:
    """One source card: markers, the paragraph with its sentences marked and, ``with_head``, the
    title, date and source (left out when the card sits under its document's heading).

    The card lists its markers in ``data-cites`` ("1 2") so a click on ``[n]`` can find it.
    """
    first = passage.citations[0]
    doc = docs.get(passage.doc_id)
    if doc is None:
        text, a, b = first.text, 0, len(first.text)
        marks: Sequence[Citation] = [_shifted(first, -first.start)]
    else:
        text, marks = doc.text, passage.citations
        a, b = _window(text, passage.start, passage.end, min(c.start for c in marks), max(c.end for c in marks))
    ns = [str(c.n) for c in passage.citations if c.n]
    labels = " ".join(f"[{n}]" for n in ns)
    body = ("…" if doc is not None and a > passage.start else "") + highlight(text, a, b, marks, css_class)
    body += "…" if doc is not None and b < passage.end else ""
    head = f"<span class=src-n>{labels}</span> " if labels else ""
    if with_head:
        head = f'<div class="src-head">{head}<span class="src-title">{esc(first.title)}</span></div>{_meta_html(first)}'
    elif head:
        head = f'<div class="src-head">{head}</div>'
    return (
        f'<div class="src-card {css_class}" data-cites="{" ".join(ns)}" tabindex="-1">{head}<p class="src-para">{body}</p></div>'
    )


def _meta_html(c: Citation) -> str:
    """The date and source line of a card or a document heading."""
    meta = " · ".join(x for x in (esc(c.date), source_html(c.source)) if x)
    return f'<div class="src-meta">{meta}</div>'


def document_groups_html(citations: Sequence[Citation], docs: Mapping[str, Document], css_class: str = "cited") -> str:
    """Source cards grouped by document: each document's title, date and source once, then its
    cited paragraphs (in order of first citation)."""
    groups: dict[str, list[Passage]] = {}
    for p in group_passages(citations, docs):
        groups.setdefault(p.doc_id if not p.doc_id.startswith("missing:") else p.citations[0].doc_id, []).append(p)
    out = []
    for passages in groups.values():
        first = passages[0].citations[0]
        cards = "".join(passage_html(p, docs, css_class, with_head=False) for p in passages)
        out.append(
            f'<div class="src-doc"><div class="src-doc-head"><span class="src-title">{esc(first.title)}</span>'
            f"{_meta_html(first)}</div>{cards}</div>"
        )
    return "".join(out)


def _shifted(c: Citation, delta: int) -> Citation:
    from dataclasses import replace

    return replace(c, start=c.start + delta, end=c.end + delta)


def source_html(source: str) -> str:
    """A web address as a link that opens in a new tab; anything else (a file path) as text,
    shortened by :func:`display_source`."""
    if _URL.match(source or ""):
        return f'<a href="{esc(source)}" target="_blank" rel="noopener noreferrer nofollow">{esc(source)}</a>'
    return esc(display_source(source))


def display_source(source: str) -> str:
    """What users see of a source: a web address or name as is; a file path relative to the
    server's working folder when inside it, else only the file name (server folders stay private).

    >>> display_source("/srv/private/reports/q3.pdf"), display_source("TechCrunch")
    ('q3.pdf', 'TechCrunch')
    """
    if not source or _URL.match(source) or not Path(source).is_absolute():
        return source or ""
    path = Path(source)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return path.name


def chat_error_html(message: str) -> str:
    """A chat message for a question that could not be answered because of an error."""
    return f'<div class="chat-error">⚠ {esc(message)}</div>'


def status_html(status: Mapping[str, Any] | None, error: str = "") -> str:
    """One line about the index (folder, model, counts, build time), or ``error`` when it cannot be read."""
    if status is None:
        return f'<div class="index-status index-missing">{esc(error)}</div>'
    model = str(status.get("model", "")).rsplit("/", 1)[-1]
    built = _when(str(status.get("built_at", "")))
    parts = [
        _count(status.get("documents", 0), "document"),
        _count(status.get("chunks", 0), "chunk"),
        _count(status.get("sentences", 0), "sentence"),
        f"model <code>{esc(model)}</code>",
        f"built {esc(built)}" if built else "",
        f"folder <code>{esc(status.get('index', ''))}</code>",
    ]
    return f'<div class="index-status">{" · ".join(p for p in parts if p)}</div>'


def status_note_html(note: str, waiting: bool = False) -> str:
    """A line under the index status: why an upload was refused, or that it waits its turn
    (empty for no note)."""
    if not note:
        return ""
    kind = "index-waiting" if waiting else "index-refused"
    return f'<div class="index-note {kind}">{esc(note)}</div>'


def _count(n: Any, noun: str) -> str:
    """``<b>1</b> document`` / ``<b>3</b> documents``."""
    return f"<b>{esc(n)}</b> {noun}{'' if n == 1 else 's'}"


def _when(iso: str) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC`` (unparseable input is returned as is).

    >>> _when("2026-11-26T17:54:40+0000")
    '2026-11-26 17:54 UTC'
    """
    from datetime import datetime, timezone

    try:
        stamp = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return iso
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


DOC_HEADERS = ("Title", "Date", "Chunks", "Sentences", "Source")


def documents_table_html(rows: Sequence[Sequence[Any]]) -> str:
    """The indexed documents as a table (one row per ``(title, date, chunks, sentences, source)``).

    On a phone the same rows read as a list: the title on one line, date and counts under it
    (style.CSS), so nothing wraps letter by letter.
    """
    if not rows:
        return '<div class="doc-table doc-table-empty">No documents yet.</div>'
    head = "".join(f'<th scope="col" class="col-{h.lower()}">{h}</th>' for h in DOC_HEADERS)
    body = "".join(
        "<tr>"
        f'<th scope="row" class="col-title">{esc(title)}</th><td class="col-date">{esc(date)}</td>'
        f'<td class="col-chunks" data-label="chunks">{esc(chunks)}</td>'
        f'<td class="col-sentences" data-label="sentences">{esc(sentences)}</td><td class="col-source">{esc(source)}</td>'
        "</tr>"
        for title, date, chunks, sentences, source in rows
    )
    return (
        f'<div class="doc-table-wrap"><table class="doc-table"><caption>Indexed documents ({len(rows)})</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
