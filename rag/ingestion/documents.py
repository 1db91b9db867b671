"""Files in, :class:`Document` records out.

Supported: ``.txt``, ``.md``, ``.rst``, ``.html``/``.htm`` (main text via trafilatura), ``.pdf`` (pypdf),
``.docx`` (python-docx, :mod:`rag.ingestion.word`), ``.csv``/``.tsv``/``.xlsx`` (one row a block of text,
:mod:`rag.ingestion.tables`), ``.json``/``.jsonl`` (one document per record). Text that is not UTF-8 is
decoded as :mod:`rag.ingestion.encoding` finds it. Folders are walked recursively.
A leading ``date YYYY-MM-DD`` line becomes ``Document.date`` and is excluded from the body, as
are YAML front matter and ``Title:``/``Date:`` header lines (:mod:`rag.ingestion.metadata`). Headings and
list markers are recorded on the Document so that they are never cited (:mod:`rag.ingestion.structure`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rag.errors import DocumentError
from rag.ingestion import encoding, structure
from rag.ingestion.archive import check_archive
from rag.ingestion.html import HtmlDocument, html_document
from rag.ingestion.metadata import pdf_metadata, read_header
from rag.ingestion.tables import csv_table, xlsx_table
from rag.ingestion.word import word_document
from rag.records import Document

TEXT_TYPES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".rst": "rst"}
"""Plain-text types and the markup their structure is read as (:data:`rag.ingestion.structure.MARKUPS`)."""
HTML_TYPES = {".html", ".htm"}
RECORD_TYPES = {".json", ".jsonl"}
CSV_TYPES = {".csv", ".tsv"}
OFFICE_TYPES = {".docx": ("Word document", "word/document.xml"), ".xlsx": ("Excel workbook", "xl/workbook.xml")}
SUPPORTED = set(TEXT_TYPES) | HTML_TYPES | RECORD_TYPES | CSV_TYPES | set(OFFICE_TYPES) | {".pdf"}

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

    ``markup`` (one of :data:`rag.ingestion.structure.MARKUPS`, "" for none) says how to find headings and
    list markers, unless ``layout`` gives them; "markdown" and "text" also read front matter or
    ``Title:``/``Date:`` header lines. The title is ``title``, else the header's, else the heading
    that opens the body, else (plain text) a first line that reads as a headline, else the file name.

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
    title = title or structure.top_title(text, body_start, found.headings)
    if not title and markup == "text":  # a .txt whose first line is its headline
        title = structure.headline(text, body_start)
    title = title or _title_from_key(key)
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


def iter_files(paths: Iterable[str | Path], problems: list[str] | None = None) -> Iterator[tuple[Path, bool]]:
    """Yield ``(file, explicit)`` for each path, walking folders recursively in sorted order.

    Hidden files and folders are left out and symlinked folders are not followed. Subfolders that
    cannot be listed are reported in ``problems`` (when given). Raises DocumentError for a path
    that does not exist.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files, unreadable = walk(path)
            if problems is not None:
                problems.extend(unreadable)
            for sub in files:
                yield sub.resolve(), False
        elif path.is_file():
            yield path.resolve(), True
        else:
            raise DocumentError(f"{raw}: no such file or folder")


def walk(folder: Path) -> tuple[list[Path], list[str]]:
    """Every file under ``folder``, sorted, and one reason per subfolder that could not be listed.

    Iterative (a stack, not recursion): a folder nested thousands deep is walked like any other.
    """
    files: list[Path] = []
    problems: list[str] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file():
                        files.append(Path(entry.path))
        except OSError as err:
            problems.append(f"{storable(str(current))}: folder cannot be read ({err.strerror or err})")
    return sorted(files), problems


def load_documents(
    paths: Iterable[str | Path], on_file: Callable[[int, int], None] | None = None
) -> tuple[list[Document], list[str]]:
    """Read every supported document under ``paths``.

    Returns ``(documents, skipped)`` where ``skipped`` holds one-line reasons for what could not
    be used: files found while walking folders, folders that could not be listed, and single
    records of JSON / JSON Lines files (with their line or record number). A file named
    explicitly that yields no document at all raises :class:`DocumentError` instead.
    ``on_file(files read, files found)`` is called after each file.
    """
    docs: list[Document] = []
    skipped: list[str] = []
    files = list(iter_files(paths, skipped))
    for done, (path, explicit) in enumerate(files):
        if on_file is not None and done:
            on_file(done, len(files))
        try:
            found, bad_records = read_file_report(path)
        except DocumentError as err:
            if explicit:
                raise
            skipped.append(str(err))
            continue
        docs.extend(found)
        skipped.extend(bad_records)
    if on_file is not None and files:
        on_file(len(files), len(files))
    return docs, skipped


def read_file(path: Path) -> list[Document]:
    """All documents in one file (one per usable record for JSON, else one).

    Raises DocumentError when the file yields no document; see :func:`read_file_report` for
    the records of a JSON file that were left out.
    """
    return read_file_report(path)[0]


def read_file_report(path: Path) -> tuple[list[Document], list[str]]:
    """The documents of one file, and a one-line reason for each record of it that was left out."""
    suffix = path.suffix.lower()
    key = str(path)
    if storable(key) != key:  # undecodable bytes in the name (kept by Python as surrogates)
        raise DocumentError(f"{storable(key)}: the file name is not valid UTF-8; rename the file")
    if suffix not in SUPPORTED:
        raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(sorted(SUPPORTED))}")
    if suffix == ".pdf":
        body = _pdf_text(path)
        title, date = pdf_metadata(path)
        return [make_document(key, body, title, markup="pdf", date=date, source=key)], []
    if suffix in OFFICE_TYPES:
        return [_office_document(path, suffix)], []
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DocumentError(f"{path}: cannot be read ({err.strerror or err})") from None
    text = decode(data, path)
    if suffix in HTML_TYPES:
        page = html_page(text, path)
        return [make_document(key, page.text, page.title, layout=page.layout, date=page.date, source=key)], []
    if suffix in RECORD_TYPES:
        return read_records(path, text)
    if suffix in CSV_TYPES:
        table = csv_table(text, path)
        return [make_document(key, table.text, _title_from_key(key), layout=table.layout, source=key)], []
    return [make_document(key, text, markup=TEXT_TYPES[suffix], source=key)], []


def decode(data: bytes, path: Path | str) -> str:
    """The text of a file's bytes (UTF-8, else the encoding a byte-order mark or charset-normalizer
    gives, see :func:`rag.ingestion.encoding.decode`); binary content raises DocumentError."""
    return encoding.decode(data, path)


def _office_document(path: Path, suffix: str) -> Document:
    """The one document of a .docx or .xlsx file. Its parser's failures on a damaged file (any
    exception: lxml, zipfile, KeyError...) make the file unreadable, never the build."""
    kind, part = OFFICE_TYPES[suffix]
    check_archive(path, part, kind)
    try:
        found = word_document(path) if suffix == ".docx" else xlsx_table(path)
    except DocumentError:
        raise
    except Exception as err:  # only the parser runs in this block
        raise DocumentError(f"{path}: unreadable {kind} ({_problem(err)})") from None
    date = getattr(found, "date", "")
    key = str(path)
    return make_document(key, found.text, found.title or _title_from_key(key), layout=found.layout, date=date, source=key)


def html_page(html: str, path: Path | str = "page") -> HtmlDocument:
    """Main text, structure, title and date of an HTML page (see :func:`rag.ingestion.html.html_document`)."""
    try:
        return html_document(html)
    except Exception as err:  # the parser's own failures on a hostile page spoil one file, not the build
        raise DocumentError(f"{path}: unreadable HTML ({_problem(err)})") from None


def _pdf_text(path: Path) -> str:
    """The text of every page. pypdf raises many kinds of errors on damaged or hostile files
    (PdfReadError, LimitReachedError on decompression bombs, NotImplementedError for unknown
    filters, KeyError, RecursionError, ...): any of them makes this one file unreadable."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as err:  # only the parser runs in this block
        raise DocumentError(f"{path}: unreadable PDF ({_problem(err)})") from None
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _problem(err: BaseException) -> str:
    """An exception as a short line: its type and message, whitespace collapsed, at most 200 characters."""
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return storable(text if len(text) <= 200 else text[:197] + "...")


def read_records(path: Path, text: str) -> tuple[list[Document], list[str]]:
    """Documents from a JSON list/object or JSON Lines file of article records, and a reason for
    each record left out (with its 1-based line number in JSON Lines, record number in JSON).

    Record ``N`` (0-based, counting blank-free lines of JSON Lines) gets the key ``path#N``, so a
    record keeps its key when another one is fixed or broken. Raises DocumentError when no record
    is usable or a JSON file cannot be parsed at all.
    """
    if path.suffix.lower() == ".jsonl":
        records = [(f"line {n}", _parse_json(line)) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    else:
        data = _parse_json(text)
        if isinstance(data, DocumentError):
            raise DocumentError(f"{path}: {data}") from None
        records = [(f"record {n}", r) for n, r in enumerate(data if isinstance(data, list) else [data], 1)]
    docs, problems = [], []
    for i, (where, record) in enumerate(records):
        try:
            docs.append(_record_document(f"{path}#{i}", record))
        except DocumentError as err:
            problems.append(f"{where}: {err}")
    if not docs:
        first = f" ({problems[0]}{f'; and {len(problems) - 1} more' if len(problems) > 1 else ''})" if problems else ""
        raise DocumentError(f"{path}: no records with a body/text/content field could be read{first}")
    return docs, [f"{path} {p}" for p in problems]


def _parse_json(text: str) -> Any:
    """Parsed JSON, or a DocumentError (returned, not raised) saying why it is not valid JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f" at line {err.lineno}" if "\n" in text else f": column {err.colno}"
        return DocumentError(f"invalid JSON ({err.msg}{where})")
    except RecursionError:
        return DocumentError("invalid JSON (nested too deeply)")
    except ValueError as err:  # "Exceeds the limit (4300 digits) for integer string conversion: ..."
        return DocumentError(f"invalid JSON ({_problem(err).split(': ')[1]})")


def _record_document(key: str, record: Any) -> Document:
    """The document of one record; DocumentError (without the path) when it has none."""
    if isinstance(record, DocumentError):
        raise record
    if not isinstance(record, dict):
        raise DocumentError(f"not a JSON object but {json_kind(record)}")
    text = next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str)), "")
    if not text.strip():
        present = any(f in record for f in _TEXT_FIELDS)
        raise DocumentError("its body/text/content field is empty or not text" if present else "no body/text/content field")
    try:
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
    except RecursionError:  # str() of a metadata value nested hundreds deep
        raise DocumentError("a metadata field is nested too deeply") from None
    except DocumentError as err:  # e.g. empty after a date header
        raise DocumentError(str(err).removeprefix(f"{key}: ")) from None


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, for messages.

    >>> json_kind([1]), json_kind(None), json_kind(2.5)
    ('a list', 'null', 'a number')
    """
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}
    return names.get(type(value), f"a {type(value).__name__}")


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
