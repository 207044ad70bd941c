"""Text classifiers on the Rotten Tomatoes sentences, trained once and cached (paper A Fig. 1 text
models; paper B Fig. 2 text half).

- :func:`load_sentences` — (texts, labels) of a split of :func:`ibn.data.sentences.load_rt_sentences`.
- :func:`train_text_classifier` — ``"minilm"`` (pretrained MiniLM-L6 + linear head, fine-tuned)
  or ``"bert_medium"`` (BERT-Medium configuration from scratch), trained with
  :func:`ibn.train.train` (Adam) on the first ``n_train`` sentences of a split (optionally with
  flipped labels). The weights are kept by :func:`ibn.model_store.cached_model` (git-ignored,
  keyed by every training setting), so a second call with the same arguments only loads them.
- :func:`text_accuracy` — accuracy on the first ``n`` sentences of a split.
- :func:`token_masker` / :func:`text_values` — the game of one sentence (Conventions page, eq-reward
  and conventions-protocol-b): players = ``n_players`` meaningful words
  (:class:`ibn.maskers.TokenMasker`, masked words → [MASK]), v(x_T) = log p(y)/(1 − p(y)) of the
  label y, for all 2^n coalitions (:func:`ibn.games.all_values`).

Paper B trains its k baseline models on the TEST split (Conventions page,
conventions-generalizable): call
``train_text_classifier(model, "test", ...)`` with seeds 0..k−1.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ibn.data.sentences import load_rt_sentences
from ibn.games import all_values
from ibn.model_store import cached_model
from ibn.maskers import TokenMasker
from ibn.models import build
from ibn.train import evaluate, train

__all__ = ["TEXT_MODELS", "DEFAULT_LR", "load_sentences",
           "train_text_classifier", "text_accuracy", "token_masker", "text_values"]

#: the two text classifiers (names of :func:`ibn.models.build`)
TEXT_MODELS: tuple[str, ...] = ("minilm", "bert_medium")
#: Adam learning rate used when ``lr=None``: fine-tuning rate for the pretrained MiniLM, a
#: from-scratch rate for BERT-Medium.
DEFAULT_LR: dict[str, float] = {"minilm": 5e-5, "bert_medium": 1e-4}


def load_sentences(split: str, seed: int = 0) -> tuple[list[str], list[int]]:
    """(texts, labels) of a split ('train', 'validation', 'test' or 'all') of the Rotten
    Tomatoes sentences (label 1 = positive); the split is fixed by ``seed`` (source: ``ibn data list``)."""
    pairs = load_rt_sentences(split, seed=seed)
    return [t for t, _ in pairs], [int(y) for _, y in pairs]


def _spec(model: str, split: str, n_train: int, epochs: int, seed: int, label_noise: float,
          lr: float, batch_size: int, max_length: int) -> dict[str, Any]:
    return {"model": model, "split": split, "n_train": int(n_train), "epochs": int(epochs),
            "seed": int(seed), "label_noise": float(label_noise), "lr": float(lr),
            "batch_size": int(batch_size), "max_length": int(max_length), "optimizer": "adam"}


def _build(model: str, seed: int, max_length: int) -> nn.Module:
    if model not in TEXT_MODELS:
        raise ValueError(f"model must be one of {TEXT_MODELS}, got {model!r}")
    return build(model, seed=seed, max_length=max_length)


def train_text_classifier(model: str, split: str, *, n_train: int, epochs: int, seed: int,
                          label_noise: float = 0.0, lr: float | None = None,
                          batch_size: int = 32, max_length: int = 64,
                          models_dir: str | os.PathLike | None = None,
                          device: str | None = None, progress: bool = False) -> nn.Module:
    """Train (or load the cached) ``model`` ("minilm" | "bert_medium") on the first ``n_train``
    sentences of ``split`` for ``epochs`` epochs with Adam (``lr``, default
    :data:`DEFAULT_LR`), batch ``batch_size``, shuffling and head/initial weights seeded by
    ``seed``; ``label_noise`` flips that fraction of the training labels (exactly
    round(fraction·n_train), :func:`ibn.train.flip_labels`). Returns the classifier in eval mode
    on the CPU (or ``device``), with ``net.training_info`` = the spec, the flipped indices and
    the final training accuracy (on the possibly flipped labels). The weights are kept by
    :func:`ibn.model_store.cached_model` under the data root (or ``models_dir``, a data root for
    them), keyed by every training setting; an interrupted training resumes. ``progress``: a
    progress bar while training (not part of the key)."""
    lr = DEFAULT_LR[model] if lr is None and model in DEFAULT_LR else lr
    if lr is None:
        raise ValueError(f"model must be one of {TEXT_MODELS}, got {model!r}")
    spec = _spec(model, split, n_train, epochs, seed, label_noise, lr, batch_size, max_length)

    def fit(net: nn.Module, train_dir: Path) -> dict[str, Any]:
        texts, labels = load_sentences(split)
        if not 0 < n_train <= len(texts):
            raise ValueError(f"n_train must be in 1..{len(texts)} for split {split!r}, got {n_train}")
        t0 = time.time()
        hist = train(net, (texts[:n_train], labels[:n_train]), epochs=epochs,
                     batch_size=batch_size, optimizer="adam", lr=lr, label_noise=label_noise,
                     num_classes=2, seed=seed, device=device, checkpoint_dir=train_dir,
                     progress=progress)
        return {"spec": spec, "flipped": hist.flipped, "train_acc": hist.last("train_acc"),
                "train_loss": hist.last("train_loss"), "records": hist.records,
                "train_time_s": time.time() - t0, "torch_threads": torch.get_num_threads()}

    net, info = cached_model(f"text-{model}-{split}", spec,
                             lambda: _build(model, seed, max_length), fit, root=models_dir)
    net.to(device if device is not None else "cpu")
    net.training_info = info  # type: ignore[assignment]
    return net


def text_accuracy(net: nn.Module, split: str, n: int, *, batch_size: int = 128) -> float:
    """Accuracy of ``net`` on the first ``n`` sentences of ``split`` (all of them if n exceeds
    the split)."""
    texts, labels = load_sentences(split)
    return float(evaluate(net, (texts[:n], labels[:n]), batch_size=batch_size)["acc"])


def token_masker(net: nn.Module, text: str, n_players: int, seed: int) -> TokenMasker:
    """The :class:`ibn.maskers.TokenMasker` of one sentence for ``net`` (its tokenizer and
    ``max_length``): ``n_players`` meaningful words drawn with ``seed``, masked → [MASK]."""
    return TokenMasker(net.tokenizer, text, n_players=n_players, seed=seed,
                       max_length=getattr(net, "max_length", None))


def text_values(net: nn.Module, text: str, label: int, n_players: int, seed: int,
                *, batch_size: int = 256) -> torch.Tensor:
    """v(x_T) for all 2^n coalitions T (bit i = player i), v = log-odds of ``label``
    (Conventions page, eq-reward), players = :func:`token_masker`'s words. float64 tensor of length
    2^n, where n = min(n_players, number of meaningful words)."""
    masker = token_masker(net, text, n_players, seed)
    return all_values(net, text, masker, target=int(label), batch_size=batch_size,
                      progress=False).values
