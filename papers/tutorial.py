"""Helpers of the tutorial ``T1_own_model``: a game of a model that is not a torch module, and
a table of its salient AND-OR patterns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ibn.transforms import members

__all__ = ["log_odds_game", "top_patterns", "PlantedPatches"]


def log_odds_game(model: Any, x: np.ndarray, label: int, players: Sequence[int],
                  baseline: np.ndarray) -> Callable[[torch.Tensor], np.ndarray]:
    """The game v(x_T) of a binary scikit-learn classifier on one sample ``x``: for a (k, n)
    boolean mask matrix (column i = player i), the log-odds of the true class ``label`` (0 or 1)
    with the features ``players`` outside T set to ``baseline`` (the other features keep their
    values in ``x``).

    ``model.decision_function`` of a binary classifier is the log-odds of class 1, so the
    reward is ± that value. Any callable of this form works with :func:`ibn.games.all_values`.
    """
    sign = 1.0 if label == 1 else -1.0
    cols = np.array(players)

    def v(masks: torch.Tensor) -> np.ndarray:
        keep = masks.numpy()
        batch = np.repeat(x[None, :], len(keep), axis=0)
        batch[:, cols] = np.where(keep, batch[:, cols], baseline[cols])
        return sign * model.decision_function(batch)

    return v


def top_patterns(result: Any, names: Sequence[str], i: int, k: int = 8) -> pd.DataFrame:
    """The ``k`` AND and OR interactions of sample ``i`` with the largest |effect|, named by the
    features of their players (``names[j]`` = the name of player j; AND patterns joined by
    " & ", OR patterns by " | ").

    ``result``: an :class:`ibn.and_or.AndOrResult` (``and_effects`` / ``or_effects``, samples ×
    2^n). Columns: ``kind``, ``pattern``, ``effect``."""
    rows = []
    for kind, effects in (("AND", result.and_effects[i]), ("OR", result.or_effects[i])):
        sep = " & " if kind == "AND" else " | "
        for S in range(1, effects.shape[-1]):
            rows.append((kind, sep.join(names[j] for j in members(S)), float(effects[S])))
    frame = pd.DataFrame(rows, columns=["kind", "pattern", "effect"])
    return frame.reindex(frame.effect.abs().sort_values(ascending=False).index).head(k)


class PlantedPatches(torch.nn.Module):
    """A two-class "model" of 4×4 images with known interactions among the four 2×2 cells of
    a :class:`ibn.maskers.PatchMasker` with ``grid=2`` (players 0-3 = cells (0, 0), (0, 1),
    (1, 0), (1, 1)): the log-odds of class 1 is ``and_effect`` when cells 0 and 1 are both
    present plus ``or_effect`` when cell 2 or cell 3 is (a cell is present when its mean is
    above ½; the masker sets absent cells to 0)."""

    def __init__(self, and_effect: float = 3.0, or_effect: float = 2.0) -> None:
        super().__init__()
        self.and_effect, self.or_effect = and_effect, or_effect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cells = x.reshape(len(x), 2, 2, 2, 2).mean((2, 4)).flatten(1) > 0.5  # (B, 4)
        z = (self.and_effect * (cells[:, 0] & cells[:, 1]).double()
             + self.or_effect * (cells[:, 2] | cells[:, 3]).double())
        return torch.stack([-z / 2, z / 2], 1)
