"""The judge's network: the bundled MiniLM's first layers as a cross-encoder with a one-logit head.

Kept apart from :mod:`rag.answering.judge` so that the training script (``benchmarks/train_judge.py``)
and the answer code build exactly the same network. torch and transformers are imported here, so
this module is only imported when the judge is first used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

FROZEN = ("embeddings.word_embeddings.weight",)
"""Parameters taken from the bundled model and never trained or shipped (11.7M of the word embeddings)."""


def bundled_parts(layers: int) -> tuple[Any, torch.Tensor, Any]:
    """The bundled model's config cut to ``layers``, its word embeddings and its tokenizer (verified weights)."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig

    from rag.indexing.embedding import resolve_model
    from rag.settings import BUNDLED_MODEL

    path, _ = resolve_model(BUNDLED_MODEL)  # ModelError unless its sha256 matches
    config = BertConfig.from_pretrained(path, local_files_only=True)
    config.num_hidden_layers = layers
    words = load_file(str(Path(path) / "model.safetensors"))["embeddings.word_embeddings.weight"]
    return config, words, AutoTokenizer.from_pretrained(path, local_files_only=True)


class CrossEncoder(nn.Module):
    """BERT over "[CLS] question [SEP] sentence [SEP] context [SEP]", mean-pooled, one logit."""

    def __init__(self, config: Any, word_embeddings: torch.Tensor):
        from transformers import BertModel

        super().__init__()
        self.bert = BertModel(config, add_pooling_layer=False)
        self.bert.embeddings.word_embeddings.weight = nn.Parameter(word_embeddings.clone(), requires_grad=False)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled)).squeeze(-1)

    def start_from(self, bundled: dict[str, torch.Tensor]) -> None:
        """Initialise the layers from the bundled model's own (its first ``num_hidden_layers``)."""
        own = self.bert.state_dict()
        self.bert.load_state_dict({k: v for k, v in bundled.items() if k in own}, strict=False)

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What is shipped: every parameter but the frozen word embeddings, in fp16."""
        return {k: v.detach().to(torch.float16).contiguous() for k, v in self.state_dict().items() if not k.endswith(FROZEN)}

    def load_trained(self, path: Path) -> None:
        from safetensors.torch import load_file

        state = {k: v.to(torch.float32) for k, v in load_file(str(path)).items()}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.endswith(FROZEN)]:
            from rag.errors import ModelError

            raise ModelError(f"the answer judge's weights {path} do not fit its network: reinstall rag")

    def quantized(self) -> nn.Module:
        """An int8 copy for inference (linear layers; embeddings and norms stay fp32)."""
        import warnings

        self.eval()
        with warnings.catch_warnings():  # torch announces a future API for the same int8 kernels
            warnings.simplefilter("ignore", UserWarning)
            return torch.ao.quantization.quantize_dynamic(self, {nn.Linear}, dtype=torch.qint8)
