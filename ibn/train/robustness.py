"""Accuracy of a classifier under attacks and corruptions: FGSM (Conventions page, eq-fgsm) and
PGD on the cross-entropy loss, Gaussian input noise, randomly masked players (Conventions page,
conventions-notation)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..games import log_odds
from ..multiorder.gradients import masked_inputs

__all__ = ["accuracy", "predict", "fgsm", "pgd", "gaussian_noise", "random_mask", "robustness"]


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted classes (the argmax of the logits), in eval mode and without gradients; the
    model's train/eval mode is restored afterwards.

    Args:
        model: the classifier, returning logits (B, C).
        x: the inputs (N, ...); moved batch by batch to the model's device.
        batch_size: inputs per forward pass (default 512).

    Returns:
        int64 classes (N,), on the CPU.
    """
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        return torch.cat([model(x[s:s + batch_size].to(dev)).argmax(1).cpu()
                          for s in range(0, len(x), batch_size)])
    finally:
        model.train(was)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy (eval mode, without gradients; see :func:`predict`).

    Args:
        model: the classifier, returning logits (B, C).
        x: the inputs (N, ...).
        y: the true labels (N,) (a tensor or anything ``torch.as_tensor`` takes), on the CPU.
        batch_size: inputs per forward pass (default 512).

    Returns:
        The fraction of correctly classified inputs, in [0, 1].
    """
    return float((predict(model, x, batch_size) == torch.as_tensor(y)).float().mean())


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor | int, eps: float, *,
         direction: int = -1) -> torch.Tensor:
    r"""The fast gradient sign step (Conventions page, eq-fgsm, eq-reward):

    .. math::

       x' = x + d\, \varepsilon\, \operatorname{sign}\bigl(\nabla_x v(x)\bigr), \qquad
       v(x) = \log \frac{p(y \mid x)}{1 - p(y \mid x)},

    with :math:`d` = ``direction`` and :math:`v` the log-odds of the label.

    ``direction=-1`` (default) is the adversarial FGSM: it lowers :math:`v`, and since
    :math:`v` and the cross-entropy are monotone in :math:`p(y \mid x)` in opposite directions
    it is the usual step :math:`x + \varepsilon\, \operatorname{sign}(\nabla_x
    \mathrm{CE}(f(x), y))`. ``direction=+1`` is paper B's eq. 19 (it raises :math:`v`). The
    model runs in eval mode (its mode is restored afterwards) and its parameter gradients are
    left untouched. No clipping to a data range.

    Args:
        model: the classifier, returning logits (B, C).
        x: the input batch (B, ...).
        y: the labels (B,), or one int for every input.
        eps: the step size :math:`\varepsilon \ge 0`, in the units of ``x`` (e.g.
            standardised pixels); 0 returns a copy of ``x``.
        direction: :math:`d`, -1 (lower :math:`v`, adversarial) or +1 (raise :math:`v`).

    Returns:
        The perturbed batch :math:`x'`, detached, on the device and in the dtype of ``x``.

    Raises:
        ValueError: ``direction`` is not ±1, or ``eps`` is negative or not finite.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    if eps == 0:
        return x.clone()
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        xx = x.detach().to(dev).clone().requires_grad_(True)
        v = log_odds(model(xx), torch.as_tensor(y, device=dev))
        (grad,) = torch.autograd.grad(v.sum(), xx)
    finally:
        model.train(was)
    return (x.detach() + direction * eps * grad.sign().to(x.device, x.dtype)).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 20,
        alpha: float | None = None, random_start: bool = True, seed: int = 0) -> torch.Tensor:
    r""":math:`L_\infty` PGD on the cross-entropy (Madry et al.): ``steps`` ascent steps
    :math:`\delta \leftarrow \mathrm{clip}_{[-\varepsilon, \varepsilon]}\bigl(\delta +
    \alpha\, \operatorname{sign}(\nabla_x \mathrm{CE}(f(x + \delta), y))\bigr)`, projected
    onto the :math:`\varepsilon`-ball around ``x``. No clipping to a data range (inputs are
    standardised). The model runs in eval mode (its mode is restored afterwards).

    Args:
        model: the classifier, returning logits (B, C).
        x: the input batch (B, ...), on the model's device.
        y: the int64 labels (B,).
        eps: the radius :math:`\varepsilon` of the :math:`L_\infty` ball, in the units of
            ``x``.
        steps: the number of steps (default 20).
        alpha: the step size :math:`\alpha`; None = :math:`2.5\, \varepsilon /` ``steps``.
        random_start: start from a uniform random point of the ball (seeded); False = start
            at ``x``.
        seed: the seed of the random start.

    Returns:
        The adversarial batch :math:`x + \delta`, detached.
    """
    was = model.training
    model.eval()
    alpha = 2.5 * eps / steps if alpha is None else alpha
    try:
        g = torch.Generator().manual_seed(seed)
        delta = ((torch.rand(x.shape, generator=g) * 2 - 1) * eps).to(x) if random_start else \
            torch.zeros_like(x)
        for _ in range(steps):
            grad = _input_grad(model, x + delta, y)
            delta = (delta + alpha * grad.sign()).clamp(-eps, eps)
        return (x + delta).detach()
    finally:
        model.train(was)


def gaussian_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    r""":math:`x + \sigma \epsilon` with :math:`\epsilon \sim \mathcal{N}(0, 1)` per entry,
    drawn from a seeded generator.

    Args:
        x: the inputs (any shape).
        sigma: the standard deviation :math:`\sigma` of the noise, in the units of ``x``.
        seed: the seed of the noise.

    Returns:
        The noisy inputs, same shape, device and dtype as ``x``.
    """
    g = torch.Generator().manual_seed(seed)
    return x + sigma * torch.randn(x.shape, generator=g).to(x)


def random_mask(x: torch.Tensor, fraction: float, masker: Any, seed: int = 0) -> torch.Tensor:
    """Each sample with ``round(fraction * n)`` random players of ``masker`` set to its
    baseline (an independent seeded draw per sample; Conventions page, conventions-notation).

    Args:
        x: the inputs (N, ...), one per row, as the masker takes them without a batch
            dimension (rows (d,) for a ``TabularMasker``, images (C, H, W) for a
            ``PatchMasker``).
        fraction: the fraction of the :math:`n` players masked, in [0, 1].
        masker: the players, a ``TabularMasker`` or ``PatchMasker`` (``ibn.maskers``).
        seed: the seed of the draws.

    Returns:
        The masked inputs, shape of ``x``.
    """
    g = torch.Generator().manual_seed(seed)
    n = masker.n_players
    k = int(round(fraction * n))
    rank = torch.argsort(torch.argsort(torch.rand(len(x), n, generator=g), 1), 1)
    keep = rank >= k
    out = []
    for s in range(len(x)):
        out.append(masked_inputs(masker, x[s], keep[s:s + 1])[0])
    return torch.stack(out)


def robustness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, masker: Any, *,
               eps: Sequence[float] = (), pgd_eps: Sequence[float] = (), pgd_steps: int = 20,
               sigma: Sequence[float] = (), mask_fraction: Sequence[float] = (),
               seed: int = 0) -> dict[str, Any]:
    """Accuracy on clean inputs and under FGSM, PGD, Gaussian input noise and random masking
    of players.

    Args:
        model: the classifier, returning logits (B, C).
        x: the inputs (N, ...).
        y: the int64 labels (N,).
        masker: the players for ``mask_fraction`` (see :func:`random_mask`); unused without
            it.
        eps: the step sizes of the adversarial :func:`fgsm` (``direction=-1``).
        pgd_eps: the radii of :func:`pgd`.
        pgd_steps: the number of PGD steps (default 20).
        sigma: the standard deviations of :func:`gaussian_noise`.
        mask_fraction: the fractions of players masked by :func:`random_mask`.
        seed: the seed of the PGD starts, the noise and the masks.

    Returns:
        A flat dict of accuracies: ``clean``, and ``fgsm@<eps>``, ``pgd@<eps>``,
        ``noise@<sigma>``, ``mask@<fraction>`` for each value given (formatted with ``:g``).
    """
    out: dict[str, Any] = {"clean": accuracy(model, x, y)}
    for e in eps:
        out[f"fgsm@{e:g}"] = accuracy(model, fgsm(model, x, y, e), y)
    for e in pgd_eps:
        out[f"pgd@{e:g}"] = accuracy(model, pgd(model, x, y, e, steps=pgd_steps, seed=seed), y)
    for s in sigma:
        out[f"noise@{s:g}"] = accuracy(model, gaussian_noise(x, s, seed), y)
    for f in mask_fraction:
        out[f"mask@{f:g}"] = accuracy(model, random_mask(x, f, masker, seed), y)
    return out
