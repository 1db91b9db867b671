"""Never delete what is not ours (issue 25, items 1, 2, 8, 10): an index folder carries a marker;
a change refuses a non-empty folder without it; garbage collection removes only names the index
makes; indexes of older versions still load and get the marker on their next commit; upload
copies are deleted only when a committed manifest that knew them let them go; a damaged manifest
rebuilt per the hint keeps the uploads; unknown files are kept and reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag import build_index
from rag.cli import main
from rag.errors import IndexCorruptError, NotAnIndexError
from rag.indexing import folder as index_folder
from rag.indexing import uploads
from rag.indexing.manage import UPLOADS, add_documents, add_sources, index_status, list_documents, recover, remove_document
from rag.indexing.store import MANIFEST, load

from .helpers import assert_one_line_error, tree


def _foreign(root: Path) -> Path:
    """A folder of someone's files that look like an index's: the attack of issue 25, item 1."""
    for name, text in {
        "v-1.0/notes.txt": "mine",
        ".tmp-cache/blob": "cache",
        ".manifest.json.bak.tmp": "backup",
        "manifest.json": json.dumps({"app": "photos", "version": 3}),
        "uploads/photos/cat.jpg": "meow",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


def _contents(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text("utf-8") for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("command", ["build", "add"])
def test_a_change_into_a_folder_that_is_not_an_index_refuses_and_touches_nothing(tmp_path, corpus, capsys, command) -> None:
    target = _foreign(tmp_path / "photos")
    before = _contents(target)
    assert main([command, str(corpus), "--index", str(target)]) == 2
    assert_one_line_error(capsys.readouterr().err, "is not a rag index", "choose a new or empty folder with --index")
    assert _contents(target) == before and not (target / ".lock").exists()


def test_a_folder_of_plain_files_is_refused_by_every_writer(tmp_path, corpus, fake_embedder) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "taxes.txt").write_text("private", "utf-8")
    for call in (
        lambda: build_index([corpus], target, embedder=fake_embedder),
        lambda: add_sources([corpus], target, embedder=fake_embedder),
        lambda: add_documents([corpus / "cats.md"], target, embedder=fake_embedder),
    ):
        with pytest.raises(NotAnIndexError):
            call()
    assert tree(target) == {"taxes.txt"}
    assert recover(target) == [] and tree(target) == {"taxes.txt"}


def test_an_empty_folder_becomes_a_marked_index(tmp_path, corpus, fake_embedder) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    build_index([corpus], target, embedder=fake_embedder)
    assert (target / index_folder.MARKER).is_file()
    assert json.loads((target / MANIFEST).read_text("utf-8"))["index"] == index_folder.INDEX_MARK


def test_garbage_collection_removes_only_names_the_index_makes(tmp_path, corpus, fake_embedder) -> None:
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=fake_embedder)
    first = load(idx).version
    _foreign(tmp_path / "look")
    for name in ("v-1.0", ".tmp-cache", ".manifest.json.bak.tmp"):
        shutil.move(tmp_path / "look" / name, idx / name)
    (idx / ".tmp-v-20240101T000000-abcdef").mkdir()  # a killed build's folder: ours
    for n in range(3):
        (corpus / f"extra{n}.txt").write_text(f"Extra note number {n} about lighthouses.", "utf-8")
        build_index(None, idx, embedder=fake_embedder)
    names = {p.name for p in idx.iterdir()}
    assert {"v-1.0", ".tmp-cache", ".manifest.json.bak.tmp"} <= names
    assert (idx / "v-1.0" / "notes.txt").read_text("utf-8") == "mine"
    assert first not in names and ".tmp-v-20240101T000000-abcdef" not in names
    assert len([n for n in names if index_folder.VERSION.fullmatch(n)]) == 2  # current and previous


def _make_legacy(idx: Path) -> None:
    """What an index built before the marker looks like: no marker file, no "index" key."""
    (idx / index_folder.MARKER).unlink()
    manifest = json.loads((idx / MANIFEST).read_text("utf-8"))
    del manifest["index"]
    (idx / MANIFEST).write_text(json.dumps(manifest), "utf-8")


def test_an_index_of_an_older_version_loads_and_is_marked_by_its_next_commit(tmp_path, corpus, fake_embedder) -> None:
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=fake_embedder)
    _make_legacy(idx)
    version = load(idx).version
    assert index_status(idx, verify=True)["documents"] == 3
    assert not build_index(None, idx, embedder=fake_embedder).changed  # nothing to do: still unmarked, still fine
    assert load(idx).version == version
    (tmp_path / "more.txt").write_text("Owls hunt at night.", "utf-8")
    assert add_sources([tmp_path / "more.txt"], idx, embedder=fake_embedder).added == 1
    assert (idx / index_folder.MARKER).is_file()
    assert json.loads((idx / MANIFEST).read_text("utf-8"))["index"] == index_folder.INDEX_MARK


def test_an_older_index_with_a_damaged_manifest_can_still_be_rebuilt(tmp_path, corpus, fake_embedder) -> None:
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=fake_embedder)
    _make_legacy(idx)
    (idx / MANIFEST).write_text("{damaged", "utf-8")  # recognised by its version folder
    assert build_index([corpus], idx, embedder=fake_embedder).added == 3
    assert (idx / index_folder.MARKER).is_file()


def _two_uploads(tmp_path: Path, corpus: Path, idx: Path, emb) -> None:
    build_index([corpus], idx, embedder=emb)
    for name, text in (("plan.txt", "The plan is to sail north in May."), ("menu.md", "# Menu\n\nSoup of the day is leek.")):
        (tmp_path / "up").mkdir(exist_ok=True)
        (tmp_path / "up" / name).write_text(text, "utf-8")
        add_documents([tmp_path / "up" / name], idx, embedder=emb)


def _upload_names(idx: Path) -> set[str]:
    return {p.name for p in (idx / UPLOADS).rglob("*") if p.is_file()}


def test_rebuilding_a_damaged_manifest_per_its_hint_keeps_the_uploads(tmp_path, corpus, fake_embedder, capsys) -> None:
    idx = tmp_path / "idx"
    _two_uploads(tmp_path, corpus, idx, fake_embedder)
    (idx / MANIFEST).write_text("{damaged", "utf-8")
    with pytest.raises(IndexCorruptError, match=f"rag build PATHS --index {idx}"):
        load(idx)
    report = build_index([corpus], idx, embedder=fake_embedder)  # the hint
    assert sorted(n for n in report.notes if n.startswith("kept the upload")) == [
        "kept the upload menu.md: found in uploads/ while the index was rebuilt",
        "kept the upload plan.txt: found in uploads/ while the index was rebuilt",
    ]
    build_index(None, idx, embedder=fake_embedder)  # today: "removed plan.txt: its upload was interrupted"
    assert _upload_names(idx) == {"plan.txt", "menu.md"}
    origins = {d["origin"] for d in list_documents(idx)}
    assert {"upload: plan.txt", "upload: menu.md"} <= origins and index_status(idx)["uploads"] == 2


def test_unknown_files_in_uploads_are_kept_and_reported(tmp_path, corpus, fake_embedder, capsys) -> None:
    idx = tmp_path / "idx"
    _two_uploads(tmp_path, corpus, idx, fake_embedder)
    for rel in ("photos/cat.jpg", "0123456789ab/stray.txt"):
        (idx / UPLOADS / rel).parent.mkdir(parents=True, exist_ok=True)
        (idx / UPLOADS / rel).write_text("not the index's", "utf-8")
    report = build_index(None, idx, embedder=fake_embedder)
    assert "kept uploads/photos/cat.jpg: it is not an upload of this index (rag leaves it alone)" in report.notes
    assert (idx / UPLOADS / "photos" / "cat.jpg").is_file() and (idx / UPLOADS / "0123456789ab" / "stray.txt").is_file()
    assert index_status(idx, verify=True)["unknown_uploads"] == ["0123456789ab/stray.txt", "photos/cat.jpg"]
    assert main(["status", "--verify", "--index", str(idx)]) == 0
    assert "unknown_uploads: ['0123456789ab/stray.txt', 'photos/cat.jpg']" in capsys.readouterr().out


def test_a_copy_dropped_by_a_committed_change_is_deleted_after_a_crash(tmp_path, corpus, fake_embedder, monkeypatch) -> None:
    idx = tmp_path / "idx"
    _two_uploads(tmp_path, corpus, idx, fake_embedder)
    with monkeypatch.context() as m:  # killed after the commit, before the copy was deleted
        m.setattr(uploads, "delete", lambda *a: None)
        m.setattr(uploads, "end", lambda *a: None)
        remove_document("plan.txt", idx, embedder=fake_embedder)
    assert "plan.txt" in _upload_names(idx) and (idx / uploads.PENDING).exists()
    assert recover(idx) == []  # finished quietly: the committed manifest let it go
    assert _upload_names(idx) == {"menu.md"} and not (idx / uploads.PENDING).exists()


def test_a_deleted_upload_copy_fails_verify(tmp_path, corpus, fake_embedder, capsys) -> None:
    idx = tmp_path / "idx"
    _two_uploads(tmp_path, corpus, idx, fake_embedder)
    next((idx / UPLOADS).rglob("plan.txt")).unlink()
    with pytest.raises(IndexCorruptError, match="plan.txt is missing"):
        index_status(idx, verify=True)
    assert main(["status", "--verify", "--index", str(idx)]) == 3
    assert_one_line_error(capsys.readouterr().err, "add plan.txt again")
    assert index_status(idx)["uploads"] == 2  # without --verify only the manifest is read


def test_remove_from_a_mistyped_index_creates_no_folders(tmp_path, capsys) -> None:
    assert main(["remove", "foo", "--index", str(tmp_path / "typo" / "deep" / "idx")]) == 3
    assert_one_line_error(capsys.readouterr().err, "no index at")
    assert not (tmp_path / "typo").exists()


def test_a_path_of_an_unknown_user_is_one_typed_line(tmp_path, capsys) -> None:
    for argv in (["build", "~nosuchuser_rag25"], ["add", "~nosuchuser_rag25"]):
        assert main([*argv, "--index", str(tmp_path / "idx")]) == 2, argv
        assert_one_line_error(capsys.readouterr().err, "no such user's home folder")
