"""A thin, incremental interface to HiGHS as bundled inside SciPy.

``scipy.optimize.linprog(method="highs")`` solves one LP from scratch. The fast solver needs to add
rows to a solved LP and re-solve from the previous basis (dual simplex warm start), which only the
HiGHS object itself offers. SciPy ships that object (``scipy.optimize._highspy._core._Highs``, the
same pybind11 binding as the ``highspy`` package); this module wraps the few calls used. If the
binding is missing (a different SciPy build), :data:`AVAILABLE` is False and callers fall back
to ``linprog``.
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - exercised implicitly
    from scipy.optimize._highspy import _core as _hc

    AVAILABLE = hasattr(_hc, "_Highs")
except Exception:  # pragma: no cover
    _hc = None
    AVAILABLE = False

_I32 = np.int32


class Highs:
    """An LP  min cᵀx  s.t.  row_lo ≤ A x ≤ row_hi,  col_lo ≤ x ≤ col_hi, built incrementally."""

    def __init__(self, *, tol: float = 1e-10, time_limit: float | None = None,
                 presolve: bool = True, solver: str = "choose"):
        """``solver``: HiGHS's LP method, ``"choose"`` (its default), ``"simplex"`` or ``"ipm"``
        (interior point, followed by crossover to a vertex)."""
        if not AVAILABLE:
            raise RuntimeError("SciPy's bundled HiGHS binding is not available")
        self.h = _hc._Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("primal_feasibility_tolerance", tol)
        self.h.setOptionValue("dual_feasibility_tolerance", tol)
        self.h.setOptionValue("presolve", "on" if presolve else "off")
        self.h.setOptionValue("solver", solver)
        if time_limit is not None:
            self.h.setOptionValue("time_limit", float(time_limit))
        self.inf = self.h.getInfinity()

    def _bound(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(np.isposinf(x), self.inf, np.where(np.isneginf(x), -self.inf, x))

    def add_cols(self, cost, lo, hi, starts, index, value):
        """Columns in CSC pieces (``starts`` has one entry per column)."""
        k = len(cost)
        self.h.addCols(k, np.asarray(cost, dtype=np.float64), self._bound(lo), self._bound(hi),
                       len(value), np.asarray(starts, dtype=_I32), np.asarray(index, dtype=_I32),
                       np.asarray(value, dtype=np.float64))

    def add_rows(self, lo, hi, starts, index, value):
        """Rows in CSR pieces (``starts`` has one entry per row)."""
        k = len(lo)
        self.h.addRows(k, self._bound(lo), self._bound(hi), len(value),
                       np.asarray(starts, dtype=_I32), np.asarray(index, dtype=_I32),
                       np.asarray(value, dtype=np.float64))

    @property
    def n_rows(self) -> int:
        return self.h.getNumRow()

    @property
    def n_cols(self) -> int:
        return self.h.getNumCol()

    def set_basis(self, col_status: np.ndarray, row_status: np.ndarray) -> None:
        """Start the next :meth:`run` from this basis; statuses: 0 at the lower bound, 1 basic,
        2 at the upper bound. The number of basic variables must equal the number of rows; a
        singular basis is repaired by HiGHS (the dependent columns are replaced by logicals)."""
        codes = (_hc.HighsBasisStatus.kLower, _hc.HighsBasisStatus.kBasic,
                 _hc.HighsBasisStatus.kUpper)
        basis = _hc.HighsBasis()
        basis.col_status = [codes[c] for c in np.asarray(col_status).tolist()]
        basis.row_status = [codes[c] for c in np.asarray(row_status).tolist()]
        basis.valid = True
        basis.alien = False
        status = self.h.setBasis(basis)
        if status != _hc.HighsStatus.kOk:
            raise RuntimeError(f"HiGHS rejected the basis: {status}")

    def run(self) -> str:
        self.h.run()
        status = self.h.getModelStatus()
        return self.h.modelStatusToString(status)

    def optimal(self) -> bool:
        return int(self.h.getModelStatus()) == int(_hc.HighsModelStatus.kOptimal)

    def solution(self) -> tuple[np.ndarray, np.ndarray]:
        """(column values, row duals) with HiGHS's sign convention: reduced cost = c − Aᵀy."""
        sol = self.h.getSolution()
        return np.asarray(sol.col_value), np.asarray(sol.row_dual)

    @property
    def iterations(self) -> int:
        """Simplex, interior-point and crossover iterations of the last run."""
        info = self.h.getInfo()
        return int(info.simplex_iteration_count + max(info.ipm_iteration_count, 0)
                   + max(info.crossover_iteration_count, 0))
