r"""Paper A: the interaction bottleneck (Conventions page, conventions-multiorder) — the pipelines
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

- **Order profiles of models** (A1): :func:`pick_samples`, :func:`game_values` (the
  :math:`2^n` values :math:`v(x_T)` of each sample, reward the log-odds of the true label,
  Conventions page, eq-reward) and :func:`sampled_profile` (the reference sampling protocol on
  a model, Conventions page, eq-reference-orders); :func:`shape_summary` gives the numbers
  behind a "U-shaped or not" verdict of a :math:`J^{(m)}` curve, :func:`interior_peaks` finds
  peaks between the ends (A3's "second peak").
- **Order-steered models** (A3, A4): :func:`steering_loss` builds the :math:`\lambda`-term of a
  preset or of an explicit ``(mode, r1, r2)`` (Conventions page, eq-steering-delta-u,
  eq-steering-boost, eq-steering-suppress; :mod:`ibn.train.losses`); :func:`train_snapshots`
  trains with :func:`ibn.train.train` keeping the weights of chosen epochs.
- **Tabular MLPs** (A1–A4): :func:`train_tabular`, :func:`fit_tabular` and
  :func:`fitted_part` train on the first features of a scikit-learn table
  (:func:`select_features`) by the Adam recipe or paper A's reference recipe
  (:data:`REFERENCE_TABULAR`).
- **Trained image CNNs** (A1): :func:`train_image_model` trains a CNN of :mod:`ibn.models` on
  (Fashion-)MNIST (:func:`image_data`) once, keeping the weights of chosen epochs under
  ``data/models/A1/`` (git-ignored, keyed by the hash of the settings, resumable); a second
  call only loads. :func:`load_snapshot` rebuilds the model of one kept epoch.
  :func:`cnn_profiles` and :func:`text_profiles` are A1's pipelines.

Order ratios are :math:`r = m / (n-2) \in [0, 1]` (the reference protocol's
:math:`m = \operatorname{int}((n-2)\, r)`, Conventions page, eq-reference-orders).
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
    r"""The numbers behind a U-shape verdict of a :math:`J^{(m)}` curve.

    :math:`J_{\mathrm{low}}` is the mean of the curve over the ratios :math:`r \le` ``low``,
    :math:`J_{\mathrm{high}}` the mean over :math:`r \ge` ``high`` and :math:`J_{\mathrm{mid}}`
    the mean over the band ``mid`` (bounds included). An end counts as *above* the middle when
    :math:`J_{\mathrm{mid}} < \mathrm{margin} \cdot J_{\mathrm{end}}` (default: the middle at least
    20 % lower). Verdict: "U-shaped" (both ends above), "falling" (only the low end above),
    "rising" (only the high end), "mid peak" (the middle above both ends by the same margin),
    else "flat".

    Args:
        ratios: the order ratios :math:`r = m/(n-2)` of the curve's points, in [0, 1].
        J: the curve at those ratios, e.g. the relative strength :math:`J^{(m)}` (Conventions
            page, eq-relative-strength); the same length as ``ratios``.
        low: the upper end of the low band of ratios (default 0.1).
        high: the lower end of the high band of ratios (default 0.9).
        mid: ``(lo, hi)``, the band of ratios of the middle (default ``(0.3, 0.7)``).
        margin: the factor by which the middle must lie below an end for that end to count as
            above it (default 0.8).

    Returns:
        A dict: ``J_low``, ``J_mid``, ``J_high`` (the three band means), ``mid_over_low`` and
        ``mid_over_high`` (their ratios, NaN when the end's mean is 0) and ``verdict`` (one of the
        five strings above).

    Raises:
        ValueError: ``ratios`` and ``J`` differ in shape, or a band holds no ratio.
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
    r"""Interior local maxima of a curve, used to detect A3's second peak of :math:`J^{(m)}`.

    Point :math:`k` (neither the first nor the last) is a local maximum when
    :math:`J_k > J_{k-1}` and :math:`J_k \ge J_{k+1}`. Its prominence is its height above the
    higher of the lowest points on either side, each side searched up to the first higher value
    (or the end of the curve). Maxima whose prominence is at least ``min_prominence`` × the mean
    of :math:`|J|` are kept.

    Args:
        ratios: the order ratios :math:`r` of the curve's points (reported for each peak).
        J: the curve at those ratios, e.g. :math:`J^{(m)}`; the same length as ``ratios``.
        min_prominence: the smallest prominence kept, relative to the mean of :math:`|J|` (taken
            as 1 when that mean is 0); default 0.1.

    Returns:
        One dict per kept peak, in the curve's order: ``ratio``, ``index`` (its position in the
        curve), ``J`` (its value) and ``prominence``.
    """
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
    r"""Indices of up to ``per_class`` samples of each class (the reference protocol: 5 per class,
    correctly classified; Conventions page, conventions-protocol-a).

    For each label present in ``y`` (in increasing order) the indices are drawn without
    replacement with ``numpy.random.default_rng(seed)`` among the samples of that class that the
    model classifies correctly (``correct=True``) or among all of them; a class with fewer
    candidates gives all it has.

    Args:
        model: the classifier, mapping a batch of ``x`` to logits ``(B, classes)``.
        x: the inputs ``(N, ...)``, e.g. images ``(N, C, H, W)`` or table rows ``(N, D)``.
        y: their integer labels ``(N,)``.
        per_class: the largest number of samples per class.
        seed: the seed of the draw (default 0).
        correct: draw only among the correctly classified samples (default True).
        batch_size: inputs per forward pass when classifying ``x`` (default 512).

    Returns:
        An int64 tensor of indices into ``x``, sorted by class, then by index.
    """
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
    r"""The values :math:`v(x_T)` of all :math:`2^n` coalitions :math:`T` of each sample.

    The reward is the log-odds of the true label ``ys[k]`` (Conventions page, eq-reward); bit
    :math:`i` of the coalition index is player :math:`i` (Conventions page, eq-mask). The model is
    put in eval mode.

    Args:
        model: the classifier (logits).
        xs: the samples ``(N, ...)``, each one input as ``masker`` takes it.
        ys: their true labels ``(N,)``, the target class of each sample's game.
        masker: the :math:`n` players and their baseline (an :mod:`ibn.maskers` masker, e.g.
            :class:`~ibn.maskers.PatchMasker` or :class:`~ibn.maskers.TabularMasker`).
        batch_size: masked inputs per forward pass (default 1024).
        max_players: the largest :math:`n` accepted (default 16, i.e. :math:`2^{16}` masked
            inputs per sample).

    Returns:
        A float64 tensor :math:`(N, 2^n)`; :math:`(0, 2^n)` when ``xs`` is empty.

    Raises:
        ValueError: :math:`n` exceeds ``max_players`` (from :func:`ibn.games.all_values`).
    """
    model.eval()
    out = [all_values(model, x, masker, target=int(y), batch_size=batch_size,
                      max_players=max_players, progress=False).values for x, y in zip(xs, ys)]
    return torch.stack(out) if out else torch.zeros(0, 1 << masker.n_players, dtype=torch.float64)


def sampled_profile(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, masker: Any, *,
                    grid: tuple[int, int] | None = None, pairs=None, n_pairs: int = 200,
                    radius: int = 2, contexts: int = 100,
                    ratios: Sequence[float] = mo.REFERENCE_RATIOS, orders=None, seed: int = 0,
                    batch_size: int = 1024) -> dict[str, Any]:
    r"""The reference sampling protocol on a model (Conventions page, eq-reference-orders).

    For each sample: ``n_pairs`` pairs :math:`(i, j)` (:math:`j` among the grid neighbours of
    :math:`i` when ``grid`` is given), ``contexts`` random contexts :math:`S` per pair and order,
    and :math:`|\cdot|` taken after averaging :math:`\Delta v(i, j, S)` over the contexts
    (Conventions page, eq-delta-v, eq-strength). Reward: the log-odds of the true label
    (Conventions page, eq-reward). Sample :math:`k` is drawn with seed ``seed + k``.

    Args:
        model: the classifier (logits); put in eval mode.
        xs: the samples ``(N, ...)``.
        ys: their true labels ``(N,)``.
        masker: the :math:`n` players and their baseline (an :mod:`ibn.maskers` masker).
        grid: ``(h, w)``, the players' grid, to draw neighbour pairs; None draws pairs among all
            players.
        pairs: explicit ``(P, 2)`` pairs of players instead of drawn ones, or None.
        n_pairs: the number of pairs drawn per sample when ``pairs`` is None (default 200).
        radius: the largest :math:`L^\infty` grid distance of a neighbour (default 2: the 24
            neighbours).
        contexts: the number of random contexts per pair and order (default 100).
        ratios: the order ratios :math:`r`, orders :math:`m = \operatorname{int}((n-2)\, r)`
            (default the reference's 13, ``ibn.multiorder.REFERENCE_RATIOS``).
        orders: explicit orders :math:`m` instead of ``ratios``, or None.
        seed: the seed of the first sample (default 0).
        batch_size: masked inputs per forward pass (default 1024).

    Returns:
        A dict of numpy arrays as :func:`sampled_from_values`: ``orders``, ``ratios``,
        ``strength`` ``(N, K)``, ``J``, ``pairs`` ``(N, P, 2)``, ``mean`` and ``sem``
        ``(N, P, K)``, ``contexts`` and ``n``.
    """
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
    r"""The order-steering :math:`\lambda`-term, an ``extra_loss`` of :func:`ibn.train.train`.

    The term is :math:`\lambda\, \mathrm{CE}(\Delta u, y)` (mode ``"boost"``) or
    :math:`-\lambda\, H(\operatorname{softmax}(\Delta u))` (mode ``"suppress"``), with
    :math:`\Delta u` of Conventions page, eq-steering-delta-u (the losses of eq-steering-boost and
    eq-steering-suppress without their cross-entropy, which the training loop adds).

    Args:
        kind: ``"normal"`` or None (no term), a preset name of :data:`ibn.train.PRESETS`
            (``"low"``, ``"mid"``, ``"high"``), or an explicit ``(mode, r1, r2)`` with mode
            ``"boost"`` or ``"suppress"`` and :math:`0 \le r_1 < r_2 \le 1`.
        lam: the weight :math:`\lambda`; 0 gives no term.
        masker: the players of the steering coalitions :math:`S_1 \subset S_2` (a masker, or a
            baseline value, as ``masker_or_baseline`` of :class:`ibn.train.OrderSteeringLoss`).

    Returns:
        An :class:`ibn.train.OrderSteeringLoss`, or None for the normal model (``kind`` normal or
        None, or ``lam`` = 0).

    Raises:
        ValueError: an unknown preset name, or an invalid ``(mode, r1, r2)``.
    """
    from ibn.train import OrderSteeringLoss

    if kind is None or kind == "normal" or lam == 0:
        return None
    if isinstance(kind, str):
        return OrderSteeringLoss.preset(kind, lam=lam, masker_or_baseline=masker)
    mode, r1, r2 = kind
    return OrderSteeringLoss(r1, r2, mode, lam, masker_or_baseline=masker)


def train_snapshots(model: nn.Module, train_set, *, snapshot_epochs: Iterable[int] = (),
                    **train_kw) -> tuple[Any, dict[int, dict[str, torch.Tensor]]]:
    r""":func:`ibn.train.train` keeping copies of the weights after chosen epochs.

    Args:
        model: the network to train (in place).
        train_set: the training data as :func:`ibn.train.train` takes it, e.g. an ``(x, y)``
            pair of tensors.
        snapshot_epochs: the epochs after which the weights are copied (0 = before training).
        **train_kw: further keyword arguments of :func:`ibn.train.train` (``epochs``, ``lr``,
            ``test_set``, ...); a ``callback`` among them is still called after each epoch, and
            ``progress`` defaults to False.

    Returns:
        ``(History, {epoch: state_dict})``, the state dicts detached copies on the CPU.
    """
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
    r"""A copy of a tabular split keeping only some of its columns.

    Args:
        tab: an :class:`ibn.data.Tabular` split (standardised train and test tables).
        features: the indices of the columns to keep, in the order wanted.

    Returns:
        A new :class:`ibn.data.Tabular` with those columns of ``x_train`` and ``x_test`` and the
        matching ``feature_names``, ``mean`` and ``std``.
    """
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
#: the training recipes of :func:`fit_tabular`: Adam, or :data:`REFERENCE_TABULAR`
TABULAR_RECIPES = ("adam", "reference")


def train_tabular(dataset: str, model_name: str, *, features: Sequence[int], epochs: int,
                  snapshots: Iterable[int], seed: int, recipe: str = "adam"
                  ) -> tuple[Any, nn.Module, Any, dict]:
    r"""The tabular setting of paper A's discovery and cause experiments: an MLP on some features of
    a scikit-learn table.

    Args:
        dataset: the name of the table for :func:`ibn.data.load_tabular` (``"wine"``,
            ``"breast_cancer"``, ``"digits"``), split with ``seed``.
        model_name: the model of :func:`ibn.models.build`, e.g. ``"mlp5"``.
        features: the indices of the columns that are the inputs (and the players).
        epochs: the number of training epochs.
        snapshots: the epochs whose weights are kept (0 = initialisation; see
            :func:`fit_tabular`).
        seed: the seed of the split, the initial weights and the training.
        recipe: ``"adam"`` (default) or ``"reference"`` (:data:`REFERENCE_TABULAR`), as
            :func:`fit_tabular`.

    Returns:
        ``(Tabular split, model, History, {epoch: state_dict})``; the model holds the weights
        :func:`fit_tabular` ends with.

    Raises:
        ValueError: an unknown data set, model or recipe.
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
    r"""The indices of a split's training rows that :func:`fit_tabular` trains on.

    Args:
        tab: the :class:`ibn.data.Tabular` split.
        seed: the seed of the validation draw (``random_state`` of scikit-learn's
            ``train_test_split``).
        recipe: ``"adam"`` (default: every training row) or ``"reference"`` (all but a
            stratified, seeded validation part of ``REFERENCE_TABULAR["val_fraction"]``).

    Returns:
        An int64 tensor of row indices into ``tab.x_train``, sorted.
    """
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
    r"""Train ``model`` on the training part of the split ``tab`` by ``recipe``.

    Batches of 32 on the CPU, loss the cross-entropy plus ``extra_loss``:

    - ``"adam"``: Adam at 1e-3 on the whole training split for ``epochs`` epochs; the weights
      after the epochs in ``snapshots`` are kept (:func:`train_snapshots`; 0 = initialisation).
    - ``"reference"``: :data:`REFERENCE_TABULAR` on :func:`fitted_part`, the rest of the training
      split being the validation part; the model ends with the kept (best validation accuracy,
      ties: lower validation loss) epoch's weights, the snapshots are those of ``snapshots``
      before it and the kept epoch itself (the largest key). Each History record also has
      ``val_loss``/``val_acc``.

    Args:
        model: the network to train (in place).
        tab: the :class:`ibn.data.Tabular` split.
        epochs: the number of training epochs.
        seed: the seed of the training (batch order) and of the validation draw.
        recipe: ``"adam"`` (default) or ``"reference"``.
        snapshots: the epochs whose weights are kept (0 = initialisation).
        extra_loss: an ``extra_loss(model, x, y, logits)`` term of :func:`ibn.train.train`, e.g.
            :func:`steering_loss`, or None.

    Returns:
        ``(History, {epoch: state_dict}, kept epoch)``: the kept epoch is the last for Adam, the
        best-validation one for the reference recipe. ``test_loss``/``test_acc`` of the records
        are on the test split.

    Raises:
        ValueError: ``recipe`` is not one of :data:`TABULAR_RECIPES`.
    """
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
    r"""(Fashion-)MNIST as standardised float images.

    The images are resized to ``size`` px and standardised with the mean and standard deviation
    of the (sub-sampled) training images.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        size: the side of the images in pixels (default 28).
        n_train: the number of training images, a seeded subset (None: all).
        n_test: the number of test images, a seeded subset (None: all).
        seed: the seed of the subsets (default 0).

    Returns:
        A dict: ``x_train``, ``x_test`` (float images ``(N, 1, size, size)``), ``y_train``,
        ``y_test`` (labels), ``mean`` and ``std`` (scalar tensors of the standardisation).

    Raises:
        ValueError: an unknown ``name``.
    """
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
    r"""Train a CNN on (Fashion-)MNIST with Adam, or load the stored run.

    The model lives in the model store (:func:`ibn.model_store.cached_model`, name
    ``A1-<model>-<dataset>``, keyed by the settings); its training folder keeps
    ``epoch_XXXX.pt`` for each epoch of ``checkpoint_epochs`` and the final epoch, and
    ``step_XXXXXXX.pt`` for each global step of ``checkpoint_steps``.

    Args:
        model: a model name of :func:`ibn.models.build` (1 input channel, 10 classes), e.g.
            ``"resnet20"``.
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (:func:`image_data`).
        size: the side of the images in pixels (default 28).
        n_train: the number of training images, a seeded subset (None: all).
        n_test: the number of test images, a seeded subset (None: all).
        epochs: the number of training epochs (default 1).
        checkpoint_epochs: epochs whose weights are kept, in 0..``epochs`` (0 = the initial
            weights); the final epoch is always kept.
        checkpoint_steps: global steps whose weights are kept.
        lr: Adam's learning rate (default 1e-3).
        lr_schedule: the per-epoch schedule of :func:`ibn.train.train`: ``"constant"``
            (default), ``"cosine"`` or ``"logspace"`` (lr → lr/10 over the epochs).
        batch_size: the training batch size (default 128).
        seed: the seed of the subsets, the initial weights and the batch order (default 0).
        models_dir: the data root of the model store (default: the project's, the weights under
            ``data/models/A1``).
        device: the device the model trains on (default ``"cpu"``); the returned model is on the
            CPU.

    Returns:
        A dict: ``model`` (final weights, eval mode), ``data`` (:func:`image_data`), ``spec``
        (the settings that key the store), ``records`` (per-epoch train/test loss and accuracy),
        ``train_time_s`` (of the run that trained it), ``dir`` (the training folder), ``epochs``
        (kept epochs), ``steps`` (kept steps) and ``steps_per_epoch``.

    Raises:
        ValueError: a checkpoint epoch outside 0..``epochs``, or an unknown data set.
    """
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
    r"""The model of a :func:`train_image_model` run after a kept epoch or global step.

    Give exactly one of ``epoch`` and ``step``.

    Args:
        run: the dict returned by :func:`train_image_model`.
        epoch: one of ``run["epochs"]``, or None.
        step: one of ``run["steps"]``, or None.

    Returns:
        The network with those weights, in eval mode on the CPU.

    Raises:
        ValueError: both or neither of ``epoch`` and ``step`` given, or one that was not kept.
    """
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
    r"""Exact and sampled :math:`J^{(m)}` of one CNN on (Fashion-)MNIST over its training (A1).

    Images: correctly classified test images, one per class (:func:`pick_samples`), the first
    ``n_exact`` / ``n_sampled`` classes. Players: patches of the image
    (:class:`~ibn.maskers.PatchMasker`), baseline 0 = the mean pixel after standardisation;
    reward the log-odds of the true label (Conventions page, eq-reward).

    Args:
        p: the settings: ``model``, ``dataset``, ``size``, ``n_train``, ``n_test``, ``epochs``,
            ``snapshots`` (kept epochs), ``snapshot_steps`` (kept global steps), ``lr``,
            ``lr_schedule`` (optional, default "constant"), ``batch_size``, ``seed`` (training,
            :func:`train_image_model`); ``exact_grid`` ``(gh, gw)`` with gh·gw ≤ 16 and
            ``n_exact`` images (exact values at every kept epoch and step, :func:`exact_profile`);
            ``agree_pairs`` / ``agree_contexts`` (the sampled protocol on the final exact values,
            :func:`sampled_from_values`); ``grid`` (g: g×g patches), ``n_sampled`` images,
            ``pairs``, ``contexts`` (the reference protocol on the final model,
            :func:`sampled_profile`).
        models_dir: the data root of the trained weights (default: the project's,
            ``data/models/A1``).

    Returns:
        A dict: ``epochs`` (kept epochs), ``sample_index``, ``labels``, ``train_loss``,
        ``train_acc``, ``test_acc`` (per epoch), ``snapshot_epoch`` (the real-valued epoch of each
        kept step or epoch, in training order), ``strength`` (snapshots, images, n−1: the exact
        :math:`S^{(m)}(x)`, Conventions page, eq-strength), the ``agree_*`` arrays (``agree_exact``
        ``(N, P, K)``: the exact :math:`I^{(m)}(i, j)` of the sampled pairs and orders, and the
        sampled protocol's ``agree_orders``, ``agree_strength``, ``agree_mean``, ``agree_sem``,
        ``agree_pairs``), ``fine_orders``, ``fine_ratios``, ``fine_strength``, ``fine_sem``,
        ``fine_mean`` (the reference protocol on the g×g grid) and ``timing`` (seconds per step).
    """
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
    r"""Exact :math:`J^{(m)}` of a text classifier on Rotten Tomatoes test sentences (A1).

    The sentences are the first test sentences with at least ``n_players`` meaningful words and at
    most ``max_tokens`` tokens, the same for every model, whether the model classifies them
    correctly or not. Players: ``n_players`` meaningful words per sentence
    (:func:`papers.text_models.token_masker`); reward the log-odds of the true label
    (Conventions page, eq-reward).

    Args:
        p: the settings: ``model`` (``"minilm"`` or ``"bert_medium"``), ``n_train``, ``epochs``,
            ``lr`` (None = the default), ``seed`` (:func:`papers.text_models.train_text_classifier`
            on the train split); ``n_test`` (accuracy on the first ``n_test`` test sentences);
            ``n_players``, ``n_sentences``, ``max_tokens`` (the sentences, above);
            ``agree_pairs`` / ``agree_contexts`` as in :func:`cnn_profiles`.
        models_dir: the data root of the trained weights (default: the project's,
            ``data/models/text``).

    Returns:
        A dict: ``sentence_index``, ``labels``, ``words`` (the players of each sentence),
        ``correct`` (whether :math:`v(x_N) > 0`), ``test_acc``, ``train_acc``, ``train_time_s``,
        ``strength`` (sentences, n−1: the exact :math:`S^{(m)}(x)`, Conventions page,
        eq-strength), the ``agree_*`` arrays as in :func:`cnn_profiles` and ``timing``.
    """
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
