"""The index on disk: the manifest and its current version, read and checked.

Layout of ``index_dir``::

    manifest.json          # checked on load; names the current data folder
    v-<time>-<rand>/       # one immutable data folder per build
        documents.jsonl    # one Document per line (exact text + metadata)
        sentences.npy      # int32 (N, 3): document row, start, end
        chunks.npy         # int32 (M, 4): document row, first sentence, last sentence (excl.), tokens
        ...                # the store's files (the embedded store's, see rag.indexing.stores.embedded:
                           # chunks.faiss, sentence_vectors.npy, bm25/, bm25_sentences/)

Vectors and BM25 live in the store the manifest names (``"store"``, see :mod:`rag.indexing.stores`):
the embedded files above, or Milvus. The layout (documents, sentence and chunk rows) always
stays here, so ids are rows of this version whatever the store.

A build writes a new data folder, fsyncs it, then atomically replaces ``manifest.json``
(:mod:`rag.indexing.commit`); readers that loaded the old manifest keep a consistent old version
(with Milvus, see ``docs/SCALING.md`` for what a reader may see while a write is under way). This
module reads and checks a version. No pickle anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from rag.indexing import schema, stores
from rag.indexing.stores.base import Change, Inconsistent, Stores
from rag.records import Document
from rag.settings import FORMAT_VERSION

MANIFEST = "manifest.json"
DATA_FILES = ("documents.jsonl", "sentences.npy", "chunks.npy")
"""The layout: in the index folder whatever the store."""
REUSABLE_FORMATS = (1, FORMAT_VERSION)
"""Formats whose vectors a build may reuse (format 1 lacks only ``bm25_sentences/``)."""
VERSION_NAME = re.compile(r"v-[\w.-]+")
"""A version folder's name: ``v-<time>-<rand>`` (never a path)."""
LOAD_ATTEMPTS = 3


@dataclass
class IndexData:
    """An index version: its layout in memory (row-aligned as described in the module docstring)
    and its opened ``stores``. A build sets ``write`` instead: what :func:`save` hands the store."""

    manifest: dict[str, Any]
    docs: list[Document]
    sentences: np.ndarray
    chunks: np.ndarray
    version: str = ""
    stores: Stores | None = None
    write: tuple[Any, Change] | None = None

    def _native(self, name: str) -> Any:
        return self.stores.native.get(name) if self.stores is not None else None

    @property
    def faiss_index(self) -> Any:
        """The embedded store's FAISS index (None for other stores)."""
        return self._native("faiss_index")

    @property
    def sentence_vectors(self) -> Any:
        """The embedded store's memory-mapped sentence vectors (None for other stores)."""
        return self._native("sentence_vectors")

    @property
    def bm25(self) -> Any:
        return self._native("bm25")

    @property
    def sentence_bm25(self) -> Any:
        return self._native("sentence_bm25")

    def sentence_text(self, i: int) -> str:
        row, start, end = self.sentences[i]
        return self.docs[row].text[start:end]

    def chunk_span(self, c: int) -> tuple[int, int, int]:
        """``(document row, start, end)`` of chunk ``c``."""
        row, first, last, _ = self.chunks[c]
        return int(row), int(self.sentences[first][1]), int(self.sentences[last - 1][2])


def read_manifest(index_dir: str | Path, formats: tuple[int, ...] = (FORMAT_VERSION,)) -> dict[str, Any]:
    """The index's manifest, checked for format version and shape (not yet against the files)."""
    path = Path(index_dir) / MANIFEST
    try:
        manifest = schema.read_json(path)
    except FileNotFoundError:
        where = os.path.abspath(index_dir)
        raise IndexNotFoundError(f"no index at {where}: build one with `rag build PATHS --index {shlex.quote(where)}`") from None
    except (schema.Unreadable, OSError) as err:  # invalid JSON or UTF-8, a FIFO or device, too large, unreadable
        raise IndexCorruptError(f"{path} is unreadable ({one_line(err)}): {rebuild_hint(index_dir)}") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{path} is not an index manifest: {rebuild_hint(index_dir)}")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):  # "2" or 2.0 is no format version (True == 1)
        shown = json.dumps(version)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise IndexCorruptError(
            f"{path} is damaged (format_version must be a whole number, not {shown}): {rebuild_hint(index_dir, manifest)}"
        )
    if version not in formats:
        raise IndexMismatchError(
            f"index at {index_dir} has format version {manifest.get('format_version')}, this rag reads "
            f"{FORMAT_VERSION}: {rebuild_hint(index_dir, manifest)}"
        )
    if problem := _manifest_problem(manifest, manifest.get("format_version") == FORMAT_VERSION):
        raise IndexCorruptError(f"{path} is damaged ({problem}): {rebuild_hint(index_dir, manifest)}")
    return manifest


def _manifest_problem(manifest: dict[str, Any], current: bool = True) -> str:
    """What is wrong with a manifest's fields ("" when nothing is); ``current``: of this format."""
    if problem := schema.type_problem(manifest):
        return problem
    data_dir, files = manifest.get("data_dir"), manifest.get("files")
    if not isinstance(data_dir, str) or not VERSION_NAME.fullmatch(data_dir):
        return "no valid data_dir"
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str) for v in files.values()
    ):
        return "no valid file list"
    try:
        required = (*DATA_FILES, *stores.backend(stores.spec_of(manifest).kind).required_files)
    except ConfigError as err:
        return str(err)
    if not all(name in files for name in required if current or not name.startswith("bm25_sentences/")):
        return "data files missing from the file list"
    return ""


def rebuild_hint(index_dir: str | Path, manifest: dict[str, Any] | None = None) -> str:
    """What to run to replace a damaged or outdated index, naming its sources when known
    (``PATHS`` when not) and the index by its absolute path, so it works from any folder.

    >>> rebuild_hint("/srv/idx", {"paths": ["/docs"]})
    'rebuild it with `rag build /docs --index /srv/idx`'
    """
    paths = manifest.get("paths") if isinstance(manifest, dict) else None
    if isinstance(paths, list) and paths and all(isinstance(p, str) for p in paths):
        shown = " ".join(shlex.quote(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
    else:
        shown = "PATHS"
    return f"rebuild it with `rag build {shown} --index {shlex.quote(os.path.abspath(index_dir))}`"


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def check_model(manifest: dict[str, Any], name: str, weights_sha256: str, index_dir: str | Path) -> None:
    """Raise IndexMismatchError when the index was built with another model (or other weights)."""
    built = manifest.get("model", {})
    built_hash = str(built.get("weights_sha256") or "")
    if built.get("name") != name:
        what = f"model {built.get('name')!r}, not {name!r}"
    elif built_hash and weights_sha256 and built_hash != weights_sha256:
        what = f"other weights of {name!r} (sha256 {built_hash[:12]}..., these are {weights_sha256[:12]}...)"
    else:
        return
    raise IndexMismatchError(
        f"index at {index_dir} was built with {what}: {rebuild_hint(index_dir, manifest)} with this model, or use the same model"
    )


def load(index_dir: str | Path, formats: tuple[int, ...] = (FORMAT_VERSION,), store: stores.StoreSpec | None = None) -> IndexData:
    """Load the current index version, verifying every data file against the manifest, and open its store.

    ``formats``: the format versions accepted (a build passes REUSABLE_FORMATS to reuse vectors).
    ``store``: the manifest's store at another address (same kind), e.g. a cluster's service name.

    A version deleted under our feet (two builds finished while we read it) is retried with
    the newer manifest; anything else damaged raises IndexCorruptError naming the fix.
    """
    for attempt in range(LOAD_ATTEMPTS):
        manifest = read_manifest(index_dir, formats)
        try:
            return _load_version(index_dir, manifest, store)
        except IndexCorruptError:
            replaced = _current_version(index_dir) not in ("", manifest["data_dir"])
            if not replaced or attempt == LOAD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _load_version(index_dir: str | Path, manifest: dict[str, Any], store: stores.StoreSpec | None = None) -> IndexData:
    folder = Path(index_dir) / manifest["data_dir"]
    _verify_files(folder, manifest, index_dir)
    spec = _store_spec(manifest, store, index_dir)
    try:
        docs = [_document(json.loads(line)) for line in _json_lines((folder / "documents.jsonl").read_text("utf-8"))]
        sentences = np.load(folder / "sentences.npy", allow_pickle=False)
        chunks = np.load(folder / "chunks.npy", allow_pickle=False)
        data = IndexData(manifest, docs, sentences, chunks, version=folder.name)
        _check_shapes(data, index_dir)
        data.stores = stores.backend(spec.kind)(spec, manifest).open(folder, manifest, data)
    except Inconsistent as err:
        raise IndexCorruptError(f"index at {index_dir} is inconsistent ({err}): {rebuild_hint(index_dir, manifest)}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError) as err:
        raise IndexCorruptError(
            f"index at {index_dir} is damaged ({one_line(err)}): {rebuild_hint(index_dir, manifest)}"
        ) from None
    return data


def _json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines file, split at "\\n" only: ``str.splitlines`` also splits at
    U+2028/U+2029/U+0085 and other separators that JSON keeps raw inside strings."""
    return [line for line in text.split("\n") if line.strip()]


def _store_spec(manifest: dict[str, Any], store: stores.StoreSpec | None, index_dir: str | Path) -> stores.StoreSpec:
    """The manifest's store, or ``store`` when given: the same kind at another address (a cluster
    reached under another name); another kind is a ConfigError."""
    recorded = stores.spec_of(manifest)
    if store is None or store == recorded:
        return recorded
    if store.kind != recorded.kind:
        raise ConfigError(
            f"index at {index_dir} keeps its vectors in the {recorded} store, not {store}: leave out the store option"
        )
    return store


def _current_version(index_dir: str | Path) -> str:
    """The data folder the manifest names now ("" when it cannot be read)."""
    try:
        return str(read_manifest(index_dir)["data_dir"])
    except RagError:
        return ""


def _document(row: dict[str, Any]) -> Document:
    # JSON has no tuples: spans come back as lists (and are absent from indexes built before them).
    spans = {k: tuple(tuple(int(x) for x in span) for span in row.get(k, ())) for k in ("headings", "markers")}
    return Document(**{**row, **spans})  # type: ignore[arg-type]


def _verify_files(folder: Path, manifest: dict[str, Any], index_dir: str | Path) -> None:
    from rag.indexing.embedding import sha256_file

    if not _plain_folder(folder):
        raise IndexCorruptError(f"index folder {folder} is missing or a link: {rebuild_hint(index_dir, manifest)}")
    for name, expected in manifest["files"].items():
        path = folder / name
        try:
            # Only regular files inside the version folder: a tampered manifest naming "../x",
            # a link or /dev/zero is damage, never something to read.
            intact = (
                _inside(name)
                and stat.S_ISREG(os.lstat(path).st_mode)
                and all(_plain_folder(p) for p in path.parents if folder in p.parents)
                and path.stat().st_size == expected["bytes"]
                and sha256_file(path) == expected["sha256"]
            )
        except OSError:
            intact = False
        if not intact:
            raise IndexCorruptError(f"index file {path} is missing or damaged: {rebuild_hint(index_dir, manifest)}")


def _inside(name: str) -> bool:
    """A plain relative file name with no ``..``: it stays inside its folder."""
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and "\x00" not in name


def _plain_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _check_shapes(data: IndexData, index_dir: str | Path) -> None:
    """Arrays, FAISS, BM25 and documents agree with each other and with the manifest."""
    if problem := _shape_problem(data):
        raise IndexCorruptError(f"index at {index_dir} is inconsistent ({problem}): {rebuild_hint(index_dir, data.manifest)}")


def _shape_problem(data: IndexData) -> str:
    """Layout problems (the store checks its own files when opened)."""
    s, c, counts = data.sentences, data.chunks, data.manifest["counts"]
    if not (s.ndim == 2 and s.shape[1] == 3 and c.ndim == 2 and c.shape[1] == 4):
        return "array shapes"
    if not (s.dtype.kind == c.dtype.kind == "i"):
        return "array types"
    if (counts["documents"], counts["sentences"], counts["chunks"]) != (len(data.docs), len(s), len(c)):
        return "counts differ from the manifest"
    if data.manifest["documents"] != {d.key: d.id for d in data.docs}:
        return "documents differ from the manifest"
    if len(s) and not (s[:, 0].min() >= 0 and s[:, 0].max() < len(data.docs) and (s[:, 1] <= s[:, 2]).all()):
        return "sentence rows"
    if len(s) and not (s[:, 1].min() >= 0 and (s[:, 2] <= np.array([len(d.text) for d in data.docs])[s[:, 0]]).all()):
        return "sentence offsets beyond their document"
    if len(c) and not (c[:, 1].min() >= 0 and (c[:, 1] < c[:, 2]).all() and c[:, 2].max() <= len(s)):
        return "chunk rows"
    return ""
