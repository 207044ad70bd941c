r"""Multi-order interactions :math:`I^{(m)}(i, j)` and their relative strength :math:`J^{(m)}`
(paper A; Conventions page, conventions-multiorder).

With

.. math::

   \Delta v(i, j, S) = v(S \cup \{i, j\}) - v(S \cup \{i\}) - v(S \cup \{j\}) + v(S),

the order-:math:`m` interaction of the pair is (Deng et al., ICLR 2022, eq. 1)

.. math::

   I^{(m)}(i, j) = \mathbb{E}_{S \subseteq N \setminus \{i, j\},\, \lvert S\rvert = m} \,
   \Delta v(i, j, S), \qquad m = 0, \dots, n-2.

- :func:`exact` gives every pair and order from the :math:`2^n` values in
  :math:`O(n^2 \cdot 2^n)`.
- :func:`sample` follows the reference sampling protocol for large :math:`n` (grid neighbours,
  random contexts, absolute value after averaging contexts).
- :func:`strength` gives :math:`S^{(m)} = \mathbb{E}_{i<j} |I^{(m)}(i, j)|`, and
  :func:`relative_strength` gives
  :math:`J^{(m)} = \mathbb{E}_x S^{(m)}(x) / \mathbb{E}_{m'} \mathbb{E}_x S^{(m')}(x)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .._checks import check_flag, check_number
from .._progress import tqdm
from ..transforms import as_values, check_values, mobius, n_players, orders as _popcounts

__all__ = [
    "REFERENCE_RATIOS",
    "SampledInteractions",
    "exact",
    "from_effects",
    "order_weights",
    "reference_orders",
    "grid_pairs",
    "sample",
    "strength",
    "relative_strength",
]

#: Order ratios :math:`r` of the reference protocol; order :math:`m = \lfloor (n-2) \, r \rfloor`
#: (Conventions page, eq-reference-orders).
REFERENCE_RATIOS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def _size_blocks(n: int, device) -> list[torch.Tensor]:
    """Coalition indices grouped by size s = 0..n (each block sorted)."""
    sizes = _popcounts(n, device=device)
    perm = torch.argsort(sizes, stable=True)
    counts = torch.bincount(sizes, minlength=n + 1).tolist()
    return list(torch.split(perm, counts))


def _pair_sums(x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """G[..., s, i, j] = Σ_{|T|=s, i,j∈T} x_T and Z[..., s] = Σ_{|T|=s} x_T, in O(n²·2^n).

    The coalitions of each size form one block, so the work is Σ_s n²·C(n,s) = n²·2^n.
    G[..., s, i, i] = Σ_{|T|=s, i∈T} x_T.
    """
    lead = x.shape[:-1]
    G = x.new_zeros(*lead, n + 1, n, n)
    Z = x.new_zeros(*lead, n + 1)
    bits = torch.arange(n, device=x.device)
    for s, idx in enumerate(_size_blocks(n, x.device)):
        member = ((idx.unsqueeze(-1) >> bits) & 1).to(x.dtype)  # (c, n)
        block = x[..., idx]  # (..., c)
        Z[..., s] = block.sum(-1)
        if s:
            G[..., s, :, :] = (member.T * block.unsqueeze(-2)) @ member
    return G, Z


def _symmetric(out: torch.Tensor) -> torch.Tensor:
    """Exactly symmetric in (i, j) (matmul round-off is not), zero diagonal."""
    out = (out + out.transpose(-1, -2)) / 2
    out.diagonal(dim1=-2, dim2=-1).zero_()
    return out


def _check_pairs_n(n: int) -> None:
    if n < 2:
        raise ValueError(f"multi-order interactions need at least n = 2 players (a pair), got n = {n}")


def exact(values, *, method: str = "direct") -> torch.Tensor:
    r"""All multi-order interactions :math:`I^{(m)}(i, j)`, :math:`m = 0, \dots, n-2`, from the
    :math:`2^n` values (Conventions page, eq-multiorder).

    Each order is computed straight from the values. With, per coalition size :math:`s`,

    .. math::

       G_s[i, j] = \sum_{\lvert T\rvert = s,\; i, j \in T} v_T, \qquad R_s[i] = G_s[i, i],
       \qquad Z_s = \sum_{\lvert T\rvert = s} v_T,

    the sum over the contexts of order :math:`m` is

    .. math::

       \sum_{\lvert S\rvert = m,\; i, j \notin S} \Delta v(i, j, S)
       = G_{m+2}[i, j] - \bigl(R_{m+1}[i] + R_{m+1}[j] - 2 G_{m+1}[i, j]\bigr)
       + \bigl(Z_m - R_m[i] - R_m[j] + G_m[i, j]\bigr),

    divided by :math:`\binom{n-2}{m}`, in :math:`O(n^2 \cdot 2^n)`. This equals the Harsanyi
    identity of :func:`from_effects`,

    .. math::

       I^{(m)}(i, j) = \sum_{\lvert L\rvert \le m} \frac{\binom{n-2-\lvert L\rvert }{m-\lvert
          L\rvert }}{\binom{n-2}{m}} \,
       I^{\mathrm{AND}}_{L \cup \{i, j\}},

    but avoids the round-off that the Möbius transform amplifies for large :math:`n` (its
    coefficients grow like :math:`2^n`: at :math:`n = 18` on a random game the identity is off by up
    to 6e-10, the direct route by 3e-16).

    Args:
        values: tensor ``(..., 2**n)`` of :math:`v(x_T)` indexed by the coalition bitmask (bit i =
            player i).
        method: ``"direct"`` (default, above) or ``"harsanyi"`` (``from_effects(mobius(values))``,
            the Harsanyi identity, Conventions page, eq-multiorder-harsanyi); both
            :math:`O(n^2 \cdot 2^n)` and equal up to round-off.

    Returns:
        float64 tensor ``(..., n-1, n, n)``: entry ``[..., m, i, j]`` is
        :math:`I^{(m)}(i, j) = \mathbb{E}_{|S| = m} \Delta v(i, j, S)`, symmetric in
        :math:`(i, j)`, zero on the diagonal.

    Raises:
        ValueError: an unknown ``method``, fewer than 2 players, a last dimension that is not
            :math:`2^n`, or a non-finite value.
        TypeError: ``values`` is complex or not numeric.
    """
    if method not in ("direct", "harsanyi"):
        raise ValueError(f"method must be 'direct' or 'harsanyi', got {method!r}")
    if method == "harsanyi":
        v, n = check_values(values, min_players=0)
        _check_pairs_n(n)
        return from_effects(mobius(v))
    v, n = check_values(values, min_players=0)
    _check_pairs_n(n)
    G, Z = _pair_sums(v, n)
    R = torch.diagonal(G, dim1=-2, dim2=-1)  # (..., n+1, n)
    m = torch.arange(n - 1, device=v.device)
    Ri, Rj = R.unsqueeze(-1), R.unsqueeze(-2)
    total = (
        G[..., m + 2, :, :]
        - (Ri[..., m + 1, :, :] + Rj[..., m + 1, :, :] - 2 * G[..., m + 1, :, :])
        + (Z[..., m, None, None] - Ri[..., m, :, :] - Rj[..., m, :, :] + G[..., m, :, :])
    )
    contexts = torch.tensor([math.comb(n - 2, k) for k in range(n - 1)], dtype=v.dtype, device=v.device)
    return _symmetric(total / contexts[:, None, None])


def order_weights(n: int, dtype=torch.float64, device=None) -> torch.Tensor:
    r"""The weights of the Harsanyi identity (Conventions page, eq-multiorder-harsanyi):

    .. math::

       W[m, l] = \binom{n-2-l}{m-l} \Big/ \binom{n-2}{m} \quad (l \le m),
       \qquad W[m, l] = 0 \quad (l > m),

    for :math:`m, l = 0, \dots, n-2`.

    Args:
        n: the number of players.
        dtype: the dtype of the result.
        device: the device of the result.

    Returns:
        The matrix :math:`W`, shape ``(n-1, n-1)``.

    Raises:
        ValueError: :math:`n < 2`.
    """
    _check_pairs_n(n)
    W = [[math.comb(n - 2 - l, m - l) / math.comb(n - 2, m) if l <= m else 0.0 for l in range(n - 1)]
         for m in range(n - 1)]
    return torch.tensor(W, dtype=dtype, device=device)


def from_effects(effects) -> torch.Tensor:
    r""":math:`I^{(m)}(i, j)` from the AND (Harsanyi) effects by the Harsanyi identity
    (Conventions page, eq-multiorder-harsanyi), in :math:`O(n^2 \cdot 2^n)`:

    .. math::

       I^{(m)}(i, j) = \sum_{L \subseteq N \setminus \{i, j\},\; \lvert L\rvert \le m}
       \frac{\binom{n-2-\lvert L\rvert }{m-\lvert L\rvert }}{\binom{n-2}{m}} \,
          I^{\mathrm{AND}}_{L \cup \{i, j\}}.

    ``exact(v)`` equals ``from_effects(mobius(v))`` up to round-off.

    Args:
        effects: the AND effects, ``(..., 2**n)``, as returned by :func:`ibn.transforms.mobius`.

    Returns:
        float64 tensor ``(..., n-1, n, n)``, as :func:`exact`.

    Raises:
        ValueError: fewer than 2 players, or a last dimension that is not :math:`2^n`.
        TypeError: ``effects`` is complex or not numeric.
    """
    I = as_values(effects, name="effects")
    n = n_players(I.shape[-1])
    _check_pairs_n(n)
    G, _ = _pair_sums(I, n)
    A = G[..., 2:, :, :]  # A[..., l, i, j] = Σ_{|L|=l} I_{L∪{i,j}}, l = 0..n−2
    return _symmetric(torch.einsum("ml,...lij->...mij", order_weights(n, I.dtype, I.device), A))


def strength(interactions) -> torch.Tensor:
    r"""The strength of each order, :math:`S^{(m)} = \mathbb{E}_{i<j} |I^{(m)}(i, j)|`.

    Args:
        interactions: the output of :func:`exact`, shape ``(..., n-1, n, n)``.

    Returns:
        :math:`S^{(m)}`, shape ``(..., n-1)``.

    Raises:
        ValueError: ``interactions`` is not shaped ``(..., orders, n, n)`` with :math:`n \ge 2`.
    """
    I = as_values(interactions, name="interactions")
    if I.ndim < 3 or I.shape[-1] != I.shape[-2]:
        raise ValueError(f"interactions must be shaped (..., orders, n, n), got {tuple(I.shape)}")
    n = I.shape[-1]
    _check_pairs_n(n)
    iu = torch.triu_indices(n, n, offset=1, device=I.device)
    return I[..., iu[0], iu[1]].abs().mean(-1)


def relative_strength(strengths) -> torch.Tensor:
    r"""The relative strength (paper A; Conventions page, eq-relative-strength):

    .. math::

       J^{(m)} = \frac{\mathbb{E}_x S^{(m)}(x)}{\mathbb{E}_{m'} \mathbb{E}_x S^{(m')}(x)}.

    Args:
        strengths: :math:`S^{(m)}(x)`, shape ``(samples, orders)``, or ``(orders,)`` for one sample.

    Returns:
        :math:`J^{(m)}`, shape ``(orders,)``.

    Raises:
        ValueError: ``strengths`` is not shaped ``(samples, orders)``, or its mean over orders is 0
            or not finite.
    """
    S = as_values(strengths, name="strengths")
    if S.ndim == 1:
        S = S.unsqueeze(0)
    if S.ndim != 2 or S.shape[-1] == 0:
        raise ValueError(f"strengths must be shaped (samples, orders), got {tuple(S.shape)}")
    mean = S.mean(0)
    norm = mean.mean()
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError(f"cannot normalise strengths: their mean over orders is {norm.item()}")
    return mean / norm


# ---------------------------------------------------------------------------------------------
# Sampling for large n (the reference protocol)
# ---------------------------------------------------------------------------------------------


@dataclass
class SampledInteractions:
    r"""Result of :func:`sample`.

    Attributes:
        orders: ``(K,)`` int64, the order :math:`m` of each column.
        ratios: ``(K,)`` float64, the ratio :math:`r` with :math:`m = \lfloor (n-2) \, r \rfloor`
            (NaN when orders were given).
        pairs: ``(P, 2)`` int64, the pairs :math:`(i, j)`.
        mean: ``(P, K)`` float64, the mean of :math:`\Delta v(i, j, S)` over the sampled contexts
            :math:`S` (the estimate of :math:`I^{(m)}(i, j)`).
        sem: ``(P, K)`` float64, its standard error, std / :math:`\sqrt{\text{contexts}}`
            (NaN with a single context; 0 when all contexts coincide, e.g. :math:`m = 0` or
            :math:`m = n-2`).
        strength: ``(K,)`` float64, :math:`S^{(m)}`: the mean over pairs of ``abs(mean)`` (absolute
            value after averaging).
        contexts: the number of contexts per pair and order.
    """

    orders: torch.Tensor
    ratios: torch.Tensor
    pairs: torch.Tensor
    mean: torch.Tensor
    sem: torch.Tensor
    strength: torch.Tensor
    contexts: int


def reference_orders(n: int, ratios: Sequence[float] = REFERENCE_RATIOS) -> list[int]:
    r"""The orders :math:`m = \lfloor (n-2) \, r \rfloor` of the reference protocol
    (Conventions page, eq-reference-orders).

    A 1e-9 guard keeps exact products from being floored one below by float round-off (e.g.
    :math:`90 \cdot 0.7 = 62.99\ldots`); for :math:`n = 256` this is identical to the reference's
    plain ``int()``.

    Args:
        n: the number of players.
        ratios: the order ratios :math:`r \in [0, 1]`.

    Returns:
        The orders, one per ratio.

    Raises:
        ValueError: :math:`n < 2`, or a ratio outside [0, 1].
    """
    _check_pairs_n(n)
    bad = [r for r in ratios if not 0.0 <= r <= 1.0]
    if bad:
        raise ValueError(f"order ratios must lie in [0, 1], got {bad}")
    return [min(n - 2, math.floor((n - 2) * r + 1e-9)) for r in ratios]


def grid_pairs(shape: tuple[int, int], n_pairs: int, *, radius: int = 2,
               generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw pairs :math:`(i, j)` on an :math:`h \times w` grid, :math:`j` a neighbour of :math:`i`.

    Players are numbered row-major (player = row · w + col). :math:`i` is uniform over the grid,
    :math:`j` uniform over the neighbours of :math:`i` at :math:`L^\infty` distance at most
    ``radius`` (24 in the interior for radius 2).

    Args:
        shape: the grid ``(h, w)``.
        n_pairs: the number of pairs to draw.
        radius: the largest :math:`L^\infty` distance between :math:`i` and :math:`j`.
        generator: the source of randomness (None: torch's global one).

    Returns:
        int64 tensor ``(n_pairs, 2)``.

    Raises:
        ValueError: the grid holds fewer than two players, or ``radius`` < 1.
    """
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1 or h * w < 2:
        raise ValueError(f"grid shape must hold at least two players, got {shape}")
    if radius < 1:
        raise ValueError(f"radius must be ≥ 1, got {radius}")
    out = []
    for _ in range(n_pairs):
        while True:
            i = int(torch.randint(h * w, (1,), generator=generator))
            r, c = divmod(i, w)
            nb = [rr * w + cc for rr in range(max(0, r - radius), min(h, r + radius + 1))
                  for cc in range(max(0, c - radius), min(w, c + radius + 1)) if (rr, cc) != (r, c)]
            if nb:
                break
        j = nb[int(torch.randint(len(nb), (1,), generator=generator))]
        out.append((i, j))
    return torch.tensor(out, dtype=torch.int64).reshape(-1, 2)


def _as_values_1d(out, k: int) -> torch.Tensor:
    vals = torch.as_tensor(np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out,
                                      dtype=np.float64))
    if vals.shape != (k,):
        raise ValueError(f"evaluate must return {k} values for {k} masks, got shape {tuple(vals.shape)}")
    if not torch.isfinite(vals).all():
        raise ValueError("evaluate returned non-finite values")
    return vals


def sample(
    evaluate: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    *,
    pairs=None,
    grid: tuple[int, int] | None = None,
    n_pairs: int = 200,
    radius: int = 2,
    contexts: int = 100,
    ratios: Sequence[float] = REFERENCE_RATIOS,
    orders: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    unique: bool = True,
    progress: bool | None = None,
) -> SampledInteractions:
    r"""Estimate :math:`I^{(m)}(i, j)` by sampling contexts, following the reference protocol
    (Conventions page, conventions-multiorder).

    The 4 masks :math:`S`, :math:`S \cup \{i\}`, :math:`S \cup \{j\}`, :math:`S \cup \{i, j\}` of
    all contexts and orders of one pair go to ``evaluate`` in a single call. The strength takes the
    absolute value after averaging over contexts.

    Args:
        evaluate: maps a bool mask matrix ``(k, n)`` (column i = player i kept) to :math:`k` values
            :math:`v(x_T)`, e.g. ``lambda m: ibn.games.evaluate(model, x, masker, m, target=y)``.
        n: the number of players.
        pairs: explicit ``(P, 2)`` pairs; otherwise ``n_pairs`` pairs are drawn, on ``grid`` if
            it is given, or uniformly among all pairs.
        grid: ``(h, w)``: draw :math:`j` among the grid neighbours of :math:`i` (see
            :func:`grid_pairs`).
        n_pairs: the number of pairs to draw when ``pairs`` is not given.
        radius: the largest :math:`L^\infty` distance of a grid neighbour (24 neighbours for
            radius 2).
        contexts: the number of random contexts :math:`S \subseteq N \setminus \{i, j\}`,
            :math:`|S| = m`, per pair and order (drawn with replacement; 100 in the reference).
        ratios: orders :math:`m = \lfloor (n-2) \, r \rfloor` for these ratios :math:`r` (default:
            the reference 0, .05, .1, .2, …, .9, .95, 1).
        orders: explicit orders, instead of ``ratios``.
        generator: the source of randomness.
        seed: the seed of a fresh generator (default 0), instead of ``generator``.
        unique: evaluate each distinct mask once per pair (exact for a deterministic model; at
            :math:`m = 0` and :math:`m = n-2` all contexts coincide).
        progress: a tqdm bar over pairs (None: on when there are more than 10 pairs).

    Returns:
        :class:`SampledInteractions`.

    Raises:
        ValueError: a bad number, order, ratio, pair or grid, both ``generator`` and ``seed``, or
            ``evaluate`` returning the wrong number of values or non-finite ones.
        TypeError: ``evaluate`` is not callable, or a number or flag of the wrong type.
    """
    check_number("n", n, integer=True)
    _check_pairs_n(n)
    check_number("contexts", contexts, low=1, integer=True)
    check_number("n_pairs", n_pairs, low=1, integer=True)
    check_number("radius", radius, low=1, integer=True)
    check_flag("unique", unique)
    check_flag("progress", progress, allow_none=True)
    if not callable(evaluate):
        raise TypeError(f"evaluate must be a function of a (k, n) mask matrix, got {evaluate!r}")
    if orders is None:
        for r in ratios:
            check_number("ratios", r, low=0, high=1)
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    elif seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if orders is None:
        ms = reference_orders(n, ratios)
        rs = torch.tensor(list(ratios), dtype=torch.float64)
    else:
        ms = [int(m) for m in orders]
        if any(not 0 <= m <= n - 2 for m in ms):
            raise ValueError(f"orders must lie in 0..n−2 = 0..{n - 2}, got {ms}")
        rs = torch.full((len(ms),), float("nan"), dtype=torch.float64)
    if pairs is not None:
        P = torch.as_tensor(pairs, dtype=torch.int64).reshape(-1, 2)
        if ((P < 0) | (P >= n)).any() or (P[:, 0] == P[:, 1]).any():
            raise ValueError(f"pairs must be distinct players in 0..{n - 1}, got {P.tolist()[:5]}...")
    elif grid is not None:
        if grid[0] * grid[1] != n:
            raise ValueError(f"grid {tuple(grid)} holds {grid[0] * grid[1]} players, not n = {n}")
        P = grid_pairs(grid, n_pairs, radius=radius, generator=generator)
    else:
        i = torch.randint(n, (n_pairs,), generator=generator)
        j = (i + 1 + torch.randint(n - 1, (n_pairs,), generator=generator)) % n
        P = torch.stack([i, j], -1)

    K, C = len(ms), contexts
    m_t = torch.tensor(ms, dtype=torch.int64)
    means = torch.empty(len(P), K, dtype=torch.float64)
    sems = torch.empty(len(P), K, dtype=torch.float64)
    show = len(P) > 10 if progress is None else progress
    for p, (i, j) in enumerate(tqdm(P.tolist(), desc="pairs", disable=not show)):
        keys = torch.rand(K, C, n, generator=generator)
        keys[..., [i, j]] = 2.0  # never among the m smallest: S ⊆ N\{i,j}
        ranks = keys.argsort(-1).argsort(-1)
        S = ranks < m_t[:, None, None]  # (K, C, n), |S| = m
        masks = S.unsqueeze(2).repeat(1, 1, 4, 1)  # (K, C, 4, n): S, S+i, S+j, S+ij
        masks[:, :, 1, i] = True
        masks[:, :, 2, j] = True
        masks[:, :, 3, [i, j]] = True
        flat = masks.reshape(-1, n)
        if unique:
            distinct, inverse = torch.unique(flat, dim=0, return_inverse=True)
            vals = _as_values_1d(evaluate(distinct), len(distinct))[inverse]
        else:
            vals = _as_values_1d(evaluate(flat), len(flat))
        vals = vals.reshape(K, C, 4)
        delta = vals[..., 3] - vals[..., 1] - vals[..., 2] + vals[..., 0]  # (K, C)
        means[p] = delta.mean(-1)
        sems[p] = delta.std(-1, correction=1) / math.sqrt(C) if C > 1 else float("nan")
    return SampledInteractions(orders=m_t, ratios=rs, pairs=P, mean=means, sem=sems,
                               strength=means.abs().mean(0), contexts=C)
