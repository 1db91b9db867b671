"""Train the answer judge (``rag/answering/judge.safetensors`` and ``judge_card.json``): a cross-encoder that reads question and sentence together.

The network is the bundled all-MiniLM-L6-v2 (sha256 checked) cut to its first ``--layers`` layers,
with a one-logit head (:mod:`rag.answering.judge_model`); its word embeddings stay frozen and are
not shipped. It learns from questions whose answer is known, so every sentence read has a label:

* SQuAD *train* articles (v1.1 or 2.0 format, CC BY-SA 4.0): the sentence holding the answer span is
  positive; other sentences of its paragraph are negatives (the hardest: the two sharing most of the
  question's words, then random ones); a 2.0 unanswerable question's sentences are all negative
  ("mentions the meeting but does not say where");
* TrecQA *train* (optional, public domain): labelled question-sentence pairs as they are.
* SelQA answer sentence selection (optional, Apache 2.0, ``emorynlp/selqa``: ``ass/selqa-ass-dev.json`` and
  ``-test.json``; its train file is too large to fetch here): crowd questions, many paraphrased, over one
  Wikipedia section each; answer sentences positive, NEGATIVES others of the section negative, read with
  the article, the section and the sentence before. SelQA's splits are not among this project's held-out
  checks; a seeded 8% of its articles is held back to measure the judge over every sentence of their sections.

With ``--pipeline`` the SQuAD pairs are instead read the way the judge meets them at answer time:
the training articles are indexed and each question's candidates are the product's own best
JUDGED sentences (:func:`rag.answering.answer.rank_sentences`, from any article), a candidate being
positive when it holds the answer span; the answer sentence is added when retrieval missed it.
``--start`` continues from a judge already trained (e.g. on paragraph pairs).

Each SQuAD sentence is read with its context as at answer time (:func:`rag.answering.judge.pair_text`):
the article's title and the sentence before it. Dev and test splits are never read. WikiQA,
MultiHop-RAG and the article dev set are *not* used here: the answer model (``train_triggering``)
learns how much to trust the judge on them, so the judge must not have seen them.

Figures on held-back SQuAD train articles (never trained on): per question P@1 of the judge over the
sentences read, and pair accuracy. Everything is seeded; the card records the data hashes, the base
weights' hash, the settings and the figures.

Usage::

    python -m benchmarks.train_judge --squad train-v2.0.json [more.json ...] [--selqa selqa-ass-dev.json ...] [--trecqa train.csv] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

from rag.indexing.embedding import sha256_file

from .common import DEFAULT_OUT, log, set_offline_env
from .faq_pairs import faq_part, faq_sources
from .judge_pairs import NEGATIVES, Pair, pipeline_pairs, selqa_items, selqa_pairs, squad_articles, squad_pairs, trecqa_pairs

SEED = 13
CARD_FILE = "judge_card.json"
DEV_ARTICLES = 2
"""SQuAD train articles held back to measure the judge (never trained on)."""


def _lineage(sources: list[dict[str, Any]], start: Path | None) -> list[dict[str, Any]]:
    """Every data source the weights learned from: this run's, then those of the judges it continued
    from (each once, by sha256)."""
    seen, out = set(), []
    card = json.loads((start / CARD_FILE).read_text("utf-8")) if start is not None else {}
    chain: list[dict[str, Any]] = sources + card.get("data", [])
    history = card.get("continued_from")
    while history:
        chain += history.get("data") or []
        history = history.get("continued_from")
    for entry in chain:
        if entry["sha256"] not in seen:
            seen.add(entry["sha256"])
            out.append(entry)
    return out


def _previous(start: Path | None) -> dict[str, Any] | None:
    """What the judge this one continued from was trained on (its card, without its own history's weights)."""
    if start is None:
        return None
    card = json.loads((start / CARD_FILE).read_text("utf-8"))
    return {k: card.get(k) for k in ("data", "training", "held_back", "continued_from")}


def split(grouped: list[list[Pair]], titles: list[str], held: list[str]) -> tuple[list[Pair], list[Pair]]:
    """Training pairs, and the pairs of the ``held`` articles (by title), never trained on."""
    train = [p for pairs, title in zip(grouped, titles) if title not in held for p in pairs]
    dev = [p for pairs, title in zip(grouped, titles) if title in held for p in pairs]
    return train, dev


def held_articles(titles: list[str], start: Path | None, rng: random.Random) -> list[str]:
    """The articles held back: those the judge continued from held back (so they stay unseen), else
    DEV_ARTICLES chosen by the seeded generator."""
    if start is not None:
        return list(json.loads((start / CARD_FILE).read_text("utf-8"))["held_back"]["articles"])
    return rng.sample(sorted(titles), DEV_ARTICLES)


def _subsample(pairs: list[Pair], questions: int, rng: random.Random) -> list[Pair]:
    groups = sorted({p.group for p in pairs})
    if questions >= len(groups):
        return pairs
    keep = set(rng.sample(groups, questions))
    return [p for p in pairs if p.group in keep]


def train(pairs: list[Pair], args: argparse.Namespace) -> Any:
    """The fine-tuned network (one pass over ``pairs`` in a seeded order)."""
    import torch
    from safetensors.torch import load_file

    from rag.answering.judge import MAX_TOKENS
    from rag.answering.judge_model import CrossEncoder, bundled_parts
    from rag.indexing.embedding import resolve_model
    from rag.settings import BUNDLED_MODEL

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    config, words, tokenizer = bundled_parts(args.layers)
    model = CrossEncoder(config, words)
    if args.start is not None:
        model.load_trained(args.start / "judge.safetensors")
    else:
        model.start_from(load_file(str(Path(resolve_model(BUNDLED_MODEL)[0]) / "model.safetensors")))
    head = [p for n, p in model.named_parameters() if n.startswith("head")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head")]
    optimizer = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr * 20}], weight_decay=0.01)
    order = list(range(len(pairs)))
    random.Random(SEED).shuffle(order)
    steps = math.ceil(len(order) / args.batch) * args.epochs
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    started, step = time.perf_counter(), 0
    for _ in range(args.epochs):
        for at in range(0, len(order), args.batch):
            batch = [pairs[i] for i in order[at : at + args.batch]]
            enc = tokenizer(
                [p.question for p in batch], [p.text for p in batch], truncation="only_second", max_length=MAX_TOKENS,
                padding=True, return_tensors="pt",
            )  # fmt: skip
            logits = model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
            loss = loss_fn(logits, torch.tensor([p.label for p in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 100 == 0 or step == steps:
                rate = (time.perf_counter() - started) / step
                log(
                    f"  step {step}/{steps}: loss {loss.item():.3f}, {rate:.2f} s/step, ~{(steps - step) * rate / 60:.0f} min left"
                )
    return model, tokenizer, time.perf_counter() - started


def score(model: Any, tokenizer: Any, pairs: list[Pair], threads: int) -> list[float]:
    import torch

    from rag.answering.judge import MAX_TOKENS

    model.eval()
    out: list[float] = []
    with torch.inference_mode():
        for at in range(0, len(pairs), 64):
            batch = pairs[at : at + 64]
            enc = tokenizer(
                [p.question for p in batch], [p.text for p in batch], truncation="only_second", max_length=MAX_TOKENS,
                padding=True, return_tensors="pt",
            )  # fmt: skip
            out += torch.sigmoid(model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])).tolist()
    return out


def figures(pairs: list[Pair], scores: list[float]) -> dict[str, Any]:
    """P@1 per answerable question, pair accuracy at 0.5, and the share of unanswerable questions whose best is below 0.5."""
    by_group: dict[int, list[tuple[float, float]]] = {}
    for p, s in zip(pairs, scores):
        by_group.setdefault(p.group, []).append((s, p.label))
    answerable = [g for g in by_group.values() if any(label for _, label in g)]
    unanswerable = [g for g in by_group.values() if not any(label for _, label in g)]
    return {
        "questions": len(by_group),
        "p_at_1": round(sum(max(g)[1] == 1.0 for g in answerable) / max(1, len(answerable)), 4),
        "pair_accuracy": round(sum((s >= 0.5) == (p.label == 1.0) for p, s in zip(pairs, scores)) / max(1, len(pairs)), 4),
        "unanswerable_below_half": round(sum(max(g)[0] < 0.5 for g in unanswerable) / len(unanswerable), 4)
        if unanswerable
        else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, nargs="*", default=[], help="SQuAD train files (v1.1 or 2.0; never a dev file)")
    parser.add_argument(
        "--selqa", type=Path, nargs="*", default=[],
        help="SelQA answer-sentence-selection files (selqa-ass-*.json; its splits are not this project's held-out checks)",
    )  # fmt: skip
    parser.add_argument("--trecqa", type=Path, help="TrecQA train pairs as CSV (qtext, label, atext)")
    parser.add_argument(
        "--faq", type=Path, nargs="*", default=[], help="FAQ documents (.md, .rst, .txt; see benchmarks.faq_pairs)"
    )
    parser.add_argument("--faq-sources", type=Path, help="JSON list describing the FAQ files (repo, path, commit, licence)")
    parser.add_argument("--pipeline", action="store_true", help="SQuAD pairs from the product's own candidates (see above)")
    parser.add_argument("--start", type=Path, help="a judge folder to continue training from")
    parser.add_argument("--questions", type=int, default=100_000, help="at most this many SQuAD questions (seeded sample)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "rag" / "answering")
    args = parser.parse_args(argv)
    if not args.squad and not args.selqa and not args.faq:
        parser.error("give --squad, --selqa and/or --faq training files")
    for path in [*args.squad, *([args.trecqa] if args.trecqa else [])]:
        if "dev" in path.name.lower() or "test" in path.name.lower():
            parser.error(f"{path.name}: dev and test splits are held-out checks, never training data")
    set_offline_env()
    rng = random.Random(SEED)
    train_pairs, dev_pairs, sources, held = _squad_part(args, rng)
    selqa_held: dict[str, Any] = {}
    if args.selqa:
        selqa_train, selqa_dev, selqa_titles = _selqa_part(
            args.selqa, rng, 1 + max((p.group for p in train_pairs + dev_pairs), default=-1)
        )
        train_pairs += selqa_train
        sources += [
            {"name": "SelQA answer sentence selection", "file": p.name, "sha256": sha256_file(p), "licence": "Apache 2.0"}
            for p in args.selqa
        ]
    if args.trecqa is not None:
        train_pairs += trecqa_pairs(args.trecqa, 1 + max(p.group for p in train_pairs + dev_pairs))
        sources.append(
            {"name": "TrecQA train", "file": args.trecqa.name, "sha256": sha256_file(args.trecqa), "licence": "public domain"}
        )
    faq_held: dict[str, Any] = {}
    if args.faq:
        faq_train, faq_dev, faq_files = faq_part(args.faq, rng, 1 + max((p.group for p in train_pairs + dev_pairs), default=-1))
        train_pairs += faq_train
        sources += faq_sources(args.faq, args.faq_sources)
    log(
        f"{len(train_pairs)} training pairs ({int(sum(p.label for p in train_pairs))} positive); {len(dev_pairs)} SQuAD pairs held back"
    )
    model, tokenizer, seconds = train(train_pairs, args)
    dev = figures(dev_pairs, score(model, tokenizer, dev_pairs, args.threads)) if dev_pairs else {}
    if args.selqa:
        selqa_held = {"articles": len(selqa_titles), **figures(selqa_dev, score(model, tokenizer, selqa_dev, args.threads))}
    if args.faq:
        faq_held = {"files": faq_files, **figures(faq_dev, score(model, tokenizer, faq_dev, args.threads))}
    log(f"held back: SQuAD {dev}, SelQA {selqa_held}, FAQ {faq_held}")
    return write(model, args, sources, len(train_pairs), {"articles": held, **dev, "selqa": selqa_held, "faq": faq_held}, seconds)


def _squad_part(args: argparse.Namespace, rng: random.Random) -> tuple[list[Pair], list[Pair], list[dict[str, Any]], list[str]]:
    """SQuAD training pairs, the held-back articles' pairs, the files as sources, and those articles."""
    if not args.squad:
        return [], [], [], []
    articles = squad_articles(args.squad)
    grouped = pipeline_pairs(articles, DEFAULT_OUT / "tmp" / "squad_index", rng) if args.pipeline else squad_pairs(articles, rng)
    titles = [a["title"].replace("_", " ") for a in articles]
    held = held_articles(titles, args.start, rng)
    train_pairs, dev_pairs = split(grouped, titles, held)
    sources: list[dict[str, Any]] = [
        {"name": "SQuAD train articles", "file": path.name, "sha256": sha256_file(path), "licence": "CC BY-SA 4.0"}
        for path in args.squad
    ]
    sources[0]["articles_in_all_files"] = len(articles)
    return _subsample(train_pairs, args.questions, rng), dev_pairs, sources, held


SELQA_HELD_SHARE = 0.08
"""Share of SelQA's articles held back (seeded) to measure the judge on questions it never saw."""


def _selqa_part(paths: list[Path], rng: random.Random, group: int) -> tuple[list[Pair], list[Pair], list[str]]:
    """SelQA training pairs, the pairs of the held-back articles (every sentence of their sections, as
    the judge must rank them all), and those articles' titles."""
    items = selqa_items(paths)
    grouped, titles = selqa_pairs(items, rng, group)
    # its own generator: the held-back articles do not move when other sources or negatives change
    held = random.Random(SEED).sample(titles, max(1, round(len(titles) * SELQA_HELD_SHARE)))
    train_pairs, _ = split(grouped, titles, held)
    every, _ = selqa_pairs(items, random.Random(SEED), group, negatives=None)
    _, dev_pairs = split(every, titles, held)
    return train_pairs, dev_pairs, held


def write(
    model: Any, args: argparse.Namespace, sources: list[dict[str, Any]], n_pairs: int, dev: dict[str, Any], seconds: float
) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file

    from rag.answering.judge import CARD, MAX_TOKENS, WEIGHTS
    from rag.settings import BUNDLED_MODEL, BUNDLED_MODEL_SHA256

    args.out.mkdir(parents=True, exist_ok=True)
    save_file(model.trained_state(), str(args.out / WEIGHTS))
    card = {
        "model": "cross-encoder (question, sentence in context) -> P(the sentence answers)",
        "base": {"name": BUNDLED_MODEL, "weights_sha256": BUNDLED_MODEL_SHA256, "word_embeddings": "frozen, not shipped"},
        "layers": args.layers,
        "max_tokens": MAX_TOKENS,
        "weights_sha256": sha256_file(args.out / WEIGHTS),
        "dtype": "float16 (int8 dynamic quantisation of the linear layers at load)",
        "data": _lineage(sources, args.start),
        "training": {
            "data": [d["file"] for d in sources],
            "pairs": n_pairs,
            "candidates": "the product's own retrieval candidates"
            if args.pipeline
            else "sentences of the question's paragraph (SQuAD), section (SelQA) or file (FAQ)",
            "negatives_per_question": "the other retrieval candidates" if args.pipeline else NEGATIVES,
            "epochs": args.epochs,
            "batch": args.batch,
            "lr": args.lr,
            "seed": SEED,
            "threads": args.threads,
            "seconds": round(seconds),
            "torch": torch.__version__,
        },  # fmt: skip
        "held_back": {
            "what": "never trained on: SQuAD train articles (articles), SelQA articles (selqa), FAQ files (faq)",
            **dev,
        },
        "continued_from": _previous(args.start),
        "never_used": "SQuAD dev (v1.1, 2.0), TrecQA dev/test, WikiQA (train, dev, test), MultiHop-RAG, the article dev set",
    }
    (args.out / CARD).write_text(json.dumps(card, indent=2) + "\n", "utf-8")
    log(f"wrote {args.out / WEIGHTS} ({(args.out / WEIGHTS).stat().st_size / 2**20:.1f} MB) and {args.out / CARD}")
    return card


if __name__ == "__main__":
    main()
