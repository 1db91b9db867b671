"""Fuzzing the answer path (issue 12, "Done when"): thousands of random questions (empty, whitespace,
punctuation only, stop words only, emoji, control characters, lone surrogates, RTL text and combining
marks, very long, random unicode), with random histories and every ranking mode, at ``rag.answer``
and at ``rag ask --batch``. Each one is answered, abstains, or raises a typed InputError (an error
record in a batch); nothing else is raised, and every citation is exact.

The bulk runs over the bundled article indexed with FakeEmbedder (the model call dominates the cost);
a few hundred questions go through the real model, and a few hundred lines through one ``rag ask
--batch`` subprocess on the real index.
"""

from __future__ import annotations

import json
import math
import random
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag import answer, build_index
from rag.answering.answer import ABSTAIN_TEXT
from rag.errors import EmptyQuestionError, InputError
from rag.indexing.lexical import QUESTION_WORDS
from rag.indexing.search_index import open_index
from rag.settings import MODES

from .conftest import ARTICLE, FakeEmbedder
from .helpers import QUESTION, run_cli

STOP_WORDS = sorted({"the", "a", "an", "of", "and", "then", "it", "this", "is", "to", "in", "on", *QUESTION_WORDS})
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2009\u2028\u2029\u202f\u3000"
PUNCTUATION = string.punctuation + "¿¡…—–“”‘’«»·•§¶"
EMOJI = ["😀", "🇺🇸", "👩\u200d👩\u200d👧", "👍🏽", "🧑\u200d💻", "❤\ufe0f", "\u200d", "\ufe0f", "🏳️‍🌈"]
RTL = "שלום עולם مرحبا بالعالم \u200f\u200e\u202e\u202b\u202c\u2067\u2069"
ARTICLE_WORDS = ["Kim", "Jong", "Un", "Putin", "Russia", "missile", "South", "Korea", "annihilate", "met", "visit", "2024"]
CONTROL = [chr(c) for c in range(0x20)] + ["\x7f", "\x80", "\x9f", "\u200b", "\ufeff", "\u2066", "\U000e0001"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udcff", "\udfff", "\ud83d"]
COMBINING = ["\u0300", "\u0301", "\u0327", "\u0489", "\u20dd", "\u0e31", "\u093f"]


# --- the questions -----------------------------------------------------------------------------------

any_char = st.characters(exclude_categories=())  # every code point, lone surrogates included
word = st.one_of(
    st.sampled_from(STOP_WORDS),
    st.sampled_from(ARTICLE_WORDS),
    st.sampled_from(EMOJI),
    st.text(st.sampled_from(CONTROL), min_size=1, max_size=4),
    st.text(st.sampled_from(SURROGATES), min_size=1, max_size=3),
    st.text(st.sampled_from(PUNCTUATION), min_size=1, max_size=5),
    st.text(st.sampled_from(RTL), min_size=1, max_size=8),
    st.tuples(st.sampled_from(ARTICLE_WORDS), st.text(st.sampled_from(COMBINING), min_size=1, max_size=6)).map("".join),
    st.text(any_char, min_size=1, max_size=10),
)
questions = st.one_of(
    st.text(st.sampled_from(WHITESPACE), max_size=20),  # empty or whitespace only
    st.text(st.sampled_from(PUNCTUATION), min_size=1, max_size=30),  # punctuation only
    st.lists(st.sampled_from(STOP_WORDS), min_size=1, max_size=12).map(" ".join),  # stop words only
    st.lists(st.tuples(word, st.text(st.sampled_from(WHITESPACE), max_size=2)), max_size=40).map(
        lambda parts: "".join(w + s for w, s in parts)
    ),  # words of every kind, sometimes glued together
    st.text(any_char, max_size=300),  # random unicode
    st.builds(
        lambda w, n: (w + " ") * n, st.sampled_from([QUESTION, "😀", "\ud800", "a", ".", "\u0301"]), st.integers(300, 30_000)
    ),
    st.integers(2_001, 150_000).map(lambda n: "x" * n),  # very long, one word
)
turns = st.one_of(
    questions,
    questions.map(lambda q: {"role": "user", "content": q}),
    questions.map(lambda q: {"role": "user", "content": [{"type": "text", "text": q}]}),
    st.tuples(questions, st.text(max_size=20)),
    st.just({"role": "assistant", "content": "An answer."}),
    st.integers(),  # not a turn: a ConfigError
)
histories = st.one_of(st.none(), st.lists(turns, max_size=4), st.just("Did Kim Jong Un visit Russia?"))


def random_question(rng: random.Random) -> str:
    """A seeded counterpart of ``questions`` (for the real model and the batch file)."""
    kind = rng.randrange(8)
    if kind == 0:
        return "".join(rng.choice(WHITESPACE) for _ in range(rng.randrange(6)))
    if kind == 1:
        return "".join(rng.choice(PUNCTUATION) for _ in range(rng.randint(1, 20)))
    if kind == 2:
        return " ".join(rng.choice(STOP_WORDS) for _ in range(rng.randint(1, 8)))
    if kind == 3:
        return (rng.choice([QUESTION, "😀", "\ud800", "\u0301 a"]) + " ") * rng.randint(300, 20_000)
    if kind == 4:
        return "".join(chr(rng.choice([rng.randrange(0x20, 0x3000), rng.randrange(0x110000)])) for _ in range(rng.randrange(80)))
    pools = [STOP_WORDS, ARTICLE_WORDS, EMOJI, CONTROL, SURROGATES, list(PUNCTUATION), list(RTL), COMBINING]
    parts = [rng.choice(rng.choice(pools)) + rng.choice(["", " ", " ", "  ", "\n", "\u3000"]) for _ in range(rng.randrange(25))]
    return "".join(parts)


# --- what every outcome must satisfy ----------------------------------------------------------------------


def ask(question: Any, index_dir: Path, history: Any = None, mode: str = "hybrid") -> str:
    """Ask; check the answer (or the typed error) and return what happened."""
    try:
        result = answer(question, index_dir=index_dir, history=history, mode=mode)
    except InputError as err:
        message = str(err)
        assert message and "\n" not in message and len(message) < 400, message
        if isinstance(err, EmptyQuestionError):
            assert not question.split()
        return type(err).__name__
    assert question.split(), "a blank question was answered"
    check_answer(result.to_dict(), index_dir)
    return "abstained" if result.abstained else "answered"


def check_answer(result: dict[str, Any], index_dir: Path) -> None:
    """An answer record (``Answer.to_dict()`` or a batch line) is coherent and its citations exact."""
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # printable and storable: no lone surrogates left
    assert 0 < len(result["question"]) <= 2000 and result["question"] == result["question"].strip()
    assert (result["text"] == ABSTAIN_TEXT) == result["abstained"]
    docs = {d.id: d for d in open_index(index_dir).data.docs}
    for c in result["evidence"]:
        assert docs[c["doc_id"]].text[c["start"] : c["end"]] == c["text"] and math.isfinite(c["score"])
    assert [c["n"] for c in result["citations"]] == list(range(1, len(result["citations"]) + 1))
    assert not result["abstained"] or result["citations"] == []
    for c in result["citations"]:
        assert f"{c['text']} [{c['n']}]" in result["text"]


# --- rag.answer, bulk (FakeEmbedder) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled article indexed with FakeEmbedder and loaded with it (``answer`` then reuses it)."""
    index_dir = tmp_path_factory.mktemp("fuzz") / "index"
    embedder = FakeEmbedder()
    build_index([ARTICLE], index_dir, embedder=embedder, progress=False)
    open_index(index_dir, embedder=embedder)
    return index_dir


@settings(
    max_examples=2500, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(questions, histories, st.sampled_from(MODES))
@example("What is this?", None, "hybrid")
@example("Who \ud800 met Putin?", ["\udcff"], "bm25")
@example("\x00", [{"role": "user", "content": "\u0301"}], "handtuned")
@example("", None, "dense")
def test_random_questions_are_answered_abstain_or_are_typed_errors(fake_index: Path, question, history, mode) -> None:
    ask(question, fake_index, history, mode)


# --- rag.answer, real model ---------------------------------------------------------------------------------


@pytest.mark.slow  # about 40 s on a busy 2-core machine
def test_random_questions_through_the_real_model(article_index: Path) -> None:
    rng = random.Random(2024)
    outcomes = Counter()
    for n in range(300):
        question = random_question(rng)
        history = [random_question(rng), {"role": "user", "content": random_question(rng)}] if n % 3 == 0 else None
        outcomes[ask(question, article_index, history, MODES[n % len(MODES)])] += 1
    assert set(outcomes) == {"answered", "abstained", "EmptyQuestionError"}, outcomes
    assert sum(outcomes.values()) == 300


# --- rag ask --batch -------------------------------------------------------------------------------------------


def _batch_lines(rng: random.Random, n: int) -> tuple[list[bytes], dict[int, str]]:
    """``n`` lines (some blank) and, per non-blank line number, "error" or "answer" as expected."""
    malformed = [
        b"{", b"[1, 2]", b'{"q": ["a", "b"]}', b'{"q": 5}', b"null", b"7", b"[" * 3000, b"9" * 5000, b"{}",
        b'{"title": "x"}', b'{"q": "caf\xe9"}', b"\xff\xfe\xfd", b'{"q": "a"', b"tru", b'{"q": null}',
    ]  # fmt: skip
    lines, expected = [], {}
    for number in range(1, n + 1):
        roll = rng.random()
        if roll < 0.05:
            lines.append(rng.choice([b"", b"   ", b"\t"]))
            continue
        if roll < 0.3:
            lines.append(rng.choice(malformed))
            expected[number] = "error"
            continue
        question = random_question(rng)[:3000]
        field = rng.choice(["q", "question", "query", None])
        record = question if field is None else {field: question}
        raw = json.dumps(record, ensure_ascii=rng.random() < 0.5)
        lines.append(raw.encode("utf-8", "surrogatepass"))  # raw lone surrogates: not UTF-8, an error record
        try:
            raw.encode("utf-8")
            expected[number] = "answer" if question.split() else "error"
        except UnicodeEncodeError:
            expected[number] = "error"
    return lines, expected


@pytest.mark.slow  # about 35 s on a busy 2-core machine (one subprocess)
def test_fuzzed_batch_file_gets_one_record_per_line(article_index: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    lines, expected = _batch_lines(rng, 300)
    lines[0], expected[1] = json.dumps({"q": QUESTION}).encode(), "answer"
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\r\n".join(lines[:150]) + b"\n" + b"\n".join(lines[150:]) + b"\n")
    out = run_cli("ask", "--batch", str(path), "--index", str(article_index), "--json")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    errors = sum(v == "error" for v in expected.values())
    assert (
        out.returncode == 1
        and out.stderr == f"rag: {errors} of {len(expected)} questions not answered (see their error records)\n"
    )
    assert [r["line"] for r in records] == sorted(expected)
    for record in records:
        if expected[record["line"]] == "error":
            assert set(record) == {"line", "question", "error"} and record["error"].startswith(f"line {record['line']}: ")
        else:
            check_answer(record, article_index)
    assert "Vladimir Putin" in records[0]["citations"][0]["text"]
