"""Jaccard similarity between measured and theoretical distributions (paper B eq. 11;
Conventions page, eq-jaccard).

    SIM = Σ_m Σ_± [min(|A_gen|, |A_decay|) + min(|A_non|, |A_spindle|)]
          / Σ_m Σ_± [max(|A_gen|, |A_decay|) + max(|A_non|, |A_spindle|)].

It lies in [0, 1], equals 1 iff the curves coincide in magnitude, and is symmetric under
swapping (gen, non) with (decay, spindle). 0/0 (every curve zero) gives NaN.
"""

from __future__ import annotations

import torch

from ibn.distributions.strength import Strengths

__all__ = ["jaccard", "similarity"]


def _parts(s: Strengths) -> torch.Tensor:
    if s.plus.ndim != 1:
        raise ValueError(
            f"SIM compares single curves (n+1,), got shape {tuple(s.plus.shape)}: average first"
        )
    return torch.cat((s.plus.abs(), s.minus.abs()))


def jaccard(a: Strengths, b: Strengths) -> float:
    """Σ_m Σ_± min(|a|, |b|) / Σ_m Σ_± max(|a|, |b|) of two distributions (one term of eq. 11)."""
    return similarity(a, None, b, None)


def similarity(
    gen: Strengths, non: Strengths | None, decay: Strengths, spindle: Strengths | None
) -> float:
    """SIM of eq. 11 comparing A_gen to A_decay and A_non to A_spindle (``None`` drops a pair)."""
    pairs = [(gen, decay)] + ([] if non is None and spindle is None else [(non, spindle)])
    num = den = 0.0
    for x, y in pairs:
        if x is None or y is None:
            raise ValueError("give both non and spindle, or neither")
        px, py = _parts(x), _parts(y)
        if px.shape != py.shape:
            raise ValueError(f"curves over different orders: {x.n} vs {y.n} players")
        num += float(torch.minimum(px, py).sum())
        den += float(torch.maximum(px, py).sum())
    return num / den if den > 0 else float("nan")
