"""Query understanding: what retrieval should look for in a question.

* Follow-ups ("Who did he meet there?") are completed with the previous user question.
* Long multi-part questions are split into clauses ("... reported by The Verge, and is also
  accused of ... by TechCrunch?") that are retrieved separately, because each clause is
  usually answered by a different document.
* Dates named in the question ("on October 7, 2023") are recognised so documents published
  that day can be preferred.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    r",\s*(?:and|while|whereas|but|or)\s+"
    r"|\s+(?:and|while|whereas|but)\s+(?:has|have|is|was|were|does|did|also|the|a|an|its|their|his|her)\b"
    r"|\s+compared\s+to\s+|\s+as\s+opposed\s+to\s+|;\s*"
    r"|,\s+(?=(?:and\s+)?(?:the|a|an)\s+\w+\s+(?:article|report))",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"\b(he|she|it|they|him|her|his|hers|its|their|them|there|then|that|this|those|these|the same|what about|how about)\b",
    re.IGNORECASE,
)
MIN_WORDS_TO_SPLIT = 16
"""Shorter questions are retrieved whole: splitting only pays off for multi-part questions."""
MAX_CLAUSES = 6
"""Each clause costs one more embedding and scoring pass; real questions have 2-4."""


@dataclass(frozen=True)
class Query:
    """What to retrieve: the full text, its clauses (may be empty) and the dates it names (ISO)."""

    text: str
    clauses: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


def parse_query(text: str) -> Query:
    """Split ``text`` into retrievable parts.

    >>> parse_query("Did the report on October 7, 2023 say X, while the TechCrunch article says Y happened?").dates
    ('2023-10-07',)
    """
    return Query(text, tuple(clauses(text)), tuple(dates(text)))


def clauses(text: str) -> list[str]:
    """The clauses of a long multi-part question (none for a short or single-part one)."""
    if len(text.split()) < MIN_WORDS_TO_SPLIT:
        return []
    parts = [p.strip(" ,?.") for p in _CLAUSE.split(text)]
    parts = [p for p in parts if len(p.split()) >= 4]
    return parts[:MAX_CLAUSES] if len(parts) > 1 else []


def dates(text: str) -> list[str]:
    out = []
    for m in _DATE.finditer(text):
        if m.group(1):
            out.append(f"{m.group(3)}-{MONTHS.index(m.group(1).lower()) + 1:02d}-{int(m.group(2)):02d}")
        else:
            out.append(f"{m.group(4)}-{m.group(5)}-{m.group(6)}")
    return out


def with_history(question: str, history: Sequence[Any] | None) -> str:
    """The question, preceded by the previous user question when it reads as a follow-up.

    >>> with_history("Who did he meet there?", ["Did Kim Jong Un visit Russia?"])
    'Did Kim Jong Un visit Russia? Who did he meet there?'
    """
    previous = [q for q in (_user_text(turn) for turn in history or []) if q]
    if previous and (_FOLLOW_UP.search(question) or len(question.split()) <= 3):
        return f"{previous[-1]} {question}"
    return question


def _user_text(turn: Any) -> str:
    if isinstance(turn, str):
        return turn.strip()
    if isinstance(turn, dict):
        if turn.get("role") != "user":
            return ""
        content = turn.get("content")
        if isinstance(content, list):  # Gradio 6 messages: [{"type": "text", "text": ...}, ...]
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        return content.strip() if isinstance(content, str) else ""
    if isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
        return turn[0].strip()
    return ""
