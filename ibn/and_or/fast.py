"""The default solver: exact row generation with a warm-started dual simplex and a dual certificate.

For one sample (notation of :mod:`ibn.and_or._common`) the LP  min ||x||_1  s.t. |Φx − r| ≤ ζ
has 2^n − 1 rows, but at the optimum only the *active* rows (|δ_T| = ζ) carry dual weight, and on
sparse games they are a small fraction. The solver therefore keeps every column (AND columns
S ≠ ∅ and OR columns |S| ≥ 2, each split into x⁺ − x⁻; an OR singleton is the same column as the
AND singleton and is left out) and only a working set R of rows:

1. start with R = the n singleton coalitions and N;
2. solve the restricted LP with HiGHS (warm-started from the previous basis: adding rows keeps the
   basis dual feasible, so the dual simplex resumes where it stopped);
3. compute δ = r − Φx for *all* coalitions with the butterflies (O(n·2^n)); add the most violated
   rows outside R (a batch that grows with |R|) and go to 2; stop when no row is violated.

At that point x is feasible for the full LP, and the restricted duals y (zero off R) satisfy
|Φᵀy| ≤ 1 for every column because every column is in the restricted LP; so x is optimal, and
``lower_bound`` = rᵀy − ζ||y||_1 (with y scaled into the dual feasible set, priced over all
columns by ``zeta_transpose`` and ``zeta``) certifies it independently of the solver.

OR columns are stored sparsely: u^OR_T = t − Σ_{S∩T=∅} o_S with one extra free variable t = Σ_S o_S,
so a column S meets only the rows T ⊆ N∖S.

When a game is dense (most rows become active, as on real networks' games) row generation stops
paying; once the working set would pass ``dense_fraction`` of the rows, every remaining row is
added at once and the warm-started dual simplex finishes the full LP in this compact form (rows
T, columns with 3^n nonzeros in all: about 2–3× faster than the staged LP of
:mod:`ibn.and_or.lp`, which stays the fallback when HiGHS reports a solve error). The vertex is
then polished (:func:`ibn.and_or._common.polish`). ``dense_method="ipm"`` solves that full LP
afresh with HiGHS's interior-point method and crossover instead: steadier on games where the
dual simplex needs many pivots (random MLP games at n = 10: 1.8 s vs 2.6 s a sample), slower on
the trained ResNet-20's games (1.5 s vs 0.65 s), hence not the default.

Performance: see ``benchmarks/bench_solvers.py`` and ``benchmarks/bench_mnist_extract.py``. On
planted sparse games at n = 10 the working set ends at ~25–35 % of the rows (~0.2 s a sample);
on dense games (a trained ResNet-20's or a random MLP's log-odds, 30–80 % of the rows active at
the optimum) a sample takes ~0.5–2 s (ResNet-20) and ~2–4 s (MLP) on one core, at the LP optimum
(certified gap ≤ 1e-9).
"""

from __future__ import annotations

import time

import numpy as np

from . import _highs
from ._common import dual_bound, l1, phi, polish
from .lp import _trivial, solve_lp, solve_sparse_highs

__all__ = ["solve_fast"]


class _RowGen:
    def __init__(self, r: np.ndarray, zeta: float, n: int, tol: float, time_limit,
                 solver: str = "choose"):
        self.n = n
        m = self.m = 1 << n
        self.r = r
        self.zeta = zeta
        self.lp = _highs.Highs(tol=tol, time_limit=time_limit, solver=solver)
        s_all = np.arange(1, m)
        self.s_and = s_all
        self.s_or = s_all[np.bitwise_count(s_all) >= 2]
        k_and, k_or = self.s_and.size, self.s_or.size
        # column 0: t (free); then AND S (+,−) pairs; then OR S (+,−) pairs.
        self.col_and = 1 + 2 * np.arange(k_and)
        self.col_or = 1 + 2 * k_and + 2 * np.arange(k_or)
        # row 0: t − Σ_S o_S = 0.
        self.lp.add_rows([0.0], [0.0], [0], [], [])
        n_cols = 1 + 2 * k_and + 2 * k_or
        cost = np.ones(n_cols)
        cost[0] = 0.0
        lo = np.zeros(n_cols)
        lo[0] = -np.inf
        starts = np.zeros(n_cols, dtype=np.int64)
        # entries in row 0: t: +1; o⁺_S: −1; o⁻_S: +1
        has = np.zeros(n_cols, dtype=bool)
        has[0] = True
        has[self.col_or] = True
        has[self.col_or + 1] = True
        counts = has.astype(np.int64)
        starts[1:] = np.cumsum(counts)[:-1]
        vals = np.zeros(n_cols)
        vals[0] = 1.0
        vals[self.col_or] = -1.0
        vals[self.col_or + 1] = 1.0
        self.lp.add_cols(cost, lo, np.full(n_cols, np.inf), starts, np.zeros(int(has.sum())),
                         vals[has])
        self.rows = np.zeros(0, dtype=np.int64)
        self.in_rows = np.zeros(m, dtype=bool)
        self.in_rows[0] = True

    def add_rows(self, t: np.ndarray) -> None:
        t = np.asarray(t, dtype=np.int64)
        inter_and = (t[:, None] & self.s_and[None, :]) == self.s_and[None, :]
        inter_or = (t[:, None] & self.s_or[None, :]) == 0
        ra, ca = np.nonzero(inter_and)
        ro, co = np.nonzero(inter_or)
        k = t.size
        # per row: t (+1), AND pairs (+1, −1), OR pairs (−1, +1)
        row_id = np.concatenate([np.arange(k), np.repeat(ra, 2), np.repeat(ro, 2)])
        col_id = np.concatenate([np.zeros(k, dtype=np.int64),
                                 np.stack([self.col_and[ca], self.col_and[ca] + 1], 1).ravel(),
                                 np.stack([self.col_or[co], self.col_or[co] + 1], 1).ravel()])
        val = np.concatenate([np.ones(k), np.tile([1.0, -1.0], ra.size),
                              np.tile([-1.0, 1.0], ro.size)])
        order = np.argsort(row_id, kind="stable")
        counts = np.bincount(row_id, minlength=k)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.lp.add_rows(self.r[t] - self.zeta, self.r[t] + self.zeta, starts, col_id[order],
                         val[order])
        self.rows = np.concatenate([self.rows, t])
        self.in_rows[t] = True

    def primal(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.zeros(self.m)
        o = np.zeros(self.m)
        a[self.s_and] = x[self.col_and] - x[self.col_and + 1]
        o[self.s_or] = x[self.col_or] - x[self.col_or + 1]
        return a, o


def _full_lp(r: np.ndarray, zeta: float, n: int, tol: float, time_limit: float | None) -> dict:
    """The whole LP: the bundled HiGHS object on the ranged form, and ``linprog`` on the
    equality form if that object reports a solve error (seen on real ResNet-20 games)."""
    try:
        out = solve_sparse_highs(r, zeta, n, tol=tol, time_limit=time_limit)
        out.update(method="sparse-lp")
    except RuntimeError as err:
        out = solve_lp(r, zeta, n, tol=tol, time_limit=time_limit)
        out.update(method="linprog", sparse_lp_error=str(err))
    return out


def solve_fast(r: np.ndarray, zeta: float, n: int, *, tol: float = 1e-10,
               dense_fraction: float = 0.45, dense_method: str = "simplex", max_rounds: int = 500,
               time_limit: float | None = None) -> dict:
    """Solve one sample exactly by row generation (see the module docstring).

    ``r`` has length m = 2^n (entry 0 ignored, r_T = v_T − v_∅). Returns the dict of
    :func:`ibn.and_or.lp.solve_lp` plus ``rounds``, ``rows`` (size of the final working set) and
    ``method`` (``"rowgen"``, also when a dense game ends with every row in; ``"sparse-lp"``, or
    ``"linprog"`` from there, after a HiGHS solve error, the time limit or ``max_rounds``;
    ``"linprog"`` without the bundled HiGHS binding).
    """
    if dense_method not in ("simplex", "ipm"):
        raise ValueError(f"dense_method must be 'simplex' or 'ipm', got {dense_method!r}")
    r = np.asarray(r, dtype=np.float64)
    m = 1 << n
    out = _trivial(r, zeta)
    if out is not None:
        out.update(rounds=0, rows=0, method="trivial")
        return out
    if not _highs.AVAILABLE:  # pragma: no cover - depends on the SciPy build
        out = solve_lp(r, zeta, n, tol=tol, time_limit=time_limit)
        out.update(rounds=1, rows=m - 1, method="linprog")
        return out
    t0 = time.perf_counter()
    scale = float(np.abs(r[1:]).max())
    rs = r / scale
    zs = zeta / scale
    gen = _RowGen(rs, zs, n, tol, time_limit)
    singles = 1 << np.arange(n)
    init = np.unique(np.concatenate([singles, [m - 1]]))
    gen.add_rows(init)
    viol_tol = 10 * tol
    rounds = 0
    total_iter = 0
    while True:
        rounds += 1
        status = gen.lp.run()
        total_iter += gen.lp.iterations
        if not gen.lp.optimal():  # numerical trouble in the warm-started object: full LP
            out = _full_lp(r, zeta, n, tol, None if time_limit is None
                           else max(time_limit - (time.perf_counter() - t0), 1.0))
            out.update(rounds=rounds, rows=gen.rows.size, iterations=out["iterations"] + total_iter,
                       restricted_status=str(status))
            return out
        x, duals = gen.lp.solution()
        a, o = gen.primal(x)
        d = rs - phi(a, o)
        d[0] = 0.0
        excess = np.abs(d) - zs
        excess[gen.in_rows] = -np.inf
        violated = np.flatnonzero(excess > viol_tol)
        if violated.size == 0:
            break
        elapsed = time.perf_counter() - t0
        batch = max(32, gen.rows.size // 2)
        if (time_limit is not None and elapsed > time_limit) or rounds >= max_rounds:
            out = _full_lp(r, zeta, n, tol, None if time_limit is None
                           else max(time_limit - elapsed, 1.0))
            out.update(rounds=rounds, rows=gen.rows.size,
                       iterations=out["iterations"] + total_iter)
            return out
        if gen.rows.size + min(batch, violated.size) > dense_fraction * (m - 1):
            # dense game: the full LP in this compact form, by HiGHS's interior-point method
            # with crossover to a vertex ("ipm"), or by the warm-started dual simplex ("simplex").
            if dense_method == "ipm":
                gen = _RowGen(rs, zs, n, tol, None if time_limit is None
                              else max(time_limit - elapsed, 1.0), solver="ipm")
                gen.add_rows(np.arange(1, m))
            else:
                gen.add_rows(np.flatnonzero(~gen.in_rows))
            continue
        if violated.size > batch:
            violated = violated[np.argpartition(-excess[violated], batch)[:batch]]
        gen.add_rows(violated)
    y = np.zeros(m)
    y[gen.rows] = duals[1:]
    a *= scale
    o *= scale
    a, o, delta = polish(a, o, r, zeta, scale)
    lower, _ = dual_bound(y, rs, zs)
    return {"and_eff": a, "or_eff": o, "delta": delta, "objective": float(l1(a, o)),
            "lower_bound": lower * scale, "status": status, "iterations": total_iter,
            "rounds": rounds, "rows": int(gen.rows.size), "method": "rowgen"}
