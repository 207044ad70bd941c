r"""Paper A's order-steering losses on a CNN, with the reference code's players and recipe
(Conventions page, conventions-protocol-a, eq-steering-delta-u, eq-steering-boost,
eq-steering-suppress).

The reference code steers its image networks with :math:`\lambda = 1` on the cells of a 16×16
grid at baseline 0, trained by the reference recipe (the ``book`` scale adds
:math:`\lambda = 0.1`, the ``paper`` scale keeps the reference's 1). Here ResNet-20 (BatchNorm: the two masked
batches of the steering term go through the network in separate forward passes,
:func:`ibn.train.delta_u`) is trained on MNIST at 32×32 with each preset, and a normal model
with the same recipe and no steering term; :func:`sweep` measures each model's sampled
:math:`J^{(m)}` on the 16×16 grid (:func:`papers.protocol_a.image_profile`) and returns the
runs in the form :func:`papers.claims_a.modulation_records` takes. The ``book`` scale shortens
the training (a subset of the training split, a few epochs) and the sampling (16 pairs × 16
contexts) to what 2 CPU cores finish; ``paper`` is the reference's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ibn import results
from papers._setup import model_label
from papers.protocol_a import image_profile, pick_images
from papers.reference import ModelSpec, Recipe, train_reference

__all__ = ["STEERING_A", "steered_spec", "steered_run", "runs", "sweep", "setup_label", "noise_share"]

#: the settings per scale: the model and dataset, the training recipe, the presets and their
#: :math:`\lambda`, and the sampled profile's grid, images (``per_class`` × ``classes``),
#: pairs and contexts.
STEERING_A: dict[str, dict[str, Any]] = {
    "smoke": {"model": "resnet20", "dataset": "mnist",
              "recipe": Recipe(epochs=2, n_train=2048, n_val=512, lr=0.05), "presets": ("mid",),
              "lams": (1.0,), "grid": 16, "per_class": 1, "classes": 2, "pairs": 4,
              "contexts": 4},
    "book": {"model": "resnet20", "dataset": "mnist", "recipe": Recipe(epochs=5, n_train=10_000),
             "presets": ("low", "mid", "high"), "lams": (0.1, 1.0), "grid": 16, "per_class": 1,
             "classes": 10, "pairs": 16, "contexts": 16},
    "paper": {"model": "resnet20", "dataset": "mnist", "recipe": Recipe(epochs=200),
              "presets": ("low", "mid", "high"), "lams": (1.0,), "grid": 16, "per_class": 5,
              "classes": 10, "pairs": 200, "contexts": 100},
}


def _settings(scale: str) -> dict[str, Any]:
    if scale not in STEERING_A:
        raise ValueError(f"scale must be one of {sorted(STEERING_A)}, got {scale!r}")
    return STEERING_A[scale]


def steered_spec(preset: str | None, lam: float, scale: str) -> ModelSpec:
    r"""The stored model of a preset at a scale.

    Args:
        preset: a preset of :data:`ibn.train.PRESETS` (``"low"``, ``"mid"``, ``"high"``), or
            None for the normal model (no steering term).
        lam: the weight :math:`\lambda` of the steering term (ignored for the normal model).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.

    Returns:
        The :class:`papers.reference.ModelSpec` (a target, seed 0, the scale's recipe).

    Raises:
        ValueError: an unknown scale or preset.
    """
    s = _settings(scale)
    return ModelSpec(s["model"], s["dataset"], "target", 0, s["recipe"],
                     steer=None if preset is None else (preset, float(lam)))


def setup_label(scale: str) -> str:
    """The name of the scale's setup in the runs' keys, e.g. ``"ResNet-20 on MNIST, 16×16
    grid"``."""
    s = _settings(scale)
    model = model_label(s["model"])
    data = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[s["dataset"]]
    return f"{model} on {data}, {s['grid']}×{s['grid']} grid"


def steered_run(preset: str | None, lam: float, scale: str, *, recompute: bool = False,
                progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    r"""A steered (or normal) model's sampled :math:`J^{(m)}` (cached as ``A3_steered``; the
    model is trained on first use, :func:`papers.reference.train_reference`).

    Args:
        preset: a preset of :data:`ibn.train.PRESETS`, or None for the normal model.
        lam: the weight :math:`\lambda` of the steering term (0 for the normal model).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        recompute: ignore a stored profile and compute it again.
        progress: show a progress bar over the images.

    Returns:
        ``(params, result)`` as :func:`papers.claims_a.modulation_records` takes them: the
        params name the model, dataset, players, recipe, preset and :math:`\lambda`; the result
        has ``ratios``, ``J``, ``strength`` (per image), ``floor``, ``train_acc`` (the kept
        epoch's), ``test_acc``, ``test_loss``, ``best_epoch`` and ``n_samples``.

    Raises:
        ValueError: an unknown scale or preset.
    """
    s = _settings(scale)
    spec = steered_spec(preset, lam, scale)
    params = {"experiment": "A3_steered", "model": s["model"], "dataset": s["dataset"],
              "n_players": s["grid"] ** 2, "training": spec.key(),
              "preset": preset or "normal", "lam": float(lam) if preset else 0.0,
              "epochs": spec.recipe.epochs, "seed": spec.seed, "optimizer": "sgd",
              "recipe": "reference", "per_class": s["per_class"], "classes": s["classes"],
              "pairs": s["pairs"], "contexts": s["contexts"], "scale": scale}

    def compute() -> dict[str, Any]:
        net, info = train_reference(spec)
        idx = pick_images(net, s["dataset"], s["per_class"], s["classes"])
        done = results.Parts("A3_steered", params)
        out = image_profile(net, s["dataset"], idx, grid=s["grid"], pairs=s["pairs"],
                            contexts=s["contexts"], seed=spec.seed, checkpoint=done.get,
                            progress=progress)
        kept = info["history"][info["best_epoch"] - 1]
        out.update(train_acc=float(kept["train_acc"]), test_acc=float(info["test_acc"]),
                   test_loss=float(info["test_loss"]), best_epoch=int(info["best_epoch"]),
                   n_samples=int(len(idx)))
        return out

    res = results.cached("A3_steered", params, compute, recompute=recompute, scale=scale)
    return params, res


def runs(scale: str) -> list[tuple[str | None, float]]:
    r"""The ``(preset, λ)`` of every model of a scale, in the order they are computed: the normal
    model ``(None, 0.0)`` first, then each preset at each :math:`\lambda`.

    Args:
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.

    Returns:
        The list of ``(preset, λ)``.

    Raises:
        ValueError: an unknown ``scale``.
    """
    s = _settings(scale)
    return [(None, 0.0)] + [(preset, float(lam)) for preset in s["presets"] for lam in s["lams"]]


def sweep(scale: str, *, recompute: bool = False, progress: bool = False
          ) -> dict[tuple[str, str, float], tuple[dict[str, Any], dict[str, Any]]]:
    r"""The normal model and every preset at every :math:`\lambda` of the scale
    (:func:`runs`, :func:`steered_run`).

    Args:
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        recompute: ignore stored profiles and compute them again.
        progress: show a progress bar over each model's images.

    Returns:
        ``{(setup, preset, λ): (params, result)}`` with the normal model under
        ``(setup, "normal", 0.0)``, ``setup`` = :func:`setup_label`.
    """
    label = setup_label(scale)
    return {(label, preset or "normal", lam): steered_run(preset, lam, scale, recompute=recompute,
                                                          progress=progress)
            for preset, lam in runs(scale)}


def noise_share(res: dict[str, Any]) -> float:
    r"""The mid band's mean noise floor over its mean strength (:math:`r \in [.3, .7]`): how
    much of the middle orders' measured strength the sampling alone would give.

    Args:
        res: a result of :func:`steered_run` (with ``ratios``, ``strength`` and ``floor``).

    Returns:
        The ratio (well below 1: the middle orders are measured above the noise).
    """
    r = np.asarray(res["ratios"], dtype=float)
    mid = (r >= 0.3 - 1e-9) & (r <= 0.7 + 1e-9)
    S = np.asarray(res["strength"], dtype=float).mean(0)
    return float(np.asarray(res["floor"], dtype=float)[mid].mean() / S[mid].mean())
