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
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ID_RE = re.compile(r"^[0-9a-f]{32}$")
"""A conversation id as :func:`new_id` makes it; anything else from a browser is ignored."""
MAX_FILE_BYTES = 64 * 2**20
"""A conversation file larger than this is not read (it cannot be one the server wrote for a chat)."""


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

    def load(self, conversation_id: Any) -> list[Any]:
        """The turns saved under ``conversation_id``; [] for an unknown, malformed or unreadable one
        (the conversation then starts afresh rather than failing the page)."""
        cid = valid_id(conversation_id)
        if cid is None:
            return []
        path = self._path(cid)
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                return []
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError):
            return []
        turns = data.get("turns") if isinstance(data, dict) else None
        return turns if isinstance(turns, list) else []

    def save(self, conversation_id: Any, turns: list[Any]) -> bool:
        """Keep ``turns`` under ``conversation_id`` (whole or not at all); an empty list deletes the
        file. Returns False (nothing written) for an id that is not one of ours or a failed write."""
        from rag.indexing.commit import write_whole

        cid = valid_id(conversation_id)
        if cid is None:
            return False
        path = self._path(cid)
        try:
            if not turns:
                path.unlink(missing_ok=True)
                return True
            self.folder.mkdir(parents=True, exist_ok=True)
            write_whole(path, json.dumps({"id": cid, "turns": turns}, ensure_ascii=False), path.with_suffix(".json.tmp"))
        except OSError:
            return False
        return True
