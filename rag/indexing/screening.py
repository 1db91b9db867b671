"""Screening uploads before they are copied: size, batch and index limits, readable text.

Each refusal is a one-line :class:`DocumentError` naming the file, so a batch can index its
good files and report the bad ones (the UI does).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rag.errors import DocumentError
from rag.indexing import uploads
from rag.indexing.sources import Sources, sha256_of
from rag.indexing.uploads import safe_name
from rag.ingestion.documents import read_file
from rag.settings import UploadLimits


def screen_uploads(files: Iterable[str | Path], limits: UploadLimits | None = None) -> tuple[list[Path], list[str]]:
    """The files :func:`add_documents` would take one at a time, and a one-line reason for each
    one it would refuse (so a batch can index its good files and report the bad ones)."""
    limits = limits or UploadLimits()
    good: list[Path] = []
    refused: list[str] = []
    for f in files:
        try:
            check_uploads([Path(f)], limits)
        except DocumentError as err:
            refused.append(str(err))
        else:
            good.append(Path(f))
    return good, refused


def check_uploads(files: list[Path], limits: UploadLimits) -> list[tuple[Path, str, str]]:
    """``(file, stored name, sha256)`` per upload; DocumentError for the first bad one."""
    plan, total, documents = [], 0, 0
    for src in files:
        if not src.is_file():
            raise DocumentError(f"{src.name}: no such file")
        size = src.stat().st_size
        if size > limits.max_file_bytes:
            raise DocumentError(f"{src.name}: larger than the {limits.max_file_bytes // 2**20} MB upload limit")
        total += size
        if total > limits.max_batch_bytes:
            raise DocumentError(f"these files are larger than the {limits.max_batch_bytes // 2**20} MB limit of one upload")
        name = safe_name(src.name)
        documents += len(read_file(src))  # unsupported, binary, not UTF-8 or empty: refused now
        if documents > limits.max_documents:
            raise DocumentError(f"{src.name}: more than {limits.max_documents} documents in one upload; split it")
        plan.append((src, name, sha256_of(src)))
    return plan


def check_index_size(sources: Sources, new: dict[str, Path], index_path: Path, limits: UploadLimits) -> None:
    """DocumentError when the uploads ``sources`` keep (``new`` ones still outside) exceed the index limit."""
    kept = [u for u in sources.uploads if u.path not in new]
    if uploads.total_bytes(kept, index_path) + sum(p.stat().st_size for p in new.values()) > limits.max_index_bytes:
        raise DocumentError(
            f"the uploads of {index_path} would exceed the {limits.max_index_bytes // 2**20} MB limit of one index: "
            "remove documents first"
        )
