"""Property-based tests (hypothesis) of sentence splitting and chunking on arbitrary text:
exact offsets, nothing lost, order, token bounds. No model: ``chunk_sentences`` runs without ``fits``."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.errors import DocumentError
from rag.ingestion.chunking import chunk_sentences, pack
from rag.ingestion.documents import make_document
from rag.ingestion.sentences import count_tokens, paragraphs, split_sentences, split_to_fit
from rag.records import Document

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = ["Hello", "world.", "Dr.", "Smith", "said", "“quoted”", "e.g.", "ünïcödé", "😀", "🇺🇸", "日本語。", "a", "?", "!"]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", "\r\n", " \n \n ", "\u00a0", "\u2028", "\x00", "\x0b", ""]

# Text made of words, long runs and odd separators: more sentence-like than raw st.text().
words = st.one_of(
    st.sampled_from(WORDS),
    st.text(min_size=1, max_size=12),
    st.integers(40, 700).map(lambda n: "x" * n),  # one very long "word"
    st.integers(1, 60).map(lambda n: "😀" * n),
)
texts = st.one_of(
    st.text(max_size=400),
    st.lists(st.tuples(words, st.sampled_from(SEPARATORS)), max_size=80).map(lambda ps: "".join(w + s for w, s in ps)),
)
headers = st.sampled_from(["", "date 2024-01-01 ", "  date 1999-12-31\n\n", "date 2024-01-01"])


def _document(text: str) -> Document | None:
    try:
        return make_document("doc.txt", text)
    except DocumentError:  # an empty body
        return None


def _check_sentences(doc: Document, max_tokens: int) -> None:
    sentences = split_sentences(doc, max_tokens)
    cursor = doc.body_start
    covered = bytearray(len(doc.text))
    for a, b in [(a, b) for a, b, _ in doc.headings] + list(doc.markers):  # never in a sentence, never lost
        assert doc.body_start <= a < b <= len(doc.text)
        covered[a:b] = b"\x02" * (b - a)
    for s in sentences:
        assert doc.text[s.start : s.end] == s.text and s.doc_id == doc.id
        assert s.text and s.text == s.text.strip() and s.start >= cursor  # non-empty, stripped, in order, disjoint
        assert count_tokens(s.text) <= max_tokens
        assert b"\x02" not in covered[s.start : s.end], f"a heading or list marker inside {s.text!r}"
        covered[s.start : s.end] = b"\x01" * (s.end - s.start)
        cursor = s.end
    lost = [i for i in range(doc.body_start, len(doc.text)) if not doc.text[i].isspace() and not covered[i]]
    assert not lost, f"characters lost at {lost[:5]}: {doc.text[lost[0] : lost[0] + 20]!r}"


@SETTINGS
@given(headers, texts, st.sampled_from([8, 16, 96]))
@example("", "x" * 5000, 8)
@example("", "a\x00b. c\x00d. " * 30, 8)
@example("", "😀" * 3000, 16)
@example("", "Hello." + " " * 5000 + "World.", 8)
def test_sentences_map_back_exactly_and_lose_nothing(header: str, body: str, max_tokens: int) -> None:
    doc = _document(header + body)
    if doc is not None:
        _check_sentences(doc, max_tokens)


# Markdown, plain-text and PDF-text structure: headings, setext underlines, bullets, numbers, fences, front matter.
MARKUP_PIECES = ["# ", "## ", "- ", "* ", "+ ", "1. ", "2) ", "• ", "---", "===", "```", "> ", "Title", "The Heron Bridge"]
MARKUP_PIECES += ["It opened in 1998.", "designed by", "Steps:", "x" * 300, "    ", "title: X", "Date: 2024-05-01", "日本語。"]
marked_texts = st.lists(
    st.tuples(st.sampled_from(MARKUP_PIECES), st.sampled_from(["", " ", "\n", "\n\n", "\r\n", "\t"])), max_size=60
).map(lambda ps: "".join(w + s for w, s in ps))
front = st.sampled_from(["", "---\ntitle: T\ndate: 2024-01-01\n---\n", "Title: T\nDate: 2024-01-01\n\n", "---\n"])


@SETTINGS
@given(front, marked_texts, st.sampled_from(["markdown", "text", "pdf"]), st.sampled_from([8, 96]))
@example("", "# A\n\n- b\n- c\n\nText.", "markdown", 96)
@example("", "Title\n\nSteps:\n1. One.\n2) Two.", "text", 8)
def test_structured_sentences_leave_out_headings_and_markers_and_lose_nothing_else(
    header: str, body: str, markup: str, max_tokens: int
) -> None:
    try:
        doc = make_document(f"doc.{markup}", header + body, markup=markup)
    except DocumentError:  # an empty body
        return
    _check_sentences(doc, max_tokens)


@SETTINGS
@given(texts, st.sampled_from([(16, 0, 8), (40, 10, 16), (160, 32, 96)]))
@example("Hello world. " * 200, (16, 0, 8))
@example("0" * 94 + ":" + "0" * 34 + ":0:0:0:0:0:  \x1f0:0\u0f80", (16, 0, 8))  # joined text has more tokens than its parts
def test_chunks_cover_every_sentence_within_token_bounds(body: str, sizes: tuple[int, int, int]) -> None:
    chunk_tokens, overlap, max_sentence_tokens = sizes
    doc = _document(body)
    if doc is None:
        return
    sentences = split_sentences(doc, max_sentence_tokens)
    chunks = chunk_sentences(doc, sentences, chunk_tokens, overlap)
    covered: set[int] = set()
    previous_first = -1
    for ch in chunks:
        assert 0 <= ch.first < ch.last <= len(sentences) and ch.first > previous_first
        assert ch.text == doc.text[ch.start : ch.end] == doc.text[sentences[ch.first].start : sentences[ch.last - 1].end]
        assert ch.tokens == sum(count_tokens(s.text) + 1 for s in sentences[ch.first : ch.last])
        if ch.last - ch.first > 1:
            assert count_tokens(ch.text) <= chunk_tokens
        else:
            assert count_tokens(ch.text) <= max_sentence_tokens
        covered.update(range(ch.first, ch.last))
        previous_first = ch.first
    assert covered == set(range(len(sentences)))


@SETTINGS
@given(st.lists(st.integers(1, 50), max_size=60), st.integers(1, 120), st.integers(0, 60))
def test_pack_ranges_are_ordered_cover_everything_and_respect_budget(counts: list[int], budget: int, overlap: int) -> None:
    ranges = pack(counts, budget, overlap)
    assert bool(ranges) == bool(counts)
    if ranges:
        assert ranges[0][0] == 0 and ranges[-1][1] == len(counts)
    for (a, b), (c, d) in zip(ranges, ranges[1:]):
        assert a < c <= b < d  # starts and ends strictly increase, no gaps
        assert sum(counts[c:b]) <= overlap  # shared items fit the overlap
    assert all(b - a == 1 or sum(counts[a:b]) <= budget for a, b in ranges)


@SETTINGS
@given(texts, st.integers(1, 30))
def test_split_to_fit_keeps_offsets_and_text(body: str, max_chars: int) -> None:
    doc = _document(body)
    if doc is None:
        return
    pieces = split_to_fit(split_sentences(doc), doc.text, lambda t: len(t) <= max_chars)
    assert all(doc.text[p.start : p.end] == p.text and p.text == p.text.strip() and p.text for p in pieces)
    assert all(a.end <= b.start for a, b in zip(pieces, pieces[1:]))
    assert "".join("".join(p.text.split()) for p in pieces) == "".join(doc.text[doc.body_start :].split())


@SETTINGS
@given(st.text(alphabet=st.sampled_from("ab. \n\t\r\x0b"), max_size=300), st.integers(0, 50))
def test_paragraphs_are_ordered_and_never_hold_a_blank_line(text: str, start: int) -> None:
    start = min(start, len(text))
    spans = paragraphs(text, start)
    assert all(start <= a < b <= len(text) for a, b in spans)
    assert not any(re.search(r"\n[ \t\r\f\v]*\n", text[a:b]) for a, b in spans)
    bounds = [start, *[x for span in spans for x in span], len(text)]
    assert all(a <= b and not text[a:b].strip() for a, b in zip(bounds[::2], bounds[1::2]))  # only blank text between
