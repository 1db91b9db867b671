"""Is an answer model's probability the share of its answers that are right? (per-bin, and the ECE)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .collected import Collected

CALIBRATION_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def calibration(data: Collected, probability: np.ndarray) -> dict[str, Any]:
    """Is the probability of each question's most probable candidate (the one an answer cites first)
    the share of those candidates that answer? Per probability bin ``[low, high, questions, mean
    probability, share that answer]``, and the expected calibration error (bin-weighted gap)."""
    pairs = [(float(probability[r].max()), bool(data.labels[r][int(np.argmax(probability[r]))]))
             for r in (data.rows(i) for i in range(len(data.questions))) if r.stop > r.start]  # fmt: skip
    predicted, answers = np.array([p for p, _ in pairs]), np.array([a for _, a in pairs])
    which = np.clip(np.digitize(predicted, CALIBRATION_BINS[1:-1]), 0, len(CALIBRATION_BINS) - 2)
    bins, error = [], 0.0
    for b, (low, high) in enumerate(zip(CALIBRATION_BINS, CALIBRATION_BINS[1:])):
        m = which == b
        if m.any():
            bins.append([low, high, int(m.sum()), round(float(predicted[m].mean()), 4), round(float(answers[m].mean()), 4)])
            error += m.sum() / len(predicted) * abs(float(predicted[m].mean()) - float(answers[m].mean()))
    return {"ECE": round(error, 4), "bins": bins}
