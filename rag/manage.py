"""Managing an index's documents: status, listing, adding uploads, removing one document.

The index remembers what it was built from (``manifest.json``: ``paths``); uploads are
copied into ``<index>/uploads/`` and removed documents are listed in ``<index>/excluded.json``,
so every change is an ordinary incremental :func:`rag.build_index` over the same sources.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import store
from .build import build_index
from .documents import SUPPORTED
from .errors import DocumentError, IndexNotFoundError, InputError
from .records import BuildReport

UPLOADS = "uploads"
EXCLUDED = "excluded.json"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def index_status(index_dir: str | Path = "index") -> dict[str, Any]:
    """Model, counts and build time of the index (raises IndexNotFoundError when there is none)."""
    manifest = store.read_manifest(index_dir)
    return {
        "index": str(index_dir),
        "model": manifest["model"]["name"],
        **manifest["counts"],
        "built_at": manifest.get("built_at", ""),
        "version": manifest.get("data_dir", ""),
    }


def list_documents(index_dir: str | Path = "index") -> list[dict[str, Any]]:
    """One row per indexed document: id, title, date, source, chunks, sentences."""
    data = store.load(index_dir)
    chunks = np.bincount(data.chunks[:, 0], minlength=len(data.docs)) if len(data.chunks) else np.zeros(len(data.docs))
    sents = np.bincount(data.sentences[:, 0], minlength=len(data.docs)) if len(data.sentences) else np.zeros(len(data.docs))
    return [
        {
            "id": d.id,
            "title": d.title,
            "date": d.date,
            "source": d.url or d.source,
            "chunks": int(chunks[i]),
            "sentences": int(sents[i]),
        }
        for i, d in enumerate(data.docs)
    ]


def safe_name(name: str) -> str:
    """A plain file name from an uploaded name: no folders, no traversal, no hidden files.

    >>> safe_name("../../etc/passwd.txt")
    'passwd.txt'
    """
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    if not base or Path(base).suffix.lower() not in SUPPORTED:
        raise DocumentError(f"{name!r}: unsupported upload; use {', '.join(sorted(SUPPORTED))}")
    return base


def add_documents(files: Iterable[str | Path], index_dir: str | Path = "index", **options: Any) -> BuildReport:
    """Copy files into the index's uploads folder and update the index incrementally.

    Names are sanitised (``../../x.txt`` becomes ``x.txt``); files over 50 MB are refused.
    """
    index_path = Path(index_dir)
    uploads = index_path / UPLOADS
    uploads.mkdir(parents=True, exist_ok=True)
    for f in files:
        src = Path(f)
        if not src.is_file():
            raise DocumentError(f"{src}: no such file")
        if src.stat().st_size > MAX_UPLOAD_BYTES:
            raise DocumentError(f"{src.name}: larger than the {MAX_UPLOAD_BYTES // 2**20} MB upload limit")
        target = uploads / safe_name(src.name)
        shutil.copyfile(src, target)
        _excluded_write(index_path, _excluded(index_path) - {str(target.resolve())})
    return rebuild(index_path, **options)


def remove_document(doc_id: str, index_dir: str | Path = "index", **options: Any) -> BuildReport:
    """Remove one document from the index (an uploaded copy is deleted; a source file is left alone)."""
    index_path = Path(index_dir)
    data = store.load(index_path)
    doc = next((d for d in data.docs if d.id == doc_id), None)
    if doc is None:
        raise InputError(f"no document with id {doc_id} in {index_dir}")
    if len(data.docs) == 1:
        raise InputError("cannot remove the only document: an index needs at least one; add another first")
    path = Path(doc.key.split("#", 1)[0])
    if path.parent == (index_path / UPLOADS).resolve() and "#" not in doc.key:
        path.unlink(missing_ok=True)
    else:
        _excluded_write(index_path, _excluded(index_path) | {doc.key})
    return rebuild(index_path, **options)


def rebuild(index_dir: str | Path = "index", **options: Any) -> BuildReport:
    """Incremental rebuild over the index's recorded sources, its uploads, minus excluded documents."""
    index_path = Path(index_dir)
    try:
        roots = [p for p in store.read_manifest(index_path).get("paths", []) if Path(p).exists()]
    except (InputError, IndexNotFoundError):
        roots = []
    uploads = (index_path / UPLOADS).resolve()
    if uploads.is_dir() and any(uploads.iterdir()) and str(uploads) not in roots:
        roots.append(str(uploads))
    return build_index(roots, index_path, exclude=sorted(_excluded(index_path)), **options)


def _excluded(index_path: Path) -> set[str]:
    path = index_path / EXCLUDED
    try:
        return set(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def _excluded_write(index_path: Path, keys: set[str]) -> None:
    tmp = index_path / f".{EXCLUDED}.tmp"
    tmp.write_text(json.dumps(sorted(keys), indent=1), "utf-8")
    tmp.replace(index_path / EXCLUDED)
