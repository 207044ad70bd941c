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
# # Paper B at its own protocol: what an exact optimizer leaves, and Fig. 2
#
# Paper B's Fig. 2 says that the interactions a trained classifier shares with *baseline*
# networks (trained on other data) **decay** with the order, while the ones it does not share
# form a **spindle** over the orders, and that $k = 3$ baselines suffice to tell them apart.
# This chapter runs the paper's own protocol (Appendix K): ResNet-20 and VGG-11 trained on the
# full MNIST and Fashion-MNIST training splits at 32×32, $n = 10$ players on the feature map,
# 50 random **test** samples, $k = 5$ baselines trained on the test split; and for text,
# MiniLM fine-tuned on the Rotten Tomatoes sentences with $n = 10$ words as players (masked
# with [MASK]) on 50 random test sentences, its 5 baselines fine-tuned on the test split. Before any claim it
# answers the question every other number depends on: **how much strength sits at the upper
# orders ($m \ge n/2$) once the interactions are the sparsest AND-OR decomposition, found
# exactly, rather than the lab's SGD?**
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
from papers import claims_b as C
from papers import protocol_b as PB
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
chosen = PB.chosen_setups(scale, setups)
planned = [s.name for s in PB.chosen_setups(scale)]
judged, records, gates = {}, {}, []
for s in chosen:
    found = {solver: PB.effects(s, solver) for solver in PB.SOLVERS}
    for solver, res in found.items():
        judged[(s.name, solver)] = C.judge_fig2(res)
    records[s.name] = PB.setup_record(s, found["exact"])
    gates.append(PB.gate_row(s, found["exact"], found["sgd"]))
controls = {case: C.judge_fig2(C.with_exact_effects(C.planted_games(baseline_spindle=case_kind)))
            for case, case_kind in (("mixture", "own"), ("common", "common"))}
verdicts = C.fig2_records(judged, records, controls, scale=scale,
                          chapter="notebooks/B1_protocol.py",
                          planned=planned)
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=('k = 5 baselines trained on the test split for 12 to 15 epochs (paper: k = 3, '
                     'training unspecified); targets trained 8 to 10 epochs of the reference recipe. '
                     'Text: MiniLM-L6 on Rotten Tomatoes sentences (labels from their ratings) '
                     "stands in for paper B's BERT on SST-2; target fine-tuned 3 epochs on the "
                     'training split, baselines 5 epochs on the test split.'
                     + (' Setups not yet run are named in each record.'
                        if len(chosen) < len(planned) else '')),
         reading=('Per setup, the strength per order of the generalizable (blue) and non- '
                  'generalizable (red) interactions, positive above and negative below zero; paper '
                  "B's decay is blue falling with the order, its spindle red peaking in the middle."))

# %% [markdown]
# ## The gate: strength at the upper orders
#
# For each setup, the share of the target's total interaction strength at orders
# $m \ge n/2$ (all 50 samples together), for the raw Harsanyi effects of the values (no
# sparsifier), the exact sparsest AND-OR effects ({ref}`Conventions: AND-OR interactions
# <conventions-and-or>`, noise bound 0.02) and the lab's SGD with its published defaults
# (learning rate 1e-7, momentum 0.9, 20 000 steps). The salient count is the mean number of
# interactions per sample above τ = 0.02·E|v(x_N) − v(x_∅)|. The last two columns give the
# wall time of the extraction per game (the target's or a baseline's game on one sample, all
# games of a setup solved together on the 2 CPU cores); paper B reports 35–40 s per sample on
# one RTX 3090 for its SGD.

# %% tags=["remove-input"]
pd.DataFrame(gates).set_index("setup").style.format(precision=3)

# %% [markdown]
# ## Fig. 2: generalizable and non-generalizable strength per order
#
# Bars: $A^{(m),+}$ up and $A^{(m),-}$ down, averaged over the samples, with $k = 5$
# baselines; left the exact optimum, right the lab's SGD.

# %% tags=["remove-input"]
fig = PB.plot_fig2(chosen, judged)
plt.show()

# %% [markdown]
# **Figure B-P.1** (paper B, Fig. 2): the per-order strength of the generalizable and non-
# generalizable interactions of each setup at paper B's protocol, from the exact optimum and
# from the lab's SGD.

# %% [markdown]
# ## The rules and their controls
#
# Fixed in code before the runs (`papers.claims_b`): **decay** — the generalizable curve peaks
# at $m \le \max(2, n/4)$ and its strength-weighted mean order is below $n/2$ and below the
# non-generalizable one; **spindle** — the non-generalizable curve peaks at
# $3 \le m \le n-2$, its strength at $m = 1$ and at $m = n$ is at most half the peak's, and
# its ± cancellation is stronger than the generalizable part's; **convergence** — the
# non-generalizable share with $k = 3$ is within 10 % of the share with $k = 5$.
# The controls run the same extraction and rules on planted games ($n = 10$, 20 samples,
# 5 baselines): a decay part shared by every model plus a spindle part each model draws on its
# own (decay and spindle must be detected), and the same with one spindle part common to the
# baselines (the share cannot change with $k$: convergence must be detected).

# %% tags=["remove-input"]
pd.DataFrame([{"control": case, "claim": key, "detected": controls[case][key][0],
               "why": controls[case][key][1]}
              for case, keys in (("mixture", ("decay", "spindle")), ("common", ("convergence",)))
              for key in keys])

# %% [markdown]
# ## Per setup: the numbers behind each rule

# %% tags=["remove-input"]
pd.DataFrame([{"setup": name, "solver": solver, **{key: j[key][0] for key in C.FIG2_CLAIMS},
               "non share k=1/3/5": " / ".join(f"{v:.3f}" for v in j["shares"].values()),
               "peak gen": j["summary"]["peak_gen"], "peak non": j["summary"]["peak_non"],
               "mean order gen": round(j["summary"]["mean_order_gen"], 2),
               "mean order non": round(j["summary"]["mean_order_non"], 2)}
              for (name, solver), j in judged.items()])

# %% [markdown]
# ## Where the numbers come from

# %% tags=["remove-input"]
pd.DataFrame(list(records.values()))
