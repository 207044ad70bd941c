# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Paper B, Fig. 8: correctly classified vs misclassified samples

# %% tags=["remove-input"]
from papers import verdicts as V

V.header(V.records_for(['B.fig8']),
         departures=('This page explores the claim on the small-scale held-out samples of the Fig. 2 '
                     'exploration (a handful per group); the verdict comes from the protocol chapter '
                     '(25 + 25 test samples).'),
         reading=('The generalizable and non-generalizable strength per order of correctly '
                  'classified and of misclassified samples.'),
         link=True)

# %% [markdown]
# Paper B reports that on samples a network misclassifies, a larger part of its interactions is
# non-generalizable (spindle-shaped) than on samples it classifies correctly. We test this on
# **held-out** samples: images of the training split that the target model never saw (outside
# its training subset), half of them misclassified by the target and half correctly classified
# (drawn by `papers.generalizable.run_games`, cached with the B2 games). The reward is
# the log-odds of the *true* label (negative on misclassified samples). The players, the $k$
# baselines (trained on the test split), the exact LP extraction and the salience threshold
# (τ = 0.02·E_x|v(x_N) − v(x_∅)| over all held-out samples, one τ for both groups) are as in
# `B2_distributions`.
#
# Two numbers per group, with their spread:
#
# - the **non-generalizable share** $\sum_m(|A^+_{\text{non}}|+|A^-_{\text{non}}|)/\sum_m(|A^+|+|A^-|)$ per sample
#   (baseline-based, {ref}`Conventions: generalizable interactions <conventions-generalizable>`), compared by a one-sided Mann–Whitney test;
# - the **spindle share** of the eq. 10 fit of the group's mean distribution,
#   $\sum|A_{\text{spindle}}|/(\sum|A_{\text{decay}}|+\sum|A_{\text{spindle}}|)$ (baseline-free).
#
# Verdict rule: reproduced when both shares are larger on the misclassified samples.
# With a handful of samples per group at `book` scale the test has little power; the p-value
# says how much the difference could be chance.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
k = None  # override the number of baselines

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy.stats import mannwhitneyu

import papers
from ibn.book import scale_params, show_provenance
from ibn.distributions import mean_order, plots
from papers import chapters_b as CB
from papers import generalizable as G

papers.setup(scale)
params = scale_params(scale, G.PRESETS, k=k)
runs = {tuple(s): G.interactions(G.setup_of(*s, params, scale), solver="lp") for s in params["setups"]}
{kk: v for kk, v in params.items() if kk not in ("target", "baseline")}

# %% [markdown]
# ## Distributions of the two groups
#
# Rows: setups; columns: generalizable and non-generalizable parts of the correctly classified
# and of the misclassified held-out samples (sample means).

# %%
groups = {key: G.heldout_groups(r, params["k"]) for key, r in runs.items()}
fig, axes = plt.subplots(len(runs), 4, figsize=(papers.PAGE_WIDTH, 2.1 * len(runs)), squeeze=False)
for row_axes, (key, gr) in zip(axes, groups.items()):
    col = 0
    for name in ("correct", "misclassified"):
        if name not in gr:
            col += 2
            continue
        tot, gen, non, idx = gr[name]
        for s, color, part in ((gen, "tab:blue", "gen."), (non, "tab:red", "non-gen.")):
            plots.plot_strengths(s.mean(), row_axes[col], color=color)
            col += 1
CB.label_grid(axes, [f"{m}/{d}" for m, d in groups],
              ["correct: gen.", "correct: non-gen.", "wrong: gen.", "wrong: non-gen."])
fig.tight_layout()
plt.show()

# %% [markdown]
# **Figure B8.1** (paper B, Fig. 8): the generalizable and non-generalizable strength of
# correctly classified and misclassified samples.

# %% [markdown]
# ## Shares, fits and verdicts

# %%
rows = []
for key, gr in groups.items():
    r = runs[key]
    row = {"setup": f"{key[0]}/{key[1]}"}
    shares = {}
    for name, (tot, gen, non, idx) in gr.items():
        share = G.per_sample_share(non, tot)
        shares[name] = share[torch.isfinite(share)].numpy()
        fit = G.fit_theory(tot, r["heldout_and"][idx], r["heldout_or"][idx])
        row.update({f"{name} n": len(idx),
                    f"{name} non share": float(np.mean(shares[name])) if len(shares[name]) else float("nan"),
                    f"{name} non share std": float(np.std(shares[name])) if len(shares[name]) else float("nan"),
                    f"{name} spindle share": G.spindle_share(fit), f"{name} fit R2": fit.r2,
                    f"{name} mean order non": float(mean_order(non.mean())),
                    f"{name} v(x_N)": float(r["heldout_values"][idx, -1].mean())})
    if "correct" in gr and "misclassified" in gr and len(shares["correct"]) and len(shares["misclassified"]):
        row["p (Mann-Whitney, mis > correct)"] = float(
            mannwhitneyu(shares["misclassified"], shares["correct"], alternative="greater").pvalue)
        row["reproduced"] = bool(row["misclassified non share"] > row["correct non share"]
                                 and row["misclassified spindle share"] > row["correct spindle share"])
    else:
        row["reproduced"] = None
    rows.append(row)
table = pd.DataFrame(rows)
table.round(4).T

# %%
for row in rows:
    if row["reproduced"] is None:
        print(f"{row['setup']}: one group is empty at this scale -> not tested")
        continue
    print(f"{row['setup']}: non-generalizable share misclassified {row['misclassified non share']:.3f} "
          f"(± {row['misclassified non share std']:.3f}, n = {row['misclassified n']}) vs correct "
          f"{row['correct non share']:.3f} (± {row['correct non share std']:.3f}, n = {row['correct n']}), "
          f"p = {row['p (Mann-Whitney, mis > correct)']:.3f}; spindle share "
          f"{row['misclassified spindle share']:.3f} vs {row['correct spindle share']:.3f} -> "
          f"{'reproduced' if row['reproduced'] else 'NOT reproduced'}")
tested = [r for r in rows if r["reproduced"] is not None]
n_ok = sum(bool(r["reproduced"]) for r in tested)
print(f"\nmore non-generalizable / spindle interactions on misclassified samples: {n_ok} of "
      f"{len(tested)} setups -> {'reproduced' if tested and n_ok == len(tested) else 'NOT reproduced in every setup'}")

# %% [markdown]
# ## The two groups partition the held-out samples
#
# The two groups partition the held-out samples, and every share lies in [0, 1].

# %% tags=["nbval-check-output"]
ok = True
for key, gr in groups.items():
    n_ho = len(runs[key]["heldout_values"])
    idx = torch.cat([g[3] for g in gr.values()])
    ok &= sorted(idx.tolist()) == list(range(n_ho))
    for tot, gen, non, _ in gr.values():
        sh = G.per_sample_share(non, tot)
        ok &= bool(((sh >= 0) & (sh <= 1 + 1e-12) | sh.isnan()).all())
print("groups partition the held-out samples, shares in [0, 1]:", ok)

# %% [markdown]
# ## Provenance (the cached games and interactions of B2)

# %%
for model, dataset in params["setups"]:
    p = G.setup_of(model, dataset, params, scale)
    print(f"-- {model} / {dataset}")
    show_provenance(G.games_name(p), p)
    show_provenance(G.effects_name(p), G.effects_key(p, "lp"))
