"""Ordinary and hostile questions and options (issue 12, items 1, 2, 5 and 10): questions without
BM25 terms, lone surrogates, options of the wrong type or range, a string as history, bad ports and
thread counts, a string format version, and 5 MB questions and history turns. Real model and index."""

from __future__ import annotations

import json
import math
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rag import answer, build_index, retrieve
from rag.answering.answer import ABSTAIN_TEXT, lexical_overlap
from rag.answering.followup import with_history
from rag.answering.history import MAX_HISTORY_TURNS, recent_turns
from rag.answering.signals import query_tokens
from rag.cli import main
from rag.errors import ConfigError, IndexCorruptError, InputError
from rag.indexing.search_index import open_index
from rag.settings import MODES

from .conftest import ARTICLE
from .helpers import QUESTION, assert_one_line_error, copy_index, run_cli

NO_TERMS = ["What is this?", "Why?", "Who?", "And then?", "???", "the", "😀"]
"""Questions whose every word is a stop word, a question word or no word: no BM25 term at all."""
PUTIN = (
    "This achievement follows Kim Jong Un’s visit to Russia, where he engaged in talks with President Vladimir Putin and "
    "toured Russian weapons factories, further indicating North Korea’s ongoing pursuit of military advancements."
)
"""The article's sentence that answers QUESTION."""


def _check_answer(result, index_dir: Path) -> None:
    """Citations and evidence point at the exact source text; an abstention has no citations."""
    assert (result.text == ABSTAIN_TEXT) == result.abstained
    assert not result.abstained or result.citations == []
    docs = {d.id: d for d in open_index(index_dir).data.docs}
    for c in result.evidence:
        assert docs[c.doc_id].text[c.start : c.end] == c.text


# --- 1. questions without BM25 terms -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_questions_without_bm25_terms_abstain_from_the_dense_signal_in_every_mode(article_index, mode: str) -> None:
    for question in NO_TERMS:
        assert query_tokens(question) == []
        result = answer(question, index_dir=article_index, mode=mode)
        assert result.abstained and result.text == ABSTAIN_TEXT and result.question == question
        assert len(result.evidence) == 10 and all(math.isfinite(e.score) for e in result.evidence)
        _check_answer(result, article_index)
        hits = retrieve(question, k=3, index_dir=article_index, mode=mode)
        assert len(hits) == 3 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert all(math.isfinite(h.score) for h in hits)


def test_without_bm25_terms_every_lexical_signal_is_zero(article_index) -> None:
    assert [h.score for h in retrieve("Who?", k=4, index_dir=article_index, mode="bm25")] == [0.0] * 4
    dense = retrieve("Who?", k=4, index_dir=article_index, mode="dense")
    assert sorted(h.chunk_id for h in dense) == [0, 1, 2, 3] and all(0 < h.score < 1 for h in dense)
    loaded = open_index(article_index)
    assert lexical_overlap(loaded, "Who?", ["Kim met Putin.", "Who?"]).tolist() == [0.0, 0.0]


def test_cli_answers_a_question_without_terms(article_index, capsys) -> None:
    assert main(["ask", "Why?", "--index", str(article_index)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ABSTAIN_TEXT + "\n" and captured.err == ""
    # "What is it about?" has no term either, but it is a broad question: the article's lead answers it.
    assert main(["ask", "What is it about?", "--index", str(article_index), "--json"]) == 0
    cited = json.loads(capsys.readouterr().out)["citations"]
    assert cited[0]["text"].startswith("In a recent display of escalating hostility")  # the lead sentence


def test_ui_replies_to_a_first_question_without_terms(article_index) -> None:
    from ui import asking

    chat, sources, turns = asking.respond("Why?", [], [], article_index)
    from ui.conversation import CLOSEST_LABEL, NOT_FOUND

    assert chat[-1]["role"] == "assistant" and f"<strong>{NOT_FOUND}.</strong>" in chat[-1]["content"]
    # "Why?" shares no content word with any passage: none is offered as the closest
    assert CLOSEST_LABEL not in chat[-1]["content"] and CLOSEST_LABEL not in sources
    assert NOT_FOUND in sources and [t["question"] for t in turns] == ["Why?"]


# --- 2. lone surrogates ---------------------------------------------------------------------------


def test_lone_surrogates_in_questions_and_history_are_replaced_and_answered(article_index) -> None:
    result = answer("Who \ud800 did Kim Jong Un meet in Russia?", index_dir=article_index)
    assert result.question == "Who \ufffd did Kim Jong Un meet in Russia?"
    assert not result.abstained and result.citations[0].text == PUTIN
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")  # printable and storable
    follow_up = answer("Who did he meet there?", index_dir=article_index, history=["Did Kim Jong Un visit Russia? \udcff"])
    assert follow_up.query == "Who did Kim Jong Un meet in Russia?"
    assert follow_up.citations[0].text == PUTIN
    hits = retrieve("\udc80\udc81 Putin", k=1, index_dir=article_index)
    assert "Vladimir Putin" in hits[0].text


def test_cli_question_with_a_non_utf8_byte_and_threads_after_the_subcommand(article_index) -> None:
    """argv holds b"\\xff" (Python keeps it as the lone surrogate \\udcff); ``--threads`` comes after ``ask``."""
    out = run_cli("ask", QUESTION + " \udcff", "--index", str(article_index), "--json", "--threads", "1")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["question"] == QUESTION + " \ufffd" and result["citations"][0]["text"] == PUTIN


# --- 5. options -------------------------------------------------------------------------------------

BAD_ANSWER_OPTIONS = [
    ({"k": "3"}, "option k must be a whole number >= 1, not '3' (a str)"),
    ({"k": True}, "option k must be a whole number >= 1, not True (a bool)"),
    ({"k": 0}, "option k must be a whole number >= 1, not 0"),
    ({"k": 2.0}, "option k must be a whole number >= 1, not 2.0 (a float)"),
    ({"candidates": -1}, "option candidates must be a whole number >= 1, not -1"),
    ({"min_score": "x"}, "option min_score must be a number from 0 to 1, not 'x' (a str)"),
    ({"min_score": float("nan")}, "option min_score must be a number from 0 to 1, not nan"),
    ({"min_score": 1.5}, "option min_score must be a number from 0 to 1, not 1.5"),
    ({"relative_cutoff": None}, "option relative_cutoff must be a number from 0 to 1, not None (a NoneType)"),
    ({"max_question_chars": 0}, "option max_question_chars must be a whole number from 1 to 100000, not 0"),
    ({"max_question_chars": 10**9}, "option max_question_chars must be a whole number from 1 to 100000, not 1000000000"),
    ({"max_citations": 0}, "option max_citations must be a whole number >= 1, not 0"),
    ({"evidence": 0}, "option evidence must be a whole number >= 1, not 0"),
    ({"mode": 5}, "unknown retrieval mode 5; known: hybrid, handtuned, dense, bm25"),
]


@pytest.mark.parametrize(("options", "message"), BAD_ANSWER_OPTIONS, ids=[repr(o) for o, _ in BAD_ANSWER_OPTIONS])
def test_answer_options_of_the_wrong_type_or_range_are_config_errors(article_index, options, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        answer(QUESTION, index_dir=article_index, **options)
    assert str(err.value) == message
    if "mode" not in options:
        with pytest.raises(ConfigError, match="^option "):
            retrieve(QUESTION, index_dir=article_index, **options)


def test_retrieve_k_and_good_options_of_other_number_types(article_index) -> None:
    with pytest.raises(ConfigError, match=r"^option k must be a whole number >= 1, not '3' \(a str\)$"):
        retrieve(QUESTION, k="3", index_dir=article_index)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="^option k must be a whole number >= 1, not 0$"):
        retrieve(QUESTION, k=0, index_dir=article_index)
    result = answer(QUESTION, index_dir=article_index, k=np.int64(2), min_score=0, max_citations=1)
    assert result.citations[0].text == PUTIN and len(result.citations) == 1


BAD_BUILD_OPTIONS = [
    ({"chunk_tokens": "256"}, "option chunk_tokens must be a whole number >= 16, not '256' (a str)"),
    ({"chunk_tokens": 8}, "option chunk_tokens must be a whole number >= 16, not 8"),
    ({"overlap_tokens": True}, "option overlap_tokens must be a whole number >= 0, not True (a bool)"),
    ({"overlap_tokens": 256}, "option overlap_tokens must be smaller than chunk_tokens (256), not 256"),
    ({"max_sentence_tokens": 300}, "option max_sentence_tokens must be at most chunk_tokens (256), not 300"),
    ({"batch_size": 2.5}, "option batch_size must be a whole number >= 1, not 2.5 (a float)"),
    ({"progress": "no"}, "option progress must be True or False, not 'no' (a str)"),
    ({"model": ""}, "option model must be a non-empty string, not '' (a str)"),
    ({"model": None}, "option model must be a non-empty string, not None (a NoneType)"),
]


@pytest.mark.parametrize(("options", "message"), BAD_BUILD_OPTIONS, ids=[repr(o) for o, _ in BAD_BUILD_OPTIONS])
def test_build_options_of_the_wrong_type_or_range_are_config_errors(tmp_path: Path, fake_embedder, options, message) -> None:
    with pytest.raises(ConfigError) as err:
        build_index([ARTICLE], tmp_path / "index", embedder=fake_embedder, **options)
    assert str(err.value) == message
    assert not (tmp_path / "index").exists() and fake_embedder.calls == 0


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ("some string", "history must be a list of earlier turns (questions, (question, answer) pairs or chat messages), "
         "not a str: pass [question] for one earlier question"),
        (5, "history must be a list of earlier turns (questions, (question, answer) pairs or chat messages), not an int"),
        ({"role": "user", "content": "Hi"}, "history must be a list of earlier turns (questions, (question, answer) pairs "
         "or chat messages), not a dict"),
        (["Did Kim Jong Un visit Russia?", 5], "history turn 2 must be one of questions, (question, answer) pairs or chat "
         "messages, not an int"),
    ],
)  # fmt: skip
def test_history_must_be_a_list_of_turns(article_index, history, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        answer("Who did he meet there?", index_dir=article_index, history=history)
    assert str(err.value) == message


def test_history_as_a_tuple_of_pairs_or_messages_resolves_a_follow_up(article_index) -> None:
    for history in (
        ("Did Kim Jong Un visit Russia?",),
        [("Did Kim Jong Un visit Russia?", "Yes.")],
        [{"role": "user", "content": [{"type": "text", "text": "Did Kim Jong Un visit Russia?"}]}, {"role": "assistant"}],
    ):
        result = answer("Who did he meet there?", index_dir=article_index, history=history)
        assert result.query == "Who did Kim Jong Un meet in Russia?"
        assert result.citations[0].text == PUTIN


def test_bad_port_is_a_one_line_error_and_does_not_break_other_commands(article_index, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RAG_PORT", "abc")
    assert main(["status", "--index", str(article_index)]) == 0
    assert "documents: 1" in capsys.readouterr().out
    assert main(["serve", "--index", str(article_index)]) == 2
    assert_one_line_error(capsys.readouterr().err, "--port / RAG_PORT must be a whole number from 1 to 65535, not 'abc'")
    monkeypatch.delenv("RAG_PORT")
    for port in ("99999", "0", "-1", "http"):
        assert main(["serve", "--port", port, "--index", str(article_index)]) == 2
        assert_one_line_error(capsys.readouterr().err, f"must be a whole number from 1 to 65535, not '{port}'")


def test_threads_are_accepted_before_and_after_the_subcommand(article_index, capsys, monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["ask", "Who?", "--threads", "1", "--index", str(article_index)]) == 0
        assert torch.get_num_threads() == 1
        assert main(["--threads", "2", "status", "--index", str(article_index)]) == 0  # not reset by the subcommand
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("RAG_THREADS", "2")
        assert main(["status", "--threads", "1", "--index", str(article_index)]) == 0  # the option beats the env
        assert torch.get_num_threads() == 1
        capsys.readouterr()
        assert main(["status", "--threads", "100000", "--index", str(article_index)]) == 2
        assert_one_line_error(capsys.readouterr().err, "must be a positive whole number up to 256, not '100000'")
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(("version", "shown"), [("2", '"2"'), (2.0, "2.0"), (True, "true"), (None, "null")])
def test_format_version_of_another_type_is_named_as_damage(tmp_path: Path, article_index, capsys, version, shown) -> None:
    index, _ = copy_index(article_index, tmp_path / "index")
    manifest = json.loads((index / "manifest.json").read_text("utf-8"))
    manifest["format_version"] = version
    (index / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    message = f"is damaged (format_version must be a whole number, not {shown}): rebuild it with `rag build"
    with pytest.raises(IndexCorruptError, match=re.escape(f"manifest.json {message}")):
        answer(QUESTION, index_dir=index)
    assert main(["status", "--index", str(index)]) == 3
    assert_one_line_error(capsys.readouterr().err, message)


def test_a_non_string_question_is_a_typed_error(article_index) -> None:
    with pytest.raises(InputError, match="^the question must be a string, not a bytes$"):
        answer(b"Who met Putin?", index_dir=article_index)  # type: ignore[arg-type]


# --- 10. bounded questions and history ---------------------------------------------------------------


def test_5_mb_question_and_history_turn_cost_what_a_short_one_does(article_index) -> None:
    big = (QUESTION + " ") * (5_000_000 // (len(QUESTION) + 1))
    answer(QUESTION, index_dir=article_index)  # index and model loaded before measuring
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        result = answer(big, index_dir=article_index)
        _, question_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        follow_up = answer("Who did he meet there?", index_dir=article_index, history=["Hello", big, {"role": "assistant"}])
        _, history_peak = tracemalloc.get_traced_memory()
        seconds = time.perf_counter() - t0
    finally:
        tracemalloc.stop()
    # Before: 0.9 s and +84 MB for the question, 25 s and +740 MB for the follow-up (the whole turn was embedded).
    assert question_peak < 16e6 and history_peak < 16e6, (question_peak, history_peak)
    assert seconds < 15
    assert result.notices == ["question truncated to its first 2000 characters"] and result.question == big[:2000].rstrip()
    assert result.citations[0].text == PUTIN
    assert follow_up.query.startswith("Who did Kim Jong Un meet in Russia?") and len(follow_up.query) < 2 * 2000
    assert follow_up.citations[0].text == PUTIN and follow_up.notices == []


def test_only_the_last_turns_of_a_history_are_read() -> None:
    turns = [5] + ["Did Kim Jong Un visit Russia?"] * MAX_HISTORY_TURNS  # the bad first turn is never looked at
    assert with_history("Who did he meet there?", turns) == "Who did Kim Jong Un meet in Russia?"
    with pytest.raises(ConfigError, match=f"history turn {MAX_HISTORY_TURNS + 1} must be"):
        with_history("Who did he meet there?", [*turns[1:], 5])
    long_turn = "Did Kim Jong Un visit   Russia? " + "x" * 10_000
    assert recent_turns([long_turn], max_chars=40) == [("Did Kim Jong Un visit Russia? xxxxxxxxxx", "")]
    assert with_history("Who did he meet there?", [long_turn], max_chars=40) == "Who did Kim Jong Un meet in Russia?"
