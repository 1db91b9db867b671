"""The Chat tab's list of kept conversations: switch to one, rename it, delete it, export it as Markdown.

The conversations are those of :class:`ui.chats.ChatStore` (they survive a server restart); the
list is refreshed whenever this tab changes one, and when the tab is opened.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from . import asking, chats, conversation

EXPORTS = Path(tempfile.gettempdir()) / "rag-exports"
"""Where exported Markdown files are written for download (Gradio serves them from its cache)."""


def _label(saved: chats.Saved) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved.updated))
    return f"{saved.title} · {when} · {saved.turns} question{'' if saved.turns == 1 else 's'}"


def listing(store: chats.ChatStore, cid: str) -> tuple[Any, Any, Any]:
    """``(conversation list, name box, export button)`` for the tab whose conversation is ``cid``."""
    kept = store.conversations()
    current = next((c for c in kept if c.id == cid), None)
    choices = [(_label(c), c.id) for c in kept]
    return (
        gr.Dropdown(choices=choices, value=current.id if current else None),
        gr.Textbox(value=current.title if current else ""),
        gr.DownloadButton(value=export(store, cid), interactive=current is not None),
    )


def export(store: chats.ChatStore, cid: str) -> str | None:
    """The path of the conversation ``cid`` as a Markdown file, or None when nothing is kept."""
    saved = next((c for c in store.conversations() if c.id == cid), None)
    if saved is None:
        return None
    answers = conversation.answers_from(store.load(cid))
    safe = "".join(ch if ch.isalnum() else "-" for ch in saved.title.lower())[:40].strip("-") or "conversation"
    folder = EXPORTS / cid
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe}.md"
    path.write_text(chats.markdown(saved.title, answers), "utf-8")
    return str(path)


def switch(store: chats.ChatStore, chosen: Any, index_dir: str) -> tuple[Any, ...]:
    """Open the chosen kept conversation in this tab: ``(chat, sources, turns, pending, conversation id)``."""
    cid = chats.valid_id(chosen)
    if cid is None:
        return (gr.skip(),) * 5
    chat, panel, turns = asking.restore(store.load(cid), index_dir)
    return chat, panel, turns, "", cid


def rename(store: chats.ChatStore, cid: str, name: str) -> None:
    if not store.rename(cid, name or ""):
        gr.Warning("Ask a question first: an empty conversation is not kept, so it has no name.")


class Kept:
    """The list's components (made inside the Chat tab's column) and its events."""

    def __init__(self) -> None:
        with gr.Accordion("Conversations", open=False, elem_id="conversations"):
            self.choice = gr.Dropdown(label="Kept conversations", choices=[], value=None, elem_id="conversation-list")
            with gr.Row():
                self.name = gr.Textbox(label="Name", max_lines=1, elem_id="conversation-name", scale=3)
                self.rename = gr.Button("Rename", size="sm", elem_id="conversation-rename", scale=1)
                self.delete = gr.Button("Delete", size="sm", elem_id="conversation-delete", variant="stop", scale=1)
                self.download = gr.DownloadButton(
                    "Export as Markdown", size="sm", elem_id="conversation-export", interactive=False, scale=1
                )

    @property
    def outputs(self) -> list[Any]:
        return [self.choice, self.name, self.download]

    def refreshed(self, step: Any, store: chats.ChatStore, cid: Any) -> Any:
        """``step`` followed by a refresh of the list, the name and the export for this tab."""
        return step.then(lambda c: listing(store, c), [cid], self.outputs, queue=False, api_visibility="private")

    def wire(self, store: chats.ChatStore, index_dir: str, ui: dict[str, Any], keep_id_js: str) -> None:
        """Switch (choosing in the list), rename, delete (this tab then starts a new conversation)."""
        cid = ui["conversation_id"]
        opened = ui["chat"], ui["sources"], ui["turns"], ui["pending"], cid
        chosen = self.choice.input(lambda c: switch(store, c, index_dir), [self.choice], list(opened), api_visibility="private")
        self.refreshed(chosen.then(None, [cid], None, js=keep_id_js, queue=False), store, cid)
        renamed = self.rename.click(lambda c, n: rename(store, c, n), [cid, self.name], None, api_visibility="private")
        self.refreshed(renamed, store, cid)
        self.refreshed(
            self.name.submit(lambda c, n: rename(store, c, n), [cid, self.name], None, api_visibility="private"), store, cid
        )
        removed = self.delete.click(
            lambda c: delete(store, c), [cid], list(opened), js=CONFIRM_DELETE_JS, api_visibility="private"
        )
        self.refreshed(removed.then(None, [cid], None, js=keep_id_js, queue=False), store, cid)


def delete(store: chats.ChatStore, chosen: Any) -> tuple[Any, ...]:
    """Delete this tab's conversation, which then starts a new one; nothing when the user cancelled."""
    cid = chats.valid_id(chosen)
    if cid is None:
        return (gr.skip(),) * 5
    store.delete(cid)
    return (*asking.clear_chat(), chats.new_id())


CONFIRM_DELETE_JS = "(cid) => (cid && window.confirm('Delete this conversation? This cannot be undone.')) ? cid : null"
