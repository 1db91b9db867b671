"""Query understanding: what retrieval should look for in a question.

* Follow-ups ("Who did he meet there?") are resolved against the conversation
  (:mod:`rag.followup`).
* Long multi-part questions are split into clauses at commas and joining words ("Who
  built a reputation as X, faced Y, and is also accused of Z by TechCrunch?") that are
  retrieved separately, because each clause is usually answered by a different passage.
* Dates named in the question ("on October 7, 2023") are recognised so documents published
  that day can be preferred.

Questions and earlier turns are bounded (:func:`bounded`) before anything else looks at them,
so a huge question or conversation costs no more than a short one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .documents import storable
from .errors import ConfigError
from .settings import AnswerOptions

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DATE = re.compile(r"\b(" + "|".join(MONTHS) + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})\b", re.I)
_CLAUSE = re.compile(
    r",\s+(?:(?:and|while|whereas|but|or)\s+)?"  # list items and joined parts; not "1,000"
    r"|\s+(?:and|while|whereas|but)\s+(?=(?:has|have|is|was|were|does|did|also|the|a|an|its|their|his|her)\b)"
    r"|\s+compared\s+to\s+|\s+as\s+opposed\s+to\s+|;\s*",
    re.IGNORECASE,
)
MIN_WORDS_TO_SPLIT = 16
"""Shorter questions are retrieved whole: splitting only pays off for multi-part questions."""
MAX_CLAUSES = 6
"""Each clause costs one more scoring pass (its vector is pooled from the question's); real questions have 2-6."""
WINDOW_WORDS, WINDOW_STRIDE = 16, 8
"""Overlapping word windows of the question, pooled from its own forward pass (no extra cost)."""
MAX_WINDOWS = 16
_WORD = re.compile(r"\S+")
MAX_HISTORY_TURNS = 20
"""Only the last turns of a conversation are looked at: the previous user question is among them
(chat messages alternate user and assistant), and a long conversation costs nothing more."""


@dataclass(frozen=True)
class Query:
    """What to retrieve: the full text, its clauses (may be empty), the dates it names (ISO)
    and its overlapping word windows, the last two as ``(start, end)`` character spans of ``text``."""

    text: str
    clause_spans: tuple[tuple[int, int], ...] = ()
    dates: tuple[str, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()

    @property
    def clauses(self) -> tuple[str, ...]:
        return tuple(self.text[a:b] for a, b in self.clause_spans)


def parse_query(text: str) -> Query:
    """Split ``text`` into retrievable parts.

    >>> parse_query("Did the report on October 7, 2023 say X, while the TechCrunch article says Y happened?").dates
    ('2023-10-07',)
    """
    return Query(text, tuple(clauses(text)), tuple(dates(text)), tuple(windows(text)))


def clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the clauses of a long multi-part question (none for a short or single-part one).

    >>> q = "Did the Verge report that X happened in the city, while TechCrunch says that Y was cancelled?"
    >>> [q[a:b] for a, b in clauses(q)]
    ['Did the Verge report that X happened in the city', 'TechCrunch says that Y was cancelled']
    """
    if len(text.split()) < MIN_WORDS_TO_SPLIT:
        return []
    bounds = [0, *(i for m in _CLAUSE.finditer(text) for i in m.span()), len(text)]
    spans = [_strip(text, a, b) for a, b in zip(bounds[::2], bounds[1::2])]
    spans = [(a, b) for a, b in spans if len(text[a:b].split()) >= 4]
    return spans[:MAX_CLAUSES] if len(spans) > 1 else []


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` narrowed past surrounding spaces and ``,?.`` (like ``str.strip(" ,?.")``)."""
    while start < end and text[start] in " ,?.":
        start += 1
    while end > start and text[end - 1] in " ,?.":
        end -= 1
    return start, end


def windows(text: str) -> list[tuple[int, int]]:
    """Spans of 16 consecutive words every 8 words (the whole text when it is shorter).

    >>> windows("a b c")
    [(0, 5)]
    """
    words = [m.span() for m in _WORD.finditer(text)]
    if len(words) <= WINDOW_WORDS:
        return [(0, len(text))]
    out = []
    for first in range(0, len(words) - WINDOW_WORDS + WINDOW_STRIDE, WINDOW_STRIDE):
        last = min(first + WINDOW_WORDS, len(words)) - 1
        out.append((words[first][0], words[last][1]))
        if last == len(words) - 1 or len(out) == MAX_WINDOWS:
            break
    return out


def dates(text: str) -> list[str]:
    out = []
    for m in _DATE.finditer(text):
        if m.group(1):
            out.append(f"{m.group(3)}-{MONTHS.index(m.group(1).lower()) + 1:02d}-{int(m.group(2)):02d}")
        else:
            out.append(f"{m.group(4)}-{m.group(5)}-{m.group(6)}")
    return out


def bounded(text: str, max_chars: int) -> tuple[str, bool]:
    """``text`` with whitespace runs collapsed to one space and ends stripped, cut to ``max_chars``
    characters, and whether it was cut. Lone surrogates (undecodable input) become U+FFFD.

    Reads ``text`` only as far as the cut: a 5 MB question costs about what a short one does.

    >>> bounded("  Who   met\\n Putin? ", 9)
    ('Who met P', True)
    """
    words: list[str] = []
    size = -1
    for m in _WORD.finditer(text):
        words.append(text[m.start() : min(m.end(), m.start() + max_chars + 1)])  # a giant word is not copied whole
        size += len(words[-1]) + 1
        if size > max_chars:
            return storable(" ".join(words)[:max_chars].rstrip()), True
    return storable(" ".join(words)), False


def with_history(question: str, history: Sequence[Any] | None, max_chars: int = AnswerOptions.max_question_chars) -> str:
    """The retrieval text of ``question`` in its conversation (:func:`rag.followup.resolve`).

    ``history`` must be a list (or tuple) of turns: strings, ``(question, answer)`` pairs or chat
    messages; only the last MAX_HISTORY_TURNS are looked at and each is bounded to ``max_chars``
    like a question. Raises ConfigError for anything else (a plain string included).

    >>> with_history("Who did he meet there?", ["Did Kim Jong Un visit Russia?"])
    'Who did Kim Jong Un meet in Russia?'
    """
    from .followup import resolve

    return resolve(question, history, max_chars).text


_TURNS = "questions, (question, answer) pairs or chat messages"


def recent_turns(history: Sequence[Any] | None, max_chars: int) -> list[tuple[str, str]]:
    """``(user question, answer text)`` of each of the last MAX_HISTORY_TURNS turns, both bounded.

    An assistant message is the answer to the user message before it; a ``(question, answer)``
    pair carries its own (text, or an object with a ``text`` such as an Answer).
    """
    if history is None:
        return []
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        hint = ": pass [question] for one earlier question" if isinstance(history, str) else ""
        raise ConfigError(f"history must be a list of earlier turns ({_TURNS}), not {_a(history)}{hint}")
    recent = history[-MAX_HISTORY_TURNS:]
    out: list[tuple[str, str]] = []
    for n, turn in enumerate(recent, len(history) - len(recent) + 1):
        if not isinstance(turn, (str, Mapping, list, tuple)):
            raise ConfigError(f"history turn {n} must be one of {_TURNS}, not {_a(turn)}")
        if isinstance(turn, Mapping) and turn.get("role") == "assistant":
            if out:
                out[-1] = (out[-1][0], _content(turn.get("content"), max_chars))
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            reply = turn[1] if len(turn) > 1 else ""
            reply = getattr(reply, "text", reply)
            out.append((bounded(turn[0], max_chars)[0], bounded(reply, max_chars)[0] if isinstance(reply, str) else ""))
        elif isinstance(turn, str) or (isinstance(turn, Mapping) and turn.get("role") == "user"):
            text = bounded(turn, max_chars)[0] if isinstance(turn, str) else _content(turn.get("content"), max_chars)
            if text:
                out.append((text, ""))
    return [t for t in out if t[0]]


def _content(content: Any, max_chars: int) -> str:
    if isinstance(content, (list, tuple)):  # Gradio 6 messages: [{"type": "text", "text": ...}, ...]
        content = _text_parts(content, max_chars)
    return bounded(content, max_chars)[0] if isinstance(content, str) else ""


def _a(value: Any) -> str:
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _text_parts(parts: Sequence[Any], max_chars: int) -> str:
    """The text parts of a multi-part chat message, joined, read only up to ``max_chars``."""
    out: list[str] = []
    size = 0
    for part in parts:
        if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
            out.append(bounded(part["text"], max_chars)[0])
            size += len(out[-1]) + 1
            if size > max_chars:
                break
    return " ".join(out)
