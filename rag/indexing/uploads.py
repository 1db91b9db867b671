"""Uploaded copies inside an index folder: storing, deleting and cleaning up after a crash.

Every function here runs under the index's build lock (:func:`rag.indexing.commit.build_lock`), called
from :mod:`rag.manage`. A copy is written before the build that indexes it and deleted only
after the build that drops it has committed, so ``uploads/`` never lacks a file the current
manifest names. A change first records in ``.uploads-pending.json`` (:data:`PENDING`) the copies
it creates and the ones it drops; :func:`recover` then deletes a created copy only when no
committed manifest took it, and a dropped one only when the committed manifest let it go. Any
other file in ``uploads/`` is not ours to delete: it is kept and reported (:func:`unknown`).
Nothing here follows a symbolic link: a tampered index folder cannot make rag read or delete
files outside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable
from pathlib import Path

from rag.errors import BuildError, DocumentError, IndexCorruptError
from rag.indexing.commit import write_whole
from rag.indexing.sources import Sources, Upload, sha256_of, uploads_dir
from rag.ingestion.documents import SUPPORTED

MAX_NAME_BYTES = 200
PENDING = ".uploads-pending.json"
"""In the index folder while a change that creates or drops copies is under way."""
_COPY = re.compile(r"[0-9a-f]{12}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


def safe_name(name: str) -> str:
    """The name an upload is stored and shown under: the user's file name without folders or
    control characters (its content-hash folder keeps different files with one name apart).

    >>> safe_name("../../etc/passwd.txt"), safe_name("..\\\\..\\\\R&D plan.md"), safe_name(".notes (1).txt")
    ('passwd.txt', 'R&D plan.md', 'notes (1).txt')
    """
    base = re.split(r"[\\/]", name)[-1]
    base = _UNSAFE.sub(" ", base).strip(" .")
    suffix = Path(base).suffix.lower()
    if not base or suffix not in SUPPORTED or base.lower() == suffix:
        raise DocumentError(f"{name!r}: unsupported upload; use {', '.join(sorted(SUPPORTED))}")
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:  # file systems refuse names over 255 bytes
        base = base.encode("utf-8")[: MAX_NAME_BYTES - 16].decode("utf-8", "ignore").rstrip(" .") + suffix
    return base


def checked_folder(index_dir: Path) -> Path:
    """``<index>/uploads`` when it is a real folder (or absent); IndexCorruptError for a link or file."""
    folder = uploads_dir(index_dir)
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return folder
    if not stat.S_ISDIR(mode):
        raise IndexCorruptError(
            f"{folder} is not a plain folder (a link or a file): rag will not follow it; move it away and add the uploads again"
        )
    return folder


def store_copies(copies: list[tuple[Path, Upload]], index_dir: Path) -> list[Upload]:
    """Copy each ``(file, upload)`` to ``uploads/<upload.path>``; returns the uploads whose copy
    was created (not already there). On failure, deletes those and raises BuildError."""
    created: list[Upload] = []
    begin(index_dir, [u for _, u in copies], [])  # recorded first: a kill mid-copy leaves a known leftover
    try:
        for src, upload in copies:
            if _store_copy(src, upload, index_dir):
                created.append(upload)
    except BaseException:
        delete(created, index_dir)
        raise
    return created


def _store_copy(src: Path, upload: Upload, index_dir: Path) -> bool:
    target = checked_folder(index_dir) / upload.path
    if _regular(target) and sha256_of(target) == upload.sha256:
        return False
    tmp = target.parent / f".{uuid.uuid4().hex[:8]}.part"  # hidden: never read as a document
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)  # whole or not at all
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise BuildError(
            f"cannot store the upload in {target.parent} ({err.strerror or err}): free disk space or fix permissions"
        ) from None
    return True


def delete(uploads: Iterable[Upload], index_dir: Path) -> None:
    """Delete these copies (and their folders once empty); best effort, links are never followed."""
    folder = checked_folder(index_dir)
    for upload in uploads:
        path = folder / upload.path
        if _real_dir(path.parent, folder):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only when empty


def total_bytes(uploads: Iterable[Upload], index_dir: Path) -> int:
    folder = uploads_dir(index_dir)
    return sum(_size(folder / u.path) for u in uploads)


def check_files(sources: Sources, index_dir: Path) -> None:
    """Every upload the sources name is a regular file inside ``uploads/`` (no link, no device)."""
    folder = checked_folder(index_dir)
    for upload in sources.uploads:
        path = folder / upload.path
        if not (_real_dir(path.parent, folder) and _regular(path)):
            raise IndexCorruptError(
                f"uploaded copy {path} is missing or not a regular file: add {upload.name} again, or remove it with "
                f"`rag remove {upload.name} --index {index_dir}`"
            )


def begin(index_dir: Path, created: Iterable[Upload], dropped: Iterable[Upload]) -> None:
    """Record, before any copy is stored or deleted, what this change creates and drops."""
    created, dropped = list(created), list(dropped)
    if not (created or dropped):
        return
    entries = {"created": [_entry(u) for u in created], "dropped": [_entry(u) for u in dropped]}
    tmp = index_dir / f"{PENDING}.{uuid.uuid4().hex[:6]}.part"
    try:
        write_whole(index_dir / PENDING, json.dumps(entries), tmp)
    except OSError as err:
        raise BuildError(
            f"cannot write to {index_dir} ({err.strerror or err}); the previous index is kept: free disk space or fix permissions"
        ) from None


def end(index_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (index_dir / PENDING).unlink(missing_ok=True)


def verify(sources: Sources, index_dir: Path) -> None:
    """Every upload the sources name is there with its recorded content (IndexCorruptError if not)."""
    check_files(sources, index_dir)
    for upload in sources.uploads:
        if sha256_of(uploads_dir(index_dir) / upload.path) != upload.sha256:
            raise IndexCorruptError(
                f"uploaded copy {uploads_dir(index_dir) / upload.path} was changed: add {upload.name} again, "
                f"or remove it with `rag remove {upload.name} --index {index_dir}`"
            )


def recover(index_dir: Path, sources: Sources | None) -> list[str]:
    """Finish the upload part of a change killed half-way; returns one line per thing done.

    With the committed ``sources`` known: a copy the change created that they do not name never
    got indexed (deleted: rolled back); a copy it dropped that they no longer name was let go by
    the committed manifest (deleted: finished). Files nobody recorded are kept and reported.
    Folders of the older upload scheme (``.replaced-*``) are put back or deleted.
    """
    notes = _recover_replaced(index_dir)
    if sources is None:
        return notes
    pending = _read_pending(index_dir)
    named = {u.path for u in sources.uploads}
    folder = checked_folder(index_dir)
    for kind in ("created", "dropped"):
        for upload in pending.get(kind, []):
            path = folder / upload.path
            if upload.path in named or not (_real_dir(path.parent, folder) and _regular(path)):
                continue
            if sha256_of(path) == upload.sha256:
                delete([upload], index_dir)
                if kind == "created":
                    notes.append(f"removed {upload.name}: its upload was interrupted before it was indexed (upload it again)")
    end(index_dir)
    notes += [
        f"kept uploads/{name}: it is not an upload of this index (rag leaves it alone)" for name in unknown(index_dir, sources)
    ]
    return notes


def unknown(index_dir: Path, sources: Sources) -> list[str]:
    """Files in ``uploads/`` (relative paths) that ``sources`` do not name: not ours, kept."""
    folder = uploads_dir(index_dir)
    if not _real_dir(folder, folder):
        return []
    named = {u.path for u in sources.uploads}
    found = []
    for root, dirs, files in os.walk(folder):  # never follows links
        found += [rel for name in files if (rel := os.path.relpath(os.path.join(root, name), folder)) not in named]
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return sorted(found)


def adopt(sources: Sources, index_dir: Path) -> tuple[Sources, list[str]]:
    """``sources`` plus every copy in ``uploads/`` stored the way :func:`store_copies` stores them
    (``<first 12 of its sha256>/<name>``): rebuilding over a damaged manifest keeps the uploads."""
    folder, have = uploads_dir(index_dir), {u.path for u in sources.uploads}
    found = []
    for path in sorted(folder.glob("*/*")) if _real_dir(folder, folder) else []:
        rel = f"{path.parent.name}/{path.name}"
        if rel in have or not (_COPY.fullmatch(path.parent.name) and _real_dir(path.parent, folder) and _regular(path)):
            continue
        sha = sha256_of(path)
        if sha.startswith(path.parent.name) and not path.name.startswith("."):
            found.append(Upload(rel, path.name, sha))
    notes = [f"kept the upload {u.name}: found in uploads/ while the index was rebuilt" for u in found]
    return Sources(sources.paths, (*sources.uploads, *found), sources.excluded), notes


def _entry(upload: Upload) -> dict[str, str]:
    return {"path": upload.path, "name": upload.name, "sha256": upload.sha256}


def _read_pending(index_dir: Path) -> dict[str, list[Upload]]:
    path = index_dir / PENDING
    try:
        if not _regular(path) or os.lstat(path).st_size > 64 << 20:
            return {}
        data = json.loads(path.read_text("utf-8"))
        found = {
            k: [Upload(str(e["path"]), str(e["name"]), str(e["sha256"])) for e in data.get(k, [])] for k in ("created", "dropped")
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}  # unreadable: delete nothing
    return {k: [u for u in ups if _COPY.fullmatch(u.path.split("/")[0]) and _plain(u.path)] for k, ups in found.items()}


def _plain(relative: str) -> bool:
    """``<folder>/<name>`` with no ``..``, absolute part or NUL: it stays inside ``uploads/``."""
    parts = relative.split("/")
    return len(parts) == 2 and all(p not in ("", ".", "..") and "\x00" not in p for p in parts)


def _recover_replaced(index_dir: Path) -> list[str]:
    """Stashes of the older upload scheme: ``.replaced-*/NAME`` held the earlier ``uploads/NAME``."""
    from rag.indexing.store import IndexData, load

    stashes = [p for p in index_dir.iterdir() if p.name.startswith(".replaced-") and not p.is_symlink() and p.is_dir()]
    if not stashes:
        return []
    try:
        data: IndexData | None = load(index_dir)
    except Exception:  # noqa: BLE001 (any damage: keep the stash, it may be the only copy)
        return []
    texts = {d.key: d.text for d in data.docs} if data else {}
    notes = []
    for stash in stashes:
        for old in stash.iterdir():
            target = uploads_dir(index_dir) / old.name
            if _regular(old) and texts.get(str(target)) == _text(old) and _text(target) != texts.get(str(target)):
                os.replace(old, target)
                notes.append(f"put back the earlier {old.name}: the upload that replaced it was interrupted")
        shutil.rmtree(stash, ignore_errors=True)
    return notes


def _text(path: Path) -> str | None:
    from rag.errors import RagError
    from rag.ingestion.documents import read_file

    try:
        docs = read_file(path)
    except (RagError, OSError):
        return None
    return docs[0].text if len(docs) == 1 else None


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _real_dir(path: Path, top: Path) -> bool:
    """``path`` and every folder between it and ``top`` are real folders (no links)."""
    try:
        return all(stat.S_ISDIR(os.lstat(p).st_mode) for p in (path, *path.parents) if top in (p, *p.parents))
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0
