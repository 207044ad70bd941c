"""Small steps of paper B's chapters that are neither a pipeline nor an analysis of
:mod:`papers.generalizable`: one setup of B2 whether it plays images or sentences, the
comparisons of B_beyond_solver (the exact LP against the lab's SGD), the figures of B2's
ablation over k and of B5's noise levels, and the table clean-up the chapters display with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ibn.book import show_provenance
from ibn.distributions import Strengths, plots
from papers import generalizable as G
from papers import generalizable_text as GT

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["setup_params", "setup_interactions", "show_setup_provenance", "effects_l1",
           "solver_flips", "drop_empty_rows", "plot_k_ablation", "plot_emerged_row", "label_grid",
           "plot_gen_under_noise"]

#: font sizes (points) of the chapters' figures: drawn at most 7.5 inches wide, so that they are
#: shown at about their own size in the book's text column and these sizes are what a reader sees.
TITLE_PT, LABEL_PT, TICK_PT, LEGEND_PT = 10, 10, 9, 9


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
    show_provenance(G.games_name(p), p)
    show_provenance(G.effects_name(p), G.effects_key(p, "lp"))


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


def drop_empty_rows(df: pd.DataFrame, columns: Sequence[str] | None = None,
                    decimals: int | None = None) -> pd.DataFrame:
    """``df`` without the rows whose values in ``columns`` (default: every numeric column) are
    all 0 or NaN, after rounding to ``decimals`` when given (the rows a rounded table would show
    as nothing but zeros). The index is kept, so a reader sees which rows were left out."""
    cols = list(columns) if columns is not None else list(df.select_dtypes("number").columns)
    vals = df[cols].astype(float)
    if decimals is not None:
        vals = vals.round(decimals)
    empty = (vals.fillna(0.0) == 0.0).all(axis=1)
    return df[~empty.to_numpy()]


def _style(ax) -> None:
    ax.tick_params(labelsize=TICK_PT)
    ax.xaxis.label.set_size(LABEL_PT)
    ax.yaxis.label.set_size(LABEL_PT)


def plot_k_ablation(curves: Mapping[int, tuple[Strengths, Strengths]], title: str):
    """B2's ablation over the number k of baselines for one setup: two panels sharing their
    y-axis, the strength A⁺ + |A⁻| per order m = 1..n of the sample-averaged generalizable
    (left) and non-generalizable (right) curve, one line per k. ``curves`` maps k to the
    averaged (A_gen, A_non). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.8), sharey=True)
    for kk, parts in curves.items():
        for ax, part in zip(axes, parts):
            ax.plot(np.arange(1, part.n + 1), part.total()[1:].numpy(), marker="o", ms=4,
                    label=f"k = {kk}")
    axes[0].set_title("generalizable", fontsize=TITLE_PT)
    axes[1].set_title("non-generalizable", fontsize=TITLE_PT)
    axes[0].set_ylabel(r"$A^{(m),+} + |A^{(m),-}|$")
    for ax in axes:
        ax.set_xlabel("order m")
        ax.set_xticks(np.arange(1, next(iter(curves.values()))[0].n + 1))
        _style(ax)
    axes[1].legend(fontsize=LEGEND_PT)
    fig.suptitle(title, fontsize=TITLE_PT + 1)
    fig.tight_layout()
    return fig


def plot_emerged_row(axes: Sequence, table: pd.DataFrame, curves: Mapping[str, Any],
                     symbol: str, row_label: str | None = None) -> None:
    """B5: one panel per nonzero noise level of one kind of noise, in ``axes``: the newly
    emerged interactions ΔA^(m),+ up and ΔA^(m),− down (eq. 19, sample and draw means) with
    the fitted spindle (eq. 7) as a line; the title gives the level (``symbol`` = its name,
    σ or ε) and the fit's R² (the accuracy and α are in the chapters' tables). ``table`` and
    ``curves`` are :func:`papers.noise.level_rows`' rows (as a DataFrame) and curves; axes left
    over are switched off. ``row_label`` (the kind of noise) heads the first panel's y-label."""
    pos = [i for i, lv in enumerate(table["level"]) if lv > 0]
    for j, (ax, i) in enumerate(zip(axes, pos)):
        da, fit = curves["dA"][i], curves["fit"][i]
        plots.plot_strengths(Strengths(da.plus, -da.minus), ax, color="tab:red")
        plots.plot_theory(fit.curve, ax, color="black")
        ax.set_title(f"{symbol} = {table['level'][i]:g}\nR² = {fit.r2:.2f}", fontsize=TITLE_PT)
        ax.set_xticks(range(1, da.n + 1, max(1, da.n // 4)))
        ax.set_ylabel("")
        if j == 0:
            label = r"$\Delta A^{(m),\pm}$ (− down)"
            ax.set_ylabel(f"{row_label}\n{label}" if row_label else label)
        _style(ax)
    for ax in list(axes)[len(pos):]:
        ax.axis("off")


def plot_gen_under_noise(axes: Sequence, tables: Mapping[str, pd.DataFrame],
                         curves: Mapping[str, Any], symbols: Mapping[str, str],
                         tolerance: float) -> None:
    """B5's "does the generalizable part stay put" panels for one setup, in ``axes`` (1 + one
    per kind of noise). First: the generalizable curve A_gen^(m),+ (solid) and A_gen^(m),−
    (dashed) of the clean model and at every level of ``"params"`` noise. Then, per kind of
    noise (the keys of ``tables``, each :func:`papers.noise.level_rows`' rows as a DataFrame,
    with ``curves`` its curves): the relative changes r_gen, r_non and r_decay against the
    level (log scale), with ``tolerance`` as a dotted line."""
    import matplotlib.pyplot as plt

    ax0 = axes[0]
    cur, df = curves["params"], tables["params"]
    cmap = plt.get_cmap("viridis")
    for i, g in enumerate(cur["gen"]):
        if i > 0 and df["level"][i - 1] == 0:
            continue  # σ = 0 is the clean curve
        lab = "clean" if i == 0 else f"{symbols['params']} = {df['level'][i - 1]:g}"
        col = "black" if i == 0 else cmap(i / len(cur["gen"]))
        mm = np.arange(1, g.n + 1)
        ax0.plot(mm, g.plus[1:].numpy(), "-o", ms=3, color=col, label=lab)
        ax0.plot(mm, g.minus[1:].numpy(), "--", color=col)
    ax0.axhline(0, color="gray", lw=0.5)
    ax0.set_title(r"$A_{\mathrm{gen}}^{(m),\pm}$ under parameter noise", fontsize=TITLE_PT)
    ax0.set_xlabel("order m")
    ax0.legend(fontsize=LEGEND_PT, ncol=2)
    _style(ax0)
    names = {"r_gen": r"$r_{\mathrm{gen}}$", "r_non": r"$r_{\mathrm{non}}$",
             "r_decay": r"$r_{\mathrm{decay}}$"}
    for ax, (kind, t) in zip(axes[1:], tables.items()):
        t = t[t["level"] > 0]
        for col, c in (("r_gen", "tab:blue"), ("r_non", "tab:red"), ("r_decay", "tab:green")):
            ax.plot(t["level"], t[col], "-o", ms=3, color=c, label=names[col])
        ax.axhline(tolerance, color="gray", ls=":")
        ax.set_xscale("log")
        ax.set_xticks(t["level"], [f"{lv:g}" for lv in t["level"]])
        ax.minorticks_off()
        ax.set_xlabel(symbols[kind])
        ax.set_title(f"{kind}: relative change", fontsize=TITLE_PT)
        ax.legend(fontsize=LEGEND_PT)
        _style(ax)


def label_grid(axes, row_labels: Sequence[str], col_titles: Sequence[str], *,
               y: str = r"$A^{(m),\pm}$", every: int = 2, legend: bool = False) -> None:
    """Label a grid of per-order panels (rows = setups, columns = parts) once: column titles on
    the top row, each row's label with ``y`` on its first panel, the order axis named on the
    bottom row only, every ``every``-th order ticked; fonts at the book's sizes. With
    ``legend`` the panels' legends become one legend below the grid (the top row's entries,
    their parenthesised numbers dropped); call ``fig.tight_layout(rect=(0, 0.08, 1, 1))``."""
    if legend:
        handles, labels = [], []
        for ax in axes[0]:
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += [s.split(" (")[0] for s in lab]
        for ax in axes.flat:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
        axes[0][0].figure.legend(handles, labels, loc="lower center", ncol=4,
                                 fontsize=LEGEND_PT, frameon=False)
    for r, row in enumerate(axes):
        for c, ax in enumerate(row):
            ax.set_title(col_titles[c] if r == 0 else "", fontsize=TITLE_PT)
            ax.set_ylabel(f"{row_labels[r]}\n{y}" if c == 0 else "", fontsize=LABEL_PT)
            ax.set_xlabel("order m" if r == len(axes) - 1 else "", fontsize=LABEL_PT)
            lo, hi = ax.get_xlim()
            ax.set_xticks(range(1, int(hi) + 1, every))
            ax.tick_params(labelsize=TICK_PT)
