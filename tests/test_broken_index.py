"""A broken index: damaged data files, a damaged or foreign manifest, an unwritable folder and a
full disk. Each is a typed one-line error naming the fix; a failed build keeps the last good
index answering; a build over the same sources repairs a damaged one."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import bm25s
import faiss
import pytest

from rag import build_index
from rag.answering.answer import answer
from rag.cli import main
from rag.errors import BuildError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, ModelError
from rag.indexing import commit
from rag.indexing.manage import UPLOADS, add_documents
from rag.indexing.store import load
from ui import handlers

from .conftest import ARTICLE
from .helpers import QUESTION, assert_answers, assert_one_line_error, copy_index, edit_json, run_cli


@pytest.fixture
def index(tmp_path: Path, article_index: Path) -> tuple[Path, str]:
    return copy_index(article_index, tmp_path / "index")


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _assert_recovers(idx: Path, damaged: str, embedder, loadable: bool = False) -> None:
    """A build over the same sources is a full rebuild that replaces the damaged version (which
    is deleted, unless it still loads: then it stays as the previous version)."""
    report = build_index([ARTICLE], idx, embedder=embedder, progress=False)
    assert report.added == 1 and report.changed
    version = load(idx).version
    expected = sorted([damaged, version] if loadable else [version])
    assert version != damaged and sorted(p.name for p in idx.iterdir() if p.name.startswith("v-")) == expected
    assert_answers(idx, version)


DATA_DAMAGE: dict[str, Callable[[Path], object]] = {
    "faiss-truncated": lambda v: _truncate(v / "chunks.faiss"),
    "faiss-flipped-byte": lambda v: _flip(v / "chunks.faiss"),
    "faiss-missing": lambda v: (v / "chunks.faiss").unlink(),
    "documents-missing": lambda v: (v / "documents.jsonl").unlink(),
    "documents-garbage": lambda v: (v / "documents.jsonl").write_text("{not json\n", "utf-8"),
    "sentences-truncated": lambda v: _truncate(v / "sentences.npy"),
    "chunks-flipped-byte": lambda v: _flip(v / "chunks.npy"),
    "vectors-missing": lambda v: (v / "sentence_vectors.npy").unlink(),
    "bm25-vocab-missing": lambda v: (v / "bm25" / "vocab.index.json").unlink(),
    "bm25-data-flipped-byte": lambda v: _flip(v / "bm25" / "data.csc.index.npy"),
    "version-folder-missing": shutil.rmtree,
}


@pytest.mark.parametrize("damage", DATA_DAMAGE)
def test_damaged_data_file_is_a_typed_error_and_build_recovers(index, capsys, real_embedder, damage: str) -> None:
    idx, version = index
    DATA_DAMAGE[damage](idx / version)
    with pytest.raises(IndexCorruptError, match="rebuild it with `rag build .*Kim Jong Un.* --index"):
        load(idx)
    assert main(["ask", QUESTION, "--index", str(idx)]) == 3
    assert_one_line_error(capsys.readouterr().err, "rebuild it with `rag build", str(ARTICLE))
    if damage != "version-folder-missing":
        assert main(["status", "--index", str(idx)]) == 0  # the manifest alone looks fine ...
    assert main(["status", "--verify", "--index", str(idx)]) == 3  # ... the data does not
    assert_one_line_error(capsys.readouterr().err, "rebuild it with `rag build", str(ARTICLE))
    _assert_recovers(idx, version, real_embedder)
    assert main(["status", "--verify", "--json", "--index", str(idx)]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True


MANIFEST_DAMAGE: dict[str, Callable[[Path], object]] = {
    "invalid-json": lambda m: m.write_text('{"format_version": 1, "data_dir": ', "utf-8"),
    "empty": lambda m: m.write_text("", "utf-8"),
    "not-utf8": lambda m: m.write_bytes(b"\xff\xfe{}"),
    "not-an-object": lambda m: m.write_text("[1, 2]", "utf-8"),
    "no-file-list": edit_json(lambda d: d.pop("files")),
    "file-list-not-a-dict": edit_json(lambda d: d.update(files=["chunks.faiss"])),
    "data-dir-traversal": edit_json(lambda d: d.update(data_dir="../../../etc")),
    "counts-wrong": edit_json(lambda d: d["counts"].update(chunks=999)),
    "documents-wrong": edit_json(lambda d: d.update(documents={"/elsewhere.txt": "0" * 16})),
    "no-model": edit_json(lambda d: d.pop("model")),
}


@pytest.mark.parametrize("damage", MANIFEST_DAMAGE)
def test_damaged_manifest_is_a_typed_error_and_build_recovers(index, capsys, real_embedder, damage: str) -> None:
    idx, version = index
    MANIFEST_DAMAGE[damage](idx / "manifest.json")
    with pytest.raises(IndexCorruptError, match=r"rebuild it with `rag build \S.* --index"):
        load(idx)
    assert main(["ask", QUESTION, "--index", str(idx)]) == 3
    assert_one_line_error(capsys.readouterr().err, "rebuild it with")
    if damage not in ("counts-wrong", "documents-wrong"):  # `status` reads the manifest only, not the data
        assert main(["status", "--index", str(idx)]) == 3
        assert_one_line_error(capsys.readouterr().err, "manifest.json", "rebuild it with")
    _assert_recovers(idx, version, real_embedder)


def test_manifest_of_another_format_version_says_rebuild(index, capsys, real_embedder) -> None:
    idx, version = index
    edit_json(lambda d: d.update(format_version=3))(idx / "manifest.json")
    with pytest.raises(IndexMismatchError, match="format version 3, this rag reads 2: rebuild it with `rag build"):
        load(idx)
    assert main(["status", "--index", str(idx)]) == 3
    assert_one_line_error(capsys.readouterr().err, "format version 3")
    _assert_recovers(idx, version, real_embedder)


def test_manifest_of_other_weights_says_rebuild(index, real_embedder) -> None:
    idx, version = index
    edit_json(lambda d: d["model"].update(weights_sha256="f" * 64))(idx / "manifest.json")
    with pytest.raises(IndexMismatchError, match=r"other weights of .*all-MiniLM-L6-v2.*: rebuild it with `rag build"):
        answer(QUESTION, index_dir=idx)
    _assert_recovers(idx, version, real_embedder, loadable=True)


def test_manifest_of_a_model_that_is_not_installed_fails_fast_without_downloading(index, real_embedder) -> None:
    idx, version = index
    edit_json(lambda d: d["model"].update(name="someone/not-installed-model"))(idx / "manifest.json")
    with pytest.raises(ModelError, match="never downloads models.*rebuild the index"):
        answer(QUESTION, index_dir=idx)  # local_files_only: no network retries
    _assert_recovers(idx, version, real_embedder, loadable=True)


def test_upload_into_an_index_with_a_damaged_manifest_changes_nothing(index, tmp_path: Path) -> None:
    idx, _ = index
    MANIFEST_DAMAGE["invalid-json"](idx / "manifest.json")
    new = tmp_path / "new.txt"
    new.write_text("Penguins cannot fly.", "utf-8")
    with pytest.raises(IndexCorruptError, match="rebuild it with `rag build PATHS --index"):
        add_documents([new], idx)
    with pytest.warns(UserWarning, match="manifest.json is unreadable"):
        handlers.upload([str(new)], idx)
    assert not (idx / UPLOADS).exists()


def test_cli_build_over_the_same_paths_repairs_a_damaged_index(index) -> None:
    idx, version = index
    _truncate(idx / version / "chunks.faiss")
    out = run_cli("build", str(ARTICLE), "--index", str(idx), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1
    assert_answers(idx, load(idx).version)


# --- failed builds keep the last good index --------------------------------------------------


def _raise(code: int) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


def _faiss_write_fails(*args: object) -> None:
    raise RuntimeError("Error in faiss::FileIOWriter: 'ret == (n)' failed: write error")


def _tmp_mkdir_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.startswith(".tmp-"):
            raise PermissionError(errno.EACCES, "Permission denied")
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)


WRITE_FAILURES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "np.save-enospc": lambda mp: mp.setattr(commit.np, "save", _raise(errno.ENOSPC)),
    "faiss.write_index": lambda mp: mp.setattr(faiss, "write_index", _faiss_write_fails),
    "bm25.save-enospc": lambda mp: mp.setattr(bm25s.BM25, "save", _raise(errno.ENOSPC)),
    "fsync-enospc": lambda mp: mp.setattr(commit.os, "fsync", _raise(errno.ENOSPC)),
    "rename-enospc": lambda mp: mp.setattr(commit.os, "rename", _raise(errno.ENOSPC)),
    "manifest-replace-enospc": lambda mp: mp.setattr(commit.os, "replace", _raise(errno.ENOSPC)),
    "tmp-folder-eacces": _tmp_mkdir_fails,
}


@pytest.mark.parametrize("failure", WRITE_FAILURES)
def test_failed_write_keeps_the_last_good_index(
    index, corpus: Path, real_embedder, monkeypatch: pytest.MonkeyPatch, capsys, failure: str
) -> None:
    idx, version = index
    before = sorted(p.name for p in idx.iterdir())
    manifest = (idx / "manifest.json").read_bytes()
    WRITE_FAILURES[failure](monkeypatch)
    with pytest.raises(BuildError, match="previous index is kept") as err:
        build_index([corpus], idx, embedder=real_embedder, progress=False, replace=True)
    assert "\n" not in str(err.value)
    if "enospc" in failure:
        assert "No space left on device" in str(err.value) and "free disk space" in str(err.value)
    monkeypatch.undo()
    # nothing half-written left behind (the vectors already embedded are kept, whole, for the next build)
    assert sorted(p.name for p in idx.iterdir() if p.name != ".embed-cache") == before
    assert (idx / "manifest.json").read_bytes() == manifest
    assert_answers(idx, version)
    assert build_index([corpus], idx, embedder=real_embedder, progress=False, replace=True).documents == 3


def test_failed_rebuild_after_replacing_an_upload_puts_the_earlier_copy_back(
    index, tmp_path: Path, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx, _ = index
    first, second = tmp_path / "a" / "penguins.txt", tmp_path / "b" / "penguins.txt"
    for path, text in ((first, "Emperor penguins breed in the Antarctic winter."), (second, "Penguins are birds.")):
        path.parent.mkdir()
        path.write_text(text, "utf-8")
    add_documents([first], idx, embedder=real_embedder, progress=False)
    version, entries = load(idx).version, sorted(p.name for p in idx.iterdir())
    monkeypatch.setattr(commit.np, "save", _raise(errno.ENOSPC))
    with pytest.raises(BuildError, match="previous index is kept"):
        add_documents([second], idx, embedder=real_embedder, progress=False)
    monkeypatch.undo()
    assert _uploaded(idx) == {"penguins.txt": "Emperor penguins breed in the Antarctic winter."}
    # nothing half-written left behind (the vectors already embedded are kept, whole, for the next build)
    assert sorted(p.name for p in idx.iterdir() if p.name != ".embed-cache") == entries
    assert load(idx).version == version
    report = add_documents([second], idx, embedder=real_embedder, progress=False)
    assert (report.added, report.removed, _uploaded(idx)) == (1, 1, {"penguins.txt": "Penguins are birds."})


def _uploaded(idx: Path) -> dict[str, str]:
    """Name and text of every file kept in the index's uploads folder."""
    return {p.name: p.read_text("utf-8") for p in (idx / UPLOADS).rglob("*") if p.is_file()}


def test_disk_full_on_the_first_build_leaves_no_index(tmp_path: Path, corpus: Path, fake_embedder, monkeypatch) -> None:
    monkeypatch.setattr(commit.np, "save", _raise(errno.ENOSPC))
    with pytest.raises(BuildError, match="No space left on device"):
        build_index([corpus], tmp_path / "idx", embedder=fake_embedder)
    with pytest.raises(IndexNotFoundError):
        load(tmp_path / "idx")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir() if p.name != ".embed-cache") == [".lock"]


@pytest.mark.parametrize("where", ["index-is-a-file", "parent-is-a-file"])
def test_unwritable_index_folder_is_a_build_error(tmp_path: Path, fake_embedder, capsys, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder", "utf-8")
    idx = blocker if where == "index-is-a-file" else blocker / "index"
    with pytest.raises(BuildError, match="make it a writable folder or choose another with --index"):
        build_index([ARTICLE], idx, embedder=fake_embedder)
    assert main(["build", str(ARTICLE), "--index", str(idx)]) == 5
    assert_one_line_error(capsys.readouterr().err, str(idx))
    new = tmp_path / "new.txt"
    new.write_text("Penguins cannot fly.", "utf-8")
    with pytest.raises(BuildError, match="make it a writable folder"):
        add_documents([new], idx)
    assert blocker.read_text("utf-8") == "not a folder"
