"""Event handlers of the Chat tab: asking (show the question, then answer it), the sources
panel, and the conversation kept in the browser (restored on load, cleared on request).

Questions go to :func:`rag.answering.answer.answer`; a :class:`rag.errors.RagError` becomes a one-line
notice and an error message in the chat (:func:`ui.handlers.warn`).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.records import Answer

from . import conversation, render
from .handlers import _step, documents_by_id, notice, warn

SEARCHING = {"role": "assistant", "content": '<div class="chat-pending" role="status">Searching your documents…</div>'}
"""The answer's place in the chat while it is searched for (replaced by the answer)."""
STILL_ANSWERING = (
    "Still answering your previous question: your new one is back in the box; press Enter again when the answer is in."
)


def _settled(chat: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The chat without a trailing "Searching…" message."""
    chat = list(chat or [])
    return chat[:-1] if chat and "chat-pending" in str(chat[-1].get("content", "")) else chat


def queue_question(
    question: str | None, chat: list[dict[str, Any]] | None, answering: str = ""
) -> tuple[Any, list[dict[str, Any]] | Any, str | Any]:
    """First step of asking: show the question in the chat at once (the browser has already
    emptied the box, so what is typed next is never erased).

    Returns ``(textbox value, chat, pending question)``; the chat ends with a "Searching…" message
    that :func:`respond` replaces by the answer. The question is bounded as ``rag``
    bounds it (whitespace collapsed, at most ``max_question_chars``, with a notice when cut):
    that is what is shown, kept and answered, never the raw text. For a blank question the box
    and chat are left alone, a notice is shown and nothing is pending. While ``answering`` (the
    question still being answered) is set, the new question is neither lost nor asked: it is put
    back in the box with a :data:`STILL_ANSWERING` notice and nothing else changes.
    """
    from rag.answering.query import bounded
    from rag.settings import AnswerOptions

    if answering and (question or "").strip():
        warn(STILL_ANSWERING)
        return question, gr.skip(), gr.skip()
    chat = list(chat or [])
    limit = AnswerOptions.max_question_chars
    text, cut = bounded(question or "", limit)
    if not text:
        warn("Type a question first: ask something about your documents.")
        return gr.skip(), chat, ""
    if cut:
        warn(f"Your question is longer than {limit} characters: only its first {limit} characters are asked.")
    return gr.skip(), [*chat, {"role": "user", "content": conversation.question_html(text)}, SEARCHING], text


def respond(
    pending: str,
    chat: list[dict[str, Any]] | None,
    turns: Any,
    index_dir: str | Path,
    progress: Any = None,
    with_history: bool = True,
) -> tuple[Any, Any, Any]:
    """Second step: answer the pending question with the earlier questions and answers as ``history``
    (follow-ups are resolved; the previous answer's sentences are not cited again unless still the best).

    ``turns`` are the conversation's stored records (``ui.conversation``); without ``with_history``
    the question is answered as typed (:func:`ask_exactly`). Returns ``(chat,
    sources panel HTML, turns)``: the answer's message is added to the chat and its record to
    ``turns``; nothing changes when no question is pending; an error adds an error message only.
    """
    if not pending:
        return gr.skip(), gr.skip(), gr.skip()
    from rag.answering.answer import answer

    _step(progress, None, "Searching your documents…")
    chat = _settled(chat)
    earlier = conversation.answers_from(turns)
    try:
        history = [(a.question, a) for a in earlier] if with_history else []
        result = answer(pending, index_dir=index_dir, history=history)
    except RagError as err:
        message = warn(err)
        return [*chat, {"role": "assistant", "content": render.chat_error_html(message)}], gr.skip(), gr.skip()
    except Exception:  # a bug must not leave "Searching…" in place (no further question could be asked)
        traceback.print_exc()
        message = warn("Something went wrong while answering: the server log says what; ask again or rephrase")
        return [*chat, {"role": "assistant", "content": render.chat_error_html(message)}], gr.skip(), gr.skip()
    for note in result.notices:
        gr.Info(render.esc(notice(note)))
    answers = [*earlier, result][-conversation.MAX_TURNS :]
    message = conversation.chat_answer_html(result, len(answers) - 1)
    records = [conversation.turn_record(a) for a in answers]
    return [*chat, {"role": "assistant", "content": message}], panel(answers, index_dir), records


def ask_exactly(chat: list[dict[str, Any]] | None, turns: Any, answering: str = "") -> tuple[Any, Any]:
    """First step of "Ask exactly as typed": the last question shown again, pending, to be answered
    without the conversation (:func:`respond` with ``with_history=False``). Returns ``(chat, pending)``;
    nothing changes (a notice) while ``answering`` is set."""
    if answering:
        warn(STILL_ANSWERING.split(":")[0])
        return gr.skip(), gr.skip()
    earlier = conversation.answers_from(turns)
    if not earlier:
        return gr.skip(), ""
    question = earlier[-1].question
    return [*_settled(chat), {"role": "user", "content": conversation.question_html(question)}, SEARCHING], question


def exact_button(turns: Any) -> Any:
    """ "Ask exactly as typed" is offered when the last question was searched as something else."""
    earlier = conversation.answers_from(turns)
    return gr.Button(visible=bool(earlier) and conversation.rewritten(earlier[-1]))


def panel(answers: Sequence[Answer], index_dir: str | Path) -> str:
    """The sources panel of ``answers`` (documents removed since are shown by their sentences alone)."""
    try:
        docs = documents_by_id(index_dir, {c.doc_id for a in answers for c in conversation.cited(a)})
    except RagError:
        docs = {}
    return conversation.panel_html(answers, docs)


def restore(turns: Any, index_dir: str | Path) -> tuple[list[dict[str, str]], str, Any]:
    """A conversation kept in the browser, shown again after a reload: ``(chat, sources panel,
    turns)`` (turns cleaned of anything malformed; an unreadable store starts afresh)."""
    answers = conversation.answers_from(turns)
    if not answers:
        return [], conversation.empty_sources_html(), []
    return conversation.chat_messages(answers), panel(answers, index_dir), [conversation.turn_record(a) for a in answers]


def clear_chat() -> tuple[list[Any], str, list[Any], str]:
    """A fresh conversation: empty chat, empty sources panel, no turns, nothing pending."""
    return [], conversation.empty_sources_html(), [], ""
