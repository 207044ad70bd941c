"""The progress bar of the library: ``tqdm.auto``'s, a widget in a notebook where ipywidgets is
installed and a text bar elsewhere, without the warning (and the machine path in it) that
``tqdm.auto`` prints in a notebook without ipywidgets."""

from __future__ import annotations

import warnings

from tqdm import TqdmWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
