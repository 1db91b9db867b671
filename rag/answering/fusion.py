"""Retrieval signals of the pooled chunks fused into one score by a learned ranker.

Every pooled chunk gets a few dozen numbers: how well its best sentence matches the question
(dense, in-context vectors), its BM25 score and its best sentence's BM25 score, the same for
each clause and each 16-word window of the question, outlet/date matches, its position in its
document, and how it compares with the other chunks of its document. A LightGBM lambdarank
model (``fusion_model.txt``, plain text, trained by ``benchmarks/train_fusion.py`` on
MultiHop-RAG dev queries) turns them into a score. Without a model file the hand-tuned mix
(:func:`handtuned`) ranks alone.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.lgbm import PlainTextModel
from rag.errors import ModelError

MODEL_FILE = Path(__file__).with_name("fusion_model.txt")
MODEL_INFO = Path(__file__).with_name("fusion_model.json")

LEXICAL_WEIGHT = 0.8
"""Weight of the max-normalised BM25 score beside the dense similarity (hand-tuned mix)."""
CLAUSE_WEIGHT = 2.0
"""Weight of the best clause match (max-normalised) for multi-part questions (hand-tuned mix)."""

FEATURES = (
    "dense",  # question vs the chunk's best sentence (in-context vectors)
    "bm25",  # question vs chunk text, BM25 / best BM25 in the index
    "chunk_dense",  # question vs the chunk's own vector
    "metadata",  # outlet / publication date named by the question
    "sentence_bm25",  # question vs the chunk's best sentence, BM25 / best in the index
    "clause",  # best clause: (dense + bm25) / best in the pool
    "clause_sentence_bm25",
    "window",  # best 16-word window of the question: (dense + bm25) / best in the pool
    "window_sentence_bm25",
    "position",  # chunk number within its document (0: the lede)
    "handtuned",  # the hand-tuned mix, and the chunk's rank under it
    "handtuned_rank",
    "window_rank",
    "doc_handtuned_gap",  # handtuned minus the best handtuned of the same document
    "doc_window",  # best window score of the document, and the chunk's gap to it
    "doc_window_gap",
    "doc_chunks",  # pooled chunks of the same document
    "source_rank",  # rank among pooled chunks of the same outlet (source), by handtuned and by window
    "source_window_rank",
    "source_doc_rank",  # rank of the chunk's document among its outlet's documents, by best handtuned
    "sentence_mix",  # best sentence by dense + BM25 on that same sentence, for the question,
    "clause_sentence_mix",  # the best clause,
    "window_sentence_mix",  # and the best window (each over the best such sentence in the pool)
    "sentence_cover",  # the same with the share of the text's IDF-weighted terms in place of BM25
    "clause_sentence_cover",
    "window_sentence_cover",
)


@dataclass(frozen=True)
class Signals:
    """Raw per-chunk signals for a pool of chunks. Rows of 2-D arrays: question then clauses
    (``dense``, ``lexical``, ``sentence_*``) or question windows (``window_*``)."""

    dense: np.ndarray
    lexical: np.ndarray
    sentence_lexical: np.ndarray
    sentence_mix: np.ndarray
    sentence_cover: np.ndarray
    window_dense: np.ndarray
    window_lexical: np.ndarray
    window_sentence_lexical: np.ndarray
    window_sentence_mix: np.ndarray
    window_sentence_cover: np.ndarray
    chunk_dense: np.ndarray
    metadata: np.ndarray
    position: np.ndarray
    document: np.ndarray
    source: np.ndarray


def handtuned(sig: Signals) -> np.ndarray:
    """Dense + 0.8 BM25 + metadata, plus 2x the best max-normalised clause score."""
    mixed = sig.dense + LEXICAL_WEIGHT * sig.lexical
    score = mixed[0] + sig.metadata
    if len(mixed) > 1:
        score = score + CLAUSE_WEIGHT * max_normalised(mixed[1:]).max(axis=0)
    return score.astype(np.float32)


def features(sig: Signals) -> np.ndarray:
    """The ``(pool, len(FEATURES))`` feature matrix, columns in FEATURES order."""
    mixed = sig.dense + LEXICAL_WEIGHT * sig.lexical
    parts = slice(1, None) if len(mixed) > 1 else slice(0, 1)  # a one-part question is its own clause
    window = max_normalised(sig.window_dense + LEXICAL_WEIGHT * sig.window_lexical).max(axis=0)
    tuned = handtuned(sig)
    _, doc = np.unique(sig.document, return_inverse=True)
    doc_tuned, doc_window = _doc_max(tuned, doc), _doc_max(window, doc)
    columns = [
        sig.dense[0], sig.lexical[0], sig.chunk_dense, sig.metadata, sig.sentence_lexical[0],
        max_normalised(mixed[parts]).max(axis=0), sig.sentence_lexical[parts].max(axis=0),
        window, sig.window_sentence_lexical.max(axis=0), sig.position,
        tuned, _rank(tuned), _rank(window),
        tuned - doc_tuned, doc_window, window - doc_window, np.bincount(doc)[doc],
        _group_rank(tuned, sig.source), _group_rank(window, sig.source), _group_rank(doc_tuned, sig.source, doc),
        sig.sentence_mix[0], sig.sentence_mix[parts].max(axis=0), sig.window_sentence_mix.max(axis=0),
        sig.sentence_cover[0], sig.sentence_cover[parts].max(axis=0), sig.window_sentence_cover.max(axis=0),
    ]  # fmt: skip
    return np.stack(columns, axis=1).astype(np.float32)


def max_normalised(x: np.ndarray) -> np.ndarray:
    """Each row over its maximum (rows of ``(texts, items)`` scores; a row of zeros stays zeros)."""
    return x / np.maximum(x.max(axis=1, keepdims=True), 1e-9)


def _rank(x: np.ndarray) -> np.ndarray:
    out = np.empty(len(x), np.float32)
    out[np.argsort(-x, kind="stable")] = np.arange(len(x))
    return out


def _group_rank(x: np.ndarray, groups: np.ndarray, members: np.ndarray | None = None) -> np.ndarray:
    """Rank of each item's value within its group (0: the group's best); with ``members``
    (e.g. documents), the rank of the item's member among the group's distinct members."""
    if members is None:
        members = np.arange(len(x))
    _, first, member = np.unique(members, return_index=True, return_inverse=True)
    order = np.lexsort((-x[first], groups[first]))  # distinct members, by group then best first
    sorted_groups = groups[first[order]]
    ranks = np.empty(len(first), np.float32)
    ranks[order] = np.arange(len(order)) - np.searchsorted(sorted_groups, sorted_groups)
    return ranks[member.reshape(-1)]


def _doc_max(x: np.ndarray, doc: np.ndarray) -> np.ndarray:
    best = np.full(int(doc.max()) + 1 if len(doc) else 0, -np.inf, np.float32)
    np.maximum.at(best, doc, x)
    return best[doc]


class FusionModel(PlainTextModel):
    """A LightGBM ranker over :data:`FEATURES`, loaded from its plain-text model file."""

    def __init__(self, path: Path = MODEL_FILE, info: Path | None = None, constants: dict[str, float] | None = None):
        """``info``: the model's card (default: ``fusion_model.json`` beside it), whose recorded
        features and ``constants`` must equal :data:`FEATURES` and ``constants`` (the values that
        define the signals, :data:`rag.answering.signals.FEATURE_CONSTANTS`); ModelError otherwise."""
        super().__init__(path, FEATURES, "fusion model", "benchmarks/train_fusion.py")
        if constants is not None:
            check_constants(info or path.with_suffix(".json"), constants)

    def score(self, sig: Signals) -> np.ndarray:
        return self.predict(features(sig)) if len(sig.document) else np.zeros(0, np.float32)


_model: dict[Path, FusionModel | None] = {}
_model_lock = threading.Lock()


def default_model(path: Path = MODEL_FILE, constants: dict[str, float] | None = None) -> FusionModel | None:
    """The shipped model (loaded once per process, its card checked against ``constants``), or
    None when there is no model file."""
    with _model_lock:
        if path not in _model:
            _model[path] = FusionModel(path, constants=constants) if path.exists() else None
        return _model[path]


def check_constants(info: Path, constants: dict[str, float]) -> None:
    """ModelError unless the model card ``info`` records these features and signal ``constants``:
    a model trained on differently computed signals would score silently wrong."""
    try:
        card = json.loads(info.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(
            f"cannot read the fusion model card {info} ({' '.join(str(err).split())[:200]}): reinstall rag"
        ) from None
    if card.get("features") != list(FEATURES):
        raise ModelError(
            f"fusion model card {info} lists other features than this rag computes: retrain with benchmarks/train_fusion.py"
        )
    recorded = card.get("constants")
    if recorded != constants:
        if not isinstance(recorded, dict):
            raise ModelError(f"fusion model card {info} records no signal constants: retrain with benchmarks/train_fusion.py")
        differ = sorted(k for k in {*recorded, *constants} if recorded.get(k) != constants.get(k))
        shown = ", ".join(f"{k} {recorded.get(k)} (now {constants.get(k)})" for k in differ)
        raise ModelError(
            f"fusion model {info.with_suffix('.txt').name} was trained with other signal constants: {shown}; "
            "retrain with benchmarks/train_fusion.py or restore the constants"
        )


def model_info(path: Path = MODEL_INFO) -> dict[str, Any]:
    """What the shipped model was trained on and how it scored (``{}`` without one)."""
    return json.loads(path.read_text("utf-8")) if path.exists() else {}
