r"""Order-steering losses (paper A eq. 14; Deng et al. ICLR 2022 reference code;
Conventions page, eq-steering-delta-u to eq-steering-suppress).

Per sample draw one random permutation of the :math:`n` players; :math:`S_2` = the first
:math:`\lfloor r_2 n \rfloor`, :math:`S_1` = the first :math:`\lfloor r_1 n \rfloor`
(:math:`S_1 \subset S_2`); the others sit at the baseline. On the logit vector

.. math::

   \Delta u = f(x_{S_2}) - \frac{r_2}{r_1} f(x_{S_1})

(factor 1, and :math:`x_{S_1}` all-baseline, when :math:`r_1 = 0`), boost the orders
:math:`\approx [r_1 n, r_2 n]` with
:math:`L = \mathrm{CE}(f(x), y) + \lambda\, \mathrm{CE}(\Delta u, y)` or suppress them with
:math:`L = \mathrm{CE}(f(x), y) - \lambda\, H(\mathrm{softmax}(\Delta u))`.

Presets (Conventions page, conventions-multiorder): high-order = suppress (0, 0.5); mid-order =
boost (0.3, 0.7); low-order = suppress (0.7, 1.0).

Players: a masker with ``apply(model, xb, masks)`` (``PatchMasker``, ``FeatureMapMasker``,
``TabularMasker``), or a baseline value/tensor, in which case images (B, C, H, W) are cut into
a ``grid``×``grid`` pixel grid (the reference code: 16×16 cells of the input, baseline 0) and
vectors (B, d) use their d features. The permutations come from ``generator`` or, by default,
torch's global RNG (so :func:`ibn.train.train` replays them exactly on resume).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..maskers import PatchMasker, TabularMasker

__all__ = ["PRESETS", "delta_u", "order_loss", "OrderSteeringLoss"]

PRESETS: dict[str, tuple[str, float, float]] = {
    "high": ("suppress", 0.0, 0.5),
    "mid": ("boost", 0.3, 0.7),
    "low": ("suppress", 0.7, 1.0),
}


def _check(r1: float, r2: float, mode: str | None = None) -> None:
    if not 0.0 <= r1 < r2 <= 1.0:
        raise ValueError(f"need 0 <= r1 < r2 <= 1, got r1={r1}, r2={r2}")
    if mode is not None and mode not in ("boost", "suppress"):
        raise ValueError(f"mode must be 'boost' or 'suppress', got {mode!r}")


def _masker_for(x: torch.Tensor, masker_or_baseline: Any, grid: int) -> Any:
    if hasattr(masker_or_baseline, "apply") and hasattr(masker_or_baseline, "n_players"):
        return masker_or_baseline
    base = masker_or_baseline
    if x.ndim == 4:
        return PatchMasker(grid=grid, baseline=base)
    if x.ndim == 2:
        b = torch.as_tensor(base, dtype=x.dtype).expand(x.shape[1]).clone()
        return TabularMasker(b)
    raise ValueError(f"cannot infer players for inputs of shape {tuple(x.shape)}; pass a masker")


def delta_u(model: nn.Module, x: torch.Tensor, *, r1: float, r2: float,
            masker_or_baseline: Any = 0.0, grid: int = 16,
            generator: torch.Generator | None = None) -> torch.Tensor:
    r""":math:`\Delta u = f(x_{S_2}) - \frac{r_2}{r_1} f(x_{S_1})` for a batch, one random
    permutation of the players per sample (Conventions page, eq-steering-delta-u).

    :math:`S_2` is the first :math:`\lfloor r_2 n \rfloor` players of the permutation and
    :math:`S_1 \subset S_2` the first :math:`\lfloor r_1 n \rfloor` (computed as
    ``int(r * n + 1e-9)``); the factor is 1 when :math:`r_1 = 0`. The two masked batches go
    through the model in separate forward passes, so a BatchNorm layer in training mode
    normalises each by its own statistics. Gradients flow to the model's parameters.

    Args:
        model: the classifier :math:`f`, returning logits (B, C).
        x: the input batch (B, ...), e.g. images (B, C, H, W) or rows (B, d).
        r1: the ratio :math:`r_1` of :math:`S_1`, with :math:`0 \le r_1 < r_2`.
        r2: the ratio :math:`r_2` of :math:`S_2`, with :math:`r_2 \le 1`.
        masker_or_baseline: the players: a masker with ``apply(model, xb, masks)`` and
            ``n_players`` (``PatchMasker``, ``FeatureMapMasker``, ``TabularMasker``), or a
            baseline (a number or a tensor) for the default players: for images (B, C, H, W)
            a ``grid`` × ``grid`` :class:`ibn.maskers.PatchMasker` with that baseline, for
            vectors (B, d) the d features (:class:`ibn.maskers.TabularMasker`). Default 0.
        grid: the side of the pixel grid of the default image players (default 16, the
            reference's 16×16 cells); unused with a masker or for vectors.
        generator: the torch generator of the permutations; None = torch's global RNG.

    Returns:
        :math:`\Delta u`, shape (B, C).

    Raises:
        ValueError: not :math:`0 \le r_1 < r_2 \le 1`, or no default players for the shape of
            ``x`` (pass a masker).
    """
    _check(r1, r2)
    masker = _masker_for(x, masker_or_baseline, grid)
    b, n = x.shape[0], masker.n_players
    n1, n2 = int(r1 * n + 1e-9), int(r2 * n + 1e-9)
    rank = torch.argsort(torch.argsort(torch.rand(b, n, generator=generator), 1), 1)
    # two forward passes, one per masked batch: a BatchNorm layer in training mode then
    # normalises each batch by its own statistics, as a plain training step would
    f2 = masker.apply(model, x, (rank < n2).to(x.device))
    f1 = masker.apply(model, x, (rank < n1).to(x.device))
    coef = r2 / r1 if r1 > 0 else 1.0
    return f2 - coef * f1


def _term(du: torch.Tensor, y: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "boost":
        return F.cross_entropy(du, y)
    p = F.softmax(du, 1)
    entropy = -(p * F.log_softmax(du, 1)).sum(1).mean()
    return -entropy


def order_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, r1: float, r2: float,
               mode: str = "boost", lam: float = 1.0, masker_or_baseline: Any = 0.0,
               grid: int = 16, logits: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    r"""The full order-steering loss (Conventions page, eq-steering-boost,
    eq-steering-suppress):
    :math:`\mathrm{CE}(f(x), y) + \lambda\, \mathrm{CE}(\Delta u, y)` (boost) or
    :math:`\mathrm{CE}(f(x), y) - \lambda\, H(\mathrm{softmax}\, \Delta u)` (suppress),
    with :math:`\Delta u` of :func:`delta_u` (eq-steering-delta-u) and the cross-entropies and
    entropy averaged over the batch.

    Args:
        model: the classifier :math:`f`, returning logits (B, C).
        x: the input batch (B, ...).
        y: the int64 labels (B,).
        r1: the ratio :math:`r_1` of the smaller coalition, :math:`0 \le r_1 < r_2`.
        r2: the ratio :math:`r_2` of the larger coalition, :math:`r_2 \le 1`.
        mode: ``"boost"`` (boost the orders :math:`\approx [r_1 n, r_2 n]`) or ``"suppress"``.
        lam: the weight :math:`\lambda` of the steering term (default 1).
        masker_or_baseline: the players: a masker with ``apply(model, xb, masks)`` and
            ``n_players`` (``PatchMasker``, ``FeatureMapMasker``, ``TabularMasker``), or a
            baseline (a number or a tensor) for the default players: for images (B, C, H, W)
            a ``grid`` × ``grid`` :class:`ibn.maskers.PatchMasker` with that baseline, for
            vectors (B, d) the d features (:class:`ibn.maskers.TabularMasker`). Default 0.
        grid: the side of the pixel grid of the default image players (default 16, the
            reference's 16×16 cells); unused with a masker or for vectors.
        logits: :math:`f(x)` (B, C) if already computed; None = run the model on ``x``.
        generator: the torch generator of the permutations; None = torch's global RNG.

    Returns:
        The scalar loss.

    Raises:
        ValueError: not :math:`0 \le r_1 < r_2 \le 1`, or an unknown ``mode``.
    """
    _check(r1, r2, mode)
    if logits is None:
        logits = model(x)
    du = delta_u(model, x, r1=r1, r2=r2, masker_or_baseline=masker_or_baseline, grid=grid,
                 generator=generator)
    return F.cross_entropy(logits, y) + lam * _term(du, y, mode)


class OrderSteeringLoss:
    r"""The steering term alone, as an ``extra_loss(model, x, y, logits)`` for
    :func:`ibn.train.train`, whose main loss is already :math:`\mathrm{CE}(f(x), y)`: the call
    returns :math:`\lambda\, \mathrm{CE}(\Delta u, y)` (boost) or
    :math:`-\lambda\, H(\mathrm{softmax}\, \Delta u)` (suppress) (Conventions page,
    eq-steering-boost, eq-steering-suppress), with the permutations drawn from torch's global
    RNG (so a resumed run replays them). ``OrderSteeringLoss.preset("high")`` etc. give the
    reference presets (Conventions page, conventions-multiorder).

    Args:
        r1: the ratio :math:`r_1` of the smaller coalition, :math:`0 \le r_1 < r_2`.
        r2: the ratio :math:`r_2` of the larger coalition, :math:`r_2 \le 1`.
        mode: ``"boost"`` or ``"suppress"``.
        lam: the weight :math:`\lambda` (default 1).
        masker_or_baseline: the players: a masker with ``apply(model, xb, masks)`` and
            ``n_players`` (``PatchMasker``, ``FeatureMapMasker``, ``TabularMasker``), or a
            baseline (a number or a tensor) for the default players: for images (B, C, H, W)
            a ``grid`` × ``grid`` :class:`ibn.maskers.PatchMasker` with that baseline, for
            vectors (B, d) the d features (:class:`ibn.maskers.TabularMasker`). Default 0.
        grid: the side of the pixel grid of the default image players (default 16, the
            reference's 16×16 cells); unused with a masker or for vectors.

    Raises:
        ValueError: not :math:`0 \le r_1 < r_2 \le 1`, or an unknown ``mode``.
    """

    def __init__(self, r1: float, r2: float, mode: str = "boost", lam: float = 1.0,
                 masker_or_baseline: Any = 0.0, grid: int = 16) -> None:
        _check(r1, r2, mode)
        self.r1, self.r2, self.mode, self.lam = r1, r2, mode, lam
        self.masker_or_baseline, self.grid = masker_or_baseline, grid

    @classmethod
    def preset(cls, name: str, lam: float = 1.0, **kw: Any) -> "OrderSteeringLoss":
        r"""A loss with one of the reference presets (``PRESETS``; Conventions page,
        conventions-multiorder).

        Args:
            name: ``"high"`` (suppress, :math:`(r_1, r_2) = (0, 0.5)`), ``"mid"`` (boost,
                (0.3, 0.7)) or ``"low"`` (suppress, (0.7, 1.0)): the orders the trained model
                is steered towards.
            lam: the weight :math:`\lambda` (default 1).
            **kw: ``masker_or_baseline`` and ``grid``, as for the constructor.

        Returns:
            The :class:`OrderSteeringLoss`.

        Raises:
            ValueError: an unknown preset name.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        mode, r1, r2 = PRESETS[name]
        return cls(r1, r2, mode, lam, **kw)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 logits: torch.Tensor | None = None) -> torch.Tensor:
        du = delta_u(model, x, r1=self.r1, r2=self.r2,
                     masker_or_baseline=self.masker_or_baseline, grid=self.grid)
        return self.lam * _term(du, y, self.mode)

    def describe(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (recorded in the training configuration)."""
        m = self.masker_or_baseline
        return {"loss": "order_steering", "r1": self.r1, "r2": self.r2, "mode": self.mode,
                "lam": self.lam, "grid": self.grid,
                "players": m.describe() if hasattr(m, "describe") else {"baseline": float(m)
                                                                        if isinstance(m, (int, float)) else "tensor"}}
