"""Stage 3: sentences packed into token-sized, sentence-aligned :class:`Chunk` records.

Sizes are in cl100k_base tokens (``chunk_tokens``, with up to ``overlap_tokens`` of whole
trailing sentences repeated at the start of the next chunk). A chunk that the embedding
model would truncate (measured with the model's own tokenizer) is re-packed smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .records import Chunk, Document, Sentence
from .sentences import count_tokens


def pack(counts: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive items into ``[first, last)`` ranges whose counts sum to <= ``budget``.

    A single item over budget forms its own range. Consecutive ranges share trailing items
    worth at most ``overlap``; every range starts after the previous one's start.

    >>> pack([5, 5, 5, 5], budget=10, overlap=5)
    [(0, 2), (1, 3), (2, 4)]
    """
    ranges: list[tuple[int, int]] = []
    first, n = 0, len(counts)
    while first < n:
        last, total = first + 1, counts[first]
        while last < n and total + counts[last] <= budget:
            total += counts[last]
            last += 1
        ranges.append((first, last))
        if last >= n:
            break
        nxt, carried = last, 0
        while nxt - 1 > first and carried + counts[nxt - 1] <= overlap:
            nxt -= 1
            carried += counts[nxt]
        first = nxt
    return ranges


def chunk_sentences(
    doc: Document,
    sentences: Sequence[Sentence],
    chunk_tokens: int,
    overlap_tokens: int,
    fits: Callable[[Sequence[str]], list[bool]] | None = None,
) -> list[Chunk]:
    """Chunks of one document's sentences.

    ``fits`` (optional) takes chunk texts and says which the embedding model can take whole;
    the others are split again, halving their token budget, until all fit.
    """
    counts = [count_tokens(s.text) + 1 for s in sentences]
    ranges = pack(counts, chunk_tokens, overlap_tokens)
    if fits is not None:
        ranges = _fit(ranges, counts, sentences, doc, overlap_tokens, fits)
    return [_chunk(doc, sentences, a, b, sum(counts[a:b])) for a, b in ranges]


def _fit(ranges, counts, sentences, doc, overlap, fits):  # type: ignore[no-untyped-def]
    """Re-pack ranges the model cannot take whole (rare: only token-dense text)."""
    out: list[tuple[int, int]] = []
    pending = list(ranges)
    while pending:
        verdicts = fits([_text(doc, sentences, a, b) for a, b in pending])
        retry: list[tuple[int, int]] = []
        for (a, b), ok in zip(pending, verdicts):
            if ok or b - a == 1:
                out.append((a, b))
            else:
                budget = max(1, sum(counts[a:b]) // 2)
                retry.extend((a + x, a + y) for x, y in pack(counts[a:b], budget, min(overlap, budget // 2)))
        pending = retry
    return sorted(set(out))


def _text(doc: Document, sentences: Sequence[Sentence], first: int, last: int) -> str:
    return doc.text[sentences[first].start : sentences[last - 1].end]


def _chunk(doc: Document, sentences: Sequence[Sentence], first: int, last: int, tokens: int) -> Chunk:
    start, end = sentences[first].start, sentences[last - 1].end
    return Chunk(doc.id, first, last, start, end, doc.text[start:end], tokens)


def embedding_text(doc: Document, text: str) -> str:
    """What is embedded and BM25-indexed for a chunk: a short metadata line, then the text.

    The metadata line lets questions that name an outlet, a title or a date find the chunk.
    """
    meta = " | ".join(x for x in (doc.title[:200], _source_name(doc), doc.date) if x)
    return f"{meta}\n{text}" if meta else text


def _source_name(doc: Document) -> str:
    # File paths say nothing useful to retrieval; outlet names ("The Verge") do.
    return "" if doc.source == doc.key or "/" in doc.source else doc.source
