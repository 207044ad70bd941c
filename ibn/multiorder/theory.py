r"""Paper A's closed forms: order ratios, the efficiency weights :math:`R^{(m)}`, the number of
contexts per order and the learning-signal curve of contextual variability with its fitted
effective :math:`n'` (Conventions page, eq-efficiency, eq-learning-signal)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["order_ratios", "efficiency_weights", "n_contexts", "predicted_signal",
           "fit_effective_n"]


def order_ratios(orders: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    r"""The ratio :math:`r = m / (n-2)` of each order :math:`m` (the x-axis of every
    :math:`J^{(m)}` plot).

    Args:
        orders: the orders :math:`m`.
        n: the number of players.

    Returns:
        The ratios, float64, of the shape of ``orders``.

    Raises:
        ValueError: :math:`n < 3`.
    """
    if n < 3:
        raise ValueError(f"order ratios need n ≥ 3 players, got {n}")
    return np.asarray(orders, dtype=np.float64) / (n - 2)


def efficiency_weights(n: int) -> np.ndarray:
    r"""The efficiency weights :math:`R^{(m)} = (n-1-m) / (n(n-1))`, :math:`m = 0, \dots, n-2`.

    They split the total reward over pairs and orders (Deng et al. 2022, eq. 3; the sum runs over
    ordered pairs):

    .. math::

       v(N) - v(\emptyset) - \sum_i \bigl(v(\{i\}) - v(\emptyset)\bigr)
       = \sum_{i \neq j} \sum_m R^{(m)} I^{(m)}(i, j).

    Args:
        n: the number of players.

    Returns:
        :math:`R^{(m)}`, shape ``(n-1,)``.
    """
    m = np.arange(n - 1, dtype=np.float64)
    return (n - 1 - m) / (n * (n - 1))


def n_contexts(n: int) -> np.ndarray:
    r"""The number :math:`\binom{n-2}{m}` of contexts :math:`S \subseteq N \setminus \{i, j\}` of
    each order :math:`m = 0, \dots, n-2`.

    Args:
        n: the number of players.

    Returns:
        The counts, float64, shape ``(n-1,)``.
    """
    return np.array([math.comb(n - 2, m) for m in range(n - 1)], dtype=np.float64)


def _log_comb(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    from scipy.special import gammaln

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def predicted_signal(n: float, ratios: Sequence[float] | np.ndarray) -> np.ndarray:
    r"""The net learning signal of order :math:`m = r \, (n-2)` predicted by contextual variability
    (Conventions page, eq-learning-signal):

    .. math::

       \frac{n-m-1}{n(n-1) \sqrt{\binom{n-2}{m}}},

    normalised to 1 at :math:`m = 0`, i.e.
    :math:`\dfrac{n-m-1}{(n-1) \sqrt{\binom{n-2}{m}}}`. The binomial is taken through the gamma
    function, so that :math:`n` may be real and an effective :math:`n'` can be fitted.

    Args:
        n: the number of players (real, :math:`n > 2`).
        ratios: the order ratios :math:`r`.

    Returns:
        The signal at each ratio, float64.

    Raises:
        ValueError: :math:`n \le 2`.
    """
    n = float(n)
    if n <= 2:
        raise ValueError(f"n must exceed 2, got {n}")
    r = np.asarray(ratios, dtype=np.float64)
    m = r * (n - 2)
    return (n - m - 1) / (n - 1) * np.exp(-0.5 * _log_comb(n - 2, m))


def fit_effective_n(ratios: Sequence[float], measured: Sequence[float], *, n_min: float = 2.05,
                    n_max: float = 200.0, grid: int = 4000) -> dict[str, Any]:
    r"""Fit :math:`n'` in :func:`predicted_signal` to a measured signal (normalised at
    :math:`r = 0`).

    Least squares on the log scale over a log-spaced grid of :math:`n'` in
    [``n_min``, ``n_max``]; only the finite, positive measured values count.

    Args:
        ratios: the order ratios :math:`r` of the measurements.
        measured: the measured signal at ``ratios``.
        n_min: the smallest :math:`n'` tried.
        n_max: the largest :math:`n'` tried.
        grid: the number of candidate values of :math:`n'`.

    Returns:
        ``{"n_eff", "rmse_log", "curve"}``: the best :math:`n'`, the root-mean-square error of the
        logs, and the prediction at ``ratios``.

    Raises:
        ValueError: fewer than two positive measured values.
    """
    r = np.asarray(ratios, dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("need at least two positive measured values to fit n'")
    cands = np.geomspace(n_min, n_max, grid)
    errs = np.array([np.mean((np.log(predicted_signal(c, r[ok])) - np.log(y[ok])) ** 2)
                     for c in cands])
    best = float(cands[int(np.argmin(errs))])
    return {"n_eff": best, "rmse_log": float(np.sqrt(errs.min())),
            "curve": predicted_signal(best, r)}
