"""Per-order strengths of (generalizable / non-generalizable) interactions (Conventions page,
eq-salient, conventions-generalizable, conventions-distributions).

Conventions
-----------
* Effects are tensors ``(..., 2**n)`` indexed by coalition mask (player i = bit i); the leading
  dimensions are samples (or anything else) and are kept unless a function averages them.
* A distribution over orders is a :class:`Strengths` pair ``(plus, minus)`` of tensors
  ``(..., n + 1)`` indexed by the order m = |S|. Entry ``m = 0`` is always 0: the empty
  coalition (the bias b = I^AND_∅, and I^OR_∅ = 0) is not an interaction and is excluded.
* ``plus`` = A^(m),+ = Σ max(I_S, 0) ≥ 0 and ``minus`` = A^(m),− = Σ min(I_S, 0) ≤ 0
  (Conventions page, eq-order-strength), summed over the salient S (|I_S| > τ, S ≠ ∅) of order m,
  AND and OR counted together (each AND effect and each OR effect is one interaction). The only
  exception is :func:`emerged_strengths` (paper B eq. 19), whose ``minus`` is −Σ min(ΔI, 0) ≥ 0, as
  in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ibn.transforms import as_values, n_players, orders

__all__ = [
    "Strengths",
    "effects_of",
    "tau_from_values",
    "salient",
    "order_sums",
    "strengths",
    "normalizer",
    "transfer",
    "transfer_any",
    "generalizable_strengths",
    "emerged_strengths",
    "mean_order",
    "peak_order",
]


@dataclass(frozen=True)
class Strengths:
    """A distribution of interaction strength over orders: ``plus``/``minus`` of shape (..., n+1).

    ``plus[..., m]`` = A^(m),+ and ``minus[..., m]`` = A^(m),− (≤ 0, except for eq. 19's ΔA).
    """

    plus: torch.Tensor
    minus: torch.Tensor

    def __post_init__(self) -> None:
        if self.plus.shape != self.minus.shape:
            raise ValueError(
                f"plus and minus must have the same shape, got {tuple(self.plus.shape)} and "
                f"{tuple(self.minus.shape)}"
            )

    @property
    def n(self) -> int:
        """The number of players n (the orders are 0..n)."""
        return self.plus.shape[-1] - 1

    @property
    def orders(self) -> torch.Tensor:
        """The orders m = 0..n."""
        return torch.arange(self.n + 1)

    def mean(self) -> "Strengths":
        """Average over every leading (sample) dimension: E_x A^(m),±(x)."""
        lead = tuple(range(self.plus.ndim - 1))
        if not lead:
            return self
        return Strengths(self.plus.mean(lead), self.minus.mean(lead))

    def scaled(self, factor) -> "Strengths":
        """Both curves divided by ``factor`` (e.g. the normaliser Z, Conventions page,
        eq-normaliser)."""
        factor = as_values(factor, name="factor")
        if torch.any(factor == 0):
            raise ValueError("cannot normalise strengths by a zero factor")
        return Strengths(self.plus / factor, self.minus / factor)

    def __add__(self, other: "Strengths") -> "Strengths":
        return Strengths(self.plus + other.plus, self.minus + other.minus)

    def __sub__(self, other: "Strengths") -> "Strengths":
        return Strengths(self.plus - other.plus, self.minus - other.minus)

    def total(self) -> torch.Tensor:
        """Per-order total magnitude |A^(m),+| + |A^(m),−| (shape (..., n+1))."""
        return self.plus.abs() + self.minus.abs()


def effects_of(result) -> tuple[torch.Tensor, torch.Tensor]:
    """``(and_effects, or_effects)`` of any object with those attributes (e.g. an AND-OR result)."""
    try:
        return as_values(result.and_effects, name="and_effects"), as_values(
            result.or_effects, name="or_effects"
        )
    except AttributeError:
        raise TypeError(
            f"expected an object with .and_effects and .or_effects, got {type(result).__name__}"
        ) from None


def _pair(and_effects, or_effects) -> tuple[torch.Tensor, torch.Tensor, int]:
    a = as_values(and_effects, name="and_effects")
    o = as_values(or_effects, name="or_effects")
    if a.shape != o.shape:
        raise ValueError(
            f"and_effects and or_effects must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(o.shape)}"
        )
    if a.ndim == 0:
        raise ValueError("effects must have a last dimension of length 2**n")
    n = n_players(a.shape[-1])
    if not (torch.isfinite(a).all() and torch.isfinite(o).all()):
        raise ValueError("effects contain NaN or infinite entries")
    return a, o, n


def _tau(tau, lead: torch.Size) -> torch.Tensor:
    """τ as a tensor broadcastable against (..., 2^n): a scalar or one value per sample."""
    t = as_values(tau, name="tau")
    if torch.any(t < 0) or not torch.isfinite(t).all():
        raise ValueError(f"tau must be finite and non-negative, got {tau}")
    if t.ndim > len(lead) or (t.ndim and t.shape != lead[len(lead) - t.ndim :]):
        raise ValueError(
            f"tau must be a scalar or match the leading (sample) dims {tuple(lead)}, "
            f"got shape {tuple(t.shape)}"
        )
    return t.unsqueeze(-1)


def tau_from_values(values, noise_bound: float = 0.02, *, per_sample: bool = False) -> torch.Tensor:
    """Salience threshold τ = 0.02 · E_x |v(x_N) − v(x_∅)| (Conventions page, eq-salient;
    paper B Table 1).

    ``values`` has shape (..., 2**n); the mean runs over all leading dims unless ``per_sample``,
    in which case one τ per sample (shape (...)) is returned (the lab code's convention).
    """
    v = as_values(values)
    n_players(v.shape[-1])
    gap = noise_bound * (v[..., -1] - v[..., 0]).abs()
    return gap if per_sample else gap.mean()


def salient(effects, tau) -> torch.Tensor:
    """Bool mask of salient interactions |I_S| > τ with S ≠ ∅ (Conventions page, eq-salient; the
    bias is excluded)."""
    e = as_values(effects, name="effects")
    n_players(e.shape[-1])
    mask = e.abs() > _tau(tau, e.shape[:-1])
    mask[..., 0] = False
    return mask


def order_sums(x: torch.Tensor) -> torch.Tensor:
    """Σ_{|S|=m} x_S for m = 0..n: (..., 2**n) → (..., n+1), batched."""
    x = as_values(x)
    n = n_players(x.shape[-1])
    out = torch.zeros(*x.shape[:-1], n + 1, dtype=x.dtype, device=x.device)
    return out.index_add_(-1, orders(n, device=x.device), x)


def _signed(x: torch.Tensor) -> Strengths:
    """Σ_{|S|=m} max(x_S, 0) and Σ_{|S|=m} min(x_S, 0), the ∅ entry dropped."""
    x = x.clone()
    x[..., 0] = 0.0
    return Strengths(order_sums(x.clamp(min=0.0)), order_sums(x.clamp(max=0.0)))


def strengths(
    and_effects,
    or_effects,
    tau,
    *,
    and_weights=None,
    or_weights=None,
    average: bool = False,
) -> Strengths:
    """A^(m),± = Σ_{salient S, |S|=m} max/min(I_S, 0), AND and OR together (Conventions page,
    eq-order-strength).

    ``tau`` is a scalar or one threshold per sample. ``and_weights`` / ``or_weights`` (same shape
    as the effects, bool or float) weight each interaction — pass ρ̂ to get A_gen. With
    ``average`` the result is E_x over all leading dims, else it keeps them: (..., n+1).
    """
    a, o, _ = _pair(and_effects, or_effects)
    wa = salient(a, tau).to(a.dtype)
    wo = salient(o, tau).to(o.dtype)
    if and_weights is not None:
        wa = wa * as_values(and_weights, name="and_weights").broadcast_to(a.shape)
    if or_weights is not None:
        wo = wo * as_values(or_weights, name="or_weights").broadcast_to(o.shape)
    result = _signed(a * wa) + _signed(o * wo)
    return result.mean() if average else result


def normalizer(and_effects, or_effects, tau) -> torch.Tensor:
    """Z = E_x Σ_{salient S, |S|=1} |I_S|, AND and OR (Conventions page, eq-normaliser;
    paper B K.3); a scalar."""
    a, o, _ = _pair(and_effects, or_effects)
    per = (
        order_sums(a.abs() * salient(a, tau))[..., 1] + order_sums(o.abs() * salient(o, tau))[..., 1]
    )
    return per.mean()


def transfer(effects, effects_test, tau) -> torch.Tensor:
    """ρ_S = 1(|I_S^test| > τ and I_S · I_S^test > 0) for one baseline DNN (Conventions page,
    eq-rho).

    Apply to AND and OR effects separately. ``effects_test`` are the baseline model's effects on
    the same samples and players (same shape). Returns a bool tensor; ρ_∅ = False.
    """
    e = as_values(effects, name="effects")
    t = as_values(effects_test, name="effects_test")
    if e.shape != t.shape:
        raise ValueError(
            f"effects and effects_test must have the same shape, got {tuple(e.shape)} and "
            f"{tuple(t.shape)}"
        )
    rho = salient(t, tau) & (e * t > 0)
    return rho


def transfer_any(effects, baselines_effects: Sequence, tau) -> torch.Tensor:
    """ρ̂_S = OR over the k baseline DNNs of ρ_S (Conventions page, eq-rho-hat);
    ``baselines_effects`` is a sequence."""
    if len(baselines_effects) == 0:
        raise ValueError("need at least one baseline DNN's effects to compute ρ̂")
    rho = transfer(effects, baselines_effects[0], tau)
    for other in baselines_effects[1:]:
        rho = rho | transfer(effects, other, tau)
    return rho


def generalizable_strengths(
    and_effects,
    or_effects,
    baselines: Sequence,
    tau,
    *,
    average: bool = True,
) -> tuple[Strengths, Strengths, Strengths]:
    """(A, A_gen, A_non) given k baselines (Conventions page, eq-gen-non).

    ``baselines`` is a sequence of ``(and_effects_test, or_effects_test)`` pairs, or of objects
    with ``.and_effects``/``.or_effects``, computed by the baseline DNNs on the same samples.
    A_gen weights each salient interaction by ρ̂_S (AND and OR separately); A_non = A − A_gen.
    """
    pairs = [b if isinstance(b, (tuple, list)) else effects_of(b) for b in baselines]
    rho_and = transfer_any(and_effects, [p[0] for p in pairs], tau)
    rho_or = transfer_any(or_effects, [p[1] for p in pairs], tau)
    total = strengths(and_effects, or_effects, tau, average=average)
    gen = strengths(
        and_effects, or_effects, tau, and_weights=rho_and, or_weights=rho_or, average=average
    )
    return total, gen, total - gen


def emerged_strengths(
    and_effects,
    or_effects,
    and_effects_noise,
    or_effects_noise,
    *,
    tau=None,
    average: bool = True,
) -> Strengths:
    """Newly emerged interactions under noise (paper B eq. 19; Conventions page, eq-emerged).

    ΔI = I − I_noise (AND and OR separately); ΔA^(m),+ = Σ_{|S|=m} max(ΔI_S, 0) and
    ΔA^(m),− = −Σ_{|S|=m} min(ΔI_S, 0) (so **both are ≥ 0**, as in eq. 19). With ``tau`` only
    |ΔI_S| > τ are counted (default: every S ≠ ∅).
    """
    a, o, _ = _pair(and_effects, or_effects)
    an, on, _ = _pair(and_effects_noise, or_effects_noise)
    if a.shape != an.shape:
        raise ValueError(
            f"clean and noisy effects must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(an.shape)}"
        )
    da, do = a - an, o - on
    if tau is not None:
        da = da * salient(da, tau)
        do = do * salient(do, tau)
    s = _signed(da) + _signed(do)
    out = Strengths(s.plus, -s.minus)
    return out.mean() if average else out


def mean_order(s: Strengths) -> torch.Tensor:
    """Strength-weighted mean order Σ_m m·(A⁺ + |A⁻|) / Σ_m (A⁺ + |A⁻|), per leading index.

    A low value (≪ n/2) indicates a decay-shaped distribution, ≈ n/2 a spindle. NaN if empty.
    """
    w = s.total()
    m = torch.arange(s.n + 1, dtype=w.dtype, device=w.device)
    return (w * m).sum(-1) / w.sum(-1)


def peak_order(s: Strengths) -> torch.Tensor:
    """The order m ≥ 1 with the largest A⁺ + |A⁻| (int64, per leading index)."""
    return s.total()[..., 1:].argmax(-1) + 1
