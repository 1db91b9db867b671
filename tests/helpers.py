"""Helpers shared by the reliability, broken-index, crash, concurrency and security tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.answering.answer import answer
from rag.indexing.embedding import Embedder
from rag.indexing.store import load
from rag.records import Answer

from .conftest import ROOT

QUESTION = "Who did Kim Jong Un meet in Russia?"
"""Answered from the bundled article by a sentence naming Vladimir Putin."""


def copy_index(src: Path, dst: Path) -> tuple[Path, str]:
    """A private copy of an index and its current version."""
    shutil.copytree(src, dst)
    return dst, load(dst).version


def assert_answers(index_dir: Path, version: str) -> Answer:
    """The index is still at ``version`` and answers QUESTION with a cited sentence."""
    assert load(index_dir).version == version
    result = answer(QUESTION, index_dir=index_dir)
    assert not result.abstained and "Vladimir Putin" in result.citations[0].text
    return result


def run_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m rag.cli ARGS`` in a subprocess (offline), capturing output."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(stderr: str, *fragments: str) -> str:
    """stderr is exactly one ``rag: error: ...`` line (no traceback) containing every fragment."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def tree(folder: Path, skip: Path | None = None) -> set[str]:
    """Every path under ``folder`` (except under ``skip``), relative."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if skip is None or skip not in (p, *p.parents)}


class CheapEmbedder(Embedder):
    """A very fast deterministic embedder (crc32 of the text) for huge documents: no meaning, only shape."""

    name = "cheap-crc-embedder"
    dim = 16
    weights_sha256 = "1" * 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        seeds = np.array([zlib.crc32(t.encode("utf-8", "replace")) for t in texts], np.uint64)
        bits = (seeds[:, None] >> np.arange(self.dim, dtype=np.uint64)) & np.uint64(1)
        out = bits.astype(np.float32) + 0.1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class SlowEmbedder(CheapEmbedder):
    """CheapEmbedder taking 2 ms per text (same name, so their indexes are interchangeable): long
    enough for a build to be interrupted in the middle."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.002 * len(texts))
        return super().embed(texts)


def prose(n_chars: int, seed: int = 0) -> str:
    """Deterministic pseudo-English: sentences of 5-30 words in paragraphs of 3-8 sentences
    (beyond 1 MB, the first megabyte repeated)."""
    if n_chars > 2**20:
        block = prose(2**20, seed) + "\n\n"
        return (block * (n_chars // len(block) + 1))[:n_chars]
    rnd = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rnd.choice(letters, int(n))) for n in rnd.integers(2, 11, 3000)]
    parts: list[str] = []
    size = 0
    while size < n_chars:
        words = rnd.choice(vocab, int(rnd.integers(40, 160)))
        cuts = np.cumsum(rnd.integers(5, 31, len(words)))
        sentences = [" ".join(words[a:b]).capitalize() + "." for a, b in zip([0, *cuts], cuts) if a < len(words)]
        para = " ".join(s for s in sentences if len(s) > 1)
        parts.append(para)
        size += len(para) + 2
    return "\n\n".join(parts)[:n_chars]


def edit_json(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """A change to a JSON file (a manifest) made in place: ``edit_json(f)(path)`` applies ``f`` to its data."""

    def edit(manifest: Path) -> None:
        data = json.loads(manifest.read_text("utf-8"))
        change(data)
        manifest.write_text(json.dumps(data), "utf-8")

    return edit
