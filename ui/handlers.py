"""Event handlers of the UI (the Chat tab's are in :mod:`ui.asking`): thin calls into ``rag``
plus turning results into component values.

No retrieval logic lives here: questions go to :func:`rag.answering.answer.answer`, documents to
:mod:`rag.manage`. A :class:`rag.errors.RagError` becomes a one-line notice (a Gradio warning
toast, and in the chat an error message), never a stack trace.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.records import Document

from . import render

log = logging.getLogger(__name__)


_listing: dict[str, tuple[str, list[dict[str, Any]]]] = {}
_listing_lock = threading.Lock()
_writes: dict[str, int] = {}  # index folder -> uploads and removals running in this process
_writes_lock = threading.Lock()
WAITING = "Waiting for another change to the index to finish: your upload starts right after it."


def notice(err: BaseException | str) -> str:
    """One line for the user: whitespace collapsed, first letter capitalised (unless the line
    starts with a file name, which is shown as it is).

    >>> notice("the question is empty:\\n ask something"), notice("notes.txt: document is empty")
    ('The question is empty: ask something', 'notes.txt: document is empty')
    """
    text = " ".join(str(err).split()) or "Something went wrong"
    if "." in text.split(" ", 1)[0][:-1]:
        return text
    return text[:1].upper() + text[1:]


def warn(err: BaseException | str) -> str:
    """Show ``notice(err)`` as a warning toast (escaped: toasts render HTML) and return it."""
    message = notice(err)
    gr.Warning(render.esc(message))
    return message


def documents_by_id(index_dir: str | Path, ids: Iterable[str]) -> dict[str, Document]:
    """The documents with the given ids from the loaded index (shared with ``rag.answer``'s cache).

    A document removed since the answer was made is simply absent.
    """
    from rag.indexing.search_index import open_index

    return open_index(index_dir).documents_by_id(ids)


def document_rows(index_dir: str | Path) -> list[dict[str, Any]]:
    """``rag.manage.list_documents``, cached per index version (listing loads the whole index)."""
    from rag.indexing import manage, store

    key = str(Path(index_dir).resolve())
    version = str(store.read_manifest(index_dir).get("data_dir", ""))
    with _listing_lock:
        cached = _listing.get(key)
        if cached is None or cached[0] != version:
            cached = (version, manage.list_documents(index_dir))
            _listing[key] = cached
    return cached[1]


def documents_view(index_dir: str | Path, note: str = "") -> tuple[str, str, Any]:
    """``(status HTML, documents table HTML, removal dropdown update)`` for the Documents tab.

    With no (readable) index the status explains why, and the table and dropdown are empty;
    ``note`` (say, why an upload was refused) is shown under the status line.
    """
    from rag.indexing import manage

    try:
        status = manage.index_status(index_dir)
        rows = document_rows(index_dir)
    except RagError as err:
        missing = render.status_html(None, _missing_index_hint(err)) + render.status_note_html(note)
        return missing, render.documents_table_html([]), gr.Dropdown(choices=[], value=None)
    table = [[r["title"], r["date"], r["chunks"], r["sentences"], _shown_source(r)] for r in rows]
    choices = [(_choice_label(r), r["id"]) for r in rows]
    status_line = render.status_html(status) + render.status_note_html(note)
    return status_line, render.documents_table_html(table), gr.Dropdown(choices=choices, value=None)


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
    from rag.indexing.search_index import open_index

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

        def report(fraction: float, message: str) -> None:  # "waiting for another change ..." included
            _step(progress, fraction, message[:1].upper() + message[1:])

        options["on_progress"] = report
    return options


def upload_received(
    files: Sequence[Any] | None, index_dir: str | Path, max_total_bytes: int | None = None
) -> tuple[Any, Any, list[str]]:
    """First step of an upload, at once: ``(file box, status, accepted paths)`` for :func:`upload`.

    The file box is emptied (the files are taken; Gradio's copies are deleted once they are
    indexed or refused, so a file left in the box would be sent again with the next upload,
    gone). A batch over ``max_total_bytes`` is refused here (a notice, also under the status);
    while another change to the index runs, the status says the upload waits for it.
    """
    paths = [_file_path(f) for f in files or []]
    if not paths:
        return gr.skip(), gr.skip(), []
    refusal = _too_large(paths, max_total_bytes)
    if refusal:
        discard_uploads(paths)
        message = warn(refusal)
        return None, documents_view(index_dir, f"Not indexed. {message}")[0], []
    if index_busy(index_dir):
        gr.Info(render.esc(WAITING))
        return None, render.status_note_html(WAITING, waiting=True), paths
    return None, gr.skip(), paths


def upload(
    files: Sequence[Any] | None, index_dir: str | Path, progress: Any = None, max_total_bytes: int | None = None
) -> tuple[Any, str, str, Any]:
    """Add uploaded files to the index and rebuild it; returns ``(file box, *documents_view)``.

    Each file is checked on its own first: the good ones of a batch are indexed, each refused
    one is reported in one line by the name the user gave it (a notice, and under the status
    line). Gradio's copies of the files are deleted either way (:func:`discard_uploads`).
    """
    paths = [_file_path(f) for f in files or []]
    if not paths:
        return (gr.skip(), gr.skip(), gr.skip(), gr.skip())
    refused: list[str] = []
    try:
        with _writing(index_dir):
            good, refused = _screen(paths, max_total_bytes)
            report = _add(good, index_dir, progress) if good else None
    except RagError as err:
        refused.append(warn(_names_only(str(err), paths)))
        return (None, *documents_view(index_dir, "Not indexed. " + " ".join(_sentence(r) for r in refused)))
    finally:
        discard_uploads(paths)
    note = "Not indexed. " + " ".join(_sentence(r) for r in refused) if refused else ""
    if report is None:
        return (None, *documents_view(index_dir, note))
    for line in report.skipped:
        warn(f"Skipped {line}")
    for line in report.notes:  # e.g. an earlier upload a crash interrupted, rolled back first
        gr.Info(render.esc(notice(line)))
    gr.Info(render.esc(upload_summary(", ".join(Path(p).name for p in good), report)))
    return (None, *documents_view(index_dir, note))


def _screen(paths: list[str], max_total_bytes: int | None) -> tuple[list[str], list[str]]:
    """The paths of a batch to index, and a notice (shown at once) for each refused file."""
    from rag.errors import DocumentError
    from rag.indexing import manage

    refusal = _too_large(paths, max_total_bytes)
    if refusal:
        raise DocumentError(refusal)
    good, refused = manage.screen_uploads(paths)
    return [str(p) for p in good], [warn(_names_only(r, paths)) for r in refused]


def _add(paths: list[str], index_dir: str | Path, progress: Any) -> Any:
    from rag.indexing import manage

    _step(progress, 0.0, f"Reading and indexing {', '.join(Path(p).name for p in paths)}…")
    report = manage.add_documents(paths, index_dir, **_build_options(index_dir, progress))
    _step(progress, 1.0, "Done")
    return report


def _sentence(line: str) -> str:
    return line if line.endswith((".", "!", "?")) else line + "."


def _names_only(message: str, paths: Sequence[str]) -> str:
    """``message`` with each uploaded file's server path shortened to its name (the user knows
    the file by its name; Gradio's upload folder is none of their business).

    >>> _names_only("/tmp/gradio/ab12/x.txt: document is empty", ["/tmp/gradio/ab12/x.txt"])
    'x.txt: document is empty'
    """
    for p in sorted(paths, key=len, reverse=True):
        message = message.replace(p, Path(p).name)
    return message


def _too_large(paths: Sequence[str], max_total_bytes: int | None) -> str:
    """Why a batch is refused for its total size (empty when it is not)."""
    if max_total_bytes is None:
        return ""
    total = 0
    for p in paths:
        with contextlib.suppress(OSError):  # a missing file is reported by rag.manage
            total += os.stat(p).st_size
    if total <= max_total_bytes:
        return ""
    return (
        f"this upload is {total / 2**20:.0f} MB in total, over the {max_total_bytes // 2**20} MB limit per upload: "
        "upload fewer or smaller files at a time"
    )


def discard_uploads(paths: Iterable[str]) -> None:
    """Delete Gradio's copies of uploaded files, which its file route would serve until then.

    Only files inside Gradio's upload folder (and their hash folder once empty) are touched;
    paths elsewhere (a test's own files, say) are left alone.
    """
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    for p in paths:
        folder = Path(p).parent.resolve()
        if folder != root and root not in folder.parents:
            continue
        target = folder / Path(p).name  # a link is removed itself, never its target
        with contextlib.suppress(OSError):
            target.unlink()
        if folder != root:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


@contextlib.contextmanager
def _writing(index_dir: str | Path) -> Iterator[None]:
    """Count a running upload or removal of ``index_dir`` (see :func:`index_busy`)."""
    key = str(Path(index_dir).resolve())
    with _writes_lock:
        _writes[key] = _writes.get(key, 0) + 1
    try:
        yield
    finally:
        with _writes_lock:
            _writes[key] -= 1


def index_busy(index_dir: str | Path) -> bool:
    """True while an upload or removal of ``index_dir`` runs here, or another process (``rag
    build`` in a shell, another server) holds the index's build lock."""
    with _writes_lock:
        if _writes.get(str(Path(index_dir).resolve()), 0):
            return True
    return _locked(index_dir)


def _locked(index_dir: str | Path) -> bool:
    """True while a build holds ``index_dir``'s lock (``rag.indexing.commit.build_lock``'s file)."""
    try:
        fd = os.open(Path(index_dir) / ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def upload_summary(names: str, report: Any) -> str:
    """One sentence about what an upload changed, from its BuildReport."""
    total = f"The index now holds {report.documents} document{'' if report.documents == 1 else 's'}"
    if not report.added and not report.updated:
        return f"{names}: already in the index, nothing changed. {total}."
    return f"Indexed {names}. {total}: ask about {'it' if report.added + report.updated == 1 else 'them'} in the Chat tab."


def remove(doc_id: str | None, index_dir: str | Path, progress: Any = None) -> tuple[Any, Any, Any]:
    """Remove the chosen document and rebuild; returns :func:`documents_view`. No document
    (the confirm dialog was cancelled) changes nothing and says nothing."""
    from rag.indexing import manage

    if not doc_id:  # the confirm dialog was cancelled (Remove is disabled until one is chosen)
        return gr.skip(), gr.skip(), gr.skip()
    if _only_document(doc_id, index_dir):
        warn("This is the only document in the index, and an index needs one: add another document before removing it.")
        return gr.skip(), gr.skip(), gr.skip()
    try:
        with _writing(index_dir):
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
    from rag.indexing.search_index import open_index

    try:
        open_index(index_dir).embedder.embed(["warm-up"])
    except RagError as err:
        log.info("not warmed up: %s", notice(err))
