"""Stage 6: a question in, ranked chunks out (dense + BM25 + metadata, fused).

:func:`search` is the one pipeline (encode, rank with the mode's ranker from
:mod:`rag.rankers`, optionally rerank) behind both :func:`retrieve` and :func:`rag.answer`.
:func:`signals` computes what the fusion rankers read, through the :class:`SearchIndex` seam
only, so it runs unchanged over every store. The index and its model are opened once per
process (:func:`rag.search_index.open_index`); a rebuilt index is picked up on the next call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import fusion, rankers, store
from .errors import EmptyQuestionError, InputError
from .query import Query, bounded, parse_query
from .records import Hit
from .search_index import LoadedIndex, SearchIndex, hit_of, open_index
from .settings import AnswerOptions, check_int, make_options

Loaded = LoadedIndex
"""The opened index's class under its former name."""
__all__ = ["Loaded", "SearchIndex", "open_index", "retrieve", "search", "signals"]

SOURCE_BOOST = 0.5
"""Metadata signal of chunks of an outlet the question names ("as reported by TechCrunch")."""
DATE_BOOST = 0.5
"""Metadata signal of chunks of documents published on a date the question names."""
SAME_DOCUMENT_PENALTY = 0.2
"""Subtracted from a learned score per chunk already taken from the same document, so results
cover more documents (0.1 for the hand-tuned mix, whose scores spread less)."""
HANDTUNED_PENALTY = 0.1
DIVERSIFY_POOL = 60
SENTENCE_LEXICAL_WEIGHT = 0.4
"""BM25 weight in the per-sentence mix (both kinds of evidence on one sentence), set by cross-validation."""
COVER_WEIGHT = 1.0
"""Weight of a sentence's share of the question's (IDF-weighted) terms beside its similarity."""
POOL_PER_SIGNAL = 150
"""Chunks taken from FAISS and from BM25 (each, per question text) before sentence-level scoring."""
FEATURE_CONSTANTS = {
    "SOURCE_BOOST": SOURCE_BOOST,
    "DATE_BOOST": DATE_BOOST,
    "POOL_PER_SIGNAL": POOL_PER_SIGNAL,
    "SENTENCE_LEXICAL_WEIGHT": SENTENCE_LEXICAL_WEIGHT,
    "COVER_WEIGHT": COVER_WEIGHT,
    "LEXICAL_WEIGHT": fusion.LEXICAL_WEIGHT,
    "CLAUSE_WEIGHT": fusion.CLAUSE_WEIGHT,
}
"""The constants that define the fusion model's features; recorded in ``fusion_model.json`` at
training and checked when the model loads (a model trained on other signals is refused)."""


@dataclass(frozen=True)
class Encoded:
    """A query's vectors: ``vectors`` for the question then each clause, ``windows`` for its
    word windows (pooled in the question's own forward pass)."""

    vectors: np.ndarray
    windows: np.ndarray


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """The question with whitespace collapsed, cut to ``max_chars`` (with a notice) before anything
    else reads it, lone surrogates replaced; raises EmptyQuestionError when there is none."""
    if question is not None and not isinstance(question, str):
        raise InputError(f"the question must be a string, not a {type(question).__name__}")
    text, cut = bounded(question or "", max_chars)
    if not text:
        raise EmptyQuestionError("the question is empty: ask something about your documents")
    return text, [f"question truncated to its first {max_chars} characters"] if cut else []


def query_tokens(text: str) -> list[str]:
    """BM25 terms of a query (stemmed, stop and question words removed)."""
    from .lexical import terms

    return terms(text)


def encode(index: SearchIndex, query: Query) -> Encoded:
    """Embed the question once; its clauses and windows are pooled from that same pass."""
    n = len(query.clause_spans)
    vectors, spans = index.embedder.embed_spans([query.text], [[*query.clause_spans, *_windows(query)]])
    return Encoded(np.vstack([vectors, spans[0][:n]]), spans[0][n:])


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
    (:data:`rag.rankers.RANKERS`; "hybrid" scores are 0..1)."""
    if index.n_chunks == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return rankers.get(mode).rank(index, query, encoded, candidates)


def signals(index: SearchIndex, query: Query, encoded: Encoded) -> tuple[np.ndarray, fusion.Signals]:
    """The candidate pool and every retrieval signal of its chunks."""
    texts = [query.text, *query.clauses, *(query.text[a:b] for a, b in _windows(query))]
    terms = [query_tokens(t) for t in texts]  # question, clauses, then windows; tokenised once
    n = 1 + len(query.clauses)
    chunk_lexical = index.lexical(terms)
    pool = _pool(index, encoded.vectors, chunk_lexical.top(min(index.n_chunks, POOL_PER_SIGNAL), n))
    lexical = chunk_lexical.scores(pool)
    rows, starts = index.chunk_sentence_rows(pool)
    sentence = _sentence_signals(index, terms, rows, np.vstack([encoded.vectors, encoded.windows]))
    dense, sentence_lexical, mix, cover = (np.maximum.reduceat(m, starts, axis=1) for m in sentence)
    sig = fusion.Signals(
        dense=dense[:n],
        lexical=lexical[:n],
        sentence_lexical=sentence_lexical[:n],
        sentence_mix=mix[:n],
        sentence_cover=cover[:n],
        window_dense=dense[n:],
        window_lexical=lexical[n:],
        window_sentence_lexical=sentence_lexical[n:],
        window_sentence_mix=mix[n:],
        window_sentence_cover=cover[n:],
        chunk_dense=index.chunk_vectors(pool) @ encoded.vectors[0],
        metadata=index.metadata_boost(query.text, query.dates, SOURCE_BOOST, DATE_BOOST)[pool],
        position=index.chunk_positions(pool),
        document=index.chunk_documents(pool),
        source=index.chunk_sources(pool),
    )
    return pool, sig


def _windows(query: Query) -> tuple[tuple[int, int], ...]:
    return query.windows or ((0, len(query.text)),)  # a Query made by hand may have none


def _pool(index: SearchIndex, qvecs: np.ndarray, lexical_ids: np.ndarray) -> np.ndarray:
    """Candidate chunks: for each text, the nearest chunks by vector and the best by BM25 (``lexical_ids``)."""
    _, dense_ids = index.dense_search(qvecs.astype(np.float32), min(index.n_chunks, POOL_PER_SIGNAL))
    found = np.unique(np.concatenate([dense_ids.ravel(), lexical_ids.ravel()]))
    return found[found >= 0]


def _sentence_signals(
    index: SearchIndex, terms: list[list[str]], rows: np.ndarray, qvecs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per text (its BM25 ``terms`` and its vector; rows) and pooled sentence (columns): similarity to its in-context vector;
    BM25 / the best sentence's in the index; and two mixes of both on the *same* sentence,
    each over its best in the pool: dense + SENTENCE_LEXICAL_WEIGHT x BM25, and dense + the
    IDF-weighted share of the text's terms the sentence contains (COVER_WEIGHT)."""
    dense = qvecs.astype(np.float32) @ index.sentence_vectors(rows).T
    query = index.sentence_lexical(terms)
    lexical, cover = np.zeros_like(dense), np.zeros_like(dense)
    if query is not None:
        lexical = query.scores(rows)
        cover = index.sentence_coverage(terms, rows)
    return (
        dense,
        lexical,
        fusion.max_normalised(dense + SENTENCE_LEXICAL_WEIGHT * lexical),
        fusion.max_normalised(dense + COVER_WEIGHT * cover),
    )


def bm25_scores(bm25: Any, terms: list[str], n: int) -> np.ndarray:
    """BM25 scores of ``terms`` for the ``n`` texts of ``bm25``: all 0 for a text without terms
    ("Why?", "the", an emoji: bm25s cannot score an empty query), so only the dense signal ranks."""
    if not terms:
        return np.zeros(n, np.float32)
    return np.asarray(bm25.get_scores(terms), np.float32)


def diversified(scores: np.ndarray, documents: np.ndarray, penalty: float) -> np.ndarray:
    """Positions of ``scores``, best first; among the best DIVERSIFY_POOL, each further chunk
    of an already-used document pays ``penalty``, so results cover more documents.

    >>> diversified(np.array([0.9, 0.85, 0.8]), np.array([1, 1, 2]), penalty=0.1).tolist()
    [0, 2, 1]
    """
    order = np.argsort(-scores, kind="stable")
    head = order[:DIVERSIFY_POOL]
    adjusted, docs = scores[head].astype(np.float64), documents[head]
    picked = np.zeros(len(head), np.int64)
    for n in range(len(head)):
        i = int(np.argmax(adjusted))
        picked[n] = head[i]
        adjusted[docs == docs[i]] -= penalty
        adjusted[i] = -np.inf
    return np.concatenate([picked, order[DIVERSIFY_POOL:]])


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
