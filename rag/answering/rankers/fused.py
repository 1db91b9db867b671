"""The fusion rankers: every signal of the pooled chunks (:func:`rag.answering.signals.signals`) turned
into one score by the learned model ("hybrid") or by the hand-tuned mix ("handtuned")."""

from __future__ import annotations

import numpy as np

from rag.answering import fusion
from rag.answering.query import Query
from rag.answering.signals import FEATURE_CONSTANTS, HANDTUNED_PENALTY, SAME_DOCUMENT_PENALTY, Encoded, diversified, signals
from rag.indexing.search_index import SearchIndex


class LearnedRanker:
    """The LightGBM model over the fusion features (scores 0..1); the hand-tuned mix without a model file."""

    def rank(self, index: SearchIndex, query: Query, encoded: Encoded, candidates: int) -> tuple[np.ndarray, np.ndarray]:
        model = fusion.default_model(constants=FEATURE_CONSTANTS)
        if model is None:
            return HandtunedRanker().rank(index, query, encoded, candidates)
        pool, sig = signals(index, query, encoded)
        scores = model.score(sig)
        order = diversified(scores, sig.document, SAME_DOCUMENT_PENALTY)[:candidates]
        return pool[order], (1 / (1 + np.exp(-scores[order]))).astype(np.float32)


class HandtunedRanker:
    """Dense + BM25 + metadata with fixed weights (:func:`rag.answering.fusion.handtuned`)."""

    def rank(self, index: SearchIndex, query: Query, encoded: Encoded, candidates: int) -> tuple[np.ndarray, np.ndarray]:
        pool, sig = signals(index, query, encoded)
        scores = fusion.handtuned(sig)
        order = diversified(scores, sig.document, HANDTUNED_PENALTY)[:candidates]
        return pool[order], scores[order].astype(np.float32)
