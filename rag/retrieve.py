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

from . import fusion, store
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import EmptyQuestionError, InputError
from .query import Query, bounded, parse_query
from .records import Hit, Sentence
from .settings import AnswerOptions, check_int, make_options
from .structure import section_at

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


@dataclass(frozen=True)
class Encoded:
    """A query's vectors: ``vectors`` for the question then each clause, ``windows`` for its
    word windows (pooled in the question's own forward pass)."""

    vectors: np.ndarray
    windows: np.ndarray


@dataclass
class Loaded:
    """An index in memory with what queries need precomputed."""

    data: store.IndexData
    embedder: Embedder
    idf: dict[str, float]
    max_idf: float = 1.0
    sources: list[tuple[re.Pattern[str], np.ndarray]] = field(default_factory=list)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    chunk_dates: np.ndarray = field(default_factory=lambda: np.zeros(0, "U10"))
    chunk_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    chunk_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    chunk_sources: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sentence_idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @classmethod
    def create(cls, data: store.IndexData, embedder: Embedder) -> Loaded:
        idf = _idf(data.bm25)
        dates = np.array([d.date[:10] for d in data.docs], dtype="U10")
        rows = data.chunks[:, 0]
        first_of_doc = np.searchsorted(rows, rows)  # chunks are stored in document order
        ids: dict[str, int] = {}
        sources = np.array([ids.setdefault(d.source, len(ids)) for d in data.docs], np.int64)
        return cls(
            data, embedder, idf, max(idf.values(), default=1.0), _source_patterns(data),
            data.sentence_vectors.astype(np.float32), dates[rows] if len(rows) else dates[:0],
            data.faiss_index.reconstruct_n(0, data.faiss_index.ntotal), (np.arange(len(rows)) - first_of_doc).astype(np.float32),
            sources[rows] if len(rows) else sources[:0], _idf_values(data.sentence_bm25),
        )  # fmt: skip


_cache: dict[str, tuple[str, Loaded]] = {}
_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def open_index(index_dir: str | Path = "index", embedder: Embedder | None = None) -> Loaded:
    """The index at ``index_dir``, loaded once per process and reloaded when rebuilt."""
    key = str(Path(index_dir).resolve())
    cached = _current(key, index_dir, embedder)
    if cached is not None:
        return cached
    with _locks.setdefault(key, threading.Lock()):  # one loader per index; others keep answering
        cached = _current(key, index_dir, embedder)  # re-read: another thread may have loaded it
        if cached is not None:
            return cached
        data = store.load(index_dir)
        emb = embedder or _embedder(data.manifest["model"]["name"])
        store.check_model(data.manifest, emb.name, emb.weights_sha256, index_dir)
        loaded = Loaded.create(data, emb)
        _cache[key] = (data.version, loaded)
        return loaded


def _current(key: str, index_dir: str | Path, embedder: Embedder | None) -> Loaded | None:
    """The cached index if it is still the version the manifest names."""
    version = store.read_manifest(index_dir).get("data_dir", "")
    cached = _cache.get(key)
    if cached and cached[0] == version and (embedder is None or cached[1].embedder is embedder):
        return cached[1]
    return None


def _embedder(name: str) -> Embedder:
    with _embedders_lock:  # one model instance per name, shared by every index using it
        if name not in _embedders:
            _embedders[name] = SentenceTransformerEmbedder(name)
        return _embedders[name]


def _idf(bm25: Any) -> dict[str, float]:
    values = _idf_values(bm25)
    return {tok: float(values[i]) for tok, i in bm25.vocab_dict.items() if i < len(values)}


def _idf_values(bm25: Any) -> np.ndarray:
    """BM25's IDF of every term id of ``bm25`` (empty without an index)."""
    if bm25 is None:
        return np.zeros(0, np.float32)
    df = np.diff(np.asarray(bm25.scores["indptr"]))
    n = max(int(bm25.scores.get("num_docs", 1)), 1)
    return np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)


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


def encode(loaded: Loaded, query: Query) -> Encoded:
    """Embed the question once; its clauses and windows are pooled from that same pass."""
    n = len(query.clause_spans)
    vectors, spans = loaded.embedder.embed_spans([query.text], [[*query.clause_spans, *_windows(query)]])
    return Encoded(np.vstack([vectors, spans[0][:n]]), spans[0][n:])


def rank_chunks(
    loaded: Loaded, query: Query, encoded: Encoded, candidates: int, mode: str = "hybrid"
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids with their score (0..1 in "hybrid" mode), best first, at most ``candidates``.

    "hybrid" pools FAISS and BM25 candidates and ranks them with the learned fusion model
    (:mod:`rag.fusion`); "handtuned" uses the hand-tuned mix instead; "dense" (FAISS chunk
    vectors) or "bm25" rank by one signal alone: the benchmarks' baselines.
    """
    data = loaded.data
    qvecs = encoded.vectors
    if data.faiss_index.ntotal == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if mode in ("dense", "bm25"):
        scores = _dense_chunks(loaded, qvecs[0], candidates) if mode == "dense" else _bm25(loaded, query_tokens(query.text))
        top = np.argsort(-scores, kind="stable")[:candidates]
        return top, scores[top]
    pool, sig = signals(loaded, query, encoded)
    model = fusion.default_model() if mode == "hybrid" else None
    scores = model.score(sig) if model is not None else fusion.handtuned(sig)
    penalty = SAME_DOCUMENT_PENALTY if model is not None else HANDTUNED_PENALTY
    order = diversified(scores, sig.document, penalty)[:candidates]
    return pool[order], (1 / (1 + np.exp(-scores[order])) if model is not None else scores[order]).astype(np.float32)


def signals(loaded: Loaded, query: Query, encoded: Encoded) -> tuple[np.ndarray, fusion.Signals]:
    """The candidate pool and every retrieval signal of its chunks."""
    texts = [query.text, *query.clauses, *(query.text[a:b] for a, b in _windows(query))]
    terms = [query_tokens(t) for t in texts]  # question, clauses, then windows; tokenised once
    n = 1 + len(query.clauses)
    lexical = np.stack([_bm25(loaded, t) for t in terms[:n]])
    pool = _pool(loaded, encoded.vectors, lexical)
    rows, starts = _sentence_rows(loaded, pool)
    sentence = _sentence_signals(loaded, terms, rows, np.vstack([encoded.vectors, encoded.windows]))
    dense, sentence_lexical, mix, cover = (np.maximum.reduceat(m, starts, axis=1) for m in sentence)
    sig = fusion.Signals(
        dense=dense[:n],
        lexical=lexical[:, pool],
        sentence_lexical=sentence_lexical[:n],
        sentence_mix=mix[:n],
        sentence_cover=cover[:n],
        window_dense=dense[n:],
        window_lexical=np.stack([_bm25(loaded, t)[pool] for t in terms[n:]]),
        window_sentence_lexical=sentence_lexical[n:],
        window_sentence_mix=mix[n:],
        window_sentence_cover=cover[n:],
        chunk_dense=loaded.chunk_vectors[pool] @ encoded.vectors[0],
        metadata=_metadata(loaded, query)[pool],
        position=loaded.chunk_positions[pool],
        document=loaded.data.chunks[pool, 0],
        source=loaded.chunk_sources[pool],
    )
    return pool, sig


def _windows(query: Query) -> tuple[tuple[int, int], ...]:
    return query.windows or ((0, len(query.text)),)  # a Query made by hand may have none


def _metadata(loaded: Loaded, query: Query) -> np.ndarray:
    """Boosts for chunks of outlets and publication dates the question names."""
    boost = np.zeros(len(loaded.chunk_dates), np.float32)
    for pattern, mask in loaded.sources:
        if pattern.search(query.text):
            boost += SOURCE_BOOST * mask
    for day in query.dates:
        boost += DATE_BOOST * (loaded.chunk_dates == day)
    return boost


def _pool(loaded: Loaded, qvecs: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Candidate chunks: for each text, FAISS's nearest chunks and the best BM25 chunks."""
    index = loaded.data.faiss_index
    k = min(index.ntotal, POOL_PER_SIGNAL)
    _, dense_ids = index.search(qvecs.astype(np.float32), k)
    lexical_ids = np.argpartition(-lexical, k - 1, axis=1)[:, :k]
    return np.unique(np.concatenate([dense_ids.ravel(), lexical_ids.ravel()]))


def _sentence_rows(loaded: Loaded, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows of the pooled chunks, concatenated, and where each chunk's run starts."""
    first, last = loaded.data.chunks[pool, 1], loaded.data.chunks[pool, 2]
    lengths = last - first
    rows = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    return rows, np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _sentence_signals(
    loaded: Loaded, terms: list[list[str]], rows: np.ndarray, qvecs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per text (its BM25 ``terms`` and its vector; rows) and pooled sentence (columns): similarity to its in-context vector;
    BM25 / the best sentence's in the index; and two mixes of both on the *same* sentence,
    each over its best in the pool: dense + SENTENCE_LEXICAL_WEIGHT x BM25, and dense + the
    IDF-weighted share of the text's terms the sentence contains (COVER_WEIGHT)."""
    dense = qvecs.astype(np.float32) @ loaded.sentence_vectors[rows].T
    bm25 = loaded.data.sentence_bm25
    lexical, cover = np.zeros_like(dense), np.zeros_like(dense)
    if bm25 is not None:
        lexical = np.stack([bm25_scores(bm25, t, len(loaded.data.sentences)) for t in terms])
        lexical = lexical[:, rows] / np.maximum(lexical.max(axis=1, keepdims=True), 1e-9)
        cover = _coverage(loaded, terms, rows)
    return (
        dense,
        lexical,
        fusion.max_normalised(dense + SENTENCE_LEXICAL_WEIGHT * lexical),
        fusion.max_normalised(dense + COVER_WEIGHT * cover),
    )


def _coverage(loaded: Loaded, terms: list[list[str]], rows: np.ndarray) -> np.ndarray:
    """Per text (its BM25 terms) and sentence row, the IDF-weighted share of the text's terms the sentence contains
    (read off the sentence BM25 index's term-to-sentence lists)."""
    bm25, idf = loaded.data.sentence_bm25, loaded.sentence_idf
    indices, indptr = np.asarray(bm25.scores["indices"]), np.asarray(bm25.scores["indptr"])
    column = np.full(len(loaded.data.sentences), -1, np.int64)
    column[rows] = np.arange(len(rows))
    out = np.zeros((len(terms), len(rows)), np.float32)
    for j, text_terms in enumerate(terms):
        ids = np.unique([bm25.vocab_dict[t] for t in text_terms if t in bm25.vocab_dict]).astype(np.int64)
        ids = ids[ids < len(idf)]
        total = float(idf[ids].sum()) if len(ids) else 0.0
        for term in ids:
            hit = column[indices[indptr[term] : indptr[term + 1]]]
            out[j, hit[hit >= 0]] += idf[term] / total
    return out


def _bm25(loaded: Loaded, terms: list[str]) -> np.ndarray:
    """Chunk BM25 scores of a text's ``terms`` (:func:`query_tokens`), over the best."""
    scores = bm25_scores(loaded.data.bm25, terms, len(loaded.data.chunks))
    return scores / scores.max() if scores.max() > 0 else scores


def bm25_scores(bm25: Any, terms: list[str], n: int) -> np.ndarray:
    """BM25 scores of ``terms`` for the ``n`` texts of ``bm25``: all 0 for a text without terms
    ("Why?", "the", an emoji: bm25s cannot score an empty query), so only the dense signal ranks."""
    if not terms:
        return np.zeros(n, np.float32)
    return np.asarray(bm25.get_scores(terms), np.float32)


def _dense_chunks(loaded: Loaded, qvec: np.ndarray, candidates: int) -> np.ndarray:
    index = loaded.data.faiss_index
    found, ids = index.search(qvec.reshape(1, -1).astype(np.float32), min(index.ntotal, candidates))
    scores = np.full(index.ntotal, float(found[0][-1]) - 1e-3, np.float32)
    scores[ids[0]] = found[0]
    return scores


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


def make_hit(data: store.IndexData, chunk_id: int, score: float) -> Hit:
    row, start, end = data.chunk_span(chunk_id)
    doc = data.docs[row]
    _, first, last, _ = data.chunks[chunk_id]
    sentences = tuple(Sentence(doc.id, int(a), int(b), doc.text[a:b]) for _, a, b in data.sentences[first:last])
    return Hit(
        int(chunk_id), doc.id, doc.title, doc.text[start:end], float(score), sentences, doc.source, doc.date, start, end,
        section_at(doc, start),
    )  # fmt: skip


def retrieve(question: str, k: int = 10, index_dir: str | Path = "index", mode: str = "hybrid", **options: Any) -> list[Hit]:
    """The ``k`` best chunks for ``question``, best first.

    >>> [h.title for h in retrieve("Who met Putin?", k=1)]  # doctest: +SKIP
    ['Kim Jong Un orders military to annihilate South Korea and US']
    """
    opts = make_options(AnswerOptions, {**options, "mode": mode})  # checks the mode too
    k = check_int("k", k, 1)
    text, _ = clean_question(question, opts.max_question_chars)
    loaded = open_index(index_dir)
    query = parse_query(text)
    ids, scores = rank_chunks(loaded, query, encode(loaded, query), max(k, opts.candidates), opts.mode)
    return [make_hit(loaded.data, int(c), float(s)) for c, s in zip(ids[:k], scores[:k])]
