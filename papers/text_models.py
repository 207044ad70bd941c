r"""Text classifiers on the Rotten Tomatoes sentences, trained once and cached (paper A Fig. 1 text
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
  (:class:`ibn.maskers.TokenMasker`, masked words → [MASK]),
  :math:`v(x_T) = \log p(y \mid x_T) / (1 - p(y \mid x_T))` of the label :math:`y`, for all
  :math:`2^n` coalitions (:func:`ibn.games.all_values`).

Paper B trains its k baseline models on the TEST split (Conventions page,
conventions-generalizable): call ``train_text_classifier(model, "test", ...)`` with one seed per
baseline (:mod:`papers.generalizable_text` uses ``seed + 1 ... seed + k``).
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
    """The sentences and labels of a split of the Rotten Tomatoes sentences
    (:func:`ibn.data.sentences.load_rt_sentences`; source: ``ibn data list``).

    Args:
        split: ``"train"``, ``"validation"``, ``"test"`` or ``"all"``.
        seed: the seed that fixes the split (default 0).

    Returns:
        ``(texts, labels)``: the sentences and their labels (1 = positive, 0 = negative).
    """
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
    """Train (or load the cached) text classifier on the first ``n_train`` sentences of a split
    with Adam.

    The weights are kept by :func:`ibn.model_store.cached_model` under the data root (or
    ``models_dir``), keyed by every training setting; an interrupted training resumes.

    Args:
        model: ``"minilm"`` or ``"bert_medium"`` (:data:`TEXT_MODELS`).
        split: the split trained on (``"train"`` for targets, ``"test"`` for paper B's
            baselines; :func:`load_sentences`).
        n_train: the number of sentences trained on, the first of the split.
        epochs: the number of epochs.
        seed: the seed of the head's (or the initial) weights, the shuffling and the flipped
            labels.
        label_noise: the fraction of the training labels flipped (exactly
            ``round(label_noise · n_train)``, :func:`ibn.train.flip_labels`; default 0).
        lr: the Adam learning rate (None: :data:`DEFAULT_LR` of the model).
        batch_size: the mini-batch size (default 32).
        max_length: the longest tokenized sentence, in tokens (default 64; longer ones are
            truncated).
        models_dir: a data root for the stored weights (None: the default data root).
        device: the device to train on and to return the model on (None: the trainer's
            default for training, the CPU for the returned model). Not part of the key.
        progress: a progress bar while training (not part of the key).

    Returns:
        The classifier in eval mode, with ``net.training_info``: the settings (``spec``), the
        flipped indices (``flipped``), the last epoch's training accuracy and loss on the
        possibly flipped labels (``train_acc``, ``train_loss``), the per-epoch ``records``,
        ``train_time_s`` and ``torch_threads``.

    Raises:
        ValueError: an unknown ``model``, or ``n_train`` not in 1 ... the split's size (when
            training).
    """
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
    """Accuracy of a classifier on the first sentences of a split.

    Args:
        net: the classifier (:func:`train_text_classifier`).
        split: the split (:func:`load_sentences`).
        n: the number of sentences, the first of the split (all of them if ``n`` exceeds the
            split).
        batch_size: the number of sentences per forward pass (default 128).

    Returns:
        The accuracy, in [0, 1].
    """
    texts, labels = load_sentences(split)
    return float(evaluate(net, (texts[:n], labels[:n]), batch_size=batch_size)["acc"])


def token_masker(net: nn.Module, text: str, n_players: int, seed: int) -> TokenMasker:
    """The :class:`ibn.maskers.TokenMasker` of one sentence for a classifier: meaningful
    words as players, masked to [MASK].

    Args:
        net: the classifier (its ``tokenizer`` and, if set, ``max_length`` are used).
        text: the sentence.
        n_players: the largest number of words drawn as players (fewer when the sentence has
            fewer meaningful words).
        seed: the seed of the draw.

    Returns:
        The masker.

    Raises:
        ValueError: the sentence has no meaningful word.
    """
    return TokenMasker(net.tokenizer, text, n_players=n_players, seed=seed,
                       max_length=getattr(net, "max_length", None))


def text_values(net: nn.Module, text: str, label: int, n_players: int, seed: int,
                *, batch_size: int = 256) -> torch.Tensor:
    r""":math:`v(x_T)` for all :math:`2^n` coalitions :math:`T` (bit :math:`i` = player
    :math:`i`, Conventions page, eq-mask), :math:`v` the log-odds of ``label`` (Conventions
    page, eq-reward), the players :func:`token_masker`'s words.

    Args:
        net: the classifier.
        text: the sentence.
        label: the label whose log-odds is the value (the true label).
        n_players: the largest number of players (:func:`token_masker`).
        seed: the seed of the players' draw.
        batch_size: the number of masked sentences per forward pass (default 256).

    Returns:
        A float64 tensor of length :math:`2^n`, with :math:`n` = min(``n_players``, the number
        of meaningful words).

    Raises:
        ValueError: the sentence has no meaningful word.
    """
    masker = token_masker(net, text, n_players, seed)
    return all_values(net, text, masker, target=int(label), batch_size=batch_size,
                      progress=False).values
