"""The answer judge: a cross-encoder trained by the project (benchmarks/train_judge.py), shipped as
its trained layers only, checked by sha256 at load, reading each candidate with its context."""

from __future__ import annotations

import doctest
import json
import shutil
from pathlib import Path

import pytest

import rag.answering.judge
from rag.answering.judge import CARD, JUDGE_DIR, WEIGHTS, Judge, pair_text
from rag.errors import ModelError

KELDA = "Mount Kelda is a dormant volcano on the island of Brenn."


def test_doctests_hold() -> None:
    assert doctest.testmod(rag.answering.judge).failed == 0


def test_the_card_records_what_it_was_trained_on() -> None:
    card = json.loads((JUDGE_DIR / CARD).read_text("utf-8"))
    assert card["base"]["weights_sha256"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert {s["name"].split()[0] for s in card["data"]} >= {"SQuAD"}
    assert all(len(s["sha256"]) == 64 for s in card["data"])
    assert "WikiQA" in card["never_used"] and "SQuAD dev" in card["never_used"]
    assert (JUDGE_DIR / WEIGHTS).stat().st_size < 25 * 2**20


@pytest.fixture(scope="module")
def judge() -> Judge:
    shipped = Judge()
    shipped.load()
    return shipped


def test_it_reads_the_question_and_the_sentence_together(judge: Judge) -> None:
    question = "Where did the meeting with the top commanding officers take place?"
    answers = "During a meeting with North Korea's top commanding officers in Pyongyang on New Year's Eve, Kim spoke."
    mentions = "The meeting with the top commanding officers was the last of the year."
    p = judge.probability([question] * 2, [pair_text(answers, "", "", ""), pair_text(mentions, "", "", "")])
    assert p[0] > p[1]


def test_the_sentence_before_says_what_it_refers_to(judge: Judge) -> None:
    question = "When did Mount Kelda last erupt?"
    with_context = pair_text("It last erupted in 1742.", "Mount Kelda", "", KELDA)
    p = judge.probability([question] * 2, [with_context, pair_text(KELDA, "Mount Kelda", "", "")])
    assert p[0] > 0.5 > p[1]


def test_a_question_longer_than_the_judge_reads_is_cut_not_refused(judge: Judge) -> None:
    long_question = "Why " + "exactly " * 300 + "did Mount Kelda erupt?"
    p = judge.probability([long_question], [pair_text("It last erupted in 1742.", "Mount Kelda", "", KELDA)])
    assert p.shape == (1,) and 0.0 <= float(p[0]) <= 1.0


def test_weights_that_fail_their_hash_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "judge"
    folder.mkdir()
    for name in (WEIGHTS, CARD):
        shutil.copy(JUDGE_DIR / name, folder / name)
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-1] ^= 1
    (folder / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        Judge(folder).load()


def test_an_unreadable_card_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / CARD).write_text("{", "utf-8")
    with pytest.raises(ModelError, match="card"):
        Judge(tmp_path)


JUDGE_DOCS = Path(__file__).parent / "data" / "judge"


@pytest.fixture(scope="module")
def kelda_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    from rag import build_index

    from .conftest import ARTICLE

    index_dir = tmp_path_factory.mktemp("kelda") / "index"
    build_index([JUDGE_DOCS, ARTICLE], index_dir, embedder=real_embedder, progress=False)
    return index_dir


def test_a_sentence_whose_subject_is_a_pronoun_is_cited(kelda_index: Path) -> None:
    from rag.answering.answer import answer

    a = answer("When did Mount Kelda last erupt?", index_dir=kelda_index)
    assert not a.abstained
    assert a.citations[0].text == "It last erupted in 1742."
    assert "judge_load" not in a.timings or a.timings["judge_load"] > 0


def test_an_uncertain_answer_is_given_and_marked(kelda_index: Path) -> None:
    from rag.answering.answer import answer
    from rag.settings import AnswerOptions

    question = "Who will lead the payment integration?"
    sure = answer(question, index_dir=kelda_index, min_score=0.0, confident_score=0.0)
    assert sure.confident and not sure.abstained
    unsure = answer(question, index_dir=kelda_index, min_score=0.0, confident_score=1.0)
    assert not unsure.abstained and not unsure.confident
    assert [c.text for c in unsure.citations] == [c.text for c in sure.citations]
    assert AnswerOptions().min_score <= AnswerOptions().confident_score
