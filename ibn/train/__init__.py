r"""Training: one loop for all models (:func:`train`), label noise and subsets, and the
order-steering losses of paper A (Conventions page, eq-steering-delta-u to
eq-steering-suppress).

- ``train(model, train_set, *, test_set, epochs, batch_size, optimizer, lr, ...) -> History``
- ``evaluate(model, dataset) -> {"loss", "acc"}``
- ``flip_labels(y, fraction, num_classes, seed) -> (y_noisy, flipped_indices)``
- ``order_loss(model, x, y, *, r1, r2, mode, lam, masker_or_baseline)`` and
  ``OrderSteeringLoss`` (the λ-term as an ``extra_loss``), presets ``PRESETS``.
- ``NonGeneralizablePenalty`` (paper B App. J: the term
  :math:`\lambda \sum_S \lvert I_S^{\mathrm{non}} \rvert` as an ``extra_loss``;
  Conventions page, eq-penalty) and its parts ``effects_at``, ``sample_values``,
  ``nongeneralizable_masks``, ``masked_l1``.
"""

from .losses import PRESETS, OrderSteeringLoss, delta_u, order_loss
from .loop import History, evaluate, train
from .noise import choose_subset, flip_labels
from .penalty import (NonGeneralizablePenalty, effects_at, masked_l1, nongeneralizable_masks,
                      sample_values)

__all__ = ["train", "evaluate", "History", "flip_labels", "choose_subset", "order_loss",
           "delta_u", "OrderSteeringLoss", "PRESETS", "NonGeneralizablePenalty", "effects_at",
           "masked_l1", "nongeneralizable_masks", "sample_values"]
