"""HTTP guards of the UI server, as one ASGI middleware in front of every Gradio route.

- **Host and Origin** (DNS rebinding, cross-site requests): a request is served only when its
  ``Host`` names this server (:class:`HostPolicy`), and an ``Origin``, when sent, is the same
  origin or a host the operator allowed (``RAG_ALLOWED_HOSTS``). Refused with 403 and one line.
- **No URL fetches**: the product is offline, so a file input given as a link
  (``{"path": "https://…"}`` in any JSON body), ``/file=<url>`` and ``/proxy=`` are refused
  before Gradio could download anything; :func:`refuse_url_files` closes the same door on each
  component in case another route hands Gradio a link.
- **Size**: an upload request larger than the per-upload total is refused (413) before its body
  is read, so nothing is written to disk; other bodies are capped too.
- **Login**: failed logins are throttled per client address and globally (:mod:`ui.login`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from rag.errors import ConfigError

from .login import LoginThrottle

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
WILDCARD_BINDS = {"0.0.0.0", "::", ""}
MAX_JSON_BYTES = 16 * 2**20
"""Largest non-upload request body (questions, chat history, events): far above any real one."""
MULTIPART_SLACK = 64 * 1024
"""Room for multipart headers around the files of an upload request."""
REFUSED_URL = "Refused: files must be uploaded; this server does not fetch links"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost.

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of a ``Host`` header or a ``RAG_ALLOWED_HOSTS`` entry; None when malformed.

    >>> split_host("LocalHost:7860"), split_host("[::1]:80"), split_host("a.example."), split_host("x@127.0.0.1")
    (('localhost', 7860), ('::1', 80), ('a.example', None), None)
    """
    if not value or any(c in value for c in "/\\@?#%* \t\r\n"):
        return None
    try:
        parts = urlsplit("//" + value)
        port = parts.port
    except ValueError:
        return None
    name = (parts.hostname or "").rstrip(".")  # "localhost." is the same name, fully qualified
    return (name, port) if name else None


def parse_allowed_hosts(value: str) -> tuple[str, ...]:
    """The names in ``RAG_ALLOWED_HOSTS`` (comma-separated; a port is allowed and ignored).

    Raises ConfigError (one line) for an entry that is not a host name.
    """
    names = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        parsed = split_host(item)
        if parsed is None:
            raise ConfigError(
                f"RAG_ALLOWED_HOSTS: {item!r} is not a host name (give names such as docs.example.org, comma-separated)"
            )
        names.append(parsed[0])
    return tuple(names)


@dataclass(frozen=True)
class HostPolicy:
    """Which ``Host`` names this server answers to.

    Always the loopback names and addresses and the bound address; plus ``allowed`` (the
    operator's ``RAG_ALLOWED_HOSTS``). A wildcard bind (0.0.0.0, ::) also accepts any IP
    address and this machine's host name: an IP literal cannot be rebound to another server,
    and a non-loopback bind is behind a password anyway.
    """

    names: frozenset[str]
    allowed: frozenset[str] = frozenset()
    any_ip: bool = False

    @classmethod
    def for_bind(cls, bind: str, allowed: Iterable[str] = ()) -> HostPolicy:
        extra = frozenset(a.lower() for a in allowed)
        names = {"localhost", bind.strip("[]").lower(), *extra}
        wildcard = bind.strip("[]") in WILDCARD_BINDS
        if wildcard:
            names.add(socket.gethostname().lower())
        return cls(frozenset(names - {""}), extra, wildcard)

    def allows(self, name: str) -> bool:
        name = name.lower()
        return name in self.names or is_loopback(name) or (self.any_ip and _is_ip(name))


def host_refusal(policy: HostPolicy, host: str | None, origin: str | None) -> str:
    """Why a request with these ``Host``/``Origin`` headers is refused; empty when it is not."""
    parsed = split_host(host or "")
    if parsed is None or not policy.allows(parsed[0]):
        return f"Refused: this server does not answer to the host {host or '(none)'!r}; the operator can allow a name with RAG_ALLOWED_HOSTS"
    if origin is None:
        return ""
    source = _origin(origin)
    if source is None:
        return f"Refused: cross-origin request from {origin!r}"
    same_port = source[1] is None or parsed[1] is None or source[1] == parsed[1]
    if (source[0] == parsed[0] and same_port) or source[0] in policy.allowed:
        return ""
    return f"Refused: cross-origin request from {origin!r}"


def _origin(origin: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of an http(s) ``Origin`` header; None for ``null`` or anything else."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.rstrip("."), port


def looks_like_url(text: str) -> bool:
    """True for anything with ``://`` and for network paths (``//host``, ``\\\\host``): no upload
    Gradio stores has either, so this errs on the side of refusing.

    >>> looks_like_url("https://a.org/x.txt"), looks_like_url("HTTP://[bad"), looks_like_url("/tmp/gradio/x.txt")
    (True, True, False)
    """
    return "://" in text or text.strip().startswith(("//", "\\\\"))


def url_paths(value: Any) -> Iterator[str]:
    """Every file ``path`` in a JSON value that is a link (a file input given as a URL)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str) and looks_like_url(path):
                yield path
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def path_refusal(path: str) -> str:
    """Why a route is refused whatever the request: links in file routes, Gradio's proxy."""
    if "/proxy=" in path:
        return REFUSED_URL
    _, marker, rest = path.partition("/file=")
    return REFUSED_URL if marker and looks_like_url(rest) else ""


def refuse_url_files(blocks: Iterable[Any]) -> None:
    """Make every component refuse to move a link into its cache (Gradio would download it)."""
    import gradio as gr

    def guard(original: Any) -> Any:
        def refuse(url_or_file_path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(url_or_file_path, (str, Path)) and looks_like_url(str(url_or_file_path)):
                raise gr.Error(REFUSED_URL)
            return original(url_or_file_path, *args, **kwargs)

        return refuse

    for block in blocks:
        for name in ("async_move_resource_to_block_cache", "move_resource_to_block_cache"):
            if hasattr(block, name):
                setattr(block, name, guard(getattr(block, name)))


@contextlib.contextmanager
def private_upload_folder(env: MutableMapping[str, str]) -> Iterator[Path | None]:
    """Point Gradio's upload folder (``GRADIO_TEMP_DIR``) at a new folder only this user can
    read, deleted when the server stops, so no upload outlives the run; an operator's own
    ``GRADIO_TEMP_DIR`` is kept (yields None)."""
    if env.get("GRADIO_TEMP_DIR"):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="rag-ui-uploads-"))  # mode 0700
    env["GRADIO_TEMP_DIR"] = str(folder)
    try:
        yield folder
    finally:
        env.pop("GRADIO_TEMP_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)


class Guard:
    """The ASGI middleware: host/origin check, link refusal, body limits, login throttle."""

    def __init__(self, app: ASGIApp, policy: HostPolicy, max_upload_bytes: int, throttle: LoginThrottle | None = None) -> None:
        self.app, self.policy, self.max_upload_bytes, self.throttle = app, policy, max_upload_bytes, throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        why = host_refusal(self.policy, headers.get("host"), headers.get("origin")) or path_refusal(scope["path"])
        if why:
            await self._refuse(scope, receive, send, 403, why)
        elif scope["type"] == "websocket" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
        elif scope["path"] in ("/login", "/login/") and self.throttle is not None:
            await self._login(scope, receive, send, self.throttle)
        elif headers.get("content-type", "").startswith("multipart/form-data"):
            await self._upload(scope, receive, send, headers)
        else:
            await self._body(scope, receive, send, headers)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, text: str, **headers: str) -> None:
        if scope["type"] == "websocket":
            await WebSocketClose(code=1008)(scope, receive, send)
            return
        await PlainTextResponse(text, status_code=status, headers=headers)(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """Refuse an upload over the per-upload total from its Content-Length, before reading it."""
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            await self._refuse(scope, receive, send, 411, "Refused: an upload needs a Content-Length")
        elif int(length) > self.max_upload_bytes + MULTIPART_SLACK:
            limit = self.max_upload_bytes // 2**20
            text = f"Refused: this upload is {int(length) / 2**20:.0f} MB, over the {limit} MB limit per upload"
            await self._refuse(scope, receive, send, 413, text)
        else:
            await self.app(scope, receive, send)

    async def _body(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """Read a (JSON) body whole, refuse it when it is too large or names a file by link,
        then hand Gradio the same bytes."""
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_JSON_BYTES:
                await self._refuse(scope, receive, send, 413, f"Refused: request over {MAX_JSON_BYTES // 2**20} MB")
                return
        body = b"".join(chunks)
        why = _body_refusal(body)
        if why:
            await self._refuse(scope, receive, send, 403 if why == REFUSED_URL else 400, why)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send, throttle: LoginThrottle) -> None:
        """Refuse (429) a client, or everyone, still waiting after failed logins; count this attempt."""
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = throttle.attempt(client)
        if wait > 0:
            seconds = str(math.ceil(wait))
            text = f"Too many failed logins: try again in {seconds} s"
            await self._refuse(scope, receive, send, 429, text, **{"Retry-After": seconds})
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 200:
            throttle.succeeded(client)


def _body_refusal(body: bytes) -> str:
    """Why a request body is refused: a file given by link, or JSON too deep to read."""
    try:
        value = json.loads(body)
    except RecursionError:
        return "Refused: malformed request"
    except ValueError:
        return ""  # not JSON: Gradio answers it as it would
    return REFUSED_URL if next(url_paths(value), None) is not None else ""
