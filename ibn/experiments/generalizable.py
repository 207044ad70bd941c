"""Paper B: generalizable vs non-generalizable interactions of image classifiers (SPEC §4-6).

One *setup* is a model architecture on a dataset. :func:`run_games` trains (or loads)

* a **target** model on a small subset of the training split with label noise (it over-fits, so
  non-generalizable interactions exist; SPEC §6: 1 % noise), and
* ``k_max`` **baseline** models on (a subset of) the TEST split, one seed each (SPEC §4),

then records the values v(x_T) of every coalition (2^n, ``ibn.games.all_values``) of the target
and of every baseline, on the same players (a :class:`ibn.maskers.FeatureMapMasker`: n patches
of the feature map after VGG's 2nd ReLU / ResNet-20's first block, 8×8 grid, central 6×6,
zero baseline; SPEC §6) for

* ``n_samples`` training samples of the target (correctly classified, labels not flipped), and
* ``n_heldout`` samples of the training split the target never saw, half correctly classified
  and half misclassified by the target (paper B Fig. 8).

The reward is the log-odds of the true label (SPEC §1). :func:`interactions` extracts AND-OR
interactions from those values with a chosen sparsifier (``"lp"``: the exact optimum of eq. 17;
``"sgd"``: the lab's SGD), both cached with :func:`ibn.results.cached`. The analysis helpers
(:func:`split_strengths`, :func:`shape_summary`, :func:`fit_theory`, ...) turn effects into
A^(m),± total / generalizable / non-generalizable curves, shape statistics and verdicts.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ibn import distributions as dist
from ibn import games as ibn_games
from ibn import results
from ibn.data import data_root, load_fashion_mnist, load_mnist, to_float_images
from ibn.distributions import Strengths
from ibn.maskers import FeatureMapMasker
from ibn.models import build
from ibn.train import evaluate, train

__all__ = [
    "IMAGE_STATS", "load_images", "train_model", "run_games", "extract_effects", "effects_key",
    "interactions",
    "sgd_sparsify", "split_strengths", "cancellation", "cancellation_total", "shape_summary",
    "decay_verdict", "spindle_verdict", "fit_theory", "cross_similarity", "order_table",
    "setup_params", "setup_of", "PRESETS", "ALL_SETUPS", "per_sample_share",
    "heldout_groups", "spindle_share",
]

#: per-dataset (mean, std) used to standardize the 32×32 images.
IMAGE_STATS: dict[str, tuple[tuple[float], tuple[float]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
}
#: show tqdm progress bars (notebooks switch them off to keep their pages clean).
PROGRESS: bool = True
_LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}


@functools.lru_cache(maxsize=4)
def load_images(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of ``split``: float32 (N, 1, 32, 32) standardized images (SPEC §6) and labels.

    Cached in memory (do not modify the returned tensors in place)."""
    if dataset not in _LOADERS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(_LOADERS)}")
    images, labels = _LOADERS[dataset](split)
    mean, std = IMAGE_STATS[dataset]
    return to_float_images(images, 32, mean, std), labels


# ---------------------------------------------------------------- training


def train_model(model: str, dataset: str, *, split: str, n_train: int, epochs: int, seed: int,
                lr: float = 1e-3, batch_size: int = 64, label_noise: float = 0.0,
                device: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``model`` on ``n_train`` images of ``split`` (Adam, seeded), or load its weights.

    Weights are kept under ``data/models/generalizable/`` (git-ignored), named by the hash of
    the settings. Returns the model (eval mode) and an info dict with the training subset
    indices (into ``split``), the flipped-label indices (into the subset) and the final
    training accuracy (on the noisy labels).
    """
    spec = {"model": model, "dataset": dataset, "split": split, "n_train": n_train,
            "epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size,
            "label_noise": label_noise}
    path = data_root() / "models" / "generalizable" / f"{model}-{dataset}-{results.params_hash(spec)}.pt"
    net = build(model, seed=seed, in_channels=1)
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=False)
        net.load_state_dict(state["model"])
        info = state["info"]
    else:
        x, y = load_images(dataset, split)
        hist = train(net, (x, y), epochs=epochs, batch_size=batch_size, optimizer="adam", lr=lr,
                     label_noise=label_noise, num_classes=10, subset=n_train, seed=seed,
                     device=device, progress=False)
        info = {"subset": hist.subset, "flipped": hist.flipped,
                "train_acc": hist.last("train_acc"), "spec": spec}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": net.cpu().state_dict(), "info": info}, path)
    net.eval()
    if device is not None:
        net.to(device)
    return net, info


def _predict(net: nn.Module, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    dev = next(net.parameters()).device
    with torch.inference_mode():
        return torch.cat([net(x[i:i + batch].to(dev)).argmax(1).cpu() for i in range(0, len(x), batch)])


# ---------------------------------------------------------------- games


def run_games(params: Mapping[str, Any], *, recompute: bool = False) -> dict[str, Any]:
    """Values v(x_T) of the target and of the k baselines on the chosen samples (cached).

    ``params`` keys: ``model``, ``dataset``, ``n_players``, ``n_samples``, ``n_heldout``,
    ``k_max``, ``seed``, ``target`` (dict: ``n_train``, ``epochs``, ``lr``, ``batch_size``,
    ``label_noise``), ``baseline`` (dict: ``n_train``, ``epochs``, ``lr``, ``batch_size``),
    ``n_eval`` (images used to measure accuracies). Result keys: ``values`` (N, 2^n) and
    ``baseline_values`` (k_max, N, 2^n) on training samples, ``heldout_values`` /
    ``heldout_baseline_values`` / ``heldout_correct`` on held-out samples, ``labels``,
    ``players``, and the models' accuracies.
    """
    p = dict(params)
    name = f"B_games_{p['model']}_{p['dataset']}"
    return results.cached(name, p, lambda: _compute_games(p), recompute=recompute)


def _compute_games(p: dict[str, Any]) -> dict[str, Any]:
    dev = "cuda" if torch.cuda.is_available() else None
    tp, bp = p["target"], p["baseline"]
    target, tinfo = train_model(p["model"], p["dataset"], split="train", seed=p["seed"],
                                device=dev, **tp)
    bases = [train_model(p["model"], p["dataset"], split="test", seed=p["seed"] + 1 + j,
                         device=dev, **bp)[0] for j in range(p["k_max"])]
    x_tr, y_tr = load_images(p["dataset"], "train")
    x_te, y_te = load_images(p["dataset"], "test")
    n_eval = p["n_eval"]
    subset = torch.as_tensor(tinfo["subset"])
    flipped = set(int(i) for i in tinfo["flipped"])
    rng = np.random.default_rng(p["seed"])
    # training samples of the target: correctly classified, clean labels
    clean = torch.as_tensor([int(subset[i]) for i in range(len(subset)) if i not in flipped])
    pred = _predict(target, x_tr[clean])
    pool = clean[pred == y_tr[clean]].numpy()
    train_idx = np.sort(rng.choice(pool, size=min(p["n_samples"], len(pool)), replace=False))
    # held-out samples (train split, outside the target's subset): half right, half wrong
    outside = np.setdiff1d(np.arange(len(y_tr)), subset.numpy())
    cand = rng.choice(outside, size=min(len(outside), max(n_eval, 20 * p["n_heldout"])), replace=False)
    cand_pred = _predict(target, x_tr[cand])
    right = cand[(cand_pred == y_tr[cand]).numpy()]
    wrong = cand[(cand_pred != y_tr[cand]).numpy()]
    h = p["n_heldout"]
    n_wrong = min(h // 2, len(wrong))
    ho_idx = np.concatenate([wrong[:n_wrong], right[: h - n_wrong]])
    ho_correct = np.concatenate([np.zeros(n_wrong, bool), np.ones(h - n_wrong, bool)])
    acc = {
        "target_train_acc_noisy": float(tinfo["train_acc"]),
        "target_test_acc": float((_predict(target, x_te[:n_eval]) == y_te[:n_eval]).float().mean()),
        "target_heldout_acc": float((cand_pred == y_tr[cand]).float().mean()),
        "baseline_acc_on_train_split": [float((_predict(b, x_tr[cand]) == y_tr[cand]).float().mean())
                                        for b in bases],
    }

    def values_of(idx: np.ndarray, what: str) -> tuple[torch.Tensor, torch.Tensor, list]:
        v_t, v_b, players = [], [], []
        for i in tqdm(idx, desc=f"{p['model']}/{p['dataset']} {what} games", leave=False,
                      disable=not PROGRESS):
            masker = FeatureMapMasker(grid=8, central=6, n_players=p["n_players"],
                                      seed=p["seed"] * 100_003 + int(i))
            y = int(y_tr[i])
            v_t.append(ibn_games.all_values(target, x_tr[i], masker, target=y, progress=False))
            v_b.append(torch.stack([ibn_games.all_values(b, x_tr[i], masker, target=y, progress=False)
                                    for b in bases]))
            players.append(masker.players)
        return torch.stack(v_t), torch.stack(v_b, 1), players

    v, vb, players = values_of(train_idx, "train")
    hv, hvb, hplayers = values_of(ho_idx, "held-out")
    return {
        "values": v, "baseline_values": vb, "labels": y_tr[train_idx], "indices": train_idx,
        "players": players, "heldout_values": hv, "heldout_baseline_values": hvb,
        "heldout_labels": y_tr[ho_idx], "heldout_indices": ho_idx,
        "heldout_correct": torch.as_tensor(ho_correct), "heldout_players": hplayers,
        "n_flipped": len(flipped), "accuracy": json.dumps(acc), **{k: v for k, v in acc.items()
                                                                   if not isinstance(v, list)},
    }


# ---------------------------------------------------------------- extraction


def _sgd_parts(v: torch.Tensor, gamma: torch.Tensor, delta: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(I^AND, I^OR, δ) for u^AND = v_∅ + ½(r − δ) + γ, u^OR = ½(r − δ) − γ, r = v − v_∅.

    δ_∅ = γ_∅ = 0, so u^OR_∅ = 0 and the bias I^AND_∅ = v_∅ (SPEC §2); u^AND + u^OR = v − δ.
    (SPEC's u = ½(v − δ) ± γ is the same family with γ shifted by ½v_∅; this form makes γ = 0
    the neutral start that splits v − v_∅ evenly, as the lab code does for v_∅ = 0.)
    """
    from ibn.transforms import mobius, or_mobius

    d = delta.clone()
    d[..., 0] = 0.0
    g = gamma.clone()
    g[..., 0] = 0.0
    v0 = v[..., :1]
    r = v - v0
    return mobius(v0 + 0.5 * (r - d) + g), or_mobius(0.5 * (r - d) - g), d


def _sgd_grad(a: torch.Tensor, o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of Σ_{S≠∅}|I^AND_S| + |I^OR_S| w.r.t. (γ, δ), given I^AND = a and I^OR = o.

    d/du^AND = Mᵀ sign(I^AND) (M the Möbius matrix); I^OR = −M flip(u^OR), so
    d/du^OR = −flip(Mᵀ sign(I^OR)); then dγ = d_and − d_or, dδ = −½(d_and + d_or) (∅ entries 0).
    """
    from ibn.transforms import mobius_transpose

    sa, so = a.sign(), o.sign()
    sa[..., 0] = 0.0
    so[..., 0] = 0.0
    g_and = mobius_transpose(sa)
    g_or = -torch.flip(mobius_transpose(so), dims=(-1,))
    dg, dd = g_and - g_or, -0.5 * (g_and + g_or)
    dg[..., 0] = 0.0
    dd[..., 0] = 0.0
    return dg, dd


#: the learning rates the SGD sparsifier tries (SPEC §2: the lab used 1e-7 ... 1e-5).
SGD_LRS = (1e-7, 1e-6, 1e-5)
#: its number of steps (SPEC §2: 20 000 - 50 000).
SGD_STEPS = 20_000


def sgd_sparsify(values: torch.Tensor, noise_bound: float = 0.02, *, steps: int = SGD_STEPS,
                 lr: float | Sequence[float] = 1e-5, momentum: float = 0.9) -> dict[str, torch.Tensor]:
    """The lab's SGD sparsifier of eq. 17 (SPEC §2), batched over samples.

    Minimizes Σ_{S≠∅} |I^AND_S| + |I^OR_S| over γ and δ (parametrized as in :func:`_sgd_parts`,
    starting from γ = δ = 0), by SGD with momentum (PyTorch's form: b ← μb + g, p ← p − lr·b),
    the learning rate decayed log-uniformly from ``lr`` to ``lr``/10, δ clipped to ±ζ
    (ζ = noise_bound·|v_N − v_∅| per sample) after each step; δ_∅ = 0 and u^OR_∅ = 0 (so
    I^AND_∅ = v_∅). The (sub)gradient is computed in closed form with the butterflies
    (:func:`_sgd_grad`). This is the ``"sgd"`` solver of :func:`extract_effects`.

    The step size is not scale-free (the subgradient has entries up to 2^n), so ``lr`` may be a
    sequence: every rate is run and each sample keeps the result with the smallest objective
    (``lr`` in the output gives the rate chosen per sample).
    """
    if not isinstance(lr, (int, float)):
        runs = [sgd_sparsify(values, noise_bound, steps=steps, lr=float(r), momentum=momentum)
                for r in lr]
        obj = torch.stack([o["and_effects"][..., 1:].abs().sum(-1) + o["or_effects"][..., 1:].abs().sum(-1)
                           for o in runs])
        best = obj.argmin(0)
        out = {key: torch.stack([o[key] for o in runs]).gather(
            0, best[None, ..., None].expand(1, *runs[0][key].shape))[0]
            for key in ("and_effects", "or_effects", "delta")}
        out["lr"] = torch.as_tensor(list(lr), dtype=torch.float64)[best]
        return out
    v = torch.as_tensor(values, dtype=torch.float64)
    zeta = (noise_bound * (v[..., -1] - v[..., 0]).abs()).unsqueeze(-1)
    gamma, delta = torch.zeros_like(v), torch.zeros_like(v)
    buf_g, buf_d = torch.zeros_like(v), torch.zeros_like(v)
    for step in range(steps):
        rate = lr * 10.0 ** (-step / max(steps - 1, 1))
        a, o, _ = _sgd_parts(v, gamma, delta)
        dg, dd = _sgd_grad(a, o)
        buf_g.mul_(momentum).add_(dg)
        buf_d.mul_(momentum).add_(dd)
        gamma.sub_(rate * buf_g)
        delta.sub_(rate * buf_d)
        delta.copy_(torch.maximum(torch.minimum(delta, zeta), -zeta))
    a, o, d = _sgd_parts(v, gamma, delta)
    return {"and_effects": a, "or_effects": o, "delta": d,
            "lr": torch.full(v.shape[:-1], float(lr), dtype=torch.float64)}


def extract_effects(values: torch.Tensor, solver: str = "lp", noise_bound: float = 0.02, *,
                    sgd_steps: int = SGD_STEPS, sgd_lrs: Sequence[float] = SGD_LRS) -> dict[str, Any]:
    """AND-OR effects (B, 2^n) of values (B, 2^n) with ``solver`` ``"lp"`` or ``"sgd"`` (SPEC §2).

    ``"lp"``: the exact optimum, ``ibn.and_or.extract(..., solver="lp")`` (results cached before
    that function existed say ``ibn.and_or.lp.solve_lp``: the same LP). ``"sgd"``:
    :func:`sgd_sparsify` with ``sgd_steps`` and the best of ``sgd_lrs`` per game. It is used
    rather than ``ibn.and_or.extract(solver="sgd")`` because that one pins γ_∅ = ½v_∅ with the
    other γ_T = 0, a start whose AND effects all carry an extra ±½v_∅ (a larger L1 than the lab
    code's start mobius(v/2)). The result says which implementation ran (``extractor``).
    """
    if solver not in ("lp", "sgd"):
        raise ValueError(f"solver must be 'lp' or 'sgd', got {solver!r}")
    v = torch.as_tensor(values, dtype=torch.float64)
    if solver == "sgd":
        out = sgd_sparsify(v, noise_bound, lr=tuple(sgd_lrs), steps=sgd_steps)
        return {"and_effects": out["and_effects"], "or_effects": out["or_effects"],
                "sgd_lr": out["lr"], "extractor": "ibn.experiments.generalizable.sgd_sparsify"}
    from ibn.and_or import extract

    res = extract(v, noise_bound=noise_bound, solver="lp")
    return {"and_effects": torch.as_tensor(res.and_effects, dtype=torch.float64),
            "or_effects": torch.as_tensor(res.or_effects, dtype=torch.float64),
            "extractor": "ibn.and_or.extract(solver='lp')"}


def effects_key(params: Mapping[str, Any], solver: str = "lp", noise_bound: float = 0.02, *,
                sgd_steps: int = SGD_STEPS, sgd_lrs: Sequence[float] = SGD_LRS) -> dict[str, Any]:
    """The cache params of :func:`interactions` (for ``show_provenance``)."""
    key = {"games": dict(params), "solver": solver, "noise_bound": noise_bound,
           "scale": params.get("scale")}
    if solver == "sgd":
        key.update(sgd_lrs=[float(x) for x in sgd_lrs], sgd_steps=int(sgd_steps))
    return key


def interactions(params: Mapping[str, Any], solver: str = "lp", noise_bound: float = 0.02, *,
                 sgd_steps: int = SGD_STEPS, sgd_lrs: Sequence[float] = SGD_LRS,
                 recompute: bool = False) -> dict[str, Any]:
    """Games of :func:`run_games` plus the AND-OR effects of every game (cached per solver).

    Adds ``and``/``or`` (N, 2^n), ``baseline_and``/``baseline_or`` (k, N, 2^n) and the same with a
    ``heldout_`` prefix to the games' result. ``sgd_steps`` / ``sgd_lrs`` set the SGD solver
    (:func:`extract_effects`).
    """
    g = run_games(params)
    key = effects_key(params, solver, noise_bound, sgd_steps=sgd_steps, sgd_lrs=sgd_lrs)
    name = f"B_effects_{params['model']}_{params['dataset']}"

    def compute() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prefix in ("", "heldout_"):
            v, vb = g[f"{prefix}values"], g[f"{prefix}baseline_values"]
            both = torch.cat([v.unsqueeze(0), vb])  # (1 + k, N, 2^n)
            eff = extract_effects(both, solver, noise_bound, sgd_steps=sgd_steps,
                                  sgd_lrs=sgd_lrs) if both.numel() else {
                "and_effects": both.clone(), "or_effects": both.clone(), "extractor": "none"}
            out[f"{prefix}and"], out[f"{prefix}baseline_and"] = eff["and_effects"][0], eff["and_effects"][1:]
            out[f"{prefix}or"], out[f"{prefix}baseline_or"] = eff["or_effects"][0], eff["or_effects"][1:]
            if "sgd_lr" in eff:
                out[f"{prefix}sgd_lr"] = eff["sgd_lr"]
            out["extractor"] = eff["extractor"]
        return out

    eff = results.cached(name, key, compute, recompute=recompute)
    return {**g, **eff}


# ---------------------------------------------------------------- analysis


def split_strengths(res: Mapping[str, Any], k: int | None = None, *, prefix: str = "",
                    tau: float | torch.Tensor | None = None) -> tuple[Strengths, Strengths, Strengths]:
    """Per-sample (A, A_gen, A_non), each (N, n+1), using the first ``k`` baselines (SPEC §4).

    ``tau`` defaults to 0.02·E_x|v(x_N) − v(x_∅)| over the target's values of these samples.
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
    """|A⁺ + A⁻| / (A⁺ − A⁻) per order (..., n+1); 0 = full +/− cancellation, 1 = one sign only.

    NaN where an order has no strength. (A⁻ ≤ 0, so A⁺ − A⁻ = A⁺ + |A⁻|.)
    """
    den = s.plus - s.minus
    return torch.where(den > 0, (s.plus + s.minus).abs() / den.where(den > 0, torch.ones_like(den)),
                       torch.full_like(den, float("nan")))


def cancellation_total(s: Strengths) -> torch.Tensor:
    """Σ_m |A⁺ + A⁻| / Σ_m (A⁺ − A⁻) over the orders (per leading index); NaN if empty."""
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
    """Shape statistics of per-sample curves (N, n+1): means, spread over samples, shares.

    ``mean_order_*`` is the strength-weighted mean order of the sample-averaged curve,
    ``mean_order_*_std`` the standard deviation of the per-sample values; ``peak_*`` the peak
    order of the averaged curve; ``cancel_*`` the cancellation ratio Σ|A⁺+A⁻| / Σ(A⁺−A⁻) of the
    averaged curve (``_std`` over samples); ``non_share`` the fraction of the total strength
    that is non-generalizable.
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
    """Claim 1 (decay): the generalizable curve peaks at a low order (≤ max(2, n/4)) and its
    strength-weighted mean order is below both n/2 and the non-generalizable one."""
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
    """Claim 2 (spindle): the non-generalizable curve peaks at an interior order (2..n−1), its mean
    order exceeds the generalizable one, and its +/− cancellation is stronger (smaller ratio)."""
    n = summary["n"]
    checks = {f"2 <= peak_non {summary['peak_non']} <= {n - 1}": 2 <= summary["peak_non"] <= n - 1,
              f"mean_order_non {summary['mean_order_non']:.2f} > mean_order_gen "
              f"{summary['mean_order_gen']:.2f}": summary["mean_order_non"] > summary["mean_order_gen"],
              f"cancel_non {summary['cancel_non']:.2f} < cancel_gen {summary['cancel_gen']:.2f}":
                  summary["cancel_non"] < summary["cancel_gen"]}
    ok = all(checks.values())
    return ok, "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())


def order_table(curves: Mapping[str, Strengths]) -> list[dict[str, float]]:
    """Rows m = 1..n of A^(m),± (and the cancellation ratio) of named averaged curves."""
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
    """Eq. 10: fit decay(I*) + spindle to the sample-averaged measured curve (no warnings)."""
    kw.setdefault("on_failure", "ignore")
    return dist.disentangle(total.mean(), and_star, or_star, **kw)


def cross_similarity(gen: Strengths, non: Strengths, fit: dist.DisentangleResult) -> dict[str, float]:
    """SIM of eq. 11 plus the per-part Jaccard similarities, matched and swapped.

    ``sim`` compares (gen, non) with (decay, spindle); ``sim_swapped`` with (spindle, decay). A
    disentangling that means something has ``sim > sim_swapped``.
    """
    g, nn_ = gen.mean(), non.mean()
    return {"sim": dist.similarity(g, nn_, fit.decay, fit.spindle),
            "sim_swapped": dist.similarity(g, nn_, fit.spindle, fit.decay),
            "gen_vs_decay": dist.jaccard(g, fit.decay), "gen_vs_spindle": dist.jaccard(g, fit.spindle),
            "non_vs_spindle": dist.jaccard(nn_, fit.spindle), "non_vs_decay": dist.jaccard(nn_, fit.decay)}


_TARGET = {"lr": 2e-3, "batch_size": 50, "label_noise": 0.01}
_BASE = {"lr": 2e-3, "batch_size": 50, "label_noise": 0.0}
#: the four setups of paper B Fig. 2 (images).
ALL_SETUPS = [["resnet20", "mnist"], ["resnet20", "fashion_mnist"],
              ["vgg11", "mnist"], ["vgg11", "fashion_mnist"]]
#: settings shared by the paper-B notebooks (B2, B4, B8, B_beyond_solver), so they reuse one
#: cache. The k ablation runs on the first setup, which therefore trains max(k_ablation)
#: baselines; the others train ``k``. ``seeds``: B2 repeats the first setup with each seed
#: (the other notebooks use seed 0).
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"n_players": 6, "n_samples": 3, "n_heldout": 2, "n_eval": 200, "k": 1,
              "k_ablation": [1], "setups": [["resnet20", "mnist"]], "seeds": [0],
              "sgd_steps": 2000, "sgd_lrs": [1e-6, 1e-5],
              "target": {"n_train": 128, "epochs": 3, **_TARGET},
              "baseline": {"n_train": 128, "epochs": 2, **_BASE}},
    # book: what ~0.5 of a shared 2-core CPU computes in ~45 min (ResNet-20 only, k <= 3)
    "book": {"n_players": 8, "n_samples": 6, "n_heldout": 6, "n_eval": 500, "k": 3,
             "k_ablation": [1, 2, 3], "setups": ALL_SETUPS[:2], "seeds": [0, 1],
             "sgd_steps": SGD_STEPS, "sgd_lrs": list(SGD_LRS),
             "target": {"n_train": 200, "epochs": 20, **_TARGET},
             "baseline": {"n_train": 300, "epochs": 5, **_BASE}},
    "paper": {"n_players": 10, "n_samples": 50, "n_heldout": 50, "n_eval": 2000, "k": 3,
              "k_ablation": [1, 3, 5], "setups": ALL_SETUPS, "seeds": [0, 1, 2],
              "sgd_steps": SGD_STEPS, "sgd_lrs": list(SGD_LRS),
              "target": {"n_train": 2000, "epochs": 100, **_TARGET},
              "baseline": {"n_train": 10000, "epochs": 30, **_BASE}},
}


def setup_of(model: str, dataset: str, settings: Mapping[str, Any], scale: str | None,
             seed: int = 0) -> dict[str, Any]:
    """:func:`setup_params` with the notebooks' rule: the first setup of ``settings["setups"]``
    trains max(k_ablation + [k]) baselines (for the k ablation), the others ``k``.

    ``seed`` seeds the target (``seed``), the baselines (``seed + 1 ... seed + k_max``), the
    training subset and the sample and player draws."""
    first = tuple(settings["setups"][0])
    k_max = max(list(settings.get("k_ablation", [])) + [settings["k"]])
    return setup_params(model, dataset, settings, seed=seed,
                        k_max=k_max if (model, dataset) == first else settings["k"], scale=scale)


def setup_params(model: str, dataset: str, settings: Mapping[str, Any], *, k_max: int | None = None,
                 seed: int = 0, scale: str | None = None) -> dict[str, Any]:
    """The :func:`run_games` params of one setup from a notebook's preset ``settings``.

    ``scale`` (smoke / book / paper) is recorded so that provenance tables can show it.
    """
    keys = ("n_players", "n_samples", "n_heldout", "n_eval", "target", "baseline")
    p = {k: settings[k] for k in keys}
    p.update(model=model, dataset=dataset, seed=seed, scale=scale,
             k_max=int(k_max if k_max is not None else settings["k"]))
    return p


def per_sample_share(part: Strengths, total: Strengths) -> torch.Tensor:
    """Σ_m (|A_part⁺| + |A_part⁻|) / Σ_m (|A⁺| + |A⁻|) per sample (NaN where the total is 0)."""
    num, den = part.total().sum(-1), total.total().sum(-1)
    return torch.where(den > 0, num / den.where(den > 0, torch.ones_like(den)),
                       torch.full_like(den, float("nan")))


def heldout_groups(res: Mapping[str, Any], k: int | None = None
                   ) -> dict[str, tuple[Strengths, Strengths, Strengths, torch.Tensor]]:
    """Held-out samples split by the target's prediction (paper B Fig. 8).

    Returns ``{"correct": ..., "misclassified": ...}``, each ``(A, A_gen, A_non, index)`` with
    per-sample curves (N_group, n+1); one τ (0.02·E_x|v(x_N) − v(x_∅)| over all held-out
    samples) serves both groups so that they are comparable. A group without samples is left out.
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
    """Σ|A_spindle| / (Σ|A_decay| + Σ|A_spindle|) of a fitted eq. 10 (both signs, all orders)."""
    sp, de = float(fit.spindle.total().sum()), float(fit.decay.total().sum())
    return sp / (sp + de) if sp + de > 0 else float("nan")
