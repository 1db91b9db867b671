"""Broad questions: "What is this document about?", "Summarize the article", "Tell me about X".

They ask for an overview, not one fact, so no single sentence "answers" them and the answer
model would abstain. They are recognised by their form (:func:`parse`, a small set of patterns
over many phrasings) and answered with the most central sentences of the best document(s):
its lead sentence and the sentences closest to the document's mean sentence vector, restricted
to the topic when the question names one ("Tell me about the satellite", "What happened in
2023?"). Citations are made as for any answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.answering.triggering import term_weights, weighted_cover

_DOC = r"(?:document|doc|article|text|file|story|piece|page|report|paper|book|essay|post|passage|pdf|content|material|corpus|source)s?"
_THIS = (
    r"(?:this|the|that|these|those|your|my|our|its|these\s+two|all\s+the|the\s+whole|the\s+entire|the\s+uploaded|the\s+indexed)"
)
_THE_DOCS = rf"(?:{_THIS}\s+(?:\w+\s+)?{_DOC}|it|this|that|them|these)"
_SUMMARY = r"(?:summary|overview|gist|synopsis|rundown|recap|outline|digest|abstract|tl;?dr|run-down|brief|breakdown|précis)"
_END = r"\s*[?.!]*\s*$"

_NO_TOPIC = [
    rf"^\W*what(?:'s|’s|\s+is|\s+are|\s+was)\s+{_THE_DOCS}\s+(?:all\s+|mainly\s+|mostly\s+|really\s+)?about{_END}",
    rf"^\W*what\s+(?:does|do|did)\s+{_THE_DOCS}\s+(?:say|cover|discuss|describe|talk\s+about|tell\s+(?:me|us)|deal\s+with|contain){_END}",
    rf"^\W*(?:please\s+)?(?:summari[sz]e|sum\s+up|recap|outline)(?:\s+{_THE_DOCS})?(?:\s+for\s+me)?(?:\s+(?:briefly|please))?{_END}",
    rf"^\W*(?:please\s+)?(?:give|write|show|make)\s+(?:me\s+|us\s+)?(?:an?\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?{_SUMMARY}(?:\s+of\s+{_THE_DOCS})?{_END}",
    rf"^\W*(?:can|could|would)\s+you\s+(?:please\s+)?(?:summari[sz]e|sum\s+up|give\s+(?:me\s+)?(?:an?\s+)?{_SUMMARY}(?:\s+of)?)(?:\s+{_THE_DOCS})?{_END}",
    rf"^\W*(?:an?\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?{_SUMMARY}(?:\s+(?:of|for)\s+{_THE_DOCS})?(?:\s+please)?{_END}",
    rf"^\W*what\s+are\s+(?:the\s+)?(?:main|key|major|most\s+important|central)\s+(?:points|ideas|topics|themes|takeaways|facts|findings|messages?)(?:\s+(?:of|in)\s+{_THE_DOCS})?{_END}",
    rf"^\W*(?:what|which)\s+(?:is|are)\s+(?:the\s+)?(?:main\s+)?(?:topic|subject|theme|point)s?\s+of\s+{_THE_DOCS}{_END}",
    rf"^\W*(?:what\s+is\s+)?(?:the\s+)?(?:main\s+)?(?:idea|point|topic|subject|theme|gist)\s+(?:of\s+)?{_THE_DOCS}{_END}",
    rf"^\W*(?:tell|brief)\s+(?:me|us)(?:\s+about\s+{_THE_DOCS}|\s+what\s+{_THE_DOCS}\s+(?:is|are)\s+about)?{_END}",
    rf"^\W*(?:describe|explain)\s+{_THE_DOCS}{_END}",
    rf"^\W*(?:in\s+a\s+nutshell|tl;?dr|key\s+(?:points|takeaways|facts)|main\s+points|highlights){_END}",
]
_TOPIC = [
    r"^\W*(?:please\s+)?(?:tell|teach|brief)\s+(?:me|us)\s+(?:\w+\s+)?(?:more\s+)?(?:about|on|of)\s+(?P<topic>.+?)" + _END,
    r"^\W*what\s+(?:do|does|did|can|could)\s+(?:you|we|i|the\s+\w+|it|they|this\s+\w+)\s+(?:know|say|tell\s+(?:me|us)|find|report|write|mention|have)\s+(?:about|on|regarding|concerning)\s+(?P<topic>.+?)"
    + _END,
    r"^\W*what\s+(?:is|are)\s+there\s+(?:to\s+know\s+)?(?:about|on)\s+(?P<topic>.+?)" + _END,
    r"^\W*(?:please\s+)?(?:give|write|show)\s+(?:me\s+|us\s+)?(?:an?\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?"
    + _SUMMARY
    + r"\s+(?:of|on|about)\s+(?P<topic>.+?)"
    + _END,
    r"^\W*(?:an?\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?" + _SUMMARY + r"\s+(?:of|on|about)\s+(?P<topic>.+?)" + _END,
    r"^\W*(?:please\s+)?(?:summari[sz]e|sum\s+up|describe|recap)\s+(?:what\s+(?:the\s+\w+\s+)?says?\s+about\s+)?(?P<topic>.+?)"
    + _END,
    r"^\W*(?:any|some)?\s*(?:info|information|details|news|background)\s+(?:on|about|regarding)\s+(?P<topic>.+?)" + _END,
    # "What happened in 2023?" asks for an overview of a time, place or event ("What happened to X?"
    # asks for X's fate, one fact, and "What happens to ..." how something works: not broad).
    r"^\W*what\s+(?:has\s+)?happened\s+(?P<topic>(?:in|on|at|during|since|after|before|around)\s+.+?)" + _END,
    r"^\W*what\s+(?:went\s+on|took\s+place|occurred)\s+(?P<topic>(?:in|on|at|during|since)\s+.+?)" + _END,
]
_NO_TOPIC_RES = [re.compile(p, re.IGNORECASE) for p in _NO_TOPIC]
_TOPIC_RES = [re.compile(p, re.IGNORECASE) for p in _TOPIC]
_DOC_TOPIC = re.compile(rf"^(?:{_THE_DOCS}|{_DOC}|everything|all|you|yourself){_END}", re.IGNORECASE)
_QUESTION_LIKE = re.compile(r"^(?:what|who|whom|whose|when|where|why|how|which|whether|if)\b", re.IGNORECASE)
_PRONOUN_TOPIC = re.compile(r"^(?:it|him|her|them|that|this|those|these|he|she|they)$", re.IGNORECASE)
_BARE_PRONOUN = re.compile(rf"\b(?:it|them)\b(?!\s+(?:\w+\s+)?{_DOC})", re.IGNORECASE)
_LEADING_PREPOSITION = re.compile(r"^(?:in|on|at|during|to|with|since|after|before|around)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Broad:
    """A broad question: ``topic`` is what it asks about ("" for the document(s) as a whole);
    ``refers_back`` is true when it is a pronoun ("Summarize it"): what the conversation was about,
    or the document(s) as a whole when there was no earlier question."""

    topic: str = ""
    refers_back: bool = False


def parse(question: str) -> Broad | None:
    """The broad question's topic, or None for a question that asks for something specific.

    >>> parse("What is this document about?"), parse("Summarize the article")
    (Broad(topic='', refers_back=False), Broad(topic='', refers_back=False))
    >>> parse("Tell me about the satellite"), parse("What happened in 2023?")
    (Broad(topic='the satellite', refers_back=False), Broad(topic='2023', refers_back=False))
    >>> parse("Who did Kim Jong Un meet in Russia?") is None, parse("Tell me why the bridge closed") is None
    (True, True)
    """
    text = " ".join(question.split())
    if any(p.search(text) for p in _NO_TOPIC_RES):
        return Broad(refers_back=bool(_BARE_PRONOUN.search(text)))
    for pattern in _TOPIC_RES:
        match = pattern.search(text)
        if match is None:
            continue
        topic = match.group("topic").strip(" \"'“”‘’")
        if _QUESTION_LIKE.search(topic):  # "tell me about why ..." / "summarize how ..." asks something specific
            return None
        if _PRONOUN_TOPIC.search(topic):
            return Broad(refers_back=True)
        if _DOC_TOPIC.search(topic):
            return Broad()
        return Broad(_LEADING_PREPOSITION.sub("", topic))
    return None


SECOND_DOCUMENT = 0.9
"""A second document is summarised too when its best chunk scores at least this x the best one's."""
TOPIC_COVER = 0.5
"""A sentence is on the topic when it holds at least this IDF-weighted share of the topic's terms..."""
TOPIC_SIMILARITY = 0.5
"""...or, when no sentence holds them, when its similarity to the topic is at least this."""


TITLE_SHARE = 0.5
"""A topic names a document when all its terms are in the document's title and they make up at
least this share of the title's terms ("the meeting notes" for "Team meeting notes")."""
_titles: dict[tuple[int, str], list[frozenset[str]]] = {}


def titled(loaded: Any, topic: str) -> int | None:
    """The row of the one document whose title the ``topic`` names ("Summarize the almanac" for a
    document titled "Almanac"), or None when no title (or more than one equally) matches."""
    from rag.indexing.lexical import terms

    wanted = frozenset(terms(topic))
    key = (id(loaded), str(getattr(loaded, "version", "")))
    if key not in _titles:
        _titles.clear()  # one opened index at a time: a rebuilt one has another version
        _titles[key] = [frozenset(terms(d.title)) for d in loaded.documents()]
    shares = [len(wanted) / len(title) if wanted and wanted <= title else 0.0 for title in _titles[key]]
    best = max(shares, default=0.0)
    if best < TITLE_SHARE or shares.count(best) > 1:
        return None
    return shares.index(best)


def documents(loaded: Any, chunk_ids: np.ndarray, chunk_scores: np.ndarray, most: int = 2) -> list[int]:
    """The best document rows of a chunk ranking (a second one only when it scores close to the first)."""
    rows: list[int] = []
    best = float(chunk_scores[0]) if len(chunk_scores) else 0.0
    for c, score in zip(chunk_ids, chunk_scores):
        row = int(loaded.chunk_documents(np.array([c]))[0])
        if row not in rows and (not rows or float(score) >= SECOND_DOCUMENT * best):
            rows.append(row)
        if len(rows) >= most or float(score) < SECOND_DOCUMENT * best:
            break
    return rows


def central_sentences(loaded: Any, row: int, topic_terms: list[str], topic_vector: np.ndarray | None) -> list[tuple[int, float]]:
    """``(sentence, centrality)`` of a document's candidate overview sentences, most central first.

    Centrality is the cosine of the sentence's vector with the document's mean sentence vector;
    the lead sentence comes first when no topic is named. With a topic, only sentences on it count
    (its terms, else its meaning), ranked by centrality plus similarity to the topic.
    """
    span = loaded.document_sentences(row)
    lo, hi = span.start, span.stop
    if hi <= lo:
        return []
    vectors = loaded.sentence_vectors(np.arange(lo, hi))
    mean = vectors.mean(axis=0)
    centrality = vectors @ (mean / max(float(np.linalg.norm(mean)), 1e-9))
    if topic_vector is None:
        order = [0, *(i for i in np.argsort(-centrality, kind="stable") if i != 0)]
        return [(lo + int(i), float(centrality[i])) for i in order]
    similarity = vectors @ topic_vector
    on_topic = _topic_cover(loaded, topic_terms, lo, hi) >= TOPIC_COVER
    if not on_topic.any():
        on_topic = similarity >= TOPIC_SIMILARITY
    order = [int(i) for i in np.argsort(-(centrality + similarity), kind="stable") if on_topic[i]]
    return [(lo + i, float(centrality[i])) for i in order]


def _topic_cover(loaded: Any, terms: list[str], lo: int, hi: int) -> np.ndarray:
    return weighted_cover(term_weights(loaded, terms), [loaded.sentence_text(s) for s in range(lo, hi)])
