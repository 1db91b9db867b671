"""The Gradio app: a Chat tab (cited answers, sources panel) and a Documents tab (list, upload, remove).

:func:`build_app` makes the :class:`gradio.Blocks` without launching it (tests use it);
:func:`serve` launches it for ``rag serve``. Nothing here loads the model or the index at
import time; callbacks live in :mod:`ui.handlers`, HTML in :mod:`ui.render`.

Offline and private by default: analytics off, never ``share=True``, system fonts only (no
font or asset requests to the internet), bound to 127.0.0.1; another host needs a password
from ``RAG_UI_USER``/``RAG_UI_PASSWORD`` unless ``RAG_UI_NO_AUTH=1``. Every request passes
:class:`ui.security.Guard` (Host/Origin check, no URL fetches, upload size, login throttle).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no usage reporting

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from rag.errors import ConfigError  # noqa: E402
from rag.ingestion.documents import SUPPORTED  # noqa: E402

from . import api, asking, chats, conversation, examples, handlers, render, saved, security  # noqa: E402
from .login import MIN_PASSWORD_CHARS, Credentials, LoginThrottle  # noqa: E402
from .script import SCRIPT  # noqa: E402
from .security import LOOPBACK_NAMES, is_loopback  # noqa: E402, F401 (both part of this module's interface)
from .style import CSS  # noqa: E402

TITLE = "Ask your documents"
MAX_FILE_SIZE = "50mb"
MAX_UPLOAD_TOTAL = 200 * 2**20
"""Largest upload batch (all files of one upload together), refused at the server before it is
read (:class:`ui.security.Guard`, from the request's size) and again before anything is copied
into the index (``handlers.upload``)."""
UPLOAD_CACHE_SECONDS = 3600
"""Gradio's copies of uploads are deleted once indexed; any left over (an upload never
submitted) are deleted after this long, and all of them when the server stops."""
ANSWER_CONCURRENCY = 4
"""Answers read an immutable, already-loaded index version, so several may run at once; the
model is CPU-bound, so more parallel answers would only contend for the same cores."""
INDEX_WRITES = "index-writes"
"""Concurrency group of upload and removal: one rebuild at a time, queued in order, so builds
never overlap (rag also locks the folder, but a queue shows the user a position instead of a hang)."""
FILE_TYPES = sorted(SUPPORTED)
"""What the upload accepts: every type rag reads (:data:`rag.ingestion.documents.SUPPORTED`)."""
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
CONFIRM_REMOVE_JS = (
    "(doc) => (doc && window.confirm('Remove this document from the index? An uploaded copy is deleted.')) ? doc : null"
)
"""A cancelled removal sends no document (never a value the dropdown would reject)."""
CONVERSATION_KEY = "rag-conversation-id"
"""Where a tab keeps its conversation's id (``sessionStorage``: per tab, kept across reloads)."""
READ_ID_JS = f"() => sessionStorage.getItem({CONVERSATION_KEY!r}) || ''"
TAKE_QUESTION_JS = "(q) => ['', q]"
"""Enter empties the box in the browser at once (the server never does: what is typed next stays)."""
KEEP_ID_JS = f"(cid) => {{ if (cid) sessionStorage.setItem({CONVERSATION_KEY!r}, cid); }}"
INTRO = (
    f'<div id="intro"><div class="intro-top"><h1>{TITLE}</h1>'
    '<button id="theme-toggle" type="button" aria-pressed="false" title="Switch between light and dark">'
    '<span class="to-dark">☾ Dark mode</span><span class="to-light">☀ Light mode</span></button></div>'
    '<p class="intro-long">Every answer is made of sentences quoted word for word from your '
    "documents, each followed by a <b>[n]</b> marker: point at it to see the sentence, click it to see it in "
    "<b>Sources</b>, highlighted in its paragraph. When your documents do not answer, you are told so "
    "instead of getting a guess. Add or remove documents in the <b>Documents</b> tab.</p>"
    '<p class="intro-short">Answers quote your documents; tap <b>[n]</b> to see the source.</p></div>'
)
AUTH_MESSAGE = "After 5 wrong passwords in a row, each further try must wait longer (up to 5 minutes)."


def theme() -> gr.themes.Base:
    """The default Gradio look with system fonts only (the page requests no web fonts), and
    secondary text dark enough to read (4.5:1 or more in light and dark mode)."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS).set(
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300"
    )


def build_app(index_dir: str | Path = "index", conversations_dir: str | Path | None = None) -> gr.Blocks:
    """The UI over the index at ``index_dir``, queued but not launched; the index is read only
    when a page loads or a question is asked. Conversations are kept in ``conversations_dir``
    (default :func:`ui.chats.default_folder`)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    index = str(index_dir)
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(UPLOAD_CACHE_SECONDS, UPLOAD_CACHE_SECONDS)) as demo:
        gr.HTML(INTRO, js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat") as chat_tab:
                store = chats.ChatStore(conversations_dir or chats.default_folder(index, os.environ))
                _chat_tab(index, demo, chat_tab, store)
            with gr.Tab("Documents", id="documents") as documents_tab:
                status, table, choice = _documents_tab(index)
        view_outputs = [status, table, choice]

        def _show_documents() -> Any:
            return handlers.documents_view(index)

        demo.load(_show_documents, None, view_outputs, api_visibility="private")
        documents_tab.select(_show_documents, None, view_outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=64)
    security.refuse_url_files(demo.blocks.values())
    return demo


def _chat_tab(index: str, demo: gr.Blocks, chat_tab: gr.Tab, store: chats.ChatStore) -> None:
    """Conversation on the left, sources panel on the right (below on a phone); two-step asking
    (show, then answer); each tab's conversation is kept by ``store`` under the tab's own id."""
    with gr.Row(equal_height=False, elem_id="chat-row"):
        with gr.Column(scale=3):
            chat = _chatbot()
            with gr.Row(elem_id="ask-row"):
                box = gr.Textbox(
                    show_label=False,
                    placeholder="Ask a question about your documents…",
                    elem_id="question",
                    scale=5,
                    autofocus=True,
                )  # no max_length: the browser would cut a pasted question silently (queue_question says so)
                ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=90)
            with gr.Row(elem_id="chat-actions"):
                exact = gr.Button("Ask exactly as typed", size="sm", elem_id="ask-exact", visible=False)
                new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            with gr.Row(elem_id="examples"):
                chips = [gr.Button("", size="sm", visible=False, elem_classes=["example-chip"]) for _ in range(examples.MAX)]
            kept = saved.Kept()
        with gr.Column(scale=2, elem_id="sources-column"):
            sources = gr.HTML(conversation.empty_sources_html(), elem_id="sources", js_on_load=None)
    pending = gr.State("")
    turns = gr.State([])
    conversation_id = gr.Textbox("", visible=False)

    def _respond(p: str, c: Any, t: Any, cid: str, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008 (Gradio injects it)
        return _kept(cid, asking.respond(p, c, t, index, progress))

    def _respond_as_typed(p: str, c: Any, t: Any, cid: str, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        return _kept(cid, asking.respond(p, c, t, index, progress, with_history=False))

    def _kept(cid: str, result: tuple[Any, Any, Any]) -> tuple[Any, ...]:
        if isinstance(result[2], list):
            store.save(cid, result[2])
        return (*result, "")  # answered (or failed): the next question may be asked

    answering = {"concurrency_id": "answers", "show_progress": "full", "show_progress_on": [sources], "api_visibility": "private"}
    # one at a time (each takes microseconds), so a second question sees the first one pending
    queueing = {
        "concurrency_limit": 1, "concurrency_id": "queueing", "show_progress": "hidden", "api_visibility": "private",
        "trigger_mode": "multiple",  # Gradio's default ("once") silently dropped a question asked during the last one
    }  # fmt: skip

    def _answer_after(step: Any, respond: Any) -> None:
        answered = step.then(respond, [pending, chat, turns, conversation_id], [chat, sources, turns, pending], **answering)
        kept.refreshed(answered, store, conversation_id).then(
            asking.exact_button, [turns], [exact], queue=False, api_visibility="private"
        )

    asked = gr.Textbox("", visible=False)
    typed = gr.on([box.submit, ask.click], None, [box], [box, asked], js=TAKE_QUESTION_JS, queue=False, trigger_mode="multiple")
    _answer_after(typed.then(asking.queue_question, [asked, chat, pending], [box, chat, pending], **queueing), _respond)  # type: ignore[arg-type]
    _answer_after(exact.click(asking.ask_exactly, [chat, turns, pending], [chat, pending], **queueing), _respond_as_typed)  # type: ignore[arg-type]
    for chip in chips:  # a chip asks its question at once
        _answer_after(chip.click(asking.queue_question, [chip, chat, pending], [box, chat, pending], **queueing), _respond)  # type: ignore[arg-type]

    def _chips() -> list[Any]:
        found = examples.examples(index)
        return [
            gr.Button(found[i], visible=True) if i < len(found) else gr.Button("", visible=False) for i in range(examples.MAX)
        ]

    demo.load(_chips, None, chips, api_visibility="private")  # questions this index answers, or none
    chat_tab.select(_chips, None, chips, api_visibility="private")  # documents may have changed meanwhile

    def _new() -> tuple[Any, ...]:  # this tab only: a new id; the old conversation's file is kept
        return (*asking.clear_chat(), chats.new_id())

    for clear in (new.click, chat.clear):  # the chat's own trash button (hidden by style.CSS) would too
        cleared = clear(_new, None, [chat, sources, turns, pending, conversation_id], queue=False, api_visibility="private")
        kept.refreshed(cleared.then(None, [conversation_id], None, js=KEEP_ID_JS, queue=False), store, conversation_id).then(
            asking.exact_button, [turns], [exact], queue=False, api_visibility="private"
        )
    kept.wire(
        store,
        index,
        {"chat": chat, "sources": sources, "turns": turns, "pending": pending, "conversation_id": conversation_id},
        KEEP_ID_JS,
    )

    def _restore(cid: str) -> Any:
        cid = chats.valid_id(cid) or chats.new_id()
        return (*asking.restore(store.load(cid), index), cid)

    loaded = demo.load(
        _restore, [conversation_id], [chat, sources, turns, conversation_id], js=READ_ID_JS, api_visibility="private"
    )
    kept.refreshed(loaded.then(None, [conversation_id], None, js=KEEP_ID_JS, queue=False), store, conversation_id).then(
        asking.exact_button, [turns], [exact], queue=False, api_visibility="private"
    )
    chat_tab.select(lambda c: saved.listing(store, c), [conversation_id], kept.outputs, queue=False, api_visibility="private")


def _chatbot() -> gr.Chatbot:
    """The conversation: messages are escaped HTML from ui.conversation, so markdown, LaTeX and tags are off."""
    return gr.Chatbot(
        label="Conversation",
        show_label=False,  # a floating label would cover the first message once the chat scrolls
        elem_id="chat",
        height=460,
        render_markdown=False,  # messages are escaped HTML built in ui.conversation, never markdown
        sanitize_html=True,
        allow_tags=False,
        latex_delimiters=[],
        feedback_options=None,
        buttons=[],  # Gradio's copy button copied the wrong message; each message has its own Copy (ui.script)
        placeholder="Ask a question below. Answers quote your documents; nothing is made up.",
    )


def _documents_tab(index: str) -> tuple[gr.HTML, gr.HTML, gr.Dropdown]:
    """Index status, the document table, upload (rebuilds on upload) and removal. Progress of a
    rebuild is shown once, on the status line; the table stays visible."""
    status = gr.HTML(elem_id="index-status", js_on_load=None)
    table = gr.HTML(render.documents_table_html([]), elem_id="documents-table", js_on_load=None)
    with gr.Row(equal_height=False):
        with gr.Column():
            files = gr.File(
                label="Add documents: .txt .md .rst .html .pdf .docx .csv .tsv .xlsx .json .jsonl, up to 50 MB each (indexed right after upload)",
                file_count="multiple",
                file_types=FILE_TYPES,
                elem_id="upload",
            )
        with gr.Column():
            choice = gr.Dropdown(
                label="Remove a document",
                info="Choose one, then press Remove document (you will be asked to confirm).",
                choices=[],
                elem_id="remove-choice",
                interactive=True,
            )
            remove = gr.Button("Remove document", variant="stop", elem_id="remove", interactive=False)

    def _received(paths: Any) -> Any:
        return handlers.upload_received(paths, index, MAX_UPLOAD_TOTAL)

    def _upload(paths: Any, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008 (Gradio injects it)
        return handlers.upload(paths, index, progress, max_total_bytes=MAX_UPLOAD_TOTAL)

    def _remove(doc_id: str | None, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        return handlers.remove(doc_id, index, progress)

    write = {"concurrency_limit": 1, "concurrency_id": INDEX_WRITES, "api_visibility": "private"}
    one_bar = {"show_progress": "full", "show_progress_on": [status]}
    accepted = gr.State([])
    # First at once (size check; says when another change is running), then in the write queue.
    files.upload(
        _received, [files], [files, status, accepted], concurrency_limit=None, show_progress="hidden", api_visibility="private"
    ).then(_upload, [accepted], [files, status, table, choice], **write, **one_bar)  # type: ignore[arg-type]
    remove.click(_remove, [choice], [status, table, choice], js=CONFIRM_REMOVE_JS, **write, **one_bar)  # type: ignore[arg-type]

    def _removable(doc: str | None) -> Any:
        return gr.Button(interactive=bool(doc))

    choice.change(_removable, [choice], [remove], queue=False, show_progress="hidden", api_visibility="private")
    return status, table, choice


def launch_auth(host: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """Credentials for ``launch(auth=...)`` from ``RAG_UI_USER``/``RAG_UI_PASSWORD``.

    Loopback hosts need none. Any other host needs both, unless ``RAG_UI_NO_AUTH=1`` (a warning
    is printed); a password shorter than MIN_PASSWORD_CHARS is refused. Errors are ConfigError
    with a one-line message.
    """
    user, password = env.get("RAG_UI_USER", ""), env.get("RAG_UI_PASSWORD", "")
    if bool(user) != bool(password):
        raise ConfigError("set both RAG_UI_USER and RAG_UI_PASSWORD, or neither")
    if user and len(password) < MIN_PASSWORD_CHARS:
        raise ConfigError(f"RAG_UI_PASSWORD is too short: use at least {MIN_PASSWORD_CHARS} characters")
    if user:
        return user, password
    if is_loopback(host):
        return None
    if env.get("RAG_UI_NO_AUTH") == "1":
        print(
            f"warning: serving on {host} without a password (RAG_UI_NO_AUTH=1): anyone who can reach this "
            "port can read your documents and change the index",
            file=sys.stderr,
        )
        return None
    raise ConfigError(
        f"serving on {host} needs a password: set RAG_UI_USER and RAG_UI_PASSWORD "
        "(or RAG_UI_NO_AUTH=1 to serve without one), or use --host 127.0.0.1"
    )


def launch(
    demo: gr.Blocks,
    host: str,
    port: int,
    auth: tuple[str, str] | None = None,
    allowed_hosts: tuple[str, ...] = (),
    block: bool = True,
    policy: security.HostPolicy | None = None,
    throttle: LoginThrottle | None = None,
    index_dir: str | Path | None = None,
) -> None:
    """Serve ``demo`` on ``host:port`` behind :class:`ui.security.Guard`.

    Answers to the Host names of ``policy`` (default: the bind address, loopback and
    ``allowed_hosts``); with ``auth``, failed logins are throttled (default LoginThrottle()).
    ``block=False`` returns once the server is up (tests; stop it with ``demo.close()``).
    With ``index_dir``, the HTTP API (:mod:`ui.api`) is served beside the UI, behind the same guard.
    """
    policy = policy or security.HostPolicy.for_bind(host, allowed_hosts)
    throttle = (throttle or LoginThrottle()) if auth else None
    guard = Middleware(security.Guard, policy=policy, max_upload_bytes=MAX_UPLOAD_TOTAL, throttle=throttle)
    routes = [Middleware(api.ApiMount, index_dir=index_dir)] if index_dir is not None else []
    demo.launch(
        server_name=host, server_port=port, share=False, max_file_size=MAX_FILE_SIZE, prevent_thread_lock=True,
        auth=Credentials(*auth) if auth else None, auth_message=AUTH_MESSAGE if auth else None,
        app_kwargs={"middleware": [guard, *routes]}, run_history=False, num_workers=0, quiet=True,
        theme=theme(), css=CSS, ssr_mode=False, show_error=False, inbrowser=False,
        mcp_server=False, pwa=False, enable_monitoring=False, js=SCRIPT,
        footer_links=["gradio"],  # no developer Settings panel; the page has its own light/dark switch
    )  # fmt: skip
    # quiet: gradio's own banner invites `share=True`, which this app never uses; we print our line.
    if block:
        shown = f"[{host}]" if ":" in host else host
        print(f"Serving on http://{shown}:{getattr(demo, 'server_port', None) or port}", flush=True)
        demo.block_thread()  # until Ctrl-C or SIGTERM (returns at once if the server is not running)


def serve(index_dir: str | Path = "index", host: str = "127.0.0.1", port: int = 7860) -> None:
    """Launch the UI on ``host:port`` and block until interrupted.

    Raises ConfigError (one line) when a non-loopback host has no credentials, a setting is
    invalid or the port cannot be used. Uploads go to a private folder deleted on exit. The
    model is loaded in the background so the first answer is quick.
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    auth = launch_auth(host, os.environ)
    allowed = security.parse_allowed_hosts(os.environ.get("RAG_ALLOWED_HOSTS", ""))
    if not (Path(index_dir) / "manifest.json").exists():
        where = os.path.abspath(index_dir)
        print(
            f"note: no index at {where} yet: add documents in the Documents tab, or run `rag build PATHS --index {where}`",
            file=sys.stderr,
        )
    with _sigterm_as_interrupt(), security.private_upload_folder(os.environ):
        demo = build_app(index_dir)
        threading.Thread(target=handlers.warm_up, args=(index_dir,), name="warm-up", daemon=True).start()
        try:
            launch(demo, host, port, auth, allowed, index_dir=index_dir)
        except OSError as err:
            reason = err.strerror or "the port is in use or not allowed"  # gradio's own OSError has no strerror
            raise ConfigError(f"cannot serve on {host}:{port}: {reason}; try another --port or --host") from None


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Stop on SIGTERM (``kill``, systemd) as on Ctrl+C: the server closes, and the uploads it
    holds are deleted with its private folder instead of being left on disk."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
