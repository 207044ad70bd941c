"""Paths of the fetched pretrained weights (MiniLM encoder, SmolLM2 GGUF)."""

from __future__ import annotations

import os
from pathlib import Path

from .fetch import verify

__all__ = ["minilm_path", "smollm2_path"]


def minilm_path(root: str | os.PathLike[str] | None = None) -> Path:
    """Folder of all-MiniLM-L6-v2 (``model.safetensors`` + tokenizer), verified.

    Load it with ``transformers.AutoModel.from_pretrained(path)`` with ``HF_HUB_OFFLINE=1``
    (or :func:`ibn.models.minilm_classifier`).

    Args:
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).

    Returns:
        The folder ``<data root>/raw/minilm/model``.

    Raises:
        MissingDataError: not fetched; the message says to run ``ibn data fetch minilm``.
        ChecksumError: a file does not have its pinned hash.
    """
    return verify("minilm", root) / "model"


def smollm2_path(root: str | os.PathLike[str] | None = None) -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF file, verified.

    Load it with
    ``transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)``
    (needs ``gguf`` and ``accelerate``), or with :func:`ibn.models.smollm2`.

    Args:
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).

    Returns:
        The path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` under ``<data root>/raw/smollm2/``.

    Raises:
        MissingDataError: not fetched; the message says to run ``ibn data fetch smollm2``.
        ChecksumError: the file does not have its pinned hash.
    """
    return verify("smollm2", root) / "SmolLM2-135M-Instruct.Q4_1.gguf"
