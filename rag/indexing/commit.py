"""Writing an index version: aside, fsynced, then swapped in by replacing ``manifest.json``.

Every change of an index runs under :func:`build_lock`; :func:`save` writes the new version's
layout and its store's part into a fresh folder and commits it by atomically replacing the
manifest (the only commit point), so a change that fails or is killed leaves the previous
version current; :func:`collect_garbage` clears what killed builds left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import BuildError
from rag.indexing.embedding import sha256_file
from rag.indexing.folder import INDEX_MARK, created_by_index, mark
from rag.indexing.store import MANIFEST, IndexData, one_line


@contextlib.contextmanager
def build_lock(index_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Exclusive lock so two changes of one index never interleave; ``on_wait`` is called
    once when another process or thread holds it (before waiting for it)."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "a+")
    except OSError as err:
        raise BuildError(
            f"cannot write to index folder {index_dir} ({err.strerror or one_line(err)}): "
            "make it a writable folder or choose another with --index; the previous index is kept"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save(index_dir: Path, data: IndexData) -> str:
    """Write ``data`` as a new version and swap it in; returns the version folder name.

    ``data.write`` is ``(backend, change)``: the store writes its part (files into the new
    folder, or rows into Milvus) before the manifest names it. Replacing ``manifest.json`` is
    the commit point: any failure before it (disk full, permissions) removes what was written,
    leaves the previous version current and raises BuildError.
    """
    assert data.write is not None, "save() needs data.write (see rag.indexing.build)"
    backend, change = data.write
    version = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp, final = index_dir / f".tmp-{version}", index_dir / version
    try:
        tmp.mkdir(parents=True)
        _write_layout(tmp, data)
        block = backend.write(tmp, change)
        manifest = dict(data.manifest, index=INDEX_MARK, data_dir=version, store=block, files=_file_hashes(tmp))
        _fsync_tree(tmp)
        os.rename(tmp, final)
        mark(index_dir)  # an index built by an older rag gets its marker with its next commit
        _fsync_dir(index_dir)
        _replace_manifest(index_dir, json.dumps(manifest, indent=2, ensure_ascii=False))
    except OSError as err:
        for path in (tmp, final):
            shutil.rmtree(path, ignore_errors=True)
        raise BuildError(
            f"could not write the index to {index_dir} ({err.strerror or one_line(err)}); the previous index is kept: "
            "free disk space or make the folder writable, then build again"
        ) from None
    except BaseException:  # the store refused (StoreError), interrupted: nothing of this version stays
        for path in (tmp, final):
            shutil.rmtree(path, ignore_errors=True)
        raise
    backend.committed(index_dir)
    with contextlib.suppress(OSError):  # committed: syncing the folder and clearing old versions are best effort
        _fsync_dir(index_dir)
        collect_garbage(index_dir, keep={version, str(manifest.get("previous", ""))})
    data.manifest, data.version = manifest, version
    return version


def _write_layout(folder: Path, data: IndexData) -> None:
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as fh:
        for doc in data.docs:
            fh.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
    np.save(folder / "sentences.npy", data.sentences.astype(np.int32), allow_pickle=False)
    np.save(folder / "chunks.npy", data.chunks.astype(np.int32), allow_pickle=False)


def _file_hashes(folder: Path) -> dict[str, dict[str, Any]]:
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


def _replace_manifest(index_dir: Path, text: str) -> None:
    """Write the manifest aside and fsync it, then atomically replace the current one."""
    write_whole(index_dir / MANIFEST, text, index_dir / f".{MANIFEST}.{uuid.uuid4().hex[:6]}.tmp")


def write_whole(target: Path, text: str, tmp: Path) -> None:
    """Replace ``target`` by ``text``, whole or not at all: written to ``tmp`` beside it, fsynced,
    then renamed over it. On OSError ``tmp`` is removed and the error passed on."""
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def collect_garbage(index_dir: Path, keep: set[str]) -> None:
    """Delete leftovers of killed builds and versions older than the previous one: only names
    of the exact shapes the index makes (``v-1.0/`` or ``.tmp-cache/`` of someone else stay)."""
    for path in index_dir.iterdir():
        kind = created_by_index(path.name)
        if kind and path.is_dir() and not path.is_symlink() and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
        elif kind == "tmp" and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
