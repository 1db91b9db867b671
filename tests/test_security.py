"""Security: the UI binds to loopback unless given credentials (or an explicit, warned opt-out),
uploads are size-limited, the index is never unpickled, and document text is shown as text."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest

from rag.cli.commands import _parser
from rag.errors import ConfigError, IndexCorruptError
from rag.indexing import commit, manage
from rag.indexing.store import load
from ui import app, asking, handlers, render

from .helpers import copy_index

CREDENTIALS = {"RAG_UI_USER": "ann", "RAG_UI_PASSWORD": "s3cret-and-long"}


# --- binding and credentials -----------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_hosts_need_no_credentials(host: str) -> None:
    assert app.launch_auth(host, {}) is None
    assert app.launch_auth(host, CREDENTIALS) == ("ann", "s3cret-and-long")  # given anyway: used


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.org", "", "127.0.0.1.evil.org"])
def test_other_hosts_need_credentials(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="needs a password: set RAG_UI_USER and RAG_UI_PASSWORD") as err:
        app.launch_auth(host, {})
    assert "\n" not in str(err.value)
    for half in ({"RAG_UI_USER": "ann"}, {"RAG_UI_PASSWORD": "pw"}):
        with pytest.raises(ConfigError, match="set both"):
            app.launch_auth(host, half)
    for not_one in ("0", "true", "yes", ""):
        with pytest.raises(ConfigError):
            app.launch_auth(host, {"RAG_UI_NO_AUTH": not_one})
    assert app.launch_auth(host, CREDENTIALS) == ("ann", "s3cret-and-long")
    assert capsys.readouterr().err == ""
    assert app.launch_auth(host, {"RAG_UI_NO_AUTH": "1"}) is None  # explicitly disabled...
    assert "warning: serving on" in capsys.readouterr().err  # ...with a warning


def test_default_host_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    monkeypatch.delenv("RAG_HOST", raising=False)
    assert _parser().parse_args(["serve"]).host == "127.0.0.1"
    assert inspect.signature(app.serve).parameters["host"].default == "127.0.0.1"


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``gr.Blocks.launch`` replaced by a recorder: what would the server have been started with?"""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: seen.update(kwargs))
    for name in ("RAG_UI_USER", "RAG_UI_PASSWORD", "RAG_UI_NO_AUTH"):
        monkeypatch.delenv(name, raising=False)
    return seen


def test_serve_on_an_open_host_uses_the_credentials(launched, monkeypatch, tmp_path: Path) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    app.serve(index_dir=tmp_path / "none", host="0.0.0.0", port=7999)
    assert launched["auth"]("ann", "s3cret-and-long") is True and launched["server_name"] == "0.0.0.0"
    assert launched["share"] is False and launched["max_file_size"] == "50mb"


def test_serve_on_loopback_needs_no_password_and_never_shares(launched, tmp_path: Path) -> None:
    app.serve(index_dir=tmp_path / "none", port=7999)
    assert launched["server_name"] == "127.0.0.1" and launched["auth"] is None and launched["share"] is False


def test_serve_without_credentials_refuses_to_start(launched, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a password"):
        app.serve(index_dir=tmp_path / "none", host="0.0.0.0", port=7999)
    assert launched == {}


# --- uploads ---------------------------------------------------------------------------------


def test_upload_limit_is_50_mb_in_the_ui_and_the_library(tmp_path: Path) -> None:
    assert app.MAX_FILE_SIZE == "50mb" and manage.MAX_UPLOAD_BYTES == 50 * 2**20
    big = tmp_path / "big.md"
    with open(big, "wb") as fh:
        fh.truncate(manage.MAX_UPLOAD_BYTES + 1)
    with pytest.warns(UserWarning, match="larger than the 50 MB upload limit"):
        handlers.upload([str(big)], tmp_path / "index")
    assert not (tmp_path / "index").exists()


# --- no pickle -------------------------------------------------------------------------------


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _rehash(idx: Path) -> None:
    """Make the manifest vouch for the files as they are now (an attacker could do the same)."""
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    manifest["files"] = commit._file_hashes(idx / manifest["data_dir"])
    (idx / "manifest.json").write_text(json.dumps(manifest), "utf-8")


@pytest.mark.parametrize("name", ["sentences.npy", "chunks.npy", "sentence_vectors.npy", "bm25/data.csc.index.npy"])
def test_a_pickled_array_in_the_index_is_refused_not_unpickled(tmp_path: Path, article_index: Path, name: str) -> None:
    idx, version = copy_index(article_index, tmp_path / "idx")
    marker = tmp_path / "pwned"
    evil = np.array([_Payload(marker)], dtype=object)
    np.save(idx / version / name, evil, allow_pickle=True)
    assert pickle.loads(pickle.dumps(_Payload(tmp_path / "check"))) is None and (tmp_path / "check").exists()
    _rehash(idx)
    # Layout arrays are read with allow_pickle=False; memory-mapped ones (vectors, BM25) cannot hold objects at all.
    refused = "Object arrays cannot be loaded when allow_pickle=False|Array can't be memory-mapped: Python objects in dtype"
    with pytest.raises(IndexCorruptError, match=refused):
        load(idx)
    assert not marker.exists()


def test_every_array_is_loaded_with_allow_pickle_false(article_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real = np.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load(article_index)
    assert len(calls) >= 6 and all(c.get("allow_pickle") is False for c in calls)


# --- document text is shown as text ----------------------------------------------------------

SCRIPT_DOC = (
    "# Zorblat <script>alert('title')</script> notes\n\n"
    "The keeper scratched <script>alert(1)</script> into the lighthouse door in 1887. "
    'An <img src=x onerror="alert(2)"> tag was painted beside it.\n'
)


def test_script_in_a_document_is_escaped_in_chat_sources_and_listing(tmp_path: Path, article_index: Path, real_embedder) -> None:
    idx, _ = copy_index(article_index, tmp_path / "idx")
    doc = tmp_path / "zorblat.md"
    doc.write_text(SCRIPT_DOC, "utf-8")
    manage.add_documents([doc], idx, embedder=real_embedder, progress=False)
    chat, sources, _ = asking.respond("What did the keeper scratch into the lighthouse door?", [], [], idx)
    answer_html = chat[-1]["content"]
    for html in (answer_html, sources):
        assert "<script>" not in html and "<img" not in html and 'onerror="' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sources and "Zorblat &lt;script&gt;" in sources
    status, table, _ = handlers.documents_view(idx)
    assert "<script>" not in status and "<script>" not in table
    assert "Zorblat &lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; notes" in table  # escaped, never markup
    assert render.esc("<b>") == "&lt;b&gt;"
