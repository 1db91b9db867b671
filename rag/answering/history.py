"""A conversation's earlier turns, validated and bounded before anything reads them.

``history`` is what callers pass to :func:`rag.answer`: a list of earlier questions (strings),
``(question, answer)`` pairs or chat messages; only the last MAX_HISTORY_TURNS are read and
each is bounded like a question (:func:`rag.answering.query.bounded`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rag.answering.query import bounded
from rag.errors import ConfigError

MAX_HISTORY_TURNS = 20
"""Only the last turns of a conversation are looked at: the previous user question is among them
(chat messages alternate user and assistant), and a long conversation costs nothing more."""

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
