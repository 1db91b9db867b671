"""Event handlers of the UI: thin calls into ``rag`` plus turning results into component values.

No retrieval logic lives here: questions go to :func:`rag.answer.answer`, documents to
:mod:`rag.manage`. A :class:`rag.errors.RagError` becomes a one-line notice (a Gradio warning
toast, and in the chat an error message), never a stack trace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.records import Document

from . import render

log = logging.getLogger(__name__)

DOC_HEADERS = ["Title", "Date", "Chunks", "Sentences", "Source"]
CANCELLED = "__cancelled__"
"""What the removal button's confirm dialog sends when the user says no."""

_listing: dict[str, tuple[str, list[dict[str, Any]]]] = {}
_listing_lock = threading.Lock()


def notice(err: BaseException | str) -> str:
    """One line for the user: whitespace collapsed, first letter capitalised.

    >>> notice("the question is empty:\\n ask something")
    'The question is empty: ask something'
    """
    text = " ".join(str(err).split()) or "Something went wrong"
    return text[:1].upper() + text[1:]


def warn(err: BaseException | str) -> str:
    """Show ``notice(err)`` as a warning toast (escaped: toasts render HTML) and return it."""
    message = notice(err)
    gr.Warning(render.esc(message))
    return message


def _text_message(role: str, html_text: str) -> dict[str, Any]:
    return {"role": role, "content": html_text}


def queue_question(question: str | None, chat: list[dict[str, Any]] | None) -> tuple[Any, list[dict[str, Any]], str]:
    """First step of asking: show the question in the chat at once and clear the box.

    Returns ``(textbox value, chat, pending question)``; for a blank question the box and chat
    are left alone, a notice is shown and the pending question is empty (nothing is answered).
    """
    chat = list(chat or [])
    text = (question or "").strip()
    if not text:
        warn("Type a question first: ask something about your documents.")
        return gr.skip(), chat, ""
    return "", [*chat, _text_message("user", render.esc(text))], text


def respond(
    pending: str, chat: list[dict[str, Any]] | None, questions: list[str] | None, index_dir: str | Path, progress: Any = None
) -> tuple[Any, Any, Any]:
    """Second step: answer the pending question with the earlier questions as ``history``.

    Returns ``(chat, sources panel HTML, questions)``; nothing changes when no question is pending.
    """
    if not pending:
        return gr.skip(), gr.skip(), gr.skip()
    from rag.answer import answer

    _step(progress, None, "Searching your documents…")

    chat, questions = list(chat or []), list(questions or [])
    try:
        result = answer(pending, index_dir=index_dir, history=questions)
        sources = render.sources_html(result, documents_by_id(index_dir, {c.doc_id for c in result.evidence}))
    except RagError as err:
        message = warn(err)
        return [*chat, _text_message("assistant", render.chat_error_html(message))], gr.skip(), questions
    for note in result.notices:
        gr.Info(render.esc(notice(note)))
    return [*chat, _text_message("assistant", render.chat_answer_html(result))], sources, [*questions, pending]


def clear_chat() -> tuple[list[Any], str, list[str], str]:
    """A fresh conversation: empty chat, empty sources panel, no history, nothing pending."""
    return [], render.empty_sources_html(), [], ""


def documents_by_id(index_dir: str | Path, ids: Iterable[str]) -> dict[str, Document]:
    """The documents with the given ids from the loaded index (shared with ``rag.answer``'s cache).

    A document removed since the answer was made is simply absent.
    """
    from rag.retrieve import open_index

    return open_index(index_dir).documents_by_id(ids)


def document_rows(index_dir: str | Path) -> list[dict[str, Any]]:
    """``rag.manage.list_documents``, cached per index version (listing loads the whole index)."""
    from rag import manage, store

    key = str(Path(index_dir).resolve())
    version = str(store.read_manifest(index_dir).get("data_dir", ""))
    with _listing_lock:
        cached = _listing.get(key)
        if cached is None or cached[0] != version:
            cached = (version, manage.list_documents(index_dir))
            _listing[key] = cached
    return cached[1]


def documents_view(index_dir: str | Path) -> tuple[str, list[list[Any]], Any]:
    """``(status HTML, table rows, removal dropdown update)`` for the Documents tab.

    With no (readable) index the status explains why, and the table and dropdown are empty.
    """
    from rag import manage

    try:
        status = manage.index_status(index_dir)
        rows = document_rows(index_dir)
    except RagError as err:
        return render.status_html(None, _missing_index_hint(err)), [], gr.Dropdown(choices=[], value=None)
    table = [[r["title"], r["date"], r["chunks"], r["sentences"], _shown_source(r)] for r in rows]
    choices = [(_choice_label(r), r["id"]) for r in rows]
    return render.status_html(status), table, gr.Dropdown(choices=choices, value=None)


def _shown_source(row: dict[str, Any]) -> str:
    """Where a document comes from, as the user knows it: an upload by the name it was given."""
    origin = str(row.get("origin", ""))
    return origin if origin.startswith("upload: ") else render.display_source(row["source"])


def _missing_index_hint(err: RagError) -> str:
    from rag.errors import IndexNotFoundError

    if isinstance(err, IndexNotFoundError):
        return "No index yet: add documents below to create one."
    return notice(err)


def _choice_label(row: dict[str, Any]) -> str:
    date = f" ({row['date']})" if row.get("date") else ""
    return f"{row['title']}{date} · {row['id'][:8]}"


def _shared_embedder(index_dir: str | Path) -> Any:
    """The model already loaded for answering, so a rebuild does not load a second copy."""
    from rag.retrieve import open_index

    try:
        return open_index(index_dir).embedder
    except RagError:
        return None


def _build_options(index_dir: str | Path, progress: Any = None) -> dict[str, Any]:
    """Build options for a UI rebuild: the answering model (already loaded) and the build's
    progress shown on the progress bar ("embedding passages: 256 of 1024")."""
    embedder = _shared_embedder(index_dir)
    options: dict[str, Any] = {"progress": False, **({"embedder": embedder} if embedder is not None else {})}
    if progress is not None:
        options["on_progress"] = lambda fraction, message: _step(progress, fraction, message[:1].upper() + message[1:])
    return options


def upload(files: Sequence[Any] | None, index_dir: str | Path, progress: Any = None) -> tuple[Any, str, list[list[Any]], Any]:
    """Add uploaded files to the index and rebuild it; returns ``(file box, *documents_view)``.

    The file box is cleared on success and kept on failure (a notice says why).
    """
    from rag import manage

    paths = [_file_path(f) for f in files or []]
    if not paths:
        return (gr.skip(), *documents_view(index_dir))
    names = ", ".join(Path(p).name for p in paths)
    try:
        _step(progress, 0.0, f"Reading and indexing {names}…")
        report = manage.add_documents(paths, index_dir, **_build_options(index_dir, progress))
        _step(progress, 1.0, "Done")
    except RagError as err:
        warn(err)
        return (gr.skip(), *documents_view(index_dir))
    for line in report.skipped:
        warn(f"Skipped {line}")
    gr.Info(render.esc(upload_summary(names, report)))
    return (None, *documents_view(index_dir))


def upload_summary(names: str, report: Any) -> str:
    """One sentence about what an upload changed, from its BuildReport."""
    total = f"The index now holds {report.documents} document{'' if report.documents == 1 else 's'}"
    if not report.added and not report.updated:
        return f"{names}: already in the index, nothing changed. {total}."
    return f"Indexed {names}. {total}: ask about {'it' if report.added + report.updated == 1 else 'them'} in the Chat tab."


def remove(doc_id: str | None, index_dir: str | Path, progress: Any = None) -> tuple[str, list[list[Any]], Any]:
    """Remove the chosen document and rebuild; returns :func:`documents_view`."""
    from rag import manage

    if doc_id == CANCELLED:
        return gr.skip(), gr.skip(), gr.skip()
    if not doc_id:
        warn("Choose a document to remove first.")
        return gr.skip(), gr.skip(), gr.skip()
    if _only_document(doc_id, index_dir):
        warn("This is the only document in the index, and an index needs one: add another document before removing it.")
        return gr.skip(), gr.skip(), gr.skip()
    try:
        _step(progress, 0.0, "Removing the document and rebuilding the index…")
        report = manage.remove_document(doc_id, index_dir, **_build_options(index_dir, progress))
        _step(progress, 1.0, "Done")
    except RagError as err:
        warn(err)
        return documents_view(index_dir)
    gr.Info(
        render.esc(f"Document removed. The index now holds {report.documents} document{'' if report.documents == 1 else 's'}.")
    )
    return documents_view(index_dir)


def _only_document(doc_id: str, index_dir: str | Path) -> bool:
    """True when ``doc_id`` is the index's last document (rag cannot build an empty index, and
    would delete the uploaded copy before failing)."""
    try:
        rows = document_rows(index_dir)
    except RagError:
        return False
    return [r["id"] for r in rows] == [doc_id]


def _file_path(f: Any) -> str:
    """A path from whatever gr.File hands over (a path string, or an object with ``.name``/``.path``)."""
    if isinstance(f, (str, Path)):
        return str(f)
    return str(getattr(f, "path", None) or getattr(f, "name", f))


def _step(progress: Any, fraction: float | None, desc: str) -> None:
    if progress is not None:
        progress(fraction, desc=desc)


def warm_up(index_dir: str | Path) -> None:
    """Load the index and the model ahead of the first question (errors are only logged)."""
    from rag.retrieve import open_index

    try:
        open_index(index_dir).embedder.embed(["warm-up"])
    except RagError as err:
        log.info("not warmed up: %s", notice(err))
