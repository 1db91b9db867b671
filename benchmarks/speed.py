"""Build, update and answer speed, memory and index size, each beside a bare reference.

Absolute times are noisy on shared machines, so every time is a ratio to a reference
measured in the same run:

* full build of the MultiHop-RAG corpus vs ``SentenceTransformer.encode`` of exactly the
  texts the build embeds (its sentence windows, metadata line included);
* incremental build after appending one article vs the full build; unchanged rebuild;
* warm :func:`rag.answer` latency (p50, p95) vs one bare ``model.encode([question])``, with
  torch's default threads and with one thread (robust to other load on the machine);
* cold ``rag ask`` in a fresh process vs a bare process importing sentence_transformers
  and loading the model (median of 3 each, interleaved);
* peak RSS of ``rag ask --batch`` (answering the latency questions) and index size on disk.

Usage::

    python -m benchmarks.speed [--smoke] [--repeats N] [--resume] [--out DIR] [--md FILE]

The corpus is copied to ``<out>/tmp/speed/`` and indexed from scratch there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    MULTIHOP_CORPUS,
    MULTIHOP_QUERIES,
    figure,
    log,
    machine,
    parse_args,
    pin_rag_modules,
    set_offline_env,
    work_dir,
)
from .processes import bare_model_process, cold_ask, index_bytes, peak_rss_answering
from .report import write_results

SMOKE_ARTICLES = 20
QUESTIONS, SMOKE_QUESTIONS = 50, 10
BATCH_SIZE = 32
"""The build's default embedding batch size (``BuildOptions.batch_size``), used for the bare encode too."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    set_offline_env()
    args = parse_args("Speed benchmark: build, update, answer, cold start, memory.", argv, _extra_args)
    pin_rag_modules()
    started, info = time.perf_counter(), machine()  # checkout state as imported, before rag/ may change
    work = work_dir(args, "speed")
    checkpoint = work / "partial.json"
    m: dict[str, Any] = json.loads(checkpoint.read_text("utf-8")) if args.resume and checkpoint.exists() else {}
    corpus, index_dir = work / "corpus.json", work / "index"
    if "builds" not in m:
        prepare_corpus(corpus, SMOKE_ARTICLES if args.smoke else None)
        shutil.rmtree(index_dir, ignore_errors=True)  # always a full build
    questions = dev_questions(SMOKE_QUESTIONS if args.smoke else QUESTIONS)
    phases = {
        "builds": lambda: measure_builds(corpus, index_dir),
        "warm": lambda: measure_warm(index_dir, questions),
        "warm_1thread": lambda: measure_warm(index_dir, questions, threads=1),
        "cold": lambda: measure_cold(index_dir, questions[0], args.repeats or (1 if args.smoke else 3)),
        "memory": lambda: peak_rss_answering(index_dir, questions, work),
        "size": lambda: {"index_bytes": index_bytes(index_dir), "current_version_bytes": index_bytes(index_dir, current=True)},
    }
    resumed = [name for name in phases if name in m]  # measured by an earlier run (maybe older code)
    m.setdefault("load_average", {"start": _load()})
    for name, measure in phases.items():
        if name not in m:
            m[name] = measure()
            m["load_average"][f"after_{name}"] = _load()  # 1-minute load: how busy the shared machine was
            checkpoint.write_text(json.dumps(m, indent=1), "utf-8")
    results = {
        "kind": "speed",
        "smoke": args.smoke,
        "machine": info,
        "corpus": corpus_info(corpus, m["builds"]),
        "measurements": m,
        "resumed_phases": resumed,
        "figures": figures(m, corpus),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_results(args, "speed", results)
    checkpoint.unlink()
    return results


def _extra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, help="cold-start runs of each process (median; default 3, 1 with --smoke)")
    parser.add_argument("--resume", action="store_true", help="keep the phases a failed run finished (tmp/speed/partial.json)")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def prepare_corpus(path: Path, articles: int | None) -> None:
    """A copy of the MultiHop-RAG corpus (its first ``articles`` records in smoke runs)."""
    records = json.loads(MULTIHOP_CORPUS.read_text("utf-8"))
    path.write_text(json.dumps(records[:articles], ensure_ascii=False), "utf-8")


def new_article(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An article of typical length that the corpus does not hold (a follow-up of its median one)."""
    median = sorted(records, key=lambda r: len(r["body"]))[len(records) // 2]
    body = f"Editor's note: this follow-up was published a day after the original report.\n\n{median['body']}"
    return {**median, "title": f"Follow-up: {median['title']}", "url": median["url"] + "#follow-up", "body": body}


def dev_questions(n: int) -> list[str]:
    return [q["query"] for q in json.loads(MULTIHOP_QUERIES.read_text("utf-8"))[:n]]


def measure_builds(corpus: Path, index_dir: Path) -> dict[str, Any]:
    """Full build, bare encode of the texts it embeds, +1 article, unchanged rebuild (in this process)."""
    from rag import build_index

    log(f"full build of {corpus} (budget ~6 min for the whole corpus)")
    full = build_index([corpus], index_dir, progress=False)
    log(f"  {full.chunks} chunks in {full.seconds:.1f}s")
    encode = bare_encode(embedded_texts(index_dir))
    log(f"  bare encode of the same texts: {encode['seconds']:.1f}s")
    records = json.loads(corpus.read_text("utf-8"))
    corpus.write_text(json.dumps([*records, new_article(records)], ensure_ascii=False), "utf-8")
    added = build_index([corpus], index_dir, progress=False)
    log(f"  incremental build (+1 article, added={added.added}): {added.seconds:.2f}s")
    unchanged = build_index([corpus], index_dir, progress=False)
    log(f"  unchanged rebuild (changed={unchanged.changed}): {unchanged.seconds:.3f}s")
    return {"full": full.to_dict(), "bare_encode": encode, "incremental": added.to_dict(), "unchanged": unchanged.to_dict()}


def embedded_texts(index_dir: Path) -> list[str]:
    """Exactly what the build embedded: each embedding window's text behind its metadata line."""
    from rag.indexing import store
    from rag.indexing.build import split_and_chunk
    from rag.indexing.embedding import SentenceTransformerEmbedder
    from rag.ingestion.chunking import embedding_text
    from rag.settings import BuildOptions

    emb, opts = SentenceTransformerEmbedder(), BuildOptions()
    return [embedding_text(doc, w.text) for doc in store.load(index_dir).docs for w in split_and_chunk(doc, emb, opts)[2]]


def bare_encode(texts: list[str]) -> dict[str, Any]:
    """Seconds for ``SentenceTransformer.encode(texts)`` with the model already loaded."""
    from sentence_transformers import SentenceTransformer

    from rag.indexing.embedding import resolve_model
    from rag.settings import BUNDLED_MODEL

    model = SentenceTransformer(resolve_model(BUNDLED_MODEL)[0], device="cpu")
    model.encode(texts[:BATCH_SIZE], batch_size=BATCH_SIZE, show_progress_bar=False)  # warm-up
    started = time.perf_counter()
    model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return {"seconds": round(time.perf_counter() - started, 3), "texts": len(texts), "chars": sum(map(len, texts))}


def measure_warm(index_dir: Path, questions: list[str], threads: int | None = None) -> dict[str, Any]:
    """Per question: one bare ``model.encode([q])`` and one full ``answer(q)``, same process, warm.

    ``threads`` sets torch's thread count for this measurement. On a busy machine torch's
    default (one thread per core) makes a one-query encode wait for descheduled threads, which
    inflates the reference; one thread gives a ratio that does not depend on the load.
    """
    import torch

    from rag.answering.answer import answer
    from rag.indexing.search_index import open_index

    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    try:
        return {"torch_threads": torch.get_num_threads(), **_warm_loop(index_dir, questions, answer, open_index)}
    finally:
        torch.set_num_threads(default_threads)


def _warm_loop(index_dir: Path, questions: list[str], answer: Any, open_index: Any) -> dict[str, Any]:
    model = open_index(index_dir).embedder.model
    loads = []
    for q in questions[:3]:  # warm-up: index loaded, caches and kernels hot
        model.encode([q])
        loads.append(answer(q, index_dir=index_dir).timings.get("judge_load"))
    judge_load = next((s for s in loads if s is not None), None)  # the answer judge, loaded by the first answer
    encode, total, stages = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        model.encode([q])
        t1 = time.perf_counter()
        result = answer(q, index_dir=index_dir)
        encode.append(t1 - t0)
        total.append(time.perf_counter() - t1)
        stages.append(result.timings)
    stage_p50 = {k: round(statistics.median(t[k] for t in stages) * 1000, 2) for k in stages[0]}
    return {
        "questions": len(questions),
        "encode": _percentiles(encode),
        "answer": _percentiles(total),
        "answer_stages_p50_ms": stage_p50,
        "judge_load_ms": None if judge_load is None else round(judge_load * 1000, 1),
    }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


def measure_cold(index_dir: Path, question: str, repeats: int) -> dict[str, Any]:
    """Fresh ``rag ask`` processes and bare model-loading processes, interleaved; medians."""
    bare, ask = [], []
    for i in range(repeats):
        bare.append(bare_model_process())
        ask.append(cold_ask(index_dir, question))
        log(f"  cold run {i + 1}/{repeats}: bare {bare[-1]['seconds']:.2f}s, rag ask {ask[-1]['seconds']:.2f}s")
    return {
        "repeats": repeats,
        "bare_seconds": [r["seconds"] for r in bare],
        "ask_seconds": [r["seconds"] for r in ask],
        "bare_median": round(statistics.median(r["seconds"] for r in bare), 3),
        "ask_median": round(statistics.median(r["seconds"] for r in ask), 3),
        "bare_max_rss_bytes": max(r["max_rss_bytes"] for r in bare),
        "ask_max_rss_bytes": max(r["max_rss_bytes"] for r in ask),
    }


def corpus_info(corpus: Path, builds: dict[str, Any]) -> dict[str, Any]:
    full = builds["full"]
    return {"file": str(corpus), "articles": full["documents"], "chunks": full["chunks"], "sentences": full["sentences"],
            "mb": round(corpus.stat().st_size / 1e6, 2)}  # fmt: skip


def figures(m: dict[str, Any], corpus: Path) -> list[dict[str, Any]]:
    b, w, w1, c, mem = m["builds"], m["warm"], m["warm_1thread"], m["cold"], m["memory"]
    full, enc = b["full"]["seconds"], b["bare_encode"]["seconds"]
    inc, same = b["incremental"]["seconds"], b["unchanged"]["seconds"]
    gb = mem["max_rss_bytes"] / 1e9
    size_mb = m["size"]["index_bytes"] / 1e6
    return [
        figure("full build vs bare encode of the texts it embeds", full / enc, ("<=", 1.5), "x", detail=f"{full:.1f} s vs {enc:.1f} s ({b['bare_encode']['texts']} embedding windows for {b['full']['chunks']} chunks)"),
        figure("incremental build (+1 article) vs full build", inc / full, ("<=", 0.03), "x", detail=f"{inc:.2f} s vs {full:.1f} s"),
        figure("unchanged rebuild", same, ("<", 1.0), "s", detail=f"{same / full:.4f}x the full build"),
        figure("warm answer p50 vs bare query encode p50", w["answer"]["p50_ms"] / w["encode"]["p50_ms"], ("<=", 2.0), "x",
               detail=f"{w['answer']['p50_ms']:.1f} ms vs {w['encode']['p50_ms']:.1f} ms ({w['questions']} questions)"),
        figure("warm answer p50 vs bare query encode p50, 1 torch thread", w1["answer"]["p50_ms"] / w1["encode"]["p50_ms"],
               ("<=", 2.0), "x", detail=f"{w1['answer']['p50_ms']:.1f} ms vs {w1['encode']['p50_ms']:.1f} ms (load-independent)"),
        figure("warm answer p95 vs bare query encode p95", w["answer"]["p95_ms"] / w["encode"]["p95_ms"], None, "x",
               detail=f"{w['answer']['p95_ms']:.1f} ms vs {w['encode']['p95_ms']:.1f} ms"),
        figure("cold `rag ask` vs bare model-load process", c["ask_median"] / c["bare_median"], ("<=", 1.5), "x",
               detail=f"median of {c['repeats']}: {c['ask_median']:.2f} s vs {c['bare_median']:.2f} s"),
        figure("peak RSS answering (`rag ask --batch`)", gb, ("<=", 1.5), "GB",
               detail=f"{mem['questions']} questions; {gb * 1e9 / c['bare_max_rss_bytes']:.2f}x the bare model process"),
        figure("index size on disk (du)", size_mb, None, "MB",
               detail=f"{size_mb * 1e6 / corpus.stat().st_size:.2f}x the corpus JSON; current version {m['size']['current_version_bytes'] / 1e6:.1f} MB"),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
