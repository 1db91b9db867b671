"""One document lifecycle: the index remembers its sources; build, add, remove and uploads from
the CLI, Python and the UI serialise on one lock, never lose a document, and roll back cleanly."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.cli import main
from rag.errors import BuildError, ConfigError, DocumentError, EmptyIndexError, IndexCorruptError, InputError
from rag.indexing import manage, store
from rag.indexing.manage import UPLOADS, add_documents, add_sources, build_index, list_documents, recover, remove_document
from rag.indexing.store import load
from rag.settings import UploadLimits

from .conftest import ROOT
from .helpers import CheapEmbedder, assert_one_line_error

EMB = CheapEmbedder()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def _texts(idx: Path) -> set[str]:
    return {d.text for d in load(idx).docs}


def _uploaded(idx: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in (idx / UPLOADS).rglob("*") if p.is_file()}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    _write(folder / "owls.txt", "Owls hunt at night.")
    _write(folder / "bees.md", "Bees make honey in hives.")
    return folder


# --- rag build / add / remove / list ---------------------------------------------------------


def test_build_on_an_index_with_other_sources_refuses_and_names_add_and_replace(tmp_path: Path, docs: Path, capsys) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    version = load(idx).version
    new = _write(tmp_path / "new.txt", "Penguins cannot fly.")
    with pytest.raises(InputError, match=r"holds other sources .*`rag add .*new.txt --index .*`.*--replace"):
        build_index([new], idx, embedder=EMB)
    assert main(["build", str(new), "--index", str(idx)]) == 2
    line = assert_one_line_error(capsys.readouterr().err, "rag add", "--replace")
    assert str(new) in line and str(idx) in line
    assert load(idx).version == version and _texts(idx) == {"Owls hunt at night.", "Bees make honey in hives."}
    report = build_index([new], idx, embedder=EMB, replace=True)
    assert (report.added, report.removed, _texts(idx)) == (1, 2, {"Penguins cannot fly."})


def test_build_without_paths_resyncs_the_remembered_sources_and_keeps_uploads(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    add_documents([_write(tmp_path / "up" / "cats.txt", "Cats purr.")], idx, embedder=EMB)
    _write(docs / "ants.txt", "Ants farm aphids.")
    (docs / "owls.txt").unlink()
    report = build_index(None, idx, embedder=EMB)
    assert (report.added, report.removed, report.documents) == (1, 1, 3)
    assert _texts(idx) == {"Bees make honey in hives.", "Ants farm aphids.", "Cats purr."}
    again = build_index([docs], idx, embedder=EMB)  # the same paths: a re-sync, the upload stays
    assert (again.removed, again.changed, again.documents) == (0, False, 3)


def test_cli_add_list_remove(tmp_path: Path, docs: Path, capsys, real_embedder) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=real_embedder)
    extra = _write(tmp_path / "more" / "ants.txt", "Ants farm aphids.")
    assert main(["add", str(extra.parent), "--index", str(idx), "--json"]) == 0  # the index's own model, loaded once
    assert json.loads(capsys.readouterr().out)["added"] == 1
    assert main(["list", "--index", str(idx), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["title"] for r in rows) == ["Ants", "Bees", "Owls"]
    assert {r["title"]: r["origin"] for r in rows}["Ants"] == str(extra.parent)
    owl = next(r for r in rows if r["title"] == "Owls")
    assert main(["remove", owl["id"][:8], "--index", str(idx), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == 1
    assert (docs / "owls.txt").exists() and "Owls hunt at night." not in _texts(idx)  # a source file is left alone
    assert build_index(None, idx, embedder=real_embedder).documents == 2  # and stays removed on re-sync
    add_sources([docs / "owls.txt"], idx, embedder=real_embedder)  # adding it again brings it back
    assert "Owls hunt at night." in _texts(idx)
    remove_document(str(extra.parent), idx, embedder=real_embedder)  # a remembered path
    assert manage.index_status(idx)["sources"] == [str(docs)]
    assert main(["remove", "no-such-thing", "--index", str(idx)]) == 2
    assert_one_line_error(capsys.readouterr().err, "matches no document", "rag list --index")


def test_removing_the_last_document_is_refused(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    only = _write(tmp_path / "only.txt", "The only document.")
    build_index([only], idx, embedder=EMB)
    with pytest.raises(EmptyIndexError, match="an index needs one"):
        remove_document(str(only), idx, embedder=EMB)
    assert _texts(idx) == {"The only document."}


# --- uploads ---------------------------------------------------------------------------------


def test_colliding_upload_names_are_kept_apart(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    pairs = [("R&D plan.txt", "R+D plan.txt"), ("notes (1).txt", "notes [1].txt"), ("minutes, May.md", "minutes; May.md")]
    files = [_write(tmp_path / f"u{i}" / name, f"Upload {name} says {i}.") for i, pair in enumerate(pairs) for name in pair]
    report = add_documents(files, idx, embedder=EMB)
    assert report.added == 6
    assert _uploaded(idx) == {f.name: f.read_text("utf-8") for f in files}
    origins = sorted(r["origin"] for r in list_documents(idx) if r["origin"].startswith("upload: "))
    assert origins == sorted(f"upload: {f.name}" for f in files)


def test_a_failed_remove_keeps_the_upload(tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    add_documents([_write(tmp_path / "up" / "cats.txt", "Cats purr.")], idx, embedder=EMB)
    version = load(idx).version

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.np, "save", disk_full)
    with pytest.raises(BuildError, match="previous index is kept"):
        remove_document("cats.txt", idx, embedder=EMB)
    monkeypatch.undo()
    assert load(idx).version == version and _uploaded(idx) == {"cats.txt": "Cats purr."}
    add_documents([_write(tmp_path / "up2" / "dogs.txt", "Dogs bark.")], idx, embedder=EMB)
    assert {"Cats purr.", "Dogs bark."} <= _texts(idx)  # the next upload does not drop it


def test_removed_json_records_are_excluded_by_content_and_restored_by_uploading_again(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    records = [{"title": t, "body": f"{t} is a record."} for t in ("Alpha", "Beta", "Gamma")]
    news = _write(tmp_path / "up" / "news.jsonl", "\n".join(json.dumps(r) for r in records))
    add_documents([news], idx, embedder=EMB)
    beta = next(r for r in list_documents(idx) if r["title"] == "Beta")
    remove_document(beta["id"], idx, embedder=EMB)
    assert "Beta is a record." not in _texts(idx) and "Alpha is a record." in _texts(idx)
    report = add_documents([news], idx, embedder=EMB)  # the same file again: restores the record
    assert report.added == 1 and "Beta is a record." in _texts(idx)
    # In place: a record stays removed wherever it moves, a new record at its old place is kept.
    feed = _write(tmp_path / "feed" / "feed.jsonl", "\n".join(json.dumps(r) for r in records))
    add_sources([feed], idx, embedder=EMB)
    gamma = next(r for r in list_documents(idx) if r["key"] == f"{feed}#2")
    remove_document(gamma["id"], idx, embedder=EMB)
    moved = [{"title": "Delta", "body": "Delta is new."}, records[2], records[0]]
    feed.write_text("\n".join(json.dumps(r) for r in moved), "utf-8")
    build_index(None, idx, embedder=EMB)
    keys = {d.key: d.text for d in load(idx).docs if d.key.startswith(str(feed))}
    assert sorted(keys.values()) == ["Alpha is a record.", "Delta is new."]


# --- one lock for every writer, crash recovery ------------------------------------------------

ADD_SCRIPT = """
import sys
from rag import manage
from tests.helpers import SlowEmbedder
kind, idx, *paths = sys.argv[1:]
add = manage.add_sources if kind == "add" else manage.add_documents
print("start", flush=True)
print(add(paths, idx, embedder=SlowEmbedder(), progress=False).documents, flush=True)
"""


def _start(kind: str, idx: Path, *paths: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", ADD_SCRIPT, kind, str(idx), *map(str, paths)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "start\n"
    return proc


def test_a_cli_add_and_an_upload_at_once_both_end_up_indexed(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    many = tmp_path / "many"
    for i in range(60):
        _write(many / f"doc{i:02}.txt", f"Document {i} is about topic number {i}. " * 20)
    cli = _start("add", idx, many)  # another process, like `rag add`
    time.sleep(0.5)
    upload = _write(tmp_path / "up" / "cats.txt", "Cats purr.")
    ui = threading.Thread(target=add_documents, args=([upload], idx), kwargs={"embedder": CheapEmbedder()})
    ui.start()  # what the UI's upload handler calls
    ui.join(timeout=120)
    assert cli.wait(timeout=120) == 0
    texts = _texts(idx)
    assert len(texts) == 63 and "Cats purr." in texts and "Owls hunt at night." in texts
    assert manage.index_status(idx, verify=True)["documents"] == 63


def test_kill_9_during_a_replacing_upload_is_rolled_back_by_the_next_start(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    add_documents([_write(tmp_path / "v1" / "report.txt", "The first report.")], idx, embedder=EMB)
    version = load(idx).version
    big = "The second report. " + " ".join(f"Sentence {i} of the new report." for i in range(30000))
    proc = _start("upload", idx, _write(tmp_path / "v2" / "report.txt", big))
    time.sleep(1.0)
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert load(idx).version == version and len(list((idx / UPLOADS).rglob("report.txt"))) == 2  # the new copy, unindexed
    note = "removed report.txt: its upload was interrupted before it was indexed (upload it again)"
    assert _restart_server(idx) == f"note: {note}"  # `rag serve` rolls it back at start, and says so
    assert _uploaded(idx) == {"report.txt": "The first report."} and load(idx).version == version
    assert manage.index_status(idx, verify=True)["verified"] and recover(idx) == []


def _restart_server(idx: Path) -> str:
    """Start `rag serve` over ``idx`` and return the first line it prints, then stop it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    args = [sys.executable, "-m", "rag.cli", "serve", "--index", str(idx), "--port", str(_free_port())]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        return proc.stderr.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_earlier_scheme_stash_is_put_back_after_a_crash(tmp_path: Path, docs: Path) -> None:
    """Indexes of the earlier upload scheme: ``uploads/NAME`` replaced, the earlier copy in ``.replaced-*``."""
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    flat = _write(idx / UPLOADS / "notes.txt", "The earlier notes.")
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    manifest.pop("sources")  # as the earlier scheme wrote it: the uploads folder is a path
    manifest["paths"].append(str(flat.parent.resolve()))
    (idx / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    build_index(None, idx, embedder=EMB)  # migrates: the flat upload is remembered as an upload
    assert "The earlier notes." in _texts(idx)
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    assert [u["name"] for u in manifest["sources"]["uploads"]] == ["notes.txt"]
    manifest.pop("sources")
    (idx / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    stash = idx / ".replaced-1234abcd"
    stash.mkdir()
    flat.replace(stash / "notes.txt")
    _write(flat, "The newer notes, never indexed.")  # killed before the rebuild committed
    assert recover(idx) == ["put back the earlier notes.txt: the upload that replaced it was interrupted"]
    assert flat.read_text("utf-8") == "The earlier notes." and not stash.exists()


# --- a tampered index folder never reaches outside it ----------------------------------------


def test_uploads_folder_that_is_a_link_is_refused_and_its_target_untouched(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    add_documents([_write(tmp_path / "up" / "cats.txt", "Cats purr.")], idx, embedder=EMB)
    outside = tmp_path / "precious"
    (idx / UPLOADS).rename(outside)
    (idx / UPLOADS).symlink_to(outside, target_is_directory=True)
    before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    with pytest.raises(IndexCorruptError, match="not a plain folder"):
        remove_document("cats.txt", idx, embedder=EMB)
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/hostname", "dev-zero"])
def test_manifest_naming_files_outside_its_folder_or_devices_is_damage(tmp_path: Path, docs: Path, name: str) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    version = load(idx).version
    if name == "dev-zero":
        (idx / version / name).symlink_to("/dev/zero")
    else:
        _write(tmp_path / "outside.txt", "x")
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    manifest["files"][name] = {"bytes": 1, "sha256": "0" * 64}
    (idx / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    started = time.perf_counter()
    with pytest.raises(IndexCorruptError, match="missing or damaged"):
        load(idx)
    assert time.perf_counter() - started < 5  # never reads /dev/zero


# --- property: any sequence of changes ends exactly as it says ------------------------------


def _apply(op: str, rnd: random.Random, idx: Path, tmp: Path, expected: dict[str, str]) -> None:
    """Run one random operation and update ``expected`` (origin -> text) the way it should change."""
    n = len(list(tmp.glob("*")))
    if op == "add":
        path = _write(tmp / f"src{n}" / f"doc{n}.txt", f"Source document {n} about item {n}.")
        add_sources([path], idx, embedder=EMB)
        expected[str(path)] = path.read_text("utf-8")
    elif op in ("upload", "replace"):
        uploads = [k for k in expected if k.startswith("upload:")]
        name = rnd.choice(uploads)[7:] if op == "replace" and uploads else f"up{n}.txt"
        path = _write(tmp / f"u{n}" / name, f"Uploaded text {n} for {name}.")
        add_documents([path], idx, embedder=EMB)
        expected[f"upload:{name}"] = path.read_text("utf-8")
    elif op == "remove" and len(expected) > 1:
        key = rnd.choice(sorted(expected))
        remove_document(key[7:] if key.startswith("upload:") else key, idx, embedder=EMB)
        del expected[key]
    elif op == "build":
        build_index(None, idx, embedder=EMB)
    elif op == "crash":
        proc = _start("upload", idx, _write(tmp / f"c{n}" / f"crash{n}.txt", " ".join(["Crash text."] * 4000)))
        time.sleep(rnd.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        recover(idx)
        if any(d.text.startswith("Crash text.") for d in load(idx).docs):  # it committed before the kill
            expected[f"upload:crash{n}.txt"] = " ".join(["Crash text."] * 4000)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_sequences_of_changes_end_with_exactly_the_documents_they_say(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    idx, tmp = tmp_path / "idx", tmp_path / "files"
    first = _write(tmp / "first" / "first.txt", "The first document.")
    build_index([first], idx, embedder=EMB)
    expected = {str(first): "The first document."}
    for _ in range(14):
        _apply(rnd.choice(["add", "upload", "replace", "remove", "remove", "build", "crash"]), rnd, idx, tmp, expected)
        assert _texts(idx) == set(expected.values())
        assert manage.index_status(idx, verify=True)["verified"]
        named = {f"upload:{r['origin'][8:]}" for r in list_documents(idx) if r["origin"].startswith("upload: ")}
        assert named == {k for k in expected if k.startswith("upload:")}
        assert len(_uploaded(idx)) == len(named)  # no copy left that the index does not hold


# --- what one upload and one index may hold ---------------------------------------------------


def test_upload_limits_refuse_before_anything_is_copied(tmp_path: Path, docs: Path) -> None:
    idx = tmp_path / "idx"
    build_index([docs], idx, embedder=EMB)
    version = load(idx).version
    a, b = _write(tmp_path / "a.txt", "A" * 600 + "."), _write(tmp_path / "b.txt", "B" * 600 + ".")
    with pytest.raises(DocumentError, match="larger than the 0 MB limit of one upload"):
        add_documents([a, b], idx, embedder=EMB, limits=UploadLimits(max_batch_bytes=1000))
    rows = "\n".join(json.dumps({"body": f"Record {i}."}) for i in range(30))
    with pytest.raises(DocumentError, match="more than 10 documents in one upload"):
        add_documents([_write(tmp_path / "many.jsonl", rows)], idx, embedder=EMB, limits=UploadLimits(max_documents=10))
    add_documents([a], idx, embedder=EMB, limits=UploadLimits(max_index_bytes=1000))
    with pytest.raises(DocumentError, match="exceed the 0 MB limit of one index"):
        add_documents([b], idx, embedder=EMB, limits=UploadLimits(max_index_bytes=1000))
    assert _uploaded(idx) == {"a.txt": "A" * 600 + "."} and load(idx).version != version
    with pytest.raises(ConfigError, match="max_documents must be a positive whole number"):
        UploadLimits(max_documents=0)
