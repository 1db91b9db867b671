"""The Gradio app: a Chat tab (cited answers, sources panel) and a Documents tab (list, upload, remove).

:func:`build_app` makes the :class:`gradio.Blocks` without launching it (tests use it);
:func:`serve` launches it for ``rag serve``. Nothing here loads the model or the index at
import time; callbacks live in :mod:`ui.handlers`, HTML in :mod:`ui.render`.

Offline and private by default: analytics off, never ``share=True``, system fonts only (no
font or asset requests to the internet), bound to 127.0.0.1; another host needs a password
from ``RAG_UI_USER``/``RAG_UI_PASSWORD`` unless ``RAG_UI_NO_AUTH=1``.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no usage reporting

import gradio as gr  # noqa: E402

from rag.errors import ConfigError  # noqa: E402

from . import handlers, render  # noqa: E402
from .style import CSS  # noqa: E402

TITLE = "Ask your documents"
MAX_FILE_SIZE = "50mb"
ANSWER_CONCURRENCY = 4
"""Answers read an immutable, already-loaded index version, so several may run at once; the
model is CPU-bound, so more parallel answers would only contend for the same cores."""
INDEX_WRITES = "index-writes"
"""Concurrency group of upload and removal: one rebuild at a time, queued in order, so builds
never overlap (rag also locks the folder, but a queue shows the user a position instead of a hang)."""
FILE_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl"]
EXAMPLES = [
    "What did Kim Jong Un order his military to do?",
    "Who did Kim Jong Un meet in Russia?",
    "What has North Korea declared itself to be?",
]
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
CONFIRM_REMOVE_JS = (
    "(doc) => (doc && !window.confirm('Remove this document from the index? An uploaded copy is deleted.'))"
    f" ? '{handlers.CANCELLED}' : doc"
)
INTRO = (
    f'<div id="intro"><h1>{TITLE}</h1><p>Every answer is made of sentences quoted word for word from your '
    "documents, each followed by a <b>[n]</b> marker. <b>Sources</b> shows each quoted sentence highlighted in "
    "its paragraph. When your documents do not answer, you are told so instead of getting a guess. "
    "Add or remove documents in the <b>Documents</b> tab.</p></div>"
)
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def theme() -> gr.themes.Base:
    """The default Gradio look with system fonts only, so the page requests no web fonts."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(index_dir: str | Path = "index") -> gr.Blocks:
    """The UI over the index at ``index_dir``, queued but not launched; the index is read only
    when a page loads or a question is asked."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    index = str(index_dir)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.HTML(INTRO, js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                _chat_tab(index)
            with gr.Tab("Documents", id="documents") as documents_tab:
                status, table, choice = _documents_tab(index)
        view_outputs = [status, table, choice]
        demo.load(lambda: handlers.documents_view(index), None, view_outputs, api_visibility="private")
        documents_tab.select(lambda: handlers.documents_view(index), None, view_outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=64)
    return demo


def _chat_tab(index: str) -> None:
    """Conversation on the left, sources panel on the right; two-step asking (show, then answer)."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chat = _chatbot()
            with gr.Row():
                box = gr.Textbox(
                    show_label=False,
                    placeholder="Ask a question about your documents…",
                    elem_id="question",
                    scale=5,
                    autofocus=True,
                    max_length=2000,
                )
                ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=90)
            with gr.Row():
                gr.Examples([[q] for q in EXAMPLES], inputs=[box], label="Examples (about the bundled sample article)")
            new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
        with gr.Column(scale=2):
            sources = gr.HTML(render.empty_sources_html(), elem_id="sources", js_on_load=None)
    pending, questions = gr.State(""), gr.State([])

    def _respond(p: str, c: Any, q: Any, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008 (Gradio injects it)
        return handlers.respond(p, c, q, index, progress)

    gr.on(
        [box.submit, ask.click], handlers.queue_question, [box, chat], [box, chat, pending],
        concurrency_limit=None, show_progress="hidden", api_visibility="private",
    ).then(
        _respond, [pending, chat, questions], [chat, sources, questions],
        concurrency_id="answers", show_progress="full", show_progress_on=[sources], api_visibility="private",
    )  # fmt: skip
    for clear in (new.click, chat.clear):  # the chat's own trash button must forget the history too
        clear(handlers.clear_chat, None, [chat, sources, questions, pending], queue=False, api_visibility="private")


def _chatbot() -> gr.Chatbot:
    """The conversation: messages are escaped HTML from ui.render, so markdown, LaTeX and tags are off."""
    return gr.Chatbot(
        label="Conversation",
        show_label=False,  # a floating label would cover the first message once the chat scrolls
        elem_id="chat",
        height=460,
        render_markdown=False,  # messages are escaped HTML built in ui.render, never markdown
        sanitize_html=True,
        allow_tags=False,
        latex_delimiters=[],
        feedback_options=None,
        buttons=["copy"],
        placeholder="Ask a question below. Answers quote your documents; nothing is made up.",
    )


def _documents_tab(index: str) -> tuple[gr.HTML, gr.Dataframe, gr.Dropdown]:
    """Index status, the document table, upload (rebuilds on upload) and removal."""
    status = gr.HTML(elem_id="index-status", js_on_load=None)
    table = gr.Dataframe(
        headers=handlers.DOC_HEADERS,
        datatype=["str", "str", "number", "number", "str"],
        interactive=False,
        wrap=True,
        label="Indexed documents",
        elem_id="documents-table",
        column_widths=["34%", "11%", "9%", "10%", "36%"],
    )
    with gr.Row(equal_height=False):
        with gr.Column():
            files = gr.File(
                label="Add documents: .txt .md .html .pdf .json .jsonl, up to 50 MB each (indexed right after upload)",
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
            remove = gr.Button("Remove document", variant="stop", elem_id="remove")

    def _upload(paths: Any, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008 (Gradio injects it)
        return handlers.upload(paths, index, progress)

    def _remove(doc_id: str | None, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        return handlers.remove(doc_id, index, progress)

    write = {"concurrency_limit": 1, "concurrency_id": INDEX_WRITES, "api_visibility": "private"}
    files.upload(_upload, [files], [files, status, table, choice], **write)  # type: ignore[arg-type]
    remove.click(_remove, [choice], [status, table, choice], js=CONFIRM_REMOVE_JS, **write)  # type: ignore[arg-type]
    return status, table, choice


def launch_auth(host: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """Credentials for ``launch(auth=...)`` from ``RAG_UI_USER``/``RAG_UI_PASSWORD``.

    Loopback hosts need none. Any other host needs both, unless ``RAG_UI_NO_AUTH=1`` (a warning
    is printed); otherwise raises ConfigError with a one-line message.
    """
    user, password = env.get("RAG_UI_USER", ""), env.get("RAG_UI_PASSWORD", "")
    if bool(user) != bool(password):
        raise ConfigError("set both RAG_UI_USER and RAG_UI_PASSWORD, or neither")
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


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost.

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(index_dir: str | Path = "index", host: str = "127.0.0.1", port: int = 7860) -> None:
    """Launch the UI on ``host:port`` and block until interrupted.

    Raises ConfigError (one line) when a non-loopback host has no credentials or the port
    cannot be used. The model is loaded in the background so the first answer is quick.
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    auth = launch_auth(host, os.environ)
    if not (Path(index_dir) / "manifest.json").exists():
        where = os.path.abspath(index_dir)
        print(
            f"note: no index at {where} yet: add documents in the Documents tab, or run `rag build PATHS --index {where}`",
            file=sys.stderr,
        )
    demo = build_app(index_dir)
    threading.Thread(target=handlers.warm_up, args=(index_dir,), name="warm-up", daemon=True).start()
    try:
        # quiet: gradio's own banner invites `share=True`, which this app never uses; we print our line.
        demo.launch(
            server_name=host, server_port=port, share=False, auth=auth, max_file_size=MAX_FILE_SIZE,
            theme=theme(), css=CSS, ssr_mode=False, show_error=False, inbrowser=False, quiet=True,
            mcp_server=False, pwa=False, enable_monitoring=False, footer_links=["gradio", "settings"],
            prevent_thread_lock=True,
        )  # fmt: skip
    except OSError as err:
        reason = err.strerror or "the port is in use or not allowed"  # gradio's own OSError has no strerror
        raise ConfigError(f"cannot serve on {host}:{port}: {reason}; try another --port or --host") from None
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving on http://{shown}:{getattr(demo, 'server_port', None) or port}", flush=True)
    demo.block_thread()  # until Ctrl-C (returns at once if the server is not running)
