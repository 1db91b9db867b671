"""``rag chat``: a conversation with the index in the terminal.

The index and the model are loaded once, then each question is answered like ``rag ask``
(cited sentences, then their sources), with the earlier questions of the conversation passed
as ``history`` so that follow-ups ("Who did he meet there?") are resolved. ``/new`` forgets
them, ``/help`` lists the commands, ``/quit``, Ctrl-D or Ctrl-C leave (exit code 0). An
error while answering is shown as one line and the conversation goes on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from rag.answering.closest import closest_passages
from rag.errors import RagError
from rag.records import UNCERTAIN_NOTE, Answer, Citation

PROMPT = "> "
COMMANDS = {
    "/new": "start a new conversation (earlier questions are forgotten)",
    "/help": "show this help",
    "/quit": "leave (also Ctrl-D or Ctrl-C)",
}
CLOSEST = 2
"""Closest passages shown under an abstention (they did not score high enough to answer)."""


def chat(index_dir: str | Path, mode: str = "hybrid", read: Callable[[str], str] = input, out: IO[str] | None = None) -> int:
    """Run the conversation until /quit, end of input or Ctrl-C; returns the exit code (0).

    Raises RagError (before the first prompt) when the index cannot be opened: there is
    nothing to talk about. ``read`` is ``input`` (with line editing when ``readline`` exists).
    """
    out = out or sys.stdout
    try:
        _say(out, _open(index_dir))
        _enable_line_editing(read)
        _loop(index_dir, mode, read, out)
    except (EOFError, KeyboardInterrupt):
        _say(out, "")  # leave the shell prompt on a line of its own
    return 0


def _open(index_dir: str | Path) -> str:
    """Load the index and the model now (so the first answer is quick); the greeting line."""
    from rag.indexing.search_index import open_index

    started = time.perf_counter()
    loaded = open_index(index_dir)
    loaded.embedder.load()
    documents = len(loaded.documents())
    return (
        f"rag chat: {documents} document{'s' if documents != 1 else ''} in {os.path.abspath(index_dir)} "
        f"(ready in {time.perf_counter() - started:.1f} s). Ask a question; /help lists the commands, Ctrl-D leaves."
    )


def _enable_line_editing(read: Callable[[str], str]) -> None:
    """Arrow keys and a recall of earlier lines for ``input()``, where the platform has readline."""
    if read is input and sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # e.g. Windows: plain input still works
            import readline  # noqa: F401  (importing it is what turns line editing on)


def _loop(index_dir: str | Path, mode: str, read: Callable[[str], str], out: IO[str]) -> None:
    from rag.answering.answer import answer

    history: list[tuple[str, Any]] = []  # (question, Answer): follow-ups, and what was already cited
    while True:
        text = read(PROMPT).strip()
        if not text:
            continue
        if text.startswith("/"):
            if _command(text.split()[0].lower(), history, out):
                return
            continue
        try:
            result = answer(text, index_dir=index_dir, history=history, mode=mode)
        except RagError as err:
            print(f"error: {' '.join(str(err).split())}", file=sys.stderr, flush=True)
            continue
        history.append((text, result))
        width = shutil.get_terminal_size().columns if out.isatty() else None
        _say(out, format_answer(result, width))


def _command(name: str, history: list[Any], out: IO[str]) -> bool:
    """Carry out a /command; True when the conversation should end."""
    if name in ("/quit", "/exit"):
        return True
    if name == "/new":
        history.clear()
        _say(out, "New conversation: earlier questions are forgotten.")
    elif name == "/help":
        lines = [f"  {cmd:<6} {what}" for cmd, what in COMMANDS.items()]
        _say(out, "Ask about the indexed documents; follow-ups use your earlier questions.\n" + "\n".join(lines))
    else:
        _say(out, f"Unknown command {name}: /help lists the commands.")
    return False


def format_answer(result: Answer, width: int | None = None) -> str:
    """The answer, then its sources (or, for an abstention, the closest passages), then notes.

    Each source is ``[n] title (date) · source · chars start-end`` with the cited sentence below it.
    ``width``: wrap lines at word boundaries to this many columns (a terminal's), else no wrapping.
    """
    lines: list[str] = []
    if result.abstained:
        lines.append(f"No answer: {result.text}")
        lines += closest_lines(result)
    else:
        lines.append(result.text)
        if not result.confident:
            lines.append(f"({UNCERTAIN_NOTE})")
        lines.append("Sources:")
        lines += [line for c in result.citations for line in _source(c, f"[{c.n}]")]
    lines += [f"note: {note}" for note in result.notices]
    if width:
        indent = [" " * (len(line) - len(line.lstrip()) + 2) for line in lines]  # continuations under the text
        lines = [
            textwrap.fill(line, width - 1, subsequent_indent=ind, break_on_hyphens=False) for line, ind in zip(lines, indent)
        ]
    return "\n".join(lines) + "\n"


def closest_lines(result: Answer) -> list[str]:
    """An abstention's closest related passages (they did not score high enough to answer), or nothing."""
    closest = closest_passages(result, CLOSEST)
    if not closest:
        return []
    return ["Closest passages (not an answer):", *(line for c in closest for line in _source(c, "-"))]


def _source(c: Citation, mark: str) -> list[str]:
    date = f" ({c.date})" if c.date else ""
    return [f"  {mark} {c.title or c.doc_id}{date} · {c.source} · chars {c.start}-{c.end}", f"      “{c.text}”"]


def _say(out: IO[Any], text: str) -> None:
    print(text, file=out, flush=True)
