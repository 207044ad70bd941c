"""Paper A's chapter pipelines: one cached run per model of the notebooks A1–A4.

The presets per scale are :data:`A1_PRESETS` … :data:`A4_PRESETS` (frozen specs of
:mod:`papers.specs`; a notebook takes its scale's with :func:`ibn.book.scale_params`). Each
runner takes such a preset (``settings``: a spec, or a plain mapping of the same settings), its
``seed`` and ``scale`` and returns ``(params, result)``:
the cache key and the result of :func:`ibn.results.cached` under the chapter's name
(``A1_tabular``, ``A1_cnn``, ``A1_text``, ``A2_gradients``, ``A3_modulation``,
``A4_consequences``). The steps themselves are :mod:`papers.bottleneck`'s; the small helpers
at the end turn results into the numbers of the chapters' tables.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ibn import multiorder as mo
from ibn.data import load_tabular
from ibn.maskers import TabularMasker
from ibn.models import build
from ibn.results import cached
from ibn.train import PRESETS, evaluate
from papers import bottleneck as bn
from papers.specs import CauseSpec, ConsequencesSpec, DiscoverySpec, ModulationSpec, Spec

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "A1_PRESETS", "A2_PRESETS", "A3_PRESETS", "A4_PRESETS",
    "a1_tabular", "tabular_recipe_rows", "a1_cnn_params", "a1_cnn", "a1_text_params", "a1_text", "exact_vs_sampled",
    "sampled_noise_floor", "a2_gradients", "a3_modulation", "a3_sweep", "order_centre",
    "a4_consequences",
    "order_of",
]

Run = tuple[dict[str, Any], dict[str, Any]]

#: the tabular experiments' players: the first 12 features of the table.
N_FEATURES = 12


def _plain(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    """A spec's settings as plain data (lists and dicts, :meth:`papers.specs.Spec.key`), so
    that the cache keys and the returned params hold the very lists of the dicts the specs
    replaced; a plain mapping as it is."""
    return settings.key() if isinstance(settings, Spec) else settings


# ---------------------------------------------------------------------------------------------
# A1 · Discovery
# ---------------------------------------------------------------------------------------------

#: A1's settings per scale (:class:`papers.specs.DiscoverySpec`); at paper scale the CNNs train
#: on every training image and are tested on the whole test set (``None``).
A1_PRESETS: dict[str, DiscoverySpec] = {
    "smoke": DiscoverySpec(
        tab_sets=("wine",), tab_models=("mlp5",), tab_epochs=1, tab_snapshots=(0, 1),
        tab_per_class=2, agree_pairs=10, agree_contexts=20,
        cnn_sets=("mnist",), cnn_models=("resnet20",), cnn_size=28, cnn_test=200, cnn_batch=64,
        cnn_train={"resnet20": (256, 1, 2e-3)}, cnn_snapshots=(0, 1),
        cnn_steps={"resnet20": (2,)}, cnn_exact=1, cnn_exact_grid=(3, 3), cnn_sampled=1,
        cnn_grid=8, cnn_pairs=2, cnn_contexts=2,
        text_models=("minilm",), text_train={"minilm": (32, 1)}, text_test=64,
        text_sentences=1, text_players=4, text_max_tokens=24),
    "book": DiscoverySpec(
        tab_sets=("wine", "breast_cancer"), tab_models=("mlp5", "mlp8"), tab_epochs=100,
        tab_snapshots=(0, 1, 3, 10, 30, 100), tab_per_class=8, agree_pairs=50,
        agree_contexts=100,
        cnn_sets=("mnist", "fashion-mnist"), cnn_models=("resnet20", "vgg11", "alexnet"),
        cnn_size=28, cnn_test=1000, cnn_batch=64,
        cnn_train={"resnet20": (5000, 2, 2e-3), "vgg11": (2000, 3, 5e-4, 16),
                   "alexnet": (2000, 3, 5e-4, 16)},
        cnn_snapshots=(0, 1, 2),
        cnn_steps={"resnet20": (5, 20, 40), "vgg11": (10,), "alexnet": (10,)},
        cnn_exact=3, cnn_exact_grid=(3, 3), cnn_sampled=1, cnn_grid=8, cnn_pairs=8,
        cnn_contexts=8,
        text_models=("minilm", "bert_medium"),
        text_train={"minilm": (8454, 1), "bert_medium": (2000, 1)}, text_test=1057,
        text_sentences=4, text_players=10, text_max_tokens=24),
    "paper": DiscoverySpec(
        tab_sets=("wine", "breast_cancer"), tab_models=("mlp5", "mlp8"), tab_epochs=300,
        tab_snapshots=(0, 1, 3, 10, 30, 100, 300), tab_per_class=20, agree_pairs=200,
        agree_contexts=100,
        cnn_sets=("mnist", "fashion-mnist"), cnn_models=("resnet20", "vgg11", "alexnet"),
        cnn_size=28, cnn_test=None, cnn_batch=128,
        cnn_train={"resnet20": (None, 10, 1e-3), "vgg11": (None, 10, 1e-3),
                   "alexnet": (None, 10, 1e-3)},
        cnn_snapshots=(0, 1, 3, 10), cnn_steps={}, cnn_exact=10, cnn_exact_grid=(3, 4),
        cnn_sampled=50, cnn_grid=8, cnn_pairs=200, cnn_contexts=100,
        text_models=("minilm", "bert_medium"),
        text_train={"minilm": (8454, 3), "bert_medium": (8454, 10)}, text_test=1057,
        text_sentences=50, text_players=10, text_max_tokens=64),
}


def _with_recipe(params: dict[str, Any], recipe: str) -> None:
    """Write a tabular training ``recipe`` into a run's cache key (:func:`papers.bottleneck.
    fit_tabular`); the Adam runs' keys stay as they were."""
    if recipe not in bn.TABULAR_RECIPES:
        raise ValueError(f"recipe must be one of {bn.TABULAR_RECIPES}, got {recipe!r}")
    if recipe == "reference":
        params.update(optimizer="sgd", lr=bn.REFERENCE_TABULAR["lr"],
                      recipe=dict(bn.REFERENCE_TABULAR))


def a1_tabular(dataset: str, model_name: str, settings: Mapping[str, Any], *, seed: int,
               scale: str, recipe: str = "adam", recompute: bool = False) -> Run:
    r"""A1's tabular run (cached as ``A1_tabular``).

    ``model_name`` is trained by ``recipe`` (:func:`papers.bottleneck.train_tabular`) on the 12
    first features of ``dataset``; the exact :math:`J^{(m)}` strengths are measured after each kept
    epoch, and the sampled protocol runs on the final (for the reference recipe: the kept,
    best-validation) model's recorded values beside the exact :math:`I^{(m)}(i, j)` (Conventions
    page, eq-multiorder, eq-reference-orders). Players: the 12 features, baseline 0 (the training
    mean of the standardised table); reward the log-odds of the true label.

    Args:
        dataset: the scikit-learn table (``"wine"``, ``"breast_cancer"``; see
            :func:`ibn.data.load_tabular`).
        model_name: the MLP of :func:`ibn.models.build`, e.g. ``"mlp5"``.
        settings: A1's preset (:class:`papers.specs.DiscoverySpec` or a mapping) with
            ``tab_epochs``, ``tab_snapshots``, ``tab_per_class``, ``agree_pairs``,
            ``agree_contexts``.
        seed: the seed of the table's split, the initial weights, the training and the samples'
            draw.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recipe: the training recipe of :func:`papers.bottleneck.fit_tabular`: ``"adam"``
            (default) or ``"reference"`` (:data:`papers.bottleneck.REFERENCE_TABULAR`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``(params, result)``: the cache key and the result, with ``epochs`` (kept epochs),
        ``sample_index``, ``train_loss``/``train_acc``/``test_acc`` per epoch, ``strength``
        (snapshots, samples, n−1: :math:`S^{(m)}(x)`, Conventions page, eq-strength),
        ``agree_exact`` and the sampled protocol's ``agree_*`` arrays; for the reference recipe
        also ``val_loss``/``val_acc`` per epoch and ``kept_epoch`` (the last of ``epochs``).

    Raises:
        ValueError: an unknown ``recipe``.
    """
    settings = _plain(settings)
    params = {"experiment": "A1_tabular", "dataset": dataset, "model": model_name,
              "features": list(range(N_FEATURES)), "epochs": settings["tab_epochs"],
              "snapshots": settings["tab_snapshots"], "per_class": settings["tab_per_class"],
              "optimizer": "adam", "lr": 1e-3, "batch_size": 32, "seed": seed,
              "agree_pairs": settings["agree_pairs"], "agree_contexts": settings["agree_contexts"],
              "scale": scale, "version": 1}
    _with_recipe(params, recipe)

    def compute() -> dict[str, Any]:
        tab, model, hist, snaps = bn.train_tabular(
            dataset, model_name, features=params["features"], epochs=params["epochs"],
            snapshots=params["snapshots"], seed=seed, recipe=recipe)
        masker = TabularMasker(torch.zeros(N_FEATURES))
        idx = bn.pick_samples(model, tab.x_test, tab.y_test, per_class=params["per_class"],
                              seed=seed)
        xs, ys = tab.x_test[idx], tab.y_test[idx]
        out = {"epochs": np.array(sorted(snaps)), "sample_index": idx.numpy(),
               "train_loss": np.array([r["train_loss"] for r in hist.records]),
               "train_acc": np.array([r["train_acc"] for r in hist.records]),
               "test_acc": np.array([r["test_acc"] for r in hist.records])}
        if recipe == "reference":
            out.update(val_loss=np.array([r["val_loss"] for r in hist.records]),
                       val_acc=np.array([r["val_acc"] for r in hist.records]),
                       kept_epoch=int(max(snaps)))
        strengths = []
        for e in sorted(snaps):
            model.load_state_dict(snaps[e])
            values = bn.game_values(model, xs, ys, masker)
            strengths.append(bn.exact_profile(values)["strength"])
        out["strength"] = np.stack(strengths)  # (snapshots, samples, n−1)
        # exact vs sampled on the final model (values of the last snapshot)
        samp = bn.sampled_from_values(values, n_pairs=params["agree_pairs"],
                                      contexts=params["agree_contexts"], seed=seed)
        inter = mo.exact(values).numpy()
        k = np.arange(len(ys))[:, None, None]
        pr = samp["pairs"]
        out["agree_exact"] = inter[k, samp["orders"][None, None, :], pr[..., 0:1], pr[..., 1:2]]
        for key in ("orders", "strength", "mean", "sem", "pairs"):
            out[f"agree_{key}"] = samp[key]
        return out

    return params, cached("A1_tabular", params, compute, recompute=recompute)


def tabular_recipe_rows(runs: Mapping[tuple[str, str, str], Run]) -> list[dict[str, Any]]:
    r"""One table row per tabular run, comparing the training recipes.

    Each row has the kept epoch (the last for Adam, the best-validation one for the reference
    recipe), its train and test accuracy, and the shape of the exact :math:`J^{(m)}` at
    initialisation and at the kept epoch (:func:`papers.bottleneck.shape_summary`: verdict,
    mid/low and mid/high).

    Args:
        runs: ``{(dataset, model, recipe): a1_tabular(...)}``, the runs of :func:`a1_tabular`
            keyed by their data set, model and recipe.

    Returns:
        A list of dicts with the keys ``dataset``, ``model``, ``recipe``, ``kept epoch``,
        ``train acc``, ``test acc``, ``at init``, ``kept``, ``mid/low`` and ``mid/high``.
    """
    rows = []
    for (d, m, recipe), (_, res) in runs.items():
        kept = int(res["epochs"][-1])
        shapes = {}
        for label, i in (("init", 0), ("kept", -1)):
            S = res["strength"][i]
            J = mo.relative_strength(torch.as_tensor(S)).numpy()
            shapes[label] = bn.shape_summary(bn.order_ratios(np.arange(S.shape[1]), N_FEATURES), J)
        rows.append({"dataset": d, "model": m, "recipe": recipe, "kept epoch": kept,
                     "train acc": float(res["train_acc"][kept - 1]),
                     "test acc": float(res["test_acc"][kept - 1]),
                     "at init": shapes["init"]["verdict"], "kept": shapes["kept"]["verdict"],
                     "mid/low": shapes["kept"]["mid_over_low"],
                     "mid/high": shapes["kept"]["mid_over_high"]})
    return rows


def a1_cnn_params(dataset: str, model: str, settings: Mapping[str, Any], *, seed: int,
                  scale: str) -> dict[str, Any]:
    r"""Settings of one A1 CNN run (training, players, protocols).

    They are the cache key of :func:`a1_cnn` and the parameters ``p`` of
    :func:`papers.bottleneck.cnn_profiles`.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        model: the CNN of :func:`ibn.models.build` (a key of ``settings["cnn_train"]``), e.g.
            ``"resnet20"``.
        settings: A1's preset (:class:`papers.specs.DiscoverySpec` or a mapping) with
            ``cnn_train[model]`` = [training images, epochs, rate, (batch size)], ``cnn_size``,
            ``cnn_test``, ``cnn_batch``, ``cnn_snapshots``, ``cnn_steps``, ``cnn_exact_grid``,
            ``cnn_exact``, ``cnn_sampled``, ``cnn_grid``, ``cnn_pairs``, ``cnn_contexts``,
            ``agree_pairs``, ``agree_contexts`` (``cnn_test`` absent or None: the whole test set).
        seed: the seed of the image subsets, the initial weights, the training and the protocols.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).

    Returns:
        The settings as a plain dict (``experiment`` ``"A1_cnn"``, the training settings, the
        kept epochs up to the last, the players' grids and the protocols' sizes).
    """
    settings = _plain(settings)
    n_train, epochs, lr, *batch = settings["cnn_train"][model]
    return {"experiment": "A1_cnn", "dataset": dataset, "model": model,
            "size": settings["cnn_size"], "n_train": n_train,
            "n_test": settings.get("cnn_test"),
            "epochs": epochs, "snapshots": [e for e in settings["cnn_snapshots"] if e <= epochs],
            "snapshot_steps": settings["cnn_steps"].get(model, []), "lr": lr,
            "batch_size": batch[0] if batch else settings["cnn_batch"], "seed": seed,
            "exact_grid": settings["cnn_exact_grid"], "n_exact": settings["cnn_exact"],
            "n_sampled": settings["cnn_sampled"], "grid": settings["cnn_grid"],
            "pairs": settings["cnn_pairs"], "contexts": settings["cnn_contexts"],
            "agree_pairs": settings["agree_pairs"], "agree_contexts": settings["agree_contexts"],
            "scale": scale, "version": 2}


def a1_cnn(dataset: str, model: str, settings: Mapping[str, Any], *, seed: int, scale: str,
           recompute: bool = False) -> Run:
    r"""A1's CNN run: :func:`papers.bottleneck.cnn_profiles` of :func:`a1_cnn_params` (cached as
    ``A1_cnn``).

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        model: the CNN of :func:`ibn.models.build`, e.g. ``"resnet20"``.
        settings: A1's preset, as in :func:`a1_cnn_params`.
        seed: the seed of the image subsets, the initial weights, the training and the protocols.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``(params, result)``: the cache key (:func:`a1_cnn_params`) and the result of
        :func:`papers.bottleneck.cnn_profiles`.
    """
    params = a1_cnn_params(dataset, model, settings, seed=seed, scale=scale)

    def compute() -> dict[str, Any]:
        return bn.cnn_profiles(a1_cnn_params(dataset, model, settings, seed=seed, scale=scale))

    return params, cached("A1_cnn", params, compute, recompute=recompute)


def a1_text_params(model: str, settings: Mapping[str, Any], *, seed: int,
                   scale: str) -> dict[str, Any]:
    r"""Settings of one A1 text-classifier run.

    They are the cache key of :func:`a1_text` and the parameters ``p`` of
    :func:`papers.bottleneck.text_profiles`.

    Args:
        model: the text classifier (``"minilm"`` or ``"bert_medium"``, a key of
            ``settings["text_train"]``).
        settings: A1's preset (:class:`papers.specs.DiscoverySpec` or a mapping) with
            ``text_train[model]`` = [training sentences, epochs], ``text_test``,
            ``text_players``, ``text_sentences``, ``text_max_tokens``, ``agree_pairs``,
            ``agree_contexts``.
        seed: the seed of the fine-tuning, the players' draw and the sampled protocol.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).

    Returns:
        The settings as a plain dict (``experiment`` ``"A1_text"``, ``lr`` None = the default).
    """
    settings = _plain(settings)
    n_train, epochs = settings["text_train"][model]
    return {"experiment": "A1_text", "model": model, "n_train": n_train, "epochs": epochs,
            "lr": None, "seed": seed, "n_test": settings["text_test"],
            "n_players": settings["text_players"], "n_sentences": settings["text_sentences"],
            "max_tokens": settings["text_max_tokens"], "agree_pairs": settings["agree_pairs"],
            "agree_contexts": settings["agree_contexts"], "scale": scale, "version": 1}


def a1_text(model: str, settings: Mapping[str, Any], *, seed: int, scale: str,
            recompute: bool = False) -> Run:
    r"""A1's text run: :func:`papers.bottleneck.text_profiles` of :func:`a1_text_params` (cached as
    ``A1_text``).

    Args:
        model: the text classifier (``"minilm"`` or ``"bert_medium"``).
        settings: A1's preset, as in :func:`a1_text_params`.
        seed: the seed of the fine-tuning, the players' draw and the sampled protocol.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``(params, result)``: the cache key (:func:`a1_text_params`) and the result of
        :func:`papers.bottleneck.text_profiles`.
    """
    params = a1_text_params(model, settings, seed=seed, scale=scale)

    def compute() -> dict[str, Any]:
        return bn.text_profiles(a1_text_params(model, settings, seed=seed, scale=scale))

    return params, cached("A1_text", params, compute, recompute=recompute)


def exact_vs_sampled(res: Mapping[str, Any], label: str
                     ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    r"""How well the sampled protocol (run on recorded values) agrees with the exact
    :math:`I^{(m)}(i, j)` on the same pairs and orders.

    Args:
        res: a result of :func:`a1_tabular`, :func:`a1_cnn` or :func:`a1_text`, with
            ``agree_mean``, ``agree_sem``, ``agree_exact`` (samples, pairs, K) and
            ``agree_strength``.
        label: the name of the model in the table row.

    Returns:
        ``(row, J_exact, J_sampled)``: the row holds ``model`` (= ``label``), the number of
        ``pairs × orders``, the largest difference where a single context exists (sem = 0; NaN if
        none), the correlation of sampled and exact values, the z-scores' mean, sd and share within
        ±2, and the largest difference of the two J curves; the curves ``(K,)`` are the exact and
        the sampled strengths on the sampled pairs, relative to their mean.
    """
    mean, sem, ex = res["agree_mean"], res["agree_sem"], res["agree_exact"]
    single = sem == 0
    z = (mean[~single] - ex[~single]) / sem[~single]
    ex_strength = np.abs(ex).mean(1)  # (samples, K): exact |I| on the sampled pairs
    Je = ex_strength.mean(0) / ex_strength.mean()
    Js = res["agree_strength"].mean(0) / res["agree_strength"].mean()
    return {"model": label, "pairs × orders": int(mean.shape[1] * mean.shape[2]),
            "max |diff| (single context)": float(np.abs(mean[single] - ex[single]).max())
            if single.any() else np.nan,
            "corr(sampled, exact)": float(np.corrcoef(mean.ravel(), ex.ravel())[0, 1]),
            "mean z": float(z.mean()), "sd z": float(z.std()),
            "share |z| < 2": float((np.abs(z) < 2).mean()),
            "max |J_sampled − J_exact|": float(np.abs(Js - Je).max())}, Je, Js


def sampled_noise_floor(res: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    r"""Sampled :math:`J^{(m)}` of an A1 CNN's final model and its noise floor.

    Both are relative to the mean strength. The floor is :math:`\mathbb{E}|\bar X|` of pure
    sampling noise, :math:`\sqrt{2/\pi}\,\mathrm{sem}` averaged over pairs and images.

    Args:
        res: a result of :func:`a1_cnn`, with ``fine_strength`` (images, K) and ``fine_sem``
            (images, pairs, K).

    Returns:
        ``(J, floor)``, two arrays ``(K,)`` over the sampled orders.
    """
    S = res["fine_strength"]
    norm = S.mean()
    return S.mean(0) / norm, (np.sqrt(2 / np.pi) * res["fine_sem"]).mean(1).mean(0) / norm


# ---------------------------------------------------------------------------------------------
# A2 · Cause
# ---------------------------------------------------------------------------------------------

#: A2's settings per scale (:class:`papers.specs.CauseSpec`).
A2_PRESETS: dict[str, CauseSpec] = {
    "smoke": CauseSpec(models=(("wine", "mlp5"),), epochs=1, snapshots=(0, 1), samples=1),
    "book": CauseSpec(models=(("wine", "mlp5"), ("breast_cancer", "mlp8")), epochs=100,
                      snapshots=(0, 3, 100), samples=4),
    "paper": CauseSpec(models=(("wine", "mlp5"), ("wine", "mlp8"), ("breast_cancer", "mlp5"),
                               ("breast_cancer", "mlp8")), epochs=300,
                       snapshots=(0, 1, 3, 10, 30, 100, 300), samples=20),
}


def a2_gradients(dataset: str, model_name: str, settings: Mapping[str, Any], *, seed: int,
                 scale: str, recompute: bool = False) -> Run:
    r"""A2's run: per-order gradient statistics of a tabular MLP (cached as ``A2_gradients``).

    ``model_name`` is trained with Adam on the 12 first features of ``dataset``; after each kept
    epoch, :func:`papers.bottleneck.gradient_statistics` measures the per-context gradients of
    :math:`\Delta v(i, j, S)` (Conventions page, eq-learning-signal) on ``samples`` correctly
    classified test samples (classes in turn); and one sample checks the decomposition weights
    :math:`R^{(m)}` numerically (Conventions page, eq-efficiency).

    Args:
        dataset: the scikit-learn table (``"wine"``, ``"breast_cancer"``).
        model_name: the MLP of :func:`ibn.models.build`, e.g. ``"mlp5"``.
        settings: A2's preset (:class:`papers.specs.CauseSpec` or a mapping) with ``epochs``,
            ``snapshots``, ``samples``.
        seed: the seed of the table's split, the initial weights, the training and the samples'
            draw.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``(params, result)``: the result has ``epochs``, ``sample_index``,
        ``train_loss``/``test_acc`` per epoch, ``stats`` (per kept epoch, keyed by the epoch as a
        string), ``seconds_per_sample``, ``identity_lhs`` :math:`= v(N) - v(\emptyset) - \sum_i
        \mu_i` and ``identity_rhs`` :math:`= \sum_{i \neq j} \sum_m R^{(m)} I^{(m)}(i, j)`.
    """
    settings = _plain(settings)
    params = {"experiment": "A2_gradients", "dataset": dataset, "model": model_name,
              "features": list(range(N_FEATURES)), "epochs": settings["epochs"],
              "snapshots": settings["snapshots"], "samples": settings["samples"],
              "optimizer": "adam", "lr": 1e-3, "batch_size": 32, "seed": seed, "scale": scale,
              "version": 1}

    def compute() -> dict[str, Any]:
        tab, model, hist, snaps = bn.train_tabular(
            dataset, model_name, features=params["features"], epochs=params["epochs"],
            snapshots=params["snapshots"], seed=seed)
        masker = TabularMasker(torch.zeros(N_FEATURES))
        # correctly classified test samples, classes taken in turn, up to `samples`
        per_class = -(-params["samples"] // tab.n_classes)
        idx = bn.pick_samples(model, tab.x_test, tab.y_test, per_class=per_class, seed=seed)
        yy = tab.y_test[idx].numpy()
        rank = np.array([int(np.sum(yy[:k] == yy[k])) for k in range(len(yy))])
        idx = idx[np.lexsort((yy, rank))][: params["samples"]]
        xs, ys = tab.x_test[idx], tab.y_test[idx]
        out = {"epochs": np.array(sorted(snaps)), "sample_index": idx.numpy(),
               "train_loss": np.array([r["train_loss"] for r in hist.records]),
               "test_acc": np.array([r["test_acc"] for r in hist.records]), "stats": {}}
        t = time.perf_counter()
        for e in sorted(snaps):
            model.load_state_dict(snaps[e])
            st = bn.gradient_statistics(model, xs, ys, masker, matmul_dtype=torch.float32)
            out["stats"][str(e)] = dict(st.items())
        out["seconds_per_sample"] = (time.perf_counter() - t) / (len(snaps) * len(ys))
        values = bn.game_values(model, xs[:1], ys[:1], masker)[0]
        inter = mo.exact(values)
        R = torch.as_tensor(bn.efficiency_weights(N_FEATURES))
        lhs = values[-1] - values[0] - sum(values[1 << i] - values[0] for i in range(N_FEATURES))
        out["identity_lhs"] = float(lhs)
        out["identity_rhs"] = float((R[:, None, None] * inter).sum())
        return out

    return params, cached("A2_gradients", params, compute, recompute=recompute)


# ---------------------------------------------------------------------------------------------
# A3 · Modulation
# ---------------------------------------------------------------------------------------------

#: A3's settings per scale (:class:`papers.specs.ModulationSpec`).
A3_PRESETS: dict[str, ModulationSpec] = {
    "smoke": ModulationSpec(datasets=("wine",), model="mlp5", epochs=2, lams=(1.0,),
                            presets=("mid",), per_class=2),
    "book": ModulationSpec(datasets=("wine",), model="mlp5", epochs=100,
                           lams=(0.1, 0.3, 1.0, 3.0), presets=("low", "mid", "high"),
                           per_class=8),
    "paper": ModulationSpec(datasets=("wine", "breast_cancer"), model="mlp5", epochs=300,
                            lams=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
                            presets=("low", "mid", "high"), per_class=20),
}


def a3_modulation(dataset: str, preset: str, lam: float, settings: Mapping[str, Any], *,
                  seed: int, scale: str, recipe: str = "adam", recompute: bool = False) -> Run:
    r"""A3's run: a tabular MLP trained with an order-steering term, and its :math:`J^{(m)}` (cached
    as ``A3_modulation``).

    ``settings["model"]`` is trained on the 12 first features of ``dataset`` with the
    order-steering term of ``preset`` at weight ``lam`` (Conventions page, eq-steering-boost,
    eq-steering-suppress; :func:`papers.bottleneck.steering_loss`) by ``recipe``
    (:func:`papers.bottleneck.fit_tabular`); then its exact :math:`J^{(m)}` is measured on
    correctly classified test samples.

    Args:
        dataset: the scikit-learn table (``"wine"``, ``"breast_cancer"``).
        preset: a preset name of :data:`ibn.train.PRESETS` (``"low"``, ``"mid"``, ``"high"``).
        lam: the weight :math:`\lambda` of the term; 0 trains the normal model, recorded as preset
            ``"normal"``.
        settings: A3's preset (:class:`papers.specs.ModulationSpec` or a mapping) with
            ``model``, ``epochs``, ``per_class``.
        seed: the seed of the table's split, the initial weights, the training and the samples'
            draw.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recipe: the training recipe of :func:`papers.bottleneck.fit_tabular`: ``"adam"``
            (default) or ``"reference"`` (:data:`papers.bottleneck.REFERENCE_TABULAR`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``(params, result)``: the result has ``strength``, ``J``, ``ratios``, the kept epoch's
        ``train_loss``/``train_acc``/``test_acc``/``test_loss``, ``n_samples`` and ``train_s``.

    Raises:
        ValueError: an unknown ``recipe``.
        KeyError: an unknown ``preset`` (with ``lam`` ≠ 0).
    """
    settings = _plain(settings)
    params = {"experiment": "A3_modulation", "dataset": dataset, "model": settings["model"],
              "features": list(range(N_FEATURES)), "epochs": settings["epochs"],
              "preset": preset if lam else "normal",
              "steer": list(PRESETS[preset]) if lam else None, "lam": lam,
              "per_class": settings["per_class"], "optimizer": "adam", "lr": 1e-3,
              "batch_size": 32, "seed": seed, "scale": scale, "version": 1}
    _with_recipe(params, recipe)

    def compute() -> dict[str, Any]:
        tab = bn.select_features(load_tabular(dataset, seed=seed), params["features"])
        model = build(settings["model"], in_features=N_FEATURES, num_classes=tab.n_classes,
                      seed=seed)
        masker = TabularMasker(torch.zeros(N_FEATURES))
        t = time.perf_counter()
        hist, _, kept = bn.fit_tabular(model, tab, epochs=params["epochs"], seed=seed,
                                       recipe=recipe,
                                       extra_loss=bn.steering_loss(preset if lam else None, lam,
                                                                   masker))
        train_s = time.perf_counter() - t
        idx = bn.pick_samples(model, tab.x_test, tab.y_test, per_class=params["per_class"],
                              seed=seed)
        values = bn.game_values(model, tab.x_test[idx], tab.y_test[idx], masker)
        prof = bn.exact_profile(values)
        last = hist.records[kept - 1]
        return {"strength": prof["strength"], "J": prof["J"], "ratios": prof["ratios"],
                "train_loss": last["train_loss"], "train_acc": last["train_acc"],
                "test_acc": last["test_acc"], "test_loss": last["test_loss"],
                "n_samples": len(idx), "train_s": train_s}

    return params, cached("A3_modulation", params, compute, recompute=recompute)


def a3_sweep(settings: Mapping[str, Any], *, seed: int, scale: str, recipe: str = "adam",
             recompute: bool = False) -> dict[tuple[str, str, float], Run]:
    r"""A3's runs of one training recipe: per data set, the normal model and every preset at every
    :math:`\lambda` (:func:`a3_modulation`).

    Args:
        settings: A3's preset (:class:`papers.specs.ModulationSpec` or a mapping) with
            ``datasets``, ``presets``, ``lams`` and the settings of :func:`a3_modulation`.
        seed: the seed of the table's split, the initial weights, the training and the samples'
            draw.
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recipe: the training recipe of :func:`papers.bottleneck.fit_tabular`: ``"adam"``
            (default) or ``"reference"`` (:data:`papers.bottleneck.REFERENCE_TABULAR`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``{(setup, preset, λ): (params, result)}``, with the normal model under
        ``(setup, "normal", 0.0)``; the setup is the data set's name (with ", reference recipe"
        for the reference recipe), as :func:`papers.claims_a.modulation_records` takes them.
    """
    out: dict[tuple[str, str, float], Run] = {}
    for d in settings["datasets"]:
        label = d if recipe == "adam" else f"{d}, reference recipe"
        out[(label, "normal", 0.0)] = a3_modulation(d, "mid", 0.0, settings, seed=seed,
                                                    scale=scale, recipe=recipe,
                                                    recompute=recompute)
        for preset in settings["presets"]:
            for lam in settings["lams"]:
                out[(label, preset, lam)] = a3_modulation(d, preset, lam, settings, seed=seed,
                                                          scale=scale, recipe=recipe,
                                                          recompute=recompute)
    return out


def order_centre(ratios: np.ndarray, J: np.ndarray) -> float:
    r"""The centre of mass :math:`\bar r = \sum_m r_m J^{(m)} / \sum_m J^{(m)}` of a curve over the
    order ratios.

    Args:
        ratios: the order ratios :math:`r_m`, e.g. ``ratios`` of :func:`a3_modulation`.
        J: the curve :math:`J^{(m)}` at those ratios (the same length).

    Returns:
        :math:`\bar r` as a float.
    """
    return float((ratios * J).sum() / J.sum())


# ---------------------------------------------------------------------------------------------
# A4 · Consequences
# ---------------------------------------------------------------------------------------------

#: A4's settings per scale (:class:`papers.specs.ConsequencesSpec`).
A4_PRESETS: dict[str, ConsequencesSpec] = {
    "smoke": ConsequencesSpec(dataset="breast_cancer", model="mlp8", kinds=("low", "normal"),
                              lam=1.0, seeds=(0,), epochs=2, per_class=2, fgsm=(0.25,),
                              pgd=(0.25,), sigma=(1.0,), mask=(0.5,)),
    "book": ConsequencesSpec(dataset="breast_cancer", model="mlp8",
                             kinds=("low", "normal", "mid", "high"), lam=1.0, seeds=(0, 1, 2),
                             epochs=100, per_class=8, fgsm=(0.1, 0.25, 0.5),
                             pgd=(0.1, 0.25, 0.5), sigma=(0.5, 1.0), mask=(0.25, 0.5)),
    "paper": ConsequencesSpec(dataset="breast_cancer", model="mlp8",
                              kinds=("low", "normal", "mid", "high"), lam=1.0,
                              seeds=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), epochs=300, per_class=20,
                              fgsm=(0.1, 0.25, 0.5), pgd=(0.1, 0.25, 0.5), sigma=(0.5, 1.0),
                              mask=(0.25, 0.5)),
}


def a4_consequences(kind: str, seed: int, settings: Mapping[str, Any], *, scale: str,
                    recipe: str = "adam", recompute: bool = False) -> Run:
    r"""A4's run: an order-steered tabular MLP, its accuracy, robustness and :math:`J^{(m)}`
    (cached as ``A4_consequences``).

    ``settings["model"]`` is trained with seed ``seed`` on the 12 first features of
    ``settings["dataset"]`` (split seed 0), with the order-steering term of preset ``kind`` at
    weight ``settings["lam"]`` by ``recipe`` (:func:`papers.bottleneck.fit_tabular`; the reference
    recipe's training loss and accuracy are on the part of the training split it trains on). Then
    its losses and accuracies, its accuracy under attacks and corruptions
    (:func:`papers.bottleneck.robustness`: FGSM, 20-step PGD, Gaussian noise, masked players) and
    its exact :math:`J^{(m)}` on correctly classified test samples are measured.

    Args:
        kind: a preset name of :data:`ibn.train.PRESETS` (``"low"``, ``"mid"``, ``"high"``), or
            ``"normal"`` (no term).
        seed: the seed of the initial weights, the training, the attacks' draws and the samples.
        settings: A4's preset (:class:`papers.specs.ConsequencesSpec` or a mapping) with
            ``dataset``, ``model``, ``lam``, ``epochs``, ``per_class``, ``fgsm``, ``pgd``,
            ``sigma``, ``mask`` (the attack and corruption levels).
        scale: the name of the preset's scale (``"smoke"``, ``"book"`` or ``"paper"``), recorded
            in the params as a label (not part of the cache key, :func:`ibn.results.key_params`).
        recipe: the training recipe of :func:`papers.bottleneck.fit_tabular`: ``"adam"``
            (default) or ``"reference"`` (:data:`papers.bottleneck.REFERENCE_TABULAR`).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        ``(params, result)``: the result has ``train_s``, ``kept_epoch``, ``train_loss``,
        ``train_acc``, ``test_loss``, ``test_acc``, ``robustness`` (the flat dict of
        :func:`papers.bottleneck.robustness`), ``J`` and ``ratios``.

    Raises:
        ValueError: an unknown ``recipe``.
        KeyError: an unknown ``kind``.
    """
    settings = _plain(settings)
    params = {"experiment": "A4_consequences", "dataset": settings["dataset"],
              "model": settings["model"], "features": list(range(N_FEATURES)), "kind": kind,
              "steer": list(PRESETS[kind]) if kind != "normal" else None,
              "lam": settings["lam"] if kind != "normal" else 0.0, "epochs": settings["epochs"],
              "per_class": settings["per_class"], "optimizer": "adam", "lr": 1e-3,
              "batch_size": 32, "seed": seed, "split_seed": 0, "fgsm": settings["fgsm"],
              "pgd": settings["pgd"], "pgd_steps": 20, "sigma": settings["sigma"],
              "mask": settings["mask"], "scale": scale, "version": 1}
    _with_recipe(params, recipe)

    def compute() -> dict[str, Any]:
        tab = bn.select_features(load_tabular(settings["dataset"], seed=0), params["features"])
        model = build(settings["model"], in_features=N_FEATURES, num_classes=tab.n_classes,
                      seed=seed)
        masker = TabularMasker(torch.zeros(N_FEATURES))
        t = time.perf_counter()
        _, _, kept = bn.fit_tabular(model, tab, epochs=params["epochs"], seed=seed,
                                    recipe=recipe,
                                    extra_loss=bn.steering_loss(kind, params["lam"], masker))
        out: dict[str, Any] = {"train_s": time.perf_counter() - t, "kept_epoch": kept}
        fit = bn.fitted_part(tab, seed=seed, recipe=recipe)
        tr = evaluate(model, (tab.x_train[fit], tab.y_train[fit]))
        te = evaluate(model, (tab.x_test, tab.y_test))
        out.update({"train_loss": tr["loss"], "train_acc": tr["acc"], "test_loss": te["loss"],
                    "test_acc": te["acc"]})
        rob = bn.robustness(model, tab.x_test, tab.y_test, masker, eps=params["fgsm"],
                            pgd_eps=params["pgd"], pgd_steps=params["pgd_steps"],
                            sigma=params["sigma"], mask_fraction=params["mask"], seed=seed)
        out["robustness"] = rob
        idx = bn.pick_samples(model, tab.x_test, tab.y_test, per_class=params["per_class"],
                              seed=seed)
        prof = bn.exact_profile(bn.game_values(model, tab.x_test[idx], tab.y_test[idx], masker))
        out.update({"J": prof["J"], "ratios": prof["ratios"]})
        return out

    return params, cached("A4_consequences", params, compute, recompute=recompute)


def order_of(series: pd.Series, kinds: Sequence[str], descending: bool) -> list[str]:
    r"""The kinds present in a series' index, sorted by their value.

    Args:
        series: a pandas Series indexed by kind (e.g. a mean per model kind).
        kinds: the kinds to sort; those absent from the index are left out.
        descending: largest value first when True, smallest first when False.

    Returns:
        The kinds, in order.
    """
    sub = series[[k for k in kinds if k in series.index]]
    return list(sub.sort_values(ascending=not descending).index)
