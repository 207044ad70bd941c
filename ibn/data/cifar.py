"""CIFAR-10: the standard ``cifar-10-batches-py`` folder a user brings, and a 20-image sample.

CIFAR-10 itself cannot be fetched from the package registries reachable here; put the
official python version (``cifar-10-python.tar.gz`` from
https://www.cs.toronto.edu/~kriz/cifar.html, extracted) at
``<data root>/raw/cifar10/cifar-10-batches-py/`` or pass ``folder=``.  The 20 PNGs shipped in
``foolbox==3.3.4`` (``ibn data fetch cifar10-sample``) are the first 20 test images; they
smoke-test the same downstream path (Data page).
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from .fetch import data_root, verify

__all__ = ["load_cifar10", "load_cifar10_sample", "cifar10_folder", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def cifar10_folder(folder: str | os.PathLike[str] | None = None, root: str | os.PathLike[str] | None = None) -> Path:
    """Locate the ``cifar-10-batches-py`` folder.

    Args:
        folder: the ``cifar-10-batches-py`` folder itself or its parent; None = look under
            ``<data root>/raw/cifar10/``.
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root);
            used only when ``folder`` is None.

    Returns:
        The folder that holds ``test_batch`` (and ``data_batch_1`` .. ``data_batch_5``).

    Raises:
        FileNotFoundError: no such folder; the message says where to put the official python
            version of CIFAR-10.
    """
    base = Path(folder).expanduser() if folder is not None else data_root(root) / "raw" / "cifar10"
    for cand in (base, base / "cifar-10-batches-py"):
        if (cand / "test_batch").is_file():
            return cand
    raise FileNotFoundError(
        f"CIFAR-10 not found at {base}: put the extracted official python version (the folder "
        f"'cifar-10-batches-py' with data_batch_1..5, test_batch, batches.meta from "
        f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz) at "
        f"{data_root(root) / 'raw' / 'cifar10' / 'cifar-10-batches-py'} or pass folder=. "
        f"It cannot be fetched from the package registries; `ibn data fetch cifar10-sample` gives 20 test images."
    )


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"missing CIFAR-10 batch file {path}")
    with open(path, "rb") as fh:
        d = pickle.load(fh, encoding="bytes")  # the official format is a python pickle
    data = np.asarray(d[b"data"], dtype=np.uint8)
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: unexpected data shape {data.shape} / labels {labels.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(
    split: str = "train",
    folder: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` as (N, 32, 32, 3) uint8 images and (N,) int64 labels.

    CIFAR-10 is brought by the user (see the module docstring and the Data page); the batch
    files are read as they are, without a pinned hash.  Use :func:`ibn.data.to_float_images`
    (with ``CIFAR10_MEAN``/``CIFAR10_STD``) for model input.

    Args:
        split: ``"train"`` (50 000 images, ``data_batch_1`` .. ``data_batch_5``) or ``"test"``
            (10 000, ``test_batch``).
        folder: the ``cifar-10-batches-py`` folder or its parent (see :func:`cifar10_folder`);
            None = ``<data root>/raw/cifar10/``.
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).

    Returns:
        ``(images, labels)``: uint8 (N, 32, 32, 3) channels-last pixels in 0..255 and int64
        (N,) labels 0..9 (names in ``CIFAR10_CLASSES``).

    Raises:
        ValueError: ``split`` is not ``"train"`` or ``"test"``, or a batch file is malformed.
        FileNotFoundError: the folder or a batch file is missing.
    """
    if split not in _BATCHES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = cifar10_folder(folder, root)
    parts = [_read_batch(d / b) for b in _BATCHES[split]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)


_SAMPLE_RE = re.compile(r"^cifar10_(\d+)_(\d)\.png$")


def load_cifar10_sample(root: str | os.PathLike[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 20 CIFAR-10 test images, shipped in ``foolbox==3.3.4`` (``ibn data fetch
    cifar10-sample``; Data page), to smoke-test the CIFAR-10 path.

    Args:
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).

    Returns:
        ``(images, labels)``: uint8 (20, 32, 32, 3) RGB pixels in 0..255, in test-set order,
        and int64 (20,) labels read from the file names ``cifar10_<index>_<label>.png``.

    Raises:
        MissingDataError: the sample is not fetched.
        ChecksumError: a file does not have its pinned hash.
        ValueError: an image is not 32×32 RGB.
    """
    from PIL import Image  # Pillow is a dependency of matplotlib

    d = verify("cifar10-sample", root)
    files = sorted((int(m.group(1)), int(m.group(2)), p) for p in d.iterdir() if (m := _SAMPLE_RE.match(p.name)))
    images, labels = [], []
    for _, label, p in files:
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.uint8)
        if a.shape != (32, 32, 3):
            raise ValueError(f"{p}: expected a 32x32 RGB image, got shape {a.shape}")
        images.append(a)
        labels.append(label)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)
