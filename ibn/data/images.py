"""Turning uint8 image tensors into the float inputs the models take (no torchvision)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["to_float_images", "MNIST_MEAN", "MNIST_STD", "CIFAR10_MEAN", "CIFAR10_STD"]

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def to_float_images(
    images: torch.Tensor,
    size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) -> float32 (N, C, size, size).

    Pixels are scaled to [0, 1], resized bilinearly (``torch.nn.functional.interpolate``,
    ``align_corners=False``) when ``size`` is given, then standardized per channel by
    ``mean``/``std`` when given.  The MNIST input of paper B's protocol
    (Conventions page, conventions-protocol-b) is
    ``to_float_images(x, 32, MNIST_MEAN, MNIST_STD)``.
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    if images.dim() == 3:
        x = images.unsqueeze(1)
    elif images.dim() == 4:
        x = images.permute(0, 3, 1, 2)
    else:
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) images, got shape {tuple(images.shape)}")
    x = x.float().div_(255.0)
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither")
    if mean is not None:
        c = x.shape[1]
        if len(mean) != c or len(std) != c:
            raise ValueError(f"mean/std need {c} channel values, got {len(mean)}/{len(std)}")
        m = torch.tensor(mean, dtype=x.dtype).view(1, c, 1, 1)
        s = torch.tensor(std, dtype=x.dtype).view(1, c, 1, 1)
        x = (x - m) / s
    return x.contiguous()
