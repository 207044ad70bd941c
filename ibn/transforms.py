r"""Möbius (Harsanyi) and zeta transforms over the subset lattice, as :math:`O(n \cdot 2^n)`
butterflies.

Conventions (Conventions page, eq-mask): a vector over all coalitions has length :math:`2^n` and
is indexed by the coalition's bitmask, **player i is bit i**. Every transform acts on the last
dimension and is batched over the leading ones. Inputs are converted to float64 (their device is
kept).

AND pair (paper B eq. 3): :func:`mobius` and its inverse :func:`zeta`,

.. math::

   I_S = \sum_{T \subseteq S} (-1)^{\lvert S\rvert -\lvert T\rvert } \, u_T, \qquad u_T =
      \sum_{S \subseteq T} I_S.

OR pair (paper B Thm 2.1): :func:`or_mobius` and its inverse :func:`or_zeta`,

.. math::

   I_S = -\sum_{T \subseteq S} (-1)^{\lvert S\rvert -\lvert T\rvert } \, u_{N \setminus T},
      \quad I_\emptyset = 0,
   \qquad u_T = \sum_{S:\, S \cap T \neq \emptyset} I_S.

(Conventions page, eq-harsanyi, eq-harsanyi-inverse, eq-or, eq-or-inverse.)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "as_values",
    "n_players",
    "mobius",
    "zeta",
    "or_mobius",
    "or_zeta",
    "mobius_transpose",
    "zeta_transpose",
    "kron_blocks",
    "kron_apply",
    "orders",
    "all_masks",
    "masks_to_index",
    "check_masks",
    "coalition",
    "members",
    "coalition_label",
]


def as_values(x, *, name: str = "values") -> torch.Tensor:
    """Return ``x`` as a float64 tensor (device kept), rejecting non-numeric input clearly.

    An object that carries its values as a tensor attribute ``values`` (an :class:`ibn.games.Game`)
    gives those values.

    Args:
        x: a real tensor, array, nested sequence or number, or an object with a tensor ``values``.
        name: what to call ``x`` in error messages.

    Returns:
        ``x`` as float64, on the device of a tensor input (CPU otherwise).

    Raises:
        TypeError: ``x`` is complex or cannot be read as a real array.
    """
    if not isinstance(x, torch.Tensor) and isinstance(getattr(x, "values", None), torch.Tensor):
        x = x.values
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name} must be real, got a complex tensor")
        return x.to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real array or tensor: {err}") from None


def n_players(length: int) -> int:
    r"""The number of players :math:`n` of a vector of length :math:`2^n`.

    Args:
        length: the length of the vector (one entry per coalition).

    Returns:
        :math:`n`, with :math:`2^n` equal to ``length``.

    Raises:
        ValueError: ``length`` is not a power of two.
    """
    if length < 1 or length & (length - 1):
        raise ValueError(
            f"the last dimension must have length 2**n (one entry per coalition), got {length}, "
            "which is not a power of two"
        )
    return length.bit_length() - 1


def check_values(values, *, min_players: int = 1, max_players: int | None = None,
                 name: str = "values") -> tuple[torch.Tensor, int]:
    r"""A game's values as float64 of shape ``(..., 2**n)``, and :math:`n`, checked.

    Args:
        values: the values :math:`v(x_T)`, shape ``(..., 2**n)``, indexed by the coalition bitmask
            (bit i = player i); anything :func:`as_values` accepts.
        min_players: the fewest players allowed.
        max_players: the most players allowed (None: no limit).
        name: what to call ``values`` in error messages.

    Returns:
        ``(v, n)``: the values as a float64 tensor and the number of players.

    Raises:
        ValueError: a scalar, a last dimension that is not :math:`2^n`, too few or too many players,
            an empty batch or a non-finite entry (the message names the coalition masks of the
            non-finite entries, bit i = player i).
        TypeError: ``values`` is complex or not numeric.
    """
    v = as_values(values, name=name)
    if v.ndim == 0:
        raise ValueError(f"{name} must have a last dimension of length 2**n (one entry per "
                         "coalition), got a scalar")
    n = n_players(v.shape[-1])
    if n < min_players:
        raise ValueError(f"{name} must describe at least {min_players} player"
                         f"{'s' if min_players > 1 else ''} (last dimension 2**n with "
                         f"n ≥ {min_players}), got length {v.shape[-1]}")
    if max_players is not None and n > max_players:
        raise ValueError(f"{name} with n = {n} players is too many here (at most {max_players})")
    if v.numel() == 0:
        raise ValueError(f"{name} has an empty batch (shape {tuple(v.shape)}): give at least "
                         "one game")
    finite = torch.isfinite(v)
    if not bool(finite.all()):
        bad = (~finite).reshape(-1, v.shape[-1]).any(0).nonzero().flatten().tolist()
        shown = ", ".join(str(i) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise ValueError(f"{name} must be finite; non-finite entries at coalition mask indices "
                         f"[{shown}] (bit i = player i)")
    return v, n


def _butterfly(x: torch.Tensor, sign: float) -> torch.Tensor:
    """x[T] += sign · x[T \\ {i}] for every T ∋ i, one pass per bit i (in place on a copy)."""
    y = as_values(x).clone()
    n = n_players(y.shape[-1])
    lead = y.shape[:-1]
    for i in range(n):
        view = y.view(*lead, -1, 2, 1 << i)
        view[..., 1, :].add_(view[..., 0, :], alpha=sign)
    return y


def _butterfly_down(x: torch.Tensor, sign: float) -> torch.Tensor:
    """x[T] += sign · x[T ∪ {i}] for every T ∌ i: the transpose of :func:`_butterfly`."""
    y = as_values(x).clone()
    n = n_players(y.shape[-1])
    lead = y.shape[:-1]
    for i in range(n):
        view = y.view(*lead, -1, 2, 1 << i)
        view[..., 0, :].add_(view[..., 1, :], alpha=sign)
    return y


def mobius(u) -> torch.Tensor:
    r"""AND (Harsanyi) effects of a game, by the Möbius transform (paper B eq. 3):

    .. math::

       I_S = \sum_{T \subseteq S} (-1)^{\lvert S\rvert -\lvert T\rvert } \, u_T.

    Args:
        u: the values :math:`u_T`, shape ``(..., 2**n)``, indexed by the coalition bitmask
            (bit i = player i); leading dimensions are a batch.

    Returns:
        The effects :math:`I_S`, float64, of the shape of ``u``.

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``u`` is complex or not numeric.
    """
    return _butterfly(u, -1.0)


def zeta(effects) -> torch.Tensor:
    r"""Inverse of :func:`mobius`: the universal matching of AND effects,

    .. math::

       u_T = \sum_{S \subseteq T} I_S.

    Args:
        effects: the AND effects :math:`I_S`, shape ``(..., 2**n)``.

    Returns:
        The values :math:`u_T`, float64, of the shape of ``effects``.

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``effects`` is complex or not numeric.
    """
    return _butterfly(effects, 1.0)


def mobius_transpose(y) -> torch.Tensor:
    r"""Apply the transpose of the Möbius matrix :math:`M`:

    .. math::

       (M^\top y)_T = \sum_{S \supseteq T} (-1)^{\lvert S\rvert -\lvert T\rvert } \, y_S.

    Args:
        y: a vector over coalitions, shape ``(..., 2**n)``.

    Returns:
        :math:`M^\top y`, float64, of the shape of ``y``.

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``y`` is complex or not numeric.
    """
    return _butterfly_down(y, -1.0)


def zeta_transpose(y) -> torch.Tensor:
    r"""Apply the transpose of the zeta matrix :math:`Z`:

    .. math::

       (Z^\top y)_S = \sum_{T \supseteq S} y_T.

    Args:
        y: a vector over coalitions, shape ``(..., 2**n)``.

    Returns:
        :math:`Z^\top y`, float64, of the shape of ``y``.

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``y`` is complex or not numeric.
    """
    return _butterfly_down(y, 1.0)


def or_mobius(u) -> torch.Tensor:
    r"""OR effects of a game (paper B Thm 2.1):

    .. math::

       I_S = -\sum_{T \subseteq S} (-1)^{\lvert S\rvert -\lvert T\rvert } \, u_{N \setminus T}
          \quad (S \neq \emptyset),
       \qquad I_\emptyset = 0.

    ``u[..., 0]`` (the empty coalition) enters :math:`I^{\mathrm{OR}}_N` through the term
    :math:`T = N`; the project's convention (Conventions page, eq-bias) is
    :math:`u^{\mathrm{OR}}_\emptyset = 0`, the only case in which :func:`or_zeta` inverts this.

    Args:
        u: the values :math:`u_T`, shape ``(..., 2**n)``, indexed by the coalition bitmask
            (bit i = player i).

    Returns:
        The OR effects :math:`I_S`, float64, of the shape of ``u``, with ``[..., 0]`` = 0.

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``u`` is complex or not numeric.
    """
    u = as_values(u, name="u")
    n_players(u.shape[-1])
    effects = -mobius(torch.flip(u, dims=(-1,)))
    effects[..., 0] = 0.0
    return effects


def or_zeta(effects) -> torch.Tensor:
    r"""Inverse of :func:`or_mobius`:

    .. math::

       u_T = \sum_{S \cap T \neq \emptyset} I_S
           = \sum_S I_S - \sum_{S \subseteq N \setminus T} I_S.

    Args:
        effects: the OR effects :math:`I_S`, shape ``(..., 2**n)``; ``effects[..., 0]``
            (:math:`I_\emptyset`) is ignored: no coalition triggers the empty OR pattern.

    Returns:
        The values :math:`u_T`, float64, of the shape of ``effects`` (:math:`u_\emptyset = 0`).

    Raises:
        ValueError: the last dimension is not a power of two.
        TypeError: ``effects`` is complex or not numeric.
    """
    effects = as_values(effects, name="effects").clone()
    n_players(effects.shape[-1])
    effects[..., 0] = 0.0
    cumulative = zeta(effects)
    return cumulative[..., -1:] - torch.flip(cumulative, dims=(-1,))


KRON_BLOCK_BITS = 5  # bits per dense block: ⊗⁵c is 32 × 32, applied by one batched matmul


def kron_blocks(c: torch.Tensor, n: int) -> list[torch.Tensor]:
    r"""The dense factors :math:`\otimes^k c` of :func:`kron_apply`.

    One factor per block of at most ``KRON_BLOCK_BITS`` bits, covering bits :math:`0, \dots, n-1`,
    lowest first (bit i of a row or column index corresponds to the i-th factor from the right).
    Build them once when the same product is applied many times.

    Args:
        c: a 2 × 2 matrix indexed by bit values, or a stack ``(s, 2, 2)`` of them.
        n: the number of bits (players).

    Returns:
        The blocks, lowest bits first, each of shape ``(2**k, 2**k)``, or ``(s, 2**k, 2**k)`` for a
        stack ``c``.
    """
    blocks = []
    j = 0
    while j < n:
        k = min(KRON_BLOCK_BITS, n - j)
        w = c
        for _ in range(k - 1):  # w ← c ⊗ w, batched over a stack
            w = (c[..., :, None, :, None] * w[..., None, :, None, :]).reshape(
                *c.shape[:-2], 2 * w.shape[-2], 2 * w.shape[-1])
        blocks.append(w)
        j += k
    return blocks


def kron_apply(x: torch.Tensor, c: torch.Tensor | None = None, *,
               blocks: list[torch.Tensor] | None = None) -> torch.Tensor:
    r""":math:`(\otimes^n c) \, x` along the last dimension, for a 2 × 2 matrix :math:`c`.

    :math:`c` is indexed by bit values (bit i = player i). The :math:`n` per-bit butterflies are
    grouped into blocks of ``KRON_BLOCK_BITS`` bits, each one batched matmul with
    :math:`\otimes^k c`: :math:`O(n \, 2^n \cdot 2^k / k)` flops at BLAS speed, never a
    :math:`2^n \times 2^n` matrix.

    Args:
        x: the vectors, shape ``(..., 2**n)``, or ``(s, ..., 2**n)`` with a stack ``c``.
        c: a 2 × 2 matrix, or a stack ``(s, 2, 2)`` of them, ``c[j]`` acting on ``x[j]``.
        blocks: the output of :func:`kron_blocks`, given instead of ``c``.

    Returns:
        :math:`(\otimes^n c) \, x`, of the shape of ``x``.

    Raises:
        ValueError: the last dimension of ``x`` is not a power of two.
    """
    n = n_players(x.shape[-1])
    if blocks is None:
        blocks = kron_blocks(c.to(device=x.device, dtype=x.dtype), n)
    stacked = blocks[0].ndim == 3
    y = x.reshape(x.shape[0] if stacked else 1, -1, 1 << n)
    s = y.shape[0]
    j = 0
    for w in blocks:
        k = w.shape[-1].bit_length() - 1
        if j == 0:
            y = y.reshape(s, -1, 1 << k) @ w.transpose(-1, -2)
        else:
            y = (w[:, None] if stacked else w) @ y.reshape(s, -1, 1 << k, 1 << j)
        j += k
    return y.reshape(x.shape)


def orders(n: int, device=None) -> torch.Tensor:
    r"""The order :math:`|S|` of every coalition :math:`S = 0, \dots, 2^n - 1`.

    Args:
        n: the number of players.
        device: the device of the result.

    Returns:
        int64 tensor ``(2**n,)``: entry S is the number of bits set in S.
    """
    idx = torch.arange(1 << n, device=device)
    bits = (idx.unsqueeze(-1) >> torch.arange(n, device=device)) & 1
    return bits.sum(-1)


def coalition(*players: int) -> int:
    """The bitmask of the coalition of ``players`` (player i is bit i).

    ``coalition(0, 2) == 0b101``; a player named twice counts once; ``coalition()`` is the empty
    coalition 0.

    Args:
        *players: the players, non-negative integers.

    Returns:
        The coalition's bitmask.

    Raises:
        ValueError: a player is not a non-negative integer.
    """
    mask = 0
    for i in players:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(f"players are non-negative integers, got {i!r}")
        mask |= 1 << int(i)
    return mask


def members(mask: int) -> tuple[int, ...]:
    """The players of the coalition ``mask`` in increasing order: ``members(0b101) == (0, 2)``.

    Args:
        mask: a coalition bitmask (player i is bit i).

    Returns:
        The players of the coalition.

    Raises:
        ValueError: ``mask`` is negative.
    """
    mask = int(mask)
    if mask < 0:
        raise ValueError(f"a coalition is a non-negative bitmask, got {mask}")
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


def coalition_label(mask: int) -> str:
    """The coalition ``mask`` written as a set of players, for printing.

    ``coalition_label(0b101) == "{0, 2}"`` and ``coalition_label(0) == "{}"``.

    Args:
        mask: a coalition bitmask (player i is bit i).

    Returns:
        The label.

    Raises:
        ValueError: ``mask`` is negative.
    """
    return "{" + ", ".join(str(i) for i in members(mask)) + "}"


def all_masks(n: int, device=None) -> torch.Tensor:
    r"""Every coalition as a row of booleans.

    Args:
        n: the number of players.
        device: the device of the result.

    Returns:
        bool tensor ``(2**n, n)``: row T is True in column i iff player :math:`i \in T`
        (bit i of T).
    """
    idx = torch.arange(1 << n, device=device)
    return ((idx.unsqueeze(-1) >> torch.arange(n, device=device)) & 1).bool()


def masks_to_index(masks) -> torch.Tensor:
    """The bitmask integers of coalitions given as a boolean matrix.

    Args:
        masks: a ``(k, n)`` matrix of coalitions, column i = player i = bit i.

    Returns:
        int64 tensor ``(k,)``: the bitmask of each row.

    Raises:
        ValueError: ``masks`` is not 2-D, or has more than 62 players.
    """
    masks = torch.as_tensor(masks)
    if masks.ndim != 2:
        raise ValueError(f"masks must be a (k, n) boolean matrix, got shape {tuple(masks.shape)}")
    n = masks.shape[-1]
    if n > 62:
        raise ValueError(f"masks with {n} players cannot be indexed by a 64-bit integer")
    weights = 1 << torch.arange(n, device=masks.device, dtype=torch.int64)
    return (masks.to(torch.int64) * weights).sum(-1)


def check_masks(masks, n: int | None = None) -> torch.Tensor:
    """A ``(k, n)`` matrix of coalitions as a bool tensor (column i = player i), checked.

    Args:
        masks: bool or 0/1 entries, shape ``(k, n)``.
        n: the number of players the masks must have (None: any).

    Returns:
        ``masks`` as a bool tensor.

    Raises:
        ValueError: ``masks`` is not 2-D, has entries other than 0/1, or has other than ``n``
            columns.
    """
    masks = torch.as_tensor(masks)
    if masks.ndim != 2:
        raise ValueError(f"masks must be a (k, n) boolean matrix, got shape {tuple(masks.shape)}")
    if masks.dtype != torch.bool:
        if ((masks != 0) & (masks != 1)).any():
            raise ValueError("masks must be boolean (or 0/1)")
        masks = masks.bool()
    if n is not None and masks.shape[1] != n:
        raise ValueError(
            f"masks have shape {tuple(masks.shape)}: {masks.shape[1]} columns but there are {n} players"
        )
    return masks
