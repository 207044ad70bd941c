"""Turning uint8 image tensors into the float inputs the models take (no torchvision)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["to_float_images", "load_images", "dataset_name", "IMAGE_STATS", "MNIST_MEAN",
           "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "CIFAR10_MEAN", "CIFAR10_STD"]

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

#: per-dataset (mean, std) of the training split's pixels in [0, 1]; the one standardisation
#: of every image model of the project.
IMAGE_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": (MNIST_MEAN, MNIST_STD),
    "fashion-mnist": (FASHION_MNIST_MEAN, FASHION_MNIST_STD),
}


def dataset_name(name: str) -> str:
    """The project's one spelling of an image dataset: ``"mnist"`` or ``"fashion-mnist"``
    (the names of ``ibn data fetch``).

    Args:
        name: a dataset name; ``"fashion_mnist"`` and other case/underscore variants (and
            surrounding spaces) are read as the same dataset.

    Returns:
        ``"mnist"`` or ``"fashion-mnist"``, a key of :data:`IMAGE_STATS`.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: ``name`` is not one of the two datasets.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    if key not in IMAGE_STATS:
        raise ValueError(f"dataset must be one of {sorted(IMAGE_STATS)}, got {name!r}")
    return key


@functools.lru_cache(maxsize=4)
def _load(dataset: str, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from .idx import load_fashion_mnist, load_mnist

    loader = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}[dataset]
    images, labels = loader(split)
    mean, std = IMAGE_STATS[dataset]
    return to_float_images(images, size, mean, std), labels


def load_images(dataset: str, split: str, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of ``split``: float32 images (N, 1, size, size) resized bilinearly and
    standardised by the dataset's :data:`IMAGE_STATS`, and int64 labels.

    The one image preparation of the project (Conventions page, conventions-protocol-b and
    conventions-protocol-a: 32×32 for both papers' image protocols). The result is cached in
    memory and shared between calls; do not modify the tensors in place.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (any spelling :func:`dataset_name` accepts).
        split: ``"train"`` or ``"test"``.
        size: the side of the square output images in pixels (an int ≥ 8; default 32).

    Returns:
        ``(x, y)``: float32 (N, 1, size, size) standardised images and int64 (N,) labels.

    Raises:
        ValueError: a bad ``split``, ``size`` or ``dataset``.
        TypeError: ``dataset`` is not a string.
        MissingDataError: the dataset is not fetched (``ibn data fetch NAME``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    return _load(dataset_name(dataset), split, size)


def to_float_images(
    images: torch.Tensor,
    size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""uint8 images (N, H, W) or (N, H, W, C) -> float32 (N, C, size, size).

    Pixels are scaled to [0, 1], resized bilinearly (``torch.nn.functional.interpolate``,
    ``align_corners=False``) when ``size`` is given, then standardized per channel,
    :math:`(x - \mathrm{mean}_c) / \mathrm{std}_c`, when ``mean`` and ``std`` are given.  The
    MNIST input of paper B's protocol (Conventions page, conventions-protocol-b) is
    ``to_float_images(x, 32, MNIST_MEAN, MNIST_STD)``.

    Args:
        images: uint8 tensor (N, H, W) (one channel) or (N, H, W, C) (channels last), pixel
            values 0..255.
        size: side of the square output in pixels; None = keep (H, W).
        mean: per-channel means of the [0, 1]-scaled pixels (C values), e.g. ``MNIST_MEAN``;
            None = no standardisation (then ``std`` must be None too).
        std: per-channel standard deviations (C values), e.g. ``MNIST_STD``; given together
            with ``mean``.

    Returns:
        A contiguous float32 tensor (N, C, size, size) (or (N, C, H, W) without ``size``).

    Raises:
        TypeError: ``images`` is not uint8.
        ValueError: a bad shape, only one of ``mean``/``std``, or the wrong number of channel
            values.
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
