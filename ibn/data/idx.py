"""Readers for the IDX format of (Fashion-)MNIST, raw or gzipped, and the two loaders.

The IDX header is two zero bytes, a type code (0x08 = uint8), the number of dimensions, then
one big-endian uint32 per dimension; the data follow.  Gzip is detected from the magic bytes,
so ``train-images-idx3-ubyte`` and ``train-images-idx3-ubyte.gz`` both load.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from .fetch import verify

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "FASHION_MNIST_CLASSES"]

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array of its declared shape.

    Args:
        path: the IDX file, raw or gzipped (gzip is detected from the magic bytes, not from
            the name).

    Returns:
        The data, shape as declared in the header (e.g. (N, 28, 28) for images, (N,) for
        labels), in the declared dtype (uint8 for (Fashion-)MNIST) and native byte order.

    Raises:
        ValueError: the file is not IDX (bad magic or type code) or its size disagrees with
            the header.
        OSError: the file cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic {raw[:4]!r})")
    dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{path}: header says {shape} ({expected} bytes) but {len(raw) - offset} bytes follow")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path:
    for cand in (folder / stem, folder / f"{stem}.gz"):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"neither {stem} nor {stem}.gz in {folder}")


def _load_pair(name: str, split: str, suffix: str, root, folder) -> tuple[torch.Tensor, torch.Tensor]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    stem = "train" if split == "train" else "t10k"
    if folder is not None:  # files a user brings (e.g. the original .gz downloads): no pinned hash
        images = read_idx(_find(Path(folder), f"{stem}-images-idx3-ubyte"))
        labels = read_idx(_find(Path(folder), f"{stem}-labels-idx1-ubyte"))
    else:
        d = verify(name, root)
        images = read_idx(d / f"{stem}-images-idx3-ubyte{suffix}")
        labels = read_idx(d / f"{stem}-labels-idx1-ubyte{suffix}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{name} {split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def load_mnist(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` as (N, 28, 28) uint8 images and (N,) int64 labels.

    Files are verified against their pinned SHA-256 first (fetch with ``ibn data fetch mnist``;
    Data page).  Use :func:`ibn.data.to_float_images` (or :func:`ibn.data.load_images`) for the
    32×32 float input of paper B's protocol (Conventions page, conventions-protocol-b).

    Args:
        split: ``"train"`` (60 000 images) or ``"test"`` (10 000).
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).
        folder: a folder holding the four standard IDX files (raw or ``.gz``, e.g. from the
            original site), read instead of the fetched ones and *not* verified; None = the
            fetched, verified files.

    Returns:
        ``(images, labels)``: uint8 (N, 28, 28) pixels in 0..255 and int64 (N,) digits 0..9.

    Raises:
        ValueError: ``split`` is not ``"train"`` or ``"test"``, or the files disagree in length.
        MissingDataError: the source is not fetched (without ``folder``).
        ChecksumError: a fetched file does not have its pinned hash.
        FileNotFoundError: a file is missing from ``folder``.
    """
    return _load_pair("mnist", split, "", root, folder)


def load_fashion_mnist(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split`` as (N, 28, 28) uint8 images and (N,) int64 labels.

    Verified like :func:`load_mnist` (fetch with ``ibn data fetch fashion-mnist``; Data page).
    The label names are ``FASHION_MNIST_CLASSES``.

    Args:
        split: ``"train"`` (60 000 images) or ``"test"`` (10 000).
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).
        folder: a folder of user-provided IDX files (raw or ``.gz``), read unverified instead
            of the fetched ones; None = the fetched, verified files.

    Returns:
        ``(images, labels)``: uint8 (N, 28, 28) pixels in 0..255 and int64 (N,) classes 0..9.

    Raises:
        ValueError: ``split`` is not ``"train"`` or ``"test"``, or the files disagree in length.
        MissingDataError: the source is not fetched (without ``folder``).
        ChecksumError: a fetched file does not have its pinned hash.
        FileNotFoundError: a file is missing from ``folder``.
    """
    return _load_pair("fashion-mnist", split, ".gz", root, folder)
