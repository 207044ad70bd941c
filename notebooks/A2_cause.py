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
# # A2 · Cause: contextual variability of the gradients
#
# Paper A (§4) explains the bottleneck by contextual variability: an order-$m$ interaction
# averages $\Delta v(i,j,S)$ over $C(n-2, m)$ contexts, whose gradients should cancel most at the
# middle orders, so that the net learning signal follows a closed form with an effective
# $n' < n$. This page measures the per-context gradients **exactly** (all 66 pairs, all contexts)
# for two small MLPs trained with Adam on 12 features of scikit-learn tables, at initialisation
# and after training: far from the paper's image networks ($n = 256$), and the independence the
# closed form assumes is tested, not assumed.
#
# The box below is the verdict; the evidence follows.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
seed = 0
recompute = False

# %% tags=["remove-input"]
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import papers
from ibn.book import scale_params, show_provenance
from ibn.results import load_provenance
from papers import bottleneck as bn
from papers import bottleneck_runs as bnr
from papers import claims_a as CA
from papers import protocol_a as PA
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
P = scale_params(scale, bnr.A2_PRESETS)
results = {tuple(dm): bnr.a2_gradients(*dm, P, seed=seed, scale=scale, recompute=recompute)
           for dm in P["models"]}
controls = CA.cause_controls()
verdicts = CA.cause_records(results, controls, scale=scale, chapter="notebooks/A2_cause.py")
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=('Two MLPs on 12 features of scikit-learn tables, trained with Adam, every pair '
                     'and every context computed exactly; paper A argues on image networks with n = '
                     '256 players.'),
         reading=('Per order m, the measured learning signal of the order-m interactions beside the '
                  "closed form of paper A (its effective n'); agreement in shape is the claim."))

# %% [markdown]
# ## What is measured
#
# **Claim (paper A; Deng et al. ICLR 2022, §4).** Middle-order interactions are hard to learn
# because they have the most contexts: an interaction of order $m$ averages $\Delta v(i,j,S)$
# over $C(n-2, m)$ contexts $S$, which peaks at $m \approx (n-2)/2$. If the gradients of
# $\Delta v(i,j,S)$ for different contexts were roughly independent and zero-mean, the norm of
# their mean — the gradient of $I^{(m)}(i,j)$ — would shrink like $1/\sqrt{C(n-2,m)}$, and the
# net learning signal of order $m$ like
#
# $$F^{(m)} \propto \frac{n-m-1}{n(n-1)\sqrt{C(n-2,m)}}\quad(\text{normalised at } m = 0),$$
#
# where $R^{(m)} = (n-1-m)/(n(n-1))$ is the weight of $I^{(m)}$ in the decomposition
# $v(N) = v(\emptyset) + \sum_i \mu_i + \sum_{i\neq j}\sum_m R^{(m)} I^{(m)}(i,j)$
# ($\mu_i = v(\{i\}) - v(\emptyset)$). Fitted curves in the paper use an effective $n' \ll n$.
#
# **What this page checks — numerically, without assuming independence.** For an MLP on a
# table with $n = 12$ players we compute, for each sample, the Gram matrix
# $K[T,T'] = \langle\nabla_\theta v(x_T), \nabla_\theta v(x_{T'})\rangle$ of the gradients of the
# reward on all $2^{12}$ masked inputs (θ = all weights and biases; exact, through the
# per-example-gradient identity of linear layers). Every per-context gradient
# $g_S = \nabla_\theta\Delta v(i,j,S)$ is a signed sum of four of those gradients, so for
# **every** pair and **all** $C(n-2,m)$ contexts of every order we get exactly
#
# - $\lVert\bar g\rVert^2 = \lVert\mathbb{E}_S g_S\rVert^2 = \lVert\nabla_\theta I^{(m)}(i,j)\rVert^2$
#   (the norm of the mean gradient over the $C$ contexts),
# - $\mathbb{E}_S\lVert g_S\rVert^2$ (one context's gradient), the variance
#   $\mathbb{E}_S\lVert g_S-\bar g\rVert^2$, the signal-to-noise ratio
#   $\lVert\bar g\rVert^2/\text{variance}$,
# - the mean correlation between the gradients of two different contexts,
#   $\rho = (C\lVert\bar g\rVert^2/\mathbb{E}\lVert g_S\rVert^2 - 1)/(C-1)$, which is 0 for
#   independent zero-mean gradients (then $\lVert\bar g\rVert/\sqrt{\mathbb{E}\lVert g_S\rVert^2}
#   = 1/\sqrt{C}$),
#
# averaged over pairs and samples, at several points of training. The measured learning signal
# is $R^{(m)}\sqrt{\mathbb{E}\lVert\nabla_\theta I^{(m)}\rVert^2}$, normalised at $m = 0$.

# %%
P.key()  # the settings of this scale

# %% tags=["nbval-check-output"]
# The closed form at n = 12 (no training involved): the predicted signal of order m, relative to m = 0.
pd.Series(bn.predicted_signal(12, [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]),
          index=[0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0], name="predicted signal").rename_axis("m/(n-2)").round(6)

# %% [markdown]
# ## A numerical check of the decomposition weights $R^{(m)}$
#
# The identity behind $R^{(m)}$ holds for any game; we check it on one sample's values below
# (trained model of the next section) and, in the test suite, on random games.

# %%
pd.DataFrame([{"model": f"{m.upper()} {d}", "v(N) − v(∅) − Σ μ_i": res["identity_lhs"],
               "Σ_(i≠j) Σ_m R^(m) I^(m)(i,j)": res["identity_rhs"],
               "test acc": res["test_acc"][-1],
               "s per sample and snapshot": res["seconds_per_sample"]}
              for (d, m), (params, res) in results.items()]).style.format(
    {"v(N) − v(∅) − Σ μ_i": "{:.10f}", "Σ_(i≠j) Σ_m R^(m) I^(m)(i,j)": "{:.10f}",
     "test acc": "{:.3f}", "s per sample and snapshot": "{:.1f}"})

# %% [markdown]
# ## Per-order gradient statistics
#
# Each row of panels is one model; colours are the kept epochs. (a) the norm of the mean
# gradient over contexts, $\sqrt{\mathbb{E}\lVert\nabla_\theta I^{(m)}\rVert^2}$, and the RMS
# norm of one context's gradient $\sqrt{\mathbb{E}\lVert g_S\rVert^2}$ (dashed), both relative to
# $m = 0$ (where they coincide: a single context); (b) their ratio against the independence
# prediction $1/\sqrt{C(n-2,m)}$ (black); (c) the mean correlation $\rho$ between two contexts'
# gradients; (d) the signal-to-noise ratio $\lVert\bar g\rVert^2/\text{variance}$.

# %%
n = 12
for (d, m), (params, res) in results.items():
    fig, axes = plt.subplots(1, 4, figsize=(papers.PAGE_WIDTH, 2.3))
    cmap = plt.get_cmap("viridis")
    E = list(res["stats"])
    for k, e in enumerate(E):
        st = res["stats"][e]
        c = cmap(k / max(len(E) - 1, 1))
        r = st["ratios"]
        axes[0].semilogy(r, np.sqrt(st["mean_sq"] / st["mean_sq"][0]), color=c, marker=".",
                         label=f"epoch {e}: mean over contexts")
        axes[0].semilogy(r, np.sqrt(st["ctx_sq"] / st["ctx_sq"][0]), color=c, ls="--")
        axes[1].semilogy(r, st["indep"], color=c, marker=".", label=f"epoch {e}")
        axes[2].plot(r, st["rho"], color=c, marker=".", label=f"epoch {e}")
        axes[3].semilogy(r[1:-1], st["snr"][1:-1], color=c, marker=".", label=f"epoch {e}")
    axes[1].semilogy(r, st["indep_pred"], color="black", lw=1.5, label="1/√C (independent)")
    axes[2].axhline(0, color="black", lw=0.8)
    titles = ["(a) ‖mean gradient‖ (solid), RMS ‖g_S‖ (dashed)", "(b) ‖mean‖ / RMS ‖g_S‖",
              "(c) mean correlation ρ of two contexts", "(d) SNR ‖mean‖² / variance"]
    for ax, t in zip(axes, titles):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("order ratio r = m/(n−2)")
        ax.legend(fontsize=9)
    fig.suptitle(f"{m.upper()} on {d} (n = {n}, {len(res['sample_index'])} samples, all 66 pairs, "
                 "all contexts)", fontsize=10)
    fig.tight_layout()
    plt.show()

# %% [markdown]
# **Figure A2.1** (paper A, §4): per order, the norms of the mean and of one context's gradient,
# their ratio against the independent-contexts prediction 1/√C, the contexts' correlation ρ and
# the signal-to-noise ratio, after each kept epoch.

# %% [markdown]
# ## Measured learning signal vs the closed form
#
# The measured signal $R^{(m)}\sqrt{\mathbb{E}\lVert\nabla_\theta I^{(m)}\rVert^2}$ (normalised
# at $m = 0$) beside the closed form at the true $n = 12$ and at a fitted effective $n'$ (least
# squares on the log scale). "indep. only" is the closed form with the measured
# $\lVert\bar g\rVert/\text{RMS}$ replaced by $1/\sqrt{C}$ but the measured RMS per-context norm
# kept, i.e. what the signal would be if only the independence assumption failed or held.

# %%
rows = []
fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 3.6), squeeze=False)
for k, ((d, m), (params, res)) in enumerate(results.items()):
    ax = axes[0, k]
    cmap = plt.get_cmap("viridis")
    E = list(res["stats"])
    for j, e in enumerate(E):
        st = res["stats"][e]
        r = st["ratios"]
        fit = bn.fit_effective_n(r, st["signal"], n_max=60)
        ax.semilogy(r, st["signal"], marker="o", ms=4, color=cmap(j / max(len(E) - 1, 1)),
                    label=f"measured, epoch {e} (n' = {fit['n_eff']:.1f})")
        ax.semilogy(r, fit["curve"], ls=":", color=cmap(j / max(len(E) - 1, 1)))
        mid = (r >= 0.3) & (r <= 0.7)
        indep_only = (bn.efficiency_weights(n) * np.sqrt(st["ctx_sq"]) * st["indep_pred"])
        indep_only = indep_only / indep_only[0]
        rows.append({"model": f"{m.upper()} {d}", "epoch": int(e), "n'": fit["n_eff"],
                     "rmse(log)": fit["rmse_log"],
                     "mean ρ (0.3 ≤ r ≤ 0.7)": float(np.nanmean(st["rho"][mid])),
                     "‖mean‖/RMS at r=0.5": float(st["indep"][len(r) // 2]),
                     "1/√C at r=0.5": float(st["indep_pred"][len(r) // 2]),
                     "signal at r=0.5": float(st["signal"][len(r) // 2]),
                     "closed form n=12 at r=0.5": float(st["predicted"][len(r) // 2]),
                     "indep. only at r=0.5": float(indep_only[len(r) // 2]),
                     "argmin signal (r)": float(r[int(np.argmin(st["signal"]))])})
    ax.semilogy(r, bn.predicted_signal(n, r), color="black", lw=1.5, label="closed form, n = 12")
    ax.set_title(f"{m.upper()} on {d}", fontsize=10)
    ax.set_xlabel("order ratio r")
    ax.set_ylabel("learning signal (m = 0 → 1)")
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
table = pd.DataFrame(rows)
table.round(4)

# %% [markdown]
# **Figure A2.2** (paper A, §4): the measured learning signal per order (solid) beside the
# closed form at the true $n = 12$ (black) and at the fitted $n'$ (dotted).

# %% [markdown]
# ## The closed form against the reference protocol's $J^{(m)}$
#
# Paper A fits its closed form with an effective $n'$ to the bottleneck curves themselves. The
# same fit (log scale, $n' \le 255$) on the final $J^{(m)}$ of the reference-protocol chapter
# (16×16 patches, $n = 256$), each normalised at $r = 0$. The closed form is largest at $r = 0$
# and at most $1/(n'-1)$ of that at $r = 1$, so a high end as strong as the measured one forces a
# small $n'$.

# %%
a1_final = PA.stored_profiles(scale)
n_fits = PA.effective_n_rows(a1_final)
if a1_final:
    fig, ax = plt.subplots(figsize=(papers.PAGE_WIDTH * 0.9, 3.0))
    for k, (name, fit) in enumerate(zip(a1_final, n_fits)):
        p, n_fit, color = a1_final[name], fit["n'"], plt.get_cmap("tab10")(k)
        ax.semilogy(p["ratios"], p["J"] / p["J"][0], marker="o", ms=3, color=color,
                    label=f"{name} (n' = {n_fit:.1f})")
        ax.semilogy(p["ratios"], bn.predicted_signal(n_fit, p["ratios"]), ls=":", color=color)
    ax.set_xlabel("order ratio r")
    ax.set_ylabel(r"$J^{(m)} / J^{(0)}$ (dotted: fit)")
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    plt.show()
pd.DataFrame(n_fits).round(3) if a1_final else \
    "no reference-protocol profile stored at this scale (the A1 reference-protocol chapter computes them)"

# %% [markdown]
# **Figure A2.3** (paper A's fit of $n'$): the reference protocol's $J^{(m)}$ (solid, normalised
# at $r = 0$) and the closed form at the fitted $n'$ (dotted).

# %% [markdown]
# ## The rules, per snapshot
#
# Each rule (fixed in `papers.claims_a`) on each model and kept epoch, and on its positive
# control: a planted model with one weight per coalition ($v(x_T) = w_T$), whose coalition
# gradients are orthogonal, so that the contexts' gradients are independent by construction (the
# case the closed form assumes), and the same model reading only 8 of the 12 players (fewer
# effective players by construction). A model shows an effect when every kept epoch passes.
#
# - *contextual variability*: $\lVert\bar g\rVert/\text{RMS}$ U-shaped over the orders
#   (`papers.bottleneck.shape_summary`: the band $0.3 \le r \le 0.7$ at least 20 % below both
#   ends);
# - *independence*: $|\text{mean } \rho|$ over $0.3 \le r \le 0.7$ below 0.05;
# - *closed form*: the measured signal smallest in $0.3 \le r \le 0.7$, where the closed form at
#   $n = 12$ has its minimum ($r = 0.6$);
# - *effective n'*: the fitted $n' \le n - 1$.

# %%
CA.cause_judgements(results, controls).style.hide(axis="index").format(escape="html")

# %% [markdown]
# ## Reading the results (book scale)
#
# The tables above are computed at the scale this page was executed with; the reading below is
# of the `book`-scale run.
#
# - **The mechanism is there, qualitatively.** The norm of the mean gradient over contexts,
#   $\lVert\nabla_\theta I^{(m)}\rVert$, is U-shaped over the order with its minimum in the middle
#   (about 0.2–0.4 of its value at $m = 0$ at $r = 0.5$), while the norm of a single context's
#   gradient stays nearly flat: middle orders get the weakest net gradient because their many
#   contexts partly cancel. The signal-to-noise ratio over contexts is also lowest in the middle.
#   This holds at initialisation and after training, for both models.
# - **The independence assumption does not hold, quantitatively.** The gradients of different
#   contexts are positively correlated (mean ρ ≈ 0.07–0.12 in the middle band, more near the
#   ends), so $\lVert\text{mean}\rVert/\text{RMS}$ at $r = 0.5$ is ≈ 0.26–0.34 instead of
#   $1/\sqrt{C(10,5)} = 0.063$. The cancellation is real but about five times weaker than the
#   closed form assumes.
# - **The closed form vs the measured signal.** With the weight $R^{(m)}$, the measured signal
#   $R^{(m)}\lVert\nabla_\theta I^{(m)}\rVert$ falls monotonically from $m = 0$ (smallest at
#   $r = 1$), whereas the closed form at $n = 12$ is U-shaped with a minimum near $r = 0.6$. A
#   fitted effective $n' \approx 7$–$9$ (< $n = 12$, as in the paper) matches the decline over the
#   low and middle orders but still predicts a rise at the highest orders that is not measured
#   (log-RMSE 0.14–0.33). In these MLPs the contextual-variability factor explains why the
#   middle is weak relative to the low orders, not a recovery at high orders — consistent with
#   the "falling" $J^{(m)}$ curves of the same trained models in A1.
# - **On the reference protocol's curves** ($n = 256$; AlexNet and ResNet-20, MNIST and
#   Fashion-MNIST) the closed form needs $n' \approx 2.6$–$7.6 \ll n$ and still misses the
#   curves' high-order arm (measured $J$ at $r = 1$ is 0.35–0.85 of $J$ at $r = 0$, the fit
#   0.15–0.62; log-RMSE 0.23–0.47): the closed form accounts for the weak middle relative to the
#   low orders, not for the rise at the highest ones.
# - Scope: one table per model, 4 samples, all 66 pairs and all contexts ($n = 12$); the
#   gradients are taken of the reward $v$ (log-odds of the true label), not of a loss.

# %%
for (d, m), (params, res) in list(results.items())[:1]:
    show_provenance(load_provenance(params["experiment"], params))
