"""Example questions drawn from the indexed documents, each one checked to get an answer.

The chips under the question box must be about *this* index: a chip that answers "Not found"
teaches the user nothing. Candidates come from what the documents say they are about (their
titles and section headings): "Summarize <title>" for a short title, "Tell me about <heading>"
for a section, "What is this document about?" for an index of one document. Each is asked
(:func:`rag.answering.answer.answer`) and kept only when it is answered; at most :data:`MAX`
are shown, none when nothing qualifies. The result is cached per index version.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

MAX = 4
"""Chips shown at most."""
TITLE_WORDS = 8
"""A longer title makes a clumsy question: its document gets a heading-based example instead."""
HEADING_WORDS = 6
SAMPLE_TITLE = "Kim Jong Un orders military to annihilate South Korea and US"
SAMPLE_QUESTIONS = (
    "What did Kim Jong Un order his military to do?",
    "Who did Kim Jong Un meet in Russia?",
    "What has North Korea declared itself to be?",
)
"""Hand-written questions about the bundled sample article, offered while it is indexed."""
_cache: dict[str, tuple[str, list[str]]] = {}
_lock = threading.Lock()


def examples(index_dir: str | Path) -> list[str]:
    """Up to MAX questions about the documents of ``index_dir`` that it answers ([] without an index)."""
    from rag.errors import RagError
    from rag.indexing import store

    key = str(Path(index_dir).resolve())
    try:
        version = str(store.read_manifest(index_dir).get("data_dir", ""))
        with _lock:
            if key in _cache and _cache[key][0] == version:
                return _cache[key][1]
        found = _answered(index_dir, candidates(index_dir))
    except RagError:
        return []
    with _lock:
        _cache[key] = (version, found)
    return found


def candidates(index_dir: str | Path) -> list[str]:
    """Questions the documents suggest (not yet checked), one document after another in turn so
    that several documents each get a chip."""
    from itertools import chain, zip_longest

    from rag.indexing.search_index import open_index

    docs = open_index(index_dir).documents()
    per_doc = [_of(doc) for doc in docs]
    if len(docs) == 1:
        per_doc[0].append("What is this document about?")
    turns = chain.from_iterable(zip_longest(*per_doc))
    return list(dict.fromkeys(q for q in turns if q))


def _of(doc: Any) -> list[str]:
    from rag.ingestion.structure import heading_title

    title = " ".join(doc.title.split())
    if title == SAMPLE_TITLE:
        return list(SAMPLE_QUESTIONS)
    out = [f"Summarize {title}"] if title and len(title.split()) <= TITLE_WORDS else []
    for start, end, _ in doc.headings:
        heading = heading_title(doc.text[start:end])
        if heading and not heading.endswith("?") and len(heading.split()) <= HEADING_WORDS and heading != title:
            out.append(f"Tell me about {heading if heading.isupper() else heading[:1].lower() + heading[1:]}")
            break
    return out


def _answered(index_dir: str | Path, questions: list[str]) -> list[str]:
    from rag.answering.answer import answer

    kept: list[str] = []
    for question in questions:
        result: Any = answer(question, index_dir=index_dir)
        if not result.abstained:
            kept.append(question)
        if len(kept) == MAX:
            break
    return kept
