"""The seam between an index and everything that asks it questions (:class:`SearchIndex`).

answer, evaluate, the rankers and the UI read documents, chunks, sentences, vectors and BM25
through these methods only, whatever store keeps the vectors (:mod:`rag.indexing.stores`). Ids are rows
of the current version: chunk ``c`` and sentence ``s`` as in :mod:`rag.indexing.store`.

An index is opened once per process (:func:`open_index`) and reopened when rebuilt.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.indexing import store, stores
from rag.indexing.embedding import Embedder, SentenceTransformerEmbedder
from rag.indexing.stores.base import LexicalQuery
from rag.ingestion.structure import section_at
from rag.records import Document, Hit, Sentence


class SearchIndex(Protocol):
    """What retrieval and answering may ask of an index."""

    embedder: Embedder
    version: str

    @property
    def n_chunks(self) -> int: ...
    @property
    def n_sentences(self) -> int: ...
    def documents(self) -> Sequence[Document]: ...
    def documents_by_id(self, ids: Iterable[str]) -> dict[str, Document]: ...
    def chunk_documents(self, ids: np.ndarray) -> np.ndarray: ...
    def chunk_sentences(self, chunk: int) -> range: ...
    def chunk_sentence_rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
    def sentence_span(self, sentence: int) -> tuple[Document, int, int]: ...
    def sentence_documents(self, ids: np.ndarray) -> np.ndarray: ...
    def document_sentences(self, row: int) -> range: ...
    def sentence_text(self, sentence: int) -> str: ...
    def hit(self, chunk: int, score: float) -> Hit: ...
    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray: ...
    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray: ...
    def dense_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def lexical(self, terms: Sequence[Sequence[str]]) -> LexicalQuery: ...
    def sentence_lexical(self, terms: Sequence[Sequence[str]]) -> LexicalQuery | None: ...
    def sentence_coverage(self, terms: Sequence[Sequence[str]], ids: np.ndarray) -> np.ndarray: ...
    def term_weight(self, term: str) -> float: ...
    def metadata_boost(self, text: str, dates: Sequence[str], source_boost: float, date_boost: float) -> np.ndarray: ...
    def chunk_positions(self, ids: np.ndarray) -> np.ndarray: ...
    def chunk_sources(self, ids: np.ndarray) -> np.ndarray: ...


class LoadedIndex:
    """The one :class:`SearchIndex` implementation: the layout in memory, vectors and BM25 in its store."""

    def __init__(self, data: store.IndexData, embedder: Embedder):
        assert data.stores is not None
        self.data, self.embedder, self.stores = data, embedder, data.stores
        self.version, self.manifest = data.version, data.manifest
        rows = data.chunks[:, 0]
        self._chunk_rows = rows
        self._positions = (np.arange(len(rows)) - np.searchsorted(rows, rows)).astype(np.float32)  # chunks in document order
        ids: dict[str, int] = {}
        sources = np.array([ids.setdefault(d.source, len(ids)) for d in data.docs], np.int64)
        self._sources = sources[rows] if len(rows) else sources[:0]
        dates = np.array([d.date[:10] for d in data.docs], dtype="U10")
        self._dates = dates[rows] if len(rows) else dates[:0]

    @property
    def n_chunks(self) -> int:
        return len(self.data.chunks)

    @property
    def n_sentences(self) -> int:
        return len(self.data.sentences)

    def documents(self) -> Sequence[Document]:
        return self.data.docs

    def documents_by_id(self, ids: Iterable[str]) -> dict[str, Document]:
        wanted = set(ids)
        return {d.id: d for d in self.data.docs if d.id in wanted}

    def chunk_documents(self, ids: np.ndarray) -> np.ndarray:
        """Document rows of chunks ``ids``."""
        return self._chunk_rows[ids]

    def chunk_sentences(self, chunk: int) -> range:
        _, first, last, _ = self.data.chunks[chunk]
        return range(int(first), int(last))

    def chunk_sentence_rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of chunks ``ids``, concatenated, and where each chunk's run starts."""
        first, last = self.data.chunks[ids, 1], self.data.chunks[ids, 2]
        lengths = last - first
        rows = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        return rows, np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)

    def sentence_span(self, sentence: int) -> tuple[Document, int, int]:
        row, start, end = (int(x) for x in self.data.sentences[sentence])
        return self.data.docs[row], start, end

    def sentence_text(self, sentence: int) -> str:
        return self.data.sentence_text(sentence)

    def sentence_documents(self, ids: np.ndarray) -> np.ndarray:
        """Document rows of sentences ``ids``."""
        return self.data.sentences[np.asarray(ids, np.int64), 0]

    def document_sentences(self, row: int) -> range:
        """The sentence rows of document ``row``, in reading order."""
        column = self.data.sentences[:, 0]
        return range(int(np.searchsorted(column, row)), int(np.searchsorted(column, row, side="right")))

    def hit(self, chunk: int, score: float) -> Hit:
        return hit_of(self.data, chunk, score)

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.stores.chunk_vectors.vectors(np.asarray(ids, np.int64))

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.stores.sentence_vectors.vectors(np.asarray(ids, np.int64))

    def dense_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of each query's ``k`` nearest chunks (FAISS's convention; ids -1 past the end)."""
        return self.stores.chunk_vectors.search(queries, k)

    def lexical(self, terms: Sequence[Sequence[str]]) -> LexicalQuery:
        """Chunk BM25 of texts given as terms (:func:`rag.indexing.lexical.terms`)."""
        return self.stores.chunk_lexical.query(terms)

    def sentence_lexical(self, terms: Sequence[Sequence[str]]) -> LexicalQuery | None:
        """Sentence BM25 (None for an index without one)."""
        lexical = self.stores.sentence_lexical
        return lexical.query(terms) if lexical is not None else None

    def sentence_coverage(self, terms: Sequence[Sequence[str]], ids: np.ndarray) -> np.ndarray:
        lexical = self.stores.sentence_lexical
        if lexical is None:
            return np.zeros((len(terms), len(ids)), np.float32)
        return lexical.coverage(terms, ids)

    @cached_property
    def idf(self) -> Mapping[str, float]:
        """Chunk BM25 IDF of every indexed term."""
        return self.stores.chunk_lexical.idf

    @cached_property
    def max_idf(self) -> float:
        return max(self.idf.values(), default=1.0)

    def term_weight(self, term: str) -> float:
        """A term's chunk IDF; a term the index does not hold weighs as the rarest one."""
        return self.idf.get(term, self.max_idf)

    @cached_property
    def _source_patterns(self) -> list[tuple[re.Pattern[str], np.ndarray]]:
        """One pattern per outlet name ("TechCrunch", "The Independent - Travel" or "The Independent")."""
        rows_by_source: dict[str, list[int]] = {}
        for row, doc in enumerate(self.data.docs):
            if doc.source and doc.source != doc.key and "/" not in doc.source:
                rows_by_source.setdefault(doc.source, []).append(row)
        out = []
        for source, rows in rows_by_source.items():
            names = {source, re.split(r"\s+[|:-]\s+", source)[0]}
            pattern = re.compile("|".join(rf"\b{re.escape(n)}\b" for n in sorted(names, key=len, reverse=True)), re.I)
            out.append((pattern, np.isin(self._chunk_rows, rows)))
        return out

    def metadata_boost(self, text: str, dates: Sequence[str], source_boost: float, date_boost: float) -> np.ndarray:
        """Per chunk: ``source_boost`` per outlet ``text`` names, ``date_boost`` per publication date in ``dates``."""
        boost = np.zeros(len(self._dates), np.float32)
        for pattern, mask in self._source_patterns:
            if pattern.search(text):
                boost += source_boost * mask
        for day in dates:
            boost += date_boost * (self._dates == day)
        return boost

    def chunk_positions(self, ids: np.ndarray) -> np.ndarray:
        """Each chunk's number within its document (0: the first)."""
        return self._positions[ids]

    def chunk_sources(self, ids: np.ndarray) -> np.ndarray:
        """Each chunk's outlet, as a number (equal for chunks of one outlet)."""
        return self._sources[ids]


def hit_of(data: store.IndexData, chunk: int, score: float) -> Hit:
    """Chunk ``chunk`` of a layout as a :class:`rag.records.Hit`."""
    row, start, end = data.chunk_span(chunk)
    doc = data.docs[row]
    _, first, last, _ = data.chunks[chunk]
    sentences = tuple(Sentence(doc.id, int(a), int(b), doc.text[a:b]) for _, a, b in data.sentences[first:last])
    return Hit(
        int(chunk), doc.id, doc.title, doc.text[start:end], float(score), sentences, doc.source, doc.date, start, end,
        section_at(doc, start),
    )  # fmt: skip


_cache: dict[tuple[str, str], tuple[str, LoadedIndex]] = {}
_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()
_locks: dict[tuple[str, str], threading.Lock] = {}


def open_index(index_dir: str | Path = "index", embedder: Embedder | None = None, store_option: str = "auto") -> LoadedIndex:
    """The index at ``index_dir``, opened once per process and reopened when rebuilt.

    ``store_option``: "auto" (the manifest's store) or that store at another address (see
    :class:`rag.settings.AnswerOptions`).
    """
    spec = None if store_option == stores.AUTO else stores.parse_store(store_option)
    key = (str(Path(index_dir).resolve()), store_option)
    cached = _current(key, index_dir, embedder)
    if cached is not None:
        return cached
    with _locks.setdefault(key, threading.Lock()):  # one loader per index; others keep answering
        cached = _current(key, index_dir, embedder)  # re-read: another thread may have loaded it
        if cached is not None:
            return cached
        data = store.load(index_dir, store=spec)
        emb = embedder or _embedder(data.manifest["model"]["name"])
        store.check_model(data.manifest, emb.name, emb.weights_sha256, index_dir)
        loaded = LoadedIndex(data, emb)
        _cache[key] = (data.version, loaded)
        return loaded


def _current(key: tuple[str, str], index_dir: str | Path, embedder: Embedder | None) -> LoadedIndex | None:
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
