"""Paper A: the interaction bottleneck (Conventions page, conventions-multiorder) — the pipelines
of the notebooks A1–A4.

The theory and the measurements are the library's, re-exported here under the names the
notebooks use: the closed forms (:mod:`ibn.multiorder.theory`: :func:`order_ratios`,
:func:`efficiency_weights`, :func:`predicted_signal`, :func:`fit_effective_n`), the order
profiles from recorded values (:mod:`ibn.multiorder.profiles`: :func:`exact_profile`,
:func:`sampled_from_values`), contextual variability (:mod:`ibn.multiorder.gradients`:
:func:`gradient_gram`, :func:`context_gradient_stats`, :func:`gradient_statistics`) and the
attacks and corruptions (:mod:`ibn.train.robustness`: :func:`fgsm`, :func:`pgd`,
:func:`gaussian_noise`, :func:`random_mask`, :func:`robustness`, :func:`accuracy`).

What is paper A's own lives here:

- **Order profiles of models** (A1): :func:`pick_samples`, :func:`game_values` (the 2^n values
  of each sample, reward the log-odds of the true label) and :func:`sampled_profile` (the
  reference sampling protocol on a model); :func:`shape_summary` gives the numbers behind a
  "U-shaped or not" verdict, :func:`interior_peaks` finds peaks between the ends (A3's "second
  peak").
- **Order-steered models** (A3, A4): :func:`steering_loss` builds the λ-term of a preset or of
  explicit (mode, r1, r2) (Conventions page, eq-steering-delta-u; :mod:`ibn.train.losses`);
  :func:`train_snapshots` trains with :func:`ibn.train.train` keeping the weights of chosen
  epochs.
- **Trained image CNNs** (A1): :func:`train_image_model` trains a CNN of :mod:`ibn.models` on
  (Fashion-)MNIST once, keeping the weights of chosen epochs under ``data/models/A1/``
  (git-ignored, keyed by the hash of the settings, resumable); a second call only loads.
  :func:`load_snapshot` rebuilds the model of one kept epoch. :func:`cnn_profiles` and
  :func:`text_profiles` are A1's pipelines.

Order ratios are r = m/(n−2) ∈ [0, 1] (the reference protocol's m = int((n−2)·r)).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ibn import multiorder as mo
from ibn.multiorder.gradients import (context_gradient_stats, gradient_gram, gradient_statistics,
                                      masked_inputs)
from ibn.multiorder.profiles import exact_profile, sampled_from_values, sampled_orders
from ibn.multiorder.theory import (efficiency_weights, fit_effective_n, n_contexts,
                                   order_ratios, predicted_signal)
from ibn.train.robustness import (accuracy, fgsm, gaussian_noise, pgd, predict, random_mask,
                                  robustness)
from ibn.games import all_values
from ibn.maskers import PatchMasker

__all__ = [
    "order_ratios", "efficiency_weights", "n_contexts", "predicted_signal", "fit_effective_n",
    "shape_summary", "interior_peaks", "pick_samples", "game_values", "exact_profile",
    "sampled_from_values", "sampled_profile", "masked_inputs", "gradient_gram",
    "context_gradient_stats", "gradient_statistics", "steering_loss", "train_snapshots",
    "REFERENCE_TABULAR", "TABULAR_RECIPES", "train_tabular", "fit_tabular", "fitted_part",
    "accuracy", "fgsm", "pgd", "gaussian_noise", "random_mask", "robustness",
    "select_features", "image_data", "train_image_model", "load_snapshot",
]


# ---------------------------------------------------------------------------------------------
# Orders, closed forms, shapes
# ---------------------------------------------------------------------------------------------


def _band(ratios: np.ndarray, J: np.ndarray, lo: float, hi: float) -> float:
    sel = (ratios >= lo - 1e-9) & (ratios <= hi + 1e-9)
    if not sel.any():
        raise ValueError(f"no order ratio in [{lo}, {hi}]: ratios are {ratios.tolist()}")
    return float(np.mean(J[sel]))


def shape_summary(ratios: Sequence[float], J: Sequence[float], *, low: float = 0.1,
                  high: float = 0.9, mid: tuple[float, float] = (0.3, 0.7),
                  margin: float = 0.8) -> dict[str, Any]:
    """The numbers behind a U-shape verdict of a J^(m) curve.

    J_low = mean J over r ≤ ``low``, J_high over r ≥ ``high``, J_mid over ``mid``. An end counts
    as *above* the middle when J_mid < ``margin``·J_end (default: the middle at least 20 %
    lower). Verdict: "U-shaped" (both ends above), "falling" (only the low end above), "rising"
    (only the high end), "mid peak" (the middle above both ends by the same margin), else "flat".
    """
    r, J = np.asarray(ratios, dtype=np.float64), np.asarray(J, dtype=np.float64)
    if r.shape != J.shape:
        raise ValueError(f"ratios {r.shape} and J {J.shape} differ in shape")
    j_low, j_high, j_mid = _band(r, J, 0.0, low), _band(r, J, high, 1.0), _band(r, J, *mid)
    low_above, high_above = j_mid < margin * j_low, j_mid < margin * j_high
    if low_above and high_above:
        verdict = "U-shaped"
    elif low_above:
        verdict = "falling"
    elif high_above:
        verdict = "rising"
    elif margin * j_mid > j_low and margin * j_mid > j_high:
        verdict = "mid peak"
    else:
        verdict = "flat"
    return {"J_low": j_low, "J_mid": j_mid, "J_high": j_high,
            "mid_over_low": j_mid / j_low if j_low else float("nan"),
            "mid_over_high": j_mid / j_high if j_high else float("nan"),
            "verdict": verdict}


def interior_peaks(ratios: Sequence[float], J: Sequence[float], *,
                   min_prominence: float = 0.1) -> list[dict[str, float]]:
    """Interior local maxima of a curve (not at the first or last order) whose prominence —
    the height above the higher of the lowest points on either side before a higher value —
    is at least ``min_prominence`` × the curve's mean. Used to detect A3's second peak."""
    r, J = np.asarray(ratios, dtype=np.float64), np.asarray(J, dtype=np.float64)
    scale = float(np.mean(np.abs(J))) or 1.0
    out = []
    for k in range(1, len(J) - 1):
        if not (J[k] > J[k - 1] and J[k] >= J[k + 1]):
            continue
        left = J[:k][::-1]
        lmin = J[k]
        for v in left:
            if v > J[k]:
                break
            lmin = min(lmin, v)
        rmin = J[k]
        for v in J[k + 1:]:
            if v > J[k]:
                break
            rmin = min(rmin, v)
        prom = J[k] - max(lmin, rmin)
        if prom >= min_prominence * scale:
            out.append({"ratio": float(r[k]), "index": k, "J": float(J[k]),
                        "prominence": float(prom)})
    return out


# ---------------------------------------------------------------------------------------------
# Samples and order profiles
# ---------------------------------------------------------------------------------------------


def pick_samples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, per_class: int,
                 seed: int = 0, correct: bool = True, batch_size: int = 512) -> torch.Tensor:
    """Indices of up to ``per_class`` samples of each class, drawn with ``default_rng(seed)``
    among the samples the model classifies correctly (``correct=True``, the reference protocol:
    5 per class) or among all. Sorted by class, then index."""
    y = torch.as_tensor(y).long()
    ok = predict(model, x, batch_size) == y if correct else torch.ones_like(y, dtype=torch.bool)
    rng = np.random.default_rng(seed)
    picked = []
    for c in torch.unique(y).tolist():
        cand = torch.nonzero((y == c) & ok).flatten().numpy()
        if len(cand):
            picked.extend(sorted(rng.choice(cand, size=min(per_class, len(cand)),
                                            replace=False).tolist()))
    return torch.as_tensor(picked, dtype=torch.long)


def game_values(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, masker: Any, *,
                batch_size: int = 1024, max_players: int = 16) -> torch.Tensor:
    """v(x_T) for all 2^n coalitions of each sample: (N, 2^n) float64, reward = log-odds of the
    true label ``ys[k]`` (Conventions page, eq-reward), bit i = player i. The model is put in eval
    mode."""
    model.eval()
    out = [all_values(model, x, masker, target=int(y), batch_size=batch_size,
                      max_players=max_players, progress=False).values for x, y in zip(xs, ys)]
    return torch.stack(out) if out else torch.zeros(0, 1 << masker.n_players, dtype=torch.float64)


def sampled_profile(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, masker: Any, *,
                    grid: tuple[int, int] | None = None, pairs=None, n_pairs: int = 200,
                    radius: int = 2, contexts: int = 100,
                    ratios: Sequence[float] = mo.REFERENCE_RATIOS, orders=None, seed: int = 0,
                    batch_size: int = 1024) -> dict[str, Any]:
    """The reference sampling protocol on a model (Conventions page, eq-reference-orders): for each
    sample, ``n_pairs`` pairs (j among the grid neighbours of i when ``grid`` is given),
    ``contexts`` random contexts per pair and order, |·| after averaging. Reward: log-odds of the
    true label. Output as :func:`sampled_from_values`."""
    from ibn.games import evaluate

    model.eval()
    n = masker.n_players

    def evaluators():
        for x, y in zip(xs, ys):
            yield (lambda m, x=x, y=int(y): evaluate(model, x, masker, m, target=y,
                                                     batch_size=batch_size, progress=False))

    return sampled_orders(evaluators(), n, grid=grid, pairs=pairs, n_pairs=n_pairs, radius=radius,
                    contexts=contexts, ratios=ratios, orders=orders, seed=seed)


# ---------------------------------------------------------------------------------------------
# Contextual variability: per-context gradients of Δv(i, j, S)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Training order-steered models
# ---------------------------------------------------------------------------------------------


def steering_loss(kind: str | tuple[str, float, float] | None, lam: float, masker: Any):
    """The order-steering λ-term (Conventions page, eq-steering-delta-u) for ``kind`` =
    "normal"/None (no term, returns None), a preset name ("low", "mid", "high") or an explicit
    (mode, r1, r2); players = ``masker``."""
    from ibn.train import OrderSteeringLoss

    if kind is None or kind == "normal" or lam == 0:
        return None
    if isinstance(kind, str):
        return OrderSteeringLoss.preset(kind, lam=lam, masker_or_baseline=masker)
    mode, r1, r2 = kind
    return OrderSteeringLoss(r1, r2, mode, lam, masker_or_baseline=masker)


def train_snapshots(model: nn.Module, train_set, *, snapshot_epochs: Iterable[int] = (),
                    **train_kw) -> tuple[Any, dict[int, dict[str, torch.Tensor]]]:
    """:func:`ibn.train.train` keeping copies of the weights after the epochs in
    ``snapshot_epochs`` (0 = before training). Returns (History, {epoch: state_dict})."""
    from ibn.train import train

    keep = set(int(e) for e in snapshot_epochs)
    snaps: dict[int, dict[str, torch.Tensor]] = {}

    def state():
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    if 0 in keep:
        snaps[0] = state()
    user_cb = train_kw.pop("callback", None)

    def cb(epoch, hist):
        if epoch in keep:
            snaps[epoch] = state()
        if user_cb is not None:
            user_cb(epoch, hist)

    train_kw.setdefault("progress", False)
    hist = train(model, train_set, callback=cb, **train_kw)
    return hist, snaps


# ---------------------------------------------------------------------------------------------
# Accuracy under attacks and corruptions
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Data helpers
# ---------------------------------------------------------------------------------------------


def select_features(tab: Any, features: Sequence[int]) -> Any:
    """A copy of an :class:`ibn.data.Tabular` split keeping only ``features`` (columns)."""
    import dataclasses

    f = list(features)
    return dataclasses.replace(tab, x_train=tab.x_train[:, f].contiguous(),
                               x_test=tab.x_test[:, f].contiguous(),
                               feature_names=[tab.feature_names[k] for k in f],
                               mean=tab.mean[f], std=tab.std[f])


#: paper A's reference recipe (Deng et al.'s code) for the tabular MLPs: SGD with momentum,
#: weight decay and the log-decayed rate, on the training split less a stratified validation
#: part, the epoch of best validation accuracy kept (ties: lower validation loss)
REFERENCE_TABULAR = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
                     "schedule": "logspace", "val_fraction": 0.2, "select": "best-val"}
TABULAR_RECIPES = ("adam", "reference")


def train_tabular(dataset: str, model_name: str, *, features: Sequence[int], epochs: int,
                  snapshots: Iterable[int], seed: int, recipe: str = "adam"
                  ) -> tuple[Any, nn.Module, Any, dict]:
    """The tabular setting of paper A's discovery and cause experiments: ``features`` (columns)
    of scikit-learn's ``dataset`` (seeded split), ``model_name`` (e.g. MLP-5) built with
    ``seed`` and trained by :func:`fit_tabular` with ``recipe``.

    Returns (Tabular split, model, History, {epoch: state_dict}).
    """
    from ibn.data import load_tabular
    from ibn.models import build

    tab = select_features(load_tabular(dataset, seed=seed), features)
    model = build(model_name, in_features=len(list(features)), num_classes=tab.n_classes,
                  seed=seed)
    hist, snaps, _ = fit_tabular(model, tab, epochs=epochs, seed=seed, recipe=recipe,
                                 snapshots=snapshots)
    return tab, model, hist, snaps


def fitted_part(tab: Any, *, seed: int, recipe: str = "adam") -> torch.Tensor:
    """The indices of ``tab``'s training split that :func:`fit_tabular` trains on with
    ``recipe``: all of them for Adam; for the reference recipe all but a stratified, seeded
    validation part of ``REFERENCE_TABULAR["val_fraction"]`` (sorted)."""
    n = len(tab.y_train)
    if recipe == "adam":
        return torch.arange(n)
    from sklearn.model_selection import train_test_split

    fit, _ = train_test_split(np.arange(n), test_size=REFERENCE_TABULAR["val_fraction"],
                              random_state=seed, stratify=tab.y_train.numpy())
    return torch.as_tensor(np.sort(fit))


def fit_tabular(model: nn.Module, tab: Any, *, epochs: int, seed: int, recipe: str = "adam",
                snapshots: Iterable[int] = (), extra_loss: Any = None
                ) -> tuple[Any, dict, int]:
    """Train ``model`` on the training part of the split ``tab`` (batch 32, CPU, cross-entropy
    plus ``extra_loss``, e.g. :func:`steering_loss`) by ``recipe``:

    - ``"adam"``: Adam at 1e-3 on the whole training split for ``epochs`` epochs; the weights
      after the epochs in ``snapshots`` (:func:`train_snapshots`; 0 = initialisation).
    - ``"reference"``: :data:`REFERENCE_TABULAR`; the model ends with the kept (best
      validation) epoch's weights, the snapshots are those of ``snapshots`` before it and the
      kept epoch itself (the largest key). Each History record also has ``val_loss``/``val_acc``.

    ``test_loss``/``test_acc`` of the records are on the test split. Returns (History,
    {epoch: state_dict}, the kept epoch: the last for Adam, the best-validation one for the
    reference recipe)."""
    from ibn.train import evaluate

    if recipe not in TABULAR_RECIPES:
        raise ValueError(f"recipe must be one of {TABULAR_RECIPES}, got {recipe!r}")
    if recipe == "adam":
        hist, snaps = train_snapshots(
            model, (tab.x_train, tab.y_train), test_set=(tab.x_test, tab.y_test), epochs=epochs,
            batch_size=32, optimizer="adam", lr=1e-3, seed=seed, snapshot_epochs=snapshots,
            extra_loss=extra_loss, device="cpu")
        return hist, snaps, epochs
    r = REFERENCE_TABULAR
    fit = fitted_part(tab, seed=seed, recipe=recipe)
    val = torch.as_tensor(np.setdiff1d(np.arange(len(tab.y_train)), fit.numpy()))

    def on_test(epoch: int, hist: Any) -> None:  # validation -> val_*, the test split -> test_*
        rec = hist.records[-1]
        rec["val_loss"], rec["val_acc"] = rec["test_loss"], rec["test_acc"]
        ev = evaluate(model, (tab.x_test, tab.y_test), device="cpu")
        rec["test_loss"], rec["test_acc"] = ev["loss"], ev["acc"]

    hist, snaps = train_snapshots(
        model, (tab.x_train[fit], tab.y_train[fit]), test_set=(tab.x_train[val], tab.y_train[val]),
        epochs=epochs, batch_size=32, optimizer=r["optimizer"], lr=r["lr"],
        momentum=r["momentum"], weight_decay=r["weight_decay"], lr_schedule=r["schedule"],
        seed=seed, snapshot_epochs=range(epochs + 1), device="cpu", callback=on_test,
        extra_loss=extra_loss)
    best = 1 + min(range(epochs), key=lambda i: (-hist.records[i]["val_acc"],
                                                 hist.records[i]["val_loss"], i))
    model.load_state_dict(snaps[best])
    kept = {e: snaps[e] for e in sorted(set(int(e) for e in snapshots)) if e < best}
    kept[best] = snaps[best]
    return hist, kept, best


def image_data(name: str, *, size: int = 28, n_train: int | None = None,
               n_test: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """(Fashion-)MNIST as float images (N, 1, size, size), standardised with the mean and std
    of the (sub-sampled) training images; ``n_train`` / ``n_test`` draw seeded subsets.
    Returns ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``mean``, ``std``."""
    from ibn.data import load_fashion_mnist, load_mnist, to_float_images

    loader = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}.get(name)
    if loader is None:
        raise ValueError(f"name must be 'mnist' or 'fashion-mnist', got {name!r}")
    rng = np.random.default_rng(seed)
    out = {}
    for split, k in (("train", n_train), ("test", n_test)):
        x, y = loader(split)
        if k is not None and k < len(y):
            idx = torch.as_tensor(np.sort(rng.choice(len(y), size=k, replace=False)))
            x, y = x[idx], y[idx]
        out[f"x_{split}"], out[f"y_{split}"] = to_float_images(x, size), y
    mean, std = float(out["x_train"].mean()), float(out["x_train"].std())
    for split in ("train", "test"):
        out[f"x_{split}"] = (out[f"x_{split}"] - mean) / std
    out["mean"], out["std"] = torch.tensor(mean), torch.tensor(std)
    return out


# ---------------------------------------------------------------------------------------------
# Trained image CNNs, cached on disk
# ---------------------------------------------------------------------------------------------


def train_image_model(model: str, dataset: str, *, size: int = 28, n_train: int | None = None,
                      n_test: int | None = None, epochs: int = 1, checkpoint_epochs:
                      Sequence[int] = (), checkpoint_steps: Sequence[int] = (),
                      lr: float = 1e-3, lr_schedule: str = "constant", batch_size: int = 128,
                      seed: int = 0, models_dir: Any = None,
                      device: str = "cpu") -> dict[str, Any]:
    """Train ``model`` (a name of :func:`ibn.models.build`, 1 input channel, 10 classes) on
    :func:`image_data` (``dataset``, ``size`` px, seeded subsets of ``n_train`` / ``n_test``
    images) with Adam (``lr``, batch ``batch_size``, per-epoch ``lr_schedule`` of
    :func:`ibn.train.train`: "constant", "cosine" or "logspace" = lr → lr/10 over the epochs),
    or load the stored run.

    The model lives in the model store (:func:`ibn.model_store.cached_model`, name
    ``A1-<model>-<dataset>``, under the data root or ``models_dir``, a data root); its
    training folder keeps ``epoch_XXXX.pt`` for each epoch of ``checkpoint_epochs`` (0 = the
    initial weights) and the final epoch, and ``step_XXXXXXX.pt`` for each global step of
    ``checkpoint_steps``. Returns ``{"model"`` (final weights, eval mode), ``"data"``
    (:func:`image_data`), ``"spec"``, ``"records"`` (per-epoch train/test loss and accuracy),
    ``"train_time_s"`` (of the run that trained it), ``"dir"`` (the training folder),
    ``"epochs"`` (kept epochs), ``"steps"`` (kept steps), ``"steps_per_epoch"``}``."""
    import time

    from ibn.model_store import cached_model, model_dir
    from ibn.models import build
    from ibn.train import train

    spec = {"model": model, "dataset": dataset, "size": int(size), "n_train": n_train,
            "n_test": n_test, "epochs": int(epochs), "lr": float(lr),
            "batch_size": int(batch_size), "seed": int(seed), "optimizer": "adam",
            "checkpoint_steps": sorted(int(k) for k in checkpoint_steps)}
    if lr_schedule != "constant":  # keeps the hash of earlier constant-rate runs
        spec["lr_schedule"] = lr_schedule
    keep = sorted(set(int(e) for e in checkpoint_epochs) | {int(epochs)})
    if any(not 0 <= e <= epochs for e in keep):
        raise ValueError(f"checkpoint epochs must lie in 0..{epochs}, got {list(checkpoint_epochs)}")
    data = image_data(dataset, size=size, n_train=n_train, n_test=n_test, seed=seed)
    name = f"A1-{model}-{dataset}"

    def fit(net: nn.Module, train_dir: Any) -> dict[str, Any]:
        t0 = time.time()
        hist = train(net, (data["x_train"], data["y_train"]),
                     test_set=(data["x_test"], data["y_test"]), epochs=epochs,
                     batch_size=batch_size, optimizer="adam", lr=lr, lr_schedule=lr_schedule,
                     seed=seed, device=device, checkpoint_dir=train_dir, checkpoint_at=keep,
                     checkpoint_steps=spec["checkpoint_steps"], progress=False)
        return {"records": hist.records, "train_time_s": time.time() - t0,
                "torch_threads": torch.get_num_threads(), "kept_epochs": keep}

    net, info = cached_model(name, spec, lambda: build(model, in_channels=1, num_classes=10,
                                                       seed=seed), fit, root=models_dir)
    net.to("cpu").eval()
    return {"model": net, "data": data, "spec": spec, "records": info["records"],
            "train_time_s": info["train_time_s"], "dir": model_dir(name, spec, models_dir) / "train",
            "epochs": keep, "steps": spec["checkpoint_steps"],
            "steps_per_epoch": math.ceil(len(data["y_train"]) / batch_size)}


def load_snapshot(run: Mapping[str, Any], epoch: int | None = None, *,
                  step: int | None = None) -> nn.Module:
    """The model of a :func:`train_image_model` run after ``epoch`` (one of ``run["epochs"]``)
    or after global ``step`` (one of ``run["steps"]``), in eval mode on the CPU."""
    from ibn.models import build

    if (epoch is None) == (step is None):
        raise ValueError("give exactly one of epoch and step")
    if epoch is not None and epoch not in run["epochs"]:
        raise ValueError(f"epoch {epoch} was not kept; kept: {run['epochs']}")
    if step is not None and step not in run["steps"]:
        raise ValueError(f"step {step} was not kept; kept: {run['steps']}")
    name = f"epoch_{epoch:04d}.pt" if epoch is not None else f"step_{step:07d}.pt"
    net = build(run["spec"]["model"], in_channels=1, num_classes=10, seed=run["spec"]["seed"])
    net.load_state_dict(torch.load(run["dir"] / name, map_location="cpu",
                                   weights_only=True)["model"])
    return net.eval()


# ---------------------------------------------------------------------------------------------
# A1 order profiles of trained image CNNs and text classifiers (cached by the notebook)
# ---------------------------------------------------------------------------------------------


def _agreement_arrays(values: torch.Tensor, *, grid, n_pairs: int, contexts: int,
                      seed: int) -> dict[str, np.ndarray]:
    """The sampled protocol on recorded values (:func:`sampled_from_values`) beside the exact
    I^(m)(i, j) of the same sampled pairs and orders: ``agree_exact`` (N, P, K) and
    ``agree_orders``, ``agree_strength``, ``agree_mean``, ``agree_sem``, ``agree_pairs``."""
    samp = sampled_from_values(values, grid=grid, n_pairs=n_pairs, contexts=contexts, seed=seed)
    inter = mo.exact(values).numpy()
    k = np.arange(values.shape[0])[:, None, None]
    pr = samp["pairs"]
    out = {"agree_exact": inter[k, samp["orders"][None, None, :], pr[..., 0:1], pr[..., 1:2]]}
    for key in ("orders", "strength", "mean", "sem", "pairs"):
        out[f"agree_{key}"] = samp[key]
    return out


def cnn_profiles(p: Mapping[str, Any], *, models_dir: Any = None) -> dict[str, Any]:
    """Exact and sampled J^(m) of one CNN on (Fashion-)MNIST over its training (A1).

    ``p``: ``model``, ``dataset``, ``size``, ``n_train``, ``n_test``, ``epochs``, ``snapshots``
    (kept epochs), ``snapshot_steps`` (kept global steps), ``lr``, ``lr_schedule`` (optional,
    default "constant"), ``batch_size``, ``seed`` (training, :func:`train_image_model`);
    ``exact_grid`` (gh, gw) with gh·gw ≤ 16 and ``n_exact`` images (exact values at every kept
    epoch, :func:`exact_profile`); ``agree_pairs`` / ``agree_contexts`` (the sampled protocol
    on the final exact values, :func:`sampled_from_values`); ``grid`` (g: g×g patches),
    ``n_sampled`` images, ``pairs``, ``contexts`` (the reference protocol on the final model,
    :func:`sampled_profile`). Images: correctly classified test images, one per class
    (:func:`pick_samples`), the first ``n_exact`` / ``n_sampled`` classes. Baseline 0 = the
    mean pixel after standardisation. ``models_dir``: where the trained weights live (default
    ``data/models/A1``)."""
    import time

    timing: dict[str, float] = {}
    run = train_image_model(p["model"], p["dataset"], size=p["size"], n_train=p["n_train"],
                            n_test=p["n_test"], epochs=p["epochs"],
                            checkpoint_epochs=p["snapshots"],
                            checkpoint_steps=p["snapshot_steps"], lr=p["lr"],
                            lr_schedule=p.get("lr_schedule", "constant"),
                            batch_size=p["batch_size"], seed=p["seed"],
                            models_dir=models_dir)
    timing["train_s"] = run["train_time_s"]
    model, data = run["model"], run["data"]
    idx = pick_samples(model, data["x_test"], data["y_test"], per_class=1, seed=p["seed"])
    xs, ys = data["x_test"][idx], data["y_test"][idx]
    gh, gw = p["exact_grid"]
    masker = PatchMasker(grid=(gh, gw), baseline=0.0, batch_size=1024)
    ne = p["n_exact"]
    out: dict[str, Any] = {
        "epochs": np.array(sorted(set(p["snapshots"]) | {p["epochs"]})),
        "sample_index": idx.numpy(), "labels": ys.numpy(),
        "train_loss": np.array([r["train_loss"] for r in run["records"]]),
        "train_acc": np.array([r["train_acc"] for r in run["records"]]),
        "test_acc": np.array([r["test_acc"] for r in run["records"]])}
    t = time.perf_counter()
    # kept weights in training order: (epoch as a real number, loader)
    snaps = [(k / run["steps_per_epoch"], {"step": k}) for k in run["steps"]]
    snaps += [(float(e), {"epoch": int(e)}) for e in out["epochs"]]
    snaps.sort(key=lambda s: s[0])
    strengths = []
    for _, which in snaps:
        values = game_values(load_snapshot(run, **which), xs[:ne], ys[:ne], masker)
        strengths.append(exact_profile(values)["strength"])
    out["snapshot_epoch"] = np.array([e for e, _ in snaps])  # real-valued epoch of each row
    out["strength"] = np.stack(strengths)  # (snapshots, images, n−1)
    timing["exact_s"] = time.perf_counter() - t
    out.update(_agreement_arrays(values, grid=(gh, gw), n_pairs=p["agree_pairs"],
                                 contexts=p["agree_contexts"], seed=p["seed"]))
    t = time.perf_counter()
    g, ns = p["grid"], p["n_sampled"]
    fine = PatchMasker(grid=(g, g), baseline=0.0, batch_size=1024)
    big = sampled_profile(model, xs[:ns], ys[:ns], fine, grid=(g, g), n_pairs=p["pairs"],
                          contexts=p["contexts"], seed=p["seed"])
    timing["sampled_s"] = time.perf_counter() - t
    for key in ("orders", "ratios", "strength", "sem", "mean"):
        out[f"fine_{key}"] = big[key]
    out["timing"] = timing
    return out


def text_profiles(p: Mapping[str, Any], *, models_dir: Any = None) -> dict[str, Any]:
    """Exact J^(m) of a text classifier on Rotten Tomatoes test sentences (A1).

    ``p``: ``model`` ("minilm" | "bert_medium"), ``n_train``, ``epochs``, ``lr`` (None = the
    default), ``seed`` (:func:`papers.text_models.train_text_classifier` on the train
    split); ``n_test`` (accuracy on the first ``n_test`` test sentences); ``n_players`` meaningful words per sentence, ``n_sentences``, ``max_tokens``: the
    sentences are the first test sentences with at least ``n_players`` meaningful words and at
    most ``max_tokens`` tokens — the same for every model, whether the model classifies them
    correctly or not (``correct`` records it); ``agree_pairs`` / ``agree_contexts`` as in
    :func:`cnn_profiles`. Reward: log-odds of the true label. ``models_dir``: where the weights
    live (default ``data/models/text``)."""
    import time

    from . import text_models as tm

    t = time.perf_counter()
    net = tm.train_text_classifier(p["model"], "train", n_train=p["n_train"],
                                   epochs=p["epochs"], seed=p["seed"], lr=p["lr"],
                                   models_dir=models_dir)
    info = net.training_info
    acc = tm.text_accuracy(net, "test", p["n_test"])
    texts, labels = tm.load_sentences("test")
    chosen: list[int] = []
    for k, text in enumerate(texts):
        try:
            masker = tm.token_masker(net, text, p["n_players"], p["seed"])
        except ValueError:
            continue
        if masker.n_players == p["n_players"] and len(masker.input_ids) <= p["max_tokens"]:
            chosen.append(k)
        if len(chosen) == p["n_sentences"]:
            break
    t_train = time.perf_counter() - t
    t = time.perf_counter()
    values = torch.stack([tm.text_values(net, texts[k], labels[k], p["n_players"], p["seed"])
                          for k in chosen])
    n = p["n_players"]
    full = values[:, (1 << n) - 1]
    out: dict[str, Any] = {
        "sentence_index": np.array(chosen), "labels": np.array([labels[k] for k in chosen]),
        "words": [[pl["word"] for pl in tm.token_masker(net, texts[k], n, p["seed"]).players]
                  for k in chosen],
        "correct": (full > 0).numpy(), "test_acc": acc, "train_acc": info["train_acc"],
        "train_time_s": info["train_time_s"], "strength": exact_profile(values)["strength"]}
    out.update(_agreement_arrays(values, grid=None, n_pairs=p["agree_pairs"],
                                 contexts=p["agree_contexts"], seed=p["seed"]))
    out["timing"] = {"load_and_test_s": t_train, "exact_s": time.perf_counter() - t}
    return out
