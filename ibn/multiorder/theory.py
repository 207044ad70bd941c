"""Paper A's closed forms: order ratios, the efficiency weights R^(m), the number of contexts per
order and the learning-signal curve of contextual variability with its fitted effective n'
(Conventions page, eq-efficiency, eq-learning-signal)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["order_ratios", "efficiency_weights", "n_contexts", "predicted_signal",
           "fit_effective_n"]


def order_ratios(orders: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """r = m/(n−2) of each order m (the x-axis of every J^(m) plot)."""
    if n < 3:
        raise ValueError(f"order ratios need n ≥ 3 players, got {n}")
    return np.asarray(orders, dtype=np.float64) / (n - 2)


def efficiency_weights(n: int) -> np.ndarray:
    """R^(m) = (n−1−m)/(n(n−1)), m = 0..n−2: v(N) − v(∅) − Σ_i (v({i}) − v(∅)) =
    Σ_{i≠j} Σ_m R^(m) I^(m)(i, j) (sum over ordered pairs; Deng et al. 2022, eq. 3)."""
    m = np.arange(n - 1, dtype=np.float64)
    return (n - 1 - m) / (n * (n - 1))


def n_contexts(n: int) -> np.ndarray:
    """C(n−2, m), the number of contexts S ⊆ N\\{i,j} of each order m = 0..n−2."""
    return np.array([math.comb(n - 2, m) for m in range(n - 1)], dtype=np.float64)


def _log_comb(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    from scipy.special import gammaln

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def predicted_signal(n: float, ratios: Sequence[float] | np.ndarray) -> np.ndarray:
    """The net learning signal of order m = r·(n−2) predicted by contextual variability
    (Conventions page, eq-learning-signal): (n−m−1)/(n(n−1)·√C(n−2, m)), normalised to 1 at m = 0,
    i.e. (n−m−1)/((n−1)·√C(n−2, m)). ``n`` may be real (binomials through the gamma function), so
    that an effective n' can be fitted."""
    n = float(n)
    if n <= 2:
        raise ValueError(f"n must exceed 2, got {n}")
    r = np.asarray(ratios, dtype=np.float64)
    m = r * (n - 2)
    return (n - m - 1) / (n - 1) * np.exp(-0.5 * _log_comb(n - 2, m))


def fit_effective_n(ratios: Sequence[float], measured: Sequence[float], *, n_min: float = 2.05,
                    n_max: float = 200.0, grid: int = 4000) -> dict[str, Any]:
    """Fit n' in :func:`predicted_signal` to a measured signal (normalised at r = 0) by least
    squares on the log scale over a log-spaced grid of n' in [n_min, n_max].

    Returns ``{"n_eff", "rmse_log", "curve"}`` (``curve`` = the prediction at ``ratios``)."""
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
