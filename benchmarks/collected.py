"""Every question's candidates as the answer model learns from them, and their plain-file cache."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import wikiqa


@dataclass
class Collected:
    """Every question's candidates: features (rows), labels, sentence texts, per-question bounds and folds."""

    features: np.ndarray
    labels: np.ndarray
    texts: list[str]
    starts: np.ndarray  # question i owns rows starts[i]:starts[i + 1]
    questions: list[wikiqa.Question]  # for MultiHop: gold = the query's facts (none for a null query)
    folds: np.ndarray  # a fold per question: questions that share a document or a fact share a fold

    def rows(self, i: int) -> slice:
        return slice(int(self.starts[i]), int(self.starts[i + 1]))

    null_weight: float = 1.0  # weight of the rows of questions without an answer, beside answerable ones' 1

    def row_folds(self) -> np.ndarray:
        return np.repeat(self.folds, np.diff(self.starts))

    def row_weights(self) -> np.ndarray:
        if self.null_weight == 1.0 or not self.questions:
            return np.ones(len(self.labels))
        per_question = np.array([1.0 if q.answerable else self.null_weight for q in self.questions])
        return np.repeat(per_question, np.diff(self.starts))


def save_part(part: Collected, base: Path) -> None:
    """``base``.npz (features, labels, bounds, folds) and ``base``.json (texts, questions, null weight)."""
    np.savez(base.with_suffix(".npz"), features=part.features, labels=part.labels, starts=part.starts, folds=part.folds)
    questions = [{"qid": q.qid, "text": q.text, "doc": q.doc, "gold": list(q.gold)} for q in part.questions]
    meta = {"texts": part.texts, "questions": questions, "null_weight": part.null_weight}
    base.with_suffix(".json").write_text(json.dumps(meta), "utf-8")


def load_part(base: Path) -> Collected:
    arrays = np.load(base.with_suffix(".npz"))
    meta = json.loads(base.with_suffix(".json").read_text("utf-8"))
    questions = [wikiqa.Question(q["qid"], q["text"], q["doc"], tuple(q["gold"])) for q in meta["questions"]]
    return Collected(arrays["features"], arrays["labels"], meta["texts"], arrays["starts"], questions,
                     arrays["folds"], meta["null_weight"])  # fmt: skip
