r"""Paper B Fig. 2, text half: generalizable vs non-generalizable interactions of BERT-type
classifiers on the Rotten Tomatoes sentences (Conventions page, conventions-generalizable and
conventions-protocol-b).

A text *setup* is a classifier of :mod:`papers.text_models` (``"minilm"``: pretrained
MiniLM-L6 fine-tuned; ``"bert_medium"``: BERT-Medium from scratch). :func:`run_text_games`
trains (or loads, cached weights)

* a **target** on the first ``n_train`` sentences of the training split with label noise
  (1 % as in paper B's protocol, Conventions page, conventions-protocol-b), and
* ``k_max`` **baselines** on the first ``n_train`` sentences of the TEST split, seeded
  ``seed + 1 ... seed + k_max`` (one seed each, Conventions page, conventions-generalizable),

then records :math:`v(x_T)` for all :math:`2^n` coalitions (:math:`v` the log-odds of the true
label, Conventions page, eq-reward; players: ``n_players`` meaningful words masked with [MASK],
:func:`papers.text_models.text_values`) of the target and of every baseline on

* ``n_samples`` training sentences of the target (label not flipped, correctly classified, with
  at least ``n_players`` meaningful words, so every game has exactly n players), and
* ``n_heldout`` training-split sentences the target never saw (half misclassified, as in
  :mod:`papers.generalizable`).

The result has the keys of :func:`papers.generalizable.run_games`, so the AND-OR
extraction (:func:`text_interactions`, through ``generalizable.with_effects``) and every analysis
helper of :mod:`papers.generalizable` (``split_strengths``, ``shape_summary``, the
verdicts, ``heldout_groups``) apply unchanged.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ibn import results
from papers import generalizable as G
from papers import text_models as T
from papers.specs import TextGamesSpec, Training

__all__ = ["DATASET", "TEXT_MODELS", "TEXT_PRESETS", "text_setup", "run_text_games", "text_interactions",
           "predict_texts", "target_accuracy", "eligible_sentences"]

#: the dataset name used in cache names and tables.
DATASET = "rt_sentences"
#: the text classifiers (``papers.text_models.TEXT_MODELS``).
TEXT_MODELS = T.TEXT_MODELS
_TARGET = {"label_noise": 0.01}
#: the text settings of paper B Fig. 2 per notebook scale (:class:`papers.specs.TextGamesSpec`).
#: ``models``: the classifiers run; every setup trains max(k_ablation + [k]) baselines.
#: ``target`` / ``baseline``: keyword arguments of
#: :func:`papers.text_models.train_text_classifier` (besides the split and the seed).
TEXT_PRESETS: dict[str, TextGamesSpec] = {
    "smoke": TextGamesSpec(models=("minilm",), n_players=4, n_samples=2, n_heldout=0, n_eval=64,
                           k=1, k_ablation=(1,), target=Training(n_train=16, epochs=1, **_TARGET),
                           baseline=Training(n_train=16, epochs=1, label_noise=0.0)),
    # book: MiniLM fine-tuned briefly, 8 players (paper B's protocol has 10, Conventions page,
    # conventions-protocol-b; 8 keeps the book scale cheap), k <= 5
    "book": TextGamesSpec(models=("minilm",), n_players=8, n_samples=4, n_heldout=0, n_eval=300,
                          k=3, k_ablation=(1, 3, 5),
                          target=Training(n_train=256, epochs=3, **_TARGET),
                          baseline=Training(n_train=256, epochs=2, label_noise=0.0)),
    "paper": TextGamesSpec(models=("minilm", "bert_medium"), n_players=10, n_samples=50,
                           n_heldout=50, n_eval=1000, k=3, k_ablation=(1, 3, 5),
                           target=Training(n_train=4000, epochs=10, **_TARGET),
                           baseline=Training(n_train=1000, epochs=5, label_noise=0.0)),
}


def text_setup(model: str, settings: Mapping[str, Any], scale: str | None, seed: int = 0
               ) -> dict[str, Any]:
    """The :func:`run_text_games` params of one text setup from a preset.

    Args:
        model: the classifier, one of :data:`TEXT_MODELS`.
        settings: a preset of :data:`TEXT_PRESETS` (or a mapping with its fields); the setup
            trains ``k_max = max(k_ablation + [k])`` baselines.
        scale: ``"smoke"``, ``"book"`` or ``"paper"``, recorded for provenance tables (None:
            not recorded).
        seed: seeds the target (``seed``), the baselines (``seed + 1 ... seed + k_max``) and the
            sentence and player draws (default 0).

    Returns:
        A dict with ``n_players``, ``n_samples``, ``n_heldout``, ``n_eval``, ``target``,
        ``baseline``, ``model``, ``dataset`` (:data:`DATASET`), ``seed``, ``scale`` and
        ``k_max``.
    """
    keys = ("n_players", "n_samples", "n_heldout", "n_eval", "target", "baseline")
    p = {k: settings[k] for k in keys}
    k_max = max(list(settings.get("k_ablation", [])) + [settings["k"]])
    p.update(model=model, dataset=DATASET, seed=int(seed), scale=scale, k_max=int(k_max))
    return p


def predict_texts(net: nn.Module, texts: Sequence[str], batch: int = 64) -> torch.Tensor:
    """Predicted labels of sentences.

    Args:
        net: a classifier with ``collate`` (:class:`ibn.models.BertClassifier`).
        texts: the sentences.
        batch: the number of sentences per forward pass (default 64).

    Returns:
        The predicted labels, ``(len(texts),)``, int64 on the CPU.
    """
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            out.append(net(**net.collate(texts[i:i + batch])).argmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def run_text_games(params: Mapping[str, Any], *, recompute: bool = False) -> dict[str, Any]:
    r"""Values :math:`v(x_T)` of the target and of the k baselines on chosen sentences (cached
    as ``B_games_<model>_rt_sentences``; see the module).

    Args:
        params: the setup (:func:`text_setup`); the whole mapping is the cache key.
        recompute: ignore a stored result and compute it again.

    Returns:
        The keys of :func:`papers.generalizable.run_games` (``values`` ``(N, 2^n)``,
        ``baseline_values`` ``(k_max, N, 2^n)``, their ``heldout_`` versions, ``labels``,
        ``indices``, ``heldout_correct``, ``n_flipped``, ``baselines_reused`` (0), the
        accuracies; ``players``: the words masked, per sentence) plus ``texts`` (the training
        sentences, as JSON).
    """
    p = dict(params)
    return results.cached(G.games_name(p), p, lambda: _compute(p),
                          recompute=recompute)


def eligible_sentences(net: nn.Module, texts: Sequence[str], order: np.ndarray,
                       n_players: int, want: int, seed: int) -> list[int]:
    """The sentences whose game has exactly ``n_players`` players.

    Args:
        net: the classifier whose tokenizer cuts the words
            (:func:`papers.text_models.token_masker`).
        texts: the sentences.
        order: indices into ``texts``, in the order they are tried.
        n_players: the number of meaningful words a sentence needs.
        want: how many indices to return at most.
        seed: the seed of the players' draw (sentence i draws with ``seed * 100_003 + i``).

    Returns:
        The first ``want`` indices of ``order`` whose sentence has ``n_players`` meaningful words.
    """
    out = []
    for i in order:
        if len(out) == want:
            break
        try:
            masker = T.token_masker(net, texts[int(i)], n_players, seed * 100_003 + int(i))
        except ValueError:  # no meaningful word
            continue
        if masker.n_players == n_players:
            out.append(int(i))
    return out


def _compute(p: dict[str, Any]) -> dict[str, Any]:
    tp, bp, n, seed = p["target"], p["baseline"], p["n_players"], p["seed"]
    target = T.train_text_classifier(p["model"], "train", seed=seed, **tp)
    bases = [T.train_text_classifier(p["model"], "test", seed=seed + 1 + j, **bp)
             for j in range(p["k_max"])]
    texts, labels = T.load_sentences("train")
    y = torch.as_tensor(labels)
    n_train = tp["n_train"]
    flipped = set(int(i) for i in target.training_info["flipped"])
    rng = np.random.default_rng(seed)
    # training sentences of the target: clean labels, correctly classified
    clean = np.array([i for i in range(n_train) if i not in flipped])
    right = clean[(predict_texts(target, [texts[i] for i in clean]) == y[clean]).numpy()]
    train_idx = np.sort(eligible_sentences(target, texts, rng.permutation(right), n,
                                           p["n_samples"], seed))
    # sentences of the training split the target never saw
    outside = np.arange(n_train, len(texts))
    cand = rng.choice(outside, size=min(len(outside), p["n_eval"]), replace=False)
    cand_pred = predict_texts(target, [texts[i] for i in cand])
    ok = (cand_pred == y[cand]).numpy()
    h = p["n_heldout"]
    wrong = eligible_sentences(target, texts, cand[~ok], n, h // 2, seed)
    good = eligible_sentences(target, texts, cand[ok], n, h - len(wrong), seed)
    ho_idx = np.array(wrong + good, dtype=np.int64)
    acc = {"target_train_acc_noisy": float(target.training_info["train_acc"]),
           "target_test_acc": T.text_accuracy(target, "test", p["n_eval"]),
           "target_heldout_acc": float(ok.mean()),
           "baseline_acc_on_train_split": [float((predict_texts(b, [texts[i] for i in cand])
                                                  == y[cand]).float().mean()) for b in bases]}

    def play(idx: np.ndarray) -> tuple[torch.Tensor, list]:
        vals, players = [], []
        for i in idx:
            i = int(i)
            sd = seed * 100_003 + i
            vals.append(torch.stack([T.text_values(net, texts[i], labels[i], n, sd)
                                     for net in [target] + bases]))
            players.append(T.token_masker(target, texts[i], n, sd).players)
        out = torch.stack(vals, 1) if vals else torch.zeros(1 + len(bases), 0, 1 << n,
                                                               dtype=torch.float64)
        return out, players

    v, players = play(train_idx)
    hv, hplayers = play(ho_idx)
    return {"values": v[0], "baseline_values": v[1:], "players": players,
            "heldout_values": hv[0], "heldout_baseline_values": hv[1:], "heldout_players": hplayers,
            "labels": y[train_idx], "indices": train_idx, "heldout_labels": y[ho_idx],
            "heldout_indices": ho_idx, "heldout_correct": torch.as_tensor(
                np.concatenate([np.zeros(len(wrong), bool), np.ones(len(good), bool)])),
            "texts": json.dumps([texts[int(i)] for i in train_idx]),
            "n_flipped": len(flipped), "baselines_reused": 0, "accuracy": json.dumps(acc),
            **{k: v for k, v in acc.items() if not isinstance(v, list)}}


def text_interactions(params: Mapping[str, Any], solver: str = "lp", noise_bound: float = 0.02, *,
                      recompute: bool = False, **sgd: Any) -> dict[str, Any]:
    r""":func:`run_text_games` plus the AND-OR effects of every game
    (:func:`papers.generalizable.with_effects`, cached as ``B_effects_<model>_rt_sentences``).

    Args:
        params: the setup (:func:`text_setup`).
        solver: ``"lp"`` (default: the exact optimum of Conventions page, eq-sparsest) or
            ``"sgd"`` (the lab's SGD, :func:`papers.generalizable.sgd_best_rate`).
        noise_bound: the factor of the noise bound :math:`\zeta` (Conventions page,
            eq-noise-bound; default 0.02).
        recompute: ignore stored effects and compute them again (the games are still read
            from their cache).
        **sgd: ``sgd_steps`` and ``sgd_lrs`` of :func:`papers.generalizable.with_effects`.

    Returns:
        The games plus ``and``, ``or`` ``(N, 2^n)``, ``baseline_and``, ``baseline_or``
        ``(k, N, 2^n)`` and the same with a ``heldout_`` prefix.

    Raises:
        ValueError: an unknown ``solver``.
    """
    return G.with_effects(run_text_games(params), params, G.effects_name(params),
                          solver, noise_bound, recompute=recompute, **sgd)


def target_accuracy(params: Mapping[str, Any], *, recompute: bool = False) -> dict[str, float]:
    """Accuracies of the target of a setup alone (no baselines, no games; cached as
    ``B_text_target_<model>``). For a model whose games are not run, to say how well it learned.

    Args:
        params: the setup (:func:`text_setup`; ``model``, ``seed``, ``target``, ``n_eval`` and
            ``scale`` are read and make the cache key).
        recompute: ignore a stored result and compute it again (the stored model is still
            loaded).

    Returns:
        ``{"train_acc": ..., "test_acc": ...}``: the last epoch's training accuracy (on the
        noisy labels) and the accuracy on the first ``n_eval`` test sentences.
    """
    p = {k: params[k] for k in ("model", "seed", "target", "n_eval", "scale")}

    def compute() -> dict[str, float]:
        net = T.train_text_classifier(p["model"], "train", seed=p["seed"], **p["target"])
        return {"train_acc": float(net.training_info["train_acc"]),
                "test_acc": T.text_accuracy(net, "test", p["n_eval"])}

    return results.cached(f"B_text_target_{p['model']}", p, compute, recompute=recompute)
