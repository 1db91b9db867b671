"""Frozen records passed between pipeline stages.

Offsets are character offsets into ``Document.text``: for every sentence
``doc.text[s.start:s.end] == s.text`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """One source document with its exact text and metadata.

    ``key`` identifies where it came from (a path, or ``path#N`` for record N of a
    JSON file) and is what incremental builds track; ``id`` is a content hash.
    ``body_start`` is where the content starts (after a ``date YYYY-MM-DD`` header, YAML front
    matter or ``Title:``/``Date:`` header lines). ``headings`` are the ``(start, end, level)``
    spans of section titles and ``markers`` the ``(start, end)`` spans of list markers
    (``-``, ``1.``, ``•``...): both stay in ``text`` but are never part of a sentence.
    """

    id: str
    key: str
    text: str
    title: str
    date: str = ""
    source: str = ""
    url: str = ""
    author: str = ""
    body_start: int = 0
    headings: tuple[tuple[int, int, int], ...] = ()
    markers: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document: ``text == doc.text[start:end]``."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences ``[first, last)`` of one document, sized in tokens."""

    doc_id: str
    first: int
    last: int
    start: int
    end: int
    text: str
    tokens: int


@dataclass(frozen=True)
class Citation:
    """A verbatim source sentence with where to find it.

    ``text == document.text[start:end]``; ``n`` is its ``[n]`` marker (0 for evidence
    that was not cited).
    """

    n: int
    text: str
    doc_id: str
    title: str
    source: str
    date: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, best first, with the sentences it holds; ``section`` is the title of the
    section it starts in (outer sections first, joined by " > "; "" when the document has none)."""

    chunk_id: int
    doc_id: str
    title: str
    text: str
    score: float
    sentences: tuple[Sentence, ...]
    source: str = ""
    date: str = ""
    start: int = 0
    end: int = 0
    section: str = ""


UNCERTAIN_NOTE = "Uncertain: the best passage may not answer exactly; check its source."
"""What every front door says under an answer whose ``confident`` is false."""


@dataclass(frozen=True)
class Answer:
    """What every entry point returns.

    ``text`` is made of source sentences, each followed by its ``[n]`` marker;
    ``citations`` are numbered in order of first use; ``evidence`` are the best
    candidate sentences, best first (citations are a subset). When ``abstained``
    is true the documents do not answer: ``text`` says so and ``citations`` is empty.
    ``confident`` is false for an answer whose best sentence is plausible but uncertain
    (its probability is between ``min_score`` and ``confident_score``): shown, but to be checked.
    """

    question: str
    text: str
    citations: list[Citation]
    evidence: list[Citation]
    abstained: bool
    query: str
    timings: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    confident: bool = True

    def to_dict(self) -> dict:
        """A JSON-ready dict (the CLI's ``--json`` output)."""
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class BuildReport:
    """What a build did. Counts are documents unless named otherwise."""

    index_dir: str
    added: int
    updated: int
    removed: int
    unchanged: int
    documents: int
    chunks: int
    sentences: int
    seconds: float
    skipped: list[str] = field(default_factory=list)
    changed: bool = True
    notes: list[str] = field(default_factory=list)
    """What the change also did, e.g. rolled back an upload interrupted by a crash."""

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)
