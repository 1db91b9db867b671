"""The embedded store: plain files beside the index's layout, read without loading them whole.

Files of a version folder: ``chunks.faiss`` (FAISS inner-product index of chunk vectors, opened
memory-mapped), ``sentence_vectors.npy`` (float16, memory-mapped: only the rows a question pools
are read), ``bm25/`` and ``bm25_sentences/`` (bm25s, plain ``.npy``/``.json``, memory-mapped).
A write rewrites them all (a flat FAISS index and bm25s have no delete), reusing the vectors
of unchanged documents.
"""

from __future__ import annotations

import errno
import os
import weakref
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.indexing.lexical import build_bm25
from rag.indexing.stores.base import Change, Inconsistent, Stores, normalised

BM25_FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "params.index.json", "vocab.index.json")
BM25_DIRS = ("bm25", "bm25_sentences")


class FaissVectors:
    """Chunk vectors in a flat FAISS index (memory-mapped)."""

    def __init__(self, index: Any):
        self.index = index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(np.ascontiguousarray(queries, np.float32), k)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.index.d), np.float32)
        return self.index.reconstruct_batch(np.asarray(ids, np.int64))


class ArrayVectors:
    """Sentence vectors in a ``.npy`` file (float16), opened with ``np.load(mmap_mode="r")`` for its
    shape and layout; the rows a question asks for are read with ``pread`` (runs of adjacent rows
    at once). Touching a memory map would map whole neighbourhoods of a file already in the page
    cache (the kernel's fault-around), and the process would grow with the file, not the question."""

    def __init__(self, array: np.memmap):
        self.array = array
        self.dim = array.shape[1] if array.ndim == 2 else 0
        self.row_bytes = self.dim * array.dtype.itemsize
        self.fd = os.open(str(array.filename), os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.asarray(queries, np.float32) @ np.asarray(self.array, np.float32).T
        ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, ids, axis=1), ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        rows, inverse = np.unique(np.asarray(ids, np.int64), return_inverse=True)
        if not len(rows):
            return np.zeros((0, self.dim), np.float32)
        out = np.empty((len(rows), self.dim), self.array.dtype)
        starts = np.concatenate([[0], np.flatnonzero(np.diff(rows) != 1) + 1, [len(rows)]]).astype(np.int64)
        for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()):
            size = (b - a) * self.row_bytes
            data = os.pread(self.fd, size, self.array.offset + int(rows[a]) * self.row_bytes)
            if len(data) != size:
                raise OSError(f"{self.array.filename} is shorter than its header says")
            out[a:b] = np.frombuffer(data, self.array.dtype).reshape(b - a, self.dim)
        return out[inverse.reshape(-1)].astype(np.float32)


class Bm25sQuery:
    """bm25s scores of every row for a few texts, computed once."""

    def __init__(self, bm25: Any, terms: Sequence[Sequence[str]], n: int):
        from rag.indexing.lexical import bm25_scores

        raw = np.zeros((len(terms), n), np.float32)
        for j, t in enumerate(terms):  # row by row: no second (texts, rows) copy
            raw[j] = bm25_scores(bm25, list(t), n)
        self.normalised = normalised(raw)

    def top(self, k: int, texts: int) -> np.ndarray:
        return np.argpartition(-self.normalised[:texts], k - 1, axis=1)[:, :k]

    def ranked(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.argsort(-self.normalised[0], kind="stable")[:k]
        return ids, self.normalised[0][ids]

    def scores(self, ids: np.ndarray) -> np.ndarray:
        return self.normalised[:, ids]


class Bm25sLexical:
    """A bm25s index of chunk or sentence texts."""

    def __init__(self, bm25: Any, n: int):
        self.bm25, self.n = bm25, n

    def query(self, terms: Sequence[Sequence[str]]) -> Bm25sQuery:
        return Bm25sQuery(self.bm25, terms, self.n)

    @cached_property
    def idf_values(self) -> np.ndarray:
        """IDF of every term id."""
        df = np.diff(np.asarray(self.bm25.scores["indptr"]))
        n = max(int(self.bm25.scores.get("num_docs", 1)), 1)
        return np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)

    @cached_property
    def idf(self) -> Mapping[str, float]:
        values = self.idf_values
        return {tok: float(values[i]) for tok, i in self.bm25.vocab_dict.items() if i < len(values)}

    def coverage(self, terms: Sequence[Sequence[str]], ids: np.ndarray) -> np.ndarray:
        """Read off the index's term-to-row lists (rows of ``ids`` only)."""
        idf, vocab = self.idf_values, self.bm25.vocab_dict
        indices, indptr = np.asarray(self.bm25.scores["indices"]), np.asarray(self.bm25.scores["indptr"])
        column = np.full(self.n, -1, np.int64)
        column[ids] = np.arange(len(ids))
        out = np.zeros((len(terms), len(ids)), np.float32)
        for j, text_terms in enumerate(terms):
            known = np.unique([vocab[t] for t in text_terms if t in vocab]).astype(np.int64)
            known = known[known < len(idf)]
            total = float(idf[known].sum()) if len(known) else 0.0
            for term in known:
                hit = column[indices[indptr[term] : indptr[term + 1]]]
                out[j, hit[hit >= 0]] += idf[term] / total
        return out


class EmbeddedBackend:
    """FAISS + bm25s files in the version folder (see the module docstring)."""

    required_files = (
        "chunks.faiss",
        "sentence_vectors.npy",
        *(f"{folder}/{name}" for folder in BM25_DIRS for name in BM25_FILES),
    )

    def __init__(self, spec: Any = None, manifest: Mapping[str, Any] | None = None):
        self.spec = spec

    def open(self, folder: Path, manifest: Mapping[str, Any], layout: Any) -> Stores:
        import faiss

        index = faiss.read_index(str(folder / "chunks.faiss"), faiss.IO_FLAG_MMAP_IFC)
        vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
        bm25 = _load_bm25(folder / "bm25")
        sentence_bm25 = _load_bm25(folder / "bm25_sentences") if "bm25_sentences/vocab.index.json" in manifest["files"] else None
        n_chunks, n_sentences = len(layout.chunks), len(layout.sentences)
        if problem := _problem(index, vectors, bm25, sentence_bm25, n_chunks, n_sentences):
            raise Inconsistent(problem)
        if manifest["model"].get("dim", index.d) != index.d:  # a build reusing these vectors trusts it
            raise Inconsistent(f"model.dim {manifest['model']['dim']} differs from the vectors' {index.d}")
        sentence_lexical = Bm25sLexical(sentence_bm25, n_sentences) if sentence_bm25 is not None else None
        native = {"faiss_index": index, "sentence_vectors": vectors, "bm25": bm25, "sentence_bm25": sentence_bm25}
        return Stores(FaissVectors(index), ArrayVectors(vectors), Bm25sLexical(bm25, n_chunks), sentence_lexical, native)  # type: ignore[arg-type]

    def write(self, folder: Path, change: Change) -> dict[str, Any]:
        import faiss

        faiss_index = faiss.IndexFlatIP(change.dim)
        n_sentences = sum(len(r.sentence_texts) for r in change.rows)
        vectors = np.lib.format.open_memmap(folder / "sentence_vectors.npy", "w+", np.float16, (n_sentences, change.dim))
        at = 0
        for rows in change.rows:
            chunk_vectors, sentence_vectors = _vectors_of(rows, change)
            faiss_index.add(chunk_vectors)
            vectors[at : at + len(sentence_vectors)] = sentence_vectors.astype(np.float16)
            at += len(sentence_vectors)
        vectors.flush()
        del vectors
        try:
            faiss.write_index(faiss_index, str(folder / "chunks.faiss"))
        except RuntimeError as err:  # faiss reports a failed write (e.g. disk full) as RuntimeError
            raise OSError(errno.EIO, f"cannot write chunks.faiss: {' '.join(str(err).split())[:200]}") from None
        del faiss_index
        build_bm25([t for r in change.rows for t in r.chunk_texts]).save(
            str(folder / "bm25"), allow_pickle=False, show_progress=False
        )
        build_bm25([t for r in change.rows for t in r.sentence_texts]).save(
            str(folder / "bm25_sentences"), allow_pickle=False, show_progress=False
        )
        return {"kind": "embedded", "uri": ""}

    def committed(self, index_dir: Path) -> None:
        return None


def _vectors_of(rows: Any, change: Change) -> tuple[np.ndarray, np.ndarray]:
    """A document's chunk and sentence vectors: new ones, or its rows in the previous version."""
    if rows.chunk_vectors is not None:
        return np.asarray(rows.chunk_vectors, np.float32), np.asarray(rows.sentence_vectors, np.float32)
    assert change.previous is not None and rows.old_chunks is not None and rows.old_sentences is not None
    return change.previous.chunk_vectors.vectors(rows.old_chunks), change.previous.sentence_vectors.vectors(rows.old_sentences)


def _load_bm25(folder: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(folder), load_corpus=False, mmap=True, allow_pickle=False, show_progress=False, verbosity=0)


def _problem(index: Any, vectors: np.ndarray, bm25: Any, sentence_bm25: Any, n_chunks: int, n_sentences: int) -> str:
    if vectors.ndim != 2 or vectors.dtype.kind != "f":
        return "sentence vectors"
    if len(vectors) != n_sentences or (n_sentences and vectors.shape[1] != index.d):
        return "sentence vectors"
    if index.ntotal != n_chunks or int(bm25.scores.get("num_docs", n_chunks)) != n_chunks:
        return "chunk vectors or BM25 differ from the chunks"
    if sentence_bm25 is not None and int(sentence_bm25.scores.get("num_docs", n_sentences)) != n_sentences:
        return "sentence BM25 differs from the sentences"
    return ""
