r"""The decay-shaped distribution of generalizable interactions (paper B Thm 3.1, eq. 8-9,
App. I).

Theorem 3.1: under noise of level :math:`\delta \equiv \sigma^2`, the interactions a DNN learns
are the ridge solution

.. math::

   \hat I(\delta) = M(\delta) \, I^*, \qquad
   M(\delta) = \bigl(J^\top J + 2^n \operatorname{diag}(c)\bigr)^{-1} J^\top J, \qquad
   c_S = 2^{\lvert S\rvert } \delta,

where :math:`I^*` are the interactions of the final (over-fitted) model and :math:`J[T, S]` is
the trigger of interaction :math:`S` on the masked sample :math:`x_T` (Conventions page,
eq-decay, eq-trigger). Never forming the :math:`2^n \times 2^n` matrices:

**AND**, :math:`J[T, S] = 1(S \subseteq T)`. Then
:math:`J^\top J[S, S'] = \#\{T \supseteq S \cup S'\} = 2^{n - |S \cup S'|}
= (\otimes^n A)[S, S']` with :math:`A = \begin{pmatrix} 2 & 1 \\ 1 & 1 \end{pmatrix}`
(row/column index of :math:`A` = bit value; bit i = player i; every factor is the same so the
Kronecker order is immaterial), and :math:`2^n \operatorname{diag}(c) = \delta \otimes^n B` with
:math:`B = \operatorname{diag}(2, 4)`. Let
:math:`\tilde A = B^{-1/2} A B^{-1/2} = Q \Lambda Q^\top` (:math:`Q` orthogonal) and
:math:`V = B^{-1/2} Q`, so :math:`AV = BV\Lambda`, :math:`V^\top B V = \mathrm{Id}` and
:math:`V^\top A = \Lambda V^{-1}`. Then
:math:`\otimes A + \delta \otimes B = \otimes V^{-\top} (\Lambda_\otimes + \delta) \otimes V^{-1}`
and

.. math::

   M(\delta) = \otimes V \cdot
   \operatorname{diag}\Bigl(\frac{\Lambda_\otimes}{\Lambda_\otimes + \delta}\Bigr)
   \cdot \otimes V^{-1}, \qquad
   \Lambda_\otimes[K] = \lambda_0^{n-\lvert K\rvert } \lambda_1^{\lvert K\rvert },

with :math:`\lambda = (10 \pm \sqrt{68}) / 16` (:math:`\lambda_0 \approx 1.140` for eigen-bit 0,
:math:`\lambda_1 \approx 0.1096` for eigen-bit 1). :math:`\otimes V` and :math:`\otimes V^{-1}`
are applied as per-bit 2 × 2 butterflies (grouped 5 bits at a time into 32 × 32 blocks applied
by batched matmuls): :math:`O(n \, 2^n)`.

**OR**, :math:`J[T, S] = 1(S \cap T \neq \emptyset) = 1 - 1(S \subseteq N \setminus T)`.
Because :math:`J_{\mathrm{AND}} e_\emptyset = \mathbf{1}`,
:math:`J_{\mathrm{OR}} = \mathbf{1}\mathbf{1}^\top - P J_{\mathrm{AND}}
= -P J_{\mathrm{AND}} R` with :math:`P` the complement permutation (orthogonal) and
:math:`R = \mathrm{Id} - e_\emptyset \mathbf{1}^\top`, so
:math:`\|J_{\mathrm{OR}} z\| = \|J_{\mathrm{AND}} R z\|`. The ridge problem
:math:`\min_{\hat I} \|J_{\mathrm{OR}}(\hat I - I^*)\|^2 + \sum_S 2^n c_S \hat I_S^2` is solved
by :math:`\hat I_\emptyset = 0` (:math:`J_{\mathrm{OR}}` ignores :math:`S = \emptyset`) and,
with :math:`y = R \hat I` (:math:`y_S = \hat I_S` for :math:`S \neq \emptyset`,
:math:`y_\emptyset = -\sum_{S \neq \emptyset} \hat I_S`, i.e. :math:`\mathbf{1}^\top y = 0`) and
:math:`y^* = R I^*`,

.. math::

   \min_y \|J_{\mathrm{AND}}(y - y^*)\|^2 + y^\top D' y
   \quad \text{subject to} \quad \mathbf{1}^\top y = 0, \qquad
   D' = \delta \otimes B \text{ with } D'_\emptyset = 0.

Its KKT solution is

.. math::

   y = K'^{-1} (G y^* - \mu \mathbf{1}), \qquad
   \mu = \frac{\mathbf{1}^\top K'^{-1} G y^*}{\mathbf{1}^\top K'^{-1} \mathbf{1}}, \qquad
   G = \otimes A,

where :math:`K' = G + D' = K - d \, e_\emptyset e_\emptyset^\top`
(:math:`K = \otimes A + \delta \otimes B`, :math:`d = 2^n \delta`) is inverted by
Sherman–Morrison on top of
:math:`K^{-1} = \otimes V \operatorname{diag}\bigl(1 / (\Lambda_\otimes + \delta)\bigr)
\otimes V^\top`. :math:`K' \succ 0` because :math:`G \succ 0` (:math:`J_{\mathrm{AND}}` is
invertible), so the Sherman–Morrison denominator :math:`1 - d \, (K^{-1})_{\emptyset\emptyset}`
is positive. Cost :math:`O(n \, 2^n)`. The :math:`\emptyset` column and row of
:math:`M_{\mathrm{OR}}` are zero, and :math:`M_{\mathrm{OR}}(\delta \to 0)` is the identity on
effects with :math:`I_\emptyset = 0`.

Monotonicity (proved for AND, tested for both): the self-retention

.. math::

   M(\delta)[S, S] = \sum_K \prod_i Q[s_i, k_i]^2 \,
   \frac{\Lambda_\otimes[K]}{\Lambda_\otimes[K] + \delta}

is a convex combination of functions decreasing in :math:`\delta`, so it lies in
:math:`(0, 1]`, decreases strictly in :math:`\delta` and tends to 1 as :math:`\delta \to 0`;
since :math:`Q[1, 1]^2 \approx 0.864 > 1/2` a present player shifts weight to the small
eigenvalue, so at fixed :math:`\delta` it also decreases in :math:`|S|` (first-order stochastic
dominance). :func:`retention` returns it per order.

The decay curve (Conventions page, eq-decay-curve):

.. math::

   A_{\mathrm{decay}}^{(m),+} = \gamma \sum_{\lvert S\rvert = m} \max\bigl(\hat I_S(\delta),
      0\bigr),
   \qquad
   A_{\mathrm{decay}}^{(m),-} = \gamma \sum_{\lvert S\rvert = m} \min\bigl(\hat I_S(\delta),
      0\bigr).

**Decision:** the AND and OR entries are counted *separately* (``combine="separate"``, default),
i.e. the sum over the :math:`2 \binom{n}{m}` interactions
:math:`\{\text{AND } S\} \cup \{\text{OR } S\}`, exactly as the measured
:math:`A^{(m),\pm}` counts AND and OR interactions together (Conventions page,
eq-order-strength). Paper B's formula can be read as
:math:`\max(\hat I^{\mathrm{AND}}_S + \hat I^{\mathrm{OR}}_S, 0)` per :math:`S`, which lets an
AND and an OR effect of the same :math:`S` cancel — a quantity the measured :math:`A` never
forms; that reading is available as ``combine="elementwise"``. The bias :math:`S = \emptyset`
is excluded and no salience threshold is applied (:math:`\gamma` rescales anyway). Over several
samples the curve is the mean.
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


#: The eigenvalues :math:`(\lambda_0, \lambda_1) \approx (1.140, 0.1096)` of
#: :math:`\tilde A = B^{-1/2} A B^{-1/2}`, descending (see the module docstring).
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
    r""":math:`M(\delta)` applied to fixed :math:`I^*` (AND and/or OR) for many :math:`\delta`, at
    :math:`O(n \, 2^n)` each (Thm 3.1).

    Everything that does not depend on :math:`\delta` (:math:`\otimes V^{-1} I^*`, the OR
    right-hand side) is computed once; ``model(delta)`` returns
    :math:`(\hat I^{\mathrm{AND}}(\delta), \hat I^{\mathrm{OR}}(\delta))` with the shape of the
    inputs (None where the input was None). ``model.strengths(delta, gamma)`` gives the decay curve
    (eq. 9).

    Args:
        and_effects: the AND effects :math:`I^*` of the final model, shape ``(..., 2**n)``, or
            None.
        or_effects: the OR effects :math:`I^*`, of the same shape, or None.

    Raises:
        ValueError: neither effects given, effects of different shapes, a last dimension that is
            not :math:`2^n`, or non-finite effects.
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
        r"""The decayed effects :math:`\hat I(\delta) = M(\delta) \, I^*`.

        Args:
            delta: the noise level :math:`\delta = \sigma^2 \ge 0`.

        Returns:
            :math:`(\hat I^{\mathrm{AND}}(\delta), \hat I^{\mathrm{OR}}(\delta))`, each of the
            shape of the inputs, or None where the input was None.

        Raises:
            ValueError: ``delta`` is negative or not finite.
        """
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
        r"""The decay curve :math:`A_{\mathrm{decay}}^{(m),\pm}(\delta, \gamma)`, averaged over the
        leading dimensions (see the module docstring).

        Args:
            delta: the noise level :math:`\delta = \sigma^2 \ge 0`.
            gamma: the scale :math:`\gamma`.
            combine: ``"separate"`` or ``"elementwise"`` (see :func:`decay_strengths`).

        Returns:
            :class:`~ibn.distributions.strength.Strengths` of shape ``(n+1,)``.

        Raises:
            ValueError: ``delta`` is negative or not finite, or an unknown ``combine``.
        """
        a, o = self(delta)
        return decay_strengths(a, o, gamma=gamma, combine=combine)


def decay_and(effects, delta) -> torch.Tensor:
    r""":math:`\hat I^{\mathrm{AND}}(\delta) = M_{\mathrm{AND}}(\delta) \, I^*` (Thm 3.1),
    batched over the leading dimensions, in :math:`O(n \, 2^n)`.

    Args:
        effects: the AND effects :math:`I^*` of the final model, shape ``(..., 2**n)``.
        delta: the noise level :math:`\delta = \sigma^2 \ge 0`.

    Returns:
        :math:`\hat I^{\mathrm{AND}}(\delta)`, of the shape of ``effects``.

    Raises:
        ValueError: a last dimension that is not :math:`2^n`, non-finite effects, or a negative or
            non-finite ``delta``.
    """
    return DecayModel(and_effects=effects)(delta)[0]


def decay_or(effects, delta) -> torch.Tensor:
    r""":math:`\hat I^{\mathrm{OR}}(\delta) = M_{\mathrm{OR}}(\delta) \, I^*` (Thm 3.1), batched,
    in :math:`O(n \, 2^n)`; :math:`I^*_\emptyset` is ignored and :math:`\hat I_\emptyset = 0`.

    Args:
        effects: the OR effects :math:`I^*` of the final model, shape ``(..., 2**n)``.
        delta: the noise level :math:`\delta = \sigma^2 \ge 0`.

    Returns:
        :math:`\hat I^{\mathrm{OR}}(\delta)`, of the shape of ``effects``.

    Raises:
        ValueError: a last dimension that is not :math:`2^n`, non-finite effects, or a negative or
            non-finite ``delta``.
    """
    return DecayModel(or_effects=effects)(delta)[1]


def decay_strengths(
    and_hat=None, or_hat=None, *, gamma: float = 1.0, combine: str = "separate"
) -> Strengths:
    r"""The decay curve (eq. 9), averaged over the leading dimensions:

    .. math::

       A_{\mathrm{decay}}^{(m),+} = \gamma \sum_{\lvert S\rvert = m} \max(\hat I_S, 0), \qquad
       A_{\mathrm{decay}}^{(m),-} = \gamma \sum_{\lvert S\rvert = m} \min(\hat I_S, 0),
       \qquad S \neq \emptyset.

    Args:
        and_hat: the decayed AND effects :math:`\hat I^{\mathrm{AND}}`, shape ``(..., 2**n)``, or
            None.
        or_hat: the decayed OR effects :math:`\hat I^{\mathrm{OR}}`, of the same shape, or None.
        gamma: the scale :math:`\gamma`.
        combine: ``"separate"`` (default) counts every AND and every OR entry as one interaction;
            ``"elementwise"`` takes the max and the min of
            :math:`\hat I^{\mathrm{AND}}_S + \hat I^{\mathrm{OR}}_S` and 0 per :math:`S`. See the
            module docstring.

    Returns:
        :class:`~ibn.distributions.strength.Strengths` of shape ``(n+1,)``.

    Raises:
        ValueError: neither effects given, or an unknown ``combine``.
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
    r"""The AND self-retention :math:`M_{\mathrm{AND}}(\delta)[S, S]` for
    :math:`|S| = m = 0, \dots, n` (closed form, see the module docstring).

    With :math:`p = Q[1, 1]^2 \approx 0.864` the probability that a present player's eigen-bit is
    the small one,

    .. math::

       M[S, S] = \mathbb{E}_K \Bigl[\frac{\Lambda_\otimes[K]}{\Lambda_\otimes[K] + \delta}\Bigr]

    over :math:`K` with independent bits, :math:`P(k_i = 1) = p` if :math:`i \in S` and
    :math:`1 - p` otherwise. It decreases in :math:`\delta` and in :math:`m`.

    Args:
        n: the number of players.
        delta: the noise level :math:`\delta = \sigma^2 \ge 0`.

    Returns:
        float64 tensor ``(n+1,)``, one value per order :math:`m`.

    Raises:
        ValueError: :math:`n < 0`, or a negative or non-finite ``delta``.
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
