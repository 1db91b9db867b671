"""Judge training pairs from real FAQ documents: a question heading, and the sentences of its answer.

Project FAQs (Markdown, reStructuredText, plain text) are written by people for people's questions
about software and services, the documents this product is used on, unlike Wikipedia's. Each
section whose heading ends with "?" is a question; the first sentence of its answer that reads as
prose (:data:`MIN_WORDS` words or more) is the positive, and sentences of *other* answers in the same
file (outside its answer) are negatives (the hardest by shared words with the question, then random). The later
sentences of the answer are left out: they may or may not answer it.

Every file goes through the product's own reader (:func:`rag.ingestion.documents.read_file`:
headings found the same way as at answer time) and sentence splitter, and each sentence is read
as the judge reads it (:func:`rag.answering.judge.pair_text`), except that the question's own
heading is left out of the section: it *is* the question, and a judge shown it would learn to
match headings instead of reading the sentence.

>>> _question("3.1 Does curl support SOCKS?"), _question("Q: Why is it slow?")
('Does curl support SOCKS?', 'Why is it slow?')
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from .judge_pairs import Pair, words

MIN_WORDS = 4
"""The first sentence of an answer with fewer words ("Yes.", "No.") is not taken as the positive."""
NEGATIVES = 6
"""Negatives per question: from other answers of the file (half the hardest by shared words, then random)."""
_NUMBERING = re.compile(r"^(?:Q\s*[:.]\s*|\(?\d+(?:\.\d+)*[.)]?\s+)", re.IGNORECASE)


def _question(heading: str) -> str:
    """The heading as a question: without its numbering ("3.1 ", "Q: ")."""
    return _NUMBERING.sub("", heading).strip()


def faq_sections(path: Path) -> tuple[Any, list[Any], list[tuple[str, list[int], tuple[int, int]]]]:
    """The file's first document, its sentences, and per question heading the question, the
    numbers of its answer's sentences (to the next heading of the same or an outer level) and the
    heading's span."""
    from rag.ingestion.documents import read_file
    from rag.ingestion.sentences import split_sentences
    from rag.ingestion.structure import heading_title

    doc = read_file(path)[0]
    sentences = split_sentences(doc)
    sections = []
    for n, (start, end, level) in enumerate(doc.headings):
        title = heading_title(doc.text[start:end])
        if not title.endswith("?"):
            continue
        # the answer runs to the next heading of the same or an outer level (subsections are part of it)
        stop = next((s for s, _, lv in doc.headings[n + 1 :] if lv <= level), len(doc.text))
        inside = [i for i, s in enumerate(sentences) if end <= s.start < stop]
        if inside:
            sections.append((_question(title), inside, (start, end)))
    return doc, sentences, sections


def faq_pairs(
    paths: list[Path], rng: random.Random, group: int = 0, negatives: int = NEGATIVES
) -> tuple[list[list[Pair]], list[str]]:
    """The pairs of each file (one group per question) and the files' names, in the order given."""
    grouped, names = [], []
    for path in paths:
        pairs, group = _file_pairs(path, rng, group, negatives)
        grouped.append(pairs)
        names.append(path.name)
    return grouped, names


def _file_pairs(path: Path, rng: random.Random, group: int, negatives: int) -> tuple[list[Pair], int]:
    doc, sentences, sections = faq_sections(path)
    bags = [words(s.text) for s in sentences]
    pairs = []
    for question, inside, _ in sections:
        positive = next((i for i in inside if len(sentences[i].text.split()) >= MIN_WORDS), None)
        if positive is None:
            continue
        asked = words(question)
        own = set(inside)
        others = [i for i in range(len(sentences)) if i not in own and len(sentences[i].text.split()) >= MIN_WORDS]
        others.sort(key=lambda i: (-len(asked & bags[i]), i))
        hard, rest = others[: negatives // 2], others[negatives // 2 :]
        rng.shuffle(rest)
        for i in [positive, *hard, *rest[: negatives - len(hard)]]:
            pairs.append(Pair(question, _read_as_judged(doc, sentences, i), float(i == positive), group))
        group += 1
    return pairs, group


def _read_as_judged(doc: Any, sentences: list[Any], i: int) -> str:
    """Sentence ``i`` with the document's title, its section (without the question heading it sits
    under) and the sentence before it."""
    from rag.answering.judge import pair_text
    from rag.ingestion.structure import section_at

    section = [part for part in section_at(doc, sentences[i].start).split(" > ") if part and not part.endswith("?")]
    previous = sentences[i - 1].text if i else ""
    return pair_text(sentences[i].text, doc.title, " > ".join(section), previous)


HELD_FILES = 2
"""FAQ files held back (seeded, whole files: a project never seen) to measure the judge."""


def faq_part(paths: list[Path], rng: random.Random, group: int) -> tuple[list[Pair], list[Pair], list[str]]:
    """Training pairs, the pairs of the held-back files, and those files' names."""
    grouped, names = faq_pairs(paths, rng, group)
    held = rng.sample(names, min(HELD_FILES, len(names) - 1)) if len(names) > 1 else []
    train = [p for pairs, name in zip(grouped, names) if name not in held for p in pairs]
    dev = [p for pairs, name in zip(grouped, names) if name in held for p in pairs]
    return train, dev, held


def faq_sources(paths: list[Path], described: Path | None) -> list[dict[str, Any]]:
    """The card's record of each FAQ file: its hash, and where it came from and its licence when
    ``described`` (a JSON list of {"file", "repo", "path", "commit", "licence"}) names it."""
    import json

    from rag.indexing.embedding import sha256_file

    about = {d["file"]: d for d in json.loads(described.read_text("utf-8"))} if described else {}
    keep = ("repo", "path", "commit", "licence")
    return [
        {
            "name": "FAQ document",
            "file": p.name,
            "sha256": sha256_file(p),
            **{k: about[p.name][k] for k in keep if k in about.get(p.name, {})},
        }
        for p in paths
    ]
