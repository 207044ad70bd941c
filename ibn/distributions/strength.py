r"""Per-order strengths of (generalizable / non-generalizable) interactions (Conventions page,
eq-salient, conventions-generalizable, conventions-distributions).

Conventions:

* Effects are tensors ``(..., 2**n)`` indexed by coalition mask (player i = bit i); the leading
  dimensions are samples (or anything else) and are kept unless a function averages them.
* A distribution over orders is a :class:`Strengths` pair ``(plus, minus)`` of tensors
  ``(..., n + 1)`` indexed by the order :math:`m = |S|`. Entry ``m = 0`` is always 0: the empty
  coalition (the bias :math:`b = I^{\mathrm{AND}}_\emptyset`, and
  :math:`I^{\mathrm{OR}}_\emptyset = 0`) is not an interaction and is excluded.
* ``plus`` is :math:`A^{(m),+} = \sum \max(I_S, 0) \ge 0` and ``minus`` is
  :math:`A^{(m),-} = \sum \min(I_S, 0) \le 0` (Conventions page, eq-order-strength), summed over
  the salient :math:`S` (:math:`|I_S| > \tau`, :math:`S \neq \emptyset`) of order :math:`m`, AND
  and OR counted together (each AND effect and each OR effect is one interaction). The only
  exception is :func:`emerged_strengths` (paper B eq. 19), whose ``minus`` is
  :math:`-\sum \min(\Delta I, 0) \ge 0`, as in the paper.
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
    r"""A distribution of interaction strength over orders :math:`m = 0, \dots, n`.

    ``plus[..., m]`` is :math:`A^{(m),+}` and ``minus[..., m]`` is :math:`A^{(m),-}`
    (:math:`\le 0`, except for the :math:`\Delta A` of eq. 19, see :func:`emerged_strengths`).

    Attributes:
        plus: :math:`A^{(m),+}`, shape ``(..., n+1)``.
        minus: :math:`A^{(m),-}`, of the shape of ``plus``.

    Raises:
        ValueError: ``plus`` and ``minus`` differ in shape.
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
        r"""The orders :math:`m = 0, \dots, n`."""
        return torch.arange(self.n + 1)

    def mean(self) -> "Strengths":
        r"""Average over every leading (sample) dimension: :math:`\mathbb{E}_x A^{(m),\pm}(x)`.

        Returns:
            The averaged curves, shape ``(n+1,)`` (``self`` when there is no leading dimension).
        """
        lead = tuple(range(self.plus.ndim - 1))
        if not lead:
            return self
        return Strengths(self.plus.mean(lead), self.minus.mean(lead))

    def scaled(self, factor) -> "Strengths":
        r"""Both curves divided by ``factor``.

        Args:
            factor: a number, or a tensor broadcastable against the curves (e.g. the normaliser
                :math:`Z`, Conventions page, eq-normaliser).

        Returns:
            The scaled curves.

        Raises:
            ValueError: ``factor`` is zero (anywhere).
        """
        factor = as_values(factor, name="factor")
        if torch.any(factor == 0):
            raise ValueError("cannot normalise strengths by a zero factor")
        return Strengths(self.plus / factor, self.minus / factor)

    def __add__(self, other: "Strengths") -> "Strengths":
        return Strengths(self.plus + other.plus, self.minus + other.minus)

    def __sub__(self, other: "Strengths") -> "Strengths":
        return Strengths(self.plus - other.plus, self.minus - other.minus)

    def total(self) -> torch.Tensor:
        r"""The per-order total magnitude :math:`|A^{(m),+}| + |A^{(m),-}|`.

        Returns:
            Tensor of shape ``(..., n+1)``.
        """
        return self.plus.abs() + self.minus.abs()


def effects_of(result) -> tuple[torch.Tensor, torch.Tensor]:
    """The effects of any object with attributes ``and_effects`` and ``or_effects``.

    Args:
        result: e.g. an :class:`ibn.and_or.AndOrResult`.

    Returns:
        ``(and_effects, or_effects)`` as float64 tensors.

    Raises:
        TypeError: ``result`` lacks one of the attributes, or its effects are not numeric.
    """
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
    r"""The salience threshold (Conventions page, eq-salient; paper B Table 1):

    .. math::

       \tau = r \cdot \mathbb{E}_x \lvert v(x_N) - v(x_\emptyset)\rvert , \qquad r = 0.02 \text{
          by default}.

    Args:
        values: the values :math:`v(x_T)`, shape ``(..., 2**n)``.
        noise_bound: the factor :math:`r`.
        per_sample: return one :math:`\tau` per sample, shape ``(...)`` (the lab code's convention),
            instead of the mean over all leading dimensions.

    Returns:
        :math:`\tau`, a scalar tensor, or one value per sample with ``per_sample``.

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``values`` is complex or not numeric.
    """
    v = as_values(values)
    n_players(v.shape[-1])
    gap = noise_bound * (v[..., -1] - v[..., 0]).abs()
    return gap if per_sample else gap.mean()


def salient(effects, tau) -> torch.Tensor:
    r"""The mask of the salient interactions :math:`|I_S| > \tau` with :math:`S \neq \emptyset`
    (Conventions page, eq-salient; the bias is excluded).

    Args:
        effects: the effects :math:`I_S`, shape ``(..., 2**n)``.
        tau: the threshold :math:`\tau \ge 0`: a scalar or one value per sample.

    Returns:
        Bool tensor of the shape of ``effects``.

    Raises:
        ValueError: a last dimension that is not :math:`2^n`, or a negative, non-finite or
            wrongly shaped ``tau``.
    """
    e = as_values(effects, name="effects")
    n_players(e.shape[-1])
    mask = e.abs() > _tau(tau, e.shape[:-1])
    mask[..., 0] = False
    return mask


def order_sums(x: torch.Tensor) -> torch.Tensor:
    r"""The sum over each order, :math:`\sum_{|S| = m} x_S` for :math:`m = 0, \dots, n`, batched.

    Args:
        x: a vector over coalitions, shape ``(..., 2**n)``.

    Returns:
        Tensor of shape ``(..., n+1)``.

    Raises:
        ValueError: the last dimension is not a power of two.
    """
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
    r"""The strength of each order, AND and OR together (Conventions page, eq-order-strength):

    .. math::

       A^{(m),+} = \sum_{S \text{ salient},\, \lvert S\rvert = m} \max(I_S, 0), \qquad
       A^{(m),-} = \sum_{S \text{ salient},\, \lvert S\rvert = m} \min(I_S, 0).

    Args:
        and_effects: the AND effects, shape ``(..., 2**n)``.
        or_effects: the OR effects, of the same shape.
        tau: the salience threshold :math:`\tau`: a scalar or one value per sample.
        and_weights: a weight for each AND interaction (same shape as the effects, bool or
            float); pass :math:`\hat\rho` to get :math:`A_{\mathrm{gen}}`.
        or_weights: the same for the OR interactions.
        average: return :math:`\mathbb{E}_x` over all leading dimensions instead of keeping them.

    Returns:
        :class:`Strengths` of shape ``(..., n+1)``, or ``(n+1,)`` with ``average``.

    Raises:
        ValueError: effects of different shapes, a last dimension that is not :math:`2^n`,
            non-finite effects, or a bad ``tau``.
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
    r"""The normaliser :math:`Z = \mathbb{E}_x \sum_{S \text{ salient},\, |S| = 1} |I_S|`, AND and
    OR (Conventions page, eq-normaliser; paper B K.3).

    Args:
        and_effects: the AND effects, shape ``(..., 2**n)``.
        or_effects: the OR effects, of the same shape.
        tau: the salience threshold :math:`\tau`: a scalar or one value per sample.

    Returns:
        :math:`Z`, a scalar tensor.

    Raises:
        ValueError: effects of different shapes, a last dimension that is not :math:`2^n`,
            non-finite effects, or a bad ``tau``.
    """
    a, o, _ = _pair(and_effects, or_effects)
    per = (
        order_sums(a.abs() * salient(a, tau))[..., 1] + order_sums(o.abs() * salient(o, tau))[..., 1]
    )
    return per.mean()


def transfer(effects, effects_test, tau) -> torch.Tensor:
    r"""Whether each interaction transfers to one baseline DNN (Conventions page, eq-rho):

    .. math::

       \rho_S = 1\bigl(\lvert I^{\mathrm{test}}_S\rvert > \tau \text{ and }
       I_S \, I^{\mathrm{test}}_S > 0\bigr).

    Apply to AND and OR effects separately.

    Args:
        effects: the effects :math:`I_S`, shape ``(..., 2**n)``.
        effects_test: the baseline model's effects :math:`I^{\mathrm{test}}_S` on the same samples
            and players, of the same shape.
        tau: the salience threshold :math:`\tau`: a scalar or one value per sample.

    Returns:
        :math:`\rho_S` as a bool tensor; :math:`\rho_\emptyset` is False.

    Raises:
        ValueError: effects of different shapes, a last dimension that is not :math:`2^n`, or a bad
            ``tau``.
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
    r""":math:`\hat\rho_S`: the OR over the :math:`k` baseline DNNs of :math:`\rho_S` (Conventions
    page, eq-rho-hat).

    Args:
        effects: the effects :math:`I_S`, shape ``(..., 2**n)``.
        baselines_effects: a sequence of the baseline models' effects, each of the shape of
            ``effects``.
        tau: the salience threshold :math:`\tau`: a scalar or one value per sample.

    Returns:
        :math:`\hat\rho_S` as a bool tensor.

    Raises:
        ValueError: no baselines, or a bad argument (see :func:`transfer`).
    """
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
    r""":math:`(A, A_{\mathrm{gen}}, A_{\mathrm{non}})` given :math:`k` baselines (Conventions
    page, eq-gen-non).

    :math:`A_{\mathrm{gen}}` weights each salient interaction by :math:`\hat\rho_S` (AND and OR
    separately); :math:`A_{\mathrm{non}} = A - A_{\mathrm{gen}}`.

    Args:
        and_effects: the AND effects, shape ``(..., 2**n)``.
        or_effects: the OR effects, of the same shape.
        baselines: a sequence of ``(and_effects_test, or_effects_test)`` pairs, or of objects with
            ``.and_effects``/``.or_effects``, computed by the baseline DNNs on the same samples.
        tau: the salience threshold :math:`\tau`: a scalar or one value per sample.
        average: average over all leading dimensions.

    Returns:
        The three :class:`Strengths` ``(total, gen, non)``.

    Raises:
        ValueError: no baselines, effects of different shapes, a last dimension that is not
            :math:`2^n`, non-finite effects, or a bad ``tau``.
        TypeError: a baseline that is neither a pair nor has ``.and_effects``/``.or_effects``.
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
    r"""Newly emerged interactions under noise (paper B eq. 19; Conventions page, eq-emerged).

    With :math:`\Delta I = I - I_{\mathrm{noise}}` (AND and OR separately),

    .. math::

       \Delta A^{(m),+} = \sum_{\lvert S\rvert = m} \max(\Delta I_S, 0), \qquad
       \Delta A^{(m),-} = -\sum_{\lvert S\rvert = m} \min(\Delta I_S, 0),

    so **both are** :math:`\ge 0`, as in eq. 19.

    Args:
        and_effects: the AND effects :math:`I` of the clean model, shape ``(..., 2**n)``.
        or_effects: its OR effects, of the same shape.
        and_effects_noise: the AND effects :math:`I_{\mathrm{noise}}` under noise, of the same
            shape.
        or_effects_noise: the OR effects under noise, of the same shape.
        tau: count only :math:`|\Delta I_S| > \tau` (default: every :math:`S \neq \emptyset`).
        average: average over all leading dimensions.

    Returns:
        :class:`Strengths` :math:`(\Delta A^{(m),+}, \Delta A^{(m),-})`.

    Raises:
        ValueError: effects of different shapes, a last dimension that is not :math:`2^n`,
            non-finite effects, or a bad ``tau``.
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
    r"""The strength-weighted mean order, per leading index:

    .. math::

       \frac{\sum_m m \, (A^{(m),+} + \lvert A^{(m),-}\rvert )}{\sum_m (A^{(m),+} + \lvert
          A^{(m),-}\rvert )}.

    A low value (:math:`\ll n/2`) indicates a decay-shaped distribution, about :math:`n/2` a
    spindle.

    Args:
        s: the distribution.

    Returns:
        The mean order, shape ``(...)``; NaN where the distribution is empty.
    """
    w = s.total()
    m = torch.arange(s.n + 1, dtype=w.dtype, device=w.device)
    return (w * m).sum(-1) / w.sum(-1)


def peak_order(s: Strengths) -> torch.Tensor:
    r"""The order :math:`m \ge 1` with the largest :math:`A^{(m),+} + |A^{(m),-}|`.

    Args:
        s: the distribution.

    Returns:
        int64 tensor, one order per leading index.
    """
    return s.total()[..., 1:].argmax(-1) + 1
