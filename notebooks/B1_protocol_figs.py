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
# # Paper B at its own protocol: the fit, noise and misclassified samples
#
# Paper B goes on from Fig. 2 to four claims about what the two distributions explain:
# fitting a decay plus a spindle **disentangles** a network's interactions (Fig. 4); noise on
# the parameters feeds the **spindle** part while the decay part stays (Fig. 5); what noise
# adds is itself spindle-shaped (Fig. 7); and **misclassified** samples carry more
# non-generalizable and weaker generalizable interactions (Fig. 8). This chapter judges them on
# the same setups, samples and baselines as {doc}`the Fig. 2 chapter <B1_protocol>` (the paper's
# Appendix K: $n = 10$ players on the feature map, 50 random test samples, $k = 5$ baselines
# trained on the test split), each with a rule fixed in code and a positive control.
#
# The box below is the verdict; the evidence follows.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
setups = None  # "model:dataset,..." to run only some setups (default: all of the scale)

# %% tags=["remove-input"]
import time

import matplotlib.pyplot as plt
import pandas as pd

import papers
from papers import claims_b_figs as F
from papers import figures_b as FB
from papers import protocol_b as PB
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
chosen = PB.chosen_setups(scale, setups, text=False)
judged = {s.name: F.judge_setup(s) for s in chosen}
ctl = F.controls(scale)
verdicts = F.setup_records(judged, ctl, scale=scale, chapter="notebooks/B1_protocol_figs.py",
                           planned=[s.name for s in PB.chosen_setups(scale, text=False)])
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=('The same games and models as the Fig. 2 chapter; parameter noise with two draws '
                     'per σ and FGSM at five ε; 25 misclassified against 25 correctly classified test '
                     'samples.'),
         reading=('Fig. 4: the measured strength per order with the fitted decay and spindle parts; '
                  'Fig. 5: the spindle share against σ; Fig. 7: the newly emerged ΔA per order with '
                  "its spindle fit; Fig. 8: the two groups' curves and shares."))

# %% [markdown]
# ## Fig. 4: does a decay plus a spindle disentangle the interactions?
#
# Eq. 10 fits $A_{\rm decay}$ (Theorem 3.1 applied to the target's own interactions $I^*$,
# with noise level δ and scale γ) plus $A_{\rm spindle}$ (eq. 7, with α and β) to the measured
# $A^{(m),\pm}$. Left the fit; middle the generalizable curve with the fitted decay part;
# right the non-generalizable curve with the fitted spindle. The fit is constrained to
# $\alpha n \ge 2$ and $\delta \ge 10^{-4}$: with δ free, $M(\delta) \to I$ lets the decay
# part copy the whole curve and the spindle is not needed.

# %% tags=["remove-input"]
fig = FB.plot_fig4(judged)
plt.show()

# %% [markdown]
# **Figure B-P.2** (paper B, Fig. 4): the total per-order strength beside its best decay-plus-
# spindle fit, free and constrained.

# %% [markdown]
# **The rule** (`papers.claims_b_figs.judge_fig4`): the constrained fit reaches $R^2 \ge 0.8$,
# $A_{\rm gen}$ is closer (Jaccard) to the decay part than to the spindle, $A_{\rm non}$ closer
# to the spindle than to the decay part, and SIM (eq. 11) beats the SIM with the two parts
# swapped. Beside it: the free fit, and the best SIM any decay and spindle curves reach on
# these data (a grid over δ, α and the two scales), the ceiling the two families allow.

# %% tags=["remove-input"]
pd.DataFrame([{"setup": name, "solver": solver, "passes": j[solver]["fig4"]["passed"],
               "SIM (constrained)": j[solver]["fig4"]["constrained"]["sim"],
               "R² (constrained)": j[solver]["fig4"]["constrained"]["fit"].r2,
               "SIM (free)": j[solver]["fig4"]["free"]["sim"],
               "R² (free)": j[solver]["fig4"]["free"]["fit"].r2,
               "best SIM": j[solver]["fig4"]["best_sim"]}
              for name, j in judged.items() for solver in PB.SOLVERS]).style.format(precision=3)

# %% [markdown]
# ## Fig. 5: does parameter noise feed the spindle part?
#
# The target's parameters get $\mathcal N(0, \sigma^2)$ noise (two draws per σ), the games
# are replayed on the same samples and players, and eq. 10 is fitted again with the clean
# $I^*$. Left: the spindle's share of the fitted strength; right: how far the decay part
# moved from the clean fit. Filled markers are the *mild* levels (accuracy within 10 points
# of the clean model's), the only ones judged. **The rule** (`judge_fig5`): over σ = 0 and
# the mild levels the spindle share rises (Spearman ρ ≥ 0.8, the largest mild level above
# the clean one) while the decay part moves by at most 25 %.

# %% tags=["remove-input"]
fig = FB.plot_fig5(judged)
plt.show()
FB.fig5_table(judged).style.format(precision=3).hide(axis="index")

# %% [markdown]
# **Figure B-P.3** (paper B, Fig. 5): the disentangled spindle and decay parts of the target's
# interactions as the parameter noise σ grows.

# %% [markdown]
# ## Fig. 7: are the newly emerged interactions spindle-shaped?
#
# $\Delta A^{(m),\pm}$ of eq. 19 ($\Delta I = I - I_{\rm noise}$, salient with the clean τ)
# at each level of parameter noise and of FGSM on the input ($x + \varepsilon\,{\rm sign}
# \nabla_x v$), with the least-squares spindle (eq. 7). **The rule** (`judge_fig7`): at
# every mild level the spindle fit reaches $R^2 \ge 0.8$ and $\Delta A$ peaks at
# $2 \le m \le n - 1$. This rule is looser than Fig. 2's spindle rule (peak at
# $3 \le m \le n - 2$, small ends): a curve that peaks at $m = 2$ and falls off passes it, and
# the peak order of every level is in the table at the top.

# %% tags=["remove-input"]
fig = FB.plot_fig7(judged)
plt.show()

# %% [markdown]
# **Figure B-P.4** (paper B, Figs. 7 and 13): the interactions that newly emerge under parameter
# noise (ΔA per order): paper B expects a spindle.

# %% [markdown]
# ## Fig. 8: misclassified samples
#
# 25 random test samples the target misclassifies against 25 of the setup's samples it
# classifies correctly (one τ for both groups; reward: the log-odds of the true label).
# **The rule** (`judge_fig8`): the misclassified samples' non-generalizable share is larger
# and their generalizable strength smaller, each by a one-sided Mann–Whitney test at
# $p < 0.05$. A difference in the claimed direction that misses $p < 0.05$ leaves the claim
# undecided (inconclusive); only a difference the other way counts against it.

# %% tags=["remove-input"]
fig = FB.plot_fig8(judged)
plt.show()
pd.DataFrame([{"setup": name, "solver": solver, "samples (correct, misclassified)":
               j[solver]["fig8"]["n"], "larger non share": j[solver]["fig8"]["non_share"][1],
               "weaker generalizable": j[solver]["fig8"]["gen_strength"][1]}
              for name, j in judged.items() for solver in PB.SOLVERS])

# %% [markdown]
# **Figure B-P.5** (paper B, Fig. 8): the per-order strength of correctly classified against
# misclassified test samples.

# %% [markdown]
# ## The controls
#
# Each rule runs unchanged on a case built to have the effect: for Fig. 4 a measured curve
# made of the theory's own parts; for Figs. 5 and 7 planted games (a decay part shared with
# the baselines, a spindle part each model draws on its own) with i.i.d. noise added to the
# values; for Fig. 8 two groups of planted games, the second with its shared part halved and
# its own part doubled.

# %% tags=["remove-input"]
pd.DataFrame([{"claim": v.claim, "control": v.control.kind, "outcome": v.control.outcome,
               "why": v.control.why} for v in verdicts])

# %% [markdown]
# ## Where the numbers come from

# %% tags=["remove-input"]
pd.DataFrame([j["record"] for j in judged.values()])
