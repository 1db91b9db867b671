"""One document lifecycle for the CLI, Python and the UI: build, add, remove, list, recover.

The index remembers its sources (:class:`rag.indexing.sources.Sources`: paths indexed in place,
uploaded copies, removed documents) in ``manifest.json``. Every change reads the current
sources, decides the new ones and builds them while holding the index's lock, so two writers
(a CLI build and a UI upload, say) run one after the other and neither undoes the other.
A change that fails leaves the index and ``uploads/`` exactly as before; a change killed
half-way is rolled back by the next one (or by ``rag serve`` at start), which says so.

>>> import rag.manage as m                                      # doctest: +SKIP
>>> m.build_index(["docs"], "idx")                              # remembers docs/  # doctest: +SKIP
>>> m.add_sources(["more/notes.md"], "idx")                     # rag add  # doctest: +SKIP
>>> m.add_documents(["/tmp/upload/R&D plan.txt"], "idx")        # a copy kept in idx/uploads  # doctest: +SKIP
>>> m.remove_document("R&D plan.txt", "idx")                    # rag remove (name, path or id)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import DocumentError, EmptyIndexError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, InputError
from rag.indexing import commit, folder, screening, store, stores, uploads
from rag.indexing.build import write_index
from rag.indexing.screening import screen_uploads
from rag.indexing.sources import (
    LEGACY_EXCLUDED,
    UPLOADS,
    Exclusion,
    Sources,
    Upload,
    content_id,
    file_of,
    is_under,
    legacy_sources,
)
from rag.indexing.uploads import safe_name
from rag.ingestion.documents import read_file
from rag.records import BuildReport
from rag.settings import BuildOptions, UploadLimits, make_options

MAX_UPLOAD_BYTES = UploadLimits.max_file_bytes
__all__ = [
    "UPLOADS", "MAX_UPLOAD_BYTES", "add_documents", "add_sources", "build_index", "index_status", "list_documents",
    "recover", "remove_document", "safe_name", "screen_uploads",
]  # fmt: skip

Decide = Callable[[Sources | None], tuple[Sources, list[Upload]]]
"""From the current sources (None: no index yet) to the new ones, with the copies it created."""


def build_index(
    paths: Iterable[str | Path] | None = None, index_dir: str | Path = "index", *, replace: bool = False, **options: Any
) -> BuildReport:
    """Build or update the index at ``index_dir`` (``rag build``).

    With no ``paths``, re-sync the remembered sources (new, changed and deleted files are picked
    up). ``paths`` on a new index become its sources; on an index remembering other paths this
    raises InputError naming :func:`add_sources` / ``replace=True`` (which makes ``paths`` the
    remembered paths; uploads stay). Options: :class:`rag.settings.BuildOptions`, ``embedder``,
    ``on_progress`` (see :func:`rag.indexing.build.write_index`).

    >>> build_index(["data"], "index").added        # doctest: +SKIP
    1
    """
    wanted = tuple(_absolute(p) for p in paths or ())

    def decide(current: Sources | None) -> tuple[Sources, list[Upload]]:
        if current is None:
            if not wanted:
                raise InputError("no documents given: pass files or folders to index")
            return Sources(wanted), []
        if not wanted or set(wanted) == set(current.paths):
            return current, []
        if not replace:
            raise InputError(_other_sources_message(current, wanted, index_dir))
        kept = tuple(e for e in current.excluded if any(is_under(file_of(e.key), p) for p in wanted))
        return dataclasses.replace(current, paths=wanted, excluded=kept), []

    return _change(Path(index_dir), decide, damaged_ok=bool(wanted), **options)


def add_sources(paths: Iterable[str | Path], index_dir: str | Path = "index", **options: Any) -> BuildReport:
    """Index more files or folders in place (``rag add PATH...``); a path removed earlier comes back."""
    wanted = [_absolute(p) for p in paths]
    if not wanted:
        raise InputError("no paths given: name the files or folders to add")
    for path in wanted:
        if not Path(path).exists():
            raise DocumentError(f"{path}: no such file or folder")
        if Path(path).is_file():
            read_file(Path(path))  # a bad file is refused now, before anything changes

    def decide(current: Sources | None) -> tuple[Sources, list[Upload]]:
        current = current or Sources()
        keep = [p for p in current.paths if not any(is_under(p, w) for w in wanted)]
        new = [w for w in wanted if not any(is_under(w, p) for p in keep)]
        excluded = tuple(e for e in current.excluded if not any(is_under(file_of(e.key), w) for w in wanted))
        return dataclasses.replace(current, paths=(*keep, *new), excluded=excluded), []

    return _change(Path(index_dir), decide, **options)


def add_documents(
    files: Iterable[str | Path], index_dir: str | Path = "index", *, limits: UploadLimits | None = None, **options: Any
) -> BuildReport:
    """Copy files into ``<index>/uploads`` and index them (the UI's upload, ``rag add --copy``).

    A file is stored under its own name (in a folder named by its content hash, so different
    files never collide); a file named like an earlier upload replaces it, and uploading the
    same file again brings back records removed from it. Every file is checked first (exists,
    supported, readable, within ``limits``): one bad file raises DocumentError before anything
    is copied. When the build fails, the new copies are deleted and the replaced ones kept.
    """
    limits = limits or UploadLimits()
    plan = screening.check_uploads([Path(f) for f in files], limits)
    index_path = Path(index_dir)

    def decide(current: Sources | None) -> tuple[Sources, list[Upload]]:
        sources, copies = current or Sources(), []
        for src, name, sha in plan:
            upload = Upload(f"{sha[:12]}/{name}", name, sha)
            copies.append((src, upload))
            key = str(uploads.uploads_dir(index_path) / upload.path)
            kept = tuple(u for u in sources.uploads if u.name != name and u.path != upload.path)
            sources = Sources(sources.paths, (*kept, upload), tuple(e for e in sources.excluded if file_of(e.key) != key))
        new = {u.path: src for src, u in copies if u in sources.uploads}
        screening.check_index_size(sources, new, index_path, limits)
        return sources, uploads.store_copies([(src, u) for src, u in copies if u in sources.uploads], index_path)

    return _change(index_path, decide, **options)


def remove_document(target: str, index_dir: str | Path = "index", **options: Any) -> BuildReport:
    """Remove one document or source (``rag remove``): ``target`` is a document id (or a unique
    prefix of 6+ characters), a remembered path, a file under one, or an upload's name.

    An uploaded copy is deleted once the index no longer holds it; a file indexed in place is
    left alone (it is listed as removed, so re-syncs skip it; ``add_sources`` brings it back).
    Raises InputError when nothing matches or when it would leave the index empty.
    """
    index_path = Path(index_dir)
    if not (index_path / store.MANIFEST).exists():
        store.read_manifest(index_path)  # IndexNotFoundError with the hint, before the lock creates any folder

    def decide(current: Sources | None) -> tuple[Sources, list[Upload]]:
        if current is None:
            store.read_manifest(index_path)  # raises IndexNotFoundError with the hint
        assert current is not None
        return _without(current, target, index_path), []

    try:
        return _change(index_path, decide, **options)
    except EmptyIndexError:
        raise EmptyIndexError(
            f"cannot remove {target!r}: it holds the last documents of {index_path}, and an index needs one; add another first"
        ) from None


def _without(sources: Sources, target: str, index_path: Path) -> Sources:
    """``sources`` with ``target`` (see :func:`remove_document`) removed."""
    path = _absolute(target) if target.strip() else ""
    if path in sources.paths:
        return dataclasses.replace(sources, paths=tuple(p for p in sources.paths if p != path))
    named = [u for u in sources.uploads if target in (u.name, u.path)]
    if len(named) == 1:
        return sources.without_upload(named[0])
    doc = _find_document(target, path, index_path)
    upload = sources.upload_of(doc.key, index_path)
    if upload is not None and "#" not in doc.key:
        return sources.without_upload(upload)
    if "#" not in doc.key and doc.key in sources.paths:
        return dataclasses.replace(sources, paths=tuple(p for p in sources.paths if p != doc.key))
    exclusion = Exclusion(file_of(doc.key), content_id(doc)) if "#" in doc.key else Exclusion(doc.key)
    return dataclasses.replace(sources, excluded=(*sources.excluded, exclusion))


def _find_document(target: str, path: str, index_path: Path) -> Any:
    docs = store.load(index_path).docs
    found = [d for d in docs if d.key == path or file_of(d.key) == path]
    if not found and len(target) >= 6:
        found = [d for d in docs if d.id.startswith(target.strip().lower())]
    if not found and target.strip() and Path(target).name == target:  # a file's name alone: "notes.txt"
        found = [d for d in docs if Path(file_of(d.key)).name == target.strip()]
    if len(found) != 1:
        what = "matches several documents" if found else "matches no document, remembered path or upload"
        raise InputError(f"{target!r} {what} in {index_path}: see `rag list --index {shlex.quote(str(index_path))}`")
    return found[0]


def recover(index_dir: str | Path = "index") -> list[str]:
    """Roll back what a killed change left behind (under the lock); one line per thing done."""
    index_path = Path(index_dir)
    if not (index_path / store.MANIFEST).exists() or not folder.is_index(index_path):
        return []  # no index, or a folder that is not one: nothing here is ours to clean
    with commit.build_lock(index_path):
        return _recover(index_path)


def _recover(index_path: Path) -> list[str]:
    try:
        manifest = store.read_manifest(index_path, store.REUSABLE_FORMATS)
    except IndexNotFoundError:
        return []
    except (IndexCorruptError, IndexMismatchError):
        return []  # damaged: touch nothing, the user rebuilds
    known = _sources_of(manifest, index_path) if "sources" in manifest else None
    notes = uploads.recover(index_path, known)
    if known is not None:
        with contextlib.suppress(OSError):
            (index_path / LEGACY_EXCLUDED).unlink(missing_ok=True)
    return notes


def _change(index_path: Path, decide: Decide, *, damaged_ok: bool = False, **options: Any) -> BuildReport:
    """Read the sources, decide the new ones and build them, all under the index's lock."""
    make_options(BuildOptions, {k: v for k, v in options.items() if k not in ("embedder", "on_progress")})  # fail early
    folder.check_index(index_path)  # before the lock file: a folder that is not an index gets nothing written
    on_progress = options.get("on_progress")
    waiting = (lambda: on_progress(0.0, "waiting for another change to the index to finish")) if on_progress else None
    with commit.build_lock(index_path, on_wait=waiting):
        notes = _recover(index_path)
        current, damaged = _current_sources(index_path, damaged_ok)
        new, created = decide(current)
        if damaged:
            new, kept = uploads.adopt(new, index_path)
            notes += kept
        if current is not None and "model" not in options and options.get("embedder") is None:
            options["model"] = store.read_manifest(index_path, store.REUSABLE_FORMATS)["model"]["name"]  # keep its model
        dropped = [u for u in (current.uploads if current else ()) if u not in new.uploads]
        try:
            uploads.begin(index_path, created, dropped)
            uploads.check_files(new, index_path)
            report = write_index(new, index_path, **options)
        except BaseException:
            uploads.delete([u for u in created if current is None or u not in current.uploads], index_path)
            uploads.end(index_path)
            raise
        uploads.delete([*dropped, *(u for u in created if u not in new.uploads)], index_path)  # committed: let go
        uploads.end(index_path)
        with contextlib.suppress(OSError):
            (index_path / LEGACY_EXCLUDED).unlink(missing_ok=True)
    return dataclasses.replace(report, notes=[*notes, *report.notes])


def _current_sources(index_path: Path, damaged_ok: bool) -> tuple[Sources | None, bool]:
    """The index's sources (None when there is no index) and whether it is damaged (only with
    ``damaged_ok``: then it is rebuilt, else the damage is raised)."""
    try:
        manifest = store.read_manifest(index_path, store.REUSABLE_FORMATS)
    except IndexNotFoundError:
        return None, (index_path / folder.MARKER).exists()  # a marked folder whose manifest is gone
    except (IndexCorruptError, IndexMismatchError):
        if damaged_ok:
            return None, True
        raise
    return _sources_of(manifest, index_path), False


def _sources_of(manifest: dict[str, Any], index_path: Path) -> Sources:
    if "sources" not in manifest:
        return legacy_sources(manifest, index_path, _legacy_excluded(index_path))
    try:
        return Sources.from_json(manifest["sources"])
    except ValueError as err:
        raise IndexCorruptError(f"{index_path / store.MANIFEST} is damaged ({err}): {store.rebuild_hint(index_path)}") from None


def _legacy_excluded(index_path: Path) -> list[str]:
    try:
        keys = json.loads((index_path / LEGACY_EXCLUDED).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _absolute(path: str | Path) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except RuntimeError:  # "~nosuchuser": expanduser cannot find the user's home
        raise InputError(f"{str(path)!r}: no such user's home folder") from None


def _other_sources_message(current: Sources, wanted: tuple[str, ...], index_dir: str | Path) -> str:
    shown = " ".join(shlex.quote(p) for p in current.paths[:3]) + (" ..." if len(current.paths) > 3 else "")
    new = " ".join(shlex.quote(p) for p in wanted)
    idx = shlex.quote(str(Path(index_dir).resolve()))
    return (
        f"the index at {idx} holds other sources ({shown or 'uploads only'}): add to it with `rag add {new} --index {idx}`, "
        f"or make it hold only these with `rag build {new} --replace --index {idx}`"
    )


def index_status(index_dir: str | Path = "index", verify: bool = False) -> dict[str, Any]:
    """Model, counts, sources and build time of the index (IndexNotFoundError when there is none).

    Reads only ``manifest.json`` unless ``verify``: then every data file is loaded and checked
    against its recorded size and sha256 and against the others (IndexCorruptError if not).
    """
    manifest = store.load(index_dir).manifest if verify else store.read_manifest(index_dir)
    sources = _sources_of(manifest, Path(index_dir))
    if verify:
        uploads.verify(sources, Path(index_dir))
    foreign = uploads.unknown(Path(index_dir), sources) if verify else []
    return {
        "index": str(Path(index_dir).resolve()),
        "model": manifest["model"]["name"],
        "store": str(stores.spec_of(manifest)),
        **manifest["counts"],
        "sources": list(sources.paths),
        "uploads": len(sources.uploads),
        "removed": len(sources.excluded),
        "built_at": manifest.get("built_at", ""),
        "version": manifest.get("data_dir", ""),
        **({"unknown_uploads": foreign} if foreign else {}),
        **({"verified": True} if verify else {}),
    }


def list_documents(index_dir: str | Path = "index") -> list[dict[str, Any]]:
    """One row per indexed document: id, title, date, source, origin (the upload's name or the
    remembered path it comes from), key (file path, ``path#N`` for records), chunks, sentences."""
    index_path = Path(index_dir)
    data = store.load(index_path)
    sources = _sources_of(data.manifest, index_path)
    chunks = np.bincount(data.chunks[:, 0], minlength=len(data.docs)) if len(data.chunks) else np.zeros(len(data.docs))
    sents = np.bincount(data.sentences[:, 0], minlength=len(data.docs)) if len(data.sentences) else np.zeros(len(data.docs))
    return [
        {
            "id": d.id,
            "title": d.title,
            "date": d.date,
            "source": d.url or d.source,
            "origin": _origin(d.key, sources, index_path),
            "key": d.key,
            "chunks": int(chunks[i]),
            "sentences": int(sents[i]),
        }
        for i, d in enumerate(data.docs)
    ]


def _origin(key: str, sources: Sources, index_path: Path) -> str:
    upload = sources.upload_of(key, index_path)
    if upload is not None:
        return f"upload: {upload.name}"
    return next((p for p in sources.paths if is_under(file_of(key), p)), "")
