"""The answer API on the bundled article, with the real model."""

import json
from dataclasses import replace

import pytest

from rag.answering.answer import ABSTAIN_TEXT, answer
from rag.answering.retrieve import retrieve
from rag.cli.evaluate import evaluate
from rag.errors import ConfigError, EmptyQuestionError, IndexNotFoundError
from rag.ingestion.documents import read_file

from .conftest import ARTICLE, EVAL

PUTIN = (
    "This achievement follows Kim Jong Un’s visit to Russia, where he engaged in talks with President Vladimir Putin "
    "and toured Russian weapons factories, further indicating North Korea’s ongoing pursuit of military advancements."
)
ANNIHILATE = (
    "In a recent display of escalating hostility, North Korean leader Kim Jong Un has issued a chilling directive to his "
    "military, ordering them to “thoroughly annihilate” South Korea and the United States if provoked."
)


@pytest.fixture(scope="module")
def doc():
    return read_file(ARTICLE)[0]


def test_answer_cites_exact_sentence_with_offsets(article_index, doc):
    a = answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index)
    assert not a.abstained
    first = a.citations[0]
    assert first.n == 1 and first.text == PUTIN
    assert (first.start, first.end) == (doc.text.index(PUTIN), doc.text.index(PUTIN) + len(PUTIN))
    assert doc.text[first.start : first.end] == first.text
    assert first.doc_id == doc.id and first.date == "2024-01-01"
    assert first.title == "Kim Jong Un orders military to annihilate South Korea and US"
    assert a.text.startswith(PUTIN + " [1]")
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    assert all(f"[{c.n}]" in a.text for c in a.citations)


def test_answer_structure(article_index, doc):
    a = answer("What did Kim Jong Un order his military to do if provoked?", index_dir=article_index)
    assert a.citations[0].text == ANNIHILATE
    assert a.citations[0].start == doc.body_start
    assert 1 <= len(a.citations) <= 3
    assert len(a.evidence) == 10
    assert [e.score for e in a.evidence] == sorted((e.score for e in a.evidence), reverse=True)
    assert all(c in a.evidence for c in a.citations)  # citations are a subset of the evidence
    assert len({c.text for c in a.evidence}) == len(a.evidence)  # no sentence twice
    assert set(a.timings) >= {"embed", "retrieve", "total"}
    assert json.loads(json.dumps(a.to_dict()))["citations"][0]["text"] == ANNIHILATE


@pytest.mark.parametrize(
    "question",
    ["What is the tallest mountain in Africa?", "How much does a new electric car cost?", "What is North Korea's GDP?"],
)
def test_off_topic_questions_abstain(article_index, question):
    a = answer(question, index_dir=article_index)
    assert a.abstained
    assert a.text == ABSTAIN_TEXT
    assert a.citations == []
    assert len(a.evidence) == 10 and all(e.n == 0 for e in a.evidence)


def test_follow_up_uses_history(article_index):
    a = answer("Who did he meet there?", index_dir=article_index, history=["Did Kim Jong Un visit Russia?"])
    assert a.query == "Who did Kim Jong Un meet in Russia?"  # the previous question's names, not its verb
    assert a.citations[0].text == PUTIN
    messages = [{"role": "user", "content": "Did Kim Jong Un visit Russia?"}, {"role": "assistant", "content": "Yes [1]"}]
    b = answer("Who did he meet there?", index_dir=article_index, history=messages)
    assert b.citations[0].text == PUTIN
    c = answer("What has North Korea declared itself to be?", index_dir=article_index, history=["Did Kim visit Russia?"])
    assert c.query == "What has North Korea declared itself to be?"  # not a follow-up: history ignored


def test_retrieve_returns_ranked_chunks(article_index, doc):
    hits = retrieve("Who did Kim Jong Un hold talks with in Russia?", k=3, index_dir=article_index)
    assert len(hits) == 3
    assert PUTIN in hits[0].text
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert all(doc.text[h.start : h.end] == h.text for h in hits)
    assert all(s.text == doc.text[s.start : s.end] for h in hits for s in h.sentences)
    assert hits[0].title == doc.title


def test_bad_questions_and_options(article_index, tmp_path):
    with pytest.raises(EmptyQuestionError):
        answer("   ", index_dir=article_index)
    with pytest.raises(ConfigError, match="unknown option"):
        answer("x", index_dir=article_index, temperature=0)
    with pytest.raises(ConfigError, match="unknown retrieval mode 'learned'; known: hybrid, handtuned, dense, bm25"):
        answer("x", index_dir=article_index, mode="learned")
    with pytest.raises(ConfigError, match="unknown retrieval mode"):
        retrieve("x", index_dir=article_index, mode="learned")
    with pytest.raises(IndexNotFoundError):
        answer("Who?", index_dir=tmp_path / "none")
    long = answer("Putin " * 20000, index_dir=article_index)
    assert long.notices == ["question truncated to its first 2000 characters"]


def test_article_dev_metrics(article_index):
    metrics = evaluate(EVAL / "article_dev.jsonl", article_index)
    assert metrics["P@1"] >= 0.95 and metrics["R@3"] == 1.0
    assert metrics["abstention"] == 1.0 and metrics["false_abstentions"] == 0


@pytest.mark.parametrize("mode", ["handtuned", "bm25"])
def test_other_rankings_answer_the_article_dev_set_too(article_index, mode: str) -> None:
    metrics = evaluate(EVAL / "article_dev.jsonl", article_index, mode=mode)
    assert (metrics["P@1"], metrics["R@3"], metrics["abstention"], metrics["false_abstentions"]) == (1.0, 1.0, 1.0, 0)
    assert answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index, mode=mode).citations[0].text == PUTIN


def test_cli_ask_mode(article_index, capsys) -> None:
    from rag.cli import main

    assert (
        main(["ask", "Who did Kim Jong Un meet in Russia?", "--mode", "handtuned", "--json", "--index", str(article_index)]) == 0
    )
    assert json.loads(capsys.readouterr().out)["citations"][0]["text"] == PUTIN
    with pytest.raises(SystemExit) as exit_:
        main(["ask", "Who?", "--mode", "learned", "--index", str(article_index)])
    assert exit_.value.code == 2 and "invalid choice: 'learned'" in capsys.readouterr().err


def test_rebuilt_index_is_picked_up(tmp_path, corpus, real_embedder):
    from rag import build_index

    idx = tmp_path / "idx"
    build_index([corpus / "article.txt"], idx, embedder=real_embedder)
    assert answer("How long do cats sleep?", index_dir=idx).abstained
    build_index([corpus], idx, embedder=real_embedder, replace=True)
    a = answer("How long do cats sleep?", index_dir=idx)
    assert not a.abstained and a.citations[0].text == "Cats sleep for sixteen hours a day."
    assert replace(a.citations[0], n=0) in [replace(e, n=0) for e in a.evidence]


def test_top_level_api_is_the_readme_example(article_index):
    import subprocess
    import sys

    import rag

    assert callable(rag.answer) and callable(rag.retrieve) and callable(rag.build_index)
    assert rag.answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index).citations[0].text == PUTIN
    assert rag.retrieve("Who did Kim Jong Un hold talks with in Russia?", k=1, index_dir=article_index)[0].sentences
    # Importing rag stays light: no model, no gradio, no torch.
    code = "import sys, rag; print(any(m in sys.modules for m in ('torch', 'gradio', 'sentence_transformers', 'faiss')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
