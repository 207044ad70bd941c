r"""The sparsest AND-OR decomposition of a game (paper B eq. 14–18;
Conventions page, conventions-and-or), exact and fast.

:func:`extract` splits the reward :math:`v(x_T)` of every coalition :math:`T` into AND effects
(triggered when all of :math:`S` is present), OR effects (triggered when any of :math:`S` is
present) and a bounded noise :math:`\delta`:

.. math::

   v(x_T) - \delta_T = b + \sum_{\emptyset \neq S \subseteq T} I^{\mathrm{AND}}_S
   + \sum_{S \cap T \neq \emptyset} I^{\mathrm{OR}}_S,
   \qquad \lvert \delta_T\rvert \le \zeta, \quad \delta_\emptyset = 0,

choosing the split with the smallest
:math:`\sum_{S \neq \emptyset} |I^{\mathrm{AND}}_S| + |I^{\mathrm{OR}}_S|` (a linear program).

Solvers:

* ``"auto"``/``"fast"`` (:mod:`ibn.and_or.fast`): exact, with a certified dual lower bound; row
  generation on a warm-started HiGHS dual simplex, or HiGHS's interior point on the whole LP
  when a batched ADMM estimate (:mod:`ibn.and_or.admm`) predicts a dense optimum.
* ``"lp"`` (:mod:`ibn.and_or.lp`): the full LP, formulated through the butterfly stages (no dense
  :math:`2^n \times 2^n` matrix), solved by ``scipy.optimize.linprog(method="highs")``.
* ``"sgd"`` (:mod:`ibn.and_or.sgd`): the lab's momentum SGD on :math:`(\gamma, \delta)`, for
  comparison.

Layout: ``result`` (the :class:`AndOrResult` dataclass), ``_common`` (:math:`\Phi x`,
:math:`\Phi^\top y`, certificates, polishing), ``lp``, ``fast``, ``admm`` (batched estimate of
the optimum), ``_highs`` (incremental HiGHS), ``sgd``, ``synthetic`` (planted and MLP games),
``_validate`` (input checks).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import transforms as tf
from .._threads import limit_process, one_thread
from ._validate import check_n_jobs, check_options, check_solution, check_solver, check_values, zeta_of
from .result import AndOrResult

__all__ = ["extract", "AndOrResult"]

_EXACT_OPTIONS = {"tol", "time_limit", "n_jobs", "progress"}
_FAST_OPTIONS = _EXACT_OPTIONS | {"dense_fraction", "dense_method", "max_rounds"}
_SGD_OPTIONS = {"steps", "lr", "momentum", "preset", "pin_delta_empty", "progress"}


def _solve_sample(solver: str, v: np.ndarray, zeta: float, n: int, opts: dict,
                  hint=None) -> dict:
    """One sample with an exact solver, checked by :func:`check_solution` (a top-level function,
    so that worker processes can run it); ``hint``: the sample's :class:`ibn.and_or.fast.Hint`."""
    from .fast import solve_fast
    from .lp import solve_lp

    r = v - v[0]
    if solver == "fast":
        out = solve_fast(r, float(zeta), n, hint=hint, **opts)
    else:
        out = solve_lp(r, float(zeta), n, **opts)
    check_solution(out, r, float(zeta))
    out["and_eff"][0] = v[0]
    return out


def _in_worker(fn, *args):
    """``fn(*args)`` in a worker process, on one thread (see :mod:`ibn._threads`)."""
    limit_process()
    return fn(*args)


def _indexed(i: int, *args) -> tuple[int, dict]:
    return i, _in_worker(_solve_sample, *args)


def n_jobs_for(n_jobs, batch: int, n: int) -> int:
    r"""The number of processes for a batch.

    ``n_jobs`` if given, else the active ``joblib.parallel_config``'s, else one per usable CPU for
    batches of at least 4 samples at :math:`n \ge 10` (where workers repay their start-up of a few
    seconds, paid once per session) and 1 otherwise; never more than the batch. Negative values
    count back from the CPUs as in joblib (−1 = all).

    Args:
        n_jobs: the requested number of processes, or None.
        batch: the number of samples.
        n: the number of players.

    Returns:
        The number of processes, between 1 and ``batch``.

    Raises:
        ValueError: ``n_jobs`` is not a non-zero integer or None.
    """
    import joblib

    if n_jobs is None:
        n_jobs = joblib.parallel.get_active_backend()[1]
    cpus = joblib.cpu_count()
    if n_jobs is None:
        n_jobs = cpus if n >= 10 and batch >= 4 else 1
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs < 0:
        n_jobs = max(cpus + 1 + n_jobs, 1)
    return max(1, min(n_jobs, batch))


def _exact(solver, flat: np.ndarray, zetas: np.ndarray, n: int, opts: dict):
    """Every sample of the batch with an exact solver, in this process or in ``n_jobs`` joblib
    workers. Each sample's hint and solve depend on that sample alone, so its effects are the
    same (bit for bit) whatever batch it came in and however many processes solved it."""
    from .fast import HINT_BATCH, support_hints

    opts = dict(opts)
    progress = opts.pop("progress", False)
    b = flat.shape[0]
    jobs = n_jobs_for(opts.pop("n_jobs", None), b, n)
    need_hints = solver == "fast" and opts.get("dense_method", "auto") == "auto"
    r = flat - flat[:, :1]
    if jobs == 1:  # in this process (extract runs it on one thread)
        hints = support_hints(r, zetas, n) if need_hints else [None] * b
        return [_solve_sample(solver, flat[i], zetas[i], n, opts, hints[i])
                for i in _progress(range(b), b, solver, progress)]

    import joblib
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    for attempt in (1, 2):  # a worker that died before or during the call: one retry
        try:
            hints = [None] * b
            if need_hints:  # one contiguous part per worker, of at least HINT_BATCH samples
                parts = max(1, min(jobs, b // HINT_BATCH))
                bounds = np.linspace(0, b, parts + 1).round().astype(int)
                done = joblib.Parallel(n_jobs=min(jobs, parts))(
                    joblib.delayed(_in_worker)(support_hints, r[lo:hi], zetas[lo:hi], n)
                    for lo, hi in zip(bounds[:-1], bounds[1:]))
                hints = [h for part in done for h in part]
            # the largest predicted optima first (longest processing time first), so that the
            # last samples to finish are short ones
            order = sorted(range(b), key=lambda i: -(hints[i].support if hints[i] else 0))
            outs: list = [None] * b
            tasks = joblib.Parallel(n_jobs=jobs, return_as="generator_unordered")(
                joblib.delayed(_indexed)(i, solver, flat[i], zetas[i], n, opts, hints[i])
                for i in order)
            for i, out in _progress(tasks, b, solver, progress):
                outs[i] = out
            return outs
        except TerminatedWorkerError:
            if attempt == 2:
                raise


def _progress(iterable, total: int, solver: str, progress: bool):
    if not progress:
        return iterable
    from .._progress import tqdm

    return tqdm(iterable, total=total, desc=f"and_or {solver}", leave=False)


def extract(values, *, noise_bound: float | None = None, noise_scale: str | None = None,
            solver: str = "auto", zeta=None, **options) -> AndOrResult:
    r"""The sparsest AND-OR decomposition of :math:`v(x_T)` for every coalition :math:`T`
    (Conventions page, eq-sparsest).

    A sample's effects do not depend on the other samples of the batch nor on ``n_jobs``: the same
    game gives the same vertex, bit for bit, alone or in any batch.

    Args:
        values: float tensor or array ``(..., 2**n)`` of :math:`v(x_T)`, bit i of T = player i;
            leading dimensions are a batch (a 1-D input gives an unbatched result).
        noise_bound: :math:`r` in the bound :math:`\zeta = r \cdot |v(x_N) - v(x_\emptyset)|`
            (default 0.02, or the SGD preset's; 0 gives an exact split).
        noise_scale: ``"sample"`` (per sample, as in the lab code; the default) or ``"mean"``
            (the mean of :math:`|v(x_N) - v(x_\emptyset)|` over the batch, the paper's expectation;
            Conventions page, eq-noise-bound-mean).
        solver: ``"auto"`` (= ``"fast"``), ``"fast"``, ``"lp"`` or ``"sgd"``.
        zeta: an absolute bound :math:`\zeta` (a number or a tensor broadcastable to the batch
            shape); overrides ``noise_bound`` and ``noise_scale``.
        **options: the solver's options. For ``"fast"`` and ``"lp"``:

            * ``tol``: HiGHS's feasibility tolerances, in [1e-10, 1e-6] (default 1e-10);
            * ``time_limit``: seconds per sample (> 0; the whole LP takes over when it runs out);
            * ``n_jobs``: processes for a batch (joblib, loky backend by default; workers are
              started once per session and reused). Default: the active
              ``joblib.parallel_config``'s ``n_jobs``, else one per usable CPU for at least 4
              samples at :math:`n \ge 10`, else 1; negative counts back from the CPUs (−1 = all);
            * ``progress``: a progress bar over the samples;
            * ``"fast"`` only: ``dense_method`` (``"auto"``, default: from :math:`n = 10` on, an
              ADMM estimate of each sample's optimum chooses between row and column generation
              started from its rows and effects and the interior point; below, row generation
              from the singletons; ``"simplex"``: row generation without the estimate;
              ``"ipm"``: interior point on the whole LP), ``dense_fraction`` (in (0, 1]) and
              ``max_rounds`` (≥ 1), both row generation only. See :mod:`ibn.and_or.fast`.

            For ``"sgd"`` (the lab's procedure, :mod:`ibn.and_or.sgd`): ``preset`` (a name of
            ``ibn.and_or.sgd.LAB_PRESETS``: steps, lr, momentum and noise bound of a published
            lab version, reproduced to round-off), ``steps`` (≥ 1, default 20 000), ``lr``
            (> 0, default 1e-6), ``momentum`` (in [0, 1), default 0.9), ``pin_delta_empty``
            (default True, this project's :math:`\delta_\emptyset = 0`; the presets' False lets
            :math:`\delta_\emptyset` move as the lab's code does, and the bias is then
            :math:`v(x_\emptyset) - \delta_\emptyset`), ``progress``.

    Returns:
        :class:`AndOrResult`, with ``and_effects[..., 0]`` = :math:`v(x_\emptyset)`,
        :math:`|\delta| \le \zeta`, and ``predict(masks) == values - delta`` at those masks
        (universal matching).

    Raises:
        ValueError: a bad argument, named in the message with its allowed range.
        TypeError: an argument of the wrong type, or an option the solver does not take.
        RuntimeError: an exact solver's result fails the checks it gets before it is returned
            (:math:`|\delta| \le \zeta`, universal matching, the certified gap).
    """
    v, n = check_values(values)
    solver = check_solver(solver)
    allowed = {"fast": _FAST_OPTIONS, "lp": _EXACT_OPTIONS, "sgd": _SGD_OPTIONS}[solver]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} for solver {solver!r}; "
                        f"allowed: {', '.join(sorted(allowed))}")
    check_options(options)
    if solver == "sgd":  # the lab's settings: explicit options, then the preset's, then defaults
        from .sgd import resolve_options

        lab = resolve_options(options.get("preset"), steps=options.get("steps"),
                              lr=options.get("lr"), momentum=options.get("momentum"),
                              pin_delta_empty=options.get("pin_delta_empty"))
        noise_bound = lab["noise_bound"] if noise_bound is None else noise_bound
        noise_scale = lab["noise_scale"] if noise_scale is None else noise_scale
    noise_bound = 0.02 if noise_bound is None else noise_bound
    noise_scale = "sample" if noise_scale is None else noise_scale
    z, rel = zeta_of(v, noise_bound, noise_scale, zeta)
    m = 1 << n
    batch_shape = v.shape[:-1]
    flat = v.reshape(-1, m)
    zflat = z.reshape(-1)
    device = v.device

    with one_thread():
        if solver == "sgd":
            from .sgd import sgd_decompose

            run = {k: lab[k] for k in ("steps", "lr", "momentum", "pin_delta_empty")}
            a, o, gamma, delta = sgd_decompose(flat, zflat, progress=options.get("progress", False),
                                               **run)
            lower = torch.full((flat.shape[0],), float("nan"), dtype=torch.float64,
                               device=device)
            info = [dict(run, preset=options.get("preset")) for _ in range(flat.shape[0])]
        else:
            outs = _exact(solver, flat.detach().cpu().numpy(), zflat.detach().cpu().numpy(), n,
                          options)
            a = torch.as_tensor(np.stack([o_["and_eff"] for o_ in outs])).to(device)
            o = torch.as_tensor(np.stack([o_["or_eff"] for o_ in outs])).to(device)
            delta = torch.as_tensor(np.stack([o_["delta"] for o_ in outs])).to(device)
            lower = torch.as_tensor([o_["lower_bound"] for o_ in outs],
                                    dtype=torch.float64).to(device)
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
