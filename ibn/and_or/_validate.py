"""Input checks for :func:`ibn.and_or.extract`: clear errors for bad values and settings."""

from __future__ import annotations

import math

import torch

from .. import transforms as tf

SOLVERS = ("auto", "fast", "lp", "sgd")


def check_values(values) -> tuple[torch.Tensor, int]:
    """values as float64 (…, 2^n) with n ≥ 1, all finite; returns (values, n)."""
    v = tf.as_values(values)
    if v.ndim == 0:
        raise ValueError("values must have a last dimension of length 2**n (one entry per "
                         "coalition), got a scalar")
    n = tf.n_players(v.shape[-1])
    if n < 1:
        raise ValueError("values must describe at least one player (last dimension 2**n with "
                         f"n ≥ 1), got length {v.shape[-1]}")
    if v.shape[-1] > 1 << 20:
        raise ValueError(f"n = {n} players is too many for an exact decomposition (2^n entries)")
    finite = torch.isfinite(v)
    if not bool(finite.all()):
        bad = (~finite).reshape(-1, v.shape[-1]).any(0).nonzero().flatten().tolist()
        shown = ", ".join(str(i) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise ValueError(f"values must be finite; non-finite entries at coalition mask indices "
                         f"[{shown}] (bit i = player i)")
    return v, n


def check_solver(solver: str) -> str:
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    return "fast" if solver == "auto" else solver


def zeta_of(v: torch.Tensor, noise_bound, noise_scale, zeta=None
            ) -> tuple[torch.Tensor, float | None]:
    """ζ per sample (shape v.shape[:-1]) and the relative bound used (None for an absolute ζ).

    ``noise_scale="sample"``: ζ = noise_bound·|v_N − v_∅| per sample (the lab code);
    ``"mean"``: noise_bound times the mean of |v_N − v_∅| over the batch (the paper's expectation);
    ``zeta`` (a number or a tensor broadcastable to the batch shape) overrides both.
    """
    if zeta is not None:
        z = torch.as_tensor(zeta, dtype=torch.float64).to(v.device)
        if not bool(torch.isfinite(z).all()) or bool((z < 0).any()):
            raise ValueError(f"an absolute zeta must be finite and ≥ 0, got {zeta}")
        try:
            z = torch.broadcast_to(z, v.shape[:-1]).clone()
        except RuntimeError:
            raise ValueError(f"zeta of shape {tuple(z.shape)} does not broadcast to the batch "
                             f"shape {tuple(v.shape[:-1])}") from None
        return z, None
    if isinstance(noise_bound, bool) or not isinstance(noise_bound, (int, float)):
        raise TypeError(f"noise_bound must be a number, got {type(noise_bound).__name__}")
    if not math.isfinite(noise_bound) or noise_bound < 0:
        raise ValueError(f"noise_bound must be a finite number ≥ 0, got {noise_bound}")
    spread = (v[..., -1] - v[..., 0]).abs()
    if noise_scale == "sample":
        return noise_bound * spread, float(noise_bound)
    if noise_scale == "mean":
        return torch.full_like(spread, noise_bound) * spread.mean(), float(noise_bound)
    raise ValueError(f"noise_scale must be 'sample' or 'mean', got {noise_scale!r} "
                     "(pass zeta=... for an absolute bound)")
