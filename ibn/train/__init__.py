"""Training: one loop for all models (:func:`train`), label noise and subsets, and the
order-steering losses of paper A (SPEC §3).

- ``train(model, train_set, *, test_set, epochs, batch_size, optimizer, lr, ...) -> History``
- ``evaluate(model, dataset) -> {"loss", "acc"}``
- ``flip_labels(y, fraction, num_classes, seed) -> (y_noisy, flipped_indices)``
- ``order_loss(model, x, y, *, r1, r2, mode, lam, masker_or_baseline)`` and
  ``OrderSteeringLoss`` (the λ-term as an ``extra_loss``), presets ``PRESETS``.
"""

from .losses import PRESETS, OrderSteeringLoss, delta_u, order_loss
from .loop import History, evaluate, train
from .noise import choose_subset, flip_labels

__all__ = ["train", "evaluate", "History", "flip_labels", "choose_subset", "order_loss",
           "delta_u", "OrderSteeringLoss", "PRESETS"]
