"""Stage 6: a question in, ranked chunks out (dense FAISS + BM25 + metadata, fused).

The index and its model are loaded once per process and cached; a rebuilt index (a new
``manifest.json``) is picked up on the next call without a restart.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import store
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import EmptyQuestionError
from .records import Hit, Sentence
from .settings import AnswerOptions, make_options

LEXICAL_WEIGHT = 0.35
"""Weight of the max-normalised BM25 score beside the cosine similarity (tuned on MultiHop-RAG dev)."""
SOURCE_BOOST = 0.12
"""Added to chunks of an outlet the question names ("as reported by TechCrunch")."""


@dataclass
class Loaded:
    """An index in memory with what queries need precomputed."""

    data: store.IndexData
    embedder: Embedder
    idf: dict[str, float]
    sources: list[tuple[re.Pattern[str], np.ndarray]] = field(default_factory=list)


_cache: dict[str, tuple[str, Loaded]] = {}
_embedders: dict[str, Embedder] = {}
_lock = threading.Lock()


def open_index(index_dir: str | Path = "index", embedder: Embedder | None = None) -> Loaded:
    """The index at ``index_dir``, loaded once per process and reloaded when rebuilt."""
    key = str(Path(index_dir).resolve())
    version = store.read_manifest(index_dir).get("data_dir", "")
    cached = _cache.get(key)
    if cached and cached[0] == version and (embedder is None or cached[1].embedder is embedder):
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == version and (embedder is None or cached[1].embedder is embedder):
            return cached[1]
        data = store.load(index_dir)
        emb = embedder or _embedder(data.manifest["model"]["name"])
        store.check_model(data.manifest, emb.name, emb.weights_sha256, index_dir)
        loaded = Loaded(data, emb, _idf(data.bm25), _source_patterns(data))
        _cache[key] = (data.version, loaded)
        return loaded


def _embedder(name: str) -> Embedder:
    if name not in _embedders:
        _embedders[name] = SentenceTransformerEmbedder(name)
    return _embedders[name]


def _idf(bm25: Any) -> dict[str, float]:
    df = np.diff(np.asarray(bm25.scores["indptr"]))
    n = max(int(bm25.scores.get("num_docs", 1)), 1)
    values = np.log(1 + (n - df + 0.5) / (df + 0.5))
    return {tok: float(values[i]) for tok, i in bm25.vocab_dict.items() if i < len(values)}


def _source_patterns(data: store.IndexData) -> list[tuple[re.Pattern[str], np.ndarray]]:
    """One pattern per outlet name ("TechCrunch", "The Independent - Travel" or "The Independent")."""
    rows_by_source: dict[str, list[int]] = {}
    for row, doc in enumerate(data.docs):
        if doc.source and doc.source != doc.key and "/" not in doc.source:
            rows_by_source.setdefault(doc.source, []).append(row)
    chunk_rows = data.chunks[:, 0]
    out = []
    for source, rows in rows_by_source.items():
        names = {source, re.split(r"\s+[|:-]\s+", source)[0]}
        pattern = re.compile("|".join(rf"\b{re.escape(n)}\b" for n in sorted(names, key=len, reverse=True)), re.I)
        out.append((pattern, np.isin(chunk_rows, rows)))
    return out


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """The question stripped and bounded; raises EmptyQuestionError when there is none."""
    if not isinstance(question, str) or not question.strip():
        raise EmptyQuestionError("the question is empty: ask something about your documents")
    text = " ".join(question.split())
    if len(text) > max_chars:
        return text[:max_chars], [f"question truncated to its first {max_chars} characters"]
    return text, []


def query_tokens(text: str) -> list[str]:
    from .build import tokenize_for_bm25

    return tokenize_for_bm25([text], return_ids=False)[0] if text.strip() else []


def rank_chunks(
    loaded: Loaded, query: str, qvec: np.ndarray, candidates: int, mode: str = "hybrid"
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids with a fused score, best first, limited to the top ``candidates``.

    ``mode`` "dense" or "bm25" ranks by one signal alone (the benchmarks' baselines).
    """
    data = loaded.data
    n = data.faiss_index.ntotal
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    dense_scores, dense_ids = data.faiss_index.search(qvec.reshape(1, -1).astype(np.float32), min(n, candidates))
    dense = np.full(n, float(dense_scores[0][-1]), np.float32)
    dense[dense_ids[0]] = dense_scores[0]
    lexical = np.asarray(data.bm25.get_scores(query_tokens(query)), np.float32)
    if lexical.max() > 0:
        lexical = lexical / lexical.max()
    fused = {"dense": dense, "bm25": lexical}.get(mode, dense + LEXICAL_WEIGHT * lexical)
    if mode == "hybrid":
        for pattern, mask in loaded.sources:
            if pattern.search(query):
                fused = fused + SOURCE_BOOST * mask
    top = np.argsort(-fused, kind="stable")[:candidates]
    return top, fused[top]


def make_hit(data: store.IndexData, chunk_id: int, score: float) -> Hit:
    row, start, end = data.chunk_span(chunk_id)
    doc = data.docs[row]
    _, first, last, _ = data.chunks[chunk_id]
    sentences = tuple(Sentence(doc.id, int(a), int(b), doc.text[a:b]) for _, a, b in data.sentences[first:last])
    return Hit(int(chunk_id), doc.id, doc.title, doc.text[start:end], float(score), sentences, doc.source, doc.date, start, end)


def retrieve(question: str, k: int = 10, index_dir: str | Path = "index", mode: str = "hybrid", **options: Any) -> list[Hit]:
    """The ``k`` best chunks for ``question``, best first.

    >>> [h.title for h in retrieve("Who met Putin?", k=1)]  # doctest: +SKIP
    ['Kim Jong Un orders military to annihilate South Korea and US']
    """
    opts = make_options(AnswerOptions, options)
    text, _ = clean_question(question, opts.max_question_chars)
    loaded = open_index(index_dir)
    qvec = loaded.embedder.embed([text])[0]
    ids, scores = rank_chunks(loaded, text, qvec, max(k, opts.candidates), mode)
    return [make_hit(loaded.data, int(c), float(s)) for c, s in zip(ids[:k], scores[:k])]
