"""Retrieval results before and after a refactor: record them, then compare (chunk ids and scores).

Uses only the public API (``rag.retrieve``, ``rag.answer``), so the same file records with an
older checkout of ``rag`` on ``PYTHONPATH`` and with this one::

    PYTHONPATH=/tmp/old python -m benchmarks.identity record --index IDX --gold G --out before.jsonl
    python -m benchmarks.identity record --index IDX --gold G --out after.jsonl
    python -m benchmarks.identity compare before.jsonl after.jsonl

A record holds, per question and mode, the top ``k`` chunk ids with their scores and the
answer's cited sentences (document, offsets, score). ``compare`` exits 1 at the first difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

MODES = ("hybrid", "handtuned", "dense", "bm25")


def _questions(gold: Path, limit: int | None) -> list[str]:
    text = gold.read_text("utf-8")
    records = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    return [r.get("q") or r["query"] for r in records][:limit]


def record(index: str, gold: Path, out: Path, limit: int | None, k: int, store: str | None = None) -> int:
    import rag

    extra: dict[str, Any] = {"store": store} if store else {}
    with out.open("w", encoding="utf-8") as fh:
        for q in _questions(gold, limit):
            for mode in MODES:
                hits = rag.retrieve(q, k=k, index_dir=index, mode=mode, **extra)
                row: dict[str, Any] = {"q": q, "mode": mode, "ids": [h.chunk_id for h in hits]}
                row["scores"] = [h.score for h in hits]
                if mode == "hybrid":
                    a = rag.answer(q, index_dir=index, **extra)
                    row["answer"] = [[c.doc_id, c.start, c.end, c.score] for c in a.evidence]
                    row["abstained"] = a.abstained
                fh.write(json.dumps(row) + "\n")
    return 0


def compare(before: Path, after: Path) -> int:
    """0 when every record is identical (same ids, same scores to the bit), else 1 with the first difference."""
    old = [json.loads(x) for x in before.read_text("utf-8").splitlines()]
    new = [json.loads(x) for x in after.read_text("utf-8").splitlines()]
    if len(old) != len(new):
        print(f"different record counts: {len(old)} vs {len(new)}")
        return 1
    for a, b in zip(old, new):
        if a != b:
            print(f"differs: {a['q']!r} mode {a['mode']}\n  before {a}\n  after  {b}")
            return 1
    print(f"identical: {len(old)} records ({len({r['q'] for r in old})} questions x {len(MODES)} modes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identity", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--index", required=True)
    rec.add_argument("--gold", required=True, type=Path)
    rec.add_argument("--out", required=True, type=Path)
    rec.add_argument("--limit", type=int)
    rec.add_argument("--k", type=int, default=10)
    rec.add_argument("--store", help="a store option (new code only)")
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args.index, args.gold, args.out, args.limit, args.k, args.store)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
