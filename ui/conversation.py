"""The conversation: one record per answered question, and what the page shows of it.

A turn is stored as a JSON record (:func:`turn_record`) in the browser (``gr.BrowserState``),
so a reload brings the conversation back; :func:`answers_from` reads records back, leaving
out anything malformed. From the answers come the chat messages (:func:`chat_messages`) and
the sources panel (:func:`panel_html`), where every answer keeps its own sources: its ``[n]``
markers link to its cards (ui.script does the preview, scrolling and flashing).

Pure functions, no Gradio. All text goes through :func:`ui.render.esc`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from rag.answering.closest import closest_passages
from rag.records import UNCERTAIN_NOTE, Answer, Citation, Document

from .render import document_groups_html, esc

CLOSEST = 3
"""How many closest passages an abstention offers as a possible answer."""
MAX_TURNS = 50
"""Turns kept (in the page and in browser storage); older ones are dropped first."""
NOT_FOUND = "Not found in your documents"
CLOSEST_LABEL = "Closest passages (not an answer)"
_MARKER = re.compile(r"\[(\d+)\]")
_CITATION_FIELDS = tuple(f.name for f in fields(Citation))


def turn_record(result: Answer) -> dict[str, Any]:
    """What is kept of an answer: the question, text, citations and closest passages (JSON-ready)."""
    return {
        "question": result.question,
        "text": result.text,
        "abstained": result.abstained,
        "query": result.query,
        "confident": result.confident,
        "citations": [asdict(c) for c in result.citations],
        "evidence": [asdict(c) for c in result.evidence[:CLOSEST]],
    }


def answers_from(records: Any) -> list[Answer]:
    """The answers of stored turn records (the last MAX_TURNS); a malformed record is left out,
    anything but a list gives none (storage is the browser's: never trusted to be well formed)."""
    if not isinstance(records, list):
        return []
    out = []
    for record in records[-MAX_TURNS:]:
        try:
            out.append(
                Answer(
                    question=_text(record["question"]),
                    text=_text(record["text"]),
                    citations=[_citation(c) for c in record["citations"]],
                    evidence=[_citation(c) for c in record["evidence"]],
                    abstained=bool(record["abstained"]),
                    query=record["query"] if isinstance(record.get("query"), str) else "",
                    confident=record.get("confident", True) is not False,
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _citation(data: Any) -> Citation:
    if not isinstance(data, dict) or set(data) != set(_CITATION_FIELDS):
        raise ValueError("not a citation")
    return Citation(
        n=int(data["n"]), text=_text(data["text"]), doc_id=_text(data["doc_id"]), title=_text(data["title"]),
        source=_text(data["source"]), date=_text(data["date"]), start=int(data["start"]), end=int(data["end"]),
        score=float(data["score"]),
    )  # fmt: skip


def closest(result: Answer) -> list[Citation]:
    """An abstention's closest passages, numbered 1..; none when they share no content word with
    the question (unrelated passages would only look like an answer)."""
    return closest_passages(result, CLOSEST)


def rewritten(result: Answer) -> bool:
    """Was the question searched as something else (a follow-up completed from the conversation)?"""
    return " ".join(result.query.split()).casefold() != " ".join(result.question.split()).casefold()


def searched_html(result: Answer) -> str:
    """ "Searched for: ..." under an answer whose question was rewritten, else ""."""
    if not rewritten(result):
        return ""
    return f'<p class="searched">Searched for: “{esc(result.query)}”</p>'


def cited(result: Answer) -> list[Citation]:
    """The sentences an answer's ``[n]`` markers point at: its citations, or for an abstention its closest passages."""
    return closest(result) if result.abstained else list(result.citations)


# --- chat messages -----------------------------------------------------------------------------


def chat_messages(answers: Sequence[Answer]) -> list[dict[str, str]]:
    """The chat (question, answer, ...) of a conversation."""
    out = []
    for turn, result in enumerate(answers):
        out.append({"role": "user", "content": question_html(result.question)})
        out.append({"role": "assistant", "content": chat_answer_html(result, turn)})
    return out


def question_html(question: str) -> str:
    """The user's message: the question and its own Copy link (Gradio's copy button copied the
    wrong message once a chat had several turns, so it is hidden; ui.script copies this one)."""
    return f'<span class="q-text">{esc(question)}</span>{COPY_LINK}'


COPY_LINK = '<a class="copy-msg" href="#copy" title="Copy this message"></a>'
"""Empty on purpose: its "Copy" comes from CSS (``::after``), so the message's text, which
screen readers and tests read, stays the text of the message alone."""


def chat_answer_html(result: Answer, turn: int = 0) -> str:
    """The assistant's message: the answer with each ``[n]`` a link to its source card, and a link
    to the answer's sources; an abstention says so and offers the closest passages as a possible
    answer to open. ``data-copy`` holds the plain text the copy button gives (:func:`copy_text`)."""
    copy = f'data-copy="{esc(copy_text(result))}"'  # kept in the raw message (the page's DOM drops data-*)
    to_sources = _to_sources(turn, len(cited(result)), with_copy=not result.abstained)
    if result.abstained:
        possible = closest(result)
        offer = (
            f'<details class="possible-answer"><summary>{CLOSEST_LABEL}</summary><p>'
            + " ".join(f"{esc(c.text)}{_cite_link(c.n, turn)}" for c in possible)
            + f"</p>{to_sources}</details>"
            if possible
            else ""
        )  # collapsed: they are not an answer, and must not look like one
        searched = searched_html(result)
        return f'<div class="chat-abstain turn-{turn}" {copy}><strong>{NOT_FOUND}.</strong>{searched}{offer}{_to_sources(turn, 0)}</div>'
    known = {c.n for c in result.citations}
    unsure = "" if result.confident else f'<p class="chat-uncertain">{UNCERTAIN_NOTE}</p>'
    body = f"{_linked(result.text, known, turn)}{unsure}{searched_html(result)}{to_sources}"
    return f'<div class="chat-answer turn-{turn}" {copy}>{body}</div>'


def _linked(text: str, known: set[int], turn: int) -> str:
    """``text`` escaped, each ``[n]`` of a known citation made a link to its card."""
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in known:
            continue
        before = text[pos : m.start()]
        out.append(esc(before[:-1] if before.endswith(" ") else before))  # the marker hugs its sentence
        out.append(_cite_link(n, turn))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _cite_link(n: int, turn: int) -> str:
    return f'<a class="cite-n" href="#src-{turn}-{n}">[{n}]</a>'


def _to_sources(turn: int, count: int, with_copy: bool = True) -> str:
    """The answer's footer: its own Copy (of the plain text its panel section carries) and, when
    it has sources, the link down to them."""
    copy = f'<a class="copy-msg" href="#copy-{turn}" title="Copy this answer"></a>' if with_copy else ""
    if not count:
        return f'<div class="answer-foot">{copy}</div>'
    return f'<div class="answer-foot"><a class="to-sources" href="#sources-{turn}">Sources ({count}) ↓</a>{copy}</div>'


def copy_text(result: Answer) -> str:
    """Plain text of an answer for the clipboard: the answer with its ``[n]`` markers, then the
    numbered sources (title, date, sentence). An abstention gives the notice and its closest passages."""
    if result.abstained:
        head, label, sources = f"{NOT_FOUND}.", f"{CLOSEST_LABEL}:", closest(result)
    else:
        head, label, sources = result.text, "Sources:", list(result.citations)
    if not sources:
        return head
    lines = [f"[{c.n}] {c.title}{f' ({c.date})' if c.date else ''}: {c.text}" for c in sources]
    return "\n".join([head, "", label, *lines])


# --- sources panel -----------------------------------------------------------------------------


def panel_html(answers: Sequence[Answer], docs: Mapping[str, Document]) -> str:
    """The sources panel: one section per answer, the last one shown (a click on an earlier
    answer's ``[n]`` shows that answer's section)."""
    if not answers:
        return empty_sources_html()
    last = len(answers) - 1
    return '<div class="sources">' + "".join(turn_html(a, docs, i, i == last) for i, a in enumerate(answers)) + "</div>"


QUESTION_ECHO = 160
"""Characters of the question echoed above its sources (the whole question is in the chat)."""


def _shortened(text: str) -> str:
    return text if len(text) <= QUESTION_ECHO else text[: QUESTION_ECHO - 1].rstrip() + "…"


def turn_html(result: Answer, docs: Mapping[str, Document], turn: int, current: bool = True) -> str:
    """One answer's sources: its cited paragraphs grouped by document; for an abstention a
    "not found" notice and the closest passages as a possible answer."""
    question = f'<div class="turn-question" title="{esc(result.question)}">“{esc(_shortened(result.question))}”</div>'
    head = (
        f'<div class="turn-head"><span class="sources-title">Sources of answer {turn + 1}</span> '
        f'<a class="to-answer" href="#chat" data-turn="{turn}">↑ back to the answer</a>{question}</div>'
    )
    if result.abstained:
        cards = document_groups_html(closest(result), docs, "closest")
        body = (
            f'<div class="abstain-box" role="status"><strong>{NOT_FOUND}</strong>'
            "<p>Rephrase the question, or add a document that covers it.</p></div>"
            + (f'<details class="closest-passages"><summary>{CLOSEST_LABEL}</summary>{cards}</details>' if cards else "")
        )
    else:
        body = document_groups_html(result.citations, docs)
    shown = " current" if current else ""
    copy = esc(copy_text(result))  # what the answer's Copy link gives (the chat keeps no data-*)
    return (
        f'<section class="turn-sources{shown}" data-turn="{turn}" data-copy="{copy}" '
        f'aria-label="Sources of answer {turn + 1}">{head}{body}</section>'
    )


def sources_html(result: Answer, docs: Mapping[str, Document]) -> str:
    """The sources panel of a conversation of one answer."""
    return panel_html([result], docs)


def empty_sources_html() -> str:
    """What the sources panel shows before the first question."""
    return (
        '<div class="sources sources-empty">Ask a question: every sentence of the answer is quoted '
        "from your documents, and appears here highlighted in its paragraph.</div>"
    )
