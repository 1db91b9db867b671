"""Example questions come from the indexed documents and are each answered (issue 24 item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import answer
from ui import examples

ROOT = Path(__file__).resolve().parent.parent
JUDGE = ROOT / "tests" / "data" / "judge"


@pytest.fixture(scope="module")
def notes_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    from rag import build_index

    index_dir = tmp_path_factory.mktemp("notes") / "index"
    build_index([JUDGE], index_dir, embedder=real_embedder, progress=False)
    return index_dir


def test_examples_are_about_this_index_and_each_is_answered(notes_index: Path) -> None:
    found = examples.examples(notes_index)
    assert examples.candidates(notes_index) == [*found, "Tell me about decisions"]
    assert found == ["Summarize Almanac", "Summarize Mount Kelda", "Summarize Team meeting notes"]  # the last is not answered
    assert not set(found) & set(examples.SAMPLE_QUESTIONS)  # nothing about the bundled article
    for question in found:
        assert not answer(question, index_dir=notes_index).abstained


def test_the_sample_articles_questions_are_offered_while_it_is_indexed(article_index: Path) -> None:
    assert examples.examples(article_index) == [*examples.SAMPLE_QUESTIONS, "What is this document about?"]


def test_no_index_gives_no_examples(tmp_path: Path) -> None:
    assert examples.examples(tmp_path / "none") == []
