"""One-line errors for bad arguments, naming the argument and its allowed range."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_number", "check_flag"]


def check_number(name: str, x, *, low=None, high=None, low_open=False, high_open=False,
                 integer=False, allow_none=False):
    """``x`` if it is a finite number (an integer with ``integer``) within the range, else a
    one-line ``TypeError`` / ``ValueError`` naming ``name`` and the allowed range."""
    if x is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    lo = "" if low is None else ("(" if low_open else "[") + f"{low}, "
    hi = "" if high is None else f"{high}" + (")" if high_open else "]")
    what = ("an integer" if integer else "a number") + (
        f" in {lo or '(-inf, '}{hi or 'inf)'}" if (low is not None or high is not None) else "")
    if isinstance(x, bool) or not isinstance(x, kind):
        raise TypeError(f"{name} must be {what}, got {x!r}")
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValueError(f"{name} must be {what}, got {x!r}")
    return x


def check_flag(name: str, x, *, allow_none: bool = False):
    """``x`` if it is True or False (or None with ``allow_none``), else a one-line TypeError."""
    if (x is None and allow_none) or isinstance(x, (bool, np.bool_)):
        return x
    raise TypeError(f"{name} must be True or False{' or None' if allow_none else ''}, got {x!r}")
