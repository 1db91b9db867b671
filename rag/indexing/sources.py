"""What an index is built from: remembered paths, uploaded copies and removed documents.

:class:`Sources` is recorded in ``manifest.json`` (``"sources"``), so it changes atomically
with the index it describes: a change that fails or is killed leaves both as they were.

* ``paths``: files and folders indexed in place (``rag build PATHS``, ``rag add PATH``).
* ``uploads``: copies kept in ``<index>/uploads/<content hash>/<original name>`` (UI uploads,
  ``rag add --copy``); the folder makes every stored name unique while the file keeps the
  name the user gave it.
* ``excluded``: documents removed from a source that stays: a whole file (by path) or one
  record of a JSON/JSONL file (by its content hash, so it stays removed wherever it moves
  in the file, and a different record at its old position is not affected).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.records import Document

UPLOADS = "uploads"
LEGACY_EXCLUDED = "excluded.json"
"""Where indexes made before sources were recorded kept removed document keys."""


@dataclass(frozen=True)
class Upload:
    """A copy of an uploaded file: ``path`` relative to ``<index>/uploads``, the user's ``name``."""

    path: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Exclusion:
    """A removed document: the whole file at ``key``, or (``id`` set) the record of that file
    whose :func:`content_id` is ``id``."""

    key: str
    id: str = ""

    def matches(self, doc: Document) -> bool:
        file = file_of(doc.key)
        if self.id:
            return file == self.key and content_id(doc) == self.id
        return doc.key == self.key or file == self.key


@dataclass(frozen=True)
class Sources:
    """Everything an index holds documents from (see the module docstring)."""

    paths: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()
    excluded: tuple[Exclusion, ...] = ()

    def roots(self, index_dir: str | Path) -> list[str]:
        """The files and folders a build reads: the paths, then every uploaded copy."""
        folder = uploads_dir(index_dir)
        return [*self.paths, *(str(folder / u.path) for u in self.uploads)]

    def keeps(self, doc: Document) -> bool:
        return not any(e.matches(doc) for e in self.excluded)

    def upload_of(self, key: str, index_dir: str | Path) -> Upload | None:
        """The upload a document key (a file path, or ``path#N``) comes from, if any."""
        folder = uploads_dir(index_dir)
        return next((u for u in self.uploads if str(folder / u.path) == file_of(key)), None)

    def without_upload(self, upload: Upload) -> Sources:
        return replace(self, uploads=tuple(u for u in self.uploads if u != upload))

    def to_json(self) -> dict[str, Any]:
        return {
            "paths": list(self.paths),
            "uploads": [{"path": u.path, "name": u.name, "sha256": u.sha256} for u in self.uploads],
            "excluded": [{"key": e.key, **({"id": e.id} if e.id else {})} for e in self.excluded],
        }

    @classmethod
    def from_json(cls, data: Any) -> Sources:
        """Parse ``manifest["sources"]``; raises ValueError when its shape is wrong."""
        if not isinstance(data, dict):
            raise ValueError("sources is not an object")
        paths, uploads, excluded = (data.get(k, []) for k in ("paths", "uploads", "excluded"))
        if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
            raise ValueError("sources.paths is not a list of paths")
        if not (isinstance(uploads, list) and isinstance(excluded, list)):
            raise ValueError("sources.uploads / sources.excluded are not lists")
        try:
            ups = tuple(Upload(str(u["path"]), str(u["name"]), str(u["sha256"])) for u in uploads)
            exc = tuple(Exclusion(str(e["key"]), str(e.get("id", ""))) for e in excluded)
        except (KeyError, TypeError, AttributeError):
            raise ValueError("sources.uploads / sources.excluded have malformed entries") from None
        if any(not _inside(u.path) for u in ups):
            raise ValueError("an upload path leaves the uploads folder")
        return cls(tuple(paths), ups, exc)


def uploads_dir(index_dir: str | Path) -> Path:
    return Path(index_dir).resolve() / UPLOADS


def file_of(key: str) -> str:
    """The file part of a document key (``path#N`` for JSON records)."""
    return key.split("#", 1)[0]


def content_id(doc: Document) -> str:
    """A record's identity by content (text, title, date), independent of its position or file.

    >>> a = Document("x", "f.jsonl#0", "Some text.", "T", "2024-01-01")
    >>> content_id(a) == content_id(Document("y", "g.jsonl#7", "Some text.", "T", "2024-01-01"))
    True
    """
    payload = json.dumps([doc.text, doc.title, doc.date], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _inside(relative: str) -> bool:
    """True for a plain relative path with no ``..`` part (stays inside its folder)."""
    path = Path(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts


def is_under(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or inside it (both absolute, resolved)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def legacy_sources(manifest: dict[str, Any], index_dir: str | Path, legacy_excluded: list[str]) -> Sources:
    """Sources of an index built before they were recorded: its ``paths`` (minus the uploads
    folder), the uploaded files it indexed, and ``excluded.json``'s keys (a record's position
    is turned into its content hash while the file still has it)."""
    from rag.errors import RagError
    from rag.ingestion.documents import read_file

    folder = str(uploads_dir(index_dir))
    paths = tuple(p for p in manifest.get("paths", []) if isinstance(p, str) and not is_under(p, folder))
    # The earlier scheme indexed every file of the (flat) uploads folder, as one more path.
    flat = sorted(p for p in Path(folder).glob("*") if not p.name.startswith(".") and p.is_file() and not p.is_symlink())
    uploads = tuple(Upload(p.name, p.name, sha256_of(p)) for p in flat)
    excluded = []
    for key in legacy_excluded:
        if "#" not in key:
            excluded.append(Exclusion(key))
            continue
        try:
            doc = next((d for d in read_file(Path(file_of(key))) if d.key == key), None)
        except (RagError, OSError):
            doc = None
        if doc is not None:
            excluded.append(Exclusion(file_of(key), content_id(doc)))
    return Sources(paths, uploads, tuple(excluded))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
