"""Synthetic games for tests and benchmarks of the AND-OR decomposition.

* :func:`planted_game`: a known sparse set of AND and OR effects plus bounded noise, so the
  sparsest decomposition is known to be feasible (and usually recovered).
* :func:`mlp_game`: the values of a small random ReLU network on masked inputs (zero baseline),
  a "realistic" dense game with the log-odds reward (Conventions page, eq-reward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import transforms as tf

__all__ = ["PlantedGame", "planted_game", "mlp_game"]


@dataclass
class PlantedGame:
    values: torch.Tensor       # (batch, 2^n)
    and_effects: torch.Tensor  # (batch, 2^n), entry 0 = bias
    or_effects: torch.Tensor   # (batch, 2^n), entry 0 = 0
    noise: torch.Tensor        # (batch, 2^n), noise[..., 0] = noise[..., -1] = 0
    zeta: torch.Tensor         # (batch,) noise_bound·|v_N − v_∅|


def _random_subsets(n: int, k: int, rng: np.random.Generator, min_order: int) -> np.ndarray:
    """k distinct non-empty coalitions, orders drawn from a low-order-heavy distribution."""
    available = sum(math.comb(n, m) for m in range(max(min_order, 1), n + 1))
    if k > available:
        raise ValueError(f"cannot draw {k} distinct coalitions of order ≥ {min_order} among "
                         f"n = {n} players (there are {available})")
    hi = n
    chosen: set[int] = set()
    while len(chosen) < k:
        order = int(min(hi, max(min_order, rng.geometric(0.35))))
        players = rng.choice(n, size=order, replace=False)
        chosen.add(int(sum(1 << int(p) for p in players)))
    return np.array(sorted(chosen), dtype=np.int64)


def planted_game(n: int, *, batch: int = 1, n_and: int = 6, n_or: int = 6,
                 noise: float = 0.5, noise_bound: float = 0.02, min_order: int = 1,
                 noise_sd: float | None = None, seed: int = 0) -> PlantedGame:
    """Games v = b + Σ AND + Σ OR + ε with sparse planted effects and |ε_T| ≤ noise·ζ.

    Effects have random signs and magnitudes in [1, 3]; ε is uniform in ±noise·ζ with ε_∅ = ε_N = 0
    (so ζ = noise_bound·|v_N − v_∅| is the same with and without noise, and noise < 1 keeps the
    planted decomposition strictly inside the bound). OR effects have order ≥ 2 (an OR singleton
    is the same pattern as an AND singleton); ``min_order`` raises the lowest order of both.

    ``noise_sd``: instead, i.i.d. Gaussian noise of this standard deviation on every value, ∅ and
    N included, as measured values carry it; ζ is then noise_bound·|v_N − v_∅| of the noisy
    values and may or may not absorb the noise.
    """
    rng = np.random.default_rng(seed)
    m = 1 << n
    a = np.zeros((batch, m))
    o = np.zeros((batch, m))
    for b in range(batch):
        a[b, 0] = rng.normal()
        sa = _random_subsets(n, n_and, rng, min_order)
        so = _random_subsets(n, n_or, rng, max(min_order, 2))
        a[b, sa] = rng.choice([-1.0, 1.0], sa.size) * rng.uniform(1.0, 3.0, sa.size)
        o[b, so] = rng.choice([-1.0, 1.0], so.size) * rng.uniform(1.0, 3.0, so.size)
    at = torch.as_tensor(a)
    ot = torch.as_tensor(o)
    clean = tf.zeta(at) + tf.or_zeta(ot)
    zeta = noise_bound * (clean[:, -1] - clean[:, 0]).abs()
    eps = torch.as_tensor(rng.uniform(-1.0, 1.0, (batch, m))) * noise * zeta[:, None]
    eps[:, 0] = 0.0
    eps[:, -1] = 0.0
    if noise_sd is not None:
        eps = torch.as_tensor(rng.normal(0.0, noise_sd, (batch, m)))
        zeta = noise_bound * ((clean + eps)[:, -1] - (clean + eps)[:, 0]).abs()
    return PlantedGame(values=clean + eps, and_effects=at, or_effects=ot, noise=eps, zeta=zeta)


def mlp_game(n: int, *, batch: int = 1, hidden: int = 64, depth: int = 3, n_classes: int = 5,
             seed: int = 0) -> torch.Tensor:
    """Values (batch, 2^n) of a random ReLU MLP on masked inputs: v(x_T) = log-odds of class 0.

    The inputs are x ~ N(0, 1)^n per sample, baseline 0 (player i kept iff bit i of T is set);
    the reward is logit_0 − logsumexp(other logits) (Conventions page, eq-reward).
    """
    g = torch.Generator().manual_seed(seed)
    layers = []
    width = n
    for _ in range(depth - 1):
        lin = torch.nn.Linear(width, hidden, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(hidden, width, generator=g, dtype=torch.float64)
                             * (2.0 / width) ** 0.5)
            lin.bias.copy_(torch.randn(hidden, generator=g, dtype=torch.float64) * 0.1)
        layers += [lin, torch.nn.ReLU()]
        width = hidden
    head = torch.nn.Linear(width, n_classes, dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(torch.randn(n_classes, width, generator=g, dtype=torch.float64)
                          * (1.0 / width) ** 0.5 * 3.0)
        head.bias.zero_()
    net = torch.nn.Sequential(*layers, head)
    x = torch.randn(batch, n, generator=g, dtype=torch.float64) * 1.5
    masks = tf.all_masks(n).to(torch.float64)  # (m, n)
    with torch.no_grad():
        logits = net(x[:, None, :] * masks[None])  # (batch, m, classes)
    rest = torch.logsumexp(logits[..., 1:], dim=-1)
    return logits[..., 0] - rest
