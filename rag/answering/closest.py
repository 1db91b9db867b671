"""What an abstention offers instead of an answer: the closest passages, when they are related at all.

An abstention's evidence is still the best the index had; shown as "closest passages (not an
answer)" it lets the user judge. Passages sharing no content word with the question (or the
query searched) would only look like an answer, so they are left out: the chat UI, ``rag ask``
and ``rag chat`` all offer the same ones.

>>> from rag.records import Answer, Citation
>>> near = Citation(1, "Mount Kelda last erupted in 1742.", "d1", "Kelda", "kelda.txt", "", 0, 33, 0.1)
>>> far = Citation(2, "Fares rise in May.", "d2", "Buses", "buses.txt", "", 0, 18, 0.1)
>>> result = Answer("When did Kelda erupt?", "", [], [far, near], abstained=True, query="When did Kelda erupt?")
>>> [(c.n, c.text) for c in closest_passages(result)]
[(1, 'Mount Kelda last erupted in 1742.')]
"""

from __future__ import annotations

from dataclasses import replace

from rag.records import Answer, Citation


def closest_passages(result: Answer, limit: int = 3) -> list[Citation]:
    """The first ``limit`` passages of ``result.evidence`` that share a content word with the
    question or the query searched, renumbered 1.. (none for an answer that did not abstain)."""
    from rag.indexing.lexical import terms

    if not result.abstained:
        return []
    asked = set(terms(f"{result.question} {result.query}"))
    related = [c for c in result.evidence[:limit] if asked & set(terms(c.text))]
    return [replace(c, n=i) for i, c in enumerate(related, 1)]
