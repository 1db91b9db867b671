"""``rag ask --batch``: many questions from one file, one JSON result per question.

The file is JSON Lines (one ``{"q": ...}`` object, ``"question"``/``"query"`` also read, or a JSON
string per line) or a single JSON list of such items. Every line is answered on its own: a line
that cannot be used (invalid JSON or UTF-8, no question, a question that is not text, an empty
question) gives one error record ``{"line": N, "question": ..., "error": ...}`` (``"item"``
instead of ``"line"`` for a JSON list; ``"question"`` is null when none could be read) and the
other lines are still answered. Only a file that cannot be read at all is an InputError.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answering.query import bounded
from rag.errors import InputError
from rag.ingestion.documents import json_kind
from rag.settings import AnswerOptions

QUESTION_FIELDS = ("q", "question", "query")


@dataclass(frozen=True)
class BatchItem:
    """One question of a batch file: where it is (``place`` is "line" or "item", ``number`` 1-based),
    its question (None when none could be read) and, for an unusable line, why."""

    place: str
    number: int
    question: str | None
    error: str = ""


def read_batch(path: str | Path) -> list[BatchItem]:
    """The questions of a batch file, one item per non-blank line (or per element of a JSON list).

    Raises InputError when the file cannot be read at all (missing, a folder, unreadable, binary).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read the questions file ({err.strerror or err})") from None
    if b"\x00" in data:  # JSON text never holds a raw NUL byte
        raise InputError(f"{path}: looks like a binary file, not JSON Lines questions")
    data = data.removeprefix(b"\xef\xbb\xbf")
    listed = _json_list(data)
    if listed is not None:
        return [_item("item", n, record) for n, record in enumerate(listed, 1)]
    return list(_lines(data))


def _json_list(data: bytes) -> list[Any] | None:
    """The elements when the whole file is one JSON list, else None (read as JSON Lines)."""
    if not data.lstrip().startswith(b"["):
        return None
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # not one list (JSON Lines of lists?), or hostile
        return None
    return parsed if isinstance(parsed, list) else None


def _lines(data: bytes) -> Iterator[BatchItem]:
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield BatchItem("line", n, None, f"line {n}: not valid UTF-8 (byte {err.start + 1})")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            yield BatchItem("line", n, None, f"line {n}: invalid JSON ({err.msg}: column {err.colno})")
            continue
        except (ValueError, RecursionError) as err:  # a number of 4,300+ digits, nesting too deep
            reason = "nested too deeply" if isinstance(err, RecursionError) else str(err).split(":")[0]
            yield BatchItem("line", n, None, f"line {n}: invalid JSON ({reason})")
            continue
        yield _item("line", n, record)


def _item(place: str, n: int, record: Any) -> BatchItem:
    """The question of one record: a JSON string, or an object's first question field."""
    if isinstance(record, str):
        return BatchItem(place, n, record)
    if not isinstance(record, dict):
        return BatchItem(place, n, None, f'{place} {n}: expected {{"q": ...}} or a string, not {json_kind(record)}')
    name = next((f for f in QUESTION_FIELDS if f in record), None)
    if name is None:
        return BatchItem(place, n, None, f'{place} {n}: no "q" field (or "question", "query")')
    if not isinstance(record[name], str):
        return BatchItem(place, n, None, f'{place} {n}: "{name}" must be a string, not {json_kind(record[name])}')
    return BatchItem(place, n, record[name])


def run_batch(path: str | Path, index_dir: str | Path, mode: str = "hybrid", store: str = "auto") -> int:
    """Answer every question of ``path``, printing one JSON record per question in order
    (``mode``, ``store``: as for :func:`rag.answer`).

    Returns 0 when every question was answered (an abstention is an answer), 1 when some line
    got an error record. Index and model problems (not the line's fault) still raise.
    """
    from rag.answering.answer import answer

    items = read_batch(path)
    failures = 0
    for item in items:
        error = item.error
        if not error:
            try:
                _print(
                    {
                        item.place: item.number,
                        **answer(item.question or "", index_dir=index_dir, mode=mode, store=store).to_dict(),
                    }
                )
                continue
            except InputError as err:
                error = f"{item.place} {item.number}: {' '.join(str(err).split())}"
        failures += 1
        shown = bounded(item.question, AnswerOptions.max_question_chars)[0] if item.question is not None else None
        _print({item.place: item.number, "question": shown, "error": error})
    if failures:
        print(f"rag: {failures} of {len(items)} questions not answered (see their error records)", file=sys.stderr)
    return 1 if failures else 0


def _print(record: dict[str, Any]) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)
