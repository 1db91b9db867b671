"""Managing an index's documents: status, listing, adding uploads, removing one document.

The index remembers what it was built from (``manifest.json``: ``paths``); uploads are
copied into ``<index>/uploads/`` and removed documents are listed in ``<index>/excluded.json``,
so every change is an ordinary incremental :func:`rag.build_index` over the same sources.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import store
from .build import build_index
from .documents import SUPPORTED, read_file
from .errors import BuildError, DocumentError, IndexNotFoundError, InputError, RagError
from .records import BuildReport

UPLOADS = "uploads"
EXCLUDED = "excluded.json"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_NAME_BYTES = 200


def index_status(index_dir: str | Path = "index", verify: bool = False) -> dict[str, Any]:
    """Model, counts and build time of the index (raises IndexNotFoundError when there is none).

    Reads only ``manifest.json`` unless ``verify``: then every data file is loaded and checked
    against its recorded size and sha256 and against the others (IndexCorruptError if not).
    """
    manifest = store.load(index_dir).manifest if verify else store.read_manifest(index_dir)
    return {
        "index": str(index_dir),
        "model": manifest["model"]["name"],
        **manifest["counts"],
        "built_at": manifest.get("built_at", ""),
        "version": manifest.get("data_dir", ""),
        **({"verified": True} if verify else {}),
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

    >>> safe_name("../../etc/passwd.txt"), safe_name("..\\\\..\\\\x.md")
    ('passwd.txt', 'x.md')
    """
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    suffix = Path(base).suffix.lower()
    if not base or suffix not in SUPPORTED:
        raise DocumentError(f"{name!r}: unsupported upload; use {', '.join(sorted(SUPPORTED))}")
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:  # file systems refuse names over 255 bytes
        base = base[: MAX_NAME_BYTES // 4] + suffix
    return base


def add_documents(files: Iterable[str | Path], index_dir: str | Path = "index", **options: Any) -> BuildReport:
    """Copy files into the index's uploads folder and update the index incrementally.

    Names are sanitised (``../../x.txt`` becomes ``x.txt``). A file that is missing, over
    50 MB, unsupported or unreadable raises DocumentError before anything is copied. An upload
    that replaces an earlier one of the same name keeps the earlier copy aside until the
    rebuild succeeds: when the rebuild fails, new copies are removed and replaced ones put
    back, so the index, its uploads and its excluded list are exactly as before.
    """
    index_path = Path(index_dir)
    plan = [(Path(f), safe_name(Path(f).name)) for f in files]
    for src, _ in plan:
        _check_upload(src)
    excluded = _excluded(index_path)
    stash = index_path / f".replaced-{uuid.uuid4().hex[:8]}"  # hidden: never read as a document
    created = _copy_uploads(plan, index_path / UPLOADS, stash)
    try:
        _excluded_write(index_path, excluded - {str((index_path / UPLOADS / n).resolve()) for _, n in plan})
        report = rebuild(index_path, **options)
    except RagError:
        _remove(created)
        _restore(stash, index_path / UPLOADS)
        with contextlib.suppress(RagError):
            _excluded_write(index_path, excluded)
        raise
    shutil.rmtree(stash, ignore_errors=True)
    return report


def _check_upload(src: Path) -> None:
    """Raise DocumentError unless ``src`` is a readable, supported document within the size limit."""
    if not src.is_file():
        raise DocumentError(f"{src}: no such file")
    if src.stat().st_size > MAX_UPLOAD_BYTES:
        raise DocumentError(f"{src.name}: larger than the {MAX_UPLOAD_BYTES // 2**20} MB upload limit")
    read_file(src)  # unsupported, binary, not UTF-8 or empty: refused now, not skipped at every rebuild


def _copy_uploads(plan: list[tuple[Path, str]], uploads: Path, stash: Path) -> list[Path]:
    """Copy each ``(source, name)`` into ``uploads``, first moving a file it would replace into
    ``stash``; returns the files that did not exist before."""
    created: list[Path] = []
    try:
        uploads.mkdir(parents=True, exist_ok=True)
        for src, name in plan:
            target = uploads / name
            if target.exists() and not (stash / name).exists():
                stash.mkdir(exist_ok=True)
                target.replace(stash / name)  # same file system: a rename, never a partial copy
            if not target.exists() and not (stash / name).exists():
                created.append(target)
            shutil.copyfile(src, target)
    except OSError as err:
        _remove(created)
        _restore(stash, uploads)
        raise BuildError(
            f"cannot store the upload in {uploads} ({err.strerror or err}): free disk space or fix permissions"
        ) from None
    return created


def _restore(stash: Path, uploads: Path) -> None:
    """Put replaced uploads back from ``stash`` (left in place if that fails: nothing is deleted)."""
    if not stash.is_dir():
        return
    for old in stash.iterdir():
        with contextlib.suppress(OSError):
            old.replace(uploads / old.name)
    with contextlib.suppress(OSError):
        stash.rmdir()


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
    if keys == _excluded(index_path):
        return
    tmp = index_path / f".{EXCLUDED}.{uuid.uuid4().hex[:6]}.tmp"
    try:
        tmp.write_text(json.dumps(sorted(keys), indent=1), "utf-8")
        tmp.replace(index_path / EXCLUDED)
    except OSError as err:
        _remove([tmp])
        raise BuildError(
            f"cannot write {index_path / EXCLUDED} ({err.strerror or err}): free disk space or fix permissions"
        ) from None


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
