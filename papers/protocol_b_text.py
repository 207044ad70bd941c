"""Paper B's text setup at its own protocol (Appendix K; Conventions page,
conventions-protocol-b): a BERT-type classifier on the Rotten Tomatoes sentences, n = 10 word
players masked with [MASK], ``n_samples`` random **test** sentences, k baselines trained on the
test split.

A :class:`TextSetupB` has the interface of :class:`papers.protocol_b.SetupB` that the chapter
uses (``name``, ``scale``, ``n_players``, ``n_samples``, ``k``, ``key()``, ``record()``), so
:func:`papers.protocol_b.games` and :func:`papers.protocol_b.effects` serve both kinds of setup
and the rules of Fig. 2 apply unchanged. The target is fine-tuned on the whole training split
without label noise (paper B trains its Fig. 2 targets normally; label noise belongs to the
dynamics runs), each baseline on the whole test split with its own seed; a sentence is eligible
when it has at least ``n_players`` meaningful words, so every game has exactly n players.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ibn._progress import tqdm
from papers import text_models as T
from papers.generalizable_text import eligible_sentences, predict_texts
from papers.specs import Training

__all__ = ["TEXT_DATASET", "SCALES_BT", "CountsOfScale", "TextSetupB", "is_text", "text_games"]

#: the sentences' dataset name in setups and cache names.
TEXT_DATASET = "rt_sentences"
#: players, samples, baselines and training per scale (``book`` = ``paper``: Appendix K's n,
#: samples and k, each model trained on its whole split).
SCALES_BT: dict[str, dict[str, Any]] = {
    "smoke": {"n_players": 4, "n_samples": 3, "k": 2,
              "target": Training(n_train=64, epochs=1), "baseline": Training(n_train=64, epochs=1)},
    "book": {"n_players": 10, "n_samples": 50, "k": 5,
             "target": Training(n_train=8454, epochs=3), "baseline": Training(n_train=1057, epochs=5)},
    "paper": {"n_players": 10, "n_samples": 50, "k": 5,
              "target": Training(n_train=8454, epochs=3), "baseline": Training(n_train=1057, epochs=5)},
}


def is_text(model: str, dataset: str) -> bool:
    """Whether ``model`` on ``dataset`` names a text setup (a text classifier or the
    sentences)."""
    return model in T.TEXT_MODELS or dataset.replace("-", "_") == TEXT_DATASET


class CountsOfScale:
    """A paper-B setup's ``n_players``, ``n_samples`` and ``k`` (baselines), read from its
    scale's settings (the class attribute ``COUNTS``, a dict by scale)."""

    COUNTS: dict[str, dict[str, Any]] = {}
    scale: str

    @property
    def n_players(self) -> int:
        return self.COUNTS[self.scale]["n_players"]

    @property
    def n_samples(self) -> int:
        return self.COUNTS[self.scale]["n_samples"]

    @property
    def k(self) -> int:
        return self.COUNTS[self.scale]["k"]


@dataclass(frozen=True)
class TextSetupB(CountsOfScale):
    """One paper-B text setup: ``model`` (``"minilm"`` or ``"bert_medium"``) on the sentences at
    ``scale`` (smoke, book or paper)."""

    COUNTS = SCALES_BT

    model: str
    scale: str
    seed: int = 0
    dataset: str = TEXT_DATASET

    def __post_init__(self) -> None:
        if self.model not in T.TEXT_MODELS:
            raise ValueError(f"model must be one of {T.TEXT_MODELS}, got {self.model!r}")
        if self.scale not in SCALES_BT:
            raise ValueError(f"scale must be one of {sorted(SCALES_BT)}, got {self.scale!r}")
        if self.dataset.replace("-", "_") != TEXT_DATASET:
            raise ValueError(f"dataset must be {TEXT_DATASET!r}, got {self.dataset!r}")
        object.__setattr__(self, "dataset", TEXT_DATASET)

    @property
    def name(self) -> str:
        return f"{self.model}_{self.dataset}"

    def training(self, role: str) -> dict[str, Any]:
        """The keyword arguments of :func:`papers.text_models.train_text_classifier` (besides
        split and seed) for ``role``: ``"target"`` or ``"baseline"``."""
        t = SCALES_BT[self.scale][role]
        return {"n_train": t.n_train, "epochs": t.epochs, "label_noise": t.label_noise}

    def key(self) -> dict[str, Any]:
        """What determines the games (the scale itself is not part of it)."""
        return {"model": self.model, "dataset": self.dataset, "seed": self.seed,
                "n_players": self.n_players, "n_samples": self.n_samples,
                "target": self.training("target"),
                "baselines": [{**self.training("baseline"), "seed": self.seed + 1 + j}
                              for j in range(self.k)]}

    def record(self) -> dict[str, Any]:
        """The setup as a verdict record's ``setups`` entry (without accuracies)."""
        return {"model": self.model, "dataset": self.dataset, "n_players": self.n_players,
                "n_samples": self.n_samples, "k": self.k, "scale": self.scale,
                "target_epochs": self.training("target")["epochs"],
                "baseline_epochs": self.training("baseline")["epochs"]}


def _accuracy(net: torch.nn.Module, texts: list[str], labels: list[int]) -> float:
    return float((predict_texts(net, texts) == torch.as_tensor(labels)).float().mean())


def text_games(setup: TextSetupB, *, progress: bool = False) -> dict[str, Any]:
    r"""The values :math:`v(x_T)` of the target and of the k baselines on ``n_samples`` random
    eligible test sentences (Conventions page, eq-reward, conventions-protocol-b).

    Trains (or loads) the models first.

    Args:
        setup: the text setup.
        progress: progress bars while training and over the sentences.

    Returns:
        The keys of :func:`papers.protocol_b.games`: ``values`` (N, :math:`2^n`),
        ``baseline_values`` (k, N, :math:`2^n`), ``labels``, ``indices`` (into the test split),
        ``players`` (the words of each sentence), ``layer`` (names the masking), the
        accuracies on the validation split, which no model was trained on
        (``target_val_acc``, ``baseline_val_acc``), and the target's on the test split
        (``target_test_acc``) and on the chosen sentences.

    Raises:
        ValueError: fewer eligible test sentences than ``n_samples``.
    """
    target = T.train_text_classifier(setup.model, "train", seed=setup.seed,
                                     progress=progress, **setup.training("target"))
    bases = [T.train_text_classifier(setup.model, "test", seed=setup.seed + 1 + j,
                                     progress=progress, **setup.training("baseline"))
             for j in range(setup.k)]
    texts, labels = T.load_sentences("test")
    val_texts, val_labels = T.load_sentences("validation")
    n = setup.n_players
    chosen = eligible_sentences(target, texts, np.random.default_rng(setup.seed).permutation(
        len(texts)), n, setup.n_samples, setup.seed)
    if len(chosen) < setup.n_samples:
        raise ValueError(f"only {len(chosen)} test sentences have {n} meaningful words")
    idx = np.sort(chosen)
    vals, players = [], []
    for i in tqdm(idx, desc=f"{setup.name} games", disable=not progress, leave=False):
        sd = setup.seed * 100_003 + int(i)
        vals.append(torch.stack([T.text_values(net, texts[i], labels[i], n, sd)
                                 for net in [target] + bases]))
        players.append(list(T.token_masker(target, texts[i], n, sd).players))
    v = torch.stack(vals, 1).to(torch.float64)
    y = torch.as_tensor(labels)
    return {"values": v[0], "baseline_values": v[1:], "labels": y[idx],
            "indices": torch.as_tensor(idx), "players": players,
            "layer": "input words ([MASK])",
            "target_test_acc": _accuracy(target, texts, labels),
            "target_val_acc": _accuracy(target, val_texts, val_labels),
            "target_best_epoch": setup.training("target")["epochs"],
            "baseline_val_acc": [_accuracy(b, val_texts, val_labels) for b in bases],
            "target_on_samples_acc": _accuracy(target, [texts[i] for i in idx],
                                               [labels[i] for i in idx]),
            "scale": setup.scale}
