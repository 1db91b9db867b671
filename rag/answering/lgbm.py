"""A LightGBM model shipped as a plain-text file, checked against the features its code computes.

Both learned stages use it: the fusion ranker (:mod:`rag.answering.fusion`) and the answer model
(:mod:`rag.answering.triggering`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from rag.errors import ModelError


class PlainTextModel:
    """``booster`` loaded from ``path``; ModelError when the file cannot be read or was trained on
    other ``features`` (``name`` and ``trainer`` word the messages)."""

    def __init__(self, path: Path, features: tuple[str, ...], name: str, trainer: str):
        import lightgbm

        try:
            self.booster = lightgbm.Booster(model_str=path.read_text("utf-8"))
        except (OSError, ValueError, lightgbm.basic.LightGBMError) as err:
            raise ModelError(f"cannot load the {name} {path} ({str(err).splitlines()[0][:200]}): reinstall rag") from None
        if tuple(self.booster.feature_name()) != features:
            raise ModelError(f"{name} {path} was trained on other features: retrain with {trainer}")
        # A shared Booster's predictor set-up races between threads (LightGBM issue #6142); a
        # prediction takes about a millisecond, so answers running in parallel take turns here.
        self._lock = threading.Lock()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 predictions of the rows of ``x`` (none for no rows)."""
        if not len(x):
            return np.zeros(0, np.float32)
        with self._lock:
            return np.asarray(self.booster.predict(x, num_threads=1), np.float32)
