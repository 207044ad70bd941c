r"""Paper A's claims of the chapters A2–A4 judged by rules fixed in code, positive controls run
through the same pipelines, and the verdict records (:mod:`papers.verdicts`).

The chapters run far from paper A's protocol (Conventions page, conventions-protocol-a): small
MLPs on 12 features of scikit-learn tables, Adam, a few samples and seeds. So every record is
categorised with ``powered=False``: an absent effect is "inconclusive", never "not reproduced".

Order ratios are :math:`r = m/(n-2)` (Conventions page, conventions-multiorder); :math:`g_S` is
the gradient :math:`\nabla_\theta \Delta v(i, j, S)` of one context :math:`S` (Conventions
page, eq-delta-v).

**A2 · cause** (Conventions page, eq-learning-signal), on the per-order gradient statistics of
:func:`papers.bottleneck.gradient_statistics` at each kept epoch (a model passes when every
kept epoch passes):

* contextual variability (:func:`variability_rule`): the ratio
  :math:`\lVert \operatorname{mean}_S g_S \rVert / \operatorname{RMS}_S \lVert g_S \rVert` is
  U-shaped over the orders by :func:`papers.bottleneck.shape_summary`;
* independence (:func:`independence_rule`): the mean correlation :math:`\rho` of two contexts'
  gradients over :math:`0.3 \le r \le 0.7` is below :data:`INDEPENDENCE_TOL` in absolute
  value;
* closed form (:func:`closed_form_rule`): the learning signal
  :math:`R^{(m)} \lVert \nabla_\theta I^{(m)} \rVert` is smallest in the middle band
  :math:`0.3 \le r \le 0.7`, where the closed form has its minimum;
* effective :math:`n'` (:func:`n_prime_rule`): the fitted :math:`n'` is at most :math:`n - 1`.

Control: :class:`PlantedGradientModel`, a model with one weight per coalition (its coalition
gradients are orthogonal, so the contexts' gradients are independent by construction; reading
only 8 of the 12 players it has fewer effective players).

**A3 · modulation** (Conventions page, eq-steering-delta-u), on the exact :math:`J^{(m)}` of
each model (Conventions page, eq-relative-strength): :func:`moves_rule` (the chapter's test:
centre :math:`\bar r` up for the high-order preset, down for the low-order one,
:math:`J_{\mathrm{mid}}` up for the mid-order boost, each against the normal model) and
:func:`second_peak_rule` (an interior peak of :func:`papers.bottleneck.interior_peaks` that the
normal model lacks). Control: :func:`planted_modulation`, games whose :math:`J^{(m)}` is moved
the preset's way by construction.

**A4 · consequences**: the low-order against the high-order models, per quantity
(:func:`low_vs_high`): the paper's direction by more than the seed noise (one pooled sd,
:data:`NOISE_SD`). Control: :func:`planted_consequence_models`, a linear classifier against the
same classifier plus a memorising term and a large weight along the data's least-variance
direction, through the same evaluation (:func:`consequence_metrics`) and rule.
"""

from __future__ import annotations

from papers.claims_a._common import INDEPENDENCE_TOL, MID_BAND, N_FIT_MAX
from papers.claims_a.cause import *  # noqa: F401,F403
from papers.claims_a.cause import __all__ as _cause
from papers.claims_a.consequences import *  # noqa: F401,F403
from papers.claims_a.consequences import __all__ as _consequences
from papers.claims_a.modulation import *  # noqa: F401,F403
from papers.claims_a.modulation import __all__ as _modulation

__all__ = ["MID_BAND", "INDEPENDENCE_TOL", "N_FIT_MAX", *_cause, *_modulation, *_consequences]
