"""Which folders are indexes, and which names in them the index created.

An index folder carries an unmistakable marker: the file ``.rag-index`` and the key
``"index": "rag-cited index"`` in its manifest, both written by every commit
(:func:`rag.indexing.commit.save`). A change refuses a non-empty folder without them
(:class:`rag.errors.NotAnIndexError`), so ``--index ~/Documents`` never touches what is there.
Indexes made before the marker existed are recognised by a manifest that reads as one, or by a
version folder of the exact shape builds name them (``v-20250102T030405-a1b2c3`` holding a
``documents.jsonl``); their next commit adds the marker. Garbage collection removes only names
of these exact shapes (:func:`created_by_index`), never a look-alike such as ``v-1.0`` or
``.tmp-cache``.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path

from rag.errors import NotAnIndexError, RagError
from rag.indexing.store import MANIFEST, REUSABLE_FORMATS, read_manifest

MARKER = ".rag-index"
MARKER_TEXT = "This folder is a rag-cited index: rag may create and delete its own files here.\n"
INDEX_MARK = "rag-cited index"
"""The manifest's ``"index"`` value."""
LOCK = ".lock"
VERSION = re.compile(r"v-\d{8}T\d{6}-[0-9a-f]{6}")
"""A version folder's name as :func:`rag.indexing.commit.save` makes it."""
_TMP_VERSION = re.compile(r"\.tmp-v-\d{8}T\d{6}-[0-9a-f]{6}")
_TMP_MANIFEST = re.compile(rf"\.{re.escape(MANIFEST)}\.[0-9a-f]{{6}}\.tmp")


def created_by_index(name: str) -> str:
    """What a name in the index folder is, when the index made it: "version", "tmp" (a killed
    build's version or manifest written aside) or "" (not ours: never deleted)."""
    if VERSION.fullmatch(name):
        return "version"
    if _TMP_VERSION.fullmatch(name) or _TMP_MANIFEST.fullmatch(name):
        return "tmp"
    return ""


def is_index(index_dir: Path) -> bool:
    """True for a missing or empty folder (a new index) and for a folder marked as an index
    (or one an older rag built); False for anything else."""
    try:
        names = [n for n in os.listdir(index_dir) if n != LOCK]
    except FileNotFoundError:
        return True
    except OSError:
        return True  # unreadable or not a folder: the change itself reports that as a typed error
    if not names or _regular(index_dir / MARKER):
        return True
    try:
        manifest = read_manifest(index_dir, REUSABLE_FORMATS)
    except RagError:
        manifest = None
    if manifest is not None:
        return True  # marked, or an older index: a manifest that reads as one
    return any(VERSION.fullmatch(n) and _regular(index_dir / n / "documents.jsonl") for n in names)


def check_index(index_dir: Path) -> None:
    """NotAnIndexError unless ``index_dir`` is an index or may become one (see :func:`is_index`)."""
    if not is_index(index_dir):
        where = shlex.quote(os.path.abspath(index_dir))
        raise NotAnIndexError(
            f"{where} is not a rag index (it holds other files and no {MARKER} marker): "
            "rag never writes into it; choose a new or empty folder with --index"
        )


def mark(index_dir: Path) -> None:
    """Write the marker file (before the first manifest names the folder an index)."""
    path = index_dir / MARKER
    if not _regular(path):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(MARKER_TEXT)
            fh.flush()
            os.fsync(fh.fileno())


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
