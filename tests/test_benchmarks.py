"""Smoke runs of the benchmarks (tiny corpora) into a temporary results folder."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EVAL, ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (EVAL / "multihop_rag" / "corpus.json").exists(), reason="needs ../shared/eval beside the checkout"),
]

SPEED_FIGURES = {
    "full build vs bare encode of the texts it embeds",
    "incremental build (+1 article) vs full build",
    "unchanged rebuild",
    "warm answer p50 vs bare query encode p50",
    "warm answer p50 vs bare query encode p50, 1 torch thread",
    "warm answer p95 vs bare query encode p95",
    "cold `rag ask` vs bare model-load process",
    "peak RSS answering (`rag ask --batch`)",
    "index size on disk (du)",
}
QUALITY_FIGURES = {
    "MultiHop-RAG Hits@10 (hybrid, cross-validated)",
    "MultiHop-RAG Hits@4 (hybrid, cross-validated)",
    "MultiHop-RAG MRR@10 (hybrid, cross-validated)",
    "MultiHop-RAG null-query abstention (hybrid)",
    "article P@1",
    "article R@3",
    "article abstention",
    "article false_abstentions",
    "article broad questions cited from the right part",
    "WikiQA dev answer-triggering F1",
    "WikiQA dev unanswerable abstention",
}


def _run(module: str, out: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    kind = module.rsplit(".", 1)[1]
    return json.loads((out / f"{kind}_smoke.json").read_text("utf-8"))


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_figures(results: dict, expected: set[str]) -> None:
    figures = {f["name"]: f for f in results["figures"]}
    assert expected <= set(figures)
    for f in figures.values():
        assert _is_number(f["value"]), f
        assert (f["goal"] is None) == (f["pass"] is None), f
        assert f["pass"] in (True, False, None), f


def test_speed_smoke(tmp_path: Path) -> None:
    results = _run("benchmarks.speed", tmp_path)
    assert results["smoke"] is True
    _check_figures(results, SPEED_FIGURES)
    builds = results["measurements"]["builds"]
    assert builds["incremental"]["added"] == 1 and builds["unchanged"]["changed"] is False
    assert results["measurements"]["memory"]["answers"] == results["measurements"]["memory"]["questions"]
    assert "## Speed" in (tmp_path / "RESULTS_smoke.md").read_text("utf-8")


def test_quality_smoke(tmp_path: Path) -> None:
    results = _run("benchmarks.quality", tmp_path)
    _check_figures(results, QUALITY_FIGURES)
    modes = results["multihop"]["modes"]
    assert set(modes) == {"hybrid", "handtuned", "dense", "bm25"}
    cv = results["multihop"]["cross_validated"]
    assert cv["folds"] == 2 and cv["queries"] > 0 and all(_is_number(cv["learned"][k]) for k in ("Hits@10", "Hits@4"))
    assert cv["handtuned"]["Hits@10"] == modes["handtuned"]["Hits@10"]  # the benchmark's ranking is the product's
    for mode in modes.values():
        assert mode["queries"] > 0
        assert all(_is_number(mode[k]) for k in ("Hits@10", "Hits@4", "MRR@10"))
    for mode in results["article"]["retrieval"].values():
        assert _is_number(mode["P@1"]) and _is_number(mode["R@3"])
    assert all(b["right"] for b in results["article"]["broad"].values())
    wiki = results["wikiqa"]
    assert wiki["dev"]["questions"] == wiki["baseline"]["questions"] == 40  # the naive baseline on the same questions
    assert all(_is_number(wiki[k]["F1"]) for k in ("dev", "baseline", "train_cv"))
    report = (tmp_path / "RESULTS_smoke.md").read_text("utf-8")
    assert "## Quality" in report and "### WikiQA, open corpus" in report and "naive baseline" in report


def test_cross_validation_keeps_paraphrases_in_one_fold() -> None:
    from benchmarks.train_fusion import fact_groups

    def q(*facts: str) -> dict:
        return {"evidence_list": [{"fact": f} for f in facts]}

    queries = [q("a", "b"), q("c"), q("b", "d"), q("e"), q("d"), q("f")]
    folds = fact_groups(queries, 2)
    assert folds[0] == folds[2] == folds[4]  # linked through facts b and d
    assert sorted(folds.count(k) for k in (0, 1)) == [3, 3]  # the three singletons balance the other fold


def test_wikiqa_matching_rule_and_threshold() -> None:
    from benchmarks.wikiqa import Question, best_threshold, matches, triggering

    assert matches("Ice caves form in glaciers.", "Ice caves form in glaciers .")  # the TSV's space before punctuation
    assert not matches("Ice caves", "Ice caves form in glaciers .")  # contained, but less than half as long
    q = [Question("1", "a?", "D1", ("Yes it is .",)), Question("2", "b?", "D2", ()), Question("3", "c?", "D3", ("No .",))]
    figures = triggering(q, ["Yes it is.", None, "Maybe."], [["Yes it is."], [], ["Maybe.", "No."]])
    assert (figures["answered"], figures["correct"], figures["precision"], figures["recall"]) == (2, 1, 0.5, 0.5)
    assert figures["MRR@10"] == 0.75 and figures["unanswerable_abstention"] == 1.0
    # Answering only the first (score 0.9) gives P 1, R 0.5; adding the third (0.5, wrong) lowers F1.
    assert best_threshold(q, ["Yes it is.", "x", "Maybe."], [0.9, 0.2, 0.5]) == 0.9
    assert best_threshold(q, ["Yes it is.", "x", "Maybe."], [0.9, 0.2, 0.5], floor=0.95) == 0.95


def test_scale_smoke(tmp_path: Path) -> None:
    """Both stores at a tiny size: every figure measured, the RESULTS section and the plot written."""
    out, results = tmp_path / "results", tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nearlier sections\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    args = ["--sizes", "300", "--queries", "2", "--work", str(tmp_path / "work"), "--out", str(out), "--results", str(results)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((out / "scale.json").read_text("utf-8"))["rows"]
    assert [(r["store"], r["chunks"]) for r in rows] == [("embedded", 300), ("milvus-lite", 300)]
    for r in rows:
        assert r["build_seconds"] > 0 and r["p50_ms"] > 0 and r["peak_rss_mb"] > 100 and r["sentences"] == 1200, r
    text = results.read_text("utf-8")
    assert text.startswith("# Benchmark results\n\nearlier sections\n") and "| milvus-lite | 300 |" in text
    assert (out / "scale.png").exists() == ("results/scale.png" in text)
    assert not (tmp_path / "work" / "embedded-300").exists()  # the synthetic indexes are deleted
    from benchmarks.report import write_markdown

    write_markdown(out, "", results)  # the quality and speed benchmarks regenerate the file: the scale section stays
    assert "| milvus-lite | 300 |" in results.read_text("utf-8") and "earlier sections" not in results.read_text("utf-8")


def test_answer_model_calibration_bins_and_error() -> None:
    """Each question's most probable candidate, binned by probability, against whether it answers."""
    import numpy as np

    from benchmarks.train_triggering import Collected, calibration
    from benchmarks.wikiqa import Question

    labels = np.array([True, False, False, True, False, False])  # 4 questions: rows 0-1, 2-3, 4, 5
    probability = np.array([0.9, 0.1, 0.3, 0.05, 0.15, 0.12])
    questions = [Question(str(i), "q?", "D", ()) for i in range(4)]
    data = Collected(np.zeros((6, 1)), labels, [""] * 6, np.array([0, 2, 4, 5, 6]), questions, np.zeros(4, int))
    result = calibration(data, probability)
    # tops: 0.9 (answers), 0.3 (does not), 0.15 (does not), 0.12 (does not)
    assert result["bins"] == [[0.1, 0.2, 2, 0.135, 0.0], [0.3, 0.4, 1, 0.3, 0.0], [0.8, 1.0, 1, 0.9, 1.0]]
    assert result["ECE"] == round((2 * 0.135 + 0.3 + 0.1) / 4, 4)


def test_answer_embedders_extra_columns_and_plain_file_cache(tmp_path: Path) -> None:
    """An extra embedder's similarity, gap to the question's best and rank, per question; the
    collected candidates survive the plain .npz/.json cache unchanged."""
    import numpy as np

    from benchmarks.answer_embedders import with_extra
    from benchmarks.collected import load_part, save_part
    from benchmarks.train_triggering import Collected
    from benchmarks.wikiqa import Question

    questions = [Question("1", "a?", "D1", ("x .",)), Question("2", "b?", "D2", ())]
    part = Collected(np.array([[1.0], [2.0], [np.nan]]), np.array([True, False, False]), ["x.", "y.", "z."],
                     np.array([0, 2, 3]), questions, np.array([0, 1]), 6.0)  # fmt: skip
    extended = with_extra(part, np.array([0.2, 0.7, 0.4], np.float32))
    assert np.allclose(extended.features[:, 1:], [[0.2, -0.5, 1.0], [0.7, 0.0, 0.0], [0.4, 0.0, 0.0]])
    save_part(part, tmp_path / "p")
    back = load_part(tmp_path / "p")
    assert np.array_equal(back.features, part.features, equal_nan=True) and back.labels.tolist() == [True, False, False]
    assert (back.texts, back.questions, back.null_weight, back.starts.tolist()) == (part.texts, questions, 6.0, [0, 2, 3])


def test_selqa_pairs_read_each_sentence_in_its_section(tmp_path: Path) -> None:
    """SelQA questions become judge pairs: every answer sentence positive, at most NEGATIVES others, each
    read with its article, section and the sentence before; ``negatives=None`` keeps the whole section."""
    import random

    from benchmarks.judge_pairs import NEGATIVES, selqa_items, selqa_pairs

    sentences = ["Payphone was written by Adam Levine.", "", "It was recorded at Conway Studios in Los Angeles."]
    sentences += [f"Filler sentence number {i}." for i in range(6)]
    item = {"question": "Where was Payphone recorded?", "article": "Payphone (song)", "section": "Background"}
    path = tmp_path / "selqa-ass-dev.json"
    path.write_text(json.dumps([{**item, "answers": [2], "candidates": sentences}, {**item, "answers": [], "candidates": []}]))
    grouped, titles = selqa_pairs(selqa_items([path]), random.Random(1), group=5)
    assert titles == ["Payphone (song)"] and len(grouped) == 1
    pairs = grouped[0]
    assert pairs[0].label == 1.0 and pairs[0].group == 5
    assert pairs[0].text == (
        "It was recorded at Conway Studios in Los Angeles. [SEP] Payphone (song) > Background: Payphone was written by Adam Levine."
    )
    assert sum(p.label == 0.0 for p in pairs) == NEGATIVES and len({p.text for p in pairs}) == len(pairs)
    every, _ = selqa_pairs(selqa_items([path]), random.Random(1), negatives=None)
    assert len(every[0]) == len(sentences) - 1  # the empty candidate is never read


def test_faq_pairs_take_question_headings_and_the_first_sentence_of_their_answer(tmp_path: Path) -> None:
    """A Markdown FAQ becomes judge pairs: each "?" heading a question (numbering dropped), the first
    prose sentence under it positive, sentences of other answers negative; the question's own heading
    is never shown to the judge (the section keeps only the headings around it)."""
    import random

    from benchmarks.faq_pairs import faq_pairs

    path = tmp_path / "heron-faq.md"
    path.write_text(
        "# Heron Bridge FAQ\n\n## Visiting\n\n### 1.1 When is the bridge open?\n\nYes.\n\n"
        "The bridge is open to walkers from 6 am to 10 pm every day. Cyclists must dismount.\n\n"
        "### 1.2 Who designed the bridge?\n\nThe bridge was designed by Ada Marsh in 1931.\n\n"
        "## Tickets\n\n### Do I need a ticket?\n\nNo ticket is needed to cross the bridge.\n\n"
        "### Opening times\n\nThis heading asks nothing, so its section is not a question.\n",
        "utf-8",
    )
    grouped, names = faq_pairs([path], random.Random(1), group=3)
    assert names == ["heron-faq.md"] and len(grouped) == 1
    pairs = grouped[0]
    assert [p.question for p in pairs if p.label] == [
        "When is the bridge open?",
        "Who designed the bridge?",
        "Do I need a ticket?",
    ]
    first = [p for p in pairs if p.group == 3]
    assert first[0].text == "The bridge is open to walkers from 6 am to 10 pm every day. [SEP] Heron Bridge FAQ > Visiting: Yes."
    negatives = {p.text.split(" [SEP] ")[0] for p in first[1:]}
    assert negatives == {
        "The bridge was designed by Ada Marsh in 1931.",
        "No ticket is needed to cross the bridge.",
        "This heading asks nothing, so its section is not a question.",
    }  # "Cyclists must dismount." belongs to the same answer: never a negative
    assert all(p.label == 0.0 for p in first[1:]) and {p.group for p in pairs} == {3, 4, 5}


def test_faq_corpus_drops_question_headings_and_the_removed_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer model's FAQ documents: every question heading is cut from the indexed copy, a share of
    the answers is cut with it (those questions have no gold), the rest keep their first sentences as gold."""
    from benchmarks import faq_questions

    path = tmp_path / "kelda-faq.md"
    sections = [
        f"## Question number {i}?\n\nAnswer sentence number {i} is here. Its second sentence {i} follows.\n" for i in range(8)
    ]
    path.write_text("# Kelda FAQ\n\n" + "\n".join(sections), "utf-8")
    questions = faq_questions.write_corpus([path], tmp_path / "out")
    written = (tmp_path / "out" / path.name).read_text("utf-8")
    assert "?" not in written and written.startswith("# Kelda FAQ\n")
    removed = [q for q in questions if not q.answerable]
    assert len(questions) == 8 and len(removed) == round(8 * faq_questions.UNANSWERED_SHARE)
    for q in questions:
        i = q.text.split()[-1].rstrip("?")
        assert (f"Answer sentence number {i} is here." in written) == q.answerable
        if q.answerable:
            assert q.gold == (f"Answer sentence number {i} is here.", f"Its second sentence {i} follows.")
            assert faq_questions.answers_it(f"Its second sentence {i} follows.", q)
