"""People's own documents for the answer model: project FAQs asked by their own question headings.

An FAQ is a technical document with the questions its readers ask written beside the answers. Each
file is indexed *without* its question headings (a heading that is the question would make every
question trivial), and a seeded :data:`UNANSWERED_SHARE` of its questions also lose their whole answer
section: those are asked of a document about the same project that no longer holds the answer,
the hardest kind of "not in your documents". The rest are answerable: a candidate is positive when it
is one of the first :data:`GOLD_SENTENCES` prose sentences of the question's answer.

Folds are by file (a project is never both trained on and scored). The files are not in the repo
(their licences differ); ``benchmarks/data/faq_sources.json`` records where each came from, its commit,
licence and sha256, and :func:`check_sources` refuses a file whose hash differs.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from . import wikiqa
from .faq_pairs import MIN_WORDS, faq_sections

SOURCES = Path(__file__).resolve().parent / "data" / "faq_sources.json"
UNANSWERED_SHARE = 0.25
"""Share of each file's questions whose answer section is removed from the indexed copy."""
GOLD_SENTENCES = 2
"""The first prose sentences of an answer that count as answering it."""
SEED = 17


def check_sources(folder: Path) -> list[Path]:
    """The FAQ files of ``folder`` named in :data:`SOURCES`, each checked against its recorded sha256."""
    from rag.indexing.embedding import sha256_file

    paths = []
    for entry in json.loads(SOURCES.read_text("utf-8")):
        path = folder / entry["file"]
        if sha256_file(path) != entry["sha256"]:
            raise SystemExit(f"{path}: not the recorded file (sha256 differs from {SOURCES.name})")
        paths.append(path)
    return paths


def write_corpus(paths: list[Path], out: Path) -> list[wikiqa.Question]:
    """Write each file's indexed copy into ``out`` and return its questions (``doc`` = the file's name;
    ``gold`` = the answer's first sentences, empty for an answer that was removed)."""
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    questions: list[wikiqa.Question] = []
    for path in paths:
        text, asked = _without_questions(path, rng)
        (out / path.name).write_text(text, "utf-8")
        questions += [wikiqa.Question(f"{path.name}#{i}", q, path.name, gold) for i, (q, gold) in enumerate(asked)]
    return questions


def _without_questions(path: Path, rng: random.Random) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    """The file's text without its question headings (and without the removed answers), and its questions."""
    doc, sentences, sections = faq_sections(path)
    cut: list[tuple[int, int]] = []
    asked = []
    removed = set(rng.sample(range(len(sections)), round(len(sections) * UNANSWERED_SHARE)))
    for n, (question, inside, heading) in enumerate(sections):
        prose = [sentences[i].text for i in inside if len(sentences[i].text.split()) >= MIN_WORDS]
        if n in removed:
            cut.append((heading[0], sentences[inside[-1]].end))
            asked.append((question, ()))
            continue
        cut.append(heading)
        if prose:
            asked.append((question, tuple(prose[:GOLD_SENTENCES])))
    return _cut(doc.text, cut), asked


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the (possibly nested) ``spans``."""
    kept, pos = [], 0
    for start, end in sorted(spans):
        if start >= pos:
            kept.append(text[pos:start])
        pos = max(pos, end)
    kept.append(text[pos:])
    return "".join(kept)


def figures_at(questions: list[wikiqa.Question], top: list[str], best: list[float], threshold: float) -> dict[str, Any]:
    """Answering above ``threshold``: P@1 (answered, first sentence right), false abstentions, and the
    share of removed answers that abstain."""
    answerable = [(answers_it(t, q), b >= threshold) for q, t, b in zip(questions, top, best) if q.answerable]
    removed = [b < threshold for q, b in zip(questions, best) if not q.answerable]
    return {"min_score": round(threshold, 4), "answerable": len(answerable), "unanswered": len(removed),
            "P@1": round(sum(r and a for r, a in answerable) / max(1, len(answerable)), 4),
            "false_abstention": round(sum(not a for _, a in answerable) / max(1, len(answerable)), 4),
            "abstention": round(sum(removed) / max(1, len(removed)), 4)}  # fmt: skip


def answers_it(sentence: str, question: wikiqa.Question) -> bool:
    """The candidate is (or holds, or lies in) one of the answer's first sentences."""
    return any(g in sentence or (len(sentence) >= 20 and sentence in g) for g in question.gold)


def folds_by_file(questions: list[wikiqa.Question], folds: int) -> Any:
    """A fold per question: one file's questions share a fold (files dealt round-robin by name)."""
    import numpy as np

    files = sorted({q.doc for q in questions})
    return np.array([files.index(q.doc) % folds for q in questions])
