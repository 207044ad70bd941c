"""Small steps of paper B's chapters that are neither a pipeline nor an analysis of
:mod:`papers.generalizable`: one setup of B2 whether it plays images or sentences, and the
comparisons of B_beyond_solver (the exact LP against the lab's SGD).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ibn.book import show_provenance
from papers import generalizable as G
from papers import generalizable_text as GT

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["setup_params", "setup_interactions", "show_setup_provenance", "effects_l1",
           "solver_flips"]


def setup_params(model: str, dataset: str, settings: Mapping[str, Any],
                 text_settings: Mapping[str, Any], scale: str | None, *,
                 seed: int = 0) -> dict[str, Any]:
    """The games' cache params of one B2 setup: :func:`papers.generalizable_text.text_setup`
    (``text_settings``, a preset of ``TEXT_PRESETS``) for the sentences
    (``dataset == GT.DATASET``), else :func:`papers.generalizable.setup_of` (``settings``, a
    preset of ``G.PRESETS``) for the images."""
    if dataset == GT.DATASET:
        return GT.text_setup(model, text_settings, scale, seed=seed)
    return G.setup_of(model, dataset, settings, scale, seed=seed)


def setup_interactions(model: str, dataset: str, settings: Mapping[str, Any],
                       text_settings: Mapping[str, Any], scale: str | None, *, seed: int = 0,
                       progress: bool = False) -> dict[str, Any]:
    """Games and exact (LP) AND-OR effects of the setup of :func:`setup_params` (cached):
    :func:`papers.generalizable_text.text_interactions` for the sentences,
    :func:`papers.generalizable.interactions` for the images (``progress``: a bar while image
    games are played)."""
    p = setup_params(model, dataset, settings, text_settings, scale, seed=seed)
    if dataset == GT.DATASET:
        return GT.text_interactions(p)
    return G.interactions(p, solver="lp", progress=progress)


def show_setup_provenance(model: str, dataset: str, settings: Mapping[str, Any],
                          text_settings: Mapping[str, Any], scale: str | None, *,
                          seed: int = 0) -> None:
    """Print the provenance of a setup's two cached stages: the games (training and forward
    passes, ``B_games_<model>_<dataset>``) and the LP extraction
    (``B_effects_<model>_<dataset>``)."""
    p = setup_params(model, dataset, settings, text_settings, scale, seed=seed)
    print(f"-- {model} / {dataset}, seed {seed}: games (training + forward passes), then AND-OR "
          "extraction (LP)")
    show_provenance(f"B_games_{model}_{dataset}", p)
    show_provenance(f"B_effects_{model}_{dataset}", G.effects_key(p, "lp"))


def effects_l1(and_effects: torch.Tensor, or_effects: torch.Tensor) -> torch.Tensor:
    """Σ_{S≠∅} |I^AND_S| + |I^OR_S| per game (the objective of eq. 17), over the last dimension
    (2^n, bit i = player i) of batched effects."""
    return and_effects[..., 1:].abs().sum(-1) + or_effects[..., 1:].abs().sum(-1)


def solver_flips(df: pd.DataFrame, column: str) -> list[str]:
    """The setups whose ``column`` differs between the solvers ``"lp"`` and ``"sgd"``, as lines
    ``"<setup>: <column> lp=<value> sgd=<value>"`` (``df``: one row per setup and solver, with
    columns ``setup`` and ``solver``)."""
    out = []
    for setup, g in df.groupby("setup"):
        vals = dict(zip(g.solver, g[column]))
        if vals.get("lp") != vals.get("sgd"):
            out.append(f"{setup}: {column} lp={vals.get('lp')} sgd={vals.get('sgd')}")
    return out
