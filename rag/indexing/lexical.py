"""The lexical side of the index: BM25 terms and indexes (bm25s, Snowball stemming).

Chunks and sentences get one BM25 index each; queries are cut into the same terms, minus
English stop words and question scaffolding ("who", "did", "tell"), which would otherwise
match every document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

BM25_STEMMER = "english"
QUESTION_WORDS_VERSION = "bm25s-en+question-words-v1"
"""Names the stop-word list in the manifest: changing the list must change this name."""
QUESTION_WORDS = [
    "what",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "which",
    "why",
    "how",
    "did",
    "does",
    "do",
    "done",
    "doing",
    "is",
    "was",
    "were",
    "am",
    "been",
    "being",
    "has",
    "have",
    "had",
    "much",
    "many",
    "can",
    "could",
    "would",
    "should",
    "shall",
    "may",
    "might",
    "must",
    "about",
    "tell",
    "told",
    "say",
    "said",
    "please",
]
"""Question scaffolding: as frequent in questions as stop words, and as useless for matching."""


def tokenize_for_bm25(texts: Sequence[str], return_ids: bool = True) -> Any:
    """bm25s tokens (English stop words removed, Snowball-stemmed) for chunk texts or queries."""
    import bm25s

    return bm25s.tokenize(
        list(texts), stopwords=list(_stopwords()), stemmer=_stemmer(), return_ids=return_ids, show_progress=False
    )


_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset([*STOPWORDS_EN, *QUESTION_WORDS])


def terms(text: str) -> list[str]:
    """The same terms :func:`tokenize_for_bm25` gives, for one text, without its per-call overhead."""
    return _stemmer().stemWords([w for w in _WORD.findall(text.lower()) if w not in _stopwords()])


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer(BM25_STEMMER)


def build_bm25(texts: Sequence[str]) -> Any:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(tokenize_for_bm25(texts), show_progress=False)
    return bm25


def bm25_scores(bm25: Any, terms: list[str], n: int) -> np.ndarray:
    """BM25 scores of ``terms`` for the ``n`` texts of ``bm25``: all 0 for a text without terms
    ("Why?", "the", an emoji: bm25s cannot score an empty query), so only the dense signal ranks."""
    if not terms:
        return np.zeros(n, np.float32)
    return np.asarray(bm25.get_scores(terms), np.float32)
