"""BM25 of the Milvus store: Milvus finds each text's best rows in a whole collection; the
candidates a question pools are scored here from their own terms, with the index's document
frequencies (``lexical_stats.json``), so every candidate is on one scale (bm25s's formula)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from rag.indexing.lexical import terms as text_terms


class Collection(Protocol):
    """What BM25 needs of a Milvus collection (:class:`rag.indexing.stores.milvus.Collection`)."""

    def bm25(self, texts: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Each text's ``k`` best rows by Milvus's BM25, as (row id, score >= 0)."""
        ...


TERMS_CACHE = 200_000
"""Rows whose BM25 terms are kept per collection once read."""


class Lexical:
    """BM25 over a collection's ``text``: Milvus finds each text's best rows in the whole collection;
    given rows (a pool of candidates) are scored here from their own terms, with the IDF and average
    length of ``lexical_stats.json`` (bm25s's formula: the same scale for every row)."""

    K1, B = 1.5, 0.75

    def __init__(self, collection: Collection, stats: Mapping[str, Any], text_of: Any):
        self.collection, self.stats, self.text_of = collection, stats, text_of
        self._terms: OrderedDict[int, list[str]] = OrderedDict()

    def query(self, terms: Sequence[Sequence[str]]) -> LexicalQuery:
        return LexicalQuery(self, [list(t) for t in terms])

    @cached_property
    def idf(self) -> Mapping[str, float]:
        n = max(int(self.stats["n"]), 1)
        return {t: float(np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))) for t, df in self.stats["df"].items()}

    def row_terms(self, ids: Sequence[int]) -> list[list[str]]:
        """The BM25 terms of rows ``ids`` (a bounded cache: a pool's rows come back in later texts and questions)."""
        out = []
        for i in ids:
            found = self._terms.get(i)
            if found is None:
                found = self._terms[i] = text_terms(self.text_of(i))
                if len(self._terms) > TERMS_CACHE:
                    self._terms.popitem(last=False)
            out.append(found)
        return out

    def bm25(self, terms: Sequence[Sequence[str]], ids: Sequence[int]) -> np.ndarray:
        """``(texts, len(ids))`` raw BM25 of rows ``ids``."""
        idf, avgdl = self.idf, max(float(self.stats.get("avgdl", 1.0)), 1e-9)
        out = np.zeros((len(terms), len(ids)), np.float32)
        for c, row in enumerate(self.row_terms(ids)):
            counts: dict[str, int] = {}
            for t in row:
                counts[t] = counts.get(t, 0) + 1
            norm = self.K1 * (1 - self.B + self.B * len(row) / avgdl)
            for j, text in enumerate(terms):
                out[j, c] = sum(idf[t] * counts[t] / (counts[t] + norm) for t in text if t in counts)
        return out

    def coverage(self, terms: Sequence[Sequence[str]], ids: np.ndarray) -> np.ndarray:
        """From the rows' own terms, weighted by IDF."""
        idf = self.idf
        row_terms = [set(t) for t in self.row_terms(np.asarray(ids).tolist())]
        out = np.zeros((len(terms), len(ids)), np.float32)
        for j, text in enumerate(terms):
            known = sorted({t for t in text if t in idf})
            total = sum(idf[t] for t in known)
            if total:
                out[j] = [sum(idf[t] for t in known if t in have) / total for have in row_terms]
        # As the embedded store computes it (and the fusion model was trained): a row repeated in
        # ``ids`` (a sentence in two overlapping chunks) counts at its last position only.
        ids = np.asarray(ids)
        last = np.zeros(len(ids), bool)
        last[len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]] = True
        out[:, ~last] = 0
        return out


class LexicalQuery:
    """BM25 of a few texts; each text's best row in the whole collection (found by Milvus) normalises its scores."""

    BEST_OF = 10
    """Milvus's best rows rescored here to find the best under the local scale."""

    def __init__(self, lexical: Lexical, terms: list[list[str]]):
        self.lexical, self.terms = lexical, terms
        self.texts = [" ".join(t) for t in terms]
        self._best: np.ndarray | None = None

    def _milvus(self, k: int, texts: list[int]) -> dict[int, list[tuple[int, float]]]:
        asked = [j for j in texts if self.texts[j]]
        found = self.lexical.collection.bm25([self.texts[j] for j in asked], k) if asked and k > 0 else []
        return dict(zip(asked, found))

    @property
    def best(self) -> np.ndarray:
        if self._best is None:
            self._best = np.zeros(len(self.texts), np.float32)
            for j, hits in self._milvus(self.BEST_OF, list(range(len(self.texts)))).items():
                if hits:
                    self._best[j] = self.lexical.bm25([self.terms[j]], [i for i, _ in hits]).max()
        return self._best

    def top(self, k: int, texts: int) -> np.ndarray:
        out = np.full((texts, k), -1, np.int64)
        for j, hits in self._milvus(k, list(range(texts))).items():
            out[j, : len(hits)] = [i for i, _ in hits]
        return out

    def ranked(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = sorted(self._milvus(k, [0]).get(0, []), key=lambda h: (-h[1], h[0]))
        best = max(hits[0][1], 1e-9) if hits else 1.0
        return np.array([i for i, _ in hits], np.int64), np.array([s / best for _, s in hits], np.float32)

    def scores(self, ids: np.ndarray) -> np.ndarray:
        raw = self.lexical.bm25(self.terms, np.asarray(ids).tolist())
        return np.minimum(raw / np.maximum(self.best, 1e-9)[:, None], 1.0)
