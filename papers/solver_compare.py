r"""The comparisons of the B_beyond_solver chapter: the same games' AND-OR effects from the
exact optimum of eq. 17 (the LP) and from the lab's SGD, and whether paper B's conclusions
change with the sparsifier (Conventions page, eq-sparsest, conventions-generalizable).

``runs[(setup, solver)]`` is :func:`papers.generalizable.interactions` of a setup (a
``(model, dataset)`` pair) with ``solver`` ``"lp"`` or ``"sgd"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ibn import distributions as dist
from ibn import transforms as tf
from papers import generalizable as G
from papers.chapters_b import effects_l1, solver_flips

__all__ = ["SOLVERS", "sparsity", "shape_verdicts", "disentangling", "misclassified_shares",
           "dependence", "lp_never_above_sgd"]

#: the two sparsifiers compared: the exact LP optimum and the lab's SGD.
SOLVERS = ("lp", "sgd")

Runs = Mapping[tuple[tuple[str, str], str], Mapping[str, Any]]


def _label(setup: tuple[str, str]) -> str:
    return f"{setup[0]}/{setup[1]}"


def _all_l1(r: Mapping[str, Any]) -> torch.Tensor:
    return torch.cat([effects_l1(r[f"{p}and"], r[f"{p}or"]).flatten() for p in ("", "heldout_")]
                     + [effects_l1(r[f"{p}baseline_and"], r[f"{p}baseline_or"]).flatten()
                        for p in ("", "heldout_")])


def sparsity(runs: Runs, setups: Sequence[tuple[str, str]],
             sgd_lrs: Sequence[float] = ()) -> pd.DataFrame:
    r"""How sparse each solution is, per setup: the mean L1
    :math:`\sum_{S \ne \emptyset} |I^{\mathrm{AND}}_S| + |I^{\mathrm{OR}}_S|` over every game
    (target and baselines, training and held-out samples) per solver, the mean number of the
    target's salient interactions per sample (Conventions page, eq-salient), the L1 at the
    lab's starting point, the SGD rates chosen per game, the median and largest ratio of SGD's
    L1 to the LP's, and which implementation produced each solver's numbers.

    Args:
        runs: the setups' results per solver (module docstring).
        setups: the setups, one row each.
        sgd_lrs: the SGD rates tried per game (their counts are shown when recorded).
    """
    rows = []
    for s in setups:
        row: dict[str, Any] = {"setup": _label(s)}
        l1 = {solver: _all_l1(runs[(s, solver)]) for solver in SOLVERS}
        for solver in SOLVERS:
            r = runs[(s, solver)]
            tau = dist.tau_from_values(r["values"])
            n_sal = (dist.salient(r["and"], tau).sum(-1) + dist.salient(r["or"], tau).sum(-1))
            row[f"L1 {solver}"] = float(l1[solver].mean())
            row[f"salient {solver}"] = float(n_sal.double().mean())
            row[f"extractor {solver}"] = r["extractor"]
        r = runs[(s, "lp")]
        v_all = torch.cat([r["values"], r["heldout_values"], r["baseline_values"].flatten(0, 1),
                           r["heldout_baseline_values"].flatten(0, 1)])
        # the lab's start (p = q = 0): u^AND = v_∅ + (v − v_∅)/2, u^OR = (v − v_∅)/2
        half = (v_all - v_all[:, :1]) / 2
        row["L1 at SGD start"] = float(effects_l1(tf.mobius(v_all[:, :1] + half),
                                                  tf.or_mobius(half)).mean())
        if "sgd_lr" in runs[(s, "sgd")]:
            lrs = runs[(s, "sgd")]["sgd_lr"].flatten()
            row["SGD lr chosen"] = ", ".join(f"{x:g}: {int((lrs == x).sum())}" for x in sgd_lrs)
        ratio = l1["sgd"] / l1["lp"]
        row["L1 sgd / lp (median)"] = float(ratio.median())
        row["L1 sgd / lp (max)"] = float(ratio.max())
        rows.append(row)
    return pd.DataFrame(rows)


def shape_verdicts(runs: Runs, setups: Sequence[tuple[str, str]], k: int
                   ) -> tuple[dict, pd.DataFrame]:
    """B2's decay and spindle verdicts and shape statistics per setup and solver.

    Args:
        runs: the setups' results per solver (module docstring).
        setups: the setups.
        k: the number of baselines that mark an interaction generalizable.

    Returns:
        (``summ[(setup, solver)] = (total, generalizable, non-generalizable, summary)`` for the
        figure, one table row per setup and solver).
    """
    summ, rows = {}, []
    for s in setups:
        for solver in SOLVERS:
            tot, gen, non = G.split_strengths(runs[(s, solver)], k)
            sm = G.shape_summary(tot, gen, non)
            summ[(s, solver)] = (tot, gen, non, sm)
            rows.append({"setup": _label(s), "solver": solver,
                         "decay": G.decay_verdict(sm)[0], "spindle": G.spindle_verdict(sm)[0],
                         **{c: round(float(sm[c]), 3) for c in
                            ("mean_order_gen", "mean_order_non", "peak_gen", "peak_non",
                             "cancel_gen", "cancel_non", "non_share")}})
    return summ, pd.DataFrame(rows)


def disentangling(runs: Runs, setups: Sequence[tuple[str, str]], summ: Mapping) -> pd.DataFrame:
    """The eq. 10 fit and SIM (Conventions page, eq-disentangle, eq-jaccard) per setup and
    solver; ``meaningful``: the generalizable part is closer to the decay and the
    non-generalizable one to the spindle, and SIM beats the swapped pairing.

    Args:
        runs: the setups' results per solver (module docstring).
        setups: the setups.
        summ: the first result of :func:`shape_verdicts`.
    """
    rows = []
    for s in setups:
        for solver in SOLVERS:
            r = runs[(s, solver)]
            tot, gen, non, _ = summ[(s, solver)]
            fit = G.fit_theory(tot, r["and"], r["or"])
            sims = G.cross_similarity(gen, non, fit)
            rows.append({"setup": _label(s), "solver": solver, "R2": fit.r2, "alpha": fit.alpha,
                         "sim": sims["sim"], "sim_swapped": sims["sim_swapped"],
                         "meaningful": bool(sims["gen_vs_decay"] > sims["gen_vs_spindle"]
                                            and sims["non_vs_spindle"] > sims["non_vs_decay"]
                                            and sims["sim"] > sims["sim_swapped"])})
    return pd.DataFrame(rows)


def misclassified_shares(runs: Runs, setups: Sequence[tuple[str, str]], k: int) -> pd.DataFrame:
    """The mean non-generalizable share of misclassified and of correct held-out samples per
    setup and solver; ``mis > correct`` when the first is larger (None without both groups).

    Args:
        runs: the setups' results per solver (module docstring).
        setups: the setups.
        k: the number of baselines that mark an interaction generalizable.
    """
    rows = []
    for s in setups:
        for solver in SOLVERS:
            groups = G.heldout_groups(runs[(s, solver)], k)
            row: dict[str, Any] = {"setup": _label(s), "solver": solver}
            for name, (tot, _, non, _) in groups.items():
                row[f"{name} non share"] = float(np.nanmean(G.per_sample_share(non, tot).numpy()))
            row["mis > correct"] = (bool(row["misclassified non share"] > row["correct non share"])
                                    if len(groups) == 2 else None)
            rows.append(row)
    return pd.DataFrame(rows)


def dependence(verdicts: pd.DataFrame, fits: pd.DataFrame, mis: pd.DataFrame) -> list[str]:
    """The conclusions that change with the solver, one line each
    (:func:`papers.chapters_b.solver_flips` of decay, spindle, the meaningful fit and
    misclassified > correct).

    Args:
        verdicts: the table of :func:`shape_verdicts`.
        fits: :func:`disentangling`.
        mis: :func:`misclassified_shares`.
    """
    return (solver_flips(verdicts, "decay") + solver_flips(verdicts, "spindle")
            + solver_flips(fits, "meaningful") + solver_flips(mis, "mis > correct"))


def lp_never_above_sgd(runs: Runs, setups: Sequence[tuple[str, str]]) -> bool:
    """Whether the LP's L1 is at most SGD's on every game (it must be: the LP is the optimum and
    SGD's point is feasible).

    Args:
        runs: the setups' results per solver (module docstring).
        setups: the setups.
    """
    return all(bool((_all_l1(runs[(s, "lp")]) <= _all_l1(runs[(s, "sgd")]) * (1 + 1e-6) + 1e-9)
                    .all()) for s in setups)
