"""Ranked chunks to an answer made of cited source sentences, or an abstention.

Follow-ups are first resolved against the conversation (:mod:`rag.answering.followup`), and broad questions
("Summarize the article") are answered with the most central sentences of the best document
(:mod:`rag.answering.broad`). Otherwise each sentence of the best chunks is ordered by a retrieval mix (its
in-context similarity to the question, the share of the question's IDF-weighted terms it contains,
and its chunk's score); the answer model (:mod:`rag.answering.triggering`) gives the best of them the
probability that they answer the question. The most probable become citations; when even the best
is below ``min_score`` the answer abstains.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering import broad, triggering
from rag.answering.followup import Turn, resolve
from rag.answering.judge import default_judge
from rag.answering.query import Query, parse_query
from rag.answering.retrieve import Searched, clean_question, search
from rag.answering.signals import query_tokens
from rag.answering.triggering import Pool
from rag.indexing.search_index import SearchIndex, open_index
from rag.records import Answer, Citation
from rag.settings import AnswerOptions, make_options

SENTENCE_WEIGHT, LEXICAL_WEIGHT, CHUNK_WEIGHT = 0.7, 0.2, 0.1
"""How the retrieval mix that picks the candidates weighs its parts (tuned on the article dev set)."""
NEAR_DUPLICATE = 0.92
"""Cosine above which a second sentence is a near-duplicate of a cited one and is skipped."""
ABSTAIN_TEXT = "The indexed documents do not answer this question."
REPEAT_MARGIN = 0.1
"""A sentence of the previous answer is cited again only when it beats every other candidate by this
much probability (the follow-up asks something new)."""


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
    turn = resolve(text, history, opts.max_question_chars)
    wanted = broad.parse(text)
    topic = _topic(wanted, turn) if wanted is not None else ""
    query = parse_query(topic or turn.text)
    loaded = open_index(index_dir, store_option=opts.store)
    t1 = time.perf_counter()
    timings = {"load": t1 - t0}
    if loaded.embedder.load():  # the first question of a process: model load is not encoding
        timings["model_load"] = time.perf_counter() - t1
        t1 = time.perf_counter()
    judge = default_judge()
    if wanted is None and judge is not None and judge.load():  # ... nor is loading the judge
        timings["judge_load"] = time.perf_counter() - t1
        t1 = time.perf_counter()
    found = search(loaded, query, opts.candidates, opts.mode)
    t2, t3 = t1 + found.seconds_encode, time.perf_counter()
    if wanted is not None:
        result = overview(loaded, text, query, found, topic, opts)
    else:
        pool = candidates(loaded, query, opts, found, turn)
        probability = triggering.default_model().probability(pool.features)
        result = compose(loaded, text, query.text, pool.pool, probability, opts, turn.previous_answer)
    t4 = time.perf_counter()
    timings.update(embed=t2 - t1, retrieve=t3 - t2, compose=t4 - t3, total=t4 - t0)
    return Answer(**{**result, "timings": {k: round(v, 5) for k, v in timings.items()}, "notices": notices})


def _topic(wanted: broad.Broad, turn: Turn) -> str:
    """What a broad question is about: the topic it names, or for "Summarize it" what the conversation
    was about ("" for the document(s) as a whole)."""
    if wanted.topic:
        return wanted.topic
    return turn.context[0] if wanted.refers_back and turn.context else ""


@dataclass(frozen=True)
class Candidates:
    """A question's candidate sentences (best first by the retrieval mix) and their answer-model features."""

    pool: Pool
    features: np.ndarray


def candidates(
    loaded: SearchIndex, query: Query, opts: AnswerOptions, found: Searched | None = None, turn: Turn | None = None
) -> Candidates:
    """Rank the sentences of the best chunks ``found`` (searched now if not given) and describe the
    best :data:`rag.answering.triggering.CANDIDATES` (for a follow-up ``turn``, the words it took from the
    previous question weigh less)."""
    found = found if found is not None else search(loaded, query, opts.candidates, opts.mode)
    qvec = found.encoded.vectors[0]
    context = _borrowed_terms(turn)
    pool = rank_sentences(loaded, query.text, qvec, found.ids[: opts.k], found.scores[: opts.k], context)
    pool = pool.head(max(triggering.CANDIDATES, opts.evidence))
    return Candidates(pool, triggering.features(loaded, query.text, query_tokens(query.text), pool, qvec, context))


def _borrowed_terms(turn: Turn | None) -> list[str]:
    """The terms a follow-up took from the previous question and does not use itself."""
    if turn is None or not turn.context:
        return []
    own = set(query_tokens(turn.question))
    return [t for t in query_tokens(" ".join(turn.context)) if t not in own]


def rank_sentences(
    loaded: SearchIndex,
    query: str,
    qvec: np.ndarray,
    chunk_ids: np.ndarray,
    chunk_scores: np.ndarray,
    context: Sequence[str] = (),
) -> Pool:
    """Every sentence of the given chunks once, best first by the retrieval mix (in-context
    similarity, term coverage and chunk score), with those parts."""
    best_chunk: dict[int, tuple[float, int]] = {}
    for rank, (c, score) in enumerate(zip(chunk_ids, chunk_scores)):
        for s in loaded.chunk_sentences(int(c)):
            known = best_chunk.get(s, (-1.0, rank))
            best_chunk[s] = (max(known[0], float(score)), min(known[1], rank))
    if not best_chunk:
        return Pool(*(np.zeros(0, t) for t in (np.int64, np.float32, np.float32, np.float32, np.float32, np.float32)))
    ids = np.fromiter(best_chunk, dtype=np.int64)
    dense = loaded.sentence_vectors(ids) @ qvec.astype(np.float32)
    lexical = lexical_overlap(loaded, query, [loaded.sentence_text(int(s)) for s in ids], context)
    # Relative to the best chunk, so the mix keeps one scale whatever the retrieval boosts.
    chunk = np.array([best_chunk[int(s)][0] for s in ids], np.float32) / max(float(np.max(chunk_scores)), 1e-9)
    ranks = np.array([best_chunk[int(s)][1] for s in ids], np.float32)
    scores = SENTENCE_WEIGHT * dense + LEXICAL_WEIGHT * lexical + CHUNK_WEIGHT * chunk
    order = np.argsort(-scores, kind="stable")
    return Pool(ids[order], dense[order], lexical[order], chunk[order], ranks[order], scores[order].astype(np.float32))


def lexical_overlap(loaded: SearchIndex, query: str, texts: Sequence[str], context: Sequence[str] = ()) -> np.ndarray:
    """Per text, the IDF-weighted share of the query's terms it contains (0..1); terms taken from the
    previous question (``context``) weigh less (:func:`rag.answering.triggering.term_weights`)."""
    return triggering.weighted_cover(triggering.term_weights(loaded, query_tokens(query), context), texts)


def compose(
    loaded: SearchIndex, question: str, query: str, pool: Pool, probability: np.ndarray, opts: AnswerOptions, previous: str = ""
) -> dict[str, Any]:
    """Pick the cited sentences (or abstain) by the answer model's probability and write the answer text.

    Sentences of the ``previous`` answer yield to any other candidate within REPEAT_MARGIN of
    them: a follow-up is cited the previous answer again only when it is still clearly the best.
    """
    texts = [loaded.sentence_text(int(s)) for s in pool.sentences]
    repeat = np.array([bool(previous) and t in previous for t in texts], bool)
    order = np.argsort(-(probability - REPEAT_MARGIN * repeat), kind="stable")[: opts.evidence]
    top = [_Scored(int(pool.sentences[i]), float(probability[i])) for i in order]
    best = max((c.score for c in top), default=0.0)
    abstained = not top or best < opts.min_score
    cited: list[_Scored] = []
    vecs = _vectors(loaded, top)
    for cand in [] if abstained else top:
        if len(cited) >= opts.max_citations:
            break
        if cand.score >= max(opts.min_score, opts.relative_cutoff * best) and not _near_duplicate(vecs, cand, cited):
            cited.append(cand)
    return {
        **_result(loaded, question, query, top, cited, abstained),
        "confident": not abstained and best >= opts.confident_score,
    }


def overview(
    loaded: SearchIndex, question: str, query: Query, found: Searched, topic: str, opts: AnswerOptions
) -> dict[str, Any]:
    """A broad question's answer: the most central sentences of the best document(s) for ``query``,
    on the ``topic`` if it names one (no topic, one document: that document; a topic that names a
    document's title: that document as a whole)."""
    named = broad.titled(loaded, topic) if topic else None
    if named is not None:  # "Summarize the meeting notes": that document as a whole
        rows, topic = [named], ""
    elif len(loaded.documents()) == 1 and not topic:
        rows = [0]
    else:
        rows = broad.documents(loaded, found.ids[: opts.k], found.scores[: opts.k])
    vector = found.encoded.vectors[0] if topic else None
    per_doc = [broad.central_sentences(loaded, row, query_tokens(topic), vector) for row in rows]
    ranked = [_Scored(s, score) for group in zip_longest(*per_doc) for s, score in (x for x in group if x)]
    cited: list[_Scored] = []
    vecs = _vectors(loaded, ranked)
    for cand in ranked:
        if len(cited) < opts.max_citations and not _near_duplicate(vecs, cand, cited):
            cited.append(cand)
    cited.sort(key=lambda c: c.sentence)  # in reading order
    rest = [c for c in ranked if c not in cited]
    return _result(loaded, question, query.text, (cited + rest)[: opts.evidence], cited, not cited)


def _vectors(loaded: SearchIndex, scored: list[_Scored]) -> dict[int, np.ndarray]:
    ids = np.array([s.sentence for s in scored], np.int64)
    return dict(zip(ids.tolist(), loaded.sentence_vectors(ids))) if len(ids) else {}


def _near_duplicate(vecs: dict[int, np.ndarray], cand: _Scored, cited: list[_Scored]) -> bool:
    return any(float(vecs[cand.sentence] @ vecs[c.sentence]) >= NEAR_DUPLICATE for c in cited)


def _result(
    loaded: SearchIndex, question: str, query: str, top: list[_Scored], cited: list[_Scored], abstained: bool
) -> dict[str, Any]:
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
