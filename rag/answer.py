"""Stage 7: ranked chunks to an answer made of cited source sentences, or an abstention.

Each sentence of the best chunks is scored by its in-context vector's similarity to the
question, the share of the question's (IDF-weighted) terms it contains, and its chunk's
score. The best sentences become citations; when even the best is weak the answer abstains.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .query import parse_query, with_history
from .records import Answer, Citation
from .retrieve import SearchIndex, clean_question, open_index, query_tokens, search
from .settings import AnswerOptions, make_options

SENTENCE_WEIGHT, LEXICAL_WEIGHT, CHUNK_WEIGHT = 0.7, 0.2, 0.1
"""How a sentence's score is mixed (tuned on the article dev set)."""
NEAR_DUPLICATE = 0.92
"""Cosine above which a second sentence is a near-duplicate of a cited one and is skipped."""
ABSTAIN_TEXT = "The indexed documents do not answer this question."


@dataclass(frozen=True)
class _Scored:
    sentence: int
    score: float


def answer(question: str, index_dir: str | Path = "index", history: Sequence[Any] | None = None, **options: Any) -> Answer:
    """Answer ``question`` from the index at ``index_dir`` with cited source sentences.

    ``history`` holds earlier turns (strings, ``(question, answer)`` pairs or chat messages
    ``{"role": "user", "content": ...}``); it resolves follow-ups such as "Who did he meet there?".
    Options are those of :class:`rag.settings.AnswerOptions`.

    >>> a = answer("Who did Kim Jong Un meet in Russia?")   # doctest: +SKIP
    >>> a.citations[0].text[:47]                             # doctest: +SKIP
    'This achievement follows Kim Jong Un’s visit to'
    """
    t0 = time.perf_counter()
    opts = make_options(AnswerOptions, options)
    text, notices = clean_question(question, opts.max_question_chars)
    query = parse_query(with_history(text, history, opts.max_question_chars))
    loaded = open_index(index_dir, store_option=opts.store)
    t1 = time.perf_counter()
    timings = {"load": t1 - t0}
    if loaded.embedder.load():  # the first question of a process: model load is not encoding
        timings["model_load"] = time.perf_counter() - t1
        t1 = time.perf_counter()
    found = search(loaded, query, opts.candidates, opts.mode)
    t2 = t1 + found.seconds_encode
    chunk_ids, chunk_scores = found.ids, found.scores
    ranked = rank_sentences(loaded, query.text, found.encoded.vectors[0], chunk_ids[: opts.k], chunk_scores[: opts.k])
    t3 = time.perf_counter()
    result = compose(loaded, text, query.text, ranked, opts)
    timings.update(embed=t2 - t1, retrieve=t3 - t2, compose=time.perf_counter() - t3)
    timings["total"] = time.perf_counter() - t0
    return Answer(**{**result, "timings": {k: round(v, 5) for k, v in timings.items()}, "notices": notices})


def rank_sentences(
    loaded: SearchIndex, query: str, qvec: np.ndarray, chunk_ids: np.ndarray, chunk_scores: np.ndarray
) -> list[_Scored]:
    """Every sentence of the given chunks once, with its score, best first."""
    best_chunk: dict[int, float] = {}
    for c, score in zip(chunk_ids, chunk_scores):
        for s in loaded.chunk_sentences(int(c)):
            best_chunk[s] = max(best_chunk.get(s, -1.0), float(score))
    if not best_chunk:
        return []
    ids = np.fromiter(best_chunk, dtype=np.int64)
    dense = loaded.sentence_vectors(ids) @ qvec.astype(np.float32)
    lexical = lexical_overlap(loaded, query, [loaded.sentence_text(int(s)) for s in ids])
    # Relative to the best chunk, so the mix keeps one scale whatever the retrieval boosts.
    context = np.array([best_chunk[int(s)] for s in ids], np.float32) / max(float(np.max(chunk_scores)), 1e-9)
    scores = SENTENCE_WEIGHT * dense + LEXICAL_WEIGHT * lexical + CHUNK_WEIGHT * context
    order = np.argsort(-scores, kind="stable")
    return [_Scored(int(ids[i]), float(scores[i])) for i in order]


def lexical_overlap(loaded: SearchIndex, query: str, texts: Sequence[str]) -> np.ndarray:
    """Per text, the IDF-weighted share of the query's terms it contains (0..1)."""
    terms = set(query_tokens(query))
    weights = {t: loaded.term_weight(t) for t in terms}
    total = sum(weights.values())
    if not total:
        return np.zeros(len(texts), np.float32)
    return np.array([sum(weights[t] for t in terms.intersection(query_tokens(text))) / total for text in texts], np.float32)


def compose(loaded: SearchIndex, question: str, query: str, ranked: list[_Scored], opts: AnswerOptions) -> dict[str, Any]:
    """Pick the cited sentences (or abstain) and write the answer text."""
    top = ranked[: opts.evidence]
    abstained = not top or top[0].score < opts.min_score
    cited: list[_Scored] = []
    if not abstained:
        vecs = dict(zip((s.sentence for s in top), loaded.sentence_vectors(np.array([s.sentence for s in top], np.int64))))
        for cand in top:
            if len(cited) >= opts.max_citations or cand.score < opts.relative_cutoff * top[0].score:
                break
            if all(float(vecs[cand.sentence] @ vecs[c.sentence]) < NEAR_DUPLICATE for c in cited):
                cited.append(cand)
    numbers = {c.sentence: n for n, c in enumerate(cited, 1)}
    evidence = [_citation(loaded, s, numbers.get(s.sentence, 0)) for s in top]
    citations = [e for e in evidence if e.n]
    text = ABSTAIN_TEXT if abstained else " ".join(f"{c.text} [{c.n}]" for c in citations)
    return {
        "question": question,
        "text": text,
        "citations": citations,
        "evidence": evidence,
        "abstained": abstained,
        "query": query,
    }


def _citation(loaded: SearchIndex, scored: _Scored, n: int) -> Citation:
    doc, start, end = loaded.sentence_span(scored.sentence)
    return Citation(
        n, doc.text[start:end], doc.id, doc.title, doc.url or doc.source, doc.date, start, end, round(scored.score, 4)
    )
