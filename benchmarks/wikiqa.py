"""WikiQA in the open-corpus setting of ``shared/eval/README.md``: data, metrics, naive baseline.

One document per DocumentID of a split (title = DocumentTitle, text = its sentences in
SentenceID order joined by single spaces) goes into one index, and every question of the
split is asked against that whole index. A cited sentence matches a gold sentence when, after
normalising both, one contains the other and the contained one is at least half as long.

Answer triggering (the paper's metric): a question is answered correctly when the system does
not abstain and its first citation matches a Label-1 sentence; precision = correct / answered,
recall = correct / answerable questions, F1. Also MRR@10 of the evidence over answerable
questions and the share of unanswerable questions that abstain.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import EVAL

WIKIQA = EVAL / "wikiqa"
SPLITS = {"train": WIKIQA / "WikiQA-train.tsv", "dev": WIKIQA / "WikiQA-dev.tsv"}


@dataclass(frozen=True)
class Question:
    """One WikiQA question: its id, text, linked document and Label-1 sentences (may be none)."""

    qid: str
    text: str
    doc: str
    gold: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


def read_split(split: str) -> tuple[list[Question], list[dict[str, str]]]:
    """The questions of a split (file order) and its documents (title, text, url = DocumentID)."""
    with open(SPLITS[split], encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    docs: dict[str, dict[str, Any]] = {}
    questions: dict[str, dict[str, Any]] = {}
    for r in rows:
        doc = docs.setdefault(r["DocumentID"], {"title": r["DocumentTitle"], "sentences": {}})
        doc["sentences"][int(r["SentenceID"].rsplit("-", 1)[1])] = r["Sentence"]
        q = questions.setdefault(r["QuestionID"], {"text": r["Question"], "doc": r["DocumentID"], "gold": []})
        if r["Label"] == "1":
            q["gold"].append(r["Sentence"])
    records = [
        {"title": d["title"], "text": " ".join(d["sentences"][i] for i in sorted(d["sentences"])), "url": f"wikiqa:{doc_id}"}
        for doc_id, d in docs.items()
    ]
    return [Question(qid, q["text"], q["doc"], tuple(q["gold"])) for qid, q in questions.items()], records


def write_corpus(split: str, folder: Path) -> Path:
    """The split's documents as a JSON Lines file for :func:`rag.build_index` (rewritten only when changed)."""
    return write_records(read_split(split)[1], folder / f"wikiqa_{split}.jsonl")


_SPACE_BEFORE_PUNCT = re.compile(r" (?=[.,;:!?%)\]])")


def normalise(text: str) -> str:
    """Lower-cased, whitespace collapsed, without the space the TSV puts before punctuation.

    >>> normalise("It is  60 m high , roughly .")
    'it is 60 m high, roughly.'
    """
    return _SPACE_BEFORE_PUNCT.sub("", " ".join(text.lower().split()))


def matches(cited: str, gold: str) -> bool:
    """One contains the other, and the contained one is at least half the other's length.

    >>> matches("The ice facade is approximately 60 m high.", "The ice facade is approximately 60 m high")
    True
    >>> matches("The ice", "The ice facade is approximately 60 m high")
    False
    """
    a, b = normalise(cited), normalise(gold)
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return bool(short) and short in long and 2 * len(short) >= len(long)


def is_correct(cited: str, question: Question) -> bool:
    return any(matches(cited, g) for g in question.gold)


def triggering(questions: Sequence[Question], first: Sequence[str | None], evidence: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Answer-triggering figures from each question's first citation (None: abstained) and its evidence list."""
    correct = answered = abstained_unanswerable = 0
    rr = []
    for q, cited, ev in zip(questions, first, evidence):
        answered += cited is not None
        correct += cited is not None and is_correct(cited, q)
        if q.answerable:
            rank = next((i for i, s in enumerate(ev[:10]) if is_correct(s, q)), None)
            rr.append(0.0 if rank is None else 1 / (rank + 1))
        else:
            abstained_unanswerable += cited is None
    answerable = sum(q.answerable for q in questions)
    p, r = correct / max(answered, 1), correct / max(answerable, 1)
    return {
        "questions": len(questions),
        "answerable": answerable,
        "answered": answered,
        "correct": correct,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "F1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
        "MRR@10": round(float(np.mean(rr)) if rr else 0.0, 4),
        "unanswerable_abstention": round(abstained_unanswerable / max(len(questions) - answerable, 1), 4),
    }


def best_threshold(
    questions: Sequence[Question],
    top: Sequence[str],
    scores: Sequence[float],
    floor: float = float("-inf"),
    ceiling: float = float("inf"),
) -> float:
    """The score threshold within ``[floor, ceiling]`` that maximises answer-triggering F1 when
    answering with ``top`` whenever its score >= the threshold (``floor`` when no score is in range)."""
    values = np.asarray(scores, np.float64)
    correct = np.array([is_correct(s, q) for s, q in zip(top, questions)], bool)
    order = np.argsort(-values, kind="stable")
    hits = np.cumsum(correct[order])
    answered = np.arange(1, len(order) + 1)
    answerable = max(sum(q.answerable for q in questions), 1)
    f1 = 2 * hits / (answered + answerable)  # 2PR/(P+R) with P = hits/answered, R = hits/answerable
    allowed = (values[order] >= floor) & (values[order] <= ceiling)
    if not allowed.any():
        return float(floor)
    return float(values[order[int(np.argmax(np.where(allowed, f1, -1.0)))]])


def subset(split: str, limit: int | None) -> tuple[list[Question], list[dict[str, str]]]:
    """The first ``limit`` questions of a split and only their documents (all of them without a limit)."""
    questions, records = read_split(split)
    if limit is None:
        return questions, records
    questions = questions[:limit]
    wanted = {f"wikiqa:{q.doc}" for q in questions}
    return questions, [r for r in records if r["url"] in wanted]


def write_records(records: list[dict[str, str]], path: Path) -> Path:
    """Documents as JSON Lines for :func:`rag.build_index` (rewritten only when changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if not path.exists() or path.read_text("utf-8") != text:
        path.write_text(text, "utf-8")
    return path


def answer_all(index_dir: Path, questions: Sequence[Question]) -> dict[str, Any]:
    """The full answer pipeline on every question: answer-triggering figures and the failures' ids."""
    from rag.answering.answer import answer

    first: list[str | None] = []
    evidence: list[list[str]] = []
    for q in questions:
        a = answer(q.text, index_dir=index_dir)
        first.append(None if a.abstained else a.citations[0].text)
        evidence.append([e.text for e in a.evidence])
    return triggering(questions, first, evidence)


def isolated_cosines(index_dir: Path, questions: Sequence[Question]) -> tuple[list[str], np.ndarray]:
    """Naive baseline inputs: every sentence of the index embedded on its own, and each question's
    plain MiniLM cosine to all of them (``(questions, sentences)``)."""
    from rag.indexing.search_index import open_index

    loaded = open_index(index_dir)
    texts = [loaded.sentence_text(i) for i in range(loaded.n_sentences)]
    vectors = loaded.embedder.embed(texts)
    return texts, loaded.embedder.embed([q.text for q in questions]) @ vectors.T


def naive_baseline(train: tuple[Path, Sequence[Question]], dev: tuple[Path, Sequence[Question]]) -> dict[str, Any]:
    """Top sentence by plain cosine over the whole index, answered when its cosine passes the
    threshold that maximises F1 on train; figures on dev."""
    texts, cos = isolated_cosines(*train)
    top = cos.argmax(axis=1)
    threshold = best_threshold(train[1], [texts[i] for i in top], cos.max(axis=1).tolist())
    texts, cos = isolated_cosines(*dev)
    order = np.argsort(-cos, axis=1)[:, :10]
    first = [texts[o[0]] if cos[i, o[0]] >= threshold else None for i, o in enumerate(order)]
    return {"threshold": round(threshold, 4), **triggering(dev[1], first, [[texts[j] for j in o] for o in order])}
