"""Accuracy of a classifier under attacks and corruptions: FGSM and PGD on the cross-entropy
loss, Gaussian input noise, randomly masked players."""

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
    """Top-1 accuracy (eval mode)."""
    return float((predict(model, x, batch_size) == torch.as_tensor(y)).float().mean())


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor | int, eps: float, *,
         direction: int = -1) -> torch.Tensor:
    """The fast gradient sign step x + direction·ε·sign(∇_x v(x)), v = log p(y|x)/(1 − p(y|x))
    the log-odds of the label (Conventions page, eq-fgsm, eq-reward).

    ``direction=-1`` (default) is the adversarial FGSM: it lowers v, and since v and the
    cross-entropy are monotone in p(y|x) in opposite directions it is the usual step
    x + ε·sign(∇_x CE(f(x), y)). ``direction=+1`` is paper B's eq. 19 (it raises v). ``x`` is a
    batch (B, ...) and ``y`` the labels (B,) (or one int). The model runs in eval mode and its
    parameter gradients are left untouched; ε = 0 returns a copy of ``x``.
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
    """L∞ PGD on the cross-entropy (Madry et al.): ``steps`` signed-gradient steps of size
    ``alpha`` (default 2.5·ε/steps), projected onto the ε-ball around x, from a uniform random
    start (seeded). No clipping to a data range (inputs are standardised)."""
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
    """x + N(0, σ²) (seeded)."""
    g = torch.Generator().manual_seed(seed)
    return x + sigma * torch.randn(x.shape, generator=g).to(x)


def random_mask(x: torch.Tensor, fraction: float, masker: Any, seed: int = 0) -> torch.Tensor:
    """Each sample with round(fraction·n) random players of ``masker`` set to its baseline."""
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
    """Accuracy on clean inputs and under FGSM (``eps``), PGD (``pgd_eps``), Gaussian input
    noise (``sigma``) and random masking of players (``mask_fraction``). Returns a flat dict:
    ``clean``, ``fgsm@ε``, ``pgd@ε``, ``noise@σ``, ``mask@f``."""
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
