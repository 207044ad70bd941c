"""The spindle-shaped distribution of non-generalizable interactions (paper B eq. 7;
Conventions page, eq-spindle).

    A_spindle^(m),+ = −A_spindle^(m),− = β · Γ(αn + 1) / (Γ(m + 1) Γ(αn − m + 1)) = β · C(αn, m),

the generalized binomial coefficient (α = 1 gives β·C(n, m): the number of order-m coalitions,
the shape of a random, noise-like set of interactions).

Orders beyond the support. For m ≥ αn + 1 the argument αn − m + 1 ≤ 0: the reciprocal gamma
1/Γ(αn − m + 1) is 0 at the poles (αn integer) and oscillates in sign between them, which would
give negative "positive strength". **Decision:** the curve is set to 0 wherever αn − m + 1 ≤ 0,
i.e. for m ≥ αn + 1. For αn < m < αn + 1 the argument is in (0, 1) and the formula is kept (it
is positive and small). Because 1/Γ(x) → 0 as x → 0⁺, this makes the curve **continuous in α**
(and in m), which the disentangling fit relies on. Evaluated with log-gamma for all positive
arguments, so large αn does not overflow.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import gammaln

from ibn.distributions.strength import Strengths

__all__ = ["spindle_curve", "spindle_strengths"]


def spindle_curve(n: int, alpha: float, beta: float = 1.0, m=None) -> torch.Tensor:
    """β · Γ(αn+1) / (Γ(m+1) Γ(αn−m+1)) at orders ``m`` (default 0..n), 0 where m ≥ αn + 1.

    Vectorized over ``m`` (any real orders ≥ 0). Returns float64 of the shape of ``m``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha must be finite and > 0, got {alpha}")
    if not np.isfinite(beta):
        raise ValueError(f"beta must be finite, got {beta}")
    m_arr = np.arange(n + 1, dtype=np.float64) if m is None else np.asarray(m, dtype=np.float64)
    if np.any(m_arr < 0):
        raise ValueError("orders m must be >= 0")
    an = alpha * n
    arg = an - m_arr + 1.0
    inside = arg > 0
    safe = np.where(inside, arg, 1.0)
    log_c = gammaln(an + 1.0) - gammaln(m_arr + 1.0) - gammaln(safe)
    out = np.where(inside, beta * np.exp(log_c), 0.0)
    return torch.as_tensor(out, dtype=torch.float64)


def spindle_strengths(n: int, alpha: float, beta: float = 1.0, *, drop_empty: bool = True) -> Strengths:
    """The spindle model as a :class:`Strengths` over m = 0..n (A⁺ = C, A⁻ = −C).

    With ``drop_empty`` (default) the m = 0 entry is 0, as for every measured distribution
    (the empty coalition is not an interaction).
    """
    c = spindle_curve(n, alpha, beta)
    if drop_empty:
        c[0] = 0.0
    return Strengths(c, -c)
