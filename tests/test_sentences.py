from rag.ingestion.documents import make_document, read_file
from rag.ingestion.sentences import count_tokens, split_sentences, split_to_fit

from .conftest import ARTICLE


def test_bundled_article_has_22_sentences_with_exact_offsets():
    (doc,) = read_file(ARTICLE)
    sentences = split_sentences(doc)
    assert len(sentences) == 22
    assert all(doc.text[s.start : s.end] == s.text for s in sentences)
    assert sentences[0].start == doc.body_start
    assert sentences[0].text.startswith("In a recent display")
    assert sentences[-1].text.endswith("mitigate these escalating tensions.")


def test_quotes_do_not_split():
    (doc,) = read_file(ARTICLE)
    texts = [s.text for s in split_sentences(doc)]
    assert any("“thoroughly annihilate” South Korea and the United States if provoked." in t for t in texts)
    assert any("declared itself an “irreversible” nuclear power and shows no intention" in t for t in texts)
    assert not any(t.startswith("South Korea and the United States") for t in texts)
    assert not any(t.startswith("nuclear power") for t in texts)


def test_long_runs_are_cut_at_whitespace_without_losing_text():
    text = " ".join(f"word{i}" for i in range(3000))
    doc = make_document("long.txt", text)
    sentences = split_sentences(doc, max_tokens=50)
    assert all(count_tokens(s.text) <= 50 for s in sentences)
    assert " ".join(s.text for s in sentences) == text
    assert all(not s.text.startswith(" ") and not s.text.endswith(" ") for s in sentences)


def test_multibyte_text_cut_safely():
    text = "😀 " * 400 + "é" * 900
    doc = make_document("emoji.txt", text)
    sentences = split_sentences(doc, max_tokens=40)
    assert all(doc.text[s.start : s.end] == s.text for s in sentences)
    assert "".join(s.text for s in sentences).replace(" ", "") == text.replace(" ", "")


def test_split_to_fit_halves_until_it_fits():
    doc = make_document("x.txt", "alpha beta gamma delta epsilon zeta eta theta")
    sentences = split_sentences(doc)
    pieces = split_to_fit(sentences, doc.text, lambda t: len(t.split()) <= 2)
    assert [p.text for p in pieces] == ["alpha beta", "gamma delta", "epsilon", "zeta", "eta theta"]
    assert " ".join(p.text for p in pieces) == doc.text
    assert all(doc.text[p.start : p.end] == p.text for p in pieces)
