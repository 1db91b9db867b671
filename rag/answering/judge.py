"""Does this sentence answer the question? A cross-encoder that reads both together.

The bi-encoder similarity and term coverage the answer model has cannot tell "Where did the
meeting take place?" from a sentence that only mentions the meeting; a cross-encoder reads the
question and the candidate in one pass, so "in Pyongyang" can answer "where". The judge is the
bundled all-MiniLM-L6-v2 cut to its first layers and fine-tuned by ``benchmarks/train_judge.py``
as a classifier of (question, sentence in its context) pairs. Its context is the document's title,
the sentence's section and the sentence before it, so "It last erupted in 1742." is read as being
about Mount Kelda.

Only the trained part is shipped (``judge.safetensors``: the first layers, position and type
embeddings, the head; fp16, sha256 checked at load against ``judge_card.json``); the word
embeddings are the bundled model's, verified by their own hash. At load the linear layers are
quantised to int8 (torch dynamic quantisation), so judging the best few candidates of a question
costs tens of milliseconds on one CPU thread.

>>> pair_text("It last erupted in 1742.", "Mount Kelda", "", "Mount Kelda is a dormant volcano on the island of Brenn.")
'It last erupted in 1742. [SEP] Mount Kelda: Mount Kelda is a dormant volcano on the island of Brenn.'
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError

JUDGE_DIR = Path(__file__).parent
WEIGHTS = "judge.safetensors"
CARD = "judge_card.json"
MAX_TOKENS = 128
"""Question + candidate + context, in word pieces; the context is cut first."""
CONTEXT_CHARS = 300
"""At most this much of the previous sentence is read as context."""


def pair_text(sentence: str, title: str, section: str, previous: str) -> str:
    """The second text of a judged pair: the candidate first (never cut), then what it sits in."""
    parts = [p.strip() for p in (title, section) if p.strip()]
    where = " > ".join(dict.fromkeys(parts))  # a section named like the title once
    context = previous.strip()[:CONTEXT_CHARS]
    tail = f"{where}: {context}" if where and context else where or context
    return f"{sentence.strip()} [SEP] {tail}" if tail else sentence.strip()


class Judge:
    """The cross-encoder: :meth:`probability` of each (question, pair text) pair; loaded on first use."""

    def __init__(self, folder: Path = JUDGE_DIR, quantize: bool = True):
        self.folder = folder
        self.quantize = quantize
        self.card = _card(folder)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> bool:
        """Load the network now; True when this call loaded it."""
        with self._lock:
            if self._model is not None:
                return False
            self._model, self._tokenizer = _load(self.folder, self.card, self.quantize)
            return True

    def probability(self, questions: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """P(answers) per pair, float32; ``questions[i]`` is asked of ``texts[i]`` (see :func:`pair_text`)."""
        if not texts:
            return np.zeros(0, np.float32)
        import torch

        self.load()
        batch = self._tokenizer(
            list(questions), list(texts), truncation="longest_first", max_length=MAX_TOKENS, padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            logits = self._model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        return torch.sigmoid(logits).numpy().astype(np.float32)


def _card(folder: Path) -> dict[str, Any]:
    path = folder / CARD
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"the answer judge's card {path} is unreadable ({err}): reinstall rag") from None


def _load(folder: Path, card: dict[str, Any], quantize: bool) -> tuple[Any, Any]:
    """The judge network with the bundled word embeddings and the shipped layers, and its tokenizer."""
    from rag.answering.judge_model import CrossEncoder, bundled_parts
    from rag.indexing.embedding import sha256_file

    weights = folder / WEIGHTS
    if not weights.exists() or sha256_file(weights) != card.get("weights_sha256"):
        raise ModelError(f"the answer judge's weights {weights} are missing or fail their sha256 check: reinstall rag")
    config, embeddings, tokenizer = bundled_parts(int(card["layers"]))
    model = CrossEncoder(config, embeddings)
    model.load_trained(weights)
    return (model.quantized() if quantize else model.eval()), tokenizer


_default: dict[Path, Judge] = {}
_default_lock = threading.Lock()


def default_judge(folder: Path = JUDGE_DIR) -> Judge | None:
    """The shipped judge (one per process), or None when this install has none."""
    if not (folder / CARD).exists():
        return None
    with _default_lock:
        if folder not in _default:
            _default[folder] = Judge(folder)
        return _default[folder]
