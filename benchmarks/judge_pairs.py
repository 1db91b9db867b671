"""The labelled pair the judge learns from, and the words two texts are compared by."""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD_RE = re.compile(r"\w+")
STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "as",
    ]
)


@dataclass(frozen=True)
class Pair:
    question: str
    text: str  # :func:`rag.answering.judge.pair_text`
    label: float
    group: int  # the question's number (P@1 is per question)


def words(text: str) -> set[str]:
    """The lower-cased words of ``text`` that are not stop words (for "the hardest negatives share most")."""
    return {w for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS}
