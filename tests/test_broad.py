"""Broad questions ("What is this document about?", "Tell me about X"): recognised by their form and
answered with the most central sentences of the best document, on the topic when one is named."""

from __future__ import annotations

import doctest

import pytest

import rag.answering.broad
from rag.answering.answer import answer
from rag.answering.broad import Broad, parse

from .conftest import ARTICLE

LEAD = (
    "In a recent display of escalating hostility, North Korean leader Kim Jong Un has issued a chilling directive to his "
    "military, ordering them to “thoroughly annihilate” South Korea and the United States if provoked."
)
WHOLE_DOCUMENT = [
    "What is this document about?",
    "what's this about",
    "What are these documents about?",
    "What is the article about?",
    "What does this document cover?",
    "Summarize the article",
    "Summarise this text for me",
    "summarize",
    "Can you summarize the document?",
    "Could you give me an overview?",
    "Give me a summary",
    "Summary of the report please",
    "TL;DR?",
    "What are the main points?",
    "What are the key takeaways of this article?",
    "What is the main topic of the document?",
    "In a nutshell?",
    "Brief me",
]
WITH_TOPIC = {
    "Tell me about the satellite": "the satellite",
    "What happened in 2023?": "2023",
    "Tell me more about North Korea": "North Korea",
    "What do you know about Kim Jong Un?": "Kim Jong Un",
    "What does the article say about sanctions?": "sanctions",
    "Give me an overview of the missile tests": "the missile tests",
    "Summarize what the article says about Russia": "Russia",
    "Describe the spy satellite launch": "the spy satellite launch",
    "Any information on the UN Security Council?": "the UN Security Council",
    "What happened during the New Year's Eve meeting?": "the New Year's Eve meeting",
    "What happened at the summit in Vladivostok?": "the summit in Vladivostok",
    "What took place in Pyongyang on New Year's Eve?": "Pyongyang on New Year's Eve",
}
SPECIFIC = [
    "Who did Kim Jong Un meet in Russia?",
    "What did the US reject?",
    "What is North Korea accused of supplying to Russia?",
    "Tell me why the bridge closed",
    "Describe how a glacier cave forms",
    "What is a summary judgment?",
    "What are the main causes of war?",
    "What is the tallest mountain in Africa?",
    "Is Pyongyang willing to give up its nukes?",
    "What happened to the Roanoke colony?",
    "What happens to light in a prism?",
    "What about the satellite program?",
]


def test_doctests_hold() -> None:
    assert doctest.testmod(rag.answering.broad).failed == 0


@pytest.mark.parametrize("question", WHOLE_DOCUMENT)
def test_questions_about_the_whole_document(question: str) -> None:
    assert parse(question) == Broad()


@pytest.mark.parametrize(("question", "topic"), WITH_TOPIC.items())
def test_questions_about_a_topic(question: str, topic: str) -> None:
    assert parse(question) == Broad(topic)


@pytest.mark.parametrize("question", SPECIFIC)
def test_specific_questions_are_not_broad(question: str) -> None:
    assert parse(question) is None


def test_pronoun_topics_refer_back() -> None:
    assert parse("Summarize it") == parse("Tell me about it") == Broad(refers_back=True)


@pytest.mark.parametrize("question", ["What is this document about?", "Summarize the article"])
def test_overview_of_the_article_starts_with_its_lead(article_index, question: str) -> None:
    a = answer(question, index_dir=article_index)
    assert not a.abstained and 2 <= len(a.citations) <= 3
    assert a.citations[0].text == LEAD
    assert [c.start for c in a.citations] == sorted(c.start for c in a.citations)  # reading order
    text = ARTICLE.read_text("utf-8")
    assert all(text[c.start : c.end] == c.text for c in a.citations)


def test_overview_of_a_topic_cites_only_sentences_on_it(article_index) -> None:
    a = answer("Tell me about the satellite", index_dir=article_index)
    assert not a.abstained and a.citations
    assert all("satellite" in c.text for c in a.citations)
    b = answer("What happened in 2023?", index_dir=article_index)
    assert not b.abstained
    assert b.citations[0].text.startswith("Throughout 2023, North Korea conducted a record number of weapons tests")


def test_overview_of_a_topic_the_documents_lack_abstains(article_index) -> None:
    a = answer("Tell me about the Eiffel Tower", index_dir=article_index)
    assert a.abstained and a.citations == []


JUDGE = ARTICLE.parent.parent / "tests" / "data" / "judge"  # ARTICLE is ROOT/data/...


@pytest.fixture(scope="module")
def titled_index(tmp_path_factory: pytest.TempPathFactory, real_embedder):
    from rag import build_index

    index_dir = tmp_path_factory.mktemp("titled") / "index"
    build_index([JUDGE, ARTICLE], index_dir, embedder=real_embedder, progress=False)
    return index_dir


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("Summarize the team meeting notes", "Team meeting notes"),
        ("Summarize the meeting notes", "Team meeting notes"),
        ("Summarize the almanac", "Almanac"),
        ("Give me an overview of the almanac", "Almanac"),
        ("Tell me about Mount Kelda", "Mount Kelda"),
    ],
)
def test_a_broad_question_that_names_a_title_summarises_that_document(titled_index, question: str, title: str) -> None:
    a = answer(question, index_dir=titled_index)
    assert not a.abstained
    assert len(a.citations) >= 2
    assert {c.title for c in a.citations} == {title}


def test_only_a_topic_that_is_most_of_a_title_names_it(titled_index) -> None:
    from rag.indexing.search_index import open_index

    loaded = open_index(titled_index)
    titles = [d.title for d in loaded.documents()]
    assert titles[rag.answering.broad.titled(loaded, "the team's meeting notes")] == "Team meeting notes"
    assert rag.answering.broad.titled(loaded, "South Korea") is None  # 2 of the article title's 9 terms
    assert rag.answering.broad.titled(loaded, "the notes of the almanac") is None  # in no single title
