"""The UI server as an attacker sees it: raw HTTP against a real server on a free loopback port.

Host/Origin checks (DNS rebinding), no URL fetches, upload copies deleted once indexed, the
login throttle and password length, the per-upload total and the queued/refused notes.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from rag import store
from rag.errors import ConfigError
from ui import app, handlers, security
from ui.login import Credentials, LoginThrottle

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Kim Jong Un orders military to annihilate South Korea and US"
PASSWORD = "correct horse battery"
ZORBLAT = "The Zorblat lighthouse was built in 1887 on Kelp Island.\n\nIts keeper was Mara Quill.\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(index_dir: Path, **options: Any) -> Iterator[str]:
    """The real app on a free loopback port (``app.launch`` as ``rag serve`` uses it)."""
    demo = app.build_app(index_dir)
    port = _free_port()
    app.launch(demo, "127.0.0.1", port, block=False, **options)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def _client(url: str, source: str = "127.0.0.1") -> httpx.Client:
    """A client that never uses proxies from the environment, connecting from ``source``."""
    return httpx.Client(base_url=url, timeout=60, trust_env=False, transport=httpx.HTTPTransport(local_address=source))


def _fn(client: httpx.Client, api_name: str) -> int:
    """The fn_index of the event handler named ``api_name`` in the served config."""
    deps = client.get("/config").json()["dependencies"]
    return next(i for i, d in enumerate(deps) if d.get("api_name") == api_name)


def _run(client: httpx.Client, fn_index: int, data: list[Any], session: str, **headers: str) -> dict[str, Any]:
    """Run one event through the raw queue API; returns its messages by kind."""
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": None, "event_data": None}
    joined = client.post("/gradio_api/queue/join", json=body, headers=headers)
    assert joined.status_code == 200, joined.text
    seen: dict[str, Any] = {"log": []}
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data: "):
                continue
            message = json.loads(line[6:])
            if message.get("msg") == "log":
                seen["log"].append(message["log"])
            if message.get("msg") == "process_completed":
                seen["output"] = message["output"]
                return seen
    raise AssertionError(f"no result: {seen}")


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


# --- item 6: Host and Origin (DNS rebinding) --------------------------------------------------


def test_a_rebinding_host_or_a_foreign_origin_gets_nothing(index: Path, gradio_dir: Path) -> None:
    with serving(index) as url, _client(url) as client:
        port = url.rsplit(":", 1)[1]
        cached = client.post("/gradio_api/upload", files=[("files", ("note.txt", b"private note", "text/plain"))]).json()[0]
        load = _fn(client, "lambda")
        body = {"data": [], "fn_index": load, "session_hash": "s1", "trigger_id": None, "event_data": None}
        requests = [
            ("GET", "/", None),
            ("GET", "/config", None),
            ("GET", "/gradio_api/info", None),
            ("GET", f"/gradio_api/file={cached}", None),
            ("POST", "/gradio_api/queue/join", body),
            ("GET", "/gradio_api/queue/data?session_hash=s1", None),
        ]
        attacker = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
        for headers in (attacker, {"Host": f"attacker.example:{port}"}, {"Origin": f"http://attacker.example:{port}"}):
            for method, path, payload in requests:
                r = client.request(method, path, json=payload, headers=headers)
                assert r.status_code == 403, (headers, path, r.status_code)
                assert r.text.startswith("Refused: ") and TITLE not in r.text and "private note" not in r.text
        upload = client.post("/gradio_api/upload", files=[("files", ("x.txt", b"x", "text/plain"))], headers=attacker)
        assert upload.status_code == 403
        assert client.get("/config", headers={"Origin": "null"}).status_code == 403
        assert (
            client.get("/config", headers={"Origin": f"http://localhost:{int(port) + 1}"}).status_code == 403
        )  # another local app
        for name in ("127.0.0.1", "localhost", "[::1]", "LOCALHOST."):
            same = {"Host": f"{name}:{port}", "Origin": f"http://{name}:{port}"}
            assert client.get("/config", headers=same).status_code == 200
            assert client.get(f"/gradio_api/file={cached}", headers=same).text == "private note"
        assert TITLE in json.dumps(_run(client, load, [], "s2", Origin=f"http://127.0.0.1:{port}")["output"])


def test_names_the_operator_allows_are_served(index: Path, gradio_dir: Path) -> None:
    with serving(index, allowed_hosts=("docs.example.org",)) as url, _client(url) as client:
        assert client.get("/config", headers={"Host": "docs.example.org"}).status_code == 200
        behind_a_proxy = {"Origin": "https://docs.example.org"}  # the proxy rewrote Host to 127.0.0.1:port
        assert client.get("/config", headers=behind_a_proxy).status_code == 200
        assert client.get("/config", headers={"Host": "other.example.org"}).status_code == 403


def test_serve_reads_allowed_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("RAG_ALLOWED_HOSTS", " docs.example.org , intranet.lan:8443,")
    app.serve(tmp_path / "none", port=7999)
    policy = seen["app_kwargs"]["middleware"][0].kwargs["policy"]
    assert policy.allows("docs.example.org") and policy.allows("intranet.lan") and not policy.allows("attacker.example")
    assert seen["run_history"] is False and seen["num_workers"] == 0
    monkeypatch.setenv("RAG_ALLOWED_HOSTS", "https://docs.example.org/")
    with pytest.raises(ConfigError, match=r"^RAG_ALLOWED_HOSTS: 'https://docs.example.org/' is not a host name") as err:
        app.serve(tmp_path / "none", port=7999)
    assert "\n" not in str(err.value)


def test_host_policy_for_loopback_specific_and_wildcard_binds() -> None:
    loopback = security.HostPolicy.for_bind("127.0.0.1")
    assert all(loopback.allows(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1"))
    assert not any(loopback.allows(h) for h in ("attacker.example", "192.168.1.5", "127.0.0.1.attacker.example"))
    lan = security.HostPolicy.for_bind("192.168.1.5", ["docs.lan"])
    assert lan.allows("192.168.1.5") and lan.allows("docs.lan") and lan.allows("localhost")
    assert not lan.allows("10.0.0.7") and not lan.allows("attacker.example")
    anywhere = security.HostPolicy.for_bind("0.0.0.0")
    assert anywhere.allows("10.0.0.7") and anywhere.allows("fe80::1") and anywhere.allows(socket.gethostname())
    assert not anywhere.allows("attacker.example")  # a name can be rebound, an IP literal cannot


def test_a_wildcard_bind_with_a_password_still_checks_the_host(index: Path, gradio_dir: Path) -> None:
    """The policy of a 0.0.0.0 bind, served on loopback (the test exposes no port)."""
    policy = security.HostPolicy.for_bind("0.0.0.0")
    with serving(index, auth=("ann", PASSWORD), policy=policy) as url, _client(url) as client:
        assert client.get("/config", headers={"Host": "attacker.example"}).status_code == 403
        assert (
            client.post(
                "/login", data={"username": "ann", "password": PASSWORD}, headers={"Host": "attacker.example"}
            ).status_code
            == 403
        )
        assert client.get("/config", headers={"Host": "192.168.1.5:7860"}).status_code == 401  # served, behind the login
        assert client.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 200
        assert client.get("/config").status_code == 200


# --- item 7: no URL fetches ------------------------------------------------------------------


class _Proxy(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy that records what it is asked and serves a document for any GET."""

    seen: list[str]

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.seen.append(f"GET {self.path}")
        body = b"The zebra secret was fetched from the internet.\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:  # noqa: N802
        self.seen.append(f"CONNECT {self.path}")
        self.send_response(502)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def outside_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every request this process makes to the outside world from now on, recorded by a local
    proxy (httpx honours HTTP(S)_PROXY): a GET of a document, or a CONNECT to a DNS-over-HTTPS service."""
    seen: list[str] = []
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("Proxy", (_Proxy,), {"seen": seen}))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    with monkeypatch.context() as env:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.setenv(name, f"http://127.0.0.1:{proxy.server_address[1]}")
        for name in ("NO_PROXY", "no_proxy"):
            env.delenv(name, raising=False)
        try:
            yield seen
        finally:
            proxy.shutdown()


def _file(path: str, name: str = "zebra.txt") -> dict[str, Any]:
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def test_file_inputs_given_as_links_are_refused_without_any_request(tmp_path: Path, gradio_dir: Path, monkeypatch) -> None:
    index = tmp_path / "index"
    demo = app.build_app(index)
    port = _free_port()
    app.launch(demo, "127.0.0.1", port, block=False)  # before the proxy: Gradio checks its own URL at start
    try:
        with outside_world(monkeypatch) as seen, _client(f"http://127.0.0.1:{port}") as client:
            received, ask = _fn(client, "_received"), _fn(client, "queue_question")
            for link in ("http://huggingface.co/zebra.txt", "https://huggingface.co/zebra.txt", "HTTP://example.org/z.txt"):
                for fn, data in ((received, [[_file(link)]]), (ask, ["Who?", [{"role": "user", "content": [_file(link)]}]])):
                    body = {"data": data, "fn_index": fn, "session_hash": "s", "trigger_id": None, "event_data": None}
                    r = client.post("/gradio_api/queue/join", json=body)
                    assert (r.status_code, r.text) == (403, security.REFUSED_URL)
                    utf16 = client.post(
                        "/gradio_api/queue/join",
                        content=json.dumps(body).encode("utf-16"),
                        headers={"Content-Type": "application/json"},
                    )
                    assert utf16.status_code == 403  # no way around the check by encoding
            for path in (
                "/gradio_api/file=http://localhost:9/x.txt",
                "/gradio_api/file=https://huggingface.co/z.txt",
                "/gradio_api/proxy=https://a.hf.space/x",
            ):
                assert client.get(path).status_code == 403
            file_box = next(b for b in demo.blocks.values() if isinstance(b, gr.File))
            with pytest.raises(gr.Error, match="does not fetch links"):
                file_box.move_resource_to_block_cache("http://huggingface.co/zebra.txt")  # any other way to Gradio's download
            time.sleep(0.5)
            assert seen == [] and not index.exists()
    finally:
        demo.close()


# --- item 8: uploads are not served once indexed ---------------------------------------------


def test_an_indexed_upload_is_deleted_from_gradio_and_a_removed_one_is_not_served(index: Path, gradio_dir: Path) -> None:
    with serving(index) as url, _client(url) as client:
        path = client.post("/gradio_api/upload", files=[("files", ("zorblat.txt", ZORBLAT.encode(), "text/plain"))]).json()[0]
        assert Path(path).parent.parent == gradio_dir and client.get(f"/gradio_api/file={path}").text == ZORBLAT
        _run(client, _fn(client, "_received"), [[_file(path, "zorblat.txt")]], "s")
        done = _run(client, _fn(client, "_upload"), [None], "s")  # the accepted files, kept by the server in a State
        assert done["log"] == ["Indexed zorblat.txt. The index now holds 2 documents: ask about it in the Chat tab."]
        assert client.get(f"/gradio_api/file={path}").status_code == 403  # Gradio's copy is gone...
        assert not Path(path).exists() and not Path(path).parent.exists()
        assert [p.stat().st_size for p in gradio_dir.rglob("*")] == [0]  # only the empty file gr.File makes on each upload
        kept = index / "uploads" / "zorblat.txt"
        assert kept.read_text("utf-8") == ZORBLAT
        assert client.get(f"/gradio_api/file={kept}").status_code == 403  # ...and the index's own copy is never served
        doc_id = next(d["id"] for d in handlers.document_rows(index) if d["title"] == "Zorblat")
        removed = _run(client, _fn(client, "_remove"), [doc_id], "s")
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
    port, temp = _free_port(), tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("GRADIO_TEMP_DIR", "RAG_UI_USER", "RAG_UI_PASSWORD", "RAG_UI_NO_AUTH"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--index", str(tmp_path / "index"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with _client(f"http://127.0.0.1:{port}") as client:
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


# --- item 9: login ---------------------------------------------------------------------------


def test_a_short_password_is_refused_at_launch() -> None:
    with pytest.raises(ConfigError, match=r"^RAG_UI_PASSWORD is too short: use at least 12 characters$"):
        app.launch_auth("0.0.0.0", {"RAG_UI_USER": "ann", "RAG_UI_PASSWORD": "x" * 11})
    with pytest.raises(ConfigError, match="too short"):
        app.launch_auth("127.0.0.1", {"RAG_UI_USER": "ann", "RAG_UI_PASSWORD": "hunter2"})
    assert app.launch_auth("0.0.0.0", {"RAG_UI_USER": "ann", "RAG_UI_PASSWORD": "x" * 12}) == ("ann", "x" * 12)


def test_credentials_need_both_the_user_and_the_password() -> None:
    check = Credentials("ann", PASSWORD)
    assert check("ann", PASSWORD) is True
    assert (
        not check("ann", PASSWORD[:-1]) and not check("bob", PASSWORD) and not check("", "") and not check("ann", PASSWORD + " ")
    )
    assert PASSWORD not in repr(check)


def test_login_throttle_backs_off_per_client_and_for_everyone() -> None:
    now = [0.0]
    throttle = LoginThrottle(free=5, global_free=8, base_seconds=1.0, max_seconds=8.0, forget_seconds=60.0, clock=lambda: now[0])
    assert [throttle.attempt("a") for _ in range(5)] == [0.0] * 5
    assert throttle.attempt("a") == 1.0  # the 6th try must wait a second
    now[0] = 1.0
    assert throttle.attempt("a") == 0.0 and throttle.attempt("a") == 2.0  # then two, ...
    assert [throttle.attempt("b") for _ in range(2)] == [0.0, 0.0]
    assert throttle.attempt("c") > 0  # 8 failures from anyone: everyone waits
    now[0] = 100.0  # a minute without failures: forgotten
    assert throttle.attempt("a") == 0.0
    throttle.succeeded("a")
    assert [throttle.attempt("a") for _ in range(5)] == [0.0] * 5


def test_failed_logins_are_throttled_by_the_server(index: Path, gradio_dir: Path) -> None:
    throttle = LoginThrottle(free=5, global_free=8, base_seconds=0.5, max_seconds=0.5)
    with serving(index, auth=("ann", PASSWORD), throttle=throttle) as url, _client(url) as a, _client(url, "127.0.0.2") as b:

        def login(client: httpx.Client, password: str) -> httpx.Response:
            return client.post("/login", data={"username": "ann", "password": password})

        with ThreadPoolExecutor(8) as pool:  # 40 tries at once: only 5 are checked
            codes = sorted(pool.map(lambda i: login(a, f"guess-{i}").status_code, range(40)))
        assert codes == [400] * 5 + [429] * 35
        refused = login(a, PASSWORD)
        assert refused.status_code == 429 and refused.text.startswith("Too many failed logins: try again in")
        assert refused.headers["Retry-After"] == "1"
        assert [login(b, "wrong").status_code for _ in range(3)] == [400] * 3  # another client: its own count
        assert login(b, PASSWORD).status_code == 429  # 8 failures in all: everyone waits
        time.sleep(0.6)
        ok = login(a, PASSWORD)
        assert ok.status_code == 200 and ok.json() == {"success": True} and a.get("/config").status_code == 200


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
        with _client(url) as client:
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
    with store.build_lock(index):  # `rag build` in a shell, say
        assert handlers.index_busy(index)
        assert handlers.upload_received([str(upload)], index, app.MAX_UPLOAD_TOTAL)[1:] == (waiting, [str(upload)])
    assert not handlers.index_busy(index)
    with handlers._writing(index):  # another upload or removal in this server
        assert handlers.upload_received([str(upload)], index, app.MAX_UPLOAD_TOTAL)[1] == waiting
    assert not handlers.index_busy(index)
    steps: list[str] = []
    with store.build_lock(index):  # the upload itself, while another process builds: the bar says why it waits
        worker = threading.Thread(target=handlers.upload, args=([str(upload)], index, lambda f, desc: steps.append(desc)))
        worker.start()
        deadline = time.monotonic() + 60
        while len(steps) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert steps == [
            "Reading and indexing zorblat.txt…",
            "Reading documents, then waiting for another change to the index to finish",
        ]
    worker.join(120)
    assert steps[-1] == "Done" and any(r["title"] == "Zorblat" for r in handlers.document_rows(index))


def test_a_refused_upload_is_noted_under_the_status(index: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ")
    with pytest.warns(UserWarning, match="unsupported upload") as caught:
        box, status, rows, _ = handlers.upload([str(bad)], index, max_total_bytes=app.MAX_UPLOAD_TOTAL)
    note = "Not indexed. &#x27;notes.exe&#x27;: unsupported upload; use .htm, .html, .json, .jsonl, .markdown, .md, .pdf, .txt"
    assert str(caught[0].message) == note.removeprefix("Not indexed. ")  # the toast says the same
    assert f'<div class="index-note index-refused">{note}</div>' in status
    assert box == {"__type__": "update"} and len(rows) == 1 and "<b>1</b> document" in status
    (gradio_dir := tmp_path / "gradio" / "ab12").mkdir(parents=True)
    (gradio_dir / "empty.txt").write_text("", "utf-8")
    with pytest.warns(UserWarning, match=r"^empty\.txt: "):  # the file's name, not the server's folder
        status = handlers.upload([str(gradio_dir / "empty.txt")], index)[1]
    assert '<div class="index-note index-refused">Not indexed. empty.txt: ' in status and str(gradio_dir) not in status
