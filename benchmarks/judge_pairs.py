"""The labelled pairs the judge learns from, one reader per data source, and the words two texts are compared by.

Every reader returns pairs grouped per article (or per file), so the training script can hold whole
articles back. A question's pairs share its ``group`` number (P@1 is per question).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import log

NEGATIVES = 3
"""Negative sentences per answerable question (the hardest by shared words, then random ones)."""

WORD_RE = re.compile(r"\w+")
STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "as",
    ]
)


@dataclass(frozen=True)
class Pair:
    question: str
    text: str  # :func:`rag.answering.judge.pair_text`
    label: float
    group: int  # the question's number (P@1 is per question)


def words(text: str) -> set[str]:
    """The lower-cased words of ``text`` that are not stop words (for "the hardest negatives share most")."""
    return {w for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS}


def squad_pairs(data: list[dict[str, Any]], rng: random.Random) -> list[list[Pair]]:
    """Per article, its questions' labelled pairs (questions numbered in order)."""
    from rag.answering.judge import pair_text
    from rag.ingestion.sentences import sentence_offsets

    articles, group = [], 0
    for article in data:
        title = article["title"].replace("_", " ")
        pairs: list[Pair] = []
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            spans = sentence_offsets(text)
            sentences = [text[a:b] for a, b in spans]
            for qa in paragraph["qas"]:
                if qa.get("ambiguous"):  # its answer text occurs twice: which sentence holds it is unknown
                    continue
                impossible = bool(qa.get("is_impossible"))
                gold = -1 if impossible else _sentence_of(spans, qa["answers"][0]["answer_start"])
                if not sentences or (not impossible and gold < 0):
                    continue
                for i in ([gold] if gold >= 0 else []) + _chosen(qa["question"], sentences, {gold}, rng):
                    previous = sentences[i - 1] if i > 0 else ""
                    pairs.append(Pair(qa["question"], pair_text(sentences[i], title, "", previous), float(i == gold), group))
                group += 1
        articles.append(pairs)
    return articles


def pipeline_pairs(articles: list[dict[str, Any]], index_dir: Path, rng: random.Random) -> list[list[Pair]]:
    """Per article, its questions' pairs as the judge meets them: the retrieval's best JUDGED candidates
    over an index of all ``articles`` (built here), labelled by the answer span's offset."""
    from rag import build_index
    from rag.answering.answer import rank_sentences
    from rag.answering.query import parse_query
    from rag.answering.retrieve import search
    from rag.answering.triggering import JUDGED, judged_text
    from rag.indexing.search_index import open_index
    from rag.settings import AnswerOptions

    corpus, starts = index_dir.parent / "squad_articles.jsonl", {}
    with open(corpus, "w", encoding="utf-8") as fh:
        for article in articles:
            title, text, offsets = article["title"].replace("_", " "), "", []
            for paragraph in article["paragraphs"]:
                offsets.append(len(text))
                text += paragraph["context"] + "\n\n"
            starts[title] = offsets
            fh.write(json.dumps({"title": title, "text": text}) + "\n")
    build_index([corpus], index_dir, progress=False)
    loaded, opts = open_index(index_dir), AnswerOptions()
    titles = {d.title: row for row, d in enumerate(loaded.documents())}
    out, group = [], 0
    for article in articles:
        title = article["title"].replace("_", " ")
        pairs: list[Pair] = []
        for paragraph, at in zip(article["paragraphs"], starts[title]):
            for qa in paragraph["qas"]:
                query = parse_query(" ".join(qa["question"].split()))
                found = search(loaded, query, opts.candidates, opts.mode)
                pool = rank_sentences(loaded, query.text, found.encoded.vectors[0], found.ids[: opts.k], found.scores[: opts.k])
                ids = [int(s) for s in pool.sentences[:JUDGED]]
                answer_at = None if qa.get("is_impossible") else at + qa["answers"][0]["answer_start"]
                gold = _gold_sentence(loaded, titles[title], answer_at)
                if gold is not None and gold not in ids:
                    ids[-1:] = [gold]  # retrieval missed it: the judge still learns what answers
                rows = loaded.sentence_documents(np.asarray(ids, np.int64))
                for s, row in zip(ids, rows):
                    text = judged_text(loaded, s, loaded.sentence_text(s), int(row))
                    pairs.append(Pair(qa["question"], text, float(s == gold), group))
                group += 1
        out.append(pairs)
        log(f"  candidates of {title}: {len(pairs)} pairs")
    return out


def _gold_sentence(loaded: Any, row: int, offset: int | None) -> int | None:
    if offset is None:
        return None
    span = loaded.document_sentences(row)
    for s in span:
        _, start, end = loaded.sentence_span(s)
        if start <= offset < end:
            return s
    return None


def squad_articles(paths: list[Path]) -> list[dict[str, Any]]:
    """The articles of every file, each title once (the first file that has it), by title."""
    seen: set[str] = set()
    out = []
    for path in paths:
        for article in json.loads(path.read_text("utf-8"))["data"]:
            if article["title"] not in seen:
                seen.add(article["title"])
                out.append(article)
    return sorted(out, key=lambda a: a["title"])


def trecqa_pairs(path: Path, group: int) -> list[Pair]:
    """TrecQA's labelled pairs (columns qtext, label, atext), each sentence read without context."""
    import csv

    from rag.answering.judge import pair_text

    numbers: dict[str, int] = {}
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            g = numbers.setdefault(row["qtext"], group + len(numbers))
            out.append(Pair(row["qtext"], pair_text(row["atext"], "", "", ""), float(row["label"] == "1"), g))
    return out


def selqa_items(paths: list[Path]) -> list[dict[str, Any]]:
    """The questions of SelQA answer-sentence-selection files, in file order."""
    return [item for path in paths for item in json.loads(path.read_text("utf-8"))]


def selqa_pairs(
    items: list[dict[str, Any]], rng: random.Random, group: int = 0, negatives: int | None = NEGATIVES
) -> tuple[list[list[Pair]], list[str]]:
    """SelQA answer-sentence-selection questions (Apache 2.0), per article: each question's answer
    sentences and up to NEGATIVES others of its Wikipedia section (the hardest by shared words, then
    random; every other sentence with ``negatives=None``), read with the article's title, the section and
    the sentence before, as at answer time. Returns the pairs per article and the article titles."""
    from rag.answering.judge import pair_text

    by_article: dict[str, list[Pair]] = {}
    for item in items:
        sentences, answers = item["candidates"], set(item["answers"])
        if not answers or not sentences:
            continue
        blank = {i for i, s in enumerate(sentences) if not s.strip()}
        others = (
            _chosen(item["question"], sentences, answers | blank, rng) if negatives is not None
            else [i for i in range(len(sentences)) if i not in answers | blank]
        )  # fmt: skip
        chosen = sorted(answers) + others
        pairs = by_article.setdefault(item["article"], [])
        for i in chosen:
            previous = next((sentences[j] for j in range(i - 1, -1, -1) if sentences[j].strip()), "")
            text = pair_text(sentences[i], item["article"], item.get("section", ""), previous)
            pairs.append(Pair(item["question"], text, float(i in answers), group))
        group += 1
    titles = sorted(by_article)
    return [by_article[t] for t in titles], titles


def _sentence_of(spans: list[tuple[int, int]], offset: int) -> int:
    return next((i for i, (a, b) in enumerate(spans) if a <= offset < b), -1)


def _chosen(question: str, sentences: list[str], answers: set[int], rng: random.Random) -> list[int]:
    """Up to NEGATIVES sentences not in ``answers``: the two sharing most question words, then random ones."""
    asked = words(question)
    others = [i for i in range(len(sentences)) if i not in answers]
    others.sort(key=lambda i: (-len(asked & words(sentences[i])), i))
    hard, rest = others[:2], others[2:]
    rng.shuffle(rest)
    return hard + rest[: NEGATIVES - len(hard)]
