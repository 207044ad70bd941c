r"""Order profiles from recorded values: the exact per-sample strengths :math:`S^{(m)}(x)` and the
relative strength :math:`J^{(m)}`, and the reference sampling protocol run on the same values
through a table lookup, so that exact and sampled estimates can be compared on the same game
(Conventions page, eq-strength, eq-relative-strength, eq-reference-orders)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from .._progress import tqdm
from ..transforms import masks_to_index, n_players
from . import interactions as mo
from .theory import order_ratios

__all__ = ["exact_profile", "sampled_from_values", "sampled_orders"]


def _pairs_tensor(pairs, n: int) -> torch.Tensor:
    P = torch.as_tensor(np.asarray(pairs), dtype=torch.long).reshape(-1, 2)
    if ((P < 0) | (P >= n)).any() or (P[:, 0] == P[:, 1]).any():
        raise ValueError("pairs must be distinct players in 0..n−1")
    return P


def exact_profile(values: torch.Tensor, *, pairs=None) -> dict[str, Any]:
    r"""Exact multi-order strengths from recorded values
    (Conventions page, eq-strength, eq-relative-strength).

    Args:
        values: the recorded values, ``(N, 2**n)`` (or ``(2**n,)`` for one sample).
        pairs: the pairs :math:`(i, j)` to average over, ``(P, 2)`` (default: all pairs
            :math:`i < j`).

    Returns:
        A dict of numpy arrays: ``orders`` (:math:`m = 0, \dots, n-2`), ``ratios``
        (:math:`m / (n-2)`), ``strength`` ``(N, n-1)``, the strengths
        :math:`S^{(m)}(x)`: the mean over pairs of :math:`|I^{(m)}(i, j \mid x)|`, ``J``
        ``(n-1,)``, the relative strength :math:`J^{(m)}`, and ``n``.

    Raises:
        ValueError: a last dimension that is not :math:`2^n`, fewer than 3 players, pairs that are
            not distinct players in :math:`0, \dots, n-1`, or strengths that are all zero.
    """
    v = torch.as_tensor(values, dtype=torch.float64)
    if v.ndim == 1:
        v = v.unsqueeze(0)
    n = n_players(v.shape[-1])
    inter = mo.exact(v)  # (N, n−1, n, n)
    if pairs is None:
        S = mo.strength(inter)
    else:
        P = _pairs_tensor(pairs, n)
        S = inter[..., P[:, 0], P[:, 1]].abs().mean(-1)
    orders = np.arange(n - 1)
    return {"orders": orders, "ratios": order_ratios(orders, n), "strength": S.numpy(),
            "J": mo.relative_strength(S).numpy(), "n": n}


def _lookup(values_row: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    def evaluate(masks: torch.Tensor) -> torch.Tensor:
        return values_row[masks_to_index(masks)]

    return evaluate


_FIELDS = ("orders", "strength", "pairs", "mean", "sem")


def sampled_orders(evaluators: Iterable[Callable], n: int, *, grid, pairs, n_pairs: int, radius: int,
                   contexts: int, ratios: Sequence[float], orders, seed: int,
                   unique: bool = True,
                   checkpoint: Callable[[int, Callable[[], dict]], dict] | None = None,
                   progress: bool = False) -> dict[str, Any]:
    r"""The reference sampling protocol (:func:`ibn.multiorder.sample`) run on several samples.

    Sample k is evaluated by the k-th of ``evaluators`` with seed ``seed + k``, so each sample's
    estimate depends on nothing but its own evaluator and seed.

    Args:
        evaluators: one function per sample, each mapping a bool mask matrix ``(k, n)`` to
            :math:`k` values.
        n: the number of players.
        grid: ``(h, w)`` to draw grid-neighbour pairs, or None.
        pairs: explicit ``(P, 2)`` pairs, or None.
        n_pairs: the number of pairs to draw when ``pairs`` is None.
        radius: the largest :math:`L^\infty` distance of a grid neighbour.
        contexts: the number of contexts per pair and order.
        ratios: the order ratios :math:`r`, orders :math:`m = \lfloor (n-2) \, r \rfloor`.
        orders: explicit orders instead of ``ratios``, or None.
        seed: the seed of the first sample.
        unique: evaluate each distinct mask once per pair.
        checkpoint: ``checkpoint(k, compute)`` returns sample k's estimate (a dict of its
            ``orders``, ``strength``, ``pairs``, ``mean`` and ``sem``), running ``compute()`` only
            when it has none stored, e.g. ``ibn.results.Parts(name, params).get``: a run
            interrupted between samples resumes at the sample it stopped in.
        progress: show a progress bar over the samples.

    Returns:
        A dict of numpy arrays, as :func:`sampled_from_values`.

    Raises:
        ValueError: no evaluators, or a bad argument (see :func:`ibn.multiorder.sample`).
        TypeError: an argument of the wrong type (see :func:`ibn.multiorder.sample`).
    """
    def one(k: int, ev: Callable) -> dict:
        r = mo.sample(ev, n, pairs=pairs, grid=grid, n_pairs=n_pairs, radius=radius,
                      contexts=contexts, ratios=ratios, orders=orders, seed=seed + k,
                      unique=unique, progress=False)
        return {f: getattr(r, f) for f in _FIELDS}

    keep = checkpoint if checkpoint is not None else (lambda k, compute: compute())
    res = [{f: torch.as_tensor(v) for f, v in keep(k, lambda k=k, ev=ev: one(k, ev)).items()}
           for k, ev in enumerate(tqdm(evaluators, desc="samples", disable=not progress))]
    if not res:
        raise ValueError("no samples")
    ms = res[0]["orders"].numpy()
    S = torch.stack([r["strength"] for r in res])
    out = {f: torch.stack([r[f] for r in res]).numpy() for f in ("pairs", "mean", "sem")}
    return {"orders": ms, "ratios": order_ratios(ms, n), "strength": S.numpy(),
            "J": mo.relative_strength(S).numpy(), "n": n, "contexts": contexts, **out}


def sampled_from_values(values: torch.Tensor, *, grid: tuple[int, int] | None = None,
                        pairs=None, n_pairs: int = 200, radius: int = 2, contexts: int = 100,
                        ratios: Sequence[float] = mo.REFERENCE_RATIOS, orders=None,
                        seed: int = 0) -> dict[str, Any]:
    r"""The reference sampling protocol (:func:`ibn.multiorder.sample`) run on recorded values.

    The model's outputs are looked up instead of recomputed, so the estimate is what sampling would
    give on the same model and players. Sample k uses seed ``seed + k``.

    Args:
        values: the recorded values, ``(N, 2**n)`` (or ``(2**n,)`` for one sample).
        grid: ``(h, w)``: draw each pair's :math:`j` among the grid neighbours of :math:`i`.
        pairs: explicit ``(P, 2)`` pairs (otherwise ``n_pairs`` pairs are drawn).
        n_pairs: the number of pairs to draw.
        radius: the largest :math:`L^\infty` distance of a grid neighbour.
        contexts: the number of contexts per pair and order.
        ratios: the order ratios :math:`r`, orders :math:`m = \lfloor (n-2) \, r \rfloor`.
        orders: explicit orders instead of ``ratios``.
        seed: the seed of the first sample.

    Returns:
        A dict of numpy arrays: ``orders``, ``ratios``, ``strength`` ``(N, K)`` (the mean over the
        sampled pairs of the absolute mean over contexts), ``J``, ``pairs`` ``(N, P, 2)``, ``mean``
        and ``sem`` ``(N, P, K)``, ``contexts`` and ``n``.

    Raises:
        ValueError: a last dimension that is not :math:`2^n`, or a bad argument (see
            :func:`ibn.multiorder.sample`).
        TypeError: an argument of the wrong type (see :func:`ibn.multiorder.sample`).
    """
    v = torch.as_tensor(values, dtype=torch.float64)
    if v.ndim == 1:
        v = v.unsqueeze(0)
    n = n_players(v.shape[-1])
    return sampled_orders((_lookup(row) for row in v), n, grid=grid, pairs=pairs, n_pairs=n_pairs,
                          radius=radius, contexts=contexts, ratios=ratios, orders=orders, seed=seed,
                    unique=False)
