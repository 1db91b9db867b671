"""A real UI server for tests: ``rag serve``'s app on a free loopback port, driven by raw HTTP
(httpx, and Gradio's queue API as the browser uses it)."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from ui import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(index_dir: Path, **options: Any) -> Iterator[str]:
    """The real app on a free loopback port (``app.launch`` as ``rag serve`` uses it)."""
    demo = app.build_app(index_dir)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, block=False, index_dir=index_dir, **options)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def client_for(url: str, source: str = "127.0.0.1") -> httpx.Client:
    """A client that never uses proxies from the environment, connecting from ``source``."""
    return httpx.Client(base_url=url, timeout=60, trust_env=False, transport=httpx.HTTPTransport(local_address=source))


def fn_index(client: httpx.Client, api_name: str) -> int:
    """The fn_index of the event handler named ``api_name`` in the served config."""
    deps = client.get("/config").json()["dependencies"]
    return next(i for i, d in enumerate(deps) if d.get("api_name") == api_name)


def run_event(client: httpx.Client, fn: int, data: list[Any], session: str, **headers: str) -> dict[str, Any]:
    """Run one event through the raw queue API; returns its messages by kind."""
    body = {"data": data, "fn_index": fn, "session_hash": session, "trigger_id": None, "event_data": None}
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


def file_data(path: str, name: str = "zebra.txt") -> dict[str, Any]:
    """A file input as Gradio's client sends it."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}
