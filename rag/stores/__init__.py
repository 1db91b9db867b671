"""Where an index's vectors and BM25 live: the registry of stores and the ``--store`` option.

A store is named by a spec (``rag build --store SPEC``, ``build_index(..., store=SPEC)``):

* ``embedded`` (default): plain files in the index folder (FAISS + bm25s), vectors memory-mapped;
* ``milvus-lite:PATH``: an embedded Milvus Lite database file (``PATH`` ends in ``.db``);
* ``milvus://HOST:PORT``: a Milvus standalone server or cluster.

The manifest, ``documents.jsonl`` and the row layout (``sentences.npy``, ``chunks.npy``) always
stay in the index folder; only vectors and BM25 move into the store. Adding a store is one module
implementing :class:`rag.stores.base.Backend` plus one line in :data:`STORES`.

>>> parse_store("milvus://db.example:19530")
StoreSpec(kind='milvus', uri='http://db.example:19530')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

STORES: dict[str, str] = {
    "embedded": "rag.stores.embedded:EmbeddedBackend",
    "milvus-lite": "rag.stores.milvus:MilvusBackend",
    "milvus": "rag.stores.milvus:MilvusBackend",
}
"""Store kind (the spec's scheme) -> ``module:class`` of its backend, imported on first use."""
AUTO = "auto"
"""The ``store`` option's default: the store the index already uses (``embedded`` for a new one)."""


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store option: ``kind`` (a key of :data:`STORES`) and its address (``""`` for files)."""

    kind: str = "embedded"
    uri: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri}

    def __str__(self) -> str:
        if self.kind == "embedded":
            return "embedded"
        if self.kind == "milvus":
            return self.uri.replace("http://", "milvus://", 1)
        return f"{self.kind}:{self.uri}"


def parse_store(spec: str) -> StoreSpec:
    """The :class:`StoreSpec` of ``spec``; ConfigError naming the accepted forms otherwise."""
    text = spec.strip() if isinstance(spec, str) else ""
    if text == "embedded":
        return StoreSpec()
    if text.startswith("milvus-lite:"):
        path = text[len("milvus-lite:") :]
        if not path.endswith(".db") or len(path) <= 3:
            raise ConfigError(f"store {spec!r}: a Milvus Lite store is a file ending in .db (milvus-lite:PATH.db)")
        return StoreSpec("milvus-lite", str(Path(path).expanduser().resolve()))
    if text.startswith("milvus://"):
        host, _, port = text[len("milvus://") :].rstrip("/").rpartition(":")
        if not host or not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(f"store {spec!r}: a Milvus server is milvus://HOST:PORT (port 1-65535)")
        return StoreSpec("milvus", f"http://{host}:{port}")
    scheme, colon, rest = text.partition(":")
    if colon and scheme in STORES and rest:  # a store registered later: it checks its own address
        return StoreSpec(scheme, rest)
    raise ConfigError(f"unknown store {spec!r}; known: embedded, milvus-lite:PATH.db, milvus://HOST:PORT")


def backend(kind: str) -> Any:
    """The backend class registered for ``kind`` (imported now)."""
    if kind not in STORES:
        raise ConfigError(f"unknown store kind {kind!r}; known: {', '.join(STORES)}")
    module, _, name = STORES[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def spec_of(manifest: dict[str, Any]) -> StoreSpec:
    """The store an index's manifest names (indexes written before stores existed: embedded)."""
    block = manifest.get("store")
    if not isinstance(block, dict):
        return StoreSpec()
    return StoreSpec(str(block.get("kind", "embedded")), str(block.get("uri", "")))
