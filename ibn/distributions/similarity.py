r"""Jaccard similarity between measured and theoretical distributions (paper B eq. 11;
Conventions page, eq-jaccard).

.. math::

   \mathrm{SIM} = \frac{\sum_m \sum_\pm \bigl[\min(\lvert A_{\mathrm{gen}}\rvert , \lvert
      A_{\mathrm{decay}}\rvert )
   + \min(\lvert A_{\mathrm{non}}\rvert , \lvert A_{\mathrm{spindle}}\rvert )\bigr]}
   {\sum_m \sum_\pm \bigl[\max(\lvert A_{\mathrm{gen}}\rvert , \lvert A_{\mathrm{decay}}\rvert )
   + \max(\lvert A_{\mathrm{non}}\rvert , \lvert A_{\mathrm{spindle}}\rvert )\bigr]}.

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
    r"""The Jaccard similarity of two distributions (one term of eq. 11):

    .. math::

       \frac{\sum_m \sum_\pm \min(\lvert a\rvert , \lvert b\rvert )}{\sum_m \sum_\pm \max(\lvert
          a\rvert , \lvert b\rvert )}.

    Args:
        a: one curve ``(n+1,)``.
        b: another curve over the same orders.

    Returns:
        The similarity in [0, 1]; NaN when both curves are zero.

    Raises:
        ValueError: a distribution that is not a single curve, or curves over different orders.
    """
    return similarity(a, None, b, None)


def similarity(
    gen: Strengths, non: Strengths | None, decay: Strengths, spindle: Strengths | None
) -> float:
    r"""SIM of eq. 11, comparing :math:`A_{\mathrm{gen}}` to :math:`A_{\mathrm{decay}}` and
    :math:`A_{\mathrm{non}}` to :math:`A_{\mathrm{spindle}}`.

    Args:
        gen: :math:`A_{\mathrm{gen}}`, one curve ``(n+1,)``.
        non: :math:`A_{\mathrm{non}}`, or None to drop this pair.
        decay: :math:`A_{\mathrm{decay}}`.
        spindle: :math:`A_{\mathrm{spindle}}`, or None to drop this pair.

    Returns:
        SIM in [0, 1]; NaN when every curve is zero.

    Raises:
        ValueError: only one of ``non`` and ``spindle`` given, a distribution that is not a single
            curve, or curves over different orders.
    """
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
