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
# # A4 · Consequences: low-, normal-, mid- and high-order models
#
# Paper A (§6) reports that models trained to encode mainly low-order interactions generalise
# better and resist attacks and corruptions better, while high-order models fit the training
# data better. This page trains MLP-8 on 12 features of the breast-cancer table (paper A's Census
# and CIFAR-10 are not available offline) as the normal model and with the three order-steering
# presets at one λ, over 3 seeds, and compares the low- with the high-order models: a small,
# easy table, so the seed-to-seed spread decides what counts.
#
# The box below is the verdict; the evidence follows.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
recompute = False

# %% tags=["remove-input"]
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import papers
from ibn.book import scale_params, show_provenance
from ibn.results import load_provenance
from ibn.train import PRESETS
from papers import bottleneck as bn
from papers import bottleneck_runs as bnr
from papers import claims_a as CA
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
P = scale_params(scale, bnr.A4_PRESETS)
results = {(k, s): bnr.a4_consequences(k, s, P, scale=scale, recompute=recompute)
           for k in P["kinds"] for s in P["seeds"]}
per_seed = CA.consequence_table(results)
reference = {(k, s): bnr.a4_consequences(k, s, P, scale=scale, recipe="reference",
                                         recompute=recompute)
             for k in P["kinds"] for s in P["seeds"]}
per_seed_ref = CA.consequence_table(reference)
control_table = CA.consequence_controls(P)
verdicts = CA.consequence_records(per_seed, control_table, P, scale=scale,
                                  chapter="notebooks/A4_consequences.py", reference=per_seed_ref,
                                  steering={"adam": CA.steering_gap(results),
                                            "reference": CA.steering_gap(reference)})
verdicts.append(CA.structural_record(scale=scale, chapter="notebooks/A4_consequences.py"))
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=('MLP-8 on breast cancer with its first 12 features as players, trained with Adam '
                     "and with paper A's reference recipe over a few seeds; paper A compares image "
                     'networks.'),
         reading=('Test accuracy, train loss and robustness per kind of model (low-, normal-, mid-, '
                  "high-order), mean ± sd over seeds; paper A's claimed order of the models is "
                  'written beside each.'))

# %% [markdown]
# ## What is measured
#
# **Claim (paper A).** Models that encode mainly low-order interactions generalise better and
# resist attacks and corruptions better; models that encode high-order interactions fit the
# training data better. Reference numbers of the paper, whose *direction* we compare with:
#
# | | low | normal | mid | high |
# |---|---|---|---|---|
# | VGG-16 on CIFAR-10: train/test loss gap | 0.396 | 0.507 | — | 0.614 |
# | MLP-8 on Census: accuracy under PGD (%) | 44.65 | 39.33 | 18.10 | 2.02 |
#
# Paper A's abstract also credits high-order models with a better "structural modeling
# capability". The experiment behind that sentence (its task, perturbation and metric) is not
# available here, so that claim is recorded as untested (inconclusive) rather than judged.
#
# **What is measured here.** MLP-8 on *breast cancer* with the 12 first features as players (the
# setup of A1/A3: masked features at the training mean 0, Adam $10^{-3}$, batch 32), trained as
# the normal model and with the three presets of {ref}`Conventions: multi-order interactions <conventions-multiorder>` (low = suppress $(0.7, 1)$, mid = boost
# $(0.3, 0.7)$, high = suppress $(0, 0.5)$) at a fixed λ, over several seeds (seed = weights,
# order-loss permutations and batch order; the data split is fixed). For each model:
#
# - training loss and accuracy, test loss and accuracy (eval mode, after the last epoch); the
#   gaps test − train loss and train − test accuracy;
# - test accuracy under L∞ FGSM and PGD (20 steps, random start) on the standardised features
#   (ε in units of one standard deviation), under Gaussian input noise, and with a random
#   fraction of the 12 players set to the baseline;
# - the exact $J^{(m)}$ (correctly classified test samples) and its centre of mass
#   $\bar r = \sum_m r_m J^{(m)}/\sum_m J^{(m)}$, to check that each preset did steer the orders.
#
# Census (paper A's table) is not available offline; breast cancer is a small, easy table,
# so effects are small and the seed-to-seed spread is shown beside every mean.

# %%
P.key()  # the settings of this scale

# %% tags=["nbval-check-output"]
# The order-steering presets (Conventions page, conventions-multiorder): which orders each loss boosts or suppresses.
pd.DataFrame([{"preset": k, "mode": v[0], "r1": v[1], "r2": v[2]} for k, v in PRESETS.items()])

# %% [markdown]
# ## Did the presets steer the orders?

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.6))
colors = {"low": "tab:blue", "normal": "black", "mid": "tab:green", "high": "tab:red"}
rows = []
for kind in P["kinds"]:
    Js = np.array([results[(kind, s)][1]["J"] for s in P["seeds"]])
    r = results[(kind, P["seeds"][0])][1]["ratios"]
    ax.errorbar(r, Js.mean(0), yerr=Js.std(0) if len(Js) > 1 else None, marker=".",
                capsize=2, color=colors.get(kind), label=kind)
    cen = (Js * r).sum(1) / Js.sum(1)
    summ = bn.shape_summary(r, Js.mean(0))
    rows.append({"model": kind, "centre r̄ (mean)": cen.mean(), "centre r̄ (sd)": cen.std(),
                 "J_low": summ["J_low"], "J_mid": summ["J_mid"], "J_high": summ["J_high"]})
ax.set_xlabel("order ratio r = m/(n−2)")
ax.set_ylabel(r"$J^{(m)}$ (mean ± sd over seeds)")
ax.set_title(f"{P['model'].upper()} on {P['dataset']}, λ = {P['lam']:g}", fontsize=10)
ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
pd.DataFrame(rows).round(3)

# %% [markdown]
# **Figure A4.1** (paper A, §6, precondition): $J^{(m)}$ of the low-, normal-, mid-
# and high-order models (mean ± sd over seeds): the presets must steer the orders for the
# comparison to mean anything.

# %% [markdown]
# ## Fitting, generalisation and robustness (mean ± sd over seeds)

# %%
metrics = [c for c in per_seed.columns if c not in ("model", "seed")]
mean = per_seed.groupby("model", sort=False)[metrics].mean()
sd = per_seed.groupby("model", sort=False)[metrics].std()
summary = pd.DataFrame({col: [f"{mean.loc[k, col]:.4f} ± {sd.loc[k, col]:.4f}" if len(P["seeds"]) > 1
                              else f"{mean.loc[k, col]:.4f}" for k in mean.index]
                        for col in metrics}, index=mean.index)
summary.T

# %%
rob_cols = [c for c in metrics if "@" in c]
fig, axes = plt.subplots(1, len(rob_cols), figsize=(2.6 * len(rob_cols), 3), sharey=True)
axes = np.atleast_1d(axes)
for ax, col in zip(axes, rob_cols):
    for k, kind in enumerate(P["kinds"]):
        vals = per_seed.loc[per_seed.model == kind, col]
        ax.bar(k, vals.mean(), yerr=vals.std() if len(vals) > 1 else None, capsize=2,
               color=colors.get(kind))
    ax.set_xticks(range(len(P["kinds"])), P["kinds"], fontsize=9)
    ax.set_title(col, fontsize=9)
axes[0].set_ylabel("test accuracy")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Figure A4.2** (paper A, §6): test accuracy under each attack and corruption per
# kind of model (mean ± sd over seeds); paper A expects the low-order model highest and the
# high-order model lowest.

# %% [markdown]
# ## Direction of the effects vs paper A (computed)
#
# For each quantity the paper reports, the order of the model means here against the paper's
# order. "agrees" requires the full order of the means to match; the seed-to-seed spread (sd)
# says whether a difference is larger than the noise.

# %%
CA.direction_table(per_seed, P["pgd"], P["fgsm"], many_seeds=len(P["seeds"]) > 1).style.hide(
    axis="index").format(escape="html")

# %% [markdown]
# ### Low- vs high-order models only
#
# The paper's claims single out the two ends: low-order models generalise and resist attacks and
# corruptions better than high-order ones, which fit the training data better. For each quantity,
# the difference of the means (low − high) and its size in units of the pooled seed sd.

# %%
low_high = CA.low_vs_high(per_seed)
low_high.round(4) if len(low_high) else "needs the low and high models"

# %% [markdown]
# ## The rule and its control
#
# Fixed in `papers.claims_a`: a quantity counts for a claim when the model the paper expects to
# be better (the low-order one; the high-order one for fitting) is better by more than one
# pooled seed sd (the column "in pooled sd" above). A claim's parts are its quantities (for
# example PGD at each ε). The control runs the same evaluation, attacks, corruptions and rule on
# a planted pair over 3 bootstrap seeds: a ridge linear classifier ("low") against the same
# classifier plus a term that memorises the training points (a lower training loss and a larger
# gap by construction) and a large weight along the training data's least-variance direction
# (little change on the data, large under perturbations: less robust by construction).

# %%
CA.low_vs_high(control_table).round(4)

# %% [markdown]
# ## The same models with paper A's reference recipe
#
# Paper A's reference code trains with SGD (rate 0.01, momentum 0.9, weight decay
# $5\cdot10^{-4}$, the rate decayed log-linearly to a tenth) and keeps the epoch of best
# validation accuracy; here 20 % of the training split (stratified) is held out for that choice
# and the training loss is measured on the rest. Same kinds, λ, seeds, epochs, attacks and rule;
# the verdicts above count these quantities as parts of each claim beside the Adam models'.

# %%
ref_centres = CA.order_centres(reference)
ref_centre = pd.DataFrame([{"model": k, "recipe": "reference",
                            "kept epoch (mean)": np.mean([reference[(k, s)][1]["kept_epoch"]
                                                          for s in P["seeds"]]),
                            "centre r̄ (mean)": np.mean(ref_centres[k])}
                           for k in P["kinds"]])
ref_centre.round(3)

# %%
CA.direction_table(per_seed_ref, P["pgd"], P["fgsm"], many_seeds=len(P["seeds"]) > 1).style.hide(
    axis="index").format(escape="html")

# %%
low_high_ref = CA.low_vs_high(per_seed_ref)
low_high_ref.round(4) if len(low_high_ref) else "needs the low and high models"

# %% [markdown]
# ## Reading the results (book scale)
#
# The tables above are computed at the scale this page was executed with; the reading below is
# of the `book`-scale run (MLP-8, breast cancer, 12 features, λ = 1, 3 seeds).
#
# - **The presets steer the orders strongly**: centre of mass r̄ = 0.27 (low), 0.40 (normal),
#   0.56 (mid), 0.84 (high), with small seed-to-seed spread.
# - **Low vs high.** The low-order models are more robust than the high-order ones under
#   FGSM and PGD at ε = 0.1 and 0.25 (e.g. PGD ε = 0.25: 0.76 vs 0.63), under Gaussian noise
#   (σ = 1: 0.84 vs 0.70) and random masking (half the players: 0.89 vs 0.64), and have a
#   smaller test − train loss gap (0.24 vs 0.33) — the paper's direction. At ε = 0.5 the two
#   are tied within the high-order models' large spread. The accuracy gap and the training loss
#   do not separate them beyond the noise (the high-order models do *not* fit better here).
# - **The normal model does not sit between them, so none of the full orderings of the paper
#   is reproduced** (the `agrees` column). Without an extra loss term the normal MLP-8 drives
#   its training loss to 0 and becomes over-confident: its test loss (1.27) and loss gap are by
#   far the largest, and it is the least robust model at ε ≥ 0.25. Every order-steering term
#   (boost or suppress) also acts as a confidence regulariser, which confounds the comparison
#   with the unregularised normal model; a fair control would need a normal model with a
#   matched, order-neutral regulariser (not done here).
# - **Mid-order models** lie between low and high on most robustness measures (the paper puts
#   them between normal and high).
# - **With paper A's reference recipe the presets hardly steer** (centre r̄ 0.36 for the low-
#   and 0.44 for the high-order models, a gap of 0.08 against 0.57 with Adam): SGD at rate 0.01
#   gives the order-steering term at λ = 1 far less weight than Adam does, the kept models
#   (best validation epoch) encode about the same orders, and their quantities are shown but not
#   counted. The normal model trained this way is no longer over-confident (test loss about
#   0.2, kept near epoch 70 of 100), so the Adam normal model's outlier is a recipe effect.
#   Deciding the claims with this recipe needs a larger λ or rate, fixed before the run.
# - Scope: one small table (455 training samples), 3 seeds, one λ; Census and CIFAR-10 (the
#   paper's settings) are not available offline.

# %%
params, res = next(iter(results.values()))
_ = show_provenance(load_provenance(params["experiment"], params))
