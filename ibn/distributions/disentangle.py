r"""Disentangling a measured distribution into decay + spindle (paper B eq. 10;
Conventions page, eq-disentangle).

.. math::

   \min_{\alpha, \beta, \delta, \gamma} \sum_{m=1}^{n}
   \bigl(A^{(m),+} - A_{\mathrm{theory}}^{(m),+}\bigr)^2
   + \bigl(A^{(m),-} - A_{\mathrm{theory}}^{(m),-}\bigr)^2,
   \qquad
   A_{\mathrm{theory}} = A_{\mathrm{decay}}(\delta, \gamma) + A_{\mathrm{spindle}}(\alpha, \beta),

with :math:`A_{\mathrm{decay}}` from Theorem 3.1 applied to :math:`I^*`, the interactions of the
final (over-fitted) model (:mod:`ibn.distributions.decay`), and :math:`A_{\mathrm{spindle}}` from
eq. 7 (:mod:`ibn.distributions.spindle`). Order 0 (the bias) is not fitted.

Method. :math:`\beta` and :math:`\gamma` enter linearly, so for fixed :math:`(\alpha, \delta)`
they are the non-negative least-squares solution (two-column NNLS in closed form). The remaining
problem over :math:`(\alpha, \log_{10} \delta)` is non-convex and is solved as a nested profile:
for a given :math:`\delta`, the best :math:`\alpha` comes from a grid over :math:`\alpha` refined
by bounded Brent (cheap: no decay evaluation); the :math:`\delta` profile is evaluated on a grid
over :math:`\log_{10} \delta` and each of its ``n_starts`` best local minima is refined by
bounded Brent (one decay evaluation per step, cached). Multi-start, bounded and fully
deterministic (no randomness).

Default bounds. :math:`\alpha \in [0.05, 1.5]`. For :math:`\delta`:
:math:`M(\delta) \approx \mathrm{Id}` for :math:`\delta \ll \lambda_{\min} = \lambda_1^n` and
:math:`M(\delta) \approx (\otimes B)^{-1} \otimes A / \delta` for
:math:`\delta \gg \lambda_{\max} = \lambda_0^n`, whose *shape* no longer changes (:math:`\gamma`
absorbs the scale), so :math:`\delta` is only identifiable inside
:math:`[\lambda_1^n / 10, \, 10 \lambda_0^n]`, the default box.

Failure. All-zero or non-finite input raises ``ValueError``. A fit with :math:`R^2` below
``min_r2`` (default 0.8), or an active component (:math:`\beta > 0` or :math:`\gamma > 0`) whose
shape parameter ends at a bound, is flagged ``ok = False`` with a message; ``on_failure``
decides: ``"warn"`` (default, a :class:`DisentangleWarning`), ``"raise"``
(:class:`DisentangleError`) or ``"ignore"``.
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
    r"""Fitted parameters, curves over :math:`m = 0, \dots, n` (the :math:`m = 0` entries are 0)
    and fit quality.

    Attributes:
        alpha: the spindle's shape :math:`\alpha`.
        beta: the spindle's scale :math:`\beta \ge 0`.
        delta: the decay's noise level :math:`\delta`.
        gamma: the decay's scale :math:`\gamma \ge 0`.
        decay: :math:`A_{\mathrm{decay}}(\delta, \gamma)`.
        spindle: :math:`A_{\mathrm{spindle}}(\alpha, \beta)`.
        theory: :math:`A_{\mathrm{theory}} = A_{\mathrm{decay}} + A_{\mathrm{spindle}}`.
        residual: :math:`|A_{\mathrm{theory}} - A|` per order, both signs.
        r2: :math:`R^2 = 1 - \mathrm{SSR} / \mathrm{SST}` over :math:`m = 1, \dots, n`, with
            :math:`\mathrm{SST} = \sum_\pm \sum_m \bigl(A^{(m),\pm} - \operatorname{mean}_m
            A^{(m),\pm}\bigr)^2` and SSR the sum of squared residuals.
        relative_residual: :math:`\sqrt{\mathrm{SSR} / \sum_\pm \sum_m (A^{(m),\pm})^2}`.
        ok: whether the fit passed its checks (see the module docstring).
        message: ``"ok"``, or the problems found.
    """

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
    r"""The default bounds of :math:`\log_{10} \delta` for :math:`n` players, the range where
    :math:`\delta` is identifiable (see the module docstring):

    .. math::

       [\log_{10} \lambda_1^n - 1, \; \log_{10} \lambda_0^n + 1].

    Args:
        n: the number of players.

    Returns:
        ``(low, high)``.
    """
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
    r"""Fit eq. 10 to a measured distribution (see the module docstring for the method).

    Args:
        measured: a :class:`~ibn.distributions.strength.Strengths` of shape ``(n+1,)``, e.g.
            :math:`A` averaged over the samples.
        and_star: the AND effects :math:`I^*` of the final model, ``(..., 2**n)``, or None; or one
            object with ``.and_effects``/``.or_effects`` (then ``or_star`` is None).
        or_star: the OR effects :math:`I^*`, of the same shape, or None.
        alpha_bounds: the bounds ``(low, high)`` of :math:`\alpha`, with ``0 < low < high``.
        log10_delta_bounds: the bounds of :math:`\log_{10} \delta` (default: :func:`delta_box`).
        grid: the numbers of grid points over :math:`\alpha` and over :math:`\log_{10} \delta`.
        n_starts: how many of the best local minima of the :math:`\delta` profile are refined.
        min_r2: the smallest :math:`R^2` of a fit that is not flagged.
        on_failure: ``"warn"``, ``"raise"`` or ``"ignore"``: what a flagged fit does.
        combine: forwarded to :func:`~ibn.distributions.decay.decay_strengths`.

    Returns:
        :class:`DisentangleResult`.

    Raises:
        ValueError: a bad argument, a measured curve that is not one curve ``(n+1,)``, is
            non-finite or all zero, or effects whose number of players differs from the curve's.
        DisentangleError: a flagged fit, with ``on_failure="raise"``.

    Warns:
        DisentangleWarning: a flagged fit, with ``on_failure="warn"``.
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
