"""A question in, ranked chunks out (dense + BM25 + metadata, fused).

:func:`search` is the one pipeline (encode, rank with the mode's ranker from
:mod:`rag.answering.rankers`, optionally rerank) behind both :func:`retrieve` and :func:`rag.answer`;
what the rankers read is computed by :mod:`rag.answering.signals`. The index and its model are
opened once per process (:func:`rag.indexing.search_index.open_index`); a rebuilt index is picked
up on the next call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.answering import rankers
from rag.answering.query import Query, bounded, parse_query
from rag.answering.signals import Encoded, encode
from rag.errors import EmptyQuestionError, InputError
from rag.indexing import store
from rag.indexing.search_index import LoadedIndex, SearchIndex, hit_of, open_index
from rag.records import Hit
from rag.settings import AnswerOptions, check_int, make_options

Loaded = LoadedIndex
"""The opened index's class under its former name."""
__all__ = ["Loaded", "SearchIndex", "open_index", "retrieve", "search"]


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """The question with whitespace collapsed, cut to ``max_chars`` (with a notice) before anything
    else reads it, lone surrogates replaced; raises EmptyQuestionError when there is none."""
    if question is not None and not isinstance(question, str):
        raise InputError(f"the question must be a string, not a {type(question).__name__}")
    text, cut = bounded(question or "", max_chars)
    if not text:
        raise EmptyQuestionError("the question is empty: ask something about your documents")
    return text, [f"question truncated to its first {max_chars} characters"] if cut else []


class Reranker(Protocol):
    """An optional last step of :func:`search`: reorders (and may cut) the ranked chunks."""

    def rerank(self, index: SearchIndex, query: Query, ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Searched:
    """What :func:`search` found: chunk ids and scores, best first, with the query's vectors."""

    ids: np.ndarray
    scores: np.ndarray
    encoded: Encoded
    seconds_encode: float


def search(index: SearchIndex, query: Query, candidates: int, mode: str = "hybrid", rerank: Reranker | None = None) -> Searched:
    """The retrieval pipeline: encode the query, rank chunks with the ``mode`` ranker, then ``rerank``."""
    started = time.perf_counter()
    encoded = encode(index, query)
    encoded_at = time.perf_counter()
    ids, scores = rank_chunks(index, query, encoded, candidates, mode)
    if rerank is not None:
        ids, scores = rerank.rerank(index, query, ids, scores)
    return Searched(ids, scores, encoded, encoded_at - started)


def rank_chunks(
    index: SearchIndex, query: Query, encoded: Encoded, candidates: int, mode: str = "hybrid"
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids with their score, best first, at most ``candidates``: the ``mode`` ranker's
    (:data:`rag.answering.rankers.RANKERS`; "hybrid" scores are 0..1)."""
    if index.n_chunks == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return rankers.get(mode).rank(index, query, encoded, candidates)


def make_hit(index: SearchIndex | store.IndexData, chunk_id: int, score: float) -> Hit:
    """A chunk as a Hit, from an opened index or (as before the seam) its layout."""
    return index.hit(chunk_id, score) if not isinstance(index, store.IndexData) else hit_of(index, chunk_id, score)


def retrieve(question: str, k: int = 10, index_dir: str | Path = "index", mode: str = "hybrid", **options: Any) -> list[Hit]:
    """The ``k`` best chunks for ``question``, best first.

    >>> [h.title for h in retrieve("Who met Putin?", k=1)]  # doctest: +SKIP
    ['Kim Jong Un orders military to annihilate South Korea and US']
    """
    opts = make_options(AnswerOptions, {**options, "mode": mode})  # checks the mode too
    k = check_int("k", k, 1)
    text, _ = clean_question(question, opts.max_question_chars)
    index = open_index(index_dir, store_option=opts.store)
    found = search(index, parse_query(text), max(k, opts.candidates), opts.mode)
    return [index.hit(int(c), float(s)) for c, s in zip(found.ids[:k], found.scores[:k])]
