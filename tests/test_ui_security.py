"""The UI server as an attacker sees it: raw HTTP against a real server on a free loopback port.

Host/Origin checks (DNS rebinding), no URL fetches, the login throttle and password length.
Uploads (deleted once indexed, size limit, queued and refused notes): tests/test_ui_uploads.py.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from rag.errors import ConfigError
from ui import app, security
from ui.login import Credentials, LoginThrottle

from .ui_server import client_for, file_data, fn_index, free_port, run_event, serving

TITLE = "Kim Jong Un orders military to annihilate South Korea and US"
PASSWORD = "correct horse battery"


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
    with serving(index) as url, client_for(url) as client:
        port = url.rsplit(":", 1)[1]
        cached = client.post("/gradio_api/upload", files=[("files", ("note.txt", b"private note", "text/plain"))]).json()[0]
        load = fn_index(client, "_show_documents")
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
        assert TITLE in json.dumps(run_event(client, load, [], "s2", Origin=f"http://127.0.0.1:{port}")["output"])


def test_names_the_operator_allows_are_served(index: Path, gradio_dir: Path) -> None:
    with serving(index, allowed_hosts=("docs.example.org",)) as url, client_for(url) as client:
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
    with serving(index, auth=("ann", PASSWORD), policy=policy) as url, client_for(url) as client:
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


def test_file_inputs_given_as_links_are_refused_without_any_request(tmp_path: Path, gradio_dir: Path, monkeypatch) -> None:
    index = tmp_path / "index"
    demo = app.build_app(index)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, block=False)  # before the proxy: Gradio checks its own URL at start
    try:
        with outside_world(monkeypatch) as seen, client_for(f"http://127.0.0.1:{port}") as client:
            received, ask = fn_index(client, "_received"), fn_index(client, "queue_question")
            for link in ("http://huggingface.co/zebra.txt", "https://huggingface.co/zebra.txt", "HTTP://example.org/z.txt"):
                for fn, data in (
                    (received, [[file_data(link)]]),
                    (ask, ["Who?", [{"role": "user", "content": [file_data(link)]}]]),
                ):
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
    with (
        serving(index, auth=("ann", PASSWORD), throttle=throttle) as url,
        client_for(url) as a,
        client_for(url, "127.0.0.2") as b,
    ):

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
