"""Does this sentence answer the question? A learned, calibrated answer/abstain model.

Every candidate sentence (the best of the retrieved chunks, see :func:`rag.answering.answer.rank_sentences`)
gets the numbers in :data:`FEATURES`: its in-context similarity to the question, the
IDF-weighted share of the question's terms it holds (alone, with its document's title, and
anywhere in its document), the rarest question term its document lacks, its BM25, its chunk's
retrieval score and rank, its rank and margin among the candidates, where it sits in its
document, and answer-type cues (:mod:`rag.answering.cues`: a "when" question wants a date, "how many"
a number, "who" a name). A small LightGBM classifier (``triggering_model.txt``, plain text,
trained by ``benchmarks/train_triggering.py`` on WikiQA train questions asked against an index
of all their documents) turns them into the probability that the sentence answers the
question. The answer cites the most probable sentences and abstains when even the best is
below ``min_score``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering import cues
from rag.answering.judge import default_judge, pair_text
from rag.answering.lgbm import PlainTextModel

MODEL_FILE = Path(__file__).with_name("triggering_model.txt")
MODEL_INFO = Path(__file__).with_name("triggering_model.json")
CONTEXT_WEIGHT = 0.3
"""Weight of the terms a follow-up took from the previous question ("the new library" in "And who
voted against the new library?") beside its own, in term coverage: they say where to look, its own
words what to find."""
CANDIDATES = 20
"""Sentences (best by the retrieval mix) the model scores for one question."""
ISOLATED = 4
"""The best few are also embedded on their own (their similarity to the question without the
context around them); each costs about one more query encode, so only a few."""
TITLE_WORDS = 12
"""An isolated sentence is embedded after the first words of its document's title ("Alden library.
Councillors ... voted against it"), which say what its pronouns refer to."""

FEATURES = (
    "dense",  # question vs the sentence's in-context vector
    "dense_gap",  # ... minus the best candidate's
    "dense_rank",
    "isolated",  # question vs the sentence embedded on its own after its title (the best ISOLATED; missing for the rest)
    "isolated_gap",
    "cover",  # IDF-weighted share of the question's terms in the sentence
    "cover_gap",
    "cover_rank",
    "title_in_question",  # IDF-weighted share of its document title's terms that the question holds
    "cover_title",  # ... in the sentence or its document's title
    "cover_doc",  # ... anywhere in its document (title included)
    "missing_idf",  # IDF share of the rarest question term its document lacks
    "bm25",  # sentence BM25 / best sentence BM25 in the index
    "question_names",  # capitalised names in the question ("New York Times", "GDP")
    "names_in_sentence",  # share of them the sentence mentions (1 without names)
    "names_in_doc",  # share its document mentions (text, title or source)
    "names_missing",  # how many its document lacks
    "chunk",  # its best chunk's retrieval score / the best chunk's
    "chunk_rank",
    "mix",  # the retrieval mix that picked the candidates, its rank, gap to the best, margin to the next
    "mix_rank",
    "mix_gap",
    "margin",
    "position",  # sentence number in its document (0: the lead)
    # Deliberately absent: sentence, question and document lengths. They describe a data set more
    # than a match (WikiQA's short caption "sentences" never answer), and made the model
    # under-confident on other documents.
    "cue_date",
    "cue_number",
    "cue_quantity",
    "cue_names",
    "cue_reason",
    "cue_definition",
    "type_match",  # the sentence offers what the question type wants
    "type_match_any",  # some candidate does
    *(f"wants_{kind}" for kind in cues.QUESTION_TYPES),
    "judge",  # the cross-encoder's P(answers), question and sentence read together (the best JUDGED; missing for the rest)
    "judge_gap",  # ... minus the best judged candidate's
    "judge_rank",
)
JUDGED = 8
"""Candidates (best by the retrieval mix) the judge reads: each costs about 4 ms on one thread."""


@dataclass(frozen=True)
class Pool:
    """Candidate sentences of one question, best first by the retrieval mix, with what that mix knew."""

    sentences: np.ndarray  # sentence rows of the index
    dense: np.ndarray
    cover: np.ndarray
    chunk: np.ndarray  # best chunk score relative to the best chunk
    chunk_rank: np.ndarray
    mix: np.ndarray

    def head(self, n: int) -> Pool:
        return Pool(*(a[:n] for a in (self.sentences, self.dense, self.cover, self.chunk, self.chunk_rank, self.mix)))


def term_weights(loaded: Any, terms: Sequence[str], context: Sequence[str] = ()) -> dict[str, float]:
    """IDF of each of the question's terms (terms unknown to the index weigh most); the terms a
    follow-up took from the previous question (``context``) weigh CONTEXT_WEIGHT as much."""
    borrowed = set(context)
    return {t: loaded.term_weight(t) * (CONTEXT_WEIGHT if t in borrowed else 1.0) for t in set(terms)}


def weighted_cover(weights: dict[str, float], texts: Sequence[str]) -> np.ndarray:
    """Per text, the share of the total weight of ``weights`` (term -> weight) held by the terms it
    contains (0..1; all 0 when nothing weighs)."""
    total = sum(weights.values())
    if not total:
        return np.zeros(len(texts), np.float32)
    return np.array([sum(weights[t] for t in set(_terms(text)) if t in weights) / total for text in texts], np.float32)


def features(
    loaded: Any, question: str, terms: Sequence[str], pool: Pool, qvec: np.ndarray, context: Sequence[str] = ()
) -> np.ndarray:
    """The ``(len(pool.sentences), len(FEATURES))`` matrix for one question (``terms``: its BM25
    terms, ``qvec``: its vector, ``context``: terms a follow-up took from the previous question)."""
    n = len(pool.sentences)
    if not n:
        return np.zeros((0, len(FEATURES)), np.float32)
    texts = [loaded.sentence_text(int(s)) for s in pool.sentences]
    rows = loaded.sentence_documents(pool.sentences)
    docs = loaded.documents()
    kind = cues.question_type(question)
    isolated = np.full(n, np.nan, np.float32)
    titled = [f"{' '.join(docs[int(r)].title.split()[:TITLE_WORDS])}. {t}" for t, r in zip(texts[:ISOLATED], rows)]
    isolated[:ISOLATED] = loaded.embedder.embed(titled) @ qvec.astype(np.float32)
    columns = {
        "dense": pool.dense,
        "dense_gap": pool.dense - pool.dense.max(),
        "dense_rank": _rank(pool.dense),
        "isolated": isolated,
        "isolated_gap": isolated - np.nanmax(isolated),
        "cover": pool.cover,
        "cover_gap": pool.cover - pool.cover.max(),
        "cover_rank": _rank(pool.cover),
        **_coverage(loaded, term_weights(loaded, terms, context), texts, rows),
        "bm25": _sentence_bm25(loaded, list(terms), pool.sentences),
        "chunk": pool.chunk,
        "chunk_rank": pool.chunk_rank,
        "mix": pool.mix,
        "mix_rank": np.arange(n),  # the pool is sorted by the mix
        "mix_gap": pool.mix - pool.mix[0],
        "margin": pool.mix - np.append(pool.mix[1:], pool.mix[-1]),
        "position": np.minimum(pool.sentences - np.array([loaded.document_sentences(int(r)).start for r in rows]), 50),
        **_cue_columns(question, kind, texts),
        **_name_columns(loaded, question, texts, rows),
        **_judge_columns(loaded, question, pool.sentences, texts, rows),
    }
    for other in cues.QUESTION_TYPES:
        columns[f"wants_{other}"] = np.full(n, float(other == kind))
    return np.stack([np.asarray(columns[name], np.float32) for name in FEATURES], axis=1)


def _rank(x: np.ndarray) -> np.ndarray:
    out = np.empty(len(x), np.float32)
    out[np.argsort(-x, kind="stable")] = np.arange(len(x))
    return out


def _coverage(loaded: Any, weights: dict[str, float], texts: list[str], rows: np.ndarray) -> dict[str, np.ndarray]:
    """IDF-weighted share of the question's terms in each sentence with its title, in its document,
    and the share of the rarest one its document lacks (terms unknown to the index weigh most);
    and the share of the title's terms the question holds."""
    total = sum(weights.values()) or 1.0
    docs = loaded.documents()
    titles = {int(r): set(_terms(docs[int(r)].title)) for r in np.unique(rows)}
    in_docs = _document_terms(loaded, list(weights), np.unique(rows))
    out = np.zeros((4, len(texts)), np.float32)
    for i, (text, row) in enumerate(zip(texts, rows)):
        title = titles[int(row)]
        in_title = set(_terms(text)) | title
        in_doc = in_docs.get(int(row), set()) | in_title
        out[0, i] = sum(w for t, w in weights.items() if t in in_title) / total
        out[1, i] = sum(w for t, w in weights.items() if t in in_doc) / total
        out[2, i] = max((w for t, w in weights.items() if t not in in_doc), default=0.0) / total
        title_weights = [loaded.term_weight(t) for t in title]
        out[3, i] = sum(w for t, w in zip(title, title_weights) if t in weights) / (sum(title_weights) or 1.0)
    return {"cover_title": out[0], "cover_doc": out[1], "missing_idf": out[2], "title_in_question": out[3]}


def _name_columns(loaded: Any, question: str, texts: list[str], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Whether the sentence and its document mention the names the question asks about."""
    wanted = [n.lower() for n in cues.names(question)]
    n = len(texts)
    if not wanted:
        return {
            "question_names": np.zeros(n),
            "names_in_sentence": np.ones(n),
            "names_in_doc": np.ones(n),
            "names_missing": np.zeros(n),
        }
    docs = {int(r): _doc_text(loaded.documents()[int(r)]) for r in np.unique(rows)}
    in_sentence = np.array([sum(w in t.lower() for w in wanted) for t in texts], np.float32)
    in_doc = np.array([sum(w in docs[int(r)] for w in wanted) for r in rows], np.float32)
    return {
        "question_names": np.full(n, len(wanted)),
        "names_in_sentence": in_sentence / len(wanted),
        "names_in_doc": in_doc / len(wanted),
        "names_missing": len(wanted) - in_doc,
    }


def _judge_columns(
    loaded: Any, question: str, sentences: np.ndarray, texts: list[str], rows: np.ndarray
) -> dict[str, np.ndarray]:
    """The judge's probability for the best JUDGED candidates, its gap to the best and its rank."""
    n, k = len(texts), min(JUDGED, len(texts))
    found, rank = np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32)
    judge = default_judge()
    if judge is None or not k:  # no judge installed (or no candidate): the model sees missing values
        return {"judge": found, "judge_gap": found.copy(), "judge_rank": rank}
    pairs = [judged_text(loaded, int(sentences[i]), texts[i], int(rows[i])) for i in range(k)]
    found[:k] = judge.probability([question] * k, pairs)
    rank[:k] = _rank(found[:k])
    return {"judge": found, "judge_gap": found - np.nanmax(found), "judge_rank": rank}


def judged_text(loaded: Any, sentence: int, text: str, row: int) -> str:
    """A candidate as the judge reads it: with its document's title, its section and the sentence before it."""
    from rag.ingestion.structure import section_at

    doc, start, _ = loaded.sentence_span(sentence)
    first = loaded.document_sentences(row).start
    previous = loaded.sentence_text(sentence - 1) if sentence > first else ""
    return pair_text(text, doc.title, section_at(doc, start), previous)


def _doc_text(doc: Any) -> str:
    return f"{doc.title}\n{doc.source}\n{doc.text}".lower()


def _cue_columns(question: str, kind: str, texts: list[str]) -> dict[str, np.ndarray]:
    qwords = cues.words(question)
    found = np.array([(*c, cues.type_match(kind, c)) for c in (cues.sentence_cues(t, qwords) for t in texts)], np.float32)
    names = ("cue_date", "cue_number", "cue_quantity", "cue_names", "cue_reason", "cue_definition", "type_match")
    return {**{name: found[:, j] for j, name in enumerate(names)}, "type_match_any": np.full(len(texts), found[:, -1].max())}


def _terms(text: str) -> list[str]:
    from rag.indexing.lexical import terms

    return terms(text)


def _document_terms(loaded: Any, terms: list[str], rows: np.ndarray) -> dict[int, set[str]]:
    """Which of ``terms`` occur in each document row of ``rows`` (any of its sentences)."""
    if not terms:
        return {}
    spans = [loaded.document_sentences(int(r)) for r in rows]
    ids = np.concatenate([np.arange(s.start, s.stop) for s in spans]).astype(np.int64)
    present = loaded.sentence_coverage([[t] for t in terms], ids) > 0  # (terms, sentences)
    out: dict[int, set[str]] = {}
    at = 0
    for r, span in zip(rows, spans):
        hit = present[:, at : at + len(span)].any(axis=1)
        at += len(span)
        out[int(r)] = {t for t, h in zip(terms, hit) if h}
    return out


def _sentence_bm25(loaded: Any, terms: list[str], sentences: np.ndarray) -> np.ndarray:
    """Sentence BM25 over the best sentence of the whole index (0..1)."""
    lexical = loaded.sentence_lexical([terms]) if terms else None
    if lexical is None:
        return np.zeros(len(sentences), np.float32)
    return np.asarray(lexical.scores(np.asarray(sentences, np.int64))[0], np.float32)


class TriggerModel(PlainTextModel):
    """The LightGBM classifier over :data:`FEATURES`, loaded from its plain-text model file."""

    def __init__(self, path: Path = MODEL_FILE):
        super().__init__(path, FEATURES, "answer model", "benchmarks/train_triggering.py")

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.predict(x)


_model: dict[Path, TriggerModel] = {}
_model_lock = threading.Lock()


def default_model(path: Path = MODEL_FILE) -> TriggerModel:
    """The shipped model, loaded once per process."""
    with _model_lock:
        if path not in _model:
            _model[path] = TriggerModel(path)
        return _model[path]


def model_info(path: Path = MODEL_INFO) -> dict[str, Any]:
    """What the shipped model was trained on and how it scored (``{}`` without one)."""
    return json.loads(path.read_text("utf-8")) if path.exists() else {}
