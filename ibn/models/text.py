"""Text models: BERT-family sequence classifiers and a causal-LM next-token wrapper.

- :func:`minilm_classifier`: the pretrained MiniLM-L6 encoder (``BertModel``, 6 layers, hidden
  384; fetched by ``ibn data fetch minilm``) with a linear head on the [CLS] vector or the
  masked mean of the tokens.
- :func:`bert_medium_classifier`: a BERT-Medium configuration (8 layers, hidden 512, 8 heads,
  intermediate 2048) initialised at random and trained from scratch with the MiniLM tokenizer
  (paper B uses pretrained BERT-Medium, whose weights cannot be fetched here; Data page).
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
    r"""The log-odds reward of a target class, computed stably (Conventions page, eq-reward):

    .. math::

       v = \log \frac{p(y^*)}{1 - p(y^*)} = z_{y^*} - \log \sum_{y \neq y^*} e^{z_y},

    with :math:`z` the logits and :math:`p = \mathrm{softmax}(z)`.

    Args:
        logits: the logits :math:`z`, shape (..., C) with C ≥ 2 classes (or tokens).
        target: the target class :math:`y^*`: an int, or an integer tensor broadcastable to
            ``logits.shape[:-1]`` (one target per row).

    Returns:
        :math:`v`, shape ``logits.shape[:-1]``, in the dtype of ``logits``.
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
    """A BERT encoder plus a linear head.

    ``forward(input_ids=None, attention_mask=None, token_type_ids=None, inputs_embeds=None)``
    returns logits (B, num_classes); ``inputs_embeds`` replaces the word embeddings only
    (positions and token types are still added), which is what a baseline-embedding masker needs.

    Args:
        encoder: a ``transformers`` BERT-family encoder (e.g. ``BertModel``) whose output has
            ``last_hidden_state`` and whose ``config.hidden_size`` sets the head's input size.
        num_classes: the number of output logits (default 2).
        pooling: ``"cls"`` (the [CLS] vector, the first position) or ``"mean"`` (the
            attention-masked mean of the last hidden states).
        tokenizer: the tokenizer :meth:`collate` uses; None = the classifier takes token ids
            only.
        max_length: the length in tokens :meth:`collate` truncates to (default 64).

    Raises:
        ValueError: ``pooling`` is not ``"cls"`` or ``"mean"``.
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
        """The encoder's word-embedding layer (what an embedding-baseline masker reads)."""
        return self.encoder.get_input_embeddings()

    def collate(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise a batch of texts (padding, truncation to ``max_length``).

        Args:
            texts: the B sentences of a batch.

        Returns:
            The tokenizer's tensors as a dict (``input_ids``, ``attention_mask`` and, for BERT
            tokenizers, ``token_type_ids``), each (B, L); pass it as ``model(**batch)``.

        Raises:
            ValueError: the classifier has no tokenizer.
        """
        if self.tokenizer is None:
            raise ValueError("this classifier has no tokenizer; pass token ids directly")
        return dict(self.tokenizer(list(texts), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt"))

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of a batch of token sequences.

        Args:
            input_ids: int64 token ids (B, L); None when ``inputs_embeds`` is given.
            attention_mask: 1 for real tokens, 0 for padding, (B, L); None = attend to all.
                With ``pooling="mean"`` it also weights the mean.
            token_type_ids: segment ids (B, L); None = all 0.
            inputs_embeds: word embeddings (B, L, hidden) used instead of looking up
                ``input_ids`` (positions and token types are still added).

        Returns:
            Logits (B, num_classes).
        """
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
    """Pretrained MiniLM-L6 (``BertModel``) from a local folder, with a fresh linear head.

    Args:
        path: the model folder (``model.safetensors``, config and tokenizer files); None =
            :func:`ibn.data.minilm_path` (fetched by ``ibn data fetch minilm``).
        num_classes: the number of output logits (default 2).
        pooling: ``"cls"`` or ``"mean"`` (see :class:`BertClassifier`).
        max_length: the length in tokens the classifier's ``collate`` truncates to.

    Returns:
        A :class:`BertClassifier` with the MiniLM tokenizer.

    Raises:
        FileNotFoundError: the folder does not exist (or cannot be found without ``path``).
    """
    _offline()
    from transformers import AutoTokenizer, BertModel

    folder = _resolve(path, "minilm_path")
    encoder = BertModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False)
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return BertClassifier(encoder, num_classes, pooling, tok, max_length)


def bert_medium_config(vocab_size: int = 30522, num_layers: int = 8, hidden: int = 512,
                       heads: int = 8, intermediate: int = 2048, max_positions: int = 512) -> Any:
    """The BERT-Medium ``BertConfig`` (Turc et al. 2019: L=8, H=512, A=8, intermediate 2048).

    Args:
        vocab_size: the vocabulary size (default 30522, BERT's uncased vocabulary).
        num_layers: the number of transformer layers L (default 8).
        hidden: the hidden size H (default 512).
        heads: the number of attention heads A (default 8); must divide ``hidden``.
        intermediate: the feed-forward size (default 2048).
        max_positions: the number of position embeddings, the longest input in tokens
            (default 512).

    Returns:
        A ``transformers.BertConfig``.
    """
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
    weights, to train from scratch. Smaller sizes are allowed for tests.

    Args:
        num_classes: the number of output logits (default 2).
        tokenizer_path: the folder of the MiniLM tokenizer; None = :func:`ibn.data.minilm_path`.
            Ignored when ``vocab_size`` is given.
        vocab_size: build without any file, with this vocabulary size and no tokenizer (the
            classifier then takes token ids only); None = the tokenizer's vocabulary size.
        num_layers: the number of transformer layers (default 8).
        hidden: the hidden size (default 512).
        heads: the number of attention heads (default 8).
        intermediate: the feed-forward size (default 2048).
        max_length: the length in tokens ``collate`` truncates to; the position table has
            ``max(512, max_length)`` entries.
        pooling: ``"cls"`` or ``"mean"`` (see :class:`BertClassifier`).

    Returns:
        A :class:`BertClassifier` with random weights.

    Raises:
        FileNotFoundError: the tokenizer folder does not exist (without ``vocab_size``).
    """
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
    attended position. The reward of paper B Fig. 6 is ``log_odds(logits, target_id)``
    (Conventions page, eq-reward).

    Args:
        lm: a ``transformers`` causal language model (its output has ``logits`` (B, L, vocab)).
        tokenizer: the model's tokenizer, used by :meth:`collate`; None = token ids only.
    """

    def __init__(self, lm: nn.Module, tokenizer: Any = None) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer

    def input_embeddings(self) -> nn.Embedding:
        """The language model's token-embedding layer (what an embedding-baseline masker reads)."""
        return self.lm.get_input_embeddings()

    def collate(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise a batch of texts, padded on the right (the EOS token pads when the tokenizer
        has no pad token; the tokenizer is set up so in place).

        Args:
            texts: the B prompts of a batch.

        Returns:
            A dict with ``input_ids`` and ``attention_mask``, each (B, L); pass it as
            ``model(**batch)``.

        Raises:
            ValueError: the wrapper has no tokenizer.
        """
        if self.tokenizer is None:
            raise ValueError("this wrapper has no tokenizer; pass token ids directly")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        return dict(self.tokenizer(list(texts), padding=True, return_tensors="pt"))

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits at the last attended position of each sequence.

        Args:
            input_ids: int64 token ids (B, L); None when ``inputs_embeds`` is given.
            attention_mask: 1 for real tokens, 0 for right padding, (B, L); the logits are read
                at the last position with a 1. None = the last position L − 1.
            inputs_embeds: token embeddings (B, L, hidden) used instead of ``input_ids``.

        Returns:
            Logits (B, vocab).
        """
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                      inputs_embeds=inputs_embeds)
        logits = out.logits
        if attention_mask is None:
            return logits[:, -1]
        last = attention_mask.long().sum(1) - 1
        return logits[torch.arange(logits.shape[0], device=logits.device), last]

    def reward(self, target_id: int, **inputs: torch.Tensor) -> torch.Tensor:
        """Log-odds of ``target_id`` as the next token (Conventions page, eq-reward).

        Args:
            target_id: the token id :math:`y^*` of the target next token.
            **inputs: the keyword inputs of :meth:`forward` (``input_ids``, ``attention_mask``
                or ``inputs_embeds``), e.g. the dict of :meth:`collate`.

        Returns:
            The reward :math:`v` per sequence, shape (B,).
        """
        return log_odds(self(**inputs), target_id)


def smollm2(gguf_file: str | os.PathLike | None = None) -> CausalLMNextToken:
    """SmolLM2-135M-Instruct from its local gguf file, loaded by transformers as a
    ``LlamaForCausalLM`` (dequantised to float32), in eval mode.

    Args:
        gguf_file: the gguf file; None = :func:`ibn.data.smollm2_path` (fetched by
            ``ibn data fetch smollm2``). The tokenizer is read from the same file.

    Returns:
        A :class:`CausalLMNextToken` with the model and its tokenizer.

    Raises:
        FileNotFoundError: the file does not exist (or cannot be found without ``gguf_file``).
    """
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    f = _resolve(gguf_file, "smollm2_path")
    lm = AutoModelForCausalLM.from_pretrained(str(f.parent), gguf_file=f.name, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(f.parent), gguf_file=f.name, local_files_only=True)
    lm.eval()
    return CausalLMNextToken(lm, tok)
