"""Shared fixtures: the real bundled model (loaded once), a deterministic fake embedder,
and indexes built into temporary folders (never the repo's own ``index/``)."""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.indexing.embedding import Embedder, SentenceTransformerEmbedder

# A suite started in the background by a non-interactive shell (`bash scripts/test.sh &`, nohup) inherits
# SIGINT ignored, and so would every `rag chat` / `rag serve` it starts: Python then never raises
# KeyboardInterrupt and the tests that stop them with Ctrl-C hang. Handled here, children get the default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "data" / "Kim Jong Un orders military to annihilate South Korea and US.txt"
SHARED = ROOT.parent / "shared"
EVAL = SHARED / "eval"


class FakeEmbedder(Embedder):
    """Deterministic bag-of-words hashing embedder for fast unit tests (no model)."""

    name = "fake-hashing-embedder"
    dim = 64
    weights_sha256 = "0" * 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder()
    emb.model  # load once per session  # noqa: B018
    return emb


@pytest.fixture(scope="session")
def article_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> Path:
    """The bundled article indexed with the real model (built once per session)."""
    from rag import build_index

    index_dir = tmp_path_factory.mktemp("article") / "index"
    build_index([ARTICLE], index_dir, embedder=real_embedder, progress=False)
    return index_dir


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small folder of documents that tests may change."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / "article.txt")
    (folder / "cats.md").write_text("# Cats\n\nCats sleep for sixteen hours a day. They purr when content.\n", "utf-8")
    (folder / "tea.txt").write_text(
        "date 2023-05-02 Green tea comes from Camellia sinensis. It is steamed or pan-fired.\n", "utf-8"
    )
    return folder
