r"""Paper B's theory of generalizable / non-generalizable interactions (Conventions page,
conventions-generalizable and conventions-distributions).

- ``strength``: per-order strengths :math:`A^{(m),\pm}` (salient, AND
  and OR), :math:`Z`, :math:`\rho`, :math:`\hat\rho`, :math:`A_{\mathrm{gen}}` /
  :math:`A_{\mathrm{non}}`, :math:`\Delta A` (eq. 19).
- ``spindle``: the spindle model of non-generalizable interactions
  (eq. 7).
- ``decay``: the decay model :math:`M(\delta)\, I^*` of Theorem 3.1
  (eq. 8-9), :math:`O(n\, 2^n)` for AND and OR.
- ``disentangle``: the decay + spindle fit of eq. 10.
- ``similarity``: the Jaccard SIM of eq. 11.
- ``plots``: matplotlib helpers (imported lazily: ``from ibn.distributions import plots``).

Functions take plain effect tensors ``(..., 2**n)``; ``effects_of(result)`` unpacks any object
with ``.and_effects`` / ``.or_effects`` (e.g. an ``ibn.and_or`` result).
"""

from ibn.distributions.decay import (
    EIGENVALUES,
    DecayModel,
    decay_and,
    decay_or,
    decay_strengths,
    retention,
)
from ibn.distributions.disentangle import (
    DisentangleError,
    DisentangleResult,
    DisentangleWarning,
    disentangle,
)
from ibn.distributions.similarity import jaccard, similarity
from ibn.distributions.spindle import spindle_curve, spindle_strengths
from ibn.distributions.strength import (
    Strengths,
    effects_of,
    emerged_strengths,
    generalizable_strengths,
    mean_order,
    normalizer,
    order_sums,
    peak_order,
    salient,
    strengths,
    tau_from_values,
    transfer,
    transfer_any,
)

__all__ = [
    "EIGENVALUES", "DecayModel", "decay_and", "decay_or", "decay_strengths", "retention",
    "DisentangleError", "DisentangleResult", "DisentangleWarning", "disentangle",
    "jaccard", "similarity", "spindle_curve", "spindle_strengths",
    "Strengths", "effects_of", "emerged_strengths", "generalizable_strengths", "mean_order",
    "normalizer", "order_sums", "peak_order", "salient", "strengths", "tau_from_values",
    "transfer", "transfer_any",
]
