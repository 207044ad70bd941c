r"""Paper B: generalizable vs non-generalizable interactions of image classifiers (Conventions page,
conventions-generalizable, conventions-distributions, conventions-protocol-b).

One *setup* is a model architecture on a dataset. :func:`run_games` trains (or loads)

* a **target** model on a small subset of the training split with label noise (it over-fits, so
  non-generalizable interactions exist; 1 % noise as in paper B's protocol, Conventions page,
  conventions-protocol-b), and
* ``k_max`` **baseline** models on (a subset of) the TEST split, one seed each (Conventions page,
  conventions-generalizable),

then records the values :math:`v(x_T)` of every coalition (:math:`2^n` of them,
:func:`ibn.games.all_values`) of the target
and of every baseline, on the same players (a :class:`ibn.maskers.FeatureMapMasker`: n patches
of the feature map after VGG's 2nd ReLU / ResNet-20's first block, 8×8 grid, central 6×6,
zero baseline; Conventions page, conventions-protocol-b) for

* ``n_samples`` training samples of the target (correctly classified, labels not flipped), and
* ``n_heldout`` samples of the training split the target never saw, half correctly classified
  and half misclassified by the target (paper B Fig. 8).

The reward is the log-odds of the true label (Conventions page, eq-reward). :func:`interactions`
extracts AND-OR interactions from those values with a chosen sparsifier (``"lp"``: the exact optimum
of eq. 17, Conventions page, eq-sparsest; ``"sgd"``: the lab's SGD), both cached with
:func:`ibn.results.cached`. The analysis helpers (:func:`split_strengths`, :func:`shape_summary`,
:func:`fit_theory`, ...) turn effects into the curves :math:`A^{(m),\pm}` (total),
:math:`A^{(m),\pm}_{\mathrm{gen}}` and :math:`A^{(m),\pm}_{\mathrm{non}}` (Conventions page,
eq-order-strength, eq-gen-non), shape statistics and verdicts.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ibn._progress import tqdm
from ibn import distributions as dist
from ibn import games as ibn_games
from ibn import results
from ibn.and_or import extract
from ibn.data import dataset_name, load_images
from ibn.distributions import Strengths
from ibn.maskers import FeatureMapMasker
from ibn.model_store import cached_model
from ibn.models import build
from ibn.train import train
from papers.specs import GamesSpec, Training

__all__ = [
    "load_images", "train_model", "run_games", "setup_slug", "games_name", "effects_name", "effects_key",
    "interactions", "with_effects",
    "sgd_best_rate", "split_strengths", "cancellation", "cancellation_total", "shape_summary",
    "decay_verdict", "spindle_verdict", "fit_theory", "cross_similarity", "order_table",
    "setup_params", "setup_of", "PRESETS", "ALL_SETUPS", "per_sample_share",
    "heldout_groups", "spindle_share",
]

# ---------------------------------------------------------------- training


def train_model(model: str, dataset: str, *, split: str, n_train: int, epochs: int, seed: int,
                lr: float = 1e-3, batch_size: int = 64, label_noise: float = 0.0,
                device: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``model`` on ``n_train`` images of ``split`` (Adam, seeded), or load its weights.

    Weights are kept by :func:`ibn.model_store.cached_model` (``data/models/``, git-ignored,
    keyed by the hash of the settings; an interrupted training resumes).

    Args:
        model: the architecture, a name of :func:`ibn.models.build` (e.g. ``"resnet20"``,
            ``"vgg11"``), built for one input channel.
        dataset: the dataset (``"mnist"`` or ``"fashion-mnist"``).
        split: the split trained on: ``"train"`` (targets) or ``"test"`` (baselines).
        n_train: the number of images trained on (a seeded subset of ``split``).
        epochs: the number of epochs.
        seed: the seed of the initial weights, the subset, the flipped labels and the batch
            order.
        lr: the Adam learning rate (default 1e-3).
        batch_size: the mini-batch size (default 64).
        label_noise: the fraction of the subset's labels flipped (default 0).
        device: the device to train on and to move the model to (None: the trainer's default;
            the model stays where the store loads it). Not part of the key.

    Returns:
        ``(model, info)``: the model in eval mode, and a dict with ``subset`` (the training
        indices into ``split``), ``flipped`` (the flipped-label indices into the subset),
        ``train_acc`` (the last epoch's training accuracy, on the noisy labels) and ``spec``
        (the settings).
    """
    spec = {"model": model, "dataset": dataset, "split": split, "n_train": n_train,
            "epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size,
            "label_noise": label_noise}

    def fit(net: nn.Module, train_dir) -> dict[str, Any]:
        x, y = load_images(dataset, split)
        hist = train(net, (x, y), epochs=epochs, batch_size=batch_size, optimizer="adam", lr=lr,
                     label_noise=label_noise, num_classes=10, subset=n_train, seed=seed,
                     device=device, checkpoint_dir=train_dir, progress=False)
        return {"subset": hist.subset, "flipped": hist.flipped,
                "train_acc": hist.last("train_acc"), "spec": spec}

    net, info = cached_model(f"generalizable-{model}-{dataset}", spec,
                             lambda: build(model, seed=seed, in_channels=1), fit)
    if device is not None:
        net.to(device)
    return net, info


def _predict(net: nn.Module, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    dev = next(net.parameters()).device
    with torch.inference_mode():
        return torch.cat([net(x[i:i + batch].to(dev)).argmax(1).cpu() for i in range(0, len(x), batch)])


# ---------------------------------------------------------------- games


def run_games(params: Mapping[str, Any], *, recompute: bool = False,
              progress: bool = False) -> dict[str, Any]:
    r"""Values :math:`v(x_T)` of the target and of the k baselines on the chosen samples
    (cached as :func:`games_name`).

    Baseline j is seeded ``seed + 1 + j`` whatever ``k_max`` is, and the samples and players
    depend on the target alone, so the games with ``k_max`` baselines contain those with fewer.
    When the cache holds the same setup with fewer baselines (:math:`k_0 <` ``k_max``), only
    baselines :math:`k_0 + 1, \dots,` ``k_max`` are trained and played; the target's values and
    the first :math:`k_0` baselines' are taken from that cache (never with ``recompute`` or
    ``IBN_RECOMPUTE=1``).

    Args:
        params: the setup (:func:`setup_params`): ``model``, ``dataset``, ``n_players``,
            ``n_samples``, ``n_heldout``, ``k_max``, ``seed``, ``target`` (dict: ``n_train``,
            ``epochs``, ``lr``, ``batch_size``, ``label_noise``), ``baseline`` (dict:
            ``n_train``, ``epochs``, ``lr``, ``batch_size``), ``n_eval`` (the images used to
            measure accuracies); the whole mapping is the cache key.
        recompute: ignore a stored result and compute it again.
        progress: a progress bar over the samples while the games are played (not part of the
            cache key).

    Returns:
        A dict: ``values`` ``(N, 2^n)`` and ``baseline_values`` ``(k_max, N, 2^n)`` on the
        training samples, ``heldout_values``, ``heldout_baseline_values`` and
        ``heldout_correct`` (whether the target classifies each held-out sample correctly) on
        the held-out samples; ``labels``, ``indices``, ``players`` and their ``heldout_``
        versions; ``n_flipped``; the models' accuracies (``accuracy`` as JSON, and its scalar
        entries as keys); and ``baselines_reused`` (:math:`k_0`, 0 for a full computation).
    """
    p = dict(params)
    name = games_name(p)
    fresh = recompute or os.environ.get("IBN_RECOMPUTE", "") not in ("", "0")

    def compute() -> dict[str, Any]:
        for k0 in range(p["k_max"] - 1, 0, -1):
            smaller = {**p, "k_max": k0}
            if not fresh and results.result_path(name, smaller).is_file():
                return _compute_games(p, reuse=results.load_result(name, smaller),
                                      progress=progress)
        return _compute_games(p, progress=progress)

    return results.cached(name, p, compute, recompute=recompute)


def setup_slug(params: Mapping[str, Any]) -> str:
    """The setup's part of a result name.

    Args:
        params: the setup's params (``model`` and ``dataset`` are read).

    Returns:
        ``<model>_<dataset>``, with ``fashion-mnist`` written ``fashion_mnist``.
    """
    return f"{params['model']}_{params['dataset'].replace('-', '_')}"


def games_name(params: Mapping[str, Any]) -> str:
    """The cache name of :func:`run_games`.

    Args:
        params: the setup's params (``model`` and ``dataset`` are read).

    Returns:
        ``B_games_<model>_<dataset>`` (:func:`setup_slug`).
    """
    return f"B_games_{setup_slug(params)}"


def effects_name(params: Mapping[str, Any]) -> str:
    """The cache name of :func:`interactions`.

    Args:
        params: the setup's params (``model`` and ``dataset`` are read).

    Returns:
        ``B_effects_<model>_<dataset>`` (:func:`setup_slug`).
    """
    return f"B_effects_{setup_slug(params)}"


def _select(p: Mapping[str, Any], target: nn.Module, tinfo: Mapping[str, Any]) -> dict[str, Any]:
    """The samples of a setup (deterministic given the target and ``p["seed"]``).

    Training samples: ``n_samples`` of the target's subset, correctly classified, clean labels.
    Held-out: ``n_heldout`` of the training split outside the subset, half misclassified by the
    target (as many as exist) and the rest correct. Also the held-out candidates ``cand`` (used
    for accuracies) and the target's predictions on them.
    """
    x_tr, y_tr = load_images(p["dataset"], "train")
    subset = torch.as_tensor(tinfo["subset"])
    flipped = set(int(i) for i in tinfo["flipped"])
    rng = np.random.default_rng(p["seed"])
    clean = torch.as_tensor([int(subset[i]) for i in range(len(subset)) if i not in flipped])
    pred = _predict(target, x_tr[clean])
    pool = clean[pred == y_tr[clean]].numpy()
    train_idx = np.sort(rng.choice(pool, size=min(p["n_samples"], len(pool)), replace=False))
    outside = np.setdiff1d(np.arange(len(y_tr)), subset.numpy())
    cand = rng.choice(outside, size=min(len(outside), max(p["n_eval"], 20 * p["n_heldout"])),
                      replace=False)
    cand_pred = _predict(target, x_tr[cand])
    right = cand[(cand_pred == y_tr[cand]).numpy()]
    wrong = cand[(cand_pred != y_tr[cand]).numpy()]
    h = p["n_heldout"]
    n_wrong = min(h // 2, len(wrong))
    return {"train_idx": train_idx, "cand": cand, "cand_pred": cand_pred, "n_flipped": len(flipped),
            "ho_idx": np.concatenate([wrong[:n_wrong], right[: h - n_wrong]]),
            "ho_correct": np.concatenate([np.zeros(n_wrong, bool), np.ones(h - n_wrong, bool)])}


def _play(p: Mapping[str, Any], nets: Sequence[nn.Module], idx: np.ndarray, what: str, *,
          progress: bool = False) -> tuple[torch.Tensor, list]:
    """Values (len(nets), len(idx), 2^n) of every net on the samples ``idx`` of the training
    split, with the players of each sample (FeatureMapMasker seeded by seed and sample index);
    a progress bar over the samples if ``progress``."""
    x_tr, y_tr = load_images(p["dataset"], "train")
    vals, players = [], []
    for i in tqdm(idx, desc=f"{p['model']}/{p['dataset']} {what} games", leave=False,
                  disable=not progress):
        masker = FeatureMapMasker(grid=8, central=6, n_players=p["n_players"],
                                  seed=p["seed"] * 100_003 + int(i))
        y = int(y_tr[i])
        vals.append(torch.stack([ibn_games.all_values(net, x_tr[i], masker, target=y, progress=False)
                                 for net in nets]))
        players.append(masker.players)
    m = 1 << p["n_players"]
    out = torch.stack(vals, 1) if vals else torch.zeros(len(nets), 0, m, dtype=torch.float64)
    return out, players


def _compute_games(p: dict[str, Any], reuse: Mapping[str, Any] | None = None, *,
                   progress: bool = False) -> dict[str, Any]:
    dev = "cuda" if torch.cuda.is_available() else None
    tp, bp = p["target"], p["baseline"]
    k0 = 0 if reuse is None else int(reuse["baseline_values"].shape[0])
    target, tinfo = train_model(p["model"], p["dataset"], split="train", seed=p["seed"],
                                device=dev, **tp)
    bases = [train_model(p["model"], p["dataset"], split="test", seed=p["seed"] + 1 + j,
                         device=dev, **bp)[0] for j in range(k0, p["k_max"])]
    x_tr, y_tr = load_images(p["dataset"], "train")
    x_te, y_te = load_images(p["dataset"], "test")
    n_eval = p["n_eval"]
    sel = _select(p, target, tinfo)
    cand, cand_pred = sel["cand"], sel["cand_pred"]
    base_acc = [float((_predict(b, x_tr[cand]) == y_tr[cand]).float().mean()) for b in bases]
    if reuse is None:
        acc = {
            "target_train_acc_noisy": float(tinfo["train_acc"]),
            "target_test_acc": float((_predict(target, x_te[:n_eval]) == y_te[:n_eval]).float().mean()),
            "target_heldout_acc": float((cand_pred == y_tr[cand]).float().mean()),
            "baseline_acc_on_train_split": base_acc,
        }
        v, players = _play(p, [target] + bases, sel["train_idx"], "train", progress=progress)
        hv, hplayers = _play(p, [target] + bases, sel["ho_idx"], "held-out", progress=progress)
        out = {"values": v[0], "baseline_values": v[1:], "players": players,
               "heldout_values": hv[0], "heldout_baseline_values": hv[1:], "heldout_players": hplayers}
    else:
        if not (np.array_equal(sel["train_idx"], np.asarray(reuse["indices"]))
                and np.array_equal(sel["ho_idx"], np.asarray(reuse["heldout_indices"]))):
            raise RuntimeError("the cached games with fewer baselines used other samples "
                               "(the target changed?); recompute them")
        acc = json.loads(reuse["accuracy"])
        acc["baseline_acc_on_train_split"] = list(acc["baseline_acc_on_train_split"]) + base_acc
        v, _ = _play(p, bases, sel["train_idx"], "train", progress=progress)
        hv, _ = _play(p, bases, sel["ho_idx"], "held-out", progress=progress)
        out = {key: reuse[key] for key in ("values", "players", "heldout_values", "heldout_players")}
        out["baseline_values"] = torch.cat([reuse["baseline_values"], v])
        out["heldout_baseline_values"] = torch.cat([reuse["heldout_baseline_values"], hv])
    return {
        **out, "labels": y_tr[sel["train_idx"]], "indices": sel["train_idx"],
        "heldout_labels": y_tr[sel["ho_idx"]], "heldout_indices": sel["ho_idx"],
        "heldout_correct": torch.as_tensor(sel["ho_correct"]), "n_flipped": sel["n_flipped"],
        "baselines_reused": k0,
        "accuracy": json.dumps(acc), **{k: v for k, v in acc.items() if not isinstance(v, list)},
    }


# ---------------------------------------------------------------- extraction


#: the learning rates the SGD sparsifier tries (the lab used 1e-7 ... 1e-5;
#: Conventions page, conventions-and-or).
SGD_LRS = (1e-7, 1e-6, 1e-5)
#: its number of steps (the lab used 20 000 - 50 000; Conventions page, conventions-and-or).
SGD_STEPS = 20_000
#: the SGD implementation used (the lab's procedure, ``ibn.and_or.sgd``).
SGD_EXTRACTOR = ("ibn.and_or.extract(solver='sgd', lab _train_p_q with gamma_0 free and its loss "
                 "terms), best of sgd_lrs per game")


def sgd_best_rate(values: torch.Tensor, noise_bound: float = 0.02, *, steps: int = SGD_STEPS,
                  lrs: Sequence[float] = SGD_LRS) -> dict[str, torch.Tensor]:
    r"""The lab's SGD sparsifier of eq. 17 (Conventions page, eq-sparsest) run with every rate of
    ``lrs``; per game the result with the smallest objective
    :math:`\sum_{S \neq \emptyset} |I^{\mathrm{AND}}_S| + |I^{\mathrm{OR}}_S|` is kept.

    Each run is ``ibn.and_or.extract(values, solver="sgd", steps=steps, lr=rate)`` (the faithful
    lab procedure of :mod:`ibn.and_or.sgd`: start :math:`u^{\mathrm{AND}} = u^{\mathrm{OR}} =
    v/2` up to the bias, momentum 0.9, rate decayed log-uniformly from ``rate`` to ``rate``/10,
    :math:`\delta` clipped to :math:`\pm\zeta` with :math:`\zeta = \mathtt{noise\_bound} \cdot
    |v_N - v_\emptyset|` per game; Conventions page, eq-noise-bound). The step size is not
    scale-free (the subgradient has entries up to :math:`2^n`), hence several rates.

    Args:
        values: the games, ``(..., 2^n)`` (converted to float64).
        noise_bound: the factor of :math:`\zeta` (default 0.02).
        steps: the number of SGD steps per run (default :data:`SGD_STEPS`).
        lrs: the initial learning rates tried (default :data:`SGD_LRS`).

    Returns:
        A dict: ``and_effects``, ``or_effects`` and ``delta`` ``(..., 2^n)``, ``objective``
        ``(...)`` and ``lr`` ``(...)`` (the rate chosen per game).

    Raises:
        ValueError: ``lrs`` is empty.
    """
    if len(lrs) == 0:
        raise ValueError("lrs must name at least one learning rate")
    v = torch.as_tensor(values, dtype=torch.float64)
    runs = [extract(v, noise_bound=noise_bound, solver="sgd", steps=int(steps), lr=float(r))
            for r in lrs]
    obj = torch.stack([r.objective for r in runs])
    best = obj.argmin(0)

    def pick(key: str) -> torch.Tensor:
        stacked = torch.stack([getattr(r, key) for r in runs])
        return stacked.gather(0, best[None, ..., None].expand(1, *stacked.shape[1:]))[0]

    return {"and_effects": pick("and_effects"), "or_effects": pick("or_effects"),
            "delta": pick("delta"), "objective": obj.min(0).values,
            "lr": torch.as_tensor([float(r) for r in lrs], dtype=torch.float64)[best]}


def effects_key(params: Mapping[str, Any], solver: str = "lp", noise_bound: float = 0.02, *,
                sgd_steps: int = SGD_STEPS, sgd_lrs: Sequence[float] = SGD_LRS) -> dict[str, Any]:
    r"""The cache params of :func:`interactions` (also for ``show_provenance``).

    Args:
        params: the games' params (:func:`setup_params`).
        solver: ``"lp"`` (default) or ``"sgd"``.
        noise_bound: the factor of the noise bound :math:`\zeta` (Conventions page,
            eq-noise-bound; default 0.02).
        sgd_steps: the SGD steps (part of the key with ``solver="sgd"`` only).
        sgd_lrs: the SGD learning rates (part of the key with ``solver="sgd"`` only).

    Returns:
        A dict: ``games`` (the params), ``solver``, ``noise_bound`` and ``scale``; with
        ``solver="sgd"`` also ``sgd_lrs``, ``sgd_steps`` and ``sgd_extractor``
        (:data:`SGD_EXTRACTOR`).
    """
    key = {"games": dict(params), "solver": solver, "noise_bound": noise_bound,
           "scale": params.get("scale")}
    if solver == "sgd":  # the implementation is part of the key (a new one is a new result)
        key.update(sgd_lrs=[float(x) for x in sgd_lrs], sgd_steps=int(sgd_steps),
                   sgd_extractor=SGD_EXTRACTOR)
    return key


def interactions(params: Mapping[str, Any], solver: str = "lp", noise_bound: float = 0.02, *,
                 sgd_steps: int = SGD_STEPS, sgd_lrs: Sequence[float] = SGD_LRS,
                 recompute: bool = False, progress: bool = False) -> dict[str, Any]:
    r"""Games of :func:`run_games` plus the AND-OR effects of every game (cached per solver as
    :func:`effects_name` under :func:`effects_key`; :func:`with_effects`).

    Args:
        params: the setup (:func:`setup_params`).
        solver: ``"lp"`` (default: the exact optimum of Conventions page, eq-sparsest) or
            ``"sgd"`` (the lab's SGD, :func:`sgd_best_rate`).
        noise_bound: the factor of the noise bound :math:`\zeta` (Conventions page,
            eq-noise-bound; default 0.02).
        sgd_steps: the SGD steps (with ``solver="sgd"``).
        sgd_lrs: the SGD learning rates tried (with ``solver="sgd"``).
        recompute: ignore stored effects and compute them again (the games are still read
            from their cache).
        progress: a progress bar while the games are played (:func:`run_games`).

    Returns:
        The games' result plus ``and``, ``or`` ``(N, 2^n)``, ``baseline_and``,
        ``baseline_or`` ``(k, N, 2^n)``, the same with a ``heldout_`` prefix, ``extractor``
        and, with ``"sgd"``, ``sgd_lr`` (the rate chosen per game).

    Raises:
        ValueError: an unknown ``solver``.
    """
    return with_effects(run_games(params, progress=progress), params,
                        effects_name(params), solver, noise_bound,
                        sgd_steps=sgd_steps, sgd_lrs=sgd_lrs, recompute=recompute)


def with_effects(games: Mapping[str, Any], params: Mapping[str, Any], name: str, solver: str = "lp",
                 noise_bound: float = 0.02, *, sgd_steps: int = SGD_STEPS,
                 sgd_lrs: Sequence[float] = SGD_LRS, recompute: bool = False) -> dict[str, Any]:
    r"""Games plus the AND-OR effects of every game, cached as ``name`` under
    :func:`effects_key`. Shared by the image (:func:`interactions`) and the text setups
    (:mod:`papers.generalizable_text`).

    Args:
        games: a games result with ``values`` ``(N, 2^n)``, ``baseline_values``
            ``(k, N, 2^n)`` and their ``heldout_`` versions.
        params: the params of those games (part of the cache key).
        name: the cache name.
        solver: ``"lp"`` (default: the exact optimum, :func:`ibn.and_or.extract`) or ``"sgd"``
            (the lab's SGD, :func:`sgd_best_rate`).
        noise_bound: the factor of the noise bound :math:`\zeta` (Conventions page,
            eq-noise-bound; default 0.02).
        sgd_steps: the SGD steps (with ``solver="sgd"``).
        sgd_lrs: the SGD learning rates tried (with ``solver="sgd"``).
        recompute: ignore stored effects and compute them again.

    Returns:
        ``games`` plus ``and``, ``or`` ``(N, 2^n)``, ``baseline_and``, ``baseline_or``
        ``(k, N, 2^n)``, the same with a ``heldout_`` prefix, ``extractor`` and, with
        ``"sgd"``, ``sgd_lr`` (and ``heldout_sgd_lr``).

    Raises:
        ValueError: an unknown ``solver``.
    """
    if solver not in ("lp", "sgd"):
        raise ValueError(f"solver must be 'lp' or 'sgd', got {solver!r}")
    key = effects_key(params, solver, noise_bound, sgd_steps=sgd_steps, sgd_lrs=sgd_lrs)

    def effects_of(both: torch.Tensor) -> dict[str, Any]:
        if not both.numel():
            return {"and_effects": both.clone(), "or_effects": both.clone(), "extractor": "none"}
        if solver == "sgd":  # the lab's SGD, best of sgd_lrs per game
            best = sgd_best_rate(both, noise_bound, steps=sgd_steps, lrs=tuple(sgd_lrs))
            return {"and_effects": best["and_effects"], "or_effects": best["or_effects"],
                    "sgd_lr": best["lr"], "extractor": SGD_EXTRACTOR}
        res = extract(both, noise_bound=noise_bound, solver="lp")  # the exact optimum
        return {"and_effects": res.and_effects, "or_effects": res.or_effects,
                "extractor": "ibn.and_or.extract(solver='lp')"}

    def compute() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prefix in ("", "heldout_"):
            v, vb = games[f"{prefix}values"], games[f"{prefix}baseline_values"]
            eff = effects_of(torch.cat([v.unsqueeze(0), vb]).to(torch.float64))  # (1 + k, N, 2^n)
            out[f"{prefix}and"], out[f"{prefix}baseline_and"] = eff["and_effects"][0], eff["and_effects"][1:]
            out[f"{prefix}or"], out[f"{prefix}baseline_or"] = eff["or_effects"][0], eff["or_effects"][1:]
            if "sgd_lr" in eff:
                out[f"{prefix}sgd_lr"] = eff["sgd_lr"]
            if eff["extractor"] != "none":
                out["extractor"] = eff["extractor"]
        return out

    eff = results.cached(name, key, compute, recompute=recompute)
    return {**games, **eff}


# ---------------------------------------------------------------- analysis


def split_strengths(res: Mapping[str, Any], k: int | None = None, *, prefix: str = "",
                    tau: float | torch.Tensor | None = None) -> tuple[Strengths, Strengths, Strengths]:
    r"""Per-sample :math:`A`, :math:`A_{\mathrm{gen}}` and :math:`A_{\mathrm{non}}` using the
    first ``k`` baselines (Conventions page, eq-rho-hat, eq-order-strength, eq-gen-non).

    Args:
        res: games plus effects (:func:`interactions`): ``{prefix}values``, ``{prefix}and``,
            ``{prefix}or`` ``(N, 2^n)``, ``{prefix}baseline_and`` and ``{prefix}baseline_or``
            ``(k, N, 2^n)``.
        k: the number of baselines used, the first ones (None: all).
        prefix: ``""`` (default: the training samples) or ``"heldout_"`` (the held-out ones).
        tau: the salience threshold :math:`\tau` (Conventions page, eq-salient); None:
            :math:`0.02 \cdot \mathbb{E}_x |v(x_N) - v(x_\emptyset)|` over the target's values of
            these samples.

    Returns:
        ``(total, gen, non)``, :class:`~ibn.distributions.Strengths` of shape ``(N, n+1)``.

    Raises:
        ValueError: ``k`` is not between 1 and the number of baselines.
    """
    a, o = res[f"{prefix}and"], res[f"{prefix}or"]
    kk = res[f"{prefix}baseline_and"].shape[0] if k is None else k
    if not 1 <= kk <= res[f"{prefix}baseline_and"].shape[0]:
        raise ValueError(f"k = {k} baselines requested, {res[f'{prefix}baseline_and'].shape[0]} available")
    if tau is None:
        tau = dist.tau_from_values(res[f"{prefix}values"])
    base = [(res[f"{prefix}baseline_and"][j], res[f"{prefix}baseline_or"][j]) for j in range(kk)]
    return dist.generalizable_strengths(a, o, base, tau, average=False)


def cancellation(s: Strengths) -> torch.Tensor:
    r"""The cancellation ratio per order,
    :math:`|A^{(m),+} + A^{(m),-}| / (A^{(m),+} - A^{(m),-})`: 0 = full :math:`\pm`
    cancellation, 1 = one sign only. (:math:`A^{(m),-} \le 0`, so the denominator is
    :math:`A^{(m),+} + |A^{(m),-}|`.)

    Args:
        s: the curves, ``(..., n+1)``.

    Returns:
        The ratios, ``(..., n+1)``; NaN where an order has no strength.
    """
    den = s.plus - s.minus
    return torch.where(den > 0, (s.plus + s.minus).abs() / den.where(den > 0, torch.ones_like(den)),
                       torch.full_like(den, float("nan")))


def cancellation_total(s: Strengths) -> torch.Tensor:
    r"""The cancellation ratio over all orders,
    :math:`\sum_m |A^{(m),+} + A^{(m),-}| / \sum_m (A^{(m),+} - A^{(m),-})`.

    Args:
        s: the curves, ``(..., n+1)``.

    Returns:
        The ratio per leading index, ``(...)``; NaN where the curve has no strength.
    """
    num = (s.plus + s.minus).abs().sum(-1)
    den = (s.plus - s.minus).sum(-1)
    return torch.where(den > 0, num / den.where(den > 0, torch.ones_like(den)),
                       torch.full_like(den, float("nan")))


def _nan_stats(x: torch.Tensor) -> tuple[float, float]:
    x = x[torch.isfinite(x)].double()
    if x.numel() == 0:
        return float("nan"), float("nan")
    return float(x.mean()), float(x.std()) if x.numel() > 1 else 0.0


def shape_summary(total: Strengths, gen: Strengths, non: Strengths) -> dict[str, float]:
    r"""Shape statistics of per-sample curves: means, spread over samples, shares.

    Args:
        total: the per-sample :math:`A`, ``(N, n+1)``.
        gen: the per-sample :math:`A_{\mathrm{gen}}`, ``(N, n+1)``.
        non: the per-sample :math:`A_{\mathrm{non}}`, ``(N, n+1)``.

    Returns:
        A dict, with ``*`` each of ``total``, ``gen`` and ``non``: ``mean_order_*`` (the
        strength-weighted mean order of the sample-averaged curve,
        :func:`ibn.distributions.mean_order`) and ``mean_order_*_std`` (the standard deviation
        of the per-sample values); ``peak_*`` (the peak order of the averaged curve);
        ``cancel_*`` (:func:`cancellation_total` of the averaged curve) and ``cancel_*_std``
        (over the samples); ``strength_*`` (the total strength of the averaged curve);
        ``non_share`` (``strength_non / strength_total``, NaN when that is 0) and ``n``.
    """
    out: dict[str, float] = {}
    for key, s in (("total", total), ("gen", gen), ("non", non)):
        mean = s.mean()
        out[f"mean_order_{key}"] = float(dist.mean_order(mean))
        out[f"mean_order_{key}_std"] = _nan_stats(dist.mean_order(s))[1]
        out[f"peak_{key}"] = int(dist.peak_order(mean))
        out[f"cancel_{key}"] = float(cancellation_total(mean))
        out[f"cancel_{key}_std"] = _nan_stats(cancellation_total(s))[1]
        out[f"strength_{key}"] = float(mean.total().sum())
    out["non_share"] = out["strength_non"] / out["strength_total"] if out["strength_total"] else float("nan")
    out["n"] = total.n
    return out


def decay_verdict(summary: Mapping[str, float]) -> tuple[bool, str]:
    r"""Claim 1 (decay): the generalizable curve peaks at a low order
    (:math:`\le \max(2, \operatorname{round}(n/4))`) and its strength-weighted mean order is
    below both :math:`n/2` and the non-generalizable one.

    Args:
        summary: :func:`shape_summary` (or a mapping with ``n``, ``peak_gen``,
            ``mean_order_gen`` and ``mean_order_non``).

    Returns:
        ``(passed, why)``: whether every check holds, and each check with its numbers and
        ``yes`` or ``NO``.
    """
    n = summary["n"]
    low = max(2, round(n / 4))
    checks = {f"peak_gen {summary['peak_gen']} <= {low}": summary["peak_gen"] <= low,
              f"mean_order_gen {summary['mean_order_gen']:.2f} < n/2 = {n / 2:g}":
                  summary["mean_order_gen"] < n / 2,
              f"mean_order_gen {summary['mean_order_gen']:.2f} < mean_order_non "
              f"{summary['mean_order_non']:.2f}": summary["mean_order_gen"] < summary["mean_order_non"]}
    ok = all(checks.values())
    return ok, "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())


def spindle_verdict(summary: Mapping[str, float]) -> tuple[bool, str]:
    r"""Claim 2 (spindle): the non-generalizable curve peaks at an interior order
    (:math:`2 \le m^* \le n - 1`), its mean order exceeds the generalizable one, and its
    :math:`\pm` cancellation is stronger (a smaller ratio, :func:`cancellation_total`).

    Args:
        summary: :func:`shape_summary` (``n``, ``peak_non``, ``mean_order_non``,
            ``mean_order_gen``, ``cancel_non`` and ``cancel_gen`` are read).

    Returns:
        ``(passed, why)``: whether every check holds, and each check with its numbers and
        ``yes`` or ``NO``.
    """
    n = summary["n"]
    checks = {f"2 <= peak_non {summary['peak_non']} <= {n - 1}": 2 <= summary["peak_non"] <= n - 1,
              f"mean_order_non {summary['mean_order_non']:.2f} > mean_order_gen "
              f"{summary['mean_order_gen']:.2f}": summary["mean_order_non"] > summary["mean_order_gen"],
              f"cancel_non {summary['cancel_non']:.2f} < cancel_gen {summary['cancel_gen']:.2f}":
                  summary["cancel_non"] < summary["cancel_gen"]}
    ok = all(checks.values())
    return ok, "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())


def order_table(curves: Mapping[str, Strengths]) -> list[dict[str, float]]:
    r"""A table of named averaged curves, one row per order :math:`m = 1, \dots, n`.

    Args:
        curves: named curves, each ``(n+1,)`` (all of the same n).

    Returns:
        One dict per order: ``m`` and, per name, ``<name>+`` (:math:`A^{(m),+}`), ``<name>-``
        (:math:`A^{(m),-}`) and ``<name> cancel`` (:func:`cancellation`).
    """
    rows = []
    first = next(iter(curves.values()))
    for m in range(1, first.n + 1):
        row: dict[str, float] = {"m": m}
        for name, s in curves.items():
            row[f"{name}+"] = float(s.plus[m])
            row[f"{name}-"] = float(s.minus[m])
            row[f"{name} cancel"] = float(cancellation(s)[m])
        rows.append(row)
    return rows


def fit_theory(total: Strengths, and_star: torch.Tensor, or_star: torch.Tensor, **kw: Any
               ) -> dist.DisentangleResult:
    r"""Eq. 10 (Conventions page, eq-disentangle): fit
    :math:`A_{\mathrm{decay}}(I^*) + A_{\mathrm{spindle}}` to the sample-averaged measured curve
    (:func:`ibn.distributions.disentangle`, without warnings unless ``on_failure`` says).

    Args:
        total: the measured :math:`A`, per sample ``(N, n+1)`` (averaged here).
        and_star: the AND effects of :math:`I^*`, ``(..., 2^n)``.
        or_star: the OR effects of :math:`I^*`, of the same shape.
        **kw: further keyword arguments of :func:`ibn.distributions.disentangle` (e.g.
            ``alpha_bounds``, ``log10_delta_bounds``; ``on_failure`` defaults to
            ``"ignore"``).

    Returns:
        The :class:`~ibn.distributions.disentangle.DisentangleResult`.
    """
    kw.setdefault("on_failure", "ignore")
    return dist.disentangle(total.mean(), and_star, or_star, **kw)


def cross_similarity(gen: Strengths, non: Strengths, fit: dist.DisentangleResult) -> dict[str, float]:
    r"""SIM of eq. 11 (Conventions page, eq-jaccard) plus the per-part Jaccard similarities,
    matched and swapped. A disentangling that means something has ``sim > sim_swapped``.

    Args:
        gen: :math:`A_{\mathrm{gen}}`, per sample ``(N, n+1)`` (averaged here).
        non: :math:`A_{\mathrm{non}}`, per sample ``(N, n+1)`` (averaged here).
        fit: an eq. 10 fit (:func:`fit_theory`).

    Returns:
        A dict: ``sim`` (gen and non against decay and spindle), ``sim_swapped`` (against
        spindle and decay), and the Jaccard similarities ``gen_vs_decay``,
        ``gen_vs_spindle``, ``non_vs_spindle`` and ``non_vs_decay``.
    """
    g, nn_ = gen.mean(), non.mean()
    return {"sim": dist.similarity(g, nn_, fit.decay, fit.spindle),
            "sim_swapped": dist.similarity(g, nn_, fit.spindle, fit.decay),
            "gen_vs_decay": dist.jaccard(g, fit.decay), "gen_vs_spindle": dist.jaccard(g, fit.spindle),
            "non_vs_spindle": dist.jaccard(nn_, fit.spindle), "non_vs_decay": dist.jaccard(nn_, fit.decay)}


_TARGET = {"lr": 2e-3, "batch_size": 50, "label_noise": 0.01}
_BASE = {"lr": 2e-3, "batch_size": 50, "label_noise": 0.0}
_VGG = {"target": {"lr": 5e-4, "batch_size": 25}, "baseline": {"lr": 5e-4, "batch_size": 25}}
#: the four setups of paper B Fig. 2 (images).
ALL_SETUPS = (("resnet20", "mnist"), ("resnet20", "fashion-mnist"),
              ("vgg11", "mnist"), ("vgg11", "fashion-mnist"))
#: settings shared by the paper-B notebooks (B2, B4, B8, B_beyond_solver), so they reuse one
#: cache (:class:`papers.specs.GamesSpec`). Every setup trains max(k_ablation + [k]) baselines
#: (the k ablation of B2); ``k`` is the default number used. ``seeds``: B2 repeats the first
#: setup with each seed (the other notebooks use seed 0). ``sgd_setups``: the setups
#: B_beyond_solver also extracts with the lab's SGD (default: all). ``training``: per-model
#: overrides of the target / baseline training settings (VGG-11 with Adam at 2e-3 and batch 50
#: stays near chance in the book's few steps; at 5e-4 and batch 25 it fits its 200 images,
#: measured on MNIST).
PRESETS: dict[str, GamesSpec] = {
    "smoke": GamesSpec(n_players=6, n_samples=3, n_heldout=2, n_eval=200, k=1, k_ablation=(1,),
                       setups=(("resnet20", "mnist"),), seeds=(0,), sgd_steps=2000,
                       sgd_lrs=(1e-6, 1e-5), target=Training(n_train=128, epochs=3, **_TARGET),
                       baseline=Training(n_train=128, epochs=2, **_BASE)),
    # book: what a shared 2-core CPU computes in about an hour (ResNet-20 and VGG-11, k <= 5)
    "book": GamesSpec(n_players=8, n_samples=6, n_heldout=6, n_eval=500, k=3,
                      k_ablation=(1, 3, 5), setups=ALL_SETUPS, seeds=(0, 1),
                      sgd_setups=ALL_SETUPS[:2], sgd_steps=SGD_STEPS, sgd_lrs=tuple(SGD_LRS),
                      training={"vgg11": {**_VGG, "baseline": {**_VGG["baseline"], "epochs": 8}}},
                      target=Training(n_train=200, epochs=20, **_TARGET),
                      baseline=Training(n_train=300, epochs=5, **_BASE)),
    "paper": GamesSpec(n_players=10, n_samples=50, n_heldout=50, n_eval=2000, k=3,
                       k_ablation=(1, 3, 5), setups=ALL_SETUPS, seeds=(0, 1, 2),
                       sgd_steps=SGD_STEPS, sgd_lrs=tuple(SGD_LRS), training={"vgg11": _VGG},
                       target=Training(n_train=2000, epochs=100, **_TARGET),
                       baseline=Training(n_train=10000, epochs=30, **_BASE)),
}


def setup_of(model: str, dataset: str, settings: Mapping[str, Any], scale: str | None,
             seed: int = 0) -> dict[str, Any]:
    """:func:`setup_params` with the notebooks' rule: every setup trains
    ``max(k_ablation + [k])`` baselines (for the k ablation).

    Args:
        model: the architecture (a name of :func:`ibn.models.build`).
        dataset: the dataset (normalised by :func:`ibn.data.dataset_name`).
        settings: a preset of :data:`PRESETS` (or a mapping with its fields).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``, recorded for provenance tables (None:
            not recorded).
        seed: seeds the target (``seed``), the baselines (``seed + 1 ... seed + k_max``), the
            training subset and the sample and player draws (default 0).

    Returns:
        The :func:`run_games` params.
    """
    k_max = max(list(settings.get("k_ablation", [])) + [settings["k"]])
    return setup_params(model, dataset, settings, seed=seed, k_max=k_max, scale=scale)


def setup_params(model: str, dataset: str, settings: Mapping[str, Any], *, k_max: int | None = None,
                 seed: int = 0, scale: str | None = None) -> dict[str, Any]:
    """The :func:`run_games` params of one setup from a notebook's preset.

    Args:
        model: the architecture (a name of :func:`ibn.models.build`).
        dataset: the dataset (normalised by :func:`ibn.data.dataset_name`).
        settings: a preset of :data:`PRESETS` (or a mapping with its fields);
            ``settings["training"][model]`` (optional) overrides the ``target`` / ``baseline``
            training settings for that model.
        k_max: the number of baselines trained (None: ``settings["k"]``).
        seed: the setup's seed (default 0; see :func:`setup_of`).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``, recorded so that provenance tables can
            show it (None: not recorded).

    Returns:
        A dict with ``n_players``, ``n_samples``, ``n_heldout``, ``n_eval``, ``target``,
        ``baseline``, ``model``, ``dataset``, ``seed``, ``scale`` and ``k_max``.
    """
    keys = ("n_players", "n_samples", "n_heldout", "n_eval", "target", "baseline")
    p = {k: settings[k] for k in keys}
    for part, over in settings.get("training", {}).get(model, {}).items():
        p[part] = {**p[part], **over}
    p.update(model=model, dataset=dataset_name(dataset), seed=seed, scale=scale,
             k_max=int(k_max if k_max is not None else settings["k"]))
    return p


def per_sample_share(part: Strengths, total: Strengths) -> torch.Tensor:
    r"""The share of a part in the total strength, per sample:
    :math:`\sum_m (|A^{(m),+}_{\mathrm{part}}| + |A^{(m),-}_{\mathrm{part}}|) / \sum_m
    (|A^{(m),+}| + |A^{(m),-}|)`.

    Args:
        part: the part's curves (e.g. :math:`A_{\mathrm{non}}`), ``(N, n+1)``.
        total: the total curves :math:`A`, ``(N, n+1)``.

    Returns:
        The shares, ``(N,)``; NaN where the total is 0.
    """
    num, den = part.total().sum(-1), total.total().sum(-1)
    return torch.where(den > 0, num / den.where(den > 0, torch.ones_like(den)),
                       torch.full_like(den, float("nan")))


def heldout_groups(res: Mapping[str, Any], k: int | None = None
                   ) -> dict[str, tuple[Strengths, Strengths, Strengths, torch.Tensor]]:
    r"""Held-out samples split by the target's prediction (paper B Fig. 8).

    One :math:`\tau = 0.02 \cdot \mathbb{E}_x |v(x_N) - v(x_\emptyset)|` over all held-out
    samples (Conventions page, eq-salient) serves both groups, so that they are comparable.

    Args:
        res: games plus effects (:func:`interactions`) with the ``heldout_`` keys and
            ``heldout_correct``.
        k: the number of baselines used, the first ones (None: all).

    Returns:
        ``{"correct": ..., "misclassified": ...}``, each ``(A, A_gen, A_non, index)``: the
        group's per-sample curves ``(N_group, n+1)`` and its positions among the held-out
        samples. A group without samples is left out.
    """
    tau = dist.tau_from_values(res["heldout_values"])
    tot, gen, non = split_strengths(res, k, prefix="heldout_", tau=tau)
    correct = torch.as_tensor(res["heldout_correct"]).bool()
    out = {}
    for name, sel in (("correct", correct), ("misclassified", ~correct)):
        idx = torch.nonzero(sel).flatten()
        if len(idx):
            out[name] = tuple(Strengths(s.plus[idx], s.minus[idx]) for s in (tot, gen, non)) + (idx,)
    return out


def spindle_share(fit: dist.DisentangleResult) -> float:
    r"""The spindle share of a fitted eq. 10,
    :math:`\sum |A_{\mathrm{spindle}}| / (\sum |A_{\mathrm{decay}}| + \sum |A_{\mathrm{spindle}}|)`
    (both signs, all orders).

    Args:
        fit: the fit (:func:`fit_theory`).

    Returns:
        The share; NaN when both parts are 0.
    """
    sp, de = float(fit.spindle.total().sum()), float(fit.decay.total().sum())
    return sp / (sp + de) if sp + de > 0 else float("nan")
