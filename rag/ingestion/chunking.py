"""Sentences packed into token-sized, sentence-aligned :class:`Chunk` records.

Sizes are in cl100k_base tokens (``chunk_tokens``, with up to ``overlap_tokens`` of whole
trailing sentences repeated at the start of the next chunk). The same packing makes the
embedding windows (no overlap): given ``fits``, a window that the embedding model would
truncate (measured with the model's own tokenizer) is re-packed smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.ingestion.sentences import count_tokens
from rag.ingestion.structure import section_at
from rag.records import Chunk, Document, Sentence


def pack(counts: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive items into ``[first, last)`` ranges whose counts sum to <= ``budget``.

    A single item over budget forms its own range. Consecutive ranges share trailing items
    worth at most ``overlap``, and only as many as leave room for the next new item: every
    range starts and ends after the previous one (none is a mere repeat of shared items).

    >>> pack([5, 5, 5, 5], budget=10, overlap=5)
    [(0, 2), (1, 3), (2, 4)]
    >>> pack([1, 1, 2], budget=2, overlap=1)
    [(0, 2), (2, 3)]
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
        room = min(overlap, budget - counts[last])
        while nxt - 1 > first and carried + counts[nxt - 1] <= room:
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
    """Chunks of one document's sentences, each at most ``chunk_tokens`` tokens (measured on the
    chunk's own text) unless it is a single sentence.

    ``fits`` (optional) takes chunk texts and says which the embedding model can take whole;
    chunks over either limit are split again, halving their token budget, until all fit.
    """
    counts = [count_tokens(s.text) + 1 for s in sentences]
    ranges = pack(counts, chunk_tokens, overlap_tokens)

    def take(texts: Sequence[str]) -> list[bool]:
        # Sentence counts (+1 for the space between) are an estimate: the joined text decides.
        within = [count_tokens(t) <= chunk_tokens for t in texts]
        return [w and ok for w, ok in zip(within, fits(texts))] if fits is not None else within

    ranges = _fit(ranges, counts, sentences, doc, overlap_tokens, take)
    return [_chunk(doc, sentences, a, b, sum(counts[a:b])) for a, b in ranges]


def _fit(ranges, counts, sentences, doc, overlap, fits):  # type: ignore[no-untyped-def]
    """Re-pack ranges that ``fits`` rejects (rare: token-dense text, odd whitespace)."""
    out: list[tuple[int, int]] = []
    pending = list(ranges)
    while pending:
        verdicts = iter(fits([_text(doc, sentences, a, b) for a, b in pending if b - a > 1]))
        retry: list[tuple[int, int]] = []
        for a, b in pending:
            if b - a == 1 or next(verdicts):
                out.append((a, b))
            else:
                budget = max(1, sum(counts[a:b]) // 2)
                retry.extend((a + x, a + y) for x, y in pack(counts[a:b], budget, min(overlap, budget // 2)))
        pending = retry
    return _drop_contained(out)


def _drop_contained(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted ranges without those lying inside another (re-packing can leave such repeats).

    >>> _drop_contained([(2, 4), (0, 3), (2, 3), (0, 3)])
    [(0, 3), (2, 4)]
    """
    out: list[tuple[int, int]] = []
    for a, b in sorted(set(ranges), key=lambda r: (r[0], -r[1])):
        if not out or b > out[-1][1]:
            out.append((a, b))
    return out


def _text(doc: Document, sentences: Sequence[Sentence], first: int, last: int) -> str:
    return doc.text[sentences[first].start : sentences[last - 1].end]


def _chunk(doc: Document, sentences: Sequence[Sentence], first: int, last: int, tokens: int) -> Chunk:
    start, end = sentences[first].start, sentences[last - 1].end
    return Chunk(doc.id, first, last, start, end, doc.text[start:end], tokens)


def embedding_text(doc: Document, text: str, section: str = "") -> str:
    """What is embedded and BM25-indexed for a chunk: a short metadata line, then the text.

    The metadata line lets questions that name an outlet, a title, a date or the section the
    chunk starts in (``section``, see :func:`rag.ingestion.structure.section_at`) find the chunk.
    """
    meta = " | ".join(x for x in (doc.title[:200], section[:200], _source_name(doc), doc.date) if x)
    return f"{meta}\n{text}" if meta else text


def _source_name(doc: Document) -> str:
    # File paths say nothing useful to retrieval; outlet names ("The Verge") do.
    return "" if doc.source == doc.key or "/" in doc.source else doc.source


def chunk_text(doc: Document, start: int, end: int) -> str:
    """A chunk's BM25 text (its characters ``start:end``): as embedded, with its document's metadata
    and its section's title."""
    return embedding_text(doc, doc.text[start:end], section_at(doc, start))
