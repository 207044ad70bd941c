"""Input checks for :func:`ibn.and_or.extract`: clear errors for bad values and settings."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .. import transforms as tf
from .._checks import check_flag, check_number

SOLVERS = ("auto", "fast", "lp", "sgd")


def check_values(values) -> tuple[torch.Tensor, int]:
    """values as float64 (…, 2^n) with 1 ≤ n ≤ 20, all finite, a non-empty batch; returns
    (values, n)."""
    return tf.check_values(values, min_players=1, max_players=20)


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


TOL_RANGE = (1e-10, 1e-6)  # HiGHS's feasibility tolerances: its minimum, and the loosest kept
MATCH_RTOL = 1e-7  # universal matching and |δ| ≤ ζ, relative to max_T |r_T|
GAP_RTOL = 1e-6  # certified gap (objective − lower bound), relative to the objective


def check_n_jobs(n_jobs) -> int:
    """A joblib-style process count: a non-zero integer (negative: counted back from the CPUs)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (−1 = all CPUs) or None, got "
                         f"{n_jobs!r}")
    return int(n_jobs)


def check_options(options: dict) -> None:
    """Check the solver options of :func:`ibn.and_or.extract` (the names were checked before)."""
    checks = {
        "tol": dict(low=TOL_RANGE[0], high=TOL_RANGE[1]),
        "time_limit": dict(low=0, low_open=True, allow_none=True),
        "dense_fraction": dict(low=0, low_open=True, high=1),
        "max_rounds": dict(low=1, integer=True),
        "steps": dict(low=1, integer=True),
        "lr": dict(low=0, low_open=True),
        "momentum": dict(low=0, high=1, high_open=True),
    }
    for key, value in options.items():
        if key in checks:
            check_number(key, value, **checks[key])
    if options.get("n_jobs") is not None:
        check_n_jobs(options["n_jobs"])
    if "progress" in options:
        check_flag("progress", options["progress"])
    method = options.get("dense_method", "auto")
    if method not in ("auto", "simplex", "ipm"):
        raise ValueError(f"dense_method must be 'auto', 'simplex' or 'ipm', got {method!r}")


def check_solution(out: dict, r: np.ndarray, zeta: float) -> None:
    """Refuse an exact solver's result unless it is what it claims: finite, |δ| ≤ ζ, universal
    matching r − Φx = δ, and a certified gap (objective − lower bound) of at most ``GAP_RTOL`` of
    the objective, in the units of max_T |r_T|."""
    from ._common import l1, phi

    a, o, delta = out["and_eff"], out["or_eff"], out["delta"]
    scale = max(float(np.abs(r[1:]).max(initial=0.0)), 1e-300)
    resid = r - phi(a, o)
    resid[0] = 0.0
    objective = float(l1(a, o))
    lower = float(out["lower_bound"])
    problems = []
    if not (np.isfinite(a).all() and np.isfinite(o).all() and np.isfinite(delta).all()):
        problems.append("non-finite effects")
    elif np.abs(delta).max() > zeta + MATCH_RTOL * scale:
        problems.append(f"|δ| exceeds ζ by {np.abs(delta).max() - zeta:.3g}")
    elif np.abs(resid - delta).max() > MATCH_RTOL * scale:
        problems.append(f"universal matching off by {np.abs(resid - delta).max():.3g}")
    if not math.isfinite(lower) or abs(objective - lower) > GAP_RTOL * max(objective, scale * 1e-9):
        problems.append(f"objective {objective:.10g} is not certified by the lower bound "
                        f"{lower:.10g}")
    if problems:
        raise RuntimeError(f"the {out.get('method', 'exact')} solver's result fails its checks "
                           f"({'; '.join(problems)}); it is not returned as optimal")
