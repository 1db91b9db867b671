"""Follow-up questions: the history says what "it" or "he" is, without re-answering the previous question.

The issue's cases, recreated on a small corpus (``tests/data/conversation``: a bridge and a library,
each with an opening, a designer and a cost) plus the bundled article, with the real model.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import rag.answering.followup
from rag.answering.answer import answer
from rag.answering.followup import phrases, resolve

from .conftest import ARTICLE, ROOT

CONVERSATION = ROOT / "tests" / "data" / "conversation"
OPENED = "The bridge opened to traffic on 14 June 1998, after four years of construction."
DESIGNER = "It was designed by the Norwegian engineer Ingrid Solberg, who also drew the harbour footbridge in Tarnby."
BRIDGE_COST = "Building the bridge cost 212 million euros, nearly twice the first estimate."
LIBRARY_COST = "The new library cost 48 million dollars, paid for by a municipal bond and a state grant."
VOTED_AGAINST = "Councillors Mark Feeney and Dana Ortiz voted against it, arguing that the money should go to road repairs."
PUTIN = (
    "This achievement follows Kim Jong Un’s visit to Russia, where he engaged in talks with President Vladimir Putin "
    "and toured Russian weapons factories, further indicating North Korea’s ongoing pursuit of military advancements."
)


@pytest.fixture(scope="module")
def conversation_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    from rag import build_index

    index_dir = tmp_path_factory.mktemp("conversation") / "index"
    build_index([CONVERSATION, ARTICLE], index_dir, embedder=real_embedder, progress=False)
    return index_dir


def test_doctests_hold() -> None:
    assert doctest.testmod(rag.answering.followup).failed == 0


def test_only_the_previous_questions_noun_phrases_are_carried_over() -> None:
    assert phrases("When did the Heron Bridge open?") == ("the Heron Bridge", ())
    assert phrases("How long did the construction of the bridge take?") == ("the construction of the bridge", ())
    assert phrases("Which company bought Twitter in 2022?") == ("Twitter", ())
    assert phrases("What is the tallest bridge in Europe?") == ("the tallest bridge", ("Europe",))
    assert phrases("Tell me about the satellite") == ("the satellite", ())
    turn = resolve("Who designed it?", ["When did the Heron Bridge open?"])
    assert (turn.text, turn.question, turn.context) == (
        "Who designed the Heron Bridge?",
        "Who designed it?",
        ("the Heron Bridge",),
    )
    assert "open" not in turn.text  # the earlier question's verb does not come along


def test_chained_follow_ups_and_elliptical_questions() -> None:
    history = ["When did the Heron Bridge open?", "Who designed it?"]
    assert resolve("How much did it cost?", history).text == "How much did the Heron Bridge cost?"
    assert resolve("And the cost?", history[:1]).text == "The cost (the Heron Bridge)?"  # the linking word goes
    assert resolve("What about its length?", history[:1]).text == "What about the Heron Bridge’s length?"
    assert resolve("Who designed the Alden library?", history).text == "Who designed the Alden library?"  # not a follow-up


def test_history_formats_and_the_previous_answer() -> None:
    pair = resolve("Who designed it?", [("When did the Heron Bridge open?", f"{OPENED} [1]")])
    assert pair.previous_answer == f"{OPENED} [1]"
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "When did the Heron Bridge open?"}]},
        {"role": "assistant", "content": f"{OPENED} [1]"},
    ]
    turn = resolve("Who designed it?", messages)
    assert (turn.text, turn.previous_answer) == ("Who designed the Heron Bridge?", f"{OPENED} [1]")
    assert resolve("Who designed it?", ["  "]).text == "Who designed it?"


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        (["When did the Heron Bridge open?"], "Who designed it?", DESIGNER),
        (["When did the Heron Bridge open?", "Who designed it?"], "How much did it cost?", BRIDGE_COST),
        (["How much did the new library cost?"], "And who voted against it?", VOTED_AGAINST),
        (["Did Kim Jong Un visit Russia?"], "Who did he meet there?", PUTIN),
    ],
)
def test_follow_ups_cite_the_new_questions_answer(conversation_index: Path, history, question, expected) -> None:
    a = answer(question, index_dir=conversation_index, history=history)
    assert not a.abstained
    assert a.citations[0].text == expected


def test_the_previous_answer_is_not_cited_again(conversation_index: Path) -> None:
    first = answer("When did the Heron Bridge open?", index_dir=conversation_index)
    assert first.citations[0].text == OPENED
    a = answer("Who designed it?", index_dir=conversation_index, history=[("When did the Heron Bridge open?", first)])
    assert a.citations[0].text == DESIGNER
    assert OPENED not in [c.text for c in a.citations]
    # Still the best evidence: asked again, the same sentence is cited again.
    again = answer("When did it open?", index_dir=conversation_index, history=[("When did the Heron Bridge open?", first)])
    assert again.citations[0].text == OPENED
