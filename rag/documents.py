"""Stage 1: files in, :class:`Document` records out.

Supported: ``.txt``, ``.md``, ``.html``/``.htm`` (main text via trafilatura), ``.pdf`` (pypdf),
``.json``/``.jsonl`` (one document per record). Folders are walked recursively.
A leading ``date YYYY-MM-DD`` line becomes ``Document.date`` and is excluded from the body, as
are YAML front matter and ``Title:``/``Date:`` header lines (:mod:`rag.metadata`). Headings and
list markers are recorded on the Document so that they are never cited (:mod:`rag.structure`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import structure
from .errors import DocumentError
from .metadata import pdf_metadata, read_header
from .records import Document

TEXT_TYPES = {".txt", ".md", ".markdown"}
HTML_TYPES = {".html", ".htm"}
RECORD_TYPES = {".json", ".jsonl"}
SUPPORTED = TEXT_TYPES | HTML_TYPES | RECORD_TYPES | {".pdf"}

_DATE_HEADER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)
_TEXT_FIELDS = ("body", "text", "content")
_DATE_FIELDS = ("published_at", "date")


def document_id(text: str, **meta: str) -> str:
    """Stable content hash of a document's text and metadata (16 hex digits)."""
    payload = json.dumps([text, sorted(meta.items())], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def make_document(
    key: str, text: str, title: str = "", *, markup: str = "", layout: structure.Layout | None = None, **meta: str
) -> Document:
    """A Document with its date header parsed and its id computed.

    ``markup`` (one of :data:`rag.structure.MARKUPS`, "" for none) says how to find headings and
    list markers, unless ``layout`` gives them; "markdown" and "text" also read front matter or
    ``Title:``/``Date:`` header lines. The title is ``title``, else the header's, else the heading
    that opens the body, else the file name.

    >>> make_document("a.txt", "date 2024-01-01 Hello.").date
    '2024-01-01'
    """
    text, title = storable(text), storable(title or "").strip()
    body_start = 0
    date = storable(str(meta.pop("date", "") or ""))
    header = _DATE_HEADER.match(text)
    if header:
        date = date or header.group(1)
        body_start = header.end()
    elif markup in ("markdown", "text"):
        head = read_header(text)
        body_start, title, date = head.end, title or head.title, date or head.date
        if head.author and not meta.get("author"):
            meta["author"] = head.author
    if not text[body_start:].strip():
        raise DocumentError(f"{key}: document is empty")
    found = layout or structure.layout(text, body_start, markup)
    title = title or structure.top_title(text, body_start, found.headings) or _title_from_key(key)
    clean = {k: storable(str(v or "")) for k, v in meta.items()}
    doc_id = document_id(text, title=title, date=date, **clean)
    return Document(
        id=doc_id, key=key, text=text, title=title, date=date, body_start=body_start,
        headings=found.headings, markers=found.markers, **clean,
    )  # fmt: skip


def _title_from_key(key: str) -> str:
    stem = Path(key.split("#", 1)[0]).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else key


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    """Yield ``(file, explicit)`` for each path, walking folders recursively in sorted order.

    Raises DocumentError for a path that does not exist.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for sub in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in sub.relative_to(path).parts)
                if sub.is_file() and not hidden:
                    yield sub.resolve(), False
        elif path.is_file():
            yield path.resolve(), True
        else:
            raise DocumentError(f"{raw}: no such file or folder")


def load_documents(paths: Iterable[str | Path]) -> tuple[list[Document], list[str]]:
    """Read every supported document under ``paths``.

    Returns ``(documents, skipped)`` where ``skipped`` holds one-line reasons for files found
    while walking folders that could not be used. A bad file named explicitly raises
    :class:`DocumentError` instead.
    """
    docs: list[Document] = []
    skipped: list[str] = []
    for path, explicit in iter_files(paths):
        try:
            docs.extend(read_file(path))
        except DocumentError as err:
            if explicit:
                raise
            skipped.append(str(err))
    return docs, skipped


def read_file(path: Path) -> list[Document]:
    """All documents in one file (one for text/HTML/PDF, one per record for JSON)."""
    suffix = path.suffix.lower()
    key = str(path)
    if storable(key) != key:  # undecodable bytes in the name (kept by Python as surrogates)
        raise DocumentError(f"{storable(key)}: the file name is not valid UTF-8; rename the file")
    if suffix not in SUPPORTED:
        raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(sorted(SUPPORTED))}")
    if suffix == ".pdf":
        body = _pdf_text(path)
        title, date = pdf_metadata(path)
        return [make_document(key, body, title, markup="pdf", date=date, source=key)]
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DocumentError(f"{path}: cannot be read ({err.strerror or err})") from None
    text = decode(data, path)
    if suffix in HTML_TYPES:
        page = structure.html_document(text)
        return [make_document(key, page.text, page.title, layout=page.layout, date=page.date, source=key)]
    if suffix in RECORD_TYPES:
        return read_records(path, text)
    return [make_document(key, text, markup="text" if suffix == ".txt" else "markdown", source=key)]


def decode(data: bytes, path: Path | str) -> str:
    """UTF-8 text of a file; binary (any NUL byte) or non-UTF-8 content raises DocumentError."""
    if b"\x00" in data:
        raise DocumentError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(f"{path}: not valid UTF-8 text (byte {err.start})") from None


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, OSError) as err:
        raise DocumentError(f"{path}: unreadable PDF ({err})") from None
    return "\n\n".join(page.strip() for page in pages if page.strip())


def read_records(path: Path, text: str) -> list[Document]:
    """Documents from a JSON list/object or JSON Lines file of article records."""
    try:
        if path.suffix.lower() == ".jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            records = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as err:
        raise DocumentError(f"{path}: invalid JSON ({err.msg} at line {err.lineno})") from None
    docs = []
    for i, record in enumerate(records):
        doc = _record_document(f"{path}#{i}", record)
        if doc is not None:
            docs.append(doc)
    if not docs:
        raise DocumentError(f"{path}: no records with a body/text/content field")
    return docs


def _record_document(key: str, record: Any) -> Document | None:
    if not isinstance(record, dict):
        return None
    text = _field(next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str)), ""))
    if not text.strip():
        return None
    date = next((_field(record[f]) for f in _DATE_FIELDS if record.get(f)), "")
    return make_document(
        key,
        text,
        _field(record.get("title")),
        date=date[:10] if re.match(r"\d{4}-\d{2}-\d{2}", date) else date,
        source=_field(record.get("source") or record.get("url") or key),
        url=_field(record.get("url")),
        author=_field(record.get("author")),
    )


def _field(value: Any) -> str:
    return str(value or "")


def storable(text: str) -> str:
    """``text`` with lone surrogates (from JSON escapes like ``"\\ud800"``) replaced by U+FFFD,
    so it can be encoded as UTF-8, tokenized and saved.

    >>> storable("ok \\ud800") == "ok \\ufffd"
    True
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text
