"""One call at the top of every notebook of the book: :func:`setup`.

It replaces the lines each notebook used to repeat (a thread count, a warnings filter, switches
for progress bars): the notebooks then only call ``papers`` and ``ibn``, plot and print.
"""

from __future__ import annotations

import os
import sys

from ibn.book import SCALES

__all__ = ["setup", "usable_cpus", "PAGE_WIDTH", "MODEL_LABELS", "model_label", "DATASET_LABELS",
           "dataset_label"]

#: torch threads a notebook uses by default (the book is built on a shared 2-core machine).
DEFAULT_THREADS = 2
#: the width (inches) of a figure that fills the book's text column at its natural size, so
#: that its 9-10 pt text reads at 9-10 pt in the page (a wider figure is shrunk, text and all).
PAGE_WIDTH = 7.6
#: how the book names the architectures of :func:`ibn.models.build`.
MODEL_LABELS = {"resnet20": "ResNet-20", "vgg11": "VGG-11", "vgg16": "VGG-16",
                "vgg11_plain": "VGG-11 without BatchNorm", "alexnet": "AlexNet",
                "mlp5": "MLP-5", "mlp8": "MLP-8", "minilm": "MiniLM", "bert_medium": "BERT-Medium",
                "small_cnn": "small CNN"}

#: the book's names of the image datasets (keys as :func:`ibn.data.dataset_name` gives them)
DATASET_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def model_label(name: str) -> str:
    """The book's name of an architecture, e.g. ``"ResNet-20"`` for ``"resnet20"``.

    Args:
        name: a name of :func:`ibn.models.build`.

    Returns:
        Its label in :data:`MODEL_LABELS`, or ``name`` itself.
    """
    return MODEL_LABELS.get(name, name)


def dataset_label(name: str) -> str:
    """The book's name of a dataset, e.g. ``"Fashion-MNIST"`` for ``"fashion-mnist"``.

    Args:
        name: the dataset's name.

    Returns:
        Its label in :data:`DATASET_LABELS`, or ``name`` itself.
    """
    return DATASET_LABELS.get(name, name)


def usable_cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _quiet_transformers() -> None:
    """Errors only and no progress bars from Hugging Face ``transformers`` (weight-loading
    reports and download bars would otherwise end up in the executed pages)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers logs first
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return
    try:
        from huggingface_hub.utils import disable_progress_bars
    except ImportError:  # the optional text dependencies are not installed
        return
    disable_progress_bars()  # transformers reads this state when it is imported


def setup(scale: str, *, threads: int | None = None) -> None:
    """Prepare a notebook run at ``scale`` (call it once, right after the ``parameters`` cell).

    - ``scale`` must be one of :data:`ibn.book.SCALES` (``ValueError`` otherwise, naming them).
    - torch uses ``threads`` threads: by default ``min(2, usable CPUs)``, never more than the
      CPUs this process may use (``ValueError`` for fewer than one).
    - The library's progress bar (:mod:`ibn._progress`) is imported first, so that no later
      import of ``tqdm.auto`` (by ``transformers``) prints tqdm's warning about a missing
      ``ipywidgets`` into the page. Progress bars of the ``papers`` pipelines are off unless a
      call passes ``progress=True``.
    - ``transformers`` (when installed) reports errors only and shows no progress bars.
    """
    if not isinstance(scale, str) or scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    import torch

    import ibn._progress  # noqa: F401  (tqdm.auto imported once, without tqdm's warning)

    cpus = usable_cpus()
    torch.set_num_threads(min(DEFAULT_THREADS if threads is None else threads, cpus))
    _quiet_transformers()
