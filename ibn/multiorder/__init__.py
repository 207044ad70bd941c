r"""Multi-order interactions :math:`I^{(m)}(i, j)`, their strengths, and paper A's theory of
them (Conventions page, conventions-multiorder).

- :mod:`ibn.multiorder.interactions`: every pair and order exactly from the :math:`2^n` values
  (:func:`exact`), the reference sampling protocol (:func:`sample`), the strengths
  :math:`S^{(m)}` and :math:`J^{(m)}` (:func:`strength`, :func:`relative_strength`); re-exported
  here.
- :mod:`ibn.multiorder.profiles`: per-sample order profiles from recorded values, exact and
  through the sampling protocol on the same values.
- :mod:`ibn.multiorder.theory`: the closed forms (order ratios, efficiency weights
  :math:`R^{(m)}`, contexts per order, the learning-signal curve and its effective :math:`n'`).
- :mod:`ibn.multiorder.gradients`: contextual variability measured on a model's parameter
  gradients.
"""

from .interactions import *  # noqa: F403
from .interactions import __all__ as _interactions_all

__all__ = list(_interactions_all)
