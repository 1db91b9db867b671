"""Where an index's vectors and BM25 live: the registry of stores and the ``--store`` option.

A store is named by a spec (``rag build --store SPEC``, ``build_index(..., store=SPEC)``):

* ``embedded`` (default): plain files in the index folder (FAISS + bm25s), vectors memory-mapped;
* ``milvus-lite:PATH``: an embedded Milvus Lite database file (``PATH`` ends in ``.db``);
* ``milvus://HOST:PORT``: a Milvus standalone server or cluster.

The manifest, ``documents.jsonl`` and the row layout (``sentences.npy``, ``chunks.npy``) always
stay in the index folder; only vectors and BM25 move into the store. Adding a store is one module
implementing :class:`rag.indexing.stores.base.Backend` plus one line in :data:`STORES` (kept in
:mod:`rag.settings` with the spec parser, since the kinds are the ``store`` setting's valid values).

>>> parse_store("milvus://db.example:19530")
StoreSpec(kind='milvus', uri='http://db.example:19530')
"""

from __future__ import annotations

import importlib
from typing import Any

from rag.errors import ConfigError
from rag.settings import AUTO, STORES, StoreSpec, parse_store

__all__ = ["AUTO", "STORES", "StoreSpec", "backend", "parse_store", "spec_of"]


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
