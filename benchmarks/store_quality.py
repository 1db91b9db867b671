"""Retrieval quality of one index in two stores: the same chunks, the same queries, the same run.

    python -m benchmarks.store_quality convert EMBEDDED_INDEX MILVUS_INDEX milvus-lite:PATH.db
    python -m benchmarks.store_quality run EMBEDDED_INDEX MILVUS_INDEX --start 0 --count 400 --out parts.jsonl
    python -m benchmarks.store_quality summary parts.jsonl

``convert`` writes a copy of an index whose vectors and BM25 live in another store, reusing the
vectors (nothing is embedded again, so the chunks are the same). ``run`` scores MultiHop-RAG dev
queries (``--start``/``--count`` of the answerable ones, so a long evaluation runs in parts) on
both indexes, one query at a time, appending one record per query; ``summary`` averages them
into Hits@10 / Hits@4 / MRR@10 per store and their differences in points.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import MULTIHOP_QUERIES


def convert(src: Path, dst: Path, spec: str) -> dict[str, Any]:
    from rag.indexing import build, commit, store, stores

    started = time.perf_counter()
    old = store.load(src, store.REUSABLE_FORMATS)
    parts = build._reused_parts(old, {d.id for d in old.docs})
    manifest = {k: v for k, v in old.manifest.items() if k not in ("data_dir", "files", "counts", "store", "previous")}
    with commit.build_lock(dst):
        data = build.assemble(old.docs, parts, old, stores.parse_store(spec), manifest)
        commit.save(dst, data)
    return {"chunks": len(data.chunks), "sentences": len(data.sentences), "seconds": round(time.perf_counter() - started, 1)}


def run(indexes: dict[str, Path], start: int, count: int, out: Path) -> None:
    from rag.answering.retrieve import retrieve
    from rag.cli.evaluate import fact_found, ranking_scores

    queries = [q for q in json.loads(MULTIHOP_QUERIES.read_text("utf-8")) if q.get("evidence_list")][start : start + count]
    with out.open("a", encoding="utf-8") as fh:
        for i, q in enumerate(queries, start):
            row: dict[str, Any] = {"i": i}
            facts = [e["fact"] for e in q["evidence_list"]]
            for name, index in indexes.items():
                t = time.perf_counter()
                hits = retrieve(q["query"], k=10, index_dir=index)
                found = np.array([[fact_found(f, h.text) for h in hits] for f in facts], bool)
                row[name] = [*ranking_scores(found), round(time.perf_counter() - t, 3), [h.chunk_id for h in hits]]
            fh.write(json.dumps(row) + "\n")
            fh.flush()


def summary(path: Path) -> dict[str, Any]:
    rows = list({r["i"]: r for r in map(json.loads, path.read_text("utf-8").splitlines())}.values())
    names = [k for k in rows[0] if k != "i"]
    out: dict[str, Any] = {"queries": len(rows)}
    for name in names:
        m = np.array([r[name][:4] for r in rows], float)
        out[name] = {
            "Hits@10": round(float(m[:, 0].mean()), 4),
            "Hits@4": round(float(m[:, 1].mean()), 4),
            "MRR@10": round(float(m[:, 2].mean()), 4),
            "median_seconds": round(float(np.median(m[:, 3])), 3),
        }
    if len(names) == 2:
        a, b = names
        out["difference_points"] = {k: round(float(100 * (out[b][k] - out[a][k])), 2) for k in ("Hits@10", "Hits@4", "MRR@10")}
        out["same_top10"] = round(float(np.mean([r[a][4] == r[b][4] for r in rows])), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_quality", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert")
    c.add_argument("src", type=Path)
    c.add_argument("dst", type=Path)
    c.add_argument("store")
    r = sub.add_parser("run")
    r.add_argument("embedded", type=Path)
    r.add_argument("other", type=Path)
    r.add_argument("--start", type=int, default=0)
    r.add_argument("--count", type=int, default=10_000)
    r.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("summary")
    s.add_argument("parts", type=Path)
    s.add_argument("--results", type=Path, help="also write the figures into this RESULTS.md (its own section)")
    args = parser.parse_args(argv)
    if args.command == "convert":
        print(json.dumps(convert(args.src, args.dst, args.store)))
    elif args.command == "run":
        run({"embedded": args.embedded, "milvus-lite": args.other}, args.start, args.count, args.out)
    else:
        figures = summary(args.parts)
        print(json.dumps(figures, indent=2))
        if args.results:
            write_section(figures, args.results)
    return 0


def write_section(figures: dict[str, Any], md: Path) -> None:
    """The figures as a marked section of ``md`` (kept when the other benchmarks regenerate it)."""
    from .report import write_section as write

    names = [k for k in figures if isinstance(figures[k], dict) and "median_seconds" in figures[k]]
    lines = [
        f"MultiHop-RAG dev, the first {figures['queries']} answerable queries, one index (the same chunks and vectors) in two",
        "stores, both asked in the same run (`python -m benchmarks.store_quality`); hybrid mode, top 10 chunks.",
        "",
        "| store | Hits@10 | Hits@4 | MRR@10 | median s / query |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {n} | {figures[n]['Hits@10']} | {figures[n]['Hits@4']} | {figures[n]['MRR@10']} | {figures[n]['median_seconds']} |"
            for n in names
        ),
        "",
        "Difference, second store minus first (points): "
        + ", ".join(f"{k} {v:+.2f}" for k, v in figures.get("difference_points", {}).items())
        + f"; identical top-10 lists: {figures.get('same_top10', 0):.1%}.",
    ]
    write(md, "stores", "Stores: retrieval quality", lines)


if __name__ == "__main__":
    sys.exit(main())
