"""Label noise and training subsets (paper B §3.2 / App. K: 1 % flipped labels on MNIST and
CIFAR-10, 5 % on CUB; data-scarce runs on subsets; Conventions page, conventions-protocol-b)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["flip_labels", "choose_subset"]


def flip_labels(y: Any, fraction: float, num_classes: int, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip exactly ``round(fraction * N)`` labels, each to a different class drawn uniformly
    among the other ``num_classes - 1`` (a ``numpy.random.default_rng`` seeded by ``seed``).

    Args:
        y: the N integer labels (a tensor, array or list), in ``0..num_classes-1``; not
            modified.
        fraction: the fraction of labels flipped, in [0, 1].
        num_classes: the number of classes (≥ 2).
        seed: the seed of the choice of labels and of their new classes.

    Returns:
        ``(y_noisy, flipped)``: the new int64 labels (N,) and the sorted int64 indices that were
        flipped.

    Raises:
        ValueError: ``fraction`` outside [0, 1], fewer than 2 classes, labels that are not a
            vector or lie outside ``0..num_classes-1``.
    """
    y = torch.as_tensor(np.asarray(y)).long().clone()
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"label-noise fraction must be in [0, 1], got {fraction}")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {num_classes}")
    if y.ndim != 1:
        raise ValueError(f"labels must be a vector, got shape {tuple(y.shape)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    n_flip = int(round(fraction * len(y)))
    rng = np.random.default_rng([seed, 7919])
    idx = np.sort(rng.choice(len(y), size=n_flip, replace=False))
    shift = rng.integers(1, num_classes, size=n_flip)
    idx_t = torch.as_tensor(idx, dtype=torch.long)
    y[idx_t] = (y[idx_t] + torch.as_tensor(shift, dtype=torch.long)) % num_classes
    return y, idx_t


def choose_subset(n: int, subset: int | float | Sequence[int] | None, seed: int = 0
                  ) -> torch.Tensor | None:
    """Indices of a training subset.

    Args:
        n: the size of the full training set.
        subset: None (all), an int (that many, drawn without replacement with a
            ``numpy.random.default_rng`` seeded by ``seed``, sorted), a float in (0, 1] (that
            fraction, ``round(subset * n)`` samples, drawn the same way) or an explicit index
            sequence (kept in its order).
        seed: the seed of the draw.

    Returns:
        The int64 indices into the training set, or None for all.

    Raises:
        ValueError: a fraction outside (0, 1], a count outside ``1..n``, or indices that are
            not a vector in ``0..n-1``.
    """
    if subset is None:
        return None
    if isinstance(subset, float):
        if not 0.0 < subset <= 1.0:
            raise ValueError(f"subset fraction must be in (0, 1], got {subset}")
        subset = int(round(subset * n))
    if isinstance(subset, (int, np.integer)):
        if not 0 < subset <= n:
            raise ValueError(f"subset size must be in 1..{n}, got {subset}")
        rng = np.random.default_rng([seed, 104729])
        return torch.as_tensor(np.sort(rng.choice(n, size=int(subset), replace=False)))
    idx = torch.as_tensor(np.asarray(subset)).long()
    if idx.ndim != 1 or (len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= n)):
        raise ValueError(f"subset indices must be a vector of indices in 0..{n - 1}")
    return idx
