"""HTML pages: main text (trafilatura, boilerplate removed) laid out with the spans of its
headings and list markers (:class:`rag.ingestion.structure.Layout`), title and date."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag.ingestion.structure import Layout
from rag.ingestion.writer import TextWriter


@dataclass(frozen=True)
class HtmlDocument:
    """An HTML page's main text (blocks separated by blank lines), its layout, title and date."""

    text: str
    layout: Layout
    title: str
    date: str


def html_document(html: str) -> HtmlDocument:
    """Main text of an HTML page (trafilatura; boilerplate removed) with its headings and list
    items from trafilatura's XML, and the page's title and publication date (``og:title``,
    ``<title>``, ``article:published_time``, ``<time datetime>``... as found by trafilatura).

    Only dates the page states are used (no guessing from the text or a copyright line).
    """
    import trafilatura

    extracted = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=True, favor_recall=True, with_metadata=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )  # fmt: skip
    if extracted is None:
        return HtmlDocument("", Layout(), "", "")
    writer = _Writer()
    body = getattr(extracted, "body", None)
    if body is not None:
        writer.element(body)
    return HtmlDocument(writer.text(), writer.layout(), str(extracted.title or ""), str(extracted.date or "")[:10])


class _Writer(TextWriter):
    """Lays trafilatura's XML out as text, recording where headings and list markers are."""

    def element(self, node: Any) -> None:
        for child in node:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "head":
                self._heading(child)
            elif tag == "list":
                self._list(child, "\n\n")
            elif tag == "table":
                rows = ["| " + " | ".join(" ".join(_inline(c).split()) for c in row) + " |" for row in child.iter("row")]
                if rows:
                    self._put("\n".join(rows), "\n\n")
            elif tag in ("div", "body", "main"):
                self.element(child)
            elif content := _inline(child):
                self._put(content, "\n\n")

    def _heading(self, node: Any) -> None:
        content = " ".join(_inline(node).split())
        if content:
            rend = str(node.get("rend") or "h2")
            level = int(rend[1]) if len(rend) == 2 and rend[0] == "h" and rend[1] in "123456" else 2
            start = self._put(content, "\n\n")
            self.headings.append((start, start + len(content), level))

    def _list(self, node: Any, gap: str) -> None:
        ordered = node.get("rend") == "ol"
        for n, item in enumerate((c for c in node if c.tag == "item"), 1):
            marker = f"{n}." if ordered else "-"
            content = _inline(item, skip="list")
            start = self._put(f"{marker} {content}", gap)
            self.markers.append((start, start + len(marker)))
            gap = "\n"
            for sub in item:
                if sub.tag == "list":
                    self._list(sub, "\n")


_BLOCK_TAGS = frozenset({"p", "head", "list", "item", "quote", "code", "table", "row", "div"})


def _inline(node: Any, skip: str = "") -> str:
    """Text of an element, ``<lb/>`` as a line break, lines stripped; ``skip``: a child tag left out."""
    pieces: list[str] = [node.text or ""]
    for child in node:
        if child.tag == "lb":
            pieces.append("\n")
        elif child.tag in _BLOCK_TAGS and child.tag != skip:
            pieces.append(f"\n{_inline(child, skip)}\n")
        elif child.tag != skip:
            pieces.append(_inline(child, skip))
        pieces.append(child.tail or "")
    lines = (" ".join(line.split()) for line in "".join(pieces).splitlines())
    return "\n".join(line for line in lines if line)
