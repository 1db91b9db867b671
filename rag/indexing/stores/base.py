"""The store seams: what retrieval asks of vectors and BM25, and what a build hands a store.

Ids are *global row numbers* of the current index version: chunk ``c`` is row ``c`` of
``chunks.npy``, sentence ``s`` row ``s`` of ``sentences.npy`` (both in the index folder). A store
keyed otherwise (Milvus keys rows by ``doc_id:n``) translates with :class:`Layout`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class VectorStore(Protocol):
    """Vectors of chunks or of sentences."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)``, each ``(len(queries), k)``, by inner product, best first (ids -1 past the end)."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """float32 ``(len(ids), dim)``: the stored vectors of ``ids`` (float16 ones widened)."""
        ...


class LexicalQuery(Protocol):
    """BM25 of a few texts (each a list of terms) against every chunk or sentence."""

    def top(self, k: int, texts: int) -> np.ndarray:
        """``(texts, k)`` ids: each of the first ``texts`` texts' ``k`` best (any order, any ties; padded with -1)."""
        ...

    def ranked(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The first text's ``k`` best ids with their normalised scores, best first, ties by id."""
        ...

    def scores(self, ids: np.ndarray) -> np.ndarray:
        """``(texts, len(ids))`` float32: BM25 of ``ids`` over each text's best in the whole index (0..1)."""
        ...


class LexicalStore(Protocol):
    """BM25 over chunk or sentence texts (terms of :func:`rag.indexing.lexical.terms`)."""

    def query(self, terms: Sequence[Sequence[str]]) -> LexicalQuery: ...

    @property
    def idf(self) -> Mapping[str, float]:
        """Every indexed term's BM25 IDF."""
        ...

    def coverage(self, terms: Sequence[Sequence[str]], ids: np.ndarray) -> np.ndarray:
        """``(texts, len(ids))`` float32: the IDF-weighted share of each text's terms that each row contains.

        A row repeated in ``ids`` counts at its last position only (0 elsewhere): the fusion model
        was trained on that signal (see the README's known limits)."""
        ...


@dataclass(frozen=True)
class Stores:
    """An opened store: vectors and BM25 of chunks and of sentences (``native``: backend objects
    that tests and tools may inspect, such as the FAISS index)."""

    chunk_vectors: VectorStore
    sentence_vectors: VectorStore
    chunk_lexical: LexicalStore
    sentence_lexical: LexicalStore | None  # None: an index of format 1 (no sentence BM25)
    native: Mapping[str, Any]


@dataclass(frozen=True)
class DocumentRows:
    """What one document puts in a store: its chunks' and sentences' BM25 texts and vectors.

    ``chunk_vectors``/``sentence_vectors`` are None when the document is unchanged since the
    previous version: the store may keep its rows (``old_chunks``/``old_sentences``: their ids there).
    """

    doc_id: str
    source: str
    date: str
    chunk_texts: Sequence[str]
    sentence_texts: Sequence[str]
    chunk_vectors: np.ndarray | None = None
    sentence_vectors: np.ndarray | None = None
    old_chunks: np.ndarray | None = None
    old_sentences: np.ndarray | None = None


@dataclass(frozen=True)
class Change:
    """A write: every document of the new version in order, and the previous version (if any)."""

    rows: Sequence[DocumentRows]
    previous: Stores | None
    previous_docs: Sequence[str]
    same_store: bool
    dim: int


class Backend(Protocol):
    """One kind of store (see :data:`rag.indexing.stores.STORES`)."""

    required_files: tuple[str, ...]
    """Data files this store keeps in the version folder (checked on load)."""

    def __init__(self, spec: Any, manifest: Mapping[str, Any]) -> None: ...

    def open(self, folder: Path, manifest: Mapping[str, Any], layout: Any) -> Stores:
        """The stores of one index version; IndexCorruptError (via ``problem``) when they do not fit it."""
        ...

    def write(self, folder: Path, change: Change) -> dict[str, Any]:
        """Make the store hold ``change.rows`` (files go in ``folder``); returns the manifest's ``store`` block."""
        ...

    def committed(self, index_dir: Path) -> None:
        """The new manifest is in place: forget what a crash would have had to undo."""
        ...


class Inconsistent(ValueError):
    """A store that does not fit its index version (counts, shapes); the index is reported damaged."""


def normalised(scores: np.ndarray) -> np.ndarray:
    """Rows of BM25 scores over their maximum (a row without any match stays zeros), in place:
    a question's rows over every sentence of a large index are big."""
    best = scores.max(axis=1, keepdims=True) if scores.size else np.ones((len(scores), 1), np.float32)
    return np.divide(scores, np.maximum(best, 1e-9), out=scores)
