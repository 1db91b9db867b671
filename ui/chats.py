"""Conversations kept by the server, one JSON file each, so every browser tab has its own.

A tab holds only its conversation's id (in ``sessionStorage``: it survives a reload of that tab and
is not shared with other tabs); the turns (``ui.conversation.turn_record``) live in
``<folder>/<id>.json``, written whole or not at all. "New conversation" in one tab gives that tab
a new id and never touches another tab's file.

The folder is explicit (``build_app(conversations_dir=...)``); ``rag serve`` takes it from
``RAG_CONVERSATIONS_DIR`` or uses :func:`default_folder` (beside the index, never inside it: the
index folder holds only what the index writes).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ID_RE = re.compile(r"^[0-9a-f]{32}$")
"""A conversation id as :func:`new_id` makes it; anything else from a browser is ignored."""
MAX_FILE_BYTES = 64 * 2**20
"""A conversation file larger than this is not read (it cannot be one the server wrote for a chat)."""
MAX_TITLE = 80
"""Longest conversation name kept (a rename is cut to it)."""


@dataclass(frozen=True)
class Saved:
    """One kept conversation, as the list shows it."""

    id: str
    title: str
    updated: float  # seconds since the epoch
    turns: int


def default_folder(index_dir: str | Path, env: Mapping[str, str]) -> Path:
    """``RAG_CONVERSATIONS_DIR`` if set, else ``<index>.conversations`` beside the index folder."""
    if env.get("RAG_CONVERSATIONS_DIR"):
        return Path(env["RAG_CONVERSATIONS_DIR"])
    index = Path(os.path.abspath(index_dir))
    return index.with_name(index.name + ".conversations")


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(conversation_id: Any) -> str | None:
    """``conversation_id`` if it has the shape :func:`new_id` gives, else None."""
    return conversation_id if isinstance(conversation_id, str) and ID_RE.match(conversation_id) else None


class ChatStore:
    """The conversations under one folder (created on the first save)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, conversation_id: str) -> Path:
        return self.folder / f"{conversation_id}.json"

    def _read(self, cid: str) -> dict[str, Any] | None:
        path = self._path(cid)
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                return None
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("turns"), list) else None

    def load(self, conversation_id: Any) -> list[Any]:
        """The turns saved under ``conversation_id``; [] for an unknown, malformed or unreadable one
        (the conversation then starts afresh rather than failing the page)."""
        cid = valid_id(conversation_id)
        data = self._read(cid) if cid else None
        return list(data["turns"]) if data else []

    def conversations(self) -> list[Saved]:
        """Every readable conversation, the most recently changed first."""
        out = []
        for path in self.folder.glob("*.json") if self.folder.is_dir() else []:
            data = self._read(path.stem) if valid_id(path.stem) else None
            if data and data["turns"]:
                title = str(data.get("title") or "") or _first_question(data["turns"])
                out.append(Saved(path.stem, title, float(data.get("updated") or 0), len(data["turns"])))
        return sorted(out, key=lambda c: (-c.updated, c.id))

    def save(self, conversation_id: Any, turns: list[Any], title: str | None = None) -> bool:
        """Keep ``turns`` under ``conversation_id`` (whole or not at all), with its name (``title``, else
        the name it had, else its first question); an empty list deletes the file. Returns False
        (nothing written) for an id that is not one of ours or a failed write."""
        from rag.indexing.commit import write_whole

        cid = valid_id(conversation_id)
        if cid is None:
            return False
        path = self._path(cid)
        try:
            if not turns:
                path.unlink(missing_ok=True)
                return True
            kept = (self._read(cid) or {}).get("title") if title is None else " ".join(title.split())[:MAX_TITLE]
            record = {"id": cid, "title": kept or "", "updated": time.time(), "turns": turns}
            self.folder.mkdir(parents=True, exist_ok=True)
            write_whole(path, json.dumps(record, ensure_ascii=False), path.with_suffix(".json.tmp"))
        except OSError:
            return False
        return True

    def rename(self, conversation_id: Any, title: str) -> bool:
        """Name a kept conversation (a blank name goes back to its first question)."""
        turns = self.load(conversation_id)
        return bool(turns) and self.save(conversation_id, turns, title)

    def delete(self, conversation_id: Any) -> bool:
        return self.save(conversation_id, [])


def _first_question(turns: list[Any]) -> str:
    first = turns[0] if turns and isinstance(turns[0], dict) else {}
    return " ".join(str(first.get("question") or "Conversation").split())[:MAX_TITLE]


def markdown(title: str, answers: list[Any]) -> str:
    """A conversation as Markdown: its name, then each question as a heading with its answer (with
    its ``[n]`` markers) and the numbered sources it cites (title, date, the sentence)."""
    lines = [f"# {title}", ""]
    for result in answers:
        lines += [f"## {' '.join(result.question.split())}", ""]
        if result.abstained:
            lines += ["Not found in your documents.", ""]
            continue
        lines += [result.text, "", "Sources:", ""]
        lines += [f"- [{c.n}] **{c.title}**{f' ({c.date})' if c.date else ''}: {c.text}" for c in result.citations]
        lines.append("")
    return "\n".join(lines)
