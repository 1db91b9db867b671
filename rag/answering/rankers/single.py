"""One signal alone: the benchmarks' baselines ("dense": chunk vectors; "bm25": chunk BM25)."""

from __future__ import annotations

import numpy as np

from rag.answering.query import Query
from rag.answering.signals import Encoded, query_tokens
from rag.indexing.search_index import SearchIndex


class DenseRanker:
    """Chunks by their vector's similarity to the question's."""

    def rank(self, index: SearchIndex, query: Query, encoded: Encoded, candidates: int) -> tuple[np.ndarray, np.ndarray]:
        found, ids = index.dense_search(encoded.vectors[:1].astype(np.float32), min(index.n_chunks, candidates))
        keep = ids[0] >= 0
        found, ids = found[0][keep], ids[0][keep]
        # Chunks past the k nearest rank after them, in id order (as a full ranking would tie them).
        scores = np.full(index.n_chunks, float(found[-1]) - 1e-3 if len(found) else 0.0, np.float32)
        scores[ids] = found
        top = np.argsort(-scores, kind="stable")[:candidates]
        return top, scores[top]


class Bm25Ranker:
    """Chunks by BM25 of the question's terms (over the best in the index)."""

    def rank(self, index: SearchIndex, query: Query, encoded: Encoded, candidates: int) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = index.lexical([query_tokens(query.text)]).ranked(min(index.n_chunks, candidates))
        if len(ids) < min(index.n_chunks, candidates):  # a store returns matches only: the rest score 0, in id order
            rest = np.setdiff1d(np.arange(index.n_chunks), ids)[: candidates - len(ids)]
            ids, scores = np.concatenate([ids, rest]), np.concatenate([scores, np.zeros(len(rest), np.float32)])
        return ids, scores.astype(np.float32)
