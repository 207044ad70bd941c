r"""The spindle-shaped distribution of non-generalizable interactions (paper B eq. 7;
Conventions page, eq-spindle).

.. math::

   A_{\mathrm{spindle}}^{(m),+} = -A_{\mathrm{spindle}}^{(m),-}
   = \beta \, \frac{\Gamma(\alpha n + 1)}{\Gamma(m + 1) \, \Gamma(\alpha n - m + 1)}
   = \beta \binom{\alpha n}{m},

the generalized binomial coefficient (:math:`\alpha = 1` gives :math:`\beta \binom{n}{m}`: the
number of order-:math:`m` coalitions, the shape of a random, noise-like set of interactions).

Orders beyond the support. For :math:`m \ge \alpha n + 1` the argument
:math:`\alpha n - m + 1 \le 0`: the reciprocal gamma :math:`1 / \Gamma(\alpha n - m + 1)` is 0 at
the poles (:math:`\alpha n` integer) and oscillates in sign between them, which would give
negative "positive strength". **Decision:** the curve is set to 0 wherever
:math:`\alpha n - m + 1 \le 0`, i.e. for :math:`m \ge \alpha n + 1`. For
:math:`\alpha n < m < \alpha n + 1` the argument is in :math:`(0, 1)` and the formula is kept
(it is positive and small). Because :math:`1 / \Gamma(x) \to 0` as :math:`x \to 0^+`, this
makes the curve **continuous in** :math:`\alpha` (and in :math:`m`), which the disentangling fit
relies on. Evaluated with log-gamma for all positive arguments, so large :math:`\alpha n` does
not overflow.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import gammaln

from ibn.distributions.strength import Strengths

__all__ = ["spindle_curve", "spindle_strengths"]


def spindle_curve(n: int, alpha: float, beta: float = 1.0, m=None) -> torch.Tensor:
    r"""The spindle curve at orders ``m``, 0 where :math:`m \ge \alpha n + 1`:

    .. math::

       \beta \, \frac{\Gamma(\alpha n + 1)}{\Gamma(m + 1) \, \Gamma(\alpha n - m + 1)}.

    Args:
        n: the number of players.
        alpha: the shape :math:`\alpha > 0`.
        beta: the scale :math:`\beta`.
        m: the orders, any reals :math:`\ge 0` (default :math:`0, \dots, n`).

    Returns:
        float64 tensor of the shape of ``m``.

    Raises:
        ValueError: :math:`n < 0`, :math:`\alpha \le 0`, a non-finite :math:`\alpha` or
            :math:`\beta`, or a negative order.
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
    r"""The spindle model as a :class:`~ibn.distributions.strength.Strengths` over
    :math:`m = 0, \dots, n`, with :math:`A^{(m),+} = C_m` and :math:`A^{(m),-} = -C_m`,
    :math:`C_m` the spindle curve (:func:`spindle_curve`).

    Args:
        n: the number of players.
        alpha: the shape :math:`\alpha > 0`.
        beta: the scale :math:`\beta`.
        drop_empty: set the :math:`m = 0` entry to 0, as for every measured distribution (the empty
            coalition is not an interaction).

    Returns:
        The curves, shape ``(n+1,)``.

    Raises:
        ValueError: :math:`n < 0`, :math:`\alpha \le 0`, or a non-finite :math:`\alpha` or
            :math:`\beta`.
    """
    c = spindle_curve(n, alpha, beta)
    if drop_empty:
        c[0] = 0.0
    return Strengths(c, -c)
