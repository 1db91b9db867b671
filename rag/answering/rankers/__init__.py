"""The rankers: every way of ranking chunks, by name (the ``mode`` option).

A ranker turns a question into ranked chunk ids with scores (:class:`Ranker`). Adding one is a
module with a class that has ``rank`` plus one line in the registry, :data:`RANKERS` (kept in
:mod:`rag.settings`, since its names are the ``mode`` setting's valid values); its name then becomes
a valid ``mode`` everywhere (``rag ask --mode``, ``rag.answer(mode=...)``, ``rag eval``, the UI).
Classes are imported on first use.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from rag.answering.query import Query
    from rag.answering.signals import Encoded
    from rag.indexing.search_index import SearchIndex

from rag.errors import ConfigError
from rag.settings import RANKERS

__all__ = ["RANKERS", "Ranker", "get"]


class Ranker(Protocol):
    """Ranks the chunks of an index for one question."""

    def rank(self, index: SearchIndex, query: Query, encoded: Encoded, candidates: int) -> tuple[np.ndarray, np.ndarray]:
        """At most ``candidates`` chunk ids with their scores, best first."""
        ...


_made: dict[str, Ranker] = {}
_lock = threading.Lock()


def get(name: str) -> Ranker:
    """The ranker registered as ``name`` (one instance per process)."""
    if name not in RANKERS:
        raise ConfigError(f"unknown retrieval mode {name!r}; known: {', '.join(RANKERS)}")
    with _lock:
        if name not in _made:
            module, _, cls = RANKERS[name].partition(":")
            _made[name] = getattr(importlib.import_module(module), cls)()
        return _made[name]
