"""Metrics on gold data (formats of ``shared/eval/README.md``).

* Article format (JSON Lines ``{"q": ..., "gold": [substring, ...]}``): P@1, R@3,
  abstention on unanswerable questions, false abstentions.
* MultiHop-RAG format (JSON list with ``query`` and ``evidence_list``): chunk-level
  Hits@10, Hits@4, MRR@10 over non-null queries, and abstention on null queries.

Both carry ``warnings``: e.g. an index that holds none of the gold documents scores 0
everywhere, which says nothing about the system (the index is the wrong one).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.answer import answer
from rag.answering.retrieve import retrieve
from rag.errors import InputError
from rag.indexing.search_index import open_index


def load_gold(path: str | Path) -> list[dict[str, Any]]:
    """Gold records (JSON objects) from a JSON list or a JSON Lines file; InputError otherwise."""
    try:
        text = Path(path).read_text("utf-8")
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [
                json.loads(line) for line in text.split("\n") if line.strip()
            ]  # not splitlines: U+2028 is valid inside JSON
    except (OSError, ValueError) as err:  # unreadable, not UTF-8, invalid JSON
        raise InputError(f"{path}: cannot read gold data ({' '.join(str(err).split())[:200]})") from None
    except RecursionError:
        raise InputError(f"{path}: cannot read gold data (JSON nested too deeply)") from None
    bad = next((n for n, r in enumerate(records if isinstance(records, list) else [records], 1) if not isinstance(r, dict)), 0)
    if bad:
        raise InputError(f"{path}: cannot read gold data (record {bad} is not a JSON object)")
    return list(records)


def evaluate(
    path: str | Path,
    index_dir: str | Path = "index",
    mode: str = "hybrid",
    limit: int | None = None,
    on_warning: Callable[[str], None] | None = None,
    store: str = "auto",
) -> dict[str, Any]:
    """Metrics for the gold file at ``path`` (format detected from its records), with a
    ``warnings`` list; ``on_warning`` is also called with each one before scoring starts;
    ``store`` as for :func:`rag.answer`."""
    gold = load_gold(path)[:limit]
    warnings = gold_warnings(gold, index_dir, store)
    for warning in warnings:
        if on_warning:
            on_warning(warning)
    if gold and "evidence_list" in gold[0]:
        metrics = multihop_metrics(gold, index_dir, mode, store)
    else:
        metrics = article_metrics(gold, index_dir, mode, store)
    return {**metrics, "warnings": warnings}


def gold_warnings(gold: list[dict[str, Any]], index_dir: str | Path, store: str = "auto") -> list[str]:
    """Why the scores would mean nothing: the index holds none of the documents the gold comes from.

    MultiHop-RAG evidence is matched to indexed documents by url, else by title; article-format
    gold by its substrings occurring in an indexed document's text.
    """
    docs = open_index(index_dir, store_option=store).documents()
    where = os.path.abspath(index_dir)
    evidence = [e for g in gold for e in g.get("evidence_list", []) if isinstance(e, dict)]
    if evidence:
        urls, titles = {d.url for d in docs if d.url}, {d.title for d in docs if d.title}
        wanted = {e.get("url") or e.get("title") for e in evidence} - {None, ""}
        found = {e.get("url") or e.get("title") for e in evidence if e.get("url") in urls or e.get("title") in titles}
        if wanted and not found:
            return [
                f"the index at {where} holds none of the {len(wanted)} documents the gold evidence comes from, so "
                "every score will be 0: build an index of their corpus (`rag build CORPUS --index DIR`) and pass --index DIR"
            ]
        return []
    passages = {s for g in gold for s in g.get("gold") or [] if isinstance(s, str) and s}
    if passages and not any(s in d.text for s in passages for d in docs):
        return [
            f"the index at {where} holds none of the {len(passages)} gold passages, so every answer will score 0: "
            "build an index of the documents they come from (`rag build PATHS --index DIR`) and pass --index DIR"
        ]
    return []


def article_metrics(
    gold: list[dict[str, Any]], index_dir: str | Path, mode: str = "hybrid", store: str = "auto"
) -> dict[str, Any]:
    answerable = [g for g in gold if g.get("gold")]
    off_topic = [g for g in gold if not g.get("gold")]
    p1 = r3 = false_abstentions = abstained = 0
    failures = []
    for g in answerable:
        a = answer(g["q"], index_dir=index_dir, mode=mode, store=store)
        hits = [any(s in c.text for s in g["gold"]) for c in a.citations[:3]]
        p1 += bool(hits[:1] and hits[0])
        r3 += any(hits)
        false_abstentions += a.abstained
        if not (hits[:1] and hits[0]):
            failures.append(g["q"])
    for g in off_topic:
        abstained += answer(g["q"], index_dir=index_dir, mode=mode, store=store).abstained
    n = max(len(answerable), 1)
    return {
        "questions": len(gold),
        "answerable": len(answerable),
        "P@1": round(p1 / n, 4),
        "R@3": round(r3 / n, 4),
        "abstention": round(abstained / max(len(off_topic), 1), 4),
        "off_topic": len(off_topic),
        "false_abstentions": false_abstentions,
        "failures": failures,
    }


def fact_found(fact: str, chunk: str) -> bool:
    """The MultiHop-RAG rule: the chunk contains the fact or its first max(40, len/2) characters."""
    return fact in chunk or fact[: max(40, len(fact) // 2)] in chunk


def ranking_scores(found: np.ndarray) -> tuple[float, float, float]:
    """Hits@10, Hits@4 and reciprocal rank (within 10) of one query, from ``found[fact, rank]``:
    whether the chunk at that rank holds the fact (the MultiHop-RAG paper's definitions).

    >>> ranking_scores(np.array([[False, True], [False, False]]))
    (0.5, 0.5, 0.5)
    """
    top = found[:, :10]
    first = np.flatnonzero(top.any(axis=0))
    return float(top.any(axis=1).mean()), float(top[:, :4].any(axis=1).mean()), 1 / (int(first[0]) + 1) if len(first) else 0.0


def multihop_metrics(
    queries: list[dict[str, Any]], index_dir: str | Path, mode: str = "hybrid", store: str = "auto"
) -> dict[str, Any]:
    hits10 = hits4 = mrr = 0.0
    scored = nulls = null_abstained = 0
    started = time.perf_counter()
    for q in queries:
        facts = [e["fact"] for e in q.get("evidence_list", [])]
        if not facts:
            nulls += 1
            if mode == "hybrid":
                null_abstained += answer(q["query"], index_dir=index_dir, store=store).abstained
            continue
        chunks = [h.text for h in retrieve(q["query"], k=10, index_dir=index_dir, mode=mode, store=store)]
        h10, h4, rr = ranking_scores(np.array([[fact_found(f, c) for c in chunks] for f in facts], bool))
        hits10, hits4, mrr = hits10 + h10, hits4 + h4, mrr + rr
        scored += 1
    n = max(scored, 1)
    out: dict[str, Any] = {
        "mode": mode,
        "queries": scored,
        "Hits@10": round(hits10 / n, 4),
        "Hits@4": round(hits4 / n, 4),
        "MRR@10": round(mrr / n, 4),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if mode == "hybrid":
        out["null_queries"] = nulls
        out["null_abstention"] = round(null_abstained / max(nulls, 1), 4)
    return out
