"""The reference lab procedure: SGD with momentum on (γ, δ), batched through the butterflies.

A faithful re-implementation of ``_train_p_q`` in the public code of the SJTU XAI lab
(github.com/sjtu-xai-lab/interaction-concept, ``src/harsanyi/and_or_harsanyi_utils.py``, used by
``AndOrHarsanyiSparsifier(trick="pq", loss="l1", qstd="vN-v0")`` in ``and_or_harsanyi.py`` of the same
repository; the same routine appears in sjtu-xai-lab/aog). What was followed:

* parameters p (our γ) and q (our −δ: the lab writes u^AND = ½(v + q) + p, u^OR = ½(v + q) − p)
  start at zero; ``torch.optim.SGD(momentum=0.9)`` (dampening 0, no Nesterov);
* learning rate per step ``np.logspace(log10(lr), log10(lr) − 1, niter)``: log-decayed from lr to
  lr/10;
* each iteration first clips q to [−qbound, qbound], with qbound = noise_bound·|v(x_N) − v(x_∅)|
  (``qstd="vN-v0"``), then computes I^AND = M u^AND, I^OR = M_or u^OR and the loss
  Σ|I^AND| + Σ|I^OR|, and takes a step except after the last iteration (``if it + 1 < niter``);
* the result is the effects of the last (clipped) iterate.

Differences, all forced by this project's conventions (SPEC §1–2):

* bit i is player i (the lab's masks run the other way); values are float64 (the lab uses
  float32 matrices);
* the lab's 2^n × 2^n matrix products are replaced by O(n·2^n) butterflies, and the gradient
  (the lab uses autograd) is written out: with s^AND = sign(I^AND), s^OR = sign(I^OR),
  ∂L/∂u^AND = Mᵀ s^AND, ∂L/∂u^OR = M_orᵀ s^OR, ∂L/∂γ = ∂L/∂u^AND − ∂L/∂u^OR,
  ∂L/∂δ = −½(∂L/∂u^AND + ∂L/∂u^OR) (sign(0) = 0, as torch's subgradient of |·|);
* the empty coalition is pinned: δ_∅ = 0 and u^OR_∅ = 0 (γ_∅ = ½v_∅), so the bias is exactly
  I^AND_∅ = v(x_∅) and I^OR_∅ = 0; the lab instead treats p_∅, q_∅ as parameters and counts
  |I^AND_∅| + |u^OR_∅| in its loss. The loss here is the project's objective Σ_{S≠∅}. The start
  is the lab's: p = 0 gives the same effects I_{S≠∅} as γ ≡ ½v_∅ here (a constant added to γ only
  changes I^AND_∅ and u^OR_∅), so γ starts at ½v_∅ on every coalition, not at 0 (starting at γ = 0
  with γ_∅ pinned to ½v_∅ would add a dense ±½v_∅ pattern to every I^AND_S).
* the batch is trained at once (one independent problem per sample, exactly as the lab's
  per-sample loop would do; the samples do not interact).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import transforms as tf

__all__ = ["sgd_decompose"]


def _or_mobius_transpose(s: torch.Tensor) -> torch.Tensor:
    """Transpose of :func:`ibn.transforms.or_mobius`: ∂(Σ s·I^OR)/∂u for I^OR = or_mobius(u)."""
    s = s.clone()
    s[..., 0] = 0.0
    return -torch.flip(tf.mobius_transpose(s), dims=(-1,))


def sgd_decompose(values: torch.Tensor, zeta: torch.Tensor, *, steps: int = 20_000,
                  lr: float = 1e-6, momentum: float = 0.9, progress: bool = False):
    """Run the lab's SGD on a batch of games.

    ``values``: float64 (B, 2^n); ``zeta``: (B,) bounds. Returns (and_effects, or_effects, gamma,
    delta), each (B, 2^n).
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    if not (0.0 <= momentum < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    v = values
    bound = zeta[:, None].expand_as(v)
    # The lab starts at p = q = 0, i.e. u^AND = u^OR = v/2. With u^OR_∅ pinned to 0 the same
    # effects I_{S≠∅} come from γ ≡ v_∅/2 on every coalition: a constant added to γ only moves
    # I^AND_∅ and u^OR_∅ (M_or of a constant vanishes for S ≠ ∅), so this is the lab's start.
    gamma = 0.5 * v[:, :1].expand_as(v).clone()
    delta = torch.zeros_like(v)
    buf_g = torch.zeros_like(v)
    buf_d = torch.zeros_like(v)
    etas = np.logspace(math.log10(lr), math.log10(lr) - 1, steps)
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="and_or sgd", leave=False)
    for it in iterator:
        delta = torch.maximum(torch.minimum(delta, bound), -bound)
        half = 0.5 * (v - delta)
        i_and = tf.mobius(half + gamma)
        i_or = tf.or_mobius(half - gamma)
        if it + 1 >= steps:
            break
        s_and = torch.sign(i_and)
        s_and[:, 0] = 0.0
        s_or = torch.sign(i_or)
        g_uand = tf.mobius_transpose(s_and)
        g_uor = _or_mobius_transpose(s_or)
        grad_g = g_uand - g_uor
        grad_d = -0.5 * (g_uand + g_uor)
        grad_g[:, 0] = 0.0
        grad_d[:, 0] = 0.0
        if it == 0:
            buf_g.copy_(grad_g)
            buf_d.copy_(grad_d)
        else:
            buf_g.mul_(momentum).add_(grad_g)
            buf_d.mul_(momentum).add_(grad_d)
        eta = float(etas[it])
        gamma.add_(buf_g, alpha=-eta)
        delta.add_(buf_d, alpha=-eta)
    i_and[:, 0] = v[:, 0]
    i_or[:, 0] = 0.0
    return i_and, i_or, gamma, delta
