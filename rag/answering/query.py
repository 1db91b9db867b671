"""Query understanding: what retrieval should look for in a question.

* Long multi-part questions are split into clauses at commas and joining words ("Who
  built a reputation as X, faced Y, and is also accused of Z by TechCrunch?") that are
  retrieved separately, because each clause is usually answered by a different passage.
* Dates named in the question ("on October 7, 2023") are recognised so documents published
  that day can be preferred.

Questions (and earlier turns, :mod:`rag.answering.history`) are bounded (:func:`bounded`) before anything else looks at them,
so a huge question or conversation costs no more than a short one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingestion.documents import storable

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DATE = re.compile(r"\b(" + "|".join(MONTHS) + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})\b", re.I)
_CLAUSE = re.compile(
    r",\s+(?:(?:and|while|whereas|but|or)\s+)?"  # list items and joined parts; not "1,000"
    r"|\s+(?:and|while|whereas|but)\s+(?=(?:has|have|is|was|were|does|did|also|the|a|an|its|their|his|her)\b)"
    r"|\s+compared\s+to\s+|\s+as\s+opposed\s+to\s+|;\s*",
    re.IGNORECASE,
)
MIN_WORDS_TO_SPLIT = 16
"""Shorter questions are retrieved whole: splitting only pays off for multi-part questions."""
MAX_CLAUSES = 6
"""Each clause costs one more scoring pass (its vector is pooled from the question's); real questions have 2-6."""
WINDOW_WORDS, WINDOW_STRIDE = 16, 8
"""Overlapping word windows of the question, pooled from its own forward pass (no extra cost)."""
MAX_WINDOWS = 16
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Query:
    """What to retrieve: the full text, its clauses (may be empty), the dates it names (ISO)
    and its overlapping word windows, the last two as ``(start, end)`` character spans of ``text``."""

    text: str
    clause_spans: tuple[tuple[int, int], ...] = ()
    dates: tuple[str, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()

    @property
    def clauses(self) -> tuple[str, ...]:
        return tuple(self.text[a:b] for a, b in self.clause_spans)


def parse_query(text: str) -> Query:
    """Split ``text`` into retrievable parts.

    >>> parse_query("Did the report on October 7, 2023 say X, while the TechCrunch article says Y happened?").dates
    ('2023-10-07',)
    """
    return Query(text, tuple(clauses(text)), tuple(dates(text)), tuple(windows(text)))


def clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the clauses of a long multi-part question (none for a short or single-part one).

    >>> q = "Did the Verge report that X happened in the city, while TechCrunch says that Y was cancelled?"
    >>> [q[a:b] for a, b in clauses(q)]
    ['Did the Verge report that X happened in the city', 'TechCrunch says that Y was cancelled']
    """
    if len(text.split()) < MIN_WORDS_TO_SPLIT:
        return []
    bounds = [0, *(i for m in _CLAUSE.finditer(text) for i in m.span()), len(text)]
    spans = [_strip(text, a, b) for a, b in zip(bounds[::2], bounds[1::2])]
    spans = [(a, b) for a, b in spans if len(text[a:b].split()) >= 4]
    return spans[:MAX_CLAUSES] if len(spans) > 1 else []


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` narrowed past surrounding spaces and ``,?.`` (like ``str.strip(" ,?.")``)."""
    while start < end and text[start] in " ,?.":
        start += 1
    while end > start and text[end - 1] in " ,?.":
        end -= 1
    return start, end


def windows(text: str) -> list[tuple[int, int]]:
    """Spans of 16 consecutive words every 8 words (the whole text when it is shorter).

    >>> windows("a b c")
    [(0, 5)]
    """
    words = [m.span() for m in _WORD.finditer(text)]
    if len(words) <= WINDOW_WORDS:
        return [(0, len(text))]
    out = []
    for first in range(0, len(words) - WINDOW_WORDS + WINDOW_STRIDE, WINDOW_STRIDE):
        last = min(first + WINDOW_WORDS, len(words)) - 1
        out.append((words[first][0], words[last][1]))
        if last == len(words) - 1 or len(out) == MAX_WINDOWS:
            break
    return out


def dates(text: str) -> list[str]:
    out = []
    for m in _DATE.finditer(text):
        if m.group(1):
            out.append(f"{m.group(3)}-{MONTHS.index(m.group(1).lower()) + 1:02d}-{int(m.group(2)):02d}")
        else:
            out.append(f"{m.group(4)}-{m.group(5)}-{m.group(6)}")
    return out


def bounded(text: str, max_chars: int) -> tuple[str, bool]:
    """``text`` with whitespace runs collapsed to one space and ends stripped, cut to ``max_chars``
    characters, and whether it was cut. Lone surrogates (undecodable input) become U+FFFD.

    Reads ``text`` only as far as the cut: a 5 MB question costs about what a short one does.

    >>> bounded("  Who   met\\n Putin? ", 9)
    ('Who met P', True)
    """
    words: list[str] = []
    size = -1
    for m in _WORD.finditer(text):
        words.append(text[m.start() : min(m.end(), m.start() + max_chars + 1)])  # a giant word is not copied whole
        size += len(words[-1]) + 1
        if size > max_chars:
            return storable(" ".join(words)[:max_chars].rstrip()), True
    return storable(" ".join(words)), False
