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
# # A3 · Modulation: losses that boost or suppress chosen orders
#
# Paper A (eq. 14) proposes two losses that boost or suppress chosen orders, and reports that
# they move the order profile $J^{(m)}$ the intended way, a second peak appearing where the middle
# orders are boosted. This page trains small MLPs (MLP-5, one seed) on 12 features of a
# scikit-learn table with each of the three presets over a sweep of λ and measures the exact
# $J^{(m)}$ of each model; and it steers a CNN as the reference code does (ResNet-20 on MNIST at
# 32×32, the 16×16 grid of players, the reference recipe, λ = 1 as the reference code and 0.1)
# and measures its sampled $J^{(m)}$ on that grid.
#
# The box below is the verdict; the evidence follows.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
seed = 0
recompute = False

# %% tags=["remove-input"]
import time

import matplotlib.pyplot as plt
import pandas as pd

import papers
from ibn.book import scale_params, show_provenance
from ibn.results import load_provenance
from ibn.train import PRESETS
from papers import bottleneck_runs as bnr
from papers import claims_a as CA
from papers import steering_a as SA
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
P = scale_params(scale, bnr.A3_PRESETS)
results = bnr.a3_sweep(P, seed=seed, scale=scale, recompute=recompute)
reference = bnr.a3_sweep(P, seed=seed, scale=scale, recipe="reference", recompute=recompute)
cnn = SA.sweep(scale, recompute=recompute)
controls = CA.planted_modulation(P["presets"])
both = {**results, **reference, **cnn}
verdicts = CA.modulation_records(both, controls, scale=scale,
                                 chapter="notebooks/A3_modulation.py")
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=('MLPs on a table with n = 12 players, trained with Adam and with paper A\'s '
                     'reference recipe, a sweep of λ; ResNet-20 on MNIST steered with the '
                     'reference code\'s players (16×16 grid) at λ = 0.1 and 1, trained on a '
                     'subset for a few epochs and sampled at 16 pairs × 16 contexts per image.'),
         reading=('J^(m) of each preset (boost or suppress chosen orders) over the λ sweep: the '
                  'steered orders should rise or fall against λ = 0.'))

# %% [markdown]
# ## What is measured
#
# **Claim (paper A eq. 14; Deng et al. ICLR 2022).** Two losses steer which orders a network
# encodes. Per sample draw a random permutation of the $n$ players; $S_2$ = the first
# $\lfloor r_2 n\rfloor$, $S_1$ = the first $\lfloor r_1 n\rfloor$ ($S_1\subset S_2$), the rest at
# the baseline, and $\Delta u = f(x_{S_2}) - (r_2/r_1)\,f(x_{S_1})$ on the logits (factor 1 and
# $x_{S_1}$ all-baseline when $r_1 = 0$).
#
# - **boost** orders $\approx[r_1 n, r_2 n]$: $L = \mathrm{CE}(f(x), y) + \lambda\,\mathrm{CE}(\Delta u, y)$;
# - **suppress** them: $L = \mathrm{CE}(f(x), y) - \lambda\,H(\mathrm{softmax}(\Delta u))$.
#
# Presets ({ref}`Conventions: multi-order interactions <conventions-multiorder>`): *high-order* model = suppress $(0, 0.5)$; *mid-order* = boost
# $(0.3, 0.7)$; *low-order* = suppress $(0.7, 1.0)$.
#
# **What is measured.** MLPs on a table with $n = 12$ players (the same setup as A1: the first 12
# features, masked features at the training mean 0, Adam $10^{-3}$, batch 32), trained with each
# preset over a sweep of $\lambda$ (and $\lambda = 0$, the *normal* model); the exact $J^{(m)}$ of
# each on correctly classified test samples (reward: log-odds of the true label). The centre of
# mass of $J$ over the order ratio, $\bar r = \sum_m r_m J^{(m)}/\sum_m J^{(m)}$, summarises
# where a curve's weight sits. A *second peak* is an interior local maximum of $J^{(m)}$ with a
# prominence of at least 10 % of the curve's mean (`interior_peaks`).
#
# **The CNN** (`papers.steering_a`). At `book` scale, ResNet-20 is trained on 10 000 MNIST
# training images (32×32) for 5 epochs by the reference recipe (SGD 0.01 with momentum 0.9 and
# weight decay 5·10⁻⁴, the log-decayed rate, random crops, the best epoch on 5 000 held-out
# images), with each preset at λ = 0.1 and 1 (the reference code's weight) on its players
# (the 16×16 grid of 2×2-pixel cells at baseline 0); each masked batch of the steering term
# goes through the network in its own forward pass, so BatchNorm sees the batches a plain step
# would. A normal model has the same recipe without the term. Each model's $J^{(m)}$ is A1's sampled estimate
# on the same grid: the first correctly classified training image of each class, 16 pairs ×
# 16 contexts per order at the 13 reference ratios, reward the log-odds of the label.

# %%
P.key()  # the settings of this scale

# %%
rows = []
for (d, preset, lam), (params, res) in both.items():
    prof = CA.profile_row(res)
    rows.append({"setup": d, "model": preset, "λ": lam, "train acc": res["train_acc"],
                 "test acc": res["test_acc"], "J_low": prof["J_low"], "J_mid": prof["J_mid"],
                 "J_high": prof["J_high"], "centre r̄": prof["centre"], "shape": prof["shape"],
                 "interior peaks at r": ", ".join(f"{p:.1f}" for p in prof["peaks"]) or "—",
                 "samples": res["n_samples"]})
table = pd.DataFrame(rows)
table.round(3)

# %% tags=["nbval-check-output"]
# The order-steering presets (Conventions page, conventions-multiorder): which orders each loss boosts or suppresses.
pd.DataFrame([{"preset": k, "mode": v[0], "r1": v[1], "r2": v[2]} for k, v in PRESETS.items()])

# %% [markdown]
# ## $J^{(m)}$ of each preset over the λ sweep
#
# One row per dataset and training recipe (Adam; paper A's reference recipe: SGD with momentum
# and weight decay, the log-decayed rate, the best-validation epoch on a held-out fifth of the
# training split), and one for the steered CNN (sampled $J^{(m)}$ on the 16×16 grid at the 13
# reference ratios). Black: the normal model ($\lambda = 0$). The shaded band marks the orders
# that the preset targets ($[r_1, r_2]$, suppressed or boosted).

# %%
for d in dict.fromkeys(k[0] for k in both):
    presets = list(dict.fromkeys(p for e, p, _ in both if e == d and p != "normal"))
    lams = list(dict.fromkeys(lam for e, p, lam in both if e == d and p != "normal"))
    fig, axes = plt.subplots(1, len(presets), figsize=(papers.PAGE_WIDTH, 2.7),
                             squeeze=False, sharey=True)
    base = both[(d, "normal", 0.0)][1]
    for k, preset in enumerate(presets):
        ax = axes[0, k]
        mode, r1, r2 = PRESETS[preset]
        ax.axvspan(r1, r2, color="tab:green" if mode == "boost" else "tab:red", alpha=0.08)
        ax.plot(base["ratios"], base["J"], color="black", marker=".", label="normal (λ = 0)")
        cmap = plt.get_cmap("plasma")
        for j, lam in enumerate(lams):
            res = both[(d, preset, lam)][1]
            ax.plot(res["ratios"], res["J"], marker=".", color=cmap(j / max(len(lams), 1)),
                    label=f"λ = {lam:g}")
        ax.set_title(f"{preset}: {mode} ({r1}, {r2})", fontsize=9)
        ax.set_xlabel("order ratio r")
    axes[0, 0].set_ylabel(r"$J^{(m)}$")
    fig.suptitle(d, fontsize=10)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center",
               ncol=len(lams) + 1, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    plt.show()

# %% [markdown]
# **Figure A3.1** (paper A, eq. 14): $J^{(m)}$ of the models trained with each order-steering
# loss over the λ sweep, one row per training recipe, against the normal model (black).

# %% [markdown]
# The steered CNN's models: their accuracy and how much of the measured mid-order strength the
# sampling alone would give (the noise floor over the strength, mean over $r \in [.3, .7]$; well
# below 1: the middle orders are measured above the noise).

# %%
pd.DataFrame([{"model": p, "λ": lam, "test acc": r["test_acc"], "kept epoch": r["best_epoch"],
               "images": r["n_samples"], "mid-order noise floor / strength": SA.noise_share(r)}
              for (d, p, lam), (_, r) in cnn.items()]).round(3)

# %% [markdown]
# ## The rules and their control
#
# Fixed in `papers.claims_a`: a preset moves the curve the intended way when its centre
# $\bar r$ lies above the normal model's (high-order preset), below it (low-order preset), or
# its $J_{\rm mid}$ (mean $J$ over $0.3 \le r \le 0.7$) lies above the normal model's
# (mid-order boost); it counts for the claim when it does so at every λ. A second peak is an
# interior peak of a boost preset's curve at some λ where the normal model has none. The control
# runs the same profile and rules on planted games whose every pair has
# $I^{(m)}(i,j) = D(m)$ plus context noise: a falling $D$ for the normal model and, per preset,
# the same $D$ with the preset's orders $[r_1, r_2]$ scaled by 1.5 (boost) or 0.5 (suppress).

# %%
normal_ctl = CA.profile_row(controls["normal"])
rows = []
for case, prof in controls.items():
    row = CA.profile_row(prof)
    rows.append({"case": case, "centre r̄": row["centre"], "J_mid": row["J_mid"],
                 "interior peaks at r": ", ".join(f"{p:.1f}" for p in row["peaks"]) or "—",
                 "rule": CA.moves_rule(case, row, normal_ctl)[1] if case != "normal" else "—"})
pd.DataFrame(rows).style.hide(axis="index").format(precision=3, escape="html")

# %% [markdown]
# ## Reading the results (book scale)
#
# The tables above are computed at the scale this page was executed with; the reading below is
# of the `book`-scale run (wine, MLP-5, $n = 12$; ResNet-20 on MNIST, $n = 256$).
#
# - **Every preset moves the curve the intended way at every λ tried (0.1–3).** The low-order
#   preset raises the lowest orders (J at r = 0 from 1.9 to ≈ 2.6) and lowers the high ones
#   (centre r̄ 0.40 → 0.32–0.34); the high-order preset turns the curve around (J at r = 1 from
#   0.7 to 1.8–2.9, centre r̄ 0.64–0.79); the mid-order boost lifts the middle band
#   (J_mid 0.88 → 1.05–1.08) and removes the low-order maximum.
# - **A second peak.** The normal model's curve falls monotonically (no interior maximum).
#   Already at the smallest λ = 0.1, the mid-order boost produces an interior peak at r ≈ 0.3 and
#   the high-order preset one at r ≈ 0.6 (with the high end rising beside it); for the
#   high-order preset the interior peak merges into a monotone rise from λ = 0.3 on. The
#   low-order preset never produces one. The boost peak sits at r ≈ 0.3, at the lower edge of
#   the (0.3, 0.7) band: the preset's ratios count coalition sizes ($|S_1| = 3$,
#   $|S_2| = 8$ of 12 players), while the plotted r counts the context size $m = |S|$ of a pair
#   interaction, so the targeted orders are roughly $m \in [1, 6]$, i.e. r ∈ [0.1, 0.6].
# - **Side effect on accuracy.** The high-order models lose test accuracy as λ grows (1.00 →
#   0.94 → 0.86 → 0.81) while still fitting the training set perfectly — the direction A4
#   examines. The low- and mid-order models keep 0.97–1.00.
# - **With paper A's reference recipe** (SGD at 0.01 with momentum and weight decay, the
#   best-validation epoch) the same losses move the profile much less: the low-order preset
#   lowers the centre at every λ but only to 0.38–0.43 (from 0.43), the mid-order boost raises
#   the middle and makes an interior peak only at λ ≥ 1, and the high-order preset moves the
#   centre up at 3 of 4 λ by at most 0.02. SGD at this rate gives the steering term far less
#   weight than Adam; the claim's "losses move the profile" holds where the term is strong
#   enough, which is why the record reads "partly".
# - **The steered CNN** (ResNet-20 on MNIST, 16×16 grid, 5 epochs on 10 000 images): only the
#   low-order preset does what it should. It moves the weight to the low orders (centre r̄
#   0.45 → 0.37 at λ = 0.1 and 0.29 at λ = 1) and keeps the accuracy (96.1 % and 96.9 %, normal
#   96.8 %). The mid-order boost lowers the middle band instead (J_mid 0.77 → 0.65 and 0.52) and
#   piles the weight on the lowest orders (centre 0.38 and 0.25), with no interior peak. The
#   high-order preset breaks the network in these 5 epochs (test accuracy 31 % at λ = 0.1 and
#   26 % at λ = 1), and the few training images it still gets right show a low-order profile
#   (centre 0.20–0.25). The sampled mid orders sit about twice their noise floor (floor/strength
#   0.41–0.65), so small moves are not resolved; the reference's 200 epochs (the `paper`
#   scale, with its 200 pairs × 100 contexts) would tell whether longer training lets the mid
#   and high presets work.
# - Cautions: with $n = 12$ each preset band holds only a few orders; each model is evaluated on
#   its own correctly classified samples (23–24 of the 36 test samples here); one seed.

# %%
params, res = next(iter(results.values()))
_ = show_provenance(load_provenance(params["experiment"], params))
