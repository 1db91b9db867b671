"""The manifest read safely and checked against its schema before anything uses it.

A damaged ``manifest.json`` must be a one-line IndexCorruptError, never a hang, a traceback or
a huge allocation: it is read only when it is a regular file (not a FIFO that blocks, a link to
``/dev/zero`` or a folder), at most :data:`MAX_MANIFEST_BYTES`; nesting too deep for the JSON
parser is damage; and every field the code reads has its type and range checked here
(:func:`type_problem`), so no later ``manifest["model"]["dim"]`` can raise AssertionError,
ValueError or AttributeError.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

MAX_MANIFEST_BYTES = 256 << 20
"""A manifest lists every document and file: about 200 bytes each, so millions fit."""
MAX_DIM = 65_536


class Unreadable(Exception):
    """The manifest cannot be read as JSON (the message says why)."""


def read_json(path: Path, limit: int | None = None) -> Any:
    """The JSON in ``path``, a regular file of at most ``limit`` bytes; Unreadable otherwise.
    FileNotFoundError is passed on (no index yet)."""
    limit = MAX_MANIFEST_BYTES if limit is None else limit
    if not stat.S_ISREG(os.stat(path).st_mode):  # FileNotFoundError: no index
        raise Unreadable("not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped for a FIFO or device since the stat
            raise Unreadable("not a regular file")
        if info.st_size > limit:
            raise Unreadable(f"larger than {limit >> 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # its own size (+1 to see growth), never ``limit``: the buffer is allocated up front, on every answer
            raw = fh.read(info.st_size + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise Unreadable(f"larger than {limit >> 20} MB")
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise Unreadable("nested too deeply") from None
    except ValueError as err:  # invalid JSON or UTF-8
        raise Unreadable(" ".join(str(err).split())[:200]) from None


def type_problem(manifest: dict[str, Any]) -> str:
    """What has the wrong type or range among the fields rag reads ("" when nothing)."""
    model, settings, counts = manifest.get("model"), manifest.get("settings", {}), manifest.get("counts")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return "no model name"
    dim = model.get("dim", 0)
    if not _whole(dim) or not 0 <= dim <= MAX_DIM or not isinstance(model.get("weights_sha256", ""), str):
        return "model.dim must be a whole number of dimensions"
    if not isinstance(settings, dict):
        return "settings must be an object"
    if not isinstance(counts, dict) or not all(
        _whole(counts.get(k)) and counts[k] >= 0 for k in ("documents", "sentences", "chunks")
    ):
        return "no valid counts"
    documents = manifest.get("documents")
    if not isinstance(documents, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in documents.items()):
        return "no valid document list"
    if not isinstance(manifest.get("paths", []), list) or not all(isinstance(p, str) for p in manifest.get("paths", [])):
        return "paths must be a list of paths"
    for key in ("previous", "built_at", "token_encoding"):
        if not isinstance(manifest.get(key, ""), str):
            return f"{key} must be text"
    if not isinstance(manifest.get("store", {}), dict):
        return "store must be an object"
    return ""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
