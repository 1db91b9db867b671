"""What the rankers read: a question encoded once, and the signals of its pooled chunks.

:func:`encode` embeds the question in one forward pass (clause and window vectors pooled from
it); :func:`signals` pools chunks from FAISS and BM25 and computes, through the
:class:`~rag.indexing.search_index.SearchIndex` seam only, the per-chunk signals the fusion rankers
(:mod:`rag.answering.rankers`) score, so it runs unchanged over every store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.answering import fusion
from rag.answering.query import Query
from rag.indexing.search_index import SearchIndex

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


def query_tokens(text: str) -> list[str]:
    """BM25 terms of a query (stemmed, stop and question words removed)."""
    from rag.indexing.lexical import terms

    return terms(text)


def encode(index: SearchIndex, query: Query) -> Encoded:
    """Embed the question once; its clauses and windows are pooled from that same pass."""
    n = len(query.clause_spans)
    vectors, spans = index.embedder.embed_spans([query.text], [[*query.clause_spans, *_windows(query)]])
    return Encoded(np.vstack([vectors, spans[0][:n]]), spans[0][n:])


def _windows(query: Query) -> tuple[tuple[int, int], ...]:
    return query.windows or ((0, len(query.text)),)  # a Query made by hand may have none


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
