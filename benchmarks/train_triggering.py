"""Train the answer model (``rag/answering/triggering_model.txt``): does this sentence answer the question?

Questions are asked by the *product's own code* (:func:`rag.answering.answer.candidates`) and every candidate
sentence is labelled:

* WikiQA train (``shared/eval/wikiqa``), open corpus: one index of all its documents, a candidate is
  positive when it matches a Label-1 sentence (the benchmark's rule); about 60% have none;
* MultiHop-RAG dev over its corpus: positive when it lies in one of the query's evidence facts; the
  null queries have none;
* the article dev set over the bundled article: positive when it holds a gold passage;
* with ``--faq DIR``, real project FAQs (:mod:`benchmarks.faq_questions`: technical documents asked by
  their own question headings, indexed without them; a quarter of the answers removed, so those
  questions have none): positive when it is one of the answer's first sentences. The judge never saw them.

A small LightGBM classifier is scored by k-fold cross-validation: WikiQA grouped by document,
MultiHop by shared evidence, the article by question (each question answered by a model that saw
neither it nor any question sharing its document or facts). The default ``min_score`` is the
probability threshold that maximises WikiQA answer-triggering F1 on those out-of-fold answers while
at least 85% of MultiHop's null queries abstain out-of-fold. WikiQA dev is never used here: it is
the held-out check in ``benchmarks/quality.py``.

Usage::

    python -m benchmarks.train_triggering [--work DIR] [--multihop-index DIR] [--folds 5] [--cv-only] [--faq DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import faq_questions, wikiqa
from .calibration import calibration
from .collected import Collected, load_part, save_part
from .common import ARTICLE_DEV, BUNDLED_CORPUS, DEFAULT_OUT, MULTIHOP_CORPUS, MULTIHOP_QUERIES, log, set_offline_env

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "random_state": 7,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 2,
    "verbose": -1,
}
"""Fixed LightGBM settings, kept small; chosen by grouped cross-validation on WikiQA train."""
WEIGHTS = [1.0, 0.5, 10.0, 2.0]
"""Sample weight of the candidates of WikiQA train, MultiHop-RAG dev, the article dev set and the FAQ
documents. News counts half as much as WikiQA; the article's 13 questions count 10x so that one short
news document asked by its reader (nearly every question answerable) is represented beside search
questions; the FAQs (technical documents asked by their readers' own questions) count 2x."""
NULL_WEIGHT = 6.0
"""Weight of MultiHop-RAG's null queries beside its answerable ones: 144 of 1,285 queries have no
answer, against about 60% of WikiQA's; weighted up, unanswerable questions make up a similar share of
both, so one probability threshold serves both (otherwise news questions look answerable by default)."""
NULL_ABSTENTION = 0.85
"""Share of MultiHop-RAG's null queries that must abstain (out-of-fold) at ``min_score``."""
FAQ_ABSTENTION = 0.80
"""Share of the FAQ questions whose answer was removed that must abstain (out-of-fold) at ``min_score``."""
UNANSWERABLE_ABSTENTION = 0.65
"""Share of WikiQA's unanswerable train questions that must abstain (out-of-fold) at ``min_score``
(the goal on its dev split is 0.60: a margin for the step from train to dev)."""


def build(split: str, work: Path) -> Path:
    """The split's open-corpus index under ``work`` (built once; reused while the corpus is unchanged)."""
    from rag import build_index

    index_dir = work / f"wikiqa_{split}_index"
    report = build_index([wikiqa.write_corpus(split, work)], index_dir, progress=False, replace=True)
    log(f"WikiQA {split} index: {report.documents} documents, {report.sentences} sentences ({report.seconds:.0f}s)")
    return index_dir


def collect(
    index_dir: Path, questions: list[wikiqa.Question], label: Callable[[str, wikiqa.Question], bool], folds: np.ndarray
) -> Collected:
    """Candidates and features of every question, from the answer code itself, labelled by ``label``."""
    import torch

    from rag.answering.answer import candidates
    from rag.answering.query import parse_query
    from rag.answering.retrieve import clean_question
    from rag.indexing.search_index import open_index
    from rag.settings import AnswerOptions

    torch.set_num_threads(1)
    loaded, opts = open_index(index_dir), AnswerOptions()
    feats, labels, texts, starts = [], [], [], [0]
    for i, q in enumerate(questions):
        found = candidates(loaded, parse_query(clean_question(q.text, opts.max_question_chars)[0]), opts)
        sentences = [loaded.sentence_text(int(s)) for s in found.pool.sentences]
        feats.append(found.features)
        labels.append(np.array([label(s, q) for s in sentences], bool))
        texts += sentences
        starts.append(starts[-1] + len(sentences))
        if (i + 1) % 500 == 0:
            log(f"  candidates of {i + 1}/{len(questions)} questions")
    return Collected(np.vstack(feats), np.concatenate(labels), texts, np.array(starts), questions, folds)


def collect_wikiqa(index_dir: Path, questions: list[wikiqa.Question], folds: int) -> Collected:
    """WikiQA questions; a candidate is positive when it matches a Label-1 sentence (the benchmark's rule)."""
    return collect(index_dir, questions, wikiqa.is_correct, folds_by_document(questions, folds))


def collect_multihop(index_dir: Path, queries: list[dict[str, Any]], folds: int) -> Collected:
    """MultiHop-RAG dev queries: a candidate is positive when it is part of one of the query's evidence
    facts (null queries have none: the right answer is to abstain)."""
    questions = [wikiqa.Question(str(i), " ".join(q["query"].split()), "", tuple(e["fact"] for e in q["evidence_list"]))
                 for i, q in enumerate(queries)]  # fmt: skip
    return collect(index_dir, questions, in_evidence, multihop_folds(queries, folds))


def collect_article(index_dir: Path, gold: list[dict[str, Any]], folds: int) -> Collected:
    """The article dev questions over the bundled article: a candidate is positive when it holds a gold
    passage (off-topic questions have none)."""
    questions = [wikiqa.Question(str(i), g["q"], "", tuple(g.get("gold") or ())) for i, g in enumerate(gold)]
    return collect(index_dir, questions, holds_gold, np.arange(len(gold)) % folds)


def collect_faq(work: Path, faq_dir: Path, folds: int) -> Collected:
    """The FAQ documents (:mod:`benchmarks.faq_questions`) indexed without their question headings,
    asked those questions; folds by file."""
    from rag import build_index

    questions = faq_questions.write_corpus(faq_questions.check_sources(faq_dir), work / "faq_corpus")
    build_index([work / "faq_corpus"], work / "faq_index", progress=False, replace=True)
    log(f"collecting candidates of {len(questions)} FAQ questions ({sum(not q.answerable for q in questions)} answers removed)")
    return collect(work / "faq_index", questions, faq_questions.answers_it, faq_questions.folds_by_file(questions, folds))


def holds_gold(sentence: str, question: wikiqa.Question) -> bool:
    return any(g in sentence for g in question.gold)


def in_evidence(sentence: str, question: wikiqa.Question) -> bool:
    """A sentence of at least 6 words that lies inside a fact, or holds the fact's opening (MultiHop's rule)."""
    return len(sentence.split()) >= 6 and any(sentence in f or f[: max(40, len(f) // 2)] in sentence for f in question.gold)


def multihop_folds(queries: list[dict[str, Any]], folds: int) -> np.ndarray:
    """Queries sharing a fact share a fold (:func:`benchmarks.train_fusion.fact_groups`); null queries are spread evenly."""
    from .train_fusion import fact_groups

    answerable = [i for i, q in enumerate(queries) if q["evidence_list"]]
    out = np.array([i % folds for i in range(len(queries))])
    out[answerable] = fact_groups([queries[i] for i in answerable], folds)
    return out


def fit(parts: list[Collected], weights: list[float] | None = None, names: Sequence[str] | None = None) -> Any:
    """One LightGBM classifier over the candidates of every part (``weights``: one per part;
    ``names``: the feature columns, default :data:`rag.answering.triggering.FEATURES`)."""
    import lightgbm

    from rag.answering.triggering import FEATURES

    weights = weights or [1.0] * len(parts)
    x = np.vstack([p.features for p in parts])
    y = np.concatenate([p.labels for p in parts]).astype(int)
    w = np.concatenate([np.full(len(p.labels), wt) * p.row_weights() for p, wt in zip(parts, weights)])
    model = lightgbm.LGBMClassifier(**PARAMS)
    model.fit(x, y, sample_weight=w, feature_name=list(names or FEATURES))
    return model.booster_


def folds_by_document(questions: list[wikiqa.Question], folds: int) -> np.ndarray:
    """A fold per question; questions on the same document share a fold (deterministic)."""
    docs = sorted({q.doc for q in questions}, key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    fold_of_doc = {d: i % folds for i, d in enumerate(docs)}
    return np.array([fold_of_doc[q.doc] for q in questions])


def cross_validate(
    parts: list[Collected], folds: int, weights: list[float] | None = None, names: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Out-of-fold probability of every candidate row of every part (fold k of each part is scored by
    a model trained on the other folds of all parts)."""
    out = [np.zeros(len(p.labels), np.float32) for p in parts]
    for k in range(folds):
        train = [_subset(p, p.folds != k) for p in parts]
        booster = fit(train, weights, names)
        for p, o in zip(parts, out):
            held = p.row_folds() == k
            o[held] = booster.predict(p.features[held], num_threads=1)
        log(f"  fold {k + 1}/{folds} done")
    return out


def _subset(p: Collected, keep: np.ndarray) -> Collected:
    starts = np.concatenate([[0], np.cumsum(np.diff(p.starts)[keep])])
    questions = [q for q, k in zip(p.questions, keep) if k]
    rows = np.repeat(keep, np.diff(p.starts))
    return Collected(p.features[rows], p.labels[rows], [], starts, questions, p.folds[keep], p.null_weight)


def decide(data: Collected, probability: np.ndarray) -> tuple[list[str], list[float], list[list[str]]]:
    """Per question: the most probable candidate, its probability, and the evidence list (by probability)."""
    top, best, evidence = [], [], []
    for i in range(len(data.questions)):
        rows = data.rows(i)
        p, texts = probability[rows], data.texts[rows]
        order = np.argsort(-p, kind="stable")
        top.append(texts[order[0]] if len(order) else "")
        best.append(float(p[order[0]]) if len(order) else 0.0)
        evidence.append([texts[j] for j in order[:10]])
    return top, best, evidence


def figures_at(data: Collected, probability: np.ndarray, threshold: float) -> dict[str, Any]:
    """WikiQA answer-triggering figures when answering above ``threshold``."""
    top, best, evidence = decide(data, probability)
    first = [t if b >= threshold else None for t, b in zip(top, best)]
    return {"min_score": round(threshold, 4), **wikiqa.triggering(data.questions, first, evidence)}


def multihop_figures_at(data: Collected, probability: np.ndarray, threshold: float) -> dict[str, Any]:
    """Null queries that abstain, and answerable queries answered from their evidence, above ``threshold``."""
    _, best, _ = decide(data, probability)
    null = [b < threshold for q, b in zip(data.questions, best) if not q.answerable]
    supported = [b >= threshold and bool(probability[data.rows(i)][data.labels[data.rows(i)]].max(initial=-1) >= threshold)
                 for i, (q, b) in enumerate(zip(data.questions, best)) if q.answerable]  # fmt: skip
    return {"min_score": round(threshold, 4), "null_queries": len(null), "null_abstention": round(float(np.mean(null)), 4),
            "answerable": len(supported), "answered_with_evidence": round(float(np.mean(supported)), 4)}  # fmt: skip


def article_figures_at(data: Collected, probability: np.ndarray, threshold: float) -> dict[str, Any]:
    """Article dev figures (out-of-fold): P@1 of the most probable candidate, abstention of off-topic
    questions, false abstentions."""
    top, best, _ = decide(data, probability)
    answerable = [(holds_gold(t, q), b >= threshold) for q, t, b in zip(data.questions, top, best) if q.answerable]
    off_topic = [b < threshold for q, b in zip(data.questions, best) if not q.answerable]
    return {"min_score": round(threshold, 4), "P@1": round(float(np.mean([a for a, _ in answerable])), 4),
            "abstention": round(float(np.mean(off_topic)), 4), "false_abstentions": sum(not b for _, b in answerable)}  # fmt: skip


def scored(parts: list[Collected], probability: list[np.ndarray], threshold: float) -> dict[str, Any]:
    """The figures of WikiQA train, MultiHop-RAG dev, article dev and the FAQs when collected
    (``parts``, in that order) when answering above ``threshold`` with these per-candidate probabilities."""
    (wiki, multihop, article, *faq), (p_wiki, p_multihop, p_article, *p_faq) = parts, probability
    out = {"wikiqa_train": figures_at(wiki, p_wiki, threshold),
           "multihop_dev": multihop_figures_at(multihop, p_multihop, threshold),
           "article_dev": article_figures_at(article, p_article, threshold)}  # fmt: skip
    if faq:
        top, best, _ = decide(faq[0], p_faq[0])
        out["faq"] = faq_questions.figures_at(faq[0].questions, top, best, threshold)
    return out


def choose_thresholds(parts: list[Collected], oof: list[np.ndarray]) -> tuple[float, float]:
    """``(min_score, confident_score)``, from out-of-fold probabilities.

    ``min_score`` is set for people's own documents, where most questions are about what the
    documents hold: the *lowest* threshold at which questions without an answer still abstain as
    often as required (NULL_ABSTENTION of MultiHop's null queries, UNANSWERABLE_ABSTENTION of
    WikiQA's unanswerable ones, FAQ_ABSTENTION of the FAQ questions whose answer was removed, every
    off-topic article question), kept below the article's
    answerable questions. ``confident_score`` is the threshold that maximises WikiQA answer-triggering
    F1 (never below ``min_score``): answers between the two are given, marked uncertain.
    """
    (wiki, multihop, article, *faq), (wiki_oof, multihop_oof, article_oof, *faq_oof) = parts, oof
    top, best, _ = decide(wiki, wiki_oof)
    null = [b for q, b in zip(multihop.questions, decide(multihop, multihop_oof)[1]) if not q.answerable]
    unanswerable = [b for q, b in zip(wiki.questions, best) if not q.answerable]
    _, article_best, _ = decide(article, article_oof)
    off_topic = [b for q, b in zip(article.questions, article_best) if not q.answerable]
    removed = [b for q, b in zip(faq[0].questions, decide(faq[0], faq_oof[0])[1]) if not q.answerable] if faq else []
    floor = max(_quantile(null, NULL_ABSTENTION), _quantile(unanswerable, UNANSWERABLE_ABSTENTION), max(off_topic, default=0.0),
                _quantile(removed, FAQ_ABSTENTION))  # fmt: skip
    ceiling = min((b for q, b in zip(article.questions, article_best) if q.answerable), default=1.0)
    if floor >= ceiling:
        log(f"no threshold meets every goal (floor {floor:.4f} >= ceiling {ceiling:.4f}): the floor wins")
    low = float(np.nextafter(np.float32(floor), np.float32(1)))
    return low, max(low, wikiqa.best_threshold(wiki.questions, top, best, low))


def _quantile(values: list[float], share: float) -> float:
    """The value at or below which ``share`` of ``values`` lie: a threshold just above it makes that share abstain."""
    ordered = np.sort(values)
    return float(ordered[int(np.ceil(share * len(ordered))) - 1]) if len(ordered) else 0.0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    set_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_OUT / "tmp", help="folder for the WikiQA and article indexes")
    parser.add_argument("--multihop-index", type=Path, default=DEFAULT_OUT / "tmp" / "multihop_index")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cv-only", action="store_true", help="report cross-validation, do not write the model")
    parser.add_argument("--faq", type=Path, help="folder of the FAQ files listed in benchmarks/data/faq_sources.json")
    parser.add_argument("--cache", type=Path, help="keep the collected candidates here (plain .npz/.json) and reuse them")
    args = parser.parse_args(argv)
    from rag.answering import triggering

    started = time.perf_counter()
    parts = _parts(args)
    weights = WEIGHTS[: len(parts)]
    oof = cross_validate(parts, args.folds, weights)
    threshold, confident = choose_thresholds(parts, oof)
    cv = {"folds": args.folds, **scored(parts, oof, threshold), "at_confident_score": scored(parts, oof, confident),
          "calibration": {"wikiqa_train": calibration(parts[0], oof[0]), "multihop_dev": calibration(parts[1], oof[1])}}  # fmt: skip
    log(f"cross-validated: {cv}")
    card = model_card(parts, threshold, cv)
    card["confident_score"] = round(confident, 4)
    if not args.cv_only:
        booster = fit(parts, weights)
        triggering.MODEL_FILE.write_text(booster.model_to_string(), "utf-8")
        card["seconds"] = round(time.perf_counter() - started, 1)
        triggering.MODEL_INFO.write_text(json.dumps(card, indent=2) + "\n", "utf-8")
        log(f"wrote {triggering.MODEL_FILE} and {triggering.MODEL_INFO}")
    return card


def _parts(args: argparse.Namespace) -> list[Collected]:
    """Every part's candidates: from ``--cache`` when all are there, else collected (and cached)."""
    names = ["wikiqa_train", "multihop_dev", "article_dev", *(["faq"] if args.faq is not None else [])]
    bases = [args.cache / name for name in names] if args.cache is not None else []
    if bases and all(b.with_suffix(".npz").exists() for b in bases):
        log(f"candidates read from {args.cache}")
        return [load_part(b) for b in bases]
    parts = collect_all(args.work, args.multihop_index, args.folds)
    if args.faq is not None:
        parts.append(collect_faq(args.work, args.faq, args.folds))
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
        for part, base in zip(parts, bases):
            save_part(part, base)
    return parts


def collect_all(work: Path, multihop_index: Path, folds: int) -> list[Collected]:
    """WikiQA train, MultiHop-RAG dev and article dev candidates (indexes built when missing)."""
    from rag import build_index
    from rag.cli.evaluate import load_gold

    questions, _ = wikiqa.read_split("train")
    log(f"collecting candidates of {len(questions)} WikiQA train questions")
    wiki = collect_wikiqa(build("train", work), questions, folds)
    build_index([MULTIHOP_CORPUS], multihop_index, progress=False, replace=True)
    queries = json.loads(MULTIHOP_QUERIES.read_text("utf-8"))
    log(f"collecting candidates of {len(queries)} MultiHop-RAG dev queries")
    multihop = collect_multihop(multihop_index, queries, folds)
    multihop.null_weight = NULL_WEIGHT
    build_index([BUNDLED_CORPUS], work / "article_index", progress=False, replace=True)
    return [wiki, multihop, collect_article(work / "article_index", load_gold(ARTICLE_DEV), folds)]


def model_card(parts: list[Collected], threshold: float, cv: dict[str, Any]) -> dict[str, Any]:
    """What the model was trained on, with which settings, and how it scored out-of-fold."""
    from rag.answering.triggering import FEATURES

    names = ("wikiqa_train", "multihop_dev", "article_dev", "faq")
    files = (wikiqa.SPLITS["train"], MULTIHOP_QUERIES, ARTICLE_DEV, faq_questions.SOURCES)
    return {
        "features": list(FEATURES),
        "params": PARAMS,
        "weights": {**dict(zip(names[: len(parts)], WEIGHTS)), "multihop_null_queries": NULL_WEIGHT},
        "trained_on": {name: {"sha256": _sha256(path), "questions": len(p.questions), "candidates": int(len(p.labels)),
                              "positives": int(p.labels.sum())} for name, path, p in zip(names, files, parts)},
        "min_score": round(threshold, 4),
        "cross_validation": cv,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    main()
