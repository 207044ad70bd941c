"""The figures of paper B's Figs. 4, 5, 7 and 8 at the protocol, from
:func:`papers.claims_b_figs.judge_setup` per setup (one row of panels per setup)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ibn.distributions import plots
from papers._setup import PAGE_WIDTH
from papers.chapters_b import plot_emerged_row

__all__ = ["plot_fig4", "plot_fig5", "plot_fig7", "plot_fig8", "fig5_table"]


def plot_fig4(judged: Mapping[str, Mapping[str, Any]]):
    r"""Fig. 4 per setup, one row of three panels (exact optimum): the constrained eq. 10 fit
    (Conventions page, eq-disentangle) over the measured :math:`A^{(m),\pm}`, then
    :math:`A^{(m),\pm}_{\mathrm{gen}}` with the fitted decay part and
    :math:`A^{(m),\pm}_{\mathrm{non}}` with the fitted spindle.

    Args:
        judged: :func:`papers.claims_b_figs.judge_setup` per setup name (one row of the figure
            per setup, in this order).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(judged), 3, figsize=(PAGE_WIDTH, 2.7 * len(judged) + 0.9),
                             squeeze=False)
    for r, (row, (name, j)) in enumerate(zip(axes, judged.items())):
        f = j["exact"]["fig4"]
        total, gen, non = f["curves"]
        fit = f["constrained"]["fit"]
        plots.plot_disentangled(total.mean(), fit, ax=row[0])
        plots.plot_generalization(gen.mean(), non.mean(), decay=fit.decay, spindle=fit.spindle,
                                  non_scale=1.0, axes=row[1:])
        row[0].set_title("eq. 10 fit (constrained)" if r == 0 else "", fontsize=10)
        for ax in row[1:]:
            ax.set_title(ax.get_title() if r == 0 else "", fontsize=10)
        for ax in row:
            ax.set_ylabel(f"{name}\n" + r"$A^{(m),\pm}$" if ax is row[0] else "")
            ax.set_xticks(range(1, total.n + 1, 3))
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    handles = [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    labels = [lab.split(" (")[0] for ax in axes[0] for lab in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.12 / len(judged), 1, 1))
    return fig


def fig5_table(judged: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    r"""The numbers of Fig. 5, one row per setup and parameter-noise level :math:`\sigma`.

    Args:
        judged: :func:`papers.claims_b_figs.judge_setup` per setup name (its exact optimum's
            ``fig5`` is read).

    Returns:
        A table with the columns ``setup``, ``σ``, ``accuracy``, ``spindle share`` (of the
        eq. 10 fit), ``decay part moves`` (the fitted decay part's relative change from the
        clean model's) and ``mild`` (whether the level counts as mild).
    """
    rows = []
    for name, j in judged.items():
        f = j["exact"]["fig5"]
        for r in f["rows"]:
            rows.append({"setup": name, "σ": r["level"], "accuracy": r["acc"],
                         "spindle share": r["spindle_share"], "decay part moves": r["r_decay"],
                         "mild": r["level"] in f["mild"]})
    return pd.DataFrame(rows)


def plot_fig5(judged: Mapping[str, Mapping[str, Any]]):
    r"""Fig. 5: the spindle share of the eq. 10 fit and the decay part's relative change
    against :math:`\sigma`, one line per setup (filled markers: mild levels; :func:`fig5_table`).

    Args:
        judged: :func:`papers.claims_b_figs.judge_setup` per setup name (one line per setup).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    t = fig5_table(judged)
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.0))
    for name, d in t.groupby("setup", sort=False):
        for ax, col in zip(axes, ("spindle share", "decay part moves")):
            line, = ax.plot(d["σ"], d[col], "-", label=name)
            ax.scatter(d["σ"], d[col], c=[line.get_color() if m else "white" for m in d["mild"]],
                       edgecolors=line.get_color(), zorder=3)
    axes[0].set_ylabel("spindle share of the fit")
    axes[1].set_ylabel("relative change of the decay part")
    for ax in axes:
        ax.set_xlabel("parameter noise σ")
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_fig7(judged: Mapping[str, Mapping[str, Any]]):
    r"""Fig. 7 per setup and kind of noise (parameter noise :math:`\sigma`, FGSM :math:`\epsilon`),
    one row with one panel per level above 0: the newly emerged :math:`\Delta A^{(m),\pm}`
    (Conventions page, eq-emerged) with the fitted spindle.

    Args:
        judged: :func:`papers.claims_b_figs.judge_setup` per setup name (one row per setup and
            kind of noise its exact optimum's ``fig7`` holds).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    rows = [(name, kind, j["exact"]["fig7"][kind]) for name, j in judged.items()
            for kind in ("params", "fgsm") if kind in j["exact"]["fig7"]]
    cols = max(sum(1 for r in f["rows"] if r["level"] > 0) for _, _, f in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(PAGE_WIDTH, 2.3 * len(rows)),
                             squeeze=False)
    for ax_row, (name, kind, f) in zip(axes, rows):
        plot_emerged_row(ax_row, pd.DataFrame(f["rows"]), f["curves"],
                         "σ" if kind == "params" else "ε",
                         row_label=f"{name.split('_', 1)[1]}, {'σ' if kind == 'params' else 'FGSM'}")
    for ax in axes[:-1].flat:
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


def plot_fig8(judged: Mapping[str, Mapping[str, Any]]):
    r"""Fig. 8: the per-sample non-generalizable share (left) and generalizable strength
    :math:`\sum_m \sum_\pm |A^{(m),\pm}_{\mathrm{gen}}|` (right) of correctly classified and
    misclassified samples (exact optimum), a pair of boxes per setup in each panel.

    Args:
        judged: :func:`papers.claims_b_figs.judge_setup` per setup name.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = []
    for name, j in judged.items():
        for group, g in j["exact"]["fig8"]["groups"].items():
            for share, strength in zip(g["non_share"], g["gen_strength"]):
                rows.append({"setup": name, "samples": group, "non-generalizable share": share,
                             r"$\sum_m |A_{\mathrm{gen}}^{(m)}|$": strength})
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.4))
    for ax, col in zip(axes, df.columns[2:]):
        sns.boxplot(df, x="setup", y=col, hue="samples", ax=ax, showfliers=False)
        sns.stripplot(df, x="setup", y=col, hue="samples", ax=ax, dodge=True, size=3,
                      palette="dark:black", legend=False)
        ax.set_xlabel("")
    if axes[1].get_legend() is not None:
        axes[1].get_legend().remove()
    fig.tight_layout()
    return fig

