"""How the two stores scale: synthetic chunks at 10k, 100k and 1M, each store, each size.

Chunks are synthetic (random unit vectors of the model's 384 dimensions; text of Zipf-drawn
pseudo-words), 4 sentences each, 10 chunks per document, written through the real build engine
(:func:`rag.indexing.build.assemble` and :func:`rag.indexing.commit.save`) into the real stores. Per store and size:

* build/insert seconds (writing vectors and BM25: the embedding model is not part of it);
* query p50/p95 of the retrieval step (``rank_chunks``, hybrid mode, the query already
  encoded) in a fresh serving process that opened the index;
* that process's peak RSS (VmHWM), with its anonymous and file-backed parts at the end.

    python -m benchmarks.scale                           # 10k, 100k, 1M for both stores
    python -m benchmarks.scale --sizes 10000 --stores embedded --queries 10

Results go to ``benchmarks/RESULTS.md`` (between markers) and ``benchmarks/results/scale.json``,
with ``benchmarks/results/scale.png`` (latency and RSS vs size) when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import BENCH, ROOT, child_env
from .report import write_section

DIM = 384
SENTENCES_PER_CHUNK = 4
CHUNKS_PER_DOC = 10
VOCAB = 30_000
WORDS_PER_SENTENCE = 14
RSS_GOAL = 4 * 2**30
"""The embedded store's serving process at 1M chunks stays under this."""


class SyntheticEmbedder:
    """Stands in for the model when opening a synthetic index (queries come pre-encoded)."""

    name = "synthetic-random-384"
    dim = DIM
    weights_sha256 = "2" * 64


class LazyVectors:
    """Random unit vectors made when read (``np.asarray``), so a 1M-chunk build never holds them all."""

    def __init__(self, seed: int, n: int):
        self.seed, self.shape = seed, (n, DIM)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        x = np.random.default_rng(self.seed).standard_normal(self.shape, dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(dtype) if dtype is not None else x


def _vocabulary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = np.array(["".join(rng.choice(letters, int(n))) for n in rng.integers(4, 11, VOCAB)])
    weights = 1.0 / (np.arange(VOCAB) + 10.0)  # Zipf-like: a few frequent words, a long tail
    return words, weights / weights.sum()


def synthetic(n_chunks: int, seed: int = 0) -> tuple[list[Any], dict[str, Any]]:
    """``(documents, parts)`` of ``n_chunks`` chunks (no overlap), ready for :func:`rag.indexing.build.assemble`."""
    from rag.indexing.build import Parts
    from rag.ingestion.documents import document_id
    from rag.records import Document

    rng = np.random.default_rng(seed)
    words, p = _vocabulary(rng)
    docs, parts = [], {}
    per_doc = CHUNKS_PER_DOC * SENTENCES_PER_CHUNK
    for d in range(max(n_chunks // CHUNKS_PER_DOC, 1)):
        drawn = rng.choice(words, (per_doc, WORDS_PER_SENTENCE), p=p)
        sentences = [" ".join(w).capitalize() + "." for w in drawn]
        starts = np.cumsum([0] + [len(s) + 1 for s in sentences[:-1]])
        text = " ".join(sentences)
        title = f"Synthetic report {d}"
        doc = Document(
            document_id(text, title=title), f"synthetic#{d}", text, title, f"2023-{1 + d % 12:02d}-01", f"outlet{d % 50}"
        )
        spans = np.column_stack([starts, starts + [len(s) for s in sentences]]).astype(np.int32)
        firsts = np.arange(0, per_doc, SENTENCES_PER_CHUNK)
        chunks = np.column_stack([firsts, firsts + SENTENCES_PER_CHUNK, np.full(len(firsts), 80)]).astype(np.int32)
        parts[doc.id] = Parts(spans, chunks, LazyVectors(2 * d, CHUNKS_PER_DOC), LazyVectors(2 * d + 1, per_doc))  # type: ignore[arg-type]
        docs.append(doc)
    return docs, parts


def build(index_dir: Path, store: str, n_chunks: int) -> dict[str, Any]:
    """Write the synthetic index (in this process); seconds to make the data and to write it."""
    from rag.indexing import build as engine
    from rag.indexing import commit, stores
    from rag.indexing.sources import Sources

    started = time.perf_counter()
    docs, parts = synthetic(n_chunks)
    made = time.perf_counter()
    settings = {"model": SyntheticEmbedder.name, "synthetic": True}
    manifest = engine._manifest(docs, SyntheticEmbedder(), settings, Sources(), DIM)  # type: ignore[arg-type]
    with commit.build_lock(index_dir):
        data = engine.assemble(docs, parts, None, stores.parse_store(store), manifest)
        commit.save(index_dir, data)
    return {"make_seconds": round(made - started, 1), "build_seconds": round(time.perf_counter() - made, 1)}


def serve(index_dir: Path, queries: int) -> dict[str, Any]:
    """Open the index and time the retrieval step of ``queries`` synthetic questions (in this process)."""
    from rag.answering.query import parse_query
    from rag.answering.retrieve import rank_chunks
    from rag.answering.signals import Encoded
    from rag.indexing.search_index import open_index

    started = time.perf_counter()
    index = open_index(index_dir, embedder=SyntheticEmbedder())  # type: ignore[arg-type]
    opened = time.perf_counter() - started
    rng = np.random.default_rng(1)
    words, p = _vocabulary(np.random.default_rng(0))
    seconds = []
    for i in range(queries + 3):  # the first 3 warm caches up and are not counted
        query = parse_query(" ".join(rng.choice(words[:5000], 12, p=p[:5000] / p[:5000].sum())).capitalize() + "?")
        vectors = rng.standard_normal((1 + len(query.clauses), DIM), dtype=np.float32)
        windows = rng.standard_normal((len(query.windows) or 1, DIM), dtype=np.float32)
        encoded = Encoded(
            vectors / np.linalg.norm(vectors, axis=1, keepdims=True), windows / np.linalg.norm(windows, axis=1, keepdims=True)
        )
        t = time.perf_counter()
        ids, _ = rank_chunks(index, query, encoded, 100, "hybrid")
        if i >= 3:
            seconds.append(time.perf_counter() - t)
        assert len(ids) == 100
    status = _status()
    return {
        "open_seconds": round(opened, 1),
        "p50_ms": round(1000 * float(np.median(seconds)), 1),
        "p95_ms": round(1000 * float(np.percentile(seconds, 95)), 1),
        "peak_rss_mb": round(status["VmHWM"] / 2**20),
        "rss_anon_mb": round(status["RssAnon"] / 2**20),
        "rss_file_mb": round(status["RssFile"] / 2**20),
    }


def _status() -> dict[str, int]:
    """Memory lines of /proc/self/status, in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            out[name] = int(value.split()[0]) * 1024
    return out


def _child(*args: str, timeout: float) -> dict[str, Any]:
    """Run a step of this module in a fresh process; its JSON result (``{"error": ...}`` when it failed)."""
    cmd = [sys.executable, "-m", "benchmarks.scale", *args]
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][:300] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: Sequence[int], kinds: Sequence[str], work: Path, queries: int, timeout: float) -> list[dict[str, Any]]:
    rows = []
    for kind in kinds:
        for n in sizes:
            folder = work / f"{kind}-{n}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            store = "embedded" if kind == "embedded" else f"milvus-lite:{folder / 'milvus.db'}"
            print(f"[{time.strftime('%H:%M:%S')}] {kind}: {n:,} chunks: building", file=sys.stderr, flush=True)
            row: dict[str, Any] = {"store": kind, "chunks": n, "sentences": n * SENTENCES_PER_CHUNK}
            row.update(_child("_build", str(folder / "index"), store, str(n), timeout=timeout))
            if "error" not in row:
                print(f"[{time.strftime('%H:%M:%S')}]   built in {row['build_seconds']} s; serving", file=sys.stderr, flush=True)
                row.update(_child("_serve", str(folder / "index"), str(queries), timeout=timeout))
                row["disk_mb"] = round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20)
            print(f"[{time.strftime('%H:%M:%S')}]   {row}", file=sys.stderr, flush=True)
            rows.append(row)
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def report(rows: list[dict[str, Any]], out: Path, results_md: Path) -> None:
    """scale.json, scale.png (if matplotlib is installed) and the table in RESULTS.md."""
    out.mkdir(parents=True, exist_ok=True)
    machine = f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB"
    (out / "scale.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n", "utf-8")
    plotted = _plot(rows, out / "scale.png")
    lines = [
        f"Synthetic chunks (random unit vectors, 384 dims; 4 sentences each; {machine}, shared). Retrieval step =",
        "`rank_chunks` in hybrid mode with the question already encoded (pool, signals, fusion); serving RSS = peak of",
        "a fresh process that opened the index and answered the queries (anonymous / file-backed at the end).",
        "",
        "| store | chunks | build/insert s | query p50 ms | p95 ms | peak RSS MB | anon / file MB | open s | disk MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['store']} | {r['chunks']:,} | not measured: {r['error']} | | | | | | |")
            continue
        lines.append(
            f"| {r['store']} | {r['chunks']:,} | {r['build_seconds']} | {r['p50_ms']} | {r['p95_ms']} | {r['peak_rss_mb']:,} | "
            f"{r['rss_anon_mb']:,} / {r['rss_file_mb']:,} | {r['open_seconds']} | {r['disk_mb']:,} |"
        )
    big = [r for r in rows if r["store"] == "embedded" and r["chunks"] >= 1_000_000 and "peak_rss_mb" in r]
    if big:
        ok = big[0]["peak_rss_mb"] * 2**20 < RSS_GOAL
        lines += [
            "",
            f"Embedded store at 1M chunks: peak serving RSS {big[0]['peak_rss_mb']:,} MB (goal < 4,096 MB: {'met' if ok else 'NOT met'}).",
        ]
    if plotted:
        lines += ["", "![query latency and serving RSS vs corpus size](results/scale.png)"]
    write_section(results_md, "scale", "Scale (`python -m benchmarks.scale`)", lines)


def _plot(rows: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in sorted({r["store"] for r in rows}):
        done = [r for r in rows if r["store"] == kind and "p50_ms" in r]
        if not done:
            continue
        x = [r["chunks"] for r in done]
        left.plot(x, [r["p50_ms"] for r in done], marker="o", label=kind)
        right.plot(x, [r["peak_rss_mb"] for r in done], marker="o", label=kind)
    right.axhline(4096, color="grey", linestyle="--", linewidth=1, label="4 GB goal (embedded)")
    for ax, title, unit in ((left, "retrieval step p50", "ms"), (right, "serving process peak RSS", "MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks (4 sentences each)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_build"]:
        print(json.dumps(build(Path(args[1]), args[2], int(args[3]))))
        return 0
    if args[:1] == ["_serve"]:
        print(json.dumps(serve(Path(args[1]), int(args[2]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--stores", nargs="+", default=["embedded", "milvus-lite"], choices=["embedded", "milvus-lite"])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per build or serving run")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "rag-scale")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    opts = parser.parse_args(args)
    for kind in opts.stores:
        for n in opts.sizes:  # reported after each: a run cut short keeps what it measured
            rows = run([n], [kind], opts.work, opts.queries, opts.timeout)
            previous = opts.out / "scale.json"
            if previous.exists():  # runs of other sizes or stores stay in the report; a new one replaces its own
                old = json.loads(previous.read_text("utf-8"))["rows"]
                rows = [r for r in old if (r["store"], r["chunks"]) != (kind, n)] + rows
            rows.sort(key=lambda r: (r["store"] != "embedded", r["chunks"]))
            report(rows, opts.out, opts.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
