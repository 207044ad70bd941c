"""The sparsest AND-OR decomposition of a game (paper B eq. 14–18; SPEC §2), exact and fast.

``extract(values)`` splits the reward v(x_T) of every coalition into AND effects (triggered when all
of S is present), OR effects (triggered when any of S is present) and a bounded noise δ:

    v(x_T) − δ_T = b + Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S,   |δ_T| ≤ ζ,  δ_∅ = 0,

choosing the split with the smallest Σ_{S≠∅} |I^AND_S| + |I^OR_S| (a linear program).

Solvers:

* ``"auto"``/``"fast"`` (:mod:`ibn.and_or.fast`): exact, with a certified dual lower bound; row
  generation on a warm-started HiGHS dual simplex, or HiGHS's interior point on the whole LP
  when a batched ADMM estimate (:mod:`ibn.and_or.admm`) predicts a dense optimum.
* ``"lp"`` (:mod:`ibn.and_or.lp`): the full LP, formulated through the butterfly stages (no dense
  2^n × 2^n matrix), solved by ``scipy.optimize.linprog(method="highs")``.
* ``"sgd"`` (:mod:`ibn.and_or.sgd`): the lab's momentum SGD on (γ, δ), for comparison.

Layout: ``result`` (the :class:`AndOrResult` dataclass), ``_common`` (Φx, Φᵀy, certificates,
polishing), ``lp``, ``fast``, ``admm`` (batched estimate of the optimum), ``_highs`` (incremental
HiGHS), ``sgd``, ``synthetic`` (planted and MLP games), ``_validate`` (input checks).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from .. import transforms as tf
from ._validate import check_solver, check_values, zeta_of
from .result import AndOrResult

__all__ = ["extract", "AndOrResult"]

_EXACT_OPTIONS = {"tol", "time_limit", "workers", "progress"}
_FAST_OPTIONS = _EXACT_OPTIONS | {"dense_fraction", "dense_method", "max_rounds"}
_SGD_OPTIONS = {"steps", "lr", "momentum", "progress"}


def _solve_sample(solver: str, v: np.ndarray, zeta: float, n: int, opts: dict,
                  hint=None) -> dict:
    """One sample with an exact solver (a top-level function so that worker processes can run it);
    ``hint``: the sample's :class:`ibn.and_or.fast.Hint`, if any."""
    from .fast import solve_fast
    from .lp import solve_lp

    r = v - v[0]
    if solver == "fast":
        out = solve_fast(r, float(zeta), n, hint=hint, **opts)
    else:
        out = solve_lp(r, float(zeta), n, **opts)
    a = out["and_eff"]
    a[0] = v[0]
    return out


def _pooled_hints(pool, workers: int, flat: np.ndarray, zetas: np.ndarray, n: int) -> list:
    """The batch's ADMM estimates, one contiguous part per worker process, with the step count
    of the whole batch. One process gains nothing from a second torch thread here (1000 steps
    for 50 samples: 1.6–1.8 s on one thread or two), so the parts run side by side; each part
    keeps at least ``HINT_BATCH`` samples, below which a step costs more a sample."""
    from .fast import HINT_BATCH, hint_iterations, support_hints

    b = flat.shape[0]
    parts = max(1, min(workers, b // HINT_BATCH))
    bounds = np.linspace(0, b, parts + 1).round().astype(int)
    r = flat - flat[:, :1]
    steps = hint_iterations(b)
    futures = [pool.submit(support_hints, r[lo:hi], zetas[lo:hi], n, steps)
               for lo, hi in zip(bounds[:-1], bounds[1:])]
    return [h for f in futures for h in f.result()]


def _exact(solver, flat: np.ndarray, zetas: np.ndarray, n: int, opts: dict):
    opts = dict(opts)
    workers = opts.pop("workers", None)
    progress = opts.pop("progress", False)
    if workers is None:  # processes where they repay their start-up (~2 s, once per session)
        workers = "auto" if n >= 10 and flat.shape[0] >= 4 else 1
    if workers == "auto":
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
    b = flat.shape[0]
    hints = [None] * b
    need_hints = solver == "fast" and opts.get("dense_method", "auto") == "auto"
    if need_hints and not (workers > 1 and b > 1):
        from .fast import support_hints  # one batched ADMM estimate for the whole batch

        hints = support_hints(flat - flat[:, :1], zetas, n)
    if workers > 1 and b > 1:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        from . import _pool

        for attempt in (1, 2):  # a worker that died before or during the call: one retry
            pool = _pool.get(workers)
            try:
                if need_hints:
                    hints = _pooled_hints(pool, workers, flat, zetas, n)
                # the largest predicted optima first (longest processing time first), so
                # that the last samples to finish are short ones
                order = sorted(range(b), key=lambda i: -(hints[i].support
                                                         if hints[i] is not None else 0))
                submitted = {i: pool.submit(_solve_sample, solver, flat[i], zetas[i], n, opts,
                                            hints[i]) for i in order}
                futures = [submitted[i] for i in range(b)]
                if progress:
                    from tqdm.auto import tqdm

                    for _ in tqdm(as_completed(futures), total=b, desc=f"and_or {solver}",
                                  leave=False):
                        pass
                return [f.result() for f in futures]
            except BrokenProcessPool:
                _pool.terminate()
                if attempt == 2:
                    raise
            except BaseException:
                # a failed sample or Ctrl-C: stop the batch's remaining solves now instead of
                # leaving them to delay the next call (and the interpreter's exit)
                _pool.terminate()
                raise
    iterator = range(b)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"and_or {solver}", leave=False)
    return [_solve_sample(solver, flat[i], zetas[i], n, opts, hints[i]) for i in iterator]


def extract(values, *, noise_bound: float = 0.02, noise_scale: str = "sample",
            solver: str = "auto", zeta=None, **options) -> AndOrResult:
    """The sparsest AND-OR decomposition of v(x_T) for every coalition T (SPEC §2).

    Args:
        values: float tensor/array (..., 2^n) of v(x_T), bit i of T = player i; leading
            dimensions are a batch (a 1-D input gives an unbatched result).
        noise_bound: ζ = noise_bound · |v(x_N) − v(x_∅)| (default 0.02; 0 gives an exact split).
        noise_scale: ``"sample"`` (per sample, as in the lab code) or ``"mean"`` (the mean of
            |v(x_N) − v(x_∅)| over the batch, the paper's expectation).
        solver: ``"auto"`` (= ``"fast"``), ``"fast"``, ``"lp"`` or ``"sgd"``.
        zeta: an absolute bound (number or tensor broadcastable to the batch shape); overrides
            noise_bound and noise_scale.
        **options: for ``"fast"``/``"lp"``: ``tol`` (HiGHS tolerances, default 1e-10),
            ``time_limit`` (seconds per sample), ``workers`` (processes for a batch,
            started once per session and reused, so they keep the ``ibn`` code they imported;
            they also compute the batch's ADMM estimates, in parts, and take the samples with
            the largest predicted optima first;
            ``"auto"`` = one per usable CPU; default ``"auto"`` for n ≥ 10 and at least 4
            samples, else 1), ``progress``; ``"fast"`` also ``dense_method`` (``"auto"``, default:
            from n = 10 on, a batched ADMM estimate of the optimum chooses per sample between
            row and column generation started from its rows and effects and the interior
            point; below, row generation from the singletons; ``"simplex"``: row generation
            without the estimate; ``"ipm"``: interior point on the whole LP), ``dense_fraction``
            and ``max_rounds`` (both row generation only). See :mod:`ibn.and_or.fast`.
            For ``"sgd"``: ``steps`` (20 000), ``lr`` (1e-6), ``momentum`` (0.9), ``progress``.

    Returns:
        :class:`AndOrResult`; ``and_effects[..., 0]`` = v(x_∅), |δ| ≤ ζ, and
        ``predict(masks) == values − delta`` at those masks (universal matching).
    """
    v, n = check_values(values)
    solver = check_solver(solver)
    allowed = {"fast": _FAST_OPTIONS, "lp": _EXACT_OPTIONS, "sgd": _SGD_OPTIONS}[solver]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} for solver {solver!r}; "
                        f"allowed: {', '.join(sorted(allowed))}")
    z, rel = zeta_of(v, noise_bound, noise_scale, zeta)
    m = 1 << n
    batch_shape = v.shape[:-1]
    flat = v.reshape(-1, m)
    zflat = z.reshape(-1)
    device = v.device

    if solver == "sgd":
        from .sgd import sgd_decompose

        sgd_opts = {k: options[k] for k in ("steps", "lr", "momentum", "progress") if k in options}
        a, o, gamma, delta = sgd_decompose(flat, zflat, **sgd_opts)
        lower = torch.full((flat.shape[0],), float("nan"), dtype=torch.float64, device=device)
        info = [{"steps": sgd_opts.get("steps", 20_000), "lr": sgd_opts.get("lr", 1e-6)}
                for _ in range(flat.shape[0])]
    else:
        flat_np = flat.detach().cpu().numpy()
        outs = _exact(solver, flat_np, zflat.detach().cpu().numpy(), n, options)
        a = torch.as_tensor(np.stack([o_["and_eff"] for o_ in outs])).to(device)
        o = torch.as_tensor(np.stack([o_["or_eff"] for o_ in outs])).to(device)
        delta = torch.as_tensor(np.stack([o_["delta"] for o_ in outs])).to(device)
        lower = torch.as_tensor([o_["lower_bound"] for o_ in outs], dtype=torch.float64).to(device)
        a_nobias = a.clone()
        a_nobias[:, 0] = 0.0
        u_and = tf.zeta(a_nobias) + a[:, :1]
        u_or = tf.or_zeta(o)
        gamma = 0.5 * (u_and - u_or)
        info = [{k: val for k, val in o_.items() if k not in ("and_eff", "or_eff", "delta")}
                for o_ in outs]
    objective = a[:, 1:].abs().sum(-1) + o[:, 1:].abs().sum(-1)
    return AndOrResult(
        and_effects=a.reshape(*batch_shape, m),
        or_effects=o.reshape(*batch_shape, m),
        gamma=gamma.reshape(*batch_shape, m),
        delta=delta.reshape(*batch_shape, m),
        objective=objective.reshape(batch_shape),
        values=v,
        noise_bound=rel,
        zeta=z,
        solver=solver,
        n=n,
        lower_bound=lower.reshape(batch_shape),
        info=info,
    )
