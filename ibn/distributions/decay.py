"""The decay-shaped distribution of generalizable interactions (paper B Thm 3.1, eq. 8-9, App. I).

Theorem 3.1: under noise of level δ ≡ σ², the interactions a DNN learns are the ridge solution

    Î(δ) = M(δ) I*,   M(δ) = (JᵀJ + 2^n diag(c))⁻¹ JᵀJ,   c_S = 2^{|S|} δ,

where I* are the interactions of the final (over-fitted) model and J[T, S] is the trigger of
interaction S on the masked sample x_T (Conventions page, eq-decay, eq-trigger). Never forming the
2^n × 2^n matrices:

AND, J[T, S] = 1(S ⊆ T)
    JᵀJ[S, S'] = #{T ⊇ S ∪ S'} = 2^{n − |S ∪ S'|} = (⊗ⁿ A)[S, S'] with A = [[2, 1], [1, 1]]
    (row/column index of A = bit value; bit i = player i; every factor is the same so the
    Kronecker order is immaterial), and 2^n diag(c) = δ ⊗ⁿ B with B = diag(2, 4).
    Let Ã = B^{-1/2} A B^{-1/2} = Q Λ Qᵀ (Q orthogonal) and V = B^{-1/2} Q, so AV = BVΛ,
    VᵀBV = 1, VᵀA = ΛV⁻¹. Then ⊗A + δ⊗B = ⊗V⁻ᵀ (Λ_⊗ + δ) ⊗V⁻¹ and

        M(δ) = ⊗V · diag(Λ_⊗ / (Λ_⊗ + δ)) · ⊗V⁻¹,   Λ_⊗[K] = λ_0^{n−|K|} λ_1^{|K|},

    λ = (10 ± √68)/16 (λ_0 ≈ 1.140 for eigen-bit 0, λ_1 ≈ 0.1096 for eigen-bit 1). ⊗V and ⊗V⁻¹
    are applied as per-bit 2 × 2 butterflies (grouped 5 bits at a time into 32 × 32 blocks
    applied by batched matmuls): O(n 2^n).

OR, J[T, S] = 1(S ∩ T ≠ ∅) = 1 − 1(S ⊆ N\\T)
    Because J_AND e_∅ = 𝟙, J_OR = 𝟙𝟙ᵀ − P J_AND = −P J_AND R with P the complement permutation
    (orthogonal) and R = 1 − e_∅ 𝟙ᵀ, so ‖J_OR z‖ = ‖J_AND R z‖. The ridge problem
    min_Î ‖J_OR(Î − I*)‖² + Σ_S 2^n c_S Î_S² is solved by Î_∅ = 0 (J_OR ignores S = ∅) and, with
    y = R Î (y_S = Î_S for S ≠ ∅, y_∅ = −Σ_{S≠∅} Î_S, i.e. 𝟙ᵀy = 0) and y* = R I*,

        min_y ‖J_AND(y − y*)‖² + yᵀ D' y  subject to 𝟙ᵀ y = 0,  D' = δ⊗B with D'_∅ = 0.

    Its KKT solution is y = K'⁻¹(G y* − μ 𝟙), μ = 𝟙ᵀK'⁻¹G y* / 𝟙ᵀK'⁻¹𝟙, G = ⊗A, where
    K' = G + D' = K − d e_∅e_∅ᵀ (K = ⊗A + δ⊗B, d = 2^n δ) is inverted by Sherman–Morrison on top
    of K⁻¹ = ⊗V diag(1/(Λ_⊗ + δ)) ⊗Vᵀ. K' ≻ 0 because G ≻ 0 (J_AND is invertible), so the
    Sherman–Morrison denominator 1 − d (K⁻¹)_∅∅ is positive. Cost O(n 2^n). The ∅ column and row of
    M_OR are zero, and M_OR(δ → 0) is the identity on effects with I_∅ = 0.

Monotonicity (proved for AND, tested for both): the self-retention M(δ)[S, S] =
Σ_K Π_i Q[s_i, k_i]² · Λ_⊗[K]/(Λ_⊗[K] + δ) is a convex combination of functions decreasing in δ,
so it lies in (0, 1], decreases strictly in δ and → 1 as δ → 0; since Q[1, 1]² ≈ 0.864 > ½ a
present player shifts weight to the small eigenvalue, so at fixed δ it also decreases in |S|
(first-order stochastic dominance). :func:`retention` returns it per order.

The decay curve (Conventions page, eq-decay-curve):
A_decay^(m),± = γ · Σ_{|S|=m} max/min(Î_S(δ), 0). **Decision:** the AND and OR entries are counted
*separately* (``combine="separate"``, default), i.e. the sum over the 2·C(n, m) interactions
{AND S} ∪ {OR S}, exactly as the measured A^(m),± counts AND and OR interactions together
(Conventions page, eq-order-strength). Paper B's formula can be read as max(Î^AND_S + Î^OR_S, 0)
per S, which lets an AND and an OR effect of the same S cancel — a quantity the measured A never
forms; that reading is available as ``combine="elementwise"``. The bias S = ∅ is excluded and no
salience threshold is applied (γ rescales anyway). Over several samples the curve is the mean.
"""

from __future__ import annotations

import math

import torch

from ibn.distributions.strength import Strengths, _signed
from ibn.transforms import as_values, kron_apply, n_players, orders

__all__ = [
    "EIGENVALUES",
    "decay_and",
    "decay_or",
    "DecayModel",
    "decay_strengths",
    "retention",
]

_A = torch.tensor([[2.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
_B_DIAG = torch.tensor([2.0, 4.0], dtype=torch.float64)


def _generalized_eig() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """λ (descending), Q (orthogonal, columns = eigenvectors of Ã), V = B^{-1/2} Q."""
    bih = _B_DIAG.rsqrt()
    at = bih[:, None] * _A * bih[None, :]
    lam, q = torch.linalg.eigh(at)  # ascending
    lam, q = lam.flip(0), q.flip(1)
    q = q * torch.sign(q.diagonal())[None, :]  # deterministic signs
    return lam, q, bih[:, None] * q


EIGENVALUES, _Q, _V = _generalized_eig()
_V_INV = _Q.T * _B_DIAG.sqrt()[None, :]


def _lambda_kron(n: int, device=None) -> torch.Tensor:
    """Λ_⊗[K] = λ_0^{n−|K|} λ_1^{|K|} over the eigen-index K (bit i of K = eigen-bit of player i)."""
    k = orders(n, device=device).to(torch.float64)
    lam = EIGENVALUES.to(device)
    return torch.exp((n - k) * lam[0].log() + k * lam[1].log())


def _check_delta(delta) -> float:
    d = float(delta)
    if not math.isfinite(d) or d < 0:
        raise ValueError(f"the noise level delta = sigma^2 must be finite and >= 0, got {delta}")
    return d


class DecayModel:
    """M(δ) applied to fixed I* (AND and/or OR) for many δ at O(n 2^n) each (Thm 3.1).

    Everything that does not depend on δ (⊗V⁻¹ I*, the OR right-hand side) is computed once;
    ``model(delta)`` returns ``(Î^AND(δ), Î^OR(δ))`` with the shape of the inputs (None where
    the input was None). ``model.strengths(delta, gamma)`` gives the decay curve (eq. 9).
    """

    def __init__(self, and_effects=None, or_effects=None) -> None:
        if and_effects is None and or_effects is None:
            raise ValueError("DecayModel needs and_effects, or_effects or both")
        ref = as_values(and_effects if and_effects is not None else or_effects, name="effects")
        if ref.ndim == 0:
            raise ValueError("effects must have a last dimension of length 2**n")
        self.n = n_players(ref.shape[-1])
        self.shape = ref.shape
        self.device = ref.device
        self._lam = _lambda_kron(self.n, ref.device)
        self._k = ref[..., 0].numel()  # vectors per effect kind (samples)
        self._has_and = and_effects is not None
        self._has_or = or_effects is not None
        # rows (in this order): OR right-hand side ⊗Vᵀ G y*, AND ⊗V⁻¹ I* · Λ_⊗, ⊗Vᵀ e_∅, ⊗Vᵀ 𝟙;
        # then every δ needs one elementwise scaling by 1/(Λ_⊗ + δ) and one ⊗V application.
        rows = []
        size = 1 << self.n
        if self._has_or:
            o = as_values(or_effects, name="or_effects")
            self._check(o)
            y_star = o.reshape(-1, size).clone()
            y_star[:, 0] = -y_star[:, 1:].sum(-1)
            rows.append(kron_apply(kron_apply(y_star, _A), _V.T))  # ⊗Vᵀ G y*
        if self._has_and:
            a = as_values(and_effects, name="and_effects")
            self._check(a)
            rows.append(kron_apply(a.reshape(-1, size), _V_INV) * self._lam)
        if self._has_or:
            basis = torch.zeros(2, size, dtype=torch.float64, device=ref.device)
            basis[0, 0] = 1.0
            basis[1] = 1.0
            rows.append(kron_apply(basis, _V.T))
        self._z = torch.cat(rows)

    def _check(self, x: torch.Tensor) -> None:
        if x.shape != self.shape:
            raise ValueError(
                f"and_effects and or_effects must have the same shape, got {tuple(self.shape)} "
                f"and {tuple(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise ValueError("effects contain NaN or infinite entries")

    def __call__(self, delta) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        d = _check_delta(delta)
        out = kron_apply(self._z / (self._lam + d), _V)
        k = self._k
        if not self._has_or:
            return out.reshape(self.shape), None
        kb, ke, k1 = out[:k], out[-2], out[-1]
        out_and = out[k : 2 * k].reshape(self.shape) if self._has_and else None
        dd = d * (1 << self.n)
        coef = dd / (1.0 - dd * ke[0])  # Sherman–Morrison: K'⁻¹ = K⁻¹ + coef K⁻¹e_∅ e_∅ᵀK⁻¹
        kpb = kb + (coef * kb[:, :1]) * ke
        kp1 = k1 + (coef * k1[0]) * ke
        mu = kpb.sum(-1, keepdim=True) / kp1.sum()
        out_or = kpb - mu * kp1
        out_or[:, 0] = 0.0
        return out_and, out_or.reshape(self.shape)

    def strengths(self, delta, gamma: float = 1.0, combine: str = "separate") -> Strengths:
        """A_decay^(m),±(δ, γ), averaged over leading dims (see the module docstring)."""
        a, o = self(delta)
        return decay_strengths(a, o, gamma=gamma, combine=combine)


def decay_and(effects, delta) -> torch.Tensor:
    """Î^AND(δ) = M_AND(δ) I* (Thm 3.1), batched over leading dims, O(n 2^n)."""
    return DecayModel(and_effects=effects)(delta)[0]


def decay_or(effects, delta) -> torch.Tensor:
    """Î^OR(δ) = M_OR(δ) I* (Thm 3.1), batched; I*_∅ is ignored and Î_∅ = 0. O(n 2^n)."""
    return DecayModel(or_effects=effects)(delta)[1]


def decay_strengths(
    and_hat=None, or_hat=None, *, gamma: float = 1.0, combine: str = "separate"
) -> Strengths:
    """A_decay^(m),± = γ Σ_{|S|=m} max/min(Î_S, 0), S ≠ ∅, averaged over leading dims (eq. 9).

    ``combine="separate"`` (default) counts every AND and every OR entry as one interaction;
    ``"elementwise"`` uses max/min(Î^AND_S + Î^OR_S, 0) per S. See the module docstring.
    """
    parts = [as_values(x) for x in (and_hat, or_hat) if x is not None]
    if not parts:
        raise ValueError("decay_strengths needs and_hat, or_hat or both")
    if combine == "elementwise":
        parts = [parts[0] if len(parts) == 1 else parts[0] + parts[1]]
    elif combine != "separate":
        raise ValueError(f"combine must be 'separate' or 'elementwise', got {combine!r}")
    size = parts[0].shape[-1]
    # E_x Σ_{|S|=m} max(Î_S, 0) = Σ_{|S|=m} E_x max(Î_S, 0): average first, then sum per order
    pos = sum(p.reshape(-1, size).clamp(min=0.0).mean(0) for p in parts)
    neg = sum(p.reshape(-1, size).clamp(max=0.0).mean(0) for p in parts)
    s = _signed(pos) + _signed(neg)
    return Strengths(gamma * s.plus, gamma * s.minus)


def retention(n: int, delta) -> torch.Tensor:
    """AND self-retention M_AND(δ)[S, S] for |S| = m = 0..n (closed form, see module docstring).

    With p = Q[1,1]² ≈ 0.864 the probability that a present player's eigen-bit is the small one,
    M[S, S] = E[Λ_⊗[K]/(Λ_⊗[K] + δ)] over K with independent bits, P(k_i = 1) = p if i ∈ S else
    1 − p. Decreasing in δ and in m.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    d = _check_delta(delta)
    p = float(_Q[1, 1] ** 2)
    lam0, lam1 = (float(v) for v in EIGENVALUES)
    out = torch.zeros(n + 1, dtype=torch.float64)
    for m in range(n + 1):
        acc = 0.0
        for a in range(m + 1):  # small-eigen bits among the m present players
            pa = math.comb(m, a) * p**a * (1 - p) ** (m - a)
            for b in range(n - m + 1):  # small-eigen bits among the n − m absent players
                pb = math.comb(n - m, b) * (1 - p) ** b * p ** (n - m - b)
                k = a + b
                lam = lam0 ** (n - k) * lam1**k
                acc += pa * pb * lam / (lam + d)
        out[m] = acc
    return out
