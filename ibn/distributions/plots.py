"""Plot helpers for per-order strength distributions (paper B Figs. 2-4 style).

Every function returns the matplotlib objects it drew on and never calls ``plt.show``.
Orders m = 1..n are drawn (m = 0, the bias, is not an interaction).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ibn.distributions.disentangle import DisentangleResult
from ibn.distributions.strength import Strengths

__all__ = ["plot_strengths", "plot_theory", "plot_disentangled", "plot_generalization"]


def _m(s: Strengths) -> np.ndarray:
    return np.arange(1, s.n + 1)


def plot_strengths(
    s: Strengths, ax=None, *, color: str = "tab:blue", label: str | None = None,
    scale: float = 1.0, width: float = 0.8,
):
    """Bars of A^(m),+ (up) and A^(m),− (down) per order; ``scale`` multiplies both. Returns ax."""
    if s.plus.ndim != 1:
        raise ValueError("plot one averaged curve: call Strengths.mean() first")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    m = _m(s)
    ax.bar(m, scale * s.plus[1:].numpy(), width=width, color=color, alpha=0.75, label=label)
    ax.bar(m, scale * s.minus[1:].numpy(), width=width, color=color, alpha=0.45)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xlabel("order m")
    ax.set_ylabel(r"strength $A^{(m),\pm}$ (+ up, − down)")
    ax.set_xticks(m)
    return ax


def plot_theory(s: Strengths, ax, *, color: str = "black", label: str | None = None,
                scale: float = 1.0, style: str = "-"):
    """Overlay a theoretical curve (decay, spindle or their sum) as lines on both signs."""
    m = _m(s)
    ax.plot(m, scale * s.plus[1:].numpy(), style, color=color, lw=1.5, label=label)
    ax.plot(m, scale * s.minus[1:].numpy(), style, color=color, lw=1.5)
    return ax


def plot_disentangled(measured: Strengths, fit: DisentangleResult, ax=None):
    """Measured bars with the fitted decay, spindle and their sum (eq. 10) overlaid."""
    ax = plot_strengths(measured, ax, color="tab:gray", label="measured A")
    plot_theory(fit.decay, ax, color="tab:blue", label=f"decay (δ={fit.delta:.2g}, γ={fit.gamma:.2g})")
    plot_theory(fit.spindle, ax, color="tab:red", label=f"spindle (α={fit.alpha:.2f}, β={fit.beta:.2g})")
    plot_theory(fit.theory, ax, color="black", style="--", label=f"decay + spindle (R²={fit.r2:.2f})")
    ax.legend(fontsize=9)
    return ax


def plot_generalization(
    gen: Strengths, non: Strengths, *, decay: Strengths | None = None,
    spindle: Strengths | None = None, non_scale: float = 2.0, title: str | None = None,
    axes: Sequence | None = None,
):
    """Two panels: generalizable (with the decay curve) and non-generalizable (with the spindle).

    Paper B draws the non-generalizable panel with its y-axis values doubled; ``non_scale``
    (default 2) makes that explicit: the right panel plots ``non_scale × A_non`` and says so in
    its y-label. Returns (fig, (ax_gen, ax_non)).
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    else:
        fig = axes[0].figure
    ax_g, ax_n = axes
    plot_strengths(gen, ax_g, color="tab:blue", label=r"generalizable $A_\mathrm{gen}$")
    if decay is not None:
        plot_theory(decay, ax_g, color="navy", label="decay model")
    ax_g.set_title("generalizable")
    plot_strengths(non, ax_n, color="tab:red", label=r"non-generalizable $A_\mathrm{non}$", scale=non_scale)
    if spindle is not None:
        plot_theory(spindle, ax_n, color="darkred", label="spindle model", scale=non_scale)
    ax_n.set_title("non-generalizable")
    if non_scale != 1.0:
        ax_n.set_ylabel(
            f"{non_scale:g} × " + r"$A_\mathrm{non}^{(m),\pm}$" + f" (y-axis scaled ×{non_scale:g})"
        )
    for ax in axes:
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, (ax_g, ax_n)
