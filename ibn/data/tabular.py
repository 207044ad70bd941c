"""scikit-learn's bundled tabular sets (paper A's MLP experiments): standardized, seeded split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Tabular", "load_tabular", "TABULAR_SETS"]

TABULAR_SETS = ("breast_cancer", "wine", "digits")


@dataclass
class Tabular:
    """A standardized train/test split, as :func:`load_tabular` returns it.

    A dataclass; each argument is kept as the attribute of the same name.

    Args:
        x_train: float32 (N_train, D) features, standardized with the *training* mean and
            standard deviation (constant features keep scale 1).
        y_train: int64 (N_train,) class labels.
        x_test: float32 (N_test, D) features, standardized with the same training statistics.
        y_test: int64 (N_test,) class labels.
        feature_names: the D feature names, in column order.
        class_names: the class names, index = label.
        mean: float32 (D,) training mean of the raw features.
        std: float32 (D,) training standard deviation of the raw features (1 for constant
            features).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    feature_names: list[str]
    class_names: list[str]
    mean: torch.Tensor
    std: torch.Tensor

    @property
    def n_features(self) -> int:
        """The number of features D."""
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        """The number of classes (``len(class_names)``)."""
        return len(self.class_names)


def load_tabular(name: str, *, test_fraction: float = 0.2, seed: int = 0) -> Tabular:
    """Load one of scikit-learn's bundled tabular sets, split and standardized.

    The split is stratified by class (``sklearn.model_selection.train_test_split`` with
    ``random_state=seed``), so it is a deterministic function of ``seed`` and ``test_fraction``.
    These sets stand in for paper A's tabular data (Conventions page, conventions-protocol-a;
    Data page).

    Args:
        name: ``"breast_cancer"`` (569 samples × 30 features, 2 classes), ``"wine"``
            (178 × 13, 3 classes) or ``"digits"`` (1797 × 64, 10 classes).
        test_fraction: the fraction of samples held out for the test split, in (0, 1)
            (default 0.2).
        seed: the random state of the split.

    Returns:
        A :class:`Tabular` with standardized float32 features and int64 labels.

    Raises:
        ValueError: an unknown ``name`` or a ``test_fraction`` outside (0, 1).
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine, "digits": datasets.load_digits}
    if name not in loaders:
        raise ValueError(f"unknown tabular set {name!r}; choose one of {TABULAR_SETS}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    bunch = loaders[name]()
    x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std[std == 0] = 1.0
    feature_names = [str(f) for f in getattr(bunch, "feature_names", [f"x{i}" for i in range(x.shape[1])])]
    class_names = [str(c) for c in bunch.target_names]

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((a - mean) / std).astype(np.float32))

    return Tabular(
        x_train=t(x_tr), y_train=torch.from_numpy(y_tr), x_test=t(x_te), y_test=torch.from_numpy(y_te),
        feature_names=feature_names, class_names=class_names,
        mean=torch.from_numpy(mean.astype(np.float32)), std=torch.from_numpy(std.astype(np.float32)),
    )
