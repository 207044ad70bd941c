"""Möbius (Harsanyi) and zeta transforms over the subset lattice, as O(n·2^n) butterflies.

Conventions (Conventions page, eq-mask): a vector over all coalitions has length 2^n and is indexed
by the coalition's bitmask, **player i is bit i**. Every transform acts on the last dimension and is
batched over the leading ones. Inputs are converted to float64 (their device is kept).

AND pair (paper B eq. 3):   I_S = Σ_{T⊆S} (−1)^{|S|−|T|} u_T        (``mobius``)
                            u_T = Σ_{S⊆T} I_S                         (``zeta``)
OR pair (paper B Thm 2.1):  I_S = −Σ_{T⊆S} (−1)^{|S|−|T|} u_{N\\T},  I_∅ = 0   (``or_mobius``)
                            u_T = Σ_{S: S∩T≠∅} I_S                    (``or_zeta``)

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
    An object that carries its values as a tensor (an :class:`ibn.games.Game`) gives them."""
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
    """The number of players n of a vector of length 2^n; a clear error otherwise."""
    if length < 1 or length & (length - 1):
        raise ValueError(
            f"the last dimension must have length 2**n (one entry per coalition), got {length}, "
            "which is not a power of two"
        )
    return length.bit_length() - 1


def check_values(values, *, min_players: int = 1, max_players: int | None = None,
                 name: str = "values") -> tuple[torch.Tensor, int]:
    """A game's values as float64 (…, 2^n) and n, with a one-line error for a scalar, a length
    that is not 2^n, too few or too many players, an empty batch or a non-finite entry (the
    error names the coalition masks, bit i = player i)."""
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
    """AND (Harsanyi) effects I_S = Σ_{T⊆S} (−1)^{|S|−|T|} u_T (paper B eq. 3)."""
    return _butterfly(u, -1.0)


def zeta(effects) -> torch.Tensor:
    """Inverse of :func:`mobius`: u_T = Σ_{S⊆T} I_S (universal matching of AND effects)."""
    return _butterfly(effects, 1.0)


def mobius_transpose(y) -> torch.Tensor:
    """Apply the transpose of the Möbius matrix: (Mᵀy)_T = Σ_{S⊇T} (−1)^{|S|−|T|} y_S."""
    return _butterfly_down(y, -1.0)


def zeta_transpose(y) -> torch.Tensor:
    """Apply the transpose of the zeta matrix: (Zᵀy)_S = Σ_{T⊇S} y_T."""
    return _butterfly_down(y, 1.0)


def or_mobius(u) -> torch.Tensor:
    """OR effects I_S = −Σ_{T⊆S} (−1)^{|S|−|T|} u_{N\\T} for S ≠ ∅, I_∅ = 0 (paper B Thm 2.1).

    ``u[..., 0]`` (the empty coalition) enters I^OR_N through the term T = N; the project's
    convention (Conventions page, eq-bias) is u^OR_∅ = 0, the only case in which :func:`or_zeta`
    inverts this.
    """
    u = as_values(u, name="u")
    n_players(u.shape[-1])
    effects = -mobius(torch.flip(u, dims=(-1,)))
    effects[..., 0] = 0.0
    return effects


def or_zeta(effects) -> torch.Tensor:
    """Inverse of :func:`or_mobius`: u_T = Σ_{S∩T≠∅} I_S = Σ_S I_S − Σ_{S⊆N\\T} I_S.

    ``effects[..., 0]`` (I_∅) is ignored: no coalition triggers the empty OR pattern.
    """
    effects = as_values(effects, name="effects").clone()
    n_players(effects.shape[-1])
    effects[..., 0] = 0.0
    cumulative = zeta(effects)
    return cumulative[..., -1:] - torch.flip(cumulative, dims=(-1,))


KRON_BLOCK_BITS = 5  # bits per dense block: ⊗⁵c is 32 × 32, applied by one batched matmul


def kron_blocks(c: torch.Tensor, n: int) -> list[torch.Tensor]:
    """The dense factors ⊗ᵏc of :func:`kron_apply`, one per block of ≤ ``KRON_BLOCK_BITS`` bits
    covering bits 0..n−1, lowest first (bit i of a row/column index ↔ the i-th factor from the
    right). ``c``: a 2 × 2 matrix indexed by bit values, or a stack (s, 2, 2) of them, giving
    blocks (s, 2^k, 2^k). Build them once when the same product is applied many times."""
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
    """(⊗ⁿ c) x along the last dimension, c a 2 × 2 matrix indexed by bit values (bit i =
    player i): the n per-bit butterflies grouped into blocks of ``KRON_BLOCK_BITS`` bits, each
    one batched matmul with ⊗ᵏc: O(n 2^n · 2^k / k) flops at BLAS speed, never a 2^n × 2^n
    matrix. With a stack c (s, 2, 2), x has shape (s, ..., 2^n) and c[j] acts on x[j].
    ``blocks``: those of :func:`kron_blocks`, instead of ``c``."""
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
    """|S| for every coalition S = 0..2^n−1 (int64)."""
    idx = torch.arange(1 << n, device=device)
    bits = (idx.unsqueeze(-1) >> torch.arange(n, device=device)) & 1
    return bits.sum(-1)


def coalition(*players: int) -> int:
    """The bitmask of the coalition of ``players`` (player i is bit i): ``coalition(0, 2) == 0b101``.

    A player named twice counts once; ``coalition()`` is the empty coalition 0."""
    mask = 0
    for i in players:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(f"players are non-negative integers, got {i!r}")
        mask |= 1 << int(i)
    return mask


def members(mask: int) -> tuple[int, ...]:
    """The players of the coalition ``mask`` in increasing order: ``members(0b101) == (0, 2)``."""
    mask = int(mask)
    if mask < 0:
        raise ValueError(f"a coalition is a non-negative bitmask, got {mask}")
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


def coalition_label(mask: int) -> str:
    """The coalition ``mask`` written as a set of players, for printing:
    ``coalition_label(0b101) == "{0, 2}"``, ``coalition_label(0) == "{}"``."""
    return "{" + ", ".join(str(i) for i in members(mask)) + "}"


def all_masks(n: int, device=None) -> torch.Tensor:
    """Bool matrix (2^n, n): row T has True in column i iff player i ∈ T (bit i of T)."""
    idx = torch.arange(1 << n, device=device)
    return ((idx.unsqueeze(-1) >> torch.arange(n, device=device)) & 1).bool()


def masks_to_index(masks) -> torch.Tensor:
    """Bitmask integers of a bool matrix (k, n) of coalitions (column i = player i = bit i)."""
    masks = torch.as_tensor(masks)
    if masks.ndim != 2:
        raise ValueError(f"masks must be a (k, n) boolean matrix, got shape {tuple(masks.shape)}")
    n = masks.shape[-1]
    if n > 62:
        raise ValueError(f"masks with {n} players cannot be indexed by a 64-bit integer")
    weights = 1 << torch.arange(n, device=masks.device, dtype=torch.int64)
    return (masks.to(torch.int64) * weights).sum(-1)


def check_masks(masks, n: int | None = None) -> torch.Tensor:
    """A (k, n) matrix of coalitions as a bool tensor (column i = player i); clear errors otherwise.

    Accepts bool or 0/1 entries; ``n`` (if given) is the number of players the masks must have.
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
