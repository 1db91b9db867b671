"""Text laid out piece by piece (blocks apart by blank lines, list items line by line) with the
spans of its headings and list markers: how readers of formats that have structure (Word
documents, spreadsheets) build a Document's text and :class:`rag.ingestion.structure.Layout`."""

from __future__ import annotations

from rag.ingestion.structure import Heading, Layout, Span


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (line breaks too) made one space.

    >>> one_line("  Heron\\n Bridge\\t1998 ")
    'Heron Bridge 1998'
    """
    return " ".join(text.split())


def tidy_lines(text: str) -> str:
    """``text`` with each line's whitespace collapsed and blank lines left out (so it stays one block).

    >>> tidy_lines("The bridge  opened.\\n\\n\\n  It cost a lot. ")
    'The bridge opened.\\nIt cost a lot.'
    """
    return "\n".join(line for line in map(one_line, text.splitlines()) if line)


class TextWriter:
    """Appends blocks of text and records where its headings and list markers are."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.headings: list[Heading] = []
        self.markers: list[Span] = []
        self._items = 0  # list items written since the last other block
        self._number = 0  # the last number given to an item of the current numbered list (0: none)

    def text(self) -> str:
        return "".join(self.parts)

    def layout(self) -> Layout:
        return Layout(tuple(self.headings), tuple(self.markers))

    def _put(self, text: str, gap: str) -> int:
        """Append ``text`` after ``gap`` (none at the very start); returns where it starts."""
        if self.size:
            self.parts.append(gap)
            self.size += len(gap)
        self.parts.append(text)
        self.size += len(text)
        return self.size - len(text)

    def paragraph(self, text: str) -> None:
        """A block of running text (a paragraph, a table row); nothing when ``text`` is blank."""
        if text.strip():
            self._put(text, "\n\n")
            self._items = self._number = 0

    def heading(self, text: str, level: int) -> None:
        """A section title on a line of its own (never cited), at ``level`` 1-6."""
        if title := one_line(text):
            start = self._put(title, "\n\n")
            self.headings.append((start, start + len(title), min(max(level, 1), 6)))
            self._items = self._number = 0

    def item(self, text: str, numbered: bool = False) -> None:
        """A list item after a ``-`` marker (``1.``, ``2.`` ... when ``numbered``), on the line after the previous item."""
        if not text.strip():
            return
        self._items += 1
        self._number = self._number + 1 if numbered else 0
        marker = f"{self._number}." if numbered else "-"
        start = self._put(f"{marker} {text}", "\n" if self._items > 1 else "\n\n")
        self.markers.append((start, start + len(marker)))
