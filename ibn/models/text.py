"""Text models: BERT-family sequence classifiers and a causal-LM next-token wrapper.

- :func:`minilm_classifier`: the pretrained MiniLM-L6 encoder (``BertModel``, 6 layers, hidden
  384; fetched by `ibn data fetch minilm`) with a linear head on the [CLS] vector or the masked mean of the tokens.
- :func:`bert_medium_classifier`: a BERT-Medium configuration (8 layers, hidden 512, 8 heads,
  intermediate 2048) initialised at random and trained from scratch with the MiniLM tokenizer
  (paper B uses pretrained BERT-Medium, whose weights cannot be fetched here).
- :class:`CausalLMNextToken`: SmolLM2-135M (gguf) returning the next-token logits at the last
  position; the reward is the log-odds of a target token (Conventions page, eq-reward;
  :func:`log_odds`).

Everything loads from local files only (``HF_HUB_OFFLINE=1``, ``local_files_only=True``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

__all__ = ["BertClassifier", "minilm_classifier", "bert_medium_classifier", "bert_medium_config",
           "CausalLMNextToken", "smollm2", "log_odds"]


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def log_odds(logits: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """v = log p(y*) / (1 − p(y*)) = logit_{y*} − logsumexp(other logits) (Conventions page,
    eq-reward), stably.

    ``logits``: (..., C); ``target``: an int or a tensor broadcastable to ``logits.shape[:-1]``.
    """
    target = torch.as_tensor(target, device=logits.device).long()
    target = target.expand(logits.shape[:-1])
    picked = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    others = logits.scatter(-1, target.unsqueeze(-1), float("-inf"))
    return picked - torch.logsumexp(others, dim=-1)


def _resolve(path: str | os.PathLike | None, getter: str) -> Path:
    if path is None:
        try:
            import ibn.data as data  # written by another module; imported lazily
            path = getattr(data, getter)()
        except (ImportError, AttributeError) as exc:
            raise FileNotFoundError(
                f"no path given and ibn.data.{getter}() is unavailable ({exc}); pass the path") from exc
    p = Path(path)
    if not p.exists():
        source = getter.removesuffix("_path")
        raise FileNotFoundError(f"{p} does not exist (fetch it first: `ibn data fetch {source}`)")
    return p


class BertClassifier(nn.Module):
    """A BERT encoder plus a linear head. ``pooling``: ``"cls"`` (the [CLS] vector) or
    ``"mean"`` (the attention-masked mean of the last hidden states).

    ``forward(input_ids=None, attention_mask=None, token_type_ids=None, inputs_embeds=None)``
    returns logits (B, num_classes); ``inputs_embeds`` replaces the word embeddings only
    (positions and token types are still added), which is what a baseline-embedding masker needs.
    """

    def __init__(self, encoder: nn.Module, num_classes: int = 2, pooling: str = "cls",
                 tokenizer: Any = None, max_length: int = 64) -> None:
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.head = nn.Linear(encoder.config.hidden_size, num_classes)

    def input_embeddings(self) -> nn.Embedding:
        return self.encoder.get_input_embeddings()

    def collate(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise a batch of texts (padding, truncation to ``max_length``)."""
        if self.tokenizer is None:
            raise ValueError("this classifier has no tokenizer; pass token ids directly")
        return dict(self.tokenizer(list(texts), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt"))

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids, inputs_embeds=inputs_embeds)
        h = out.last_hidden_state
        if self.pooling == "cls":
            pooled = h[:, 0]
        else:
            if attention_mask is None:
                pooled = h.mean(1)
            else:
                m = attention_mask.unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.head(pooled)


def minilm_classifier(path: str | os.PathLike | None = None, num_classes: int = 2,
                      pooling: str = "cls", max_length: int = 64) -> BertClassifier:
    """Pretrained MiniLM-L6 (``BertModel``) from a local folder (default ``ibn.data.minilm_path()``)
    with a fresh linear head."""
    _offline()
    from transformers import AutoTokenizer, BertModel

    folder = _resolve(path, "minilm_path")
    encoder = BertModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False)
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return BertClassifier(encoder, num_classes, pooling, tok, max_length)


def bert_medium_config(vocab_size: int = 30522, num_layers: int = 8, hidden: int = 512,
                       heads: int = 8, intermediate: int = 2048, max_positions: int = 512) -> Any:
    """The BERT-Medium ``BertConfig`` (Turc et al. 2019: L=8, H=512, A=8, intermediate 2048)."""
    _offline()
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=num_layers,
                      num_attention_heads=heads, intermediate_size=intermediate,
                      max_position_embeddings=max_positions)


def bert_medium_classifier(num_classes: int = 2, tokenizer_path: str | os.PathLike | None = None,
                           vocab_size: int | None = None, num_layers: int = 8, hidden: int = 512,
                           heads: int = 8, intermediate: int = 2048, max_length: int = 64,
                           pooling: str = "cls") -> BertClassifier:
    """BERT-Medium configuration (8 layers, hidden 512, 8 heads, intermediate 2048) with random
    weights, to train from scratch. The tokenizer is MiniLM's (``tokenizer_path``, default
    ``ibn.data.minilm_path()``); give ``vocab_size`` instead to build without any file (the
    classifier then takes token ids only). Smaller sizes are allowed for tests."""
    _offline()
    from transformers import AutoTokenizer, BertModel

    tok = None
    if vocab_size is None:
        folder = _resolve(tokenizer_path, "minilm_path")
        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        vocab_size = len(tok)
    config = bert_medium_config(vocab_size, num_layers, hidden, heads, intermediate,
                                max(512, max_length))
    return BertClassifier(BertModel(config, add_pooling_layer=False), num_classes, pooling, tok,
                          max_length)


class CausalLMNextToken(nn.Module):
    """Wrap a causal LM so that ``forward`` returns the next-token logits (B, vocab) at the last
    attended position. The reward of paper B Fig. 6 is ``log_odds(logits, target_id)``."""

    def __init__(self, lm: nn.Module, tokenizer: Any = None) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer

    def input_embeddings(self) -> nn.Embedding:
        return self.lm.get_input_embeddings()

    def collate(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        if self.tokenizer is None:
            raise ValueError("this wrapper has no tokenizer; pass token ids directly")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        return dict(self.tokenizer(list(texts), padding=True, return_tensors="pt"))

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                      inputs_embeds=inputs_embeds)
        logits = out.logits
        if attention_mask is None:
            return logits[:, -1]
        last = attention_mask.long().sum(1) - 1
        return logits[torch.arange(logits.shape[0], device=logits.device), last]

    def reward(self, target_id: int, **inputs: torch.Tensor) -> torch.Tensor:
        """Log-odds of ``target_id`` as the next token (Conventions page, eq-reward)."""
        return log_odds(self(**inputs), target_id)


def smollm2(gguf_file: str | os.PathLike | None = None) -> CausalLMNextToken:
    """SmolLM2-135M-Instruct from its local gguf file (default ``ibn.data.smollm2_path()``),
    loaded by transformers as a ``LlamaForCausalLM`` (dequantised to float32; ~40 s on 2 cores)."""
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    f = _resolve(gguf_file, "smollm2_path")
    lm = AutoModelForCausalLM.from_pretrained(str(f.parent), gguf_file=f.name, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(f.parent), gguf_file=f.name, local_files_only=True)
    lm.eval()
    return CausalLMNextToken(lm, tok)
