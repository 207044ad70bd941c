"""The exact LP of the sparsest AND-OR decomposition, built sparsely through the butterflies.

For one sample (notation of :mod:`ibn.and_or._common`) the LP is

    min  Σ_S (a⁺_S + a⁻_S + o⁺_S + o⁻_S)                       (S ≠ ∅)
    s.t. zeta(a⁺ − a⁻)_T + or_zeta(o⁺ − o⁻)_T + δ_T = r_T       (T ≠ ∅)
         a±, o± ≥ 0,  −ζ ≤ δ_T ≤ ζ.

No 2^n × 2^n matrix is formed. ``zeta`` is unrolled into its n butterfly stages: stage k maps
x_T ↦ x_T + x_{T∖{k}} for the 2^{n−1} coalitions T ∋ k, so every stage but the last gets one new
free variable per such T and one equality row with at most 5 nonzeros (the last stage is
substituted into the final rows). ``or_zeta`` uses u^OR_T = W_N − W_{N∖T} with W = zeta(o), where a
single extra variable w = W_N carries the total. With m = 2^n that is about 2(n−1)·2^{n−1} + 5m
variables and (n−1)·2^n + m rows, each row with ≤ 13 nonzeros (n = 10: ≈ 14k × 10k, 0.1 M
nonzeros). It is solved by HiGHS through ``scipy.optimize.linprog(method="highs")``; then the
vertex is polished (:func:`ibn.and_or._common.polish`) so that |δ| ≤ ζ and universal matching hold
to round-off.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from ._common import dual_bound, l1, polish

__all__ = ["build_lp", "solve_lp", "solve_sparse_highs"]


class _Builder:
    def __init__(self):
        self.n_var = 0
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.n_row = 0

    def new_vars(self, k: int) -> np.ndarray:
        ids = np.arange(self.n_var, self.n_var + k)
        self.n_var += k
        return ids

    def add_rows(self, ids: np.ndarray, coefs: np.ndarray) -> np.ndarray:
        """Rows Σ_j coefs[i, j]·x[ids[i, j]] (zero coefficients are padding)."""
        k = ids.shape[0]
        row_ids = np.arange(self.n_row, self.n_row + k)
        self.n_row += k
        keep = coefs != 0
        self.rows.append(np.broadcast_to(row_ids[:, None], ids.shape)[keep])
        self.cols.append(ids[keep])
        self.vals.append(coefs[keep])
        return row_ids

    def matrix(self) -> sp.csc_matrix:
        return sp.csc_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n_row, self.n_var),
        )


def _zeta_stages(b: _Builder, ids: np.ndarray, coefs: np.ndarray, n: int):
    """Unroll zeta on expressions (ids, coefs) of shape (m, w); returns the final expressions."""
    m = 1 << n
    for k in range(n):
        bit = 1 << k
        hi = np.flatnonzero(np.arange(m) & bit)
        lo = hi ^ bit
        e_ids = np.concatenate([ids[hi], ids[lo]], axis=1)
        e_coefs = np.concatenate([coefs[hi], coefs[lo]], axis=1)
        if k == n - 1:
            w = e_ids.shape[1]
            new_ids = np.zeros((m, w), dtype=np.int64)
            new_coefs = np.zeros((m, w))
            new_ids[:, : ids.shape[1]] = ids
            new_coefs[:, : ids.shape[1]] = coefs
            new_ids[hi] = e_ids
            new_coefs[hi] = e_coefs
            return new_ids, new_coefs
        z = b.new_vars(hi.size)
        b.add_rows(np.concatenate([z[:, None], e_ids], axis=1),
                   np.concatenate([-np.ones((hi.size, 1)), e_coefs], axis=1))
        ids = ids.copy()
        coefs = coefs.copy()
        ids[hi] = 0
        coefs[hi] = 0.0
        ids[hi, 0] = z
        coefs[hi, 0] = 1.0
    return ids, coefs


def build_lp(n: int):
    """The constraint matrix of the sparse LP (independent of the sample).

    Returns a dict with the CSC matrix ``A`` (all rows are equalities), the index arrays of
    a⁺, a⁻, o⁺, o⁻, δ (each of length m − 1, for S or T = 1..m−1), the indices of the final rows
    (one per T ≠ ∅; their right-hand side is r_T, the others 0) and the number of variables.
    """
    if n < 1:
        raise ValueError("the LP needs at least one player")
    m = 1 << n
    b = _Builder()
    ap, am, op, om, dl = (b.new_vars(m - 1) for _ in range(5))
    w_tot = b.new_vars(1)[0]

    def leaf(pos, neg):
        ids = np.zeros((m, 2), dtype=np.int64)
        coefs = np.zeros((m, 2))
        ids[1:, 0], ids[1:, 1] = pos, neg
        coefs[1:, 0], coefs[1:, 1] = 1.0, -1.0
        return ids, coefs

    and_ids, and_coefs = _zeta_stages(b, *leaf(ap, am), n)
    or_ids, or_coefs = _zeta_stages(b, *leaf(op, om), n)
    # w_tot = W_N
    b.add_rows(np.concatenate([[[w_tot]], or_ids[m - 1 : m]], axis=1),
               np.concatenate([[[-1.0]], or_coefs[m - 1 : m]], axis=1))
    t = np.arange(1, m)
    comp = (m - 1) ^ t
    ids = np.concatenate([and_ids[t], np.full((m - 1, 1), w_tot), or_ids[comp], dl[:, None]], axis=1)
    coefs = np.concatenate([and_coefs[t], np.ones((m - 1, 1)), -or_coefs[comp], np.ones((m - 1, 1))],
                           axis=1)
    final = b.add_rows(ids, coefs)
    return {"A": b.matrix(), "ap": ap, "am": am, "op": op, "om": om, "delta": dl,
            "final_rows": final, "n_var": b.n_var, "n_row": b.n_row}


_CACHE: dict[tuple[int, str], dict] = {}


def _cached(n: int, kind: str = "eq") -> dict:
    """The LP structure for n players: ``"eq"`` (δ as bounded variables, all rows equalities, for
    ``linprog``) or ``"ranged"`` (δ eliminated: final rows ranged r_T ± ζ, for HiGHS directly)."""
    key = (n, kind)
    if key not in _CACHE:
        if (n, "eq") not in _CACHE:
            _CACHE[(n, "eq")] = build_lp(n)
        lp = _CACHE[(n, "eq")]
        if kind == "ranged":
            keep = np.ones(lp["n_var"], dtype=bool)
            keep[lp["delta"]] = False
            pos = np.full(lp["n_var"], -1)
            pos[keep] = np.arange(int(keep.sum()))
            a = lp["A"][:, keep].tocsc()
            cost_idx = np.concatenate([pos[lp[k]] for k in ("ap", "am", "op", "om")])
            _CACHE[key] = {"A": a, "n_var": int(keep.sum()), "n_row": lp["n_row"],
                           "final_rows": lp["final_rows"], "cost_idx": cost_idx,
                           "ap": pos[lp["ap"]], "am": pos[lp["am"]], "op": pos[lp["op"]],
                           "om": pos[lp["om"]]}
    return _CACHE[key]


def _trivial(r: np.ndarray, zeta: float) -> dict | None:
    """x = 0 is optimal when every |r_T| ≤ ζ (then δ = r)."""
    if np.abs(r[1:]).max(initial=0.0) <= zeta:
        z = np.zeros_like(r)
        delta = np.array(r, dtype=np.float64, copy=True)
        delta[0] = 0.0
        return {"and_eff": z, "or_eff": z.copy(), "delta": delta, "objective": 0.0,
                "lower_bound": 0.0, "status": "trivial: x = 0 is feasible", "iterations": 0}
    return None


def _finish(a, o, y, r, zeta, scale, status, iterations) -> dict:
    a, o, delta = polish(a, o, r, zeta, scale)
    lower, _ = dual_bound(y, r / scale, zeta / scale)
    return {"and_eff": a, "or_eff": o, "delta": delta, "objective": float(l1(a, o)),
            "lower_bound": lower * scale, "status": status, "iterations": iterations}


def solve_lp(r: np.ndarray, zeta: float, n: int, *, tol: float = 1e-10,
             time_limit: float | None = None) -> dict:
    """Solve the LP for one sample with ``scipy.optimize.linprog(method="highs")``.

    ``r`` has length m = 2^n (entry 0 ignored, r_T = v_T − v_∅). Returns a dict with ``and_eff``,
    ``or_eff``, ``delta`` (length m, entry 0 zero), ``objective``, ``lower_bound`` (a certified
    lower bound on the optimum from the LP duals, see :func:`ibn.and_or._common.dual_bound`),
    ``status`` and ``iterations``.
    """
    r = np.asarray(r, dtype=np.float64)
    m = 1 << n
    out = _trivial(r, zeta)
    if out is not None:
        return out
    scale = float(np.abs(r[1:]).max())
    lp = _cached(n, "eq")
    rs = r / scale
    zs = zeta / scale
    c = np.zeros(lp["n_var"])
    lb = np.full(lp["n_var"], -np.inf)
    ub = np.full(lp["n_var"], np.inf)
    for key in ("ap", "am", "op", "om"):
        c[lp[key]] = 1.0
        lb[lp[key]] = 0.0
    lb[lp["delta"]] = -zs
    ub[lp["delta"]] = zs
    b_eq = np.zeros(lp["n_row"])
    b_eq[lp["final_rows"]] = rs[1:]
    bounds = np.stack([lb, ub], axis=1)
    # HiGHS's simplex sometimes ends in a solve error at tolerance 1e-10 on this long chain of
    # butterfly rows (2 of 4 planted games at n = 10, seed 10); looser tolerances, then the
    # interior-point method, solve them. The result stays exact: it is polished and certified
    # by the dual bound below whatever the tolerance.
    attempts = [(tol, "highs"), (max(10 * tol, 1e-9), "highs"), (max(100 * tol, 1e-8), "highs"),
                (tol, "highs-ipm")]
    messages = []
    res = None
    start = time.perf_counter()
    for attempt_tol, method in attempts:
        options = {"primal_feasibility_tolerance": attempt_tol,
                   "dual_feasibility_tolerance": attempt_tol}
        if time_limit is not None:  # the retries share the sample's time limit
            left = float(time_limit) - (time.perf_counter() - start)
            if left <= 0:
                messages.append("time limit spent")
                break
            options["time_limit"] = left
        res = scipy.optimize.linprog(c, A_eq=lp["A"], b_eq=b_eq, bounds=bounds, method=method,
                                     options=options)
        if res.status == 0 and res.x is not None:
            break
        messages.append(f"{method} tol {attempt_tol:g}: {res.message}")
        if res.status == 1:  # time or iteration limit: retrying would exceed it
            break
    if res is None or res.status != 0 or res.x is None:
        raise RuntimeError("HiGHS did not solve the AND-OR LP: " + "; ".join(messages))
    x = res.x
    a = np.zeros(m)
    o = np.zeros(m)
    a[1:] = (x[lp["ap"]] - x[lp["am"]]) * scale
    o[1:] = (x[lp["op"]] - x[lp["om"]]) * scale
    y = np.zeros(m)
    y[1:] = res.eqlin.marginals[lp["final_rows"]]
    status = res.message + (f" (after {'; '.join(messages)})" if messages else "")
    return _finish(a, o, y, r, zeta, scale, status, int(getattr(res, "nit", 0)))


def solve_sparse_highs(r: np.ndarray, zeta: float, n: int, *, tol: float = 1e-10,
                       time_limit: float | None = None) -> dict:
    """The same LP with δ eliminated (ranged final rows), solved by the bundled HiGHS object.

    The fast solver's fallback when its own HiGHS object reports a solve error.
    """
    from ._highs import Highs

    r = np.asarray(r, dtype=np.float64)
    m = 1 << n
    out = _trivial(r, zeta)
    if out is not None:
        return out
    scale = float(np.abs(r[1:]).max())
    lp = _cached(n, "ranged")
    rs = r / scale
    zs = zeta / scale
    h = Highs(tol=tol, time_limit=time_limit)
    rlo = np.zeros(lp["n_row"])
    rhi = np.zeros(lp["n_row"])
    rlo[lp["final_rows"]] = rs[1:] - zs
    rhi[lp["final_rows"]] = rs[1:] + zs
    h.add_rows(rlo, rhi, np.zeros(lp["n_row"]), np.zeros(0), np.zeros(0))
    c = np.zeros(lp["n_var"])
    c[lp["cost_idx"]] = 1.0
    lo = np.full(lp["n_var"], -np.inf)
    lo[lp["cost_idx"]] = 0.0
    a_mat = lp["A"]
    h.add_cols(c, lo, np.full(lp["n_var"], np.inf), a_mat.indptr[:-1], a_mat.indices, a_mat.data)
    status = h.run()
    if not h.optimal():
        raise RuntimeError(f"HiGHS did not solve the AND-OR LP: {status}")
    x, duals = h.solution()
    a = np.zeros(m)
    o = np.zeros(m)
    a[1:] = (x[lp["ap"]] - x[lp["am"]]) * scale
    o[1:] = (x[lp["op"]] - x[lp["om"]]) * scale
    y = np.zeros(m)
    y[1:] = duals[lp["final_rows"]]
    return _finish(a, o, y, r, zeta, scale, status, h.iterations)
