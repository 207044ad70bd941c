r"""What the rules of chapters A2–A4 share: the middle band of the order ratios and the one
sentence of a record's ``why``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MID_BAND", "INDEPENDENCE_TOL", "N_FIT_MAX"]

#: the middle band of order ratios :math:`r = m/(n-2)` (the bands of the chapters' tables).
MID_BAND = (0.3, 0.7)
#: :math:`|\operatorname{mean} \rho|` over the middle band below which contexts' gradients
#: count as nearly uncorrelated.
INDEPENDENCE_TOL = 0.05
#: the largest :math:`n'` the chapter's fit of the closed form tries.
N_FIT_MAX = 60.0


def _mid(ratios: Sequence[float] | np.ndarray) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    return (r >= MID_BAND[0] - 1e-9) & (r <= MID_BAND[1] + 1e-9)


def _span(values: Sequence[float], fmt: str = ".2f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def _why(core: str, verdict: str, scope: str, decide: str) -> str:
    """One sentence: the deciding numbers, the departure from the paper, and (when
    inconclusive) what would decide it."""
    tail = f"; {scope}" + (f"; {decide}" if verdict == "inconclusive" else "")
    return core + tail
