"""Vectors already embedded by an interrupted build, kept so the next build resumes from them.

Each embedding window's sentence vectors are one ``.npy`` file (plain arrays, never pickle) under
``<index>/.embed-cache/<model key>/``, named by the sha256 of the window's text and sentence spans,
written aside and renamed into place, so a kill leaves whole files or none. A file that cannot be
read, or has the wrong shape, is a miss. The cache is deleted once a build commits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FOLDER = ".embed-cache"


class VectorCache:
    """Sentence vectors of embedding windows, by content, for one model and embedding setting."""

    def __init__(self, index_dir: Path, model_key: dict[str, str]) -> None:
        key = hashlib.sha256(json.dumps(model_key, sort_keys=True).encode()).hexdigest()[:24]
        self.root = index_dir / FOLDER
        self.folder = self.root / key

    @staticmethod
    def name(text: str, spans: Sequence[tuple[int, int]]) -> str:
        return hashlib.sha256(json.dumps([text, [list(s) for s in spans]]).encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray | None:
        path = self.folder / f"{self.name(text, spans)}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        ok = vectors.ndim == 2 and len(vectors) == len(spans) and vectors.dtype == np.float32
        return vectors if ok else None

    def put(self, text: str, spans: Sequence[tuple[int, int]], vectors: np.ndarray) -> None:
        """Keep ``vectors`` (best effort: a full disk only costs the resume)."""
        final = self.folder / f"{self.name(text, spans)}.npy"
        tmp = self.folder / f".{uuid.uuid4().hex}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(vectors, np.float32), allow_pickle=False)
            os.replace(tmp, final)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
