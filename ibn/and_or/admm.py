"""A batched first-order estimate of the sparsest decomposition: ADMM in the eigenbasis of ZᵀZ.

The exact solvers need to know, before they build an LP, how large its optimal vertex will be
(a warm-started dual simplex wins when the optimum has up to ~600 effects at n = 10, an
interior-point method above) and which rows it lives on (row generation started from them needs
far fewer pivots). This module gives both, with an approximate decomposition, for a whole batch
at once in a few hundred cheap iterations. It is an estimate only: its output is neither exactly
feasible nor a vertex, and :mod:`ibn.and_or.fast` uses it to choose a method and to seed
the working sets of rows and columns.

Problem (notation of :mod:`ibn.and_or._common`; m = 2^n, every vector indexed by coalitions):

    min ||a_{≠∅}||_1 + ||q_{≠∅}||_1   s.t.   lo ≤ Z a − R Z q ≤ hi,

where Z is the zeta matrix (Z a)_T = Σ_{S⊆T} a_S, R reverses coalitions (T ↦ N∖T), lo/hi are
r ∓ ζ (and 0 at T = ∅). The OR part is written as −R Z q, since Σ_{S∩T≠∅} o_S = Σ_S o_S −
Σ_{S⊆N∖T} o_S: q_S = o_S for S ≠ ∅ and the free entries a_∅, q_∅ absorb the constant. Both
blocks then have the same Gram matrix ZᵀZ = (Z₁ᵀZ₁)^{⊗n}, Z₁ = [[1, 0], [1, 1]], so with the 2×2
eigendecomposition Z₁ᵀZ₁ = Q Λ Qᵀ,

    (I + ZᵀZ)⁻¹ = Q^{⊗n} diag(1 / (1 + λ_T)) (Q^{⊗n})ᵀ,   λ_T = Π_i Λ[bit i of T],

and, since Z and R are Kronecker products too, every ADMM step is two stacked products with
Kronecker factors ((Qᵀ, (AQ)ᵀ) and then (AQ, Q), for the AND block A = Z and the OR block A = −RZ
at once), each applied in blocks of ≤ 5 bits (see :func:`admm_estimate`).

ADMM splitting (scaled form, one penalty ρ, over-relaxation α; Boyd et al. 2011, §3.4.3):
p = a and p' = q (soft thresholding), s₁ = Z a and s₂ = −R Z q with s₁ + s₂ in the slab
[lo, hi] (projected in closed form: the excess of s₁ + s₂ is split evenly between them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..transforms import kron_blocks, or_zeta
from ..transforms import zeta as zeta_transform

__all__ = ["AdmmEstimate", "admm_estimate"]

_Z1 = ((1.0, 0.0), (1.0, 1.0))
SUPPORT_RTOL = 1e-3  # an effect counts towards the support above this fraction of the largest


def _kron_diagonal(lam1: torch.Tensor, n: int) -> torch.Tensor:
    """λ_T = Π_i λ₁[bit i of T] for T = 0..2^n − 1."""
    idx = torch.arange(1 << n)
    out = torch.ones(1 << n, dtype=lam1.dtype)
    for i in range(n):
        out = out * lam1[(idx >> i) & 1]
    return out


class _Plan:
    """:func:`ibn.transforms.kron_apply` with stacked ``blocks`` for one input shape
    (4, bsz, m), its per-call work (shapes, transposes) done once: a step of a one-sample batch
    is a few dozen small operations, where that work is a fifth of the time."""

    def __init__(self, blocks: list[torch.Tensor], bsz: int, m: int):
        sizes = [b.shape[-1] for b in blocks]
        self.first = blocks[0].transpose(-1, -2)
        self.rest = [b[:, None] for b in blocks[1:]]
        self.shapes = []
        j = sizes[0]
        for size in sizes[1:]:
            self.shapes.append((4, -1, size, j))
            j *= size
        self.head = (4, -1, sizes[0])
        self.out = (4, bsz, m)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = x.reshape(self.head) @ self.first
        for w, shape in zip(self.rest, self.shapes):
            y = w @ y.reshape(shape)
        return y.reshape(self.out)


@dataclass
class AdmmEstimate:
    """Approximate solution after ``iterations`` ADMM steps (per sample, unscaled units).

    ``and_eff``/``or_eff``: (batch, m) soft-thresholded iterates (entry 0 is 0); ``support``:
    their number of effects above ``SUPPORT_RTOL`` times the largest (OR singletons merged with
    the AND singletons, as in the LP; ADMM leaves many tiny effects on degenerate games, which
    would otherwise count); ``objective``: their L1 norm (not a feasible objective: the
    constraints hold only approximately); ``delta``: (batch, m) the residual r − Φx (entry 0 is
    0); ``max_violation``: max_T (|δ_T| − ζ)⁺; ``dual``: (batch, m) the estimated LP dual y
    (ρ times the scaled multipliers of the slab, averaged over the two blocks; scale-free, up to
    sign), whose large entries mark the rows active at the optimum.
    """

    and_eff: torch.Tensor
    or_eff: torch.Tensor
    support: torch.Tensor
    objective: torch.Tensor
    delta: torch.Tensor
    max_violation: torch.Tensor
    dual: torch.Tensor
    iterations: int


def admm_estimate(r: torch.Tensor, zeta: torch.Tensor, *, iterations: int = 300,
                  rho: float = 30.0, alpha: float = 1.6,
                  dtype: torch.dtype = torch.float64) -> AdmmEstimate:
    """Run ADMM on a batch r (batch, 2^n) (entry 0 ignored) with bounds ζ (batch,).

    Each sample is scaled by max_T |r_T| first, so ``rho`` is scale-free (ρ = 30 suits both the
    sparse planted games and the dense network games of the benchmarks at n = 8–12). ``dtype``:
    the precision of the iterations (float32 is ~1.5–3× faster on a batch and gives the same
    supports and duals to ~1e-5 on the benchmark games); the results are float64.

    Both blocks (a with A = Z, q with A = −RZ) are updated together, and every linear map of a
    step is a Kronecker product of 2 × 2 factors (R = R₁^{⊗n} with R₁ = [[0, 1], [1, 0]]): the
    x-update (ρI + ρAᵀA)⁻¹ρ(p − u_p + Aᵀ(s − u)) = Q D (Qᵀ(p − u_p) + (AQ)ᵀ(s − u)) with
    D = diag(1/(1 + λ_T)), and then x = Q w, Ax = (AQ) w. A step is therefore two stacked
    block products, which keeps a batch of one sample cheap.
    """
    r = torch.as_tensor(r, dtype=torch.float64)
    if r.ndim != 2:
        raise ValueError(f"r must have shape (batch, 2**n), got {tuple(r.shape)}")
    bsz, m = r.shape
    n = m.bit_length() - 1
    zeta = torch.as_tensor(zeta, dtype=torch.float64).reshape(bsz)
    scale = r[:, 1:].abs().amax(-1).clamp(min=torch.finfo(torch.float64).tiny)
    rn = (r / scale[:, None]).to(dtype)
    zn = (zeta / scale).to(dtype)
    z1 = torch.tensor(_Z1, dtype=torch.float64)
    r1 = torch.tensor(((0.0, 1.0), (1.0, 0.0)), dtype=torch.float64)
    lam1, q1 = torch.linalg.eigh(z1.T @ z1)
    inv = (1.0 / (1.0 + _kron_diagonal(lam1, n))).to(dtype)

    def stacked(factors, scales):
        """The Kronecker blocks of a stack of 2 × 2 factors, built once; the constant factor of
        each (α, and the sign of A = −RZ) folded into its first block."""
        blocks = kron_blocks(torch.stack(factors), n)
        blocks[0] = blocks[0] * torch.tensor(scales, dtype=torch.float64)[:, None, None]
        return [b.to(dtype) for b in blocks]

    aq = z1 @ q1
    raq = r1 @ aq
    # one stacked product for each half of a step: [Qᵀ, Qᵀ, (AQ)ᵀ, (AQ)ᵀ] on
    # [p − u_p (both blocks), s − u (both blocks)], and [AQ, AQ, Q, Q]·α on [w, w]
    to_w = _Plan(stacked([q1.T, q1.T, aq.T, raq.T], [1.0, 1.0, 1.0, -1.0]), bsz, m)  # A = −RZ
    from_w = _Plan(stacked([aq, raq, q1, q1], [alpha, -alpha, alpha, alpha]), bsz, m)

    thresh = torch.full((m,), 1.0 / rho, dtype=dtype)
    thresh[0] = 0.0
    lo = rn - zn[:, None]
    hi = rn + zn[:, None]
    lo[:, 0] = 0.0
    hi[:, 0] = 0.0
    zeros = torch.zeros(2, bsz, m, dtype=dtype)
    p, s, up, u = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    for _ in range(iterations):
        both = to_w(torch.cat([p - up, s - u]))
        w = both[:2] + both[2:]
        w *= inv
        both = from_w(torch.cat([w, w]))
        ax = both[:2].add_(s, alpha=1 - alpha)  # relaxed A x
        x = both[2:].add_(p, alpha=1 - alpha)  # relaxed x
        v = x + up
        p = v - torch.clamp(v, -thresh, thresh)  # soft thresholding
        c = ax + u
        t = c[0] + c[1]
        s = c + (torch.clamp(t, lo, hi) - t) * 0.5  # the excess split between the blocks
        up = v - p  # up + x − p
        u = c - s  # u + Ax − s
    p = p.to(torch.float64)
    u = u.to(torch.float64)
    a_eff = p[0] * scale[:, None]
    o_eff = p[1] * scale[:, None]
    a_eff[:, 0] = 0.0
    o_eff[:, 0] = 0.0
    dual = rho * (u[0] + u[1]) / 2
    dual[:, 0] = 0.0
    singles = 1 << torch.arange(n)
    merged = a_eff.clone()
    merged[:, singles] += o_eff[:, singles]
    o_rest = o_eff.clone()
    o_rest[:, singles] = 0.0
    both = torch.cat([merged, o_rest], -1).abs()
    support = (both > SUPPORT_RTOL * both.amax(-1, keepdim=True)).sum(-1)
    delta = r - (zeta_transform(a_eff) + or_zeta(o_eff))
    delta[:, 0] = 0.0
    viol = (delta[:, 1:].abs() - zeta[:, None]).clamp(min=0.0).amax(-1)
    objective = a_eff.abs().sum(-1) + o_eff.abs().sum(-1)
    return AdmmEstimate(a_eff, o_eff, support, objective, delta, viol, dual, iterations)
