"""Multi-layer perceptrons for tabular data (paper A's MLP-5 / MLP-8).

The reference code for these MLPs was not available; we follow the usual lab setting of
100-unit hidden layers with ReLU. ``depth`` counts the linear layers (MLP-5 = 4 hidden layers
plus the output layer). Layers are named ``layers.fc{i}`` / ``layers.relu{i}``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """``depth`` linear layers, ``width`` hidden units, ReLU between them.

    Layers are named ``layers.fc{i}`` (i = 1..depth) and ``layers.relu{i}`` (i = 1..depth-1).

    Args:
        in_features: the number of input features D (≥ 1).
        num_classes: the number of output logits (default 2).
        depth: the number of linear layers (≥ 1; default 5, MLP-5; 8 for MLP-8).
        width: units of every hidden layer (≥ 1; default 100).

    Raises:
        ValueError: ``depth``, ``in_features`` or ``width`` is below 1.
    """

    def __init__(self, in_features: int, num_classes: int = 2, depth: int = 5,
                 width: int = 100) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if in_features < 1 or width < 1:
            raise ValueError(f"in_features and width must be positive, got {in_features}, {width}")
        mods: OrderedDict[str, nn.Module] = OrderedDict()
        c = in_features
        for i in range(1, depth):
            mods[f"fc{i}"] = nn.Linear(c, width)
            mods[f"relu{i}"] = nn.ReLU()
            c = width
        mods[f"fc{depth}"] = nn.Linear(c, num_classes)
        self.layers = nn.Sequential(mods)
        self.in_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of feature vectors.

        Args:
            x: float features (..., in_features), e.g. (B, D) standardized as by
                :func:`ibn.data.load_tabular`.

        Returns:
            Logits (..., num_classes).

        Raises:
            ValueError: the last dimension of ``x`` is not ``in_features``.
        """
        if x.shape[-1] != self.in_features:
            raise ValueError(f"MLP expects {self.in_features} features, got shape {tuple(x.shape)}")
        return self.layers(x)
