"""Shared linear algebra of the AND-OR decomposition (Conventions page, eq-sparsest-lp and
eq-sparsest-dual), per sample, in numpy.

Notation used by every solver. For one sample with n players and m = 2^n coalitions:

* ``r_T = v_T − v_∅`` for T ≠ ∅ (the bias ``I^AND_∅ = v_∅`` is fixed, δ_∅ = 0, u^OR_∅ = 0);
* the dictionary Φ = [Z | Z_or] acts on x = (I^AND_{S≠∅}, I^OR_{S≠∅}):
  (Φx)_T = Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S  (``transforms.zeta`` and ``transforms.or_zeta``);
* the sparsest decomposition is basis pursuit denoising
      min ||x||_1   subject to   |(Φx)_T − r_T| ≤ ζ  for every T ≠ ∅,
  with δ = r − Φx afterwards and γ = ½(u^AND − u^OR).
* its dual is   max_y  rᵀy − ζ||y||_1   subject to   ||Φᵀy||_∞ ≤ 1,
  where Φᵀy = (Zᵀy, Z_orᵀy) is priced with two butterflies (``zeta_transpose`` and ``zeta``).

Vectors over coalitions keep their full length m (entry 0 is the empty coalition) so that they
can be handed to the butterflies of :mod:`ibn.transforms` unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from .. import transforms as tf


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


def phi(and_eff: np.ndarray, or_eff: np.ndarray) -> np.ndarray:
    """(Φx)_T for T = 0..m−1 (entry 0 is 0): Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S.

    ``and_eff[..., 0]`` and ``or_eff[..., 0]`` are ignored (treated as 0). Batched over leading
    dimensions.
    """
    a = torch.as_tensor(np.array(and_eff, dtype=np.float64, copy=True))
    a[..., 0] = 0.0
    return _np(tf.zeta(a) + tf.or_zeta(torch.as_tensor(np.asarray(or_eff, dtype=np.float64))))


def phi_t(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Φᵀy = (Zᵀy, Z_orᵀy) over all S (entry 0 set to 0); ``y[..., 0]`` is ignored.

    (Zᵀy)_S = Σ_{T⊇S} y_T (``zeta_transpose``); (Z_orᵀy)_S = Σ_{T∩S≠∅} y_T = Σ_T y_T − Σ_{T⊆N\\S} y_T.
    """
    yt = torch.as_tensor(np.array(y, dtype=np.float64, copy=True))
    yt[..., 0] = 0.0
    g_and = _np(tf.zeta_transpose(yt))
    sub = _np(tf.zeta(yt))  # sub[U] = Σ_{T⊆U} y_T
    g_or = sub[..., -1:] - sub[..., ::-1]
    g_and[..., 0] = 0.0
    g_or[..., 0] = 0.0
    return g_and, g_or


def dense_phi(n: int) -> np.ndarray:
    """The explicit (m−1) × 2(m−1) matrix Φ over T ≠ ∅ rows and S ≠ ∅ columns (test oracle only)."""
    idx = np.arange(1, 1 << n)
    t = idx[:, None]
    s = idx[None, :]
    z_and = ((t & s) == s).astype(np.float64)
    z_or = ((t & s) != 0).astype(np.float64)
    return np.hstack([z_and, z_or])


def phi_columns(rows: np.ndarray, cols: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Dense block Φ[rows, cols]: ``kinds`` is 0 for an AND column, 1 for an OR column."""
    t = rows[:, None]
    s = cols[None, :]
    inter = t & s
    return np.where(kinds[None, :] == 0, inter == s, inter != 0).astype(np.float64)


def l1(and_eff: np.ndarray, or_eff: np.ndarray) -> np.ndarray:
    """Σ_{S≠∅} |I^AND_S| + |I^OR_S| over the last dimension."""
    return np.abs(and_eff[..., 1:]).sum(-1) + np.abs(or_eff[..., 1:]).sum(-1)


def dual_bound(y: np.ndarray, r: np.ndarray, zeta: float) -> tuple[float, float]:
    """A certified lower bound on the LP optimum from any dual vector y (entry 0 ignored;
    Conventions page, eq-dual-bound).

    y is scaled into the dual feasible set ||Φᵀy||_∞ ≤ 1 first, so the bound is valid whatever
    the accuracy of y. Returns (bound, max |Φᵀy| before scaling).
    """
    y = np.array(y, dtype=np.float64, copy=True)
    y[0] = 0.0
    g_and, g_or = phi_t(y)
    worst = float(max(np.abs(g_and).max(initial=0.0), np.abs(g_or).max(initial=0.0)))
    if worst > 1.0:
        y /= worst
    return float(r[1:] @ y[1:] - zeta * np.abs(y[1:]).sum()), worst


def polish(and_eff: np.ndarray, or_eff: np.ndarray, r: np.ndarray, zeta: float, scale: float,
           tol: float = 1e-7):
    """Re-solve the vertex of an (almost) optimal solution exactly, then return δ within ±ζ.

    The support B (|x| > tol·scale) and the active rows A (|δ_T| ≥ ζ − tol·scale) of a simplex
    vertex determine it: Φ[A, B] x_B = r_A − sign(δ_A)·ζ. Solving that system by least squares
    removes the solver's feasibility tolerance (≈1e-9), so that |δ| ≤ ζ holds to round-off and
    universal matching h = v − δ is exact to round-off. The polished point is kept only if it is
    feasible and no worse; then δ = r − Φx is clipped to [−ζ, ζ] (a change at round-off level).

    Returns (and_eff, or_eff, delta) with entry 0 of delta equal to 0.
    """
    m = r.shape[0]
    a = np.array(and_eff, dtype=np.float64, copy=True)
    o = np.array(or_eff, dtype=np.float64, copy=True)
    a[0] = 0.0
    o[0] = 0.0
    delta = r - phi(a, o)
    delta[0] = 0.0
    eps = tol * scale
    viol = np.abs(delta).max() - zeta
    if viol > 1e-13 * scale:
        cols = np.concatenate([np.flatnonzero(np.abs(a) > eps), np.flatnonzero(np.abs(o) > eps)])
        kinds = np.concatenate([np.zeros(int((np.abs(a) > eps).sum()), dtype=np.int64),
                                np.ones(int((np.abs(o) > eps).sum()), dtype=np.int64)])
        rows = np.flatnonzero(np.abs(delta[1:]) >= zeta - eps) + 1
        if 0 < cols.size <= rows.size and rows.size * cols.size <= 40_000_000:
            target = r[rows] - np.sign(delta[rows]) * zeta
            block = phi_columns(rows, cols, kinds)
            # complete orthogonal factorization (gelsy): the minimum-norm solution, as with
            # the SVD (gelsd), ~2.7× faster on 700 × 650 blocks
            sol, *_ = scipy.linalg.lstsq(block, target, lapack_driver="gelsy",
                                         check_finite=False)
            a2 = np.zeros(m)
            o2 = np.zeros(m)
            a2[cols[kinds == 0]] = sol[kinds == 0]
            o2[cols[kinds == 1]] = sol[kinds == 1]
            d2 = r - phi(a2, o2)
            d2[0] = 0.0
            old = np.abs(a).sum() + np.abs(o).sum()
            new = np.abs(a2).sum() + np.abs(o2).sum()
            if np.abs(d2).max() - zeta <= max(viol, 1e-12 * scale) and new <= old + 1e-9 * max(old, scale):
                a, o, delta = a2, o2, d2
    delta = np.clip(delta, -zeta, zeta)
    delta[0] = 0.0
    return a, o, delta
