"""A batched first-order estimate of the sparsest decomposition: ADMM in the eigenbasis of ZᵀZ.

The exact solvers need to know, before they build an LP, how large its optimal vertex will be:
a warm-started dual simplex wins when the optimum has few effects (sparse games, trained
ResNet-20 games at n = 10: ≲ 300 nonzero effects), an interior-point method wins when it has many
(random-MLP games: 330–1000). This module gives that estimate, and an approximate decomposition,
for a whole batch at once in a few hundred cheap iterations. It is an estimate only: its output is
neither exactly feasible nor a vertex, and :mod:`ibn.and_or.fast` uses it to choose a method.

Problem (notation of :mod:`ibn.and_or._common`; m = 2^n, every vector indexed by coalitions):

    min ||a_{≠∅}||_1 + ||q_{≠∅}||_1   s.t.   lo ≤ Z a − R Z q ≤ hi,

where Z is the zeta matrix (Z a)_T = Σ_{S⊆T} a_S, R reverses coalitions (T ↦ N∖T), lo/hi are
r ∓ ζ (and 0 at T = ∅). The OR part is written as −R Z q, since Σ_{S∩T≠∅} o_S = Σ_S o_S −
Σ_{S⊆N∖T} o_S: q_S = o_S for S ≠ ∅ and the free entries a_∅, q_∅ absorb the constant. Both
blocks then have the same Gram matrix ZᵀZ = (Z₁ᵀZ₁)^{⊗n}, Z₁ = [[1, 0], [1, 1]], so with the 2×2
eigendecomposition Z₁ᵀZ₁ = Q Λ Qᵀ,

    (I + ZᵀZ)⁻¹ = Q^{⊗n} diag(1 / (1 + λ_T)) (Q^{⊗n})ᵀ,   λ_T = Π_i Λ[bit i of T],

and every ADMM step is two such solves (Q^{⊗n} applied in blocks of ≤ 5 bits) plus the
butterflies Z and Zᵀ of :mod:`ibn.transforms`.

ADMM splitting (scaled form, one penalty ρ, over-relaxation α; Boyd et al. 2011, §3.4.3):
p = a and p' = q (soft thresholding), s₁ = Z a and s₂ = −R Z q with s₁ + s₂ in the slab
[lo, hi] (projected in closed form: the excess of s₁ + s₂ is split evenly between them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..transforms import or_zeta, zeta_transpose
from ..transforms import zeta as zeta_transform

__all__ = ["AdmmEstimate", "admm_estimate"]

_Z1 = ((1.0, 0.0), (1.0, 1.0))
SUPPORT_RTOL = 1e-3  # an effect counts towards the support above this fraction of the largest
_BLOCK_BITS = 5


def _kron_apply(k1: torch.Tensor, x: torch.Tensor, n: int) -> torch.Tensor:
    """(K₁^{⊗n}) x over the last dimension (bit i of the index = factor i), in blocks of bits."""
    b = x.shape[0]
    lo = 0
    while lo < n:
        k = min(_BLOCK_BITS, n - lo)
        f = k1
        for _ in range(k - 1):
            f = torch.kron(f, k1)
        if lo == 0:  # contract the last axis: one batched (·, 2^k) @ (2^k, 2^k) product
            x = torch.matmul(x.reshape(b, -1, 1 << k), f.T).reshape(b, -1)
        else:
            x = torch.matmul(f, x.reshape(b, -1, 1 << k, 1 << lo)).reshape(b, -1)
        lo += k
    return x


def _kron_diagonal(lam1: torch.Tensor, n: int) -> torch.Tensor:
    """λ_T = Π_i λ₁[bit i of T] for T = 0..2^n − 1."""
    idx = torch.arange(1 << n)
    out = torch.ones(1 << n, dtype=lam1.dtype)
    for i in range(n):
        out = out * lam1[(idx >> i) & 1]
    return out


@dataclass
class AdmmEstimate:
    """Approximate solution after ``iterations`` ADMM steps (per sample, unscaled units).

    ``and_eff``/``or_eff``: (batch, m) soft-thresholded iterates (entry 0 is 0); ``support``:
    their number of effects above ``SUPPORT_RTOL`` times the largest (OR singletons merged with
    the AND singletons, as in the LP; ADMM leaves many tiny effects on degenerate games, which
    would otherwise count); ``objective``: their L1 norm (not a feasible objective: the constraints hold only
    approximately); ``max_violation``: max_T (|(Φx)_T − r_T| − ζ)⁺.
    """

    and_eff: torch.Tensor
    or_eff: torch.Tensor
    support: torch.Tensor
    objective: torch.Tensor
    max_violation: torch.Tensor
    iterations: int


def admm_estimate(r: torch.Tensor, zeta: torch.Tensor, *, iterations: int = 300,
                  rho: float = 30.0, alpha: float = 1.6) -> AdmmEstimate:
    """Run ADMM on a batch r (batch, 2^n) (entry 0 ignored) with bounds ζ (batch,).

    Each sample is scaled by max_T |r_T| first, so ``rho`` is scale-free (ρ = 30 suits both the
    sparse planted games and the dense network games of the benchmarks at n = 8–12).
    """
    r = torch.as_tensor(r, dtype=torch.float64)
    if r.ndim != 2:
        raise ValueError(f"r must have shape (batch, 2**n), got {tuple(r.shape)}")
    bsz, m = r.shape
    n = m.bit_length() - 1
    zeta = torch.as_tensor(zeta, dtype=torch.float64).reshape(bsz)
    scale = r[:, 1:].abs().amax(-1).clamp(min=torch.finfo(torch.float64).tiny)
    rn = r / scale[:, None]
    zn = zeta / scale
    z1 = torch.tensor(_Z1, dtype=torch.float64)
    lam1, q1 = torch.linalg.eigh(z1.T @ z1)
    den = rho * (1.0 + _kron_diagonal(lam1, n))

    def solve(rhs):  # (ρ I + ρ ZᵀZ)⁻¹ rhs
        return _kron_apply(q1, _kron_apply(q1.T, rhs, n) / den, n)

    weight = torch.ones(m, dtype=torch.float64)
    weight[0] = 0.0
    thresh = weight / rho
    lo = rn - zn[:, None]
    hi = rn + zn[:, None]
    lo[:, 0] = 0.0
    hi[:, 0] = 0.0
    zeros = torch.zeros_like(rn)
    p, pq, s1, s2 = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    up, uq, u1, u2 = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    for _ in range(iterations):
        a = solve(rho * (p - up) + rho * zeta_transpose(s1 - u1))
        q = solve(rho * (pq - uq) - rho * zeta_transpose((s2 - u2).flip(-1)))
        za = alpha * zeta_transform(a) + (1 - alpha) * s1
        zq = alpha * -zeta_transform(q).flip(-1) + (1 - alpha) * s2
        a = alpha * a + (1 - alpha) * p
        q = alpha * q + (1 - alpha) * pq
        p = torch.sign(a + up) * ((a + up).abs() - thresh).clamp(min=0.0)
        pq = torch.sign(q + uq) * ((q + uq).abs() - thresh).clamp(min=0.0)
        c1, c2 = za + u1, zq + u2
        t = c1 + c2
        shift = (torch.minimum(torch.maximum(t, lo), hi) - t) / 2
        s1, s2 = c1 + shift, c2 + shift
        up += a - p
        uq += q - pq
        u1 += za - s1
        u2 += zq - s2
    a_eff = p * scale[:, None]
    o_eff = pq * scale[:, None]
    a_eff[:, 0] = 0.0
    o_eff[:, 0] = 0.0
    singles = 1 << torch.arange(n)
    merged = a_eff.clone()
    merged[:, singles] += o_eff[:, singles]
    o_rest = o_eff.clone()
    o_rest[:, singles] = 0.0
    both = torch.cat([merged, o_rest], -1).abs()
    support = (both > SUPPORT_RTOL * both.amax(-1, keepdim=True)).sum(-1)
    fx = zeta_transform(a_eff) + or_zeta(o_eff)
    viol = ((r - fx)[:, 1:].abs() - zeta[:, None]).clamp(min=0.0).amax(-1)
    objective = a_eff.abs().sum(-1) + o_eff.abs().sum(-1)
    return AdmmEstimate(a_eff, o_eff, support, objective, viol, iterations)
