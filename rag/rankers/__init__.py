"""The ranker registry: every way of ranking chunks, by name (the ``mode`` option).

A ranker turns a question into ranked chunk ids with scores (:class:`Ranker`). Adding one is a
module with a class that has ``rank`` plus one line here; its name then becomes a valid
``mode`` everywhere (``rag ask --mode``, ``rag.answer(mode=...)``, ``rag eval``, the UI).
Classes are imported on first use, so this module stays light (settings import it).
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from ..query import Query
    from ..retrieve import Encoded
    from ..search_index import SearchIndex

RANKERS: dict[str, str] = {
    "hybrid": "rag.rankers.fused:LearnedRanker",
    "handtuned": "rag.rankers.fused:HandtunedRanker",
    "dense": "rag.rankers.single:DenseRanker",
    "bm25": "rag.rankers.single:Bm25Ranker",
}
"""Mode name -> ``module:class``; the first is the default."""


class Ranker(Protocol):
    """Ranks the chunks of an index for one question."""

    def rank(self, index: SearchIndex, query: Query, encoded: Encoded, candidates: int) -> tuple[np.ndarray, np.ndarray]:
        """At most ``candidates`` chunk ids with their scores, best first."""
        ...


_made: dict[str, Ranker] = {}
_lock = threading.Lock()


def get(name: str) -> Ranker:
    """The ranker registered as ``name`` (one instance per process)."""
    from ..errors import ConfigError

    if name not in RANKERS:
        raise ConfigError(f"unknown retrieval mode {name!r}; known: {', '.join(RANKERS)}")
    with _lock:
        if name not in _made:
            module, _, cls = RANKERS[name].partition(":")
            _made[name] = getattr(importlib.import_module(module), cls)()
        return _made[name]
