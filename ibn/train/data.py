"""Turning raw uint8 image arrays into model-ready tensors (SPEC §6: MNIST resized to 32×32)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["image_tensor"]


def image_tensor(images: Any, size: int | None = None, mean: float | None = None,
                 std: float | None = None, chunk: int = 4096) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) or (N, C, H, W) → float32 (N, C, H', W') in
    [0, 1], bilinearly resized to ``size`` if given, then standardised with ``mean``/``std``
    if given (e.g. MNIST 0.1307 / 0.3081)."""
    x = torch.as_tensor(np.asarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    elif x.ndim != 4:
        raise ValueError(f"expected images (N, H, W[, C]), got shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = torch.cat([F.interpolate(x[s:s + chunk], size=(size, size), mode="bilinear",
                                     align_corners=False) for s in range(0, len(x), chunk)])
    if mean is not None:
        x = x - mean
    if std is not None:
        x = x / std
    return x.contiguous()
