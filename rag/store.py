"""Stage 5: the index on disk, written aside and swapped in atomically.

Layout of ``index_dir``::

    manifest.json          # checked on load; names the current data folder
    v-<time>-<rand>/       # one immutable data folder per build
        documents.jsonl    # one Document per line (exact text + metadata)
        sentences.npy      # int32 (N, 3): document row, start, end
        chunks.npy         # int32 (M, 4): document row, first sentence, last sentence (excl.), tokens
        chunks.faiss       # FAISS inner-product index of chunk vectors
        sentence_vectors.npy  # float16 (N, dim): each sentence embedded in its chunk's context
        bm25/              # bm25s lexical index of chunk texts (plain .npy/.json files)

A build writes a new data folder, fsyncs it, then atomically replaces ``manifest.json``;
readers that loaded the old manifest keep a consistent old version. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BuildError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .records import Document
from .settings import FORMAT_VERSION

MANIFEST = "manifest.json"
DATA_FILES = ("documents.jsonl", "sentences.npy", "chunks.npy", "chunks.faiss", "sentence_vectors.npy")


@dataclass
class IndexData:
    """An index in memory. Arrays are row-aligned as described in the module docstring."""

    manifest: dict[str, Any]
    docs: list[Document]
    sentences: np.ndarray
    chunks: np.ndarray
    faiss_index: Any
    sentence_vectors: np.ndarray
    bm25: Any
    version: str = ""

    def sentence_text(self, i: int) -> str:
        row, start, end = self.sentences[i]
        return self.docs[row].text[start:end]

    def chunk_span(self, c: int) -> tuple[int, int, int]:
        """``(document row, start, end)`` of chunk ``c``."""
        row, first, last, _ = self.chunks[c]
        return int(row), int(self.sentences[first][1]), int(self.sentences[last - 1][2])


def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    path = Path(index_dir) / MANIFEST
    if not path.exists():
        raise IndexNotFoundError(f"no index at {index_dir}: run `rag build` first")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise IndexCorruptError(f"{path} is unreadable ({err}): rebuild with `rag build`") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexMismatchError(
            f"index at {index_dir} has format version {found}, this rag reads {FORMAT_VERSION}: rebuild with `rag build`"
        )
    return manifest


def check_model(manifest: dict[str, Any], name: str, weights_sha256: str, index_dir: str | Path) -> None:
    """Raise IndexMismatchError when the index was built with another model."""
    built = manifest.get("model", {})
    same_hash = not (built.get("weights_sha256") and weights_sha256) or built["weights_sha256"] == weights_sha256
    if built.get("name") != name or not same_hash:
        raise IndexMismatchError(
            f"index at {index_dir} was built with model {built.get('name')!r}, not {name!r}: "
            f"rebuild it with `rag build --index {index_dir}` or use the same model"
        )


def load(index_dir: str | Path) -> IndexData:
    """Load the current index version, verifying every data file against the manifest."""
    import faiss

    manifest = read_manifest(index_dir)
    folder = Path(index_dir) / str(manifest.get("data_dir", ""))
    _verify_files(folder, manifest)
    try:
        docs = [_document(json.loads(line)) for line in (folder / "documents.jsonl").read_text("utf-8").splitlines()]
        sentences = np.load(folder / "sentences.npy", allow_pickle=False)
        chunks = np.load(folder / "chunks.npy", allow_pickle=False)
        vectors = np.load(folder / "sentence_vectors.npy", allow_pickle=False)
        index = faiss.read_index(str(folder / "chunks.faiss"))
        bm25 = _load_bm25(folder / "bm25")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        raise IndexCorruptError(f"index at {index_dir} is damaged ({err}): rebuild with `rag build`") from None
    data = IndexData(manifest, docs, sentences, chunks, index, vectors, bm25, version=folder.name)
    _check_shapes(data, index_dir)
    return data


def _document(row: dict[str, Any]) -> Document:
    return Document(**row)


def _load_bm25(folder: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(folder), load_corpus=False, allow_pickle=False, show_progress=False, verbosity=0)


def _verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    from .embedding import sha256_file

    for name, expected in manifest.get("files", {}).items():
        path = folder / name
        if not path.exists() or path.stat().st_size != expected["bytes"] or sha256_file(path) != expected["sha256"]:
            raise IndexCorruptError(f"index file {path} is missing or damaged: rebuild with `rag build`")


def _check_shapes(data: IndexData, index_dir: str | Path) -> None:
    n_sent, n_chunk = len(data.sentences), len(data.chunks)
    ok = (
        data.sentence_vectors.shape[0] == n_sent
        and data.faiss_index.ntotal == n_chunk
        and (n_sent == 0 or int(data.sentences[:, 0].max()) < len(data.docs))
        and (n_chunk == 0 or int(data.chunks[:, 2].max()) <= n_sent)
    )
    if not ok:
        raise IndexCorruptError(f"index at {index_dir} is inconsistent: rebuild with `rag build`")


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive lock so two builds of one index never interleave."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "a+")
    except OSError as err:
        raise BuildError(f"cannot write to index folder {index_dir}: {err.strerror}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save(index_dir: Path, data: IndexData) -> str:
    """Write ``data`` as a new version and swap it in; returns the version folder name.

    Any failure (disk full, permissions) leaves the previous version current.
    """
    version = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".tmp-{version}"
    try:
        tmp.mkdir(parents=True)
        _write_files(tmp, data)
        manifest = dict(data.manifest, data_dir=version, files=_file_hashes(tmp))
        _fsync_tree(tmp)
        os.rename(tmp, index_dir / version)
        _fsync_dir(index_dir)
        _atomic_write(index_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(
            f"could not write the index to {index_dir} ({err.strerror or err}); the previous index is kept"
        ) from None
    data.manifest, data.version = manifest, version
    collect_garbage(index_dir, keep={version, data.manifest.get("previous", "")})
    return version


def _write_files(folder: Path, data: IndexData) -> None:
    import faiss

    with open(folder / "documents.jsonl", "w", encoding="utf-8") as fh:
        for doc in data.docs:
            fh.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
    np.save(folder / "sentences.npy", data.sentences.astype(np.int32), allow_pickle=False)
    np.save(folder / "chunks.npy", data.chunks.astype(np.int32), allow_pickle=False)
    np.save(folder / "sentence_vectors.npy", data.sentence_vectors.astype(np.float16), allow_pickle=False)
    faiss.write_index(data.faiss_index, str(folder / "chunks.faiss"))
    data.bm25.save(str(folder / "bm25"), allow_pickle=False, show_progress=False)


def _file_hashes(folder: Path) -> dict[str, dict[str, Any]]:
    from .embedding import sha256_file

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files}


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for path in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def collect_garbage(index_dir: Path, keep: set[str]) -> None:
    """Delete leftovers of killed builds and versions older than the previous one."""
    for path in index_dir.iterdir():
        stale_version = path.name.startswith("v-") and path.name not in keep
        if path.is_dir() and (path.name.startswith(".tmp-") or stale_version):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(f".{MANIFEST}.") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
