"""Disentangling a measured distribution into decay + spindle (paper B eq. 10;
Conventions page, eq-disentangle).

    min_{α, β, δ, γ} Σ_{m=1..n} (A^(m),+ − A_theory^(m),+)² + (A^(m),− − A_theory^(m),−)²,
    A_theory = A_decay(δ, γ) + A_spindle(α, β),

A_decay from Theorem 3.1 applied to I*, the interactions of the final (over-fitted) model
(:mod:`ibn.distributions.decay`), A_spindle from eq. 7 (:mod:`ibn.distributions.spindle`).
Order 0 (the bias) is not fitted.

Method. β and γ enter linearly, so for fixed (α, δ) they are the non-negative least-squares
solution (two-column NNLS in closed form). The remaining problem over (α, log10 δ) is non-convex
and is solved as a nested profile: for a given δ, the best α comes from a grid over α refined by
bounded Brent (cheap: no decay evaluation); the δ profile is evaluated on a grid over log10 δ
and each of its ``n_starts`` best local minima is refined by bounded Brent (one decay
evaluation per step, cached). Multi-start, bounded and fully deterministic (no randomness).

Default bounds. α ∈ [0.05, 1.5]. δ: M(δ) ≈ identity for δ ≪ λ_min = λ_1^n and
M(δ) ≈ (⊗B)⁻¹⊗A / δ for δ ≫ λ_max = λ_0^n, whose *shape* no longer changes (γ absorbs the
scale), so δ is only identifiable inside [λ_1^n / 10, 10 λ_0^n], the default box.

Failure. All-zero or non-finite input raises ``ValueError``. A fit with R² < ``min_r2``
(default 0.8), or an active component (β > 0 or γ > 0) whose shape parameter ends at a bound, is
flagged ``ok = False`` with a message; ``on_failure`` decides: "warn" (default, a
:class:`DisentangleWarning`), "raise" (:class:`DisentangleError`) or "ignore".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from ibn.distributions.decay import EIGENVALUES, DecayModel
from ibn.distributions.spindle import spindle_curve
from ibn.distributions.strength import Strengths, effects_of

__all__ = ["DisentangleResult", "DisentangleWarning", "DisentangleError", "disentangle", "delta_box"]


class DisentangleWarning(UserWarning):
    """The decay + spindle fit is poor or degenerate (see ``DisentangleResult.message``)."""


class DisentangleError(RuntimeError):
    """Raised instead of the warning when ``on_failure="raise"``."""


@dataclass(frozen=True)
class DisentangleResult:
    """Fitted parameters, curves over m = 0..n (m = 0 entries are 0) and fit quality."""

    alpha: float
    beta: float
    delta: float
    gamma: float
    decay: Strengths
    spindle: Strengths
    theory: Strengths
    residual: Strengths  # |A_theory − A| per order, both signs
    r2: float  # 1 − SSR / SST, SST = Σ_± Σ_m (A^(m),± − mean_m A^(m),±)² (m = 1..n)
    relative_residual: float  # √(SSR / Σ y²)
    ok: bool
    message: str


def delta_box(n: int) -> tuple[float, float]:
    """The default log10 δ bounds for n players: [log10 λ_1^n − 1, log10 λ_0^n + 1] (the range
    where δ is identifiable; see the module docstring)."""
    lam0, lam1 = (float(v) for v in EIGENVALUES)
    return (n * math.log10(lam1) - 1.0, n * math.log10(lam0) + 1.0)


def disentangle(
    measured: Strengths,
    and_star,
    or_star=None,
    *,
    alpha_bounds: tuple[float, float] = (0.05, 1.5),
    log10_delta_bounds: tuple[float, float] | None = None,
    grid: tuple[int, int] = (30, 40),
    n_starts: int = 3,
    min_r2: float = 0.8,
    on_failure: str = "warn",
    combine: str = "separate",
) -> DisentangleResult:
    """Fit eq. 10 to ``measured`` (a :class:`Strengths` of shape (n+1,), e.g. A averaged over x).

    ``and_star`` / ``or_star``: I* of the final model, (..., 2**n) (either may be None; or pass
    one object with ``.and_effects``/``.or_effects`` as ``and_star``). ``combine`` is forwarded to
    :func:`~ibn.distributions.decay.decay_strengths`.
    """
    if on_failure not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_failure must be 'warn', 'raise' or 'ignore', got {on_failure!r}")
    if or_star is None and hasattr(and_star, "and_effects"):
        and_star, or_star = effects_of(and_star)
    if measured.plus.ndim != 1:
        raise ValueError(
            f"measured must be one curve of shape (n+1,), got {tuple(measured.plus.shape)}: "
            "average over samples first (Strengths.mean())"
        )
    n = measured.n
    y = torch.cat((measured.plus[1:], measured.minus[1:])).detach().double().cpu().numpy()
    if not np.isfinite(y).all():
        raise ValueError("measured strengths contain NaN or infinite entries")
    if not np.any(y != 0):
        raise ValueError("measured strengths are all zero: nothing to disentangle")
    model = DecayModel(and_star, or_star)
    if model.n != n:
        raise ValueError(f"I* has {model.n} players but the measured curve has {n}")
    lo_a, hi_a = alpha_bounds
    if not 0 < lo_a < hi_a:
        raise ValueError(f"alpha_bounds must satisfy 0 < lo < hi, got {alpha_bounds}")
    lo_d, hi_d = log10_delta_bounds or delta_box(n)
    if not lo_d < hi_d:
        raise ValueError(f"log10_delta_bounds must satisfy lo < hi, got {(lo_d, hi_d)}")

    decay_cache: dict[float, np.ndarray] = {}

    def decay_col(ld: float) -> np.ndarray:
        if ld not in decay_cache:
            s = model.strengths(10.0**ld, combine=combine)
            decay_cache[ld] = torch.cat((s.plus[1:], s.minus[1:])).cpu().numpy()
        return decay_cache[ld]

    m_fit = np.arange(1, n + 1, dtype=np.float64)
    log_m_fact = gammaln(m_fit + 1.0)

    def spindle_col(a: float) -> np.ndarray:
        # eq. 7 with β = 1 at m = 1..n, 0 where αn − m + 1 ≤ 0 (as spindle_curve, in numpy)
        arg = a * n - m_fit + 1.0
        inside = arg > 0
        log_c = gammaln(a * n + 1.0) - log_m_fact - gammaln(np.where(inside, arg, 1.0))
        c = np.where(inside, np.exp(log_c), 0.0)
        return np.concatenate((c, -c))

    yy = float(y @ y)

    def solve(a: float, ld: float) -> tuple[float, np.ndarray]:
        """Two-column non-negative least squares in closed form: (SSR, (γ, β))."""
        d, c = decay_col(ld), spindle_col(a)
        dd, cc, dc, dy, cy = d @ d, c @ c, d @ c, d @ y, c @ y
        best = (yy, np.zeros(2))
        det = dd * cc - dc * dc
        if det > 1e-14 * max(dd * cc, 1e-300):
            g, b = (cc * dy - dc * cy) / det, (dd * cy - dc * dy) / det
            if g >= 0 and b >= 0:
                return max(yy - g * dy - b * cy, 0.0), np.array([g, b])
        if dd > 0 and dy > 0 and yy - dy * dy / dd < best[0]:
            best = (yy - dy * dy / dd, np.array([dy / dd, 0.0]))
        if cc > 0 and cy > 0 and yy - cy * cy / cc < best[0]:
            best = (yy - cy * cy / cc, np.array([0.0, cy / cc]))
        return max(best[0], 0.0), best[1]

    alphas = np.linspace(lo_a, hi_a, grid[0])
    lds = np.linspace(lo_d, hi_d, grid[1])

    def best_alpha(ld: float) -> tuple[float, float]:
        """Profile over α at fixed δ (no decay evaluation): grid, then bounded Brent."""
        vals = np.array([solve(a, ld)[0] for a in alphas])
        i = int(np.argmin(vals))
        lo, hi = alphas[max(i - 1, 0)], alphas[min(i + 1, len(alphas) - 1)]
        res = minimize_scalar(lambda a: solve(a, ld)[0], bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-10})
        return (float(res.x), float(res.fun)) if res.fun < vals[i] else (float(alphas[i]), float(vals[i]))

    profile = np.array([best_alpha(ld)[1] for ld in lds])
    # local minima of the δ profile on the grid, best first: each is refined by Brent in log δ
    is_min = np.r_[True, profile[1:] <= profile[:-1]] & np.r_[profile[:-1] <= profile[1:], True]
    cands = [int(i) for i in np.argsort(profile) if is_min[i]][:n_starts]
    best_ld = float(lds[cands[0]])
    best_f = float(profile[cands[0]])
    for i in cands:
        lo, hi = lds[max(i - 1, 0)], lds[min(i + 1, len(lds) - 1)]
        res = minimize_scalar(lambda ld: best_alpha(ld)[1], bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-9})
        if res.fun < best_f:
            best_ld, best_f = float(res.x), float(res.fun)
    best_p = (best_alpha(best_ld)[0], best_ld)
    alpha, ld = float(best_p[0]), float(best_p[1])
    _, (gamma, beta) = solve(alpha, ld)
    ssr = float(((y - gamma * decay_col(ld) - beta * spindle_col(alpha)) ** 2).sum())
    delta = 10.0**ld

    dec = model.strengths(delta, gamma=float(gamma), combine=combine)
    dec.plus[0] = dec.minus[0] = 0.0
    sp = spindle_curve(n, alpha, float(beta)).to(dec.plus.device)
    sp[0] = 0.0
    spin = Strengths(sp, -sp)
    theory = dec + spin
    mp = measured.plus.to(dec.plus.device, torch.float64)
    mm = measured.minus.to(dec.plus.device, torch.float64)
    residual = Strengths((theory.plus - mp).abs(), (theory.minus - mm).abs())
    half = n  # y = (A⁺ over m = 1..n, A⁻ over m = 1..n): R² against a constant per sign
    sst = float(((y[:half] - y[:half].mean()) ** 2).sum() + ((y[half:] - y[half:].mean()) ** 2).sum())
    r2 = 1.0 - ssr / sst if sst > 0 else float("nan")
    rel = math.sqrt(ssr / float((y**2).sum()))

    problems = []
    if not (r2 >= min_r2):
        problems.append(f"R² = {r2:.3f} < {min_r2}")
    span_a, span_d = hi_a - lo_a, hi_d - lo_d
    if beta > 0 and min(alpha - lo_a, hi_a - alpha) < 1e-3 * span_a:
        problems.append(f"alpha = {alpha:.4g} at its bound {alpha_bounds}")
    if gamma > 0 and min(ld - lo_d, hi_d - ld) < 1e-3 * span_d:
        problems.append(f"log10 delta = {ld:.3f} at its bound {(lo_d, hi_d)}")
    if gamma == 0 and beta == 0:
        problems.append("both beta and gamma are 0")
    ok = not problems
    message = "ok" if ok else "; ".join(problems)
    result = DisentangleResult(
        alpha=alpha, beta=float(beta), delta=delta, gamma=float(gamma), decay=dec, spindle=spin,
        theory=theory, residual=residual, r2=r2, relative_residual=rel, ok=ok, message=message,
    )
    if not ok and on_failure != "ignore":
        text = f"decay + spindle fit is unreliable: {message}"
        if on_failure == "raise":
            raise DisentangleError(text)
        warnings.warn(text, DisentangleWarning, stacklevel=2)
    return result
