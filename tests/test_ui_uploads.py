"""Uploads through the real UI server: Gradio's copies deleted once indexed (never served), a
private upload folder gone with the server, the per-upload total, queued and refused notes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from rag.indexing import commit
from ui import app, handlers

from .ui_server import client_for, file_data, fn_index, free_port, run_event, serving

ROOT = Path(__file__).resolve().parent.parent
ZORBLAT = "The Zorblat lighthouse was built in 1887 on Kelp Island.\n\nIts keeper was Mara Quill.\n"


@pytest.fixture
def gradio_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gradio's upload folder for this test (as ``rag serve``'s private folder would be)."""
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


@pytest.fixture
def index(article_index: Path, tmp_path: Path) -> Path:
    """A private copy of the article index."""
    return Path(shutil.copytree(article_index, tmp_path / "index"))


# --- item 8: uploads are not served once indexed ---------------------------------------------


def test_an_indexed_upload_is_deleted_from_gradio_and_a_removed_one_is_not_served(index: Path, gradio_dir: Path) -> None:
    with serving(index) as url, client_for(url) as client:
        path = client.post("/gradio_api/upload", files=[("files", ("zorblat.txt", ZORBLAT.encode(), "text/plain"))]).json()[0]
        assert Path(path).parent.parent == gradio_dir and client.get(f"/gradio_api/file={path}").text == ZORBLAT
        run_event(client, fn_index(client, "_received"), [[file_data(path, "zorblat.txt")]], "s")
        done = run_event(client, fn_index(client, "_upload"), [None], "s")  # the accepted files, kept by the server in a State
        assert done["log"] == ["Indexed zorblat.txt. The index now holds 2 documents: ask about it in the Chat tab."]
        assert client.get(f"/gradio_api/file={path}").status_code == 403  # Gradio's copy is gone...
        assert not Path(path).exists() and not Path(path).parent.exists()
        assert [p.stat().st_size for p in gradio_dir.rglob("*")] == [0]  # only the empty file gr.File makes on each upload
        (kept,) = (index / "uploads").rglob("zorblat.txt")  # in its content-hash folder
        assert kept.read_text("utf-8") == ZORBLAT
        assert client.get(f"/gradio_api/file={kept}").status_code == 403  # ...and the index's own copy is never served
        doc_id = next(d["id"] for d in handlers.document_rows(index) if d["title"] == "Zorblat")
        removed = run_event(client, fn_index(client, "_remove"), [doc_id], "s")
        assert removed["log"] == ["Document removed. The index now holds 1 document."]
        assert not kept.exists() and client.get(f"/gradio_api/file={kept}").status_code == 403


def test_serve_keeps_uploads_in_a_private_folder_deleted_on_exit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def fake_launch(self: gr.Blocks, **kwargs: Any) -> None:
        folder = Path(os.environ["GRADIO_TEMP_DIR"])
        seen.update(folder=folder, mode=stat.S_IMODE(folder.stat().st_mode), cache=self.GRADIO_CACHE)
        (folder / "left-over.txt").write_text("an upload")

    monkeypatch.setattr(gr.Blocks, "launch", fake_launch)
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    app.serve(tmp_path / "none", port=7999)
    assert seen["mode"] == 0o700 and seen["cache"] == str(seen["folder"])
    assert not seen["folder"].exists() and "GRADIO_TEMP_DIR" not in os.environ  # gone with the server: nothing outlives a run
    (tmp_path / "mine").mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "mine"))
    app.serve(tmp_path / "none", port=7999)
    assert seen["folder"] == tmp_path / "mine" and (tmp_path / "mine" / "left-over.txt").exists()  # the operator's own is kept


def test_rag_serve_leaves_no_upload_behind_when_stopped(tmp_path: Path) -> None:
    """The real ``rag serve``: an upload never submitted is gone after SIGTERM, as is the folder."""
    port, temp = free_port(), tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("GRADIO_TEMP_DIR", "RAG_UI_USER", "RAG_UI_PASSWORD", "RAG_UI_NO_AUTH"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--index", str(tmp_path / "index"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with client_for(f"http://127.0.0.1:{port}") as client:
            for _ in range(240):
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/config").status_code == 200:
                        break
                time.sleep(0.25)
            path = Path(client.post("/gradio_api/upload", files=[("files", ("z.txt", b"zebra", "text/plain"))]).json()[0])
        assert path.read_bytes() == b"zebra" and path.parent.parent.parent == temp
        assert path.parent.parent.name.startswith("rag-ui-uploads-") and stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode in (0, 130) and "Traceback" not in out, out  # 130: stopped before it had fully started
    assert list(temp.glob("rag-ui-uploads-*")) == [] and [p for p in temp.rglob("*") if not p.is_dir()] == []


def test_discard_uploads_only_touches_gradios_folder(gradio_dir: Path, tmp_path: Path) -> None:
    (gradio_dir / "abc").mkdir()
    ours, twin = gradio_dir / "abc" / "a.txt", gradio_dir / "abc" / "b.txt"
    ours.write_text("a")
    twin.write_text("b")
    elsewhere = tmp_path / "mine.txt"
    elsewhere.write_text("keep")
    link = gradio_dir / "link.txt"
    link.symlink_to(elsewhere)
    handlers.discard_uploads([str(ours), str(elsewhere), str(link), str(gradio_dir / "missing.txt")])
    assert not ours.exists() and twin.exists() and elsewhere.read_text() == "keep" and not link.is_symlink()
    handlers.discard_uploads([str(twin)])
    assert not (gradio_dir / "abc").exists() and gradio_dir.exists()


# --- item 11: upload size, queued and refused uploads ----------------------------------------

MB = 2**20


def _sparse(folder: Path, name: str, size: int) -> str:
    """A file of ``size`` bytes taking no disk space, in a hash folder as Gradio stores uploads."""
    (folder / name).mkdir()
    path = folder / name / f"{name}.txt"
    with open(path, "wb") as fh:
        fh.truncate(size)
    return str(path)


def test_an_upload_batch_over_the_total_is_refused_before_anything_is_copied(gradio_dir: Path, tmp_path: Path) -> None:
    assert app.MAX_UPLOAD_TOTAL == 200 * MB
    paths = [_sparse(gradio_dir, f"part{i}", 45 * MB) for i in range(5)]  # each under 50 MB, 225 MB in all
    with pytest.warns(UserWarning) as caught:
        box, status, accepted = handlers.upload_received(paths, tmp_path / "index", app.MAX_UPLOAD_TOTAL)
    expected = "This upload is 225 MB in total, over the 200 MB limit per upload: upload fewer or smaller files at a time"
    assert [str(w.message) for w in caught] == [expected]
    assert (
        box is None and accepted == [] and f"Not indexed. {expected}" in status and 'class="index-note index-refused"' in status
    )
    assert not (tmp_path / "index").exists() and list(gradio_dir.iterdir()) == []  # Gradio's copies are gone too
    paths = [_sparse(gradio_dir, f"again{i}", 45 * MB) for i in range(5)]
    with pytest.warns(UserWarning, match="over the 200 MB limit per upload"):  # the API can skip the first step
        handlers.upload(paths, tmp_path / "index", max_total_bytes=app.MAX_UPLOAD_TOTAL)
    assert not (tmp_path / "index").exists() and list(gradio_dir.iterdir()) == []


def _raw_post(port: int, headers: str) -> str:
    """Send only the request head (no body) and return the status line and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(headers.encode())
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.decode().partition("\r\n\r\n")
    return head.splitlines()[0] + " | " + body


def test_the_server_refuses_an_oversized_upload_from_its_size_alone(tmp_path: Path, gradio_dir: Path) -> None:
    with serving(tmp_path / "index") as url:
        port = int(url.rsplit(":", 1)[1])
        head = f"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; boundary=x\r\nConnection: close\r\n"
        start = time.monotonic()
        assert _raw_post(port, head + f"Content-Length: {250 * MB}\r\n\r\n") == (
            "HTTP/1.1 413 Request Entity Too Large | Refused: this upload is 250 MB, over the 200 MB limit per upload"
        )
        assert time.monotonic() - start < 5  # answered without waiting for the 250 MB
        assert _raw_post(port, head + "Transfer-Encoding: chunked\r\n\r\n").startswith("HTTP/1.1 411 Length Required | Refused:")
        with client_for(url) as client:
            ok = client.post("/gradio_api/upload", files=[("files", ("a.txt", b"a small file", "text/plain"))])
            assert ok.status_code == 200 and Path(ok.json()[0]).read_bytes() == b"a small file"
        assert [p.name for p in gradio_dir.rglob("*") if p.is_file()] == ["a.txt"]  # nothing of the refused ones
    assert list(gradio_dir.rglob("*.txt")) == []  # and uploads never submitted are deleted when the server stops


def test_an_upload_says_when_it_waits_for_another_change(index: Path, gradio_dir: Path, tmp_path: Path) -> None:
    upload = tmp_path / "zorblat.txt"
    upload.write_text(ZORBLAT, "utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert handlers.upload_received([str(upload)], index, app.MAX_UPLOAD_TOTAL) == (
            None,
            {"__type__": "update"},
            [str(upload)],
        )
    waiting = '<div class="index-note index-waiting">Waiting for another change to the index to finish: your upload starts right after it.</div>'
    with commit.build_lock(index):  # `rag build` in a shell, say
        assert handlers.index_busy(index)
        assert handlers.upload_received([str(upload)], index, app.MAX_UPLOAD_TOTAL)[1:] == (waiting, [str(upload)])
    assert not handlers.index_busy(index)
    with handlers._writing(index):  # another upload or removal in this server
        assert handlers.upload_received([str(upload)], index, app.MAX_UPLOAD_TOTAL)[1] == waiting
    assert not handlers.index_busy(index)
    steps: list[str] = []
    with commit.build_lock(index):  # the upload itself, while another process builds: the bar says why it waits
        worker = threading.Thread(target=handlers.upload, args=([str(upload)], index, lambda f, desc: steps.append(desc)))
        worker.start()
        deadline = time.monotonic() + 60
        while len(steps) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert steps == [
            "Reading and indexing zorblat.txt…",
            "Waiting for another change to the index to finish",
        ]
    worker.join(120)
    assert steps[-1] == "Done" and any(r["title"] == "Zorblat" for r in handlers.document_rows(index))


def test_a_refused_upload_is_noted_under_the_status(index: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ")
    with pytest.warns(UserWarning, match="unsupported upload") as caught:
        box, status, rows, _ = handlers.upload([str(bad)], index, max_total_bytes=app.MAX_UPLOAD_TOTAL)
    note = "Not indexed. &#x27;notes.exe&#x27;: unsupported upload; use .csv, .docx, .htm, .html, .json, .jsonl, .markdown, .md, .pdf, .rst, .tsv, .txt, .xlsx"
    assert str(caught[0].message) == note.removeprefix("Not indexed. ")  # the toast says the same
    assert f'<div class="index-note index-refused">{note}.</div>' in status
    assert box is None and rows.count('<th scope="row"') == 1 and "<b>1</b> document" in status
    (gradio_dir := tmp_path / "gradio" / "ab12").mkdir(parents=True)
    (gradio_dir / "empty.txt").write_text("", "utf-8")
    with pytest.warns(UserWarning, match=r"^empty\.txt: "):  # the file's name, not the server's folder
        status = handlers.upload([str(gradio_dir / "empty.txt")], index)[1]
    assert '<div class="index-note index-refused">Not indexed. empty.txt: ' in status and str(gradio_dir) not in status
