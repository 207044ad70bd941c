"""The default solver: exact row and column generation (simplex) or interior point, certified.

For one sample (notation of :mod:`ibn.and_or._common`) the LP  min ||x||_1  s.t. |Φx − r| ≤ ζ
has 2^n − 1 rows and ~2^{n+1} columns (AND columns S ≠ ∅ and OR columns |S| ≥ 2, each split into
x⁺ − x⁻; an OR singleton is the same column as the AND singleton and is left out), but at the
optimum only the *active* rows (|δ_T| = ζ) carry dual weight and only the support's columns are
nonzero; on sparse games both are a small fraction. The solver therefore works on a working set
R of rows and C of columns:

1. start with R = the n singleton coalitions and N, and C = every column; with a :class:`Hint`
   (a batched ADMM estimate, :func:`ibn.and_or.admm.admm_estimate`), add to R the rows it gives
   the largest dual weight |y_T| (as many as the effects it predicts), and start C from the AND
   singletons and the effects it predicts instead. The AND column of every row in R is always in
   C, so the restricted LP is feasible (Z on rows R and AND columns R is unit triangular). The
   first solve starts from the basis the hint predicts (its effects basic, as many of its rows
   at the bound of their estimated δ sign, :meth:`_RowGen.start_from`): from the LP's own
   optimum that basis needs no pivot at all (tested); from an estimate whose support
   is ~95 % right, it needs a third to a half fewer pivots than the slack basis, not ~none,
   as a few wrong columns make it singular (HiGHS swaps in logicals) and shift every basic
   value;
2. solve the restricted LP with HiGHS, warm-started from the previous basis (added rows keep the
   basis dual feasible: dual simplex; added columns keep it primal feasible: primal simplex);
3. compute δ = r − Φx for *all* coalitions and Φᵀy for *all* columns with the butterflies
   (O(n·2^n)); add the most violated rows outside R and the columns outside C with the largest
   |Φᵀy|_S > 1 (batches that grow with the working sets), and go to 2; stop when neither exists. If R would pass
   ``dense_fraction`` of the rows, every column and then every row is added at once.

At that point x is feasible for the full LP and the restricted duals y (zero off R) satisfy
|Φᵀy| ≤ 1 for every column; so x is optimal, and ``lower_bound`` = rᵀy − ζ||y||_1 (with y scaled
into the dual feasible set, priced over all columns by ``zeta_transpose`` and ``zeta``)
certifies it independently of the solver.

OR columns are stored sparsely: u^OR_T = t − Σ_{S∩T=∅} o_S with one extra free variable t = Σ_S o_S,
so a column S meets only the rows T ⊆ N∖S.

Which method finishes first depends on the size of the optimal vertex (its number of nonzero
effects, equal to its number of active rows): the warm-started simplex up to ~60 % of the rows at
n = 10 (less at n = 12), the interior point above (measurements: ``benchmarks/README.md``). So:

* ``dense_method="simplex"``: row and column generation (seeded if a hint is given);
* ``dense_method="ipm"``: the whole compact LP by interior point + crossover from the start;
* ``dense_method="auto"`` (default): for n ≥ 10, a :class:`Hint` from ``HINT_STEPS`` ADMM steps
  in float32 (the same for every batch size, so that a sample's vertex does not depend on its
  batch), then ``"ipm"`` when its predicted support is at least :func:`ipm_fraction` of the rows,
  else seeded ``"simplex"`` started from the hint's basis; below n = 10 (no hint is computed
  there) ``"simplex"`` from the singletons and every column.
  Both are exact; a wrong guess or a poor seed costs time only. ``dense_fraction`` and
  ``max_rounds`` concern row generation only.

The staged LP of :mod:`ibn.and_or.lp` stays the fallback when HiGHS reports a solve error. The
vertex is polished (:func:`ibn.and_or._common.polish`) and certified by the dual bound in every
case (gap ≤ 1e-9 relative on the benchmark games).

Performance: see ``benchmarks/bench_solvers.py`` and ``benchmarks/bench_mnist_extract.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import _highs
from ._common import dual_bound, l1, phi, phi_t, polish
from .admm import SUPPORT_RTOL, admm_estimate
from .lp import _trivial, solve_lp, solve_sparse_highs

__all__ = ["solve_fast", "support_hints", "choose_method", "ipm_fraction", "Hint",
           "IPM_FRACTION", "HINT_STEPS"]

# the fraction of rows from which the interior point wins, by n, after HINT_STEPS ADMM steps
IPM_FRACTION = {10: 0.6, 11: 0.475, 12: 0.35}
HINT_MIN_PLAYERS = 10  # below, the LP is small and the dual simplex always quick
# ADMM steps for every hint, whatever the batch: a sample's hint, and so its vertex, must not
# depend on the other samples of its call (300 steps: 0.05 s for one sample on one thread)
HINT_STEPS = 300
HINT_BATCH = 8  # from here a step costs ≤ 1/4 of a one-sample step per sample
CERTIFICATE_SLACK = 1e-6  # max |Φᵀy| − 1 accepted at the end of column generation
CERTIFICATE_GAP = 1e-6  # max (objective − dual bound) / objective accepted at the end
SEED_MIN_DUAL = 1e-6  # seed rows need an estimated dual weight above this fraction of the largest
COLUMN_BATCH = 64  # columns added per pricing round: at most this or half the working set
HINT_CHUNK_ENTRIES = 1 << 20  # samples × 2^n per ADMM batch (~100 MiB of float32 state)


def _pieces(ids: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Order and start offsets that group entries by ``ids`` (0..count−1) into the CSR / CSC
    pieces HiGHS's addRows / addCols take."""
    starts = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=count))[:-1]])
    return np.argsort(ids, kind="stable"), starts


class _RowGen:
    """The compact LP over a working set of rows and of columns, grown in place.

    Columns: 0 is t (free); every AND column S ≠ ∅ and OR column |S| ≥ 2 in the working set is a
    (+, −) pair of nonnegative variables with cost 1. ``columns=None`` puts every column in at
    the start; otherwise only the given ones, and :meth:`add_rows` also adds the AND column of
    each new row, so that the restricted LP stays feasible (Z restricted to rows R and AND
    columns R is unit triangular).
    """

    def __init__(self, r: np.ndarray, zeta: float, n: int, tol: float, time_limit,
                 solver: str = "choose", presolve: bool = True,
                 columns: tuple[np.ndarray, np.ndarray] | None = None):
        self.n = n
        m = self.m = 1 << n
        self.r = r
        self.zeta = zeta
        self.lp = _highs.Highs(tol=tol, time_limit=time_limit, solver=solver, presolve=presolve)
        # HiGHS index of the + variable of each AND / OR column S (−1: not in the working set)
        self.col_and = np.full(m, -1, dtype=np.int64)
        self.col_or = np.full(m, -1, dtype=np.int64)
        self.or_ok = np.bitwise_count(np.arange(m)) >= 2  # OR singletons = AND singletons
        # row 0: t − Σ_S o_S = 0; column 0: t, free, in row 0 (its rows T are added with them)
        self.lp.add_rows([0.0], [0.0], [0], [], [])
        self.lp.add_cols([0.0], [-np.inf], [np.inf], [0], [0], [1.0])
        self.n_cols = 1
        self.rows = np.zeros(0, dtype=np.int64)
        self.in_rows = np.zeros(m, dtype=bool)
        self.in_rows[0] = True
        s_all = np.arange(1, m)
        if columns is None:
            self.add_cols(s_all, s_all[self.or_ok[s_all]])
        else:
            self.add_cols(*columns)

    def add_cols(self, s_and: np.ndarray, s_or: np.ndarray) -> None:
        """Add AND columns ``s_and`` and OR columns ``s_or`` (those already in are skipped)."""
        s_and = np.unique(np.asarray(s_and, dtype=np.int64))
        s_or = np.unique(np.asarray(s_or, dtype=np.int64))
        s_and = s_and[(s_and > 0) & (s_and < self.m)]
        s_or = s_or[(s_or > 0) & (s_or < self.m)]
        s_and = s_and[self.col_and[s_and] < 0]
        s_or = s_or[self.or_ok[s_or] & (self.col_or[s_or] < 0)]
        if s_and.size + s_or.size == 0:
            return
        rows = self.rows
        k_and, k_or = s_and.size, s_or.size
        # entries (local column, HiGHS row, value): AND S in the rows T ⊇ S (+1); OR S in row 0
        # and in the rows T with T ∩ S = ∅ (−1); HiGHS row of self.rows[i] is i + 1
        ca, ra = np.nonzero((rows[None, :] & s_and[:, None]) == s_and[:, None])
        co, ro = np.nonzero((rows[None, :] & s_or[:, None]) == 0)
        col = np.concatenate([ca, k_and + co, k_and + np.arange(k_or)])
        row = np.concatenate([ra + 1, ro + 1, np.zeros(k_or, dtype=np.int64)])
        val = np.concatenate([np.ones(ca.size), -np.ones(co.size + k_or)])
        # each column is a (+, −) pair of HiGHS columns 2c, 2c + 1 with opposite values
        col2 = np.concatenate([2 * col, 2 * col + 1])
        n_new = 2 * (k_and + k_or)
        order, starts = _pieces(col2, n_new)
        self.lp.add_cols(np.ones(n_new), np.zeros(n_new), np.full(n_new, np.inf), starts,
                         np.concatenate([row, row])[order], np.concatenate([val, -val])[order])
        self.col_and[s_and] = self.n_cols + 2 * np.arange(k_and)
        self.col_or[s_or] = self.n_cols + 2 * k_and + 2 * np.arange(k_or)
        self.n_cols += n_new

    def add_rows(self, t: np.ndarray) -> None:
        """Add the rows of coalitions ``t`` (∅ and rows already in are skipped)."""
        t = np.unique(np.asarray(t, dtype=np.int64))
        t = t[(t > 0) & (t < self.m)]
        t = t[~self.in_rows[t]]
        if t.size == 0:
            return
        if self.restricted:  # keep the restricted LP feasible: the AND column of each new row
            self.add_cols(t, np.zeros(0, dtype=np.int64))
        s_and = np.flatnonzero(self.col_and >= 0)
        s_or = np.flatnonzero(self.col_or >= 0)
        inter_and = (t[:, None] & s_and[None, :]) == s_and[None, :]
        inter_or = (t[:, None] & s_or[None, :]) == 0
        ra, ca = np.nonzero(inter_and)
        ro, co = np.nonzero(inter_or)
        k = t.size
        pa = self.col_and[s_and]
        po = self.col_or[s_or]
        # per row: t (+1), AND pairs (+1, −1), OR pairs (−1, +1)
        row_id = np.concatenate([np.arange(k), np.repeat(ra, 2), np.repeat(ro, 2)])
        col_id = np.concatenate([np.zeros(k, dtype=np.int64),
                                 np.stack([pa[ca], pa[ca] + 1], 1).ravel(),
                                 np.stack([po[co], po[co] + 1], 1).ravel()])
        val = np.concatenate([np.ones(k), np.tile([1.0, -1.0], ra.size),
                              np.tile([-1.0, 1.0], ro.size)])
        order, starts = _pieces(row_id, k)
        self.lp.add_rows(self.r[t] - self.zeta, self.r[t] + self.zeta, starts, col_id[order],
                         val[order])
        self.rows = np.concatenate([self.rows, t])
        self.in_rows[t] = True

    def start_from(self, hint: "Hint") -> None:
        """Start the first simplex run from the basis the hint predicts: its effects basic (the
        + or − variable by their sign), its rows (as many, by estimated dual weight) nonbasic at
        the bound its δ sign gives, every other row basic. On dense games the first solve then
        needs a third to a half fewer pivots (see the module docstring); a singular prediction
        is repaired by HiGHS, a wrong one costs pivots only. Coalitions outside 1..2^n − 1 and
        repeated rows are skipped."""
        m = self.m
        eff = {}
        for kind, cols, vals in (("and", hint.and_cols, hint.and_vals),
                                 ("or", hint.or_cols, hint.or_vals)):
            for s_, v_ in zip(np.asarray(cols, dtype=np.int64).tolist(),
                              np.asarray(vals, dtype=np.float64).tolist()):
                if 0 < s_ < m:
                    kind_s = "and" if kind == "or" and not self.or_ok[s_] else kind
                    eff[kind_s, s_] = eff.get((kind_s, s_), 0.0) + v_
        eff = [(kind, s_, v_) for (kind, s_), v_ in eff.items()
               if v_ != 0.0 and (self.col_and if kind == "and" else self.col_or)[s_] >= 0]
        pos = np.full(m, -1, dtype=np.int64)
        pos[self.rows] = np.arange(1, self.rows.size + 1)  # HiGHS row of each coalition
        tight = {}  # HiGHS row -> δ sign, the first occurrence of each row
        for t, d in zip(np.asarray(hint.rows, dtype=np.int64).tolist(),
                        np.asarray(hint.delta_signs, dtype=np.float64).tolist()):
            if 0 < t < m and pos[t] > 0 and int(pos[t]) not in tight:
                tight[int(pos[t])] = d
        tight = list(tight.items())
        k = min(len(eff), len(tight))
        eff = sorted(eff, key=lambda e: -abs(e[2]))[:k]
        col_status = np.zeros(self.n_cols, dtype=np.int8)  # at lower bound 0
        col_status[0] = 1  # t, free
        for kind, s_, v_ in eff:
            p = (self.col_and if kind == "and" else self.col_or)[s_]
            col_status[p if v_ > 0 else p + 1] = 1
        row_status = np.ones(self.rows.size + 1, dtype=np.int8)
        row_status[0] = 0  # t − Σ o = 0
        for i, d in tight[:k]:  # δ > 0: h = r − ζ, the row's lower bound
            row_status[i] = 0 if d > 0 else 2
        self.lp.set_basis(col_status, row_status)

    @property
    def restricted(self) -> bool:
        """Whether some AND or OR column is outside the working set (then columns are priced)."""
        return bool((self.col_and[1:] < 0).any() or (self.col_or[self.or_ok] < 0).any())

    @property
    def n_effect_columns(self) -> int:
        """AND and OR columns in the working set (each a (+, −) pair in HiGHS)."""
        return int((self.col_and >= 0).sum() + (self.col_or >= 0).sum())

    def primal(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.zeros(self.m)
        o = np.zeros(self.m)
        s_and = np.flatnonzero(self.col_and >= 0)
        s_or = np.flatnonzero(self.col_or >= 0)
        a[s_and] = x[self.col_and[s_and]] - x[self.col_and[s_and] + 1]
        o[s_or] = x[self.col_or[s_or]] - x[self.col_or[s_or] + 1]
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


def ipm_fraction(n: int) -> float:
    """The fraction of the 2^n − 1 rows above which the predicted support sends a sample to the
    interior point (hints of ``HINT_STEPS`` ADMM steps): measured at n = 10 and 12, interpolated
    at 11, the n = 10 value below and the n = 12 value beyond."""
    return IPM_FRACTION[min(max(n, 10), 12)]


def choose_method(support_hint: int | None, n: int, fraction: float | None = None) -> str:
    """``"ipm"`` when the predicted optimum has at least ``fraction`` · (2^n − 1) effects
    (default :func:`ipm_fraction`), else ``"simplex"`` (row and column generation). See the
    module docstring for the measurements."""
    if support_hint is None:
        return "simplex"
    fraction = ipm_fraction(n) if fraction is None else fraction
    return "ipm" if support_hint >= fraction * ((1 << n) - 1) else "simplex"


@dataclass(frozen=True)
class Hint:
    """What :func:`admm_estimate` predicts about one sample's optimum.

    ``support``: the number of effects at the optimum; ``rows``: the coalitions T with the
    largest estimated dual weight |y_T|, largest first (``support`` of them, without those below
    ``SEED_MIN_DUAL`` of the largest), which row generation starts from; ``and_cols``,
    ``or_cols``: the coalitions S of the estimate's AND and OR effects above ``SUPPORT_RTOL`` of
    the largest, which column generation starts from; ``and_vals``, ``or_vals``: those effects'
    estimated values and ``delta_signs`` the signs of the estimated δ_T at ``rows`` (all three
    give the start basis; without them the simplex starts from the slack basis). See the module
    docstring."""

    support: int
    rows: np.ndarray
    and_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    or_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    and_vals: np.ndarray | None = None
    or_vals: np.ndarray | None = None
    delta_signs: np.ndarray | None = None


def support_hints(r: np.ndarray, zetas: np.ndarray, n: int,
                  iterations: int | None = None) -> list[Hint | None]:
    """A :class:`Hint` per sample (rows of ``r``) from one batched :func:`admm_estimate` of
    ``iterations`` steps (default ``HINT_STEPS``); ``None`` for every sample below n = 10, where
    row generation is always quick (n = 8: 0.07 s a sample on planted games, 0.09 s on random-MLP
    games), and for a sample whose optimum is trivially 0 (every |r_T| ≤ ζ).

    Each sample's hint depends on that sample alone (the estimate's operations act on each
    sample separately and, on one thread, give the same bits in any batch), so the vertex that
    the solver reaches from it does too."""
    iterations = HINT_STEPS if iterations is None else iterations
    hints: list[Hint | None] = [None] * r.shape[0]
    if n < HINT_MIN_PLAYERS:
        return hints
    r = torch.as_tensor(np.array(r, copy=True) if isinstance(r, np.ndarray) else r)
    zetas = torch.as_tensor(np.array(zetas, copy=True) if isinstance(zetas, np.ndarray) else zetas)
    # samples with every |r_T| ≤ ζ have the trivial optimum x = 0 and need no hint
    todo = torch.nonzero(r[:, 1:].abs().amax(1) > zetas).flatten().tolist()
    chunk = max(1, HINT_CHUNK_ENTRIES >> n)  # ADMM holds ~12 (2, chunk, 2^n) tensors
    for lo in range(0, len(todo), chunk):
        part = todo[lo:lo + chunk]
        est = admm_estimate(r[part], zetas[part], iterations=iterations, dtype=torch.float32)
        weight = est.dual.abs().numpy()
        a_all = est.and_eff.numpy()
        o_all = est.or_eff.numpy()
        delta = est.delta.numpy()
        for i, k, w, a, o, d in zip(part, est.support.tolist(), weight, a_all, o_all, delta):
            top = np.argsort(-w, kind="stable")[:k]
            rows = top[w[top] > SEED_MIN_DUAL * max(w.max(), 1e-300)]  # by weight
            big = SUPPORT_RTOL * max(np.abs(a).max(), np.abs(o).max(), 1e-300)
            ca, co = np.flatnonzero(np.abs(a) > big), np.flatnonzero(np.abs(o) > big)
            hints[i] = Hint(int(k), rows, ca, co, a[ca], o[co], np.sign(d[rows]))
    return hints


def solve_fast(r: np.ndarray, zeta: float, n: int, *, tol: float = 1e-10,
               dense_fraction: float = 0.45, dense_method: str = "auto", max_rounds: int = 500,
               time_limit: float | None = None, hint: Hint | None = None) -> dict:
    """Solve one sample exactly (see the module docstring).

    ``r`` has length m = 2^n (entry 0 ignored, r_T = v_T − v_∅). ``dense_method``: ``"simplex"``
    (row generation, and column generation when a ``hint`` is given; a dense game ends with every
    row and column in, warm-started), ``"ipm"`` (the whole LP by HiGHS's interior point and
    crossover from the start) or ``"auto"`` (``"ipm"`` when ``hint.support``, the predicted
    number of effects at the optimum, is at least :func:`ipm_fraction` of the rows, else row and
    column generation seeded with ``hint.rows``, ``hint.and_cols`` and ``hint.or_cols``; the hint
    is computed here by :func:`support_hints` if not given, which for a batch is cheaper done once
    for all samples; the first simplex run starts from the hint's basis when the hint has
    ``and_vals``, ``or_vals`` and ``delta_signs``). Returns the dict of
    :func:`ibn.and_or.lp.solve_lp` plus ``rounds``, ``rows`` and ``columns`` (sizes of the final
    working sets), ``support_hint`` (``hint.support``), ``start_basis`` (whether HiGHS took the
    hint's basis) and ``method`` (``"rowgen"``, ``"ipm"``; ``"sparse-lp"``, or ``"linprog"``
    from there, after a HiGHS solve error, the time limit, ``max_rounds``, or a final solution
    that fails the checks over all rows (|δ| ≤ ζ) or the certificate (gap ≤ ``CERTIFICATE_GAP``);
    ``"linprog"`` without the bundled HiGHS binding).
    """
    if dense_method not in ("auto", "simplex", "ipm"):
        raise ValueError(f"dense_method must be 'auto', 'simplex' or 'ipm', got {dense_method!r}")
    r = np.asarray(r, dtype=np.float64)
    m = 1 << n
    out = _trivial(r, zeta)
    if out is not None:
        out.update(rounds=0, rows=0, method="trivial", support_hint=None, start_basis=False)
        return out
    if not _highs.AVAILABLE:  # pragma: no cover - depends on the SciPy build
        out = solve_lp(r, zeta, n, tol=tol, time_limit=time_limit)
        out.update(rounds=1, rows=m - 1, method="linprog", support_hint=None, start_basis=False)
        return out
    if dense_method == "auto" and hint is None:
        hint = support_hints(r[None], np.array([zeta]), n)[0]
    support_hint = None if hint is None else hint.support
    if dense_method == "auto":
        dense_method = choose_method(support_hint, n)
    t0 = time.perf_counter()
    scale = float(np.abs(r[1:]).max())
    rs = r / scale
    zs = zeta / scale
    started = False
    if dense_method == "ipm":
        gen = _RowGen(rs, zs, n, tol, time_limit, solver="ipm", presolve=False)
        gen.add_rows(np.arange(1, m))
    else:
        singles = 1 << np.arange(n)
        columns = None
        if hint is not None:
            columns = (np.concatenate([singles, hint.and_cols]), hint.or_cols)
        gen = _RowGen(rs, zs, n, tol, time_limit, columns=columns)
        seed = [singles, [m - 1]] + ([] if hint is None else [hint.rows])
        gen.add_rows(np.unique(np.concatenate(seed).astype(np.int64)))
        if hint is not None and not any(
                x is None for x in (hint.and_vals, hint.or_vals, hint.delta_signs)):
            try:
                gen.start_from(hint)
                started = True
            except RuntimeError:  # HiGHS refused the predicted basis: the slack basis, as before
                pass
    viol_tol = 10 * tol
    rounds = 0
    total_iter = 0

    def fallback(**info) -> dict:
        """The whole LP, after a HiGHS error, the time limit, ``max_rounds`` or a failed check."""
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1.0)
        out = _full_lp(r, zeta, n, tol, left)
        out.update(rounds=rounds, rows=gen.rows.size, iterations=out["iterations"] + total_iter,
                   support_hint=support_hint, start_basis=started, **info)
        return out
    while True:
        rounds += 1
        status = gen.lp.run()
        total_iter += gen.lp.iterations
        if not gen.lp.optimal():  # numerical trouble in the warm-started object: full LP
            return fallback(restricted_status=str(status))
        x, duals = gen.lp.solution()
        a, o = gen.primal(x)
        d = rs - phi(a, o)
        d[0] = 0.0
        excess = np.abs(d) - zs
        excess[gen.in_rows] = -np.inf
        violated = np.flatnonzero(excess > viol_tol)
        y = np.zeros(m)
        y[gen.rows] = duals[1:]
        new_and = new_or = np.zeros(0, dtype=np.int64)
        if gen.restricted:  # price the columns outside the working set: |Φᵀy| ≤ 1 for all?
            g_and, g_or = phi_t(y)
            ex_and = np.where(gen.col_and < 0, np.abs(g_and) - 1.0, -np.inf)
            ex_or = np.where((gen.col_or < 0) & gen.or_ok, np.abs(g_or) - 1.0, -np.inf)
            ex_and[0] = ex_or[0] = -np.inf
            new_and = np.flatnonzero(ex_and > viol_tol)
            new_or = np.flatnonzero(ex_or > viol_tol)
            k = max(COLUMN_BATCH, gen.n_effect_columns // 2)
            if new_and.size + new_or.size > k:  # the most violated columns first
                ex = np.concatenate([ex_and[new_and], ex_or[new_or]])
                keep = np.argpartition(-ex, k)[:k]
                new_and, new_or = (new_and[keep[keep < new_and.size]],
                                   new_or[keep[keep >= new_and.size] - new_and.size])
        if violated.size == 0 and new_and.size + new_or.size == 0:
            lower, worst = dual_bound(y, rs, zs)
            if not gen.restricted or worst <= 1.0 + CERTIFICATE_SLACK:
                objective = l1(a, o)
                if (np.abs(d[1:]).max() > zs + viol_tol
                        or objective - lower > CERTIFICATE_GAP * max(objective, 1e-300)):
                    # HiGHS's optimum fails our own checks on its own rows (never seen)
                    return fallback(restricted_status="failed check")
                break
            # the certificate disagrees with the pricing (never seen): every column, re-solve
            new_and, new_or = np.arange(1, m), np.arange(1, m)
        elapsed = time.perf_counter() - t0
        if (time_limit is not None and elapsed > time_limit) or rounds >= max_rounds:
            return fallback()
        if new_and.size + new_or.size:
            gen.add_cols(new_and, new_or)
        if violated.size == 0:
            continue
        batch = max(32, gen.rows.size // 2)
        if gen.rows.size + min(batch, violated.size) > dense_fraction * (m - 1):
            # dense after all: the full LP in this compact form, warm-started; every column
            # first (a primal simplex pass), then every row (dual simplex)
            if gen.restricted:
                gen.add_cols(np.arange(1, m), np.arange(1, m))
            else:
                gen.add_rows(np.flatnonzero(~gen.in_rows))
            continue
        if violated.size > batch:
            violated = violated[np.argpartition(-excess[violated], batch)[:batch]]
        gen.add_rows(violated)
    a *= scale
    o *= scale
    a, o, delta = polish(a, o, r, zeta, scale)
    return {"and_eff": a, "or_eff": o, "delta": delta, "objective": float(l1(a, o)),
            "lower_bound": lower * scale, "status": status, "iterations": total_iter,
            "rounds": rounds, "rows": int(gen.rows.size), "columns": gen.n_effect_columns,
            "method": "ipm" if dense_method == "ipm" else "rowgen", "support_hint": support_hint,
            "start_basis": started}
