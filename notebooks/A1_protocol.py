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
# # Paper A at the reference protocol: the bottleneck on a 16×16 grid
#
# Paper A's discovery: trained networks encode strong low-order and high-order interactions
# and weak mid-order ones, from early in training on. Paper A measures it with the protocol of
# Deng et al. (ICLR 2022): 32×32 images cut into a 16×16 grid ($n = 256$ players of 2×2
# pixels, masked to 0), the first correctly classified training images of each class, pairs
# $(i, j)$ of neighbouring cells (distance ≤ 2), random contexts $S$ of each order
# $m = \lfloor (n-2)\,r \rfloor$ for 13 ratios $r$, and
# $J^{(m)} = \mathbb{E}_{x,(i,j)}|I^{(m)}(i,j)| / \text{mean over the 13 orders}$
# ({ref}`Conventions: multi-order interactions <conventions-multiorder>`). Models are trained
# with the reference recipe ({ref}`Conventions: paper A's protocol <conventions-protocol-a>`).
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
from papers import protocol_a as PA
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
chosen = PA.chosen_setups(scale, setups)
profiles = {(s.name, stage): PA.profile(s, stage) for s in chosen for stage in PA.STAGES}
control = PA.control_profile(chosen[0])
flat_control = PA.control_profile(chosen[0], power=1)
verdicts = PA.discovery_records(profiles, chosen, control, scale=scale,
                                chapter="notebooks/A1_protocol.py",
                                planned=[s.name for s in PA.chosen_setups(scale)],
                                flat_control=flat_control)
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=PA.departures(chosen),
         reading=('J^(m) over the ratio r = m/n per setup: grey at initialisation, orange after 5 % '
                  "of training, blue at the kept epoch; dotted, each curve's noise floor. The "
                  'bottleneck is a U: high at both ends, low in the middle, above the floor.'))

# %% [markdown]
# ## $J^{(m)}$ over training
#
# Grey: at initialisation; orange: after 5 % of the training steps; blue: the kept
# (best-validation) epoch. Dotted: each curve's noise floor, the $|{\rm mean}|$ that the
# contexts' spread alone would give a pair with no interaction ($\sqrt{2/\pi}$ times the
# standard error of the context mean), in the same units. The first panel is the control: a
# game whose every pair has $I^{(m)}(i,j) = (1-r)^4 + r^4$ plus context noise, through the same
# sampler and settings.

# %% tags=["remove-input"]
fig = PA.plot_profiles(chosen, profiles, control)
plt.show()

# %% [markdown]
# **Figure A-P.1** (paper A, Fig. 1): $J^{(m)}$ over the order ratio on the 16×16 grid ($n =
# 256$) for each setup, at initialisation, early and at the kept epoch, with each curve's noise
# floor; the first panel is the planted-U control.

# %% [markdown]
# ## The rule
#
# Fixed in code before the runs (`papers.protocol_a.u_rule`): the mean $J$ over
# $r \in \{0, .05\}$ and over $r \in \{.95, 1\}$ both above the mean $J$ over
# $r \in [.3, .7]$, and the mid-order strength above its noise floor (otherwise the middle is
# not measured, only bounded).
#
# A U-shaped profile after training says nothing about *learning* if the network had it
# before training. The second rule (`papers.protocol_a.learned_rule`) asks whether training
# deepened the dip: the depth is the mid-band $J$ divided by the smaller of the low- and
# high-band $J$, and the dip counts as learned when the initial network has no U (by the first
# rule) or the trained network's depth is at most 0.8 times the initial one's. Its control runs
# the same sampler from a planted flat profile ($I^{(m)}(i,j) = 1$ at every order) to the
# planted U.

# %% tags=["remove-input"]
pd.DataFrame([{"setup": name, "stage": stage, "passes": PA.u_rule(p["ratios"], p["strength"], p["floor"])[0],
               "dip depth": round(PA.dip_depth(p), 2),
               "why": PA.u_rule(p["ratios"], p["strength"], p["floor"])[1]}
              for (name, stage), p in profiles.items()])

# %% [markdown]
# ## The models and the sampling

# %% tags=["remove-input"]
pd.DataFrame([PA.setup_record(s, profiles[(s.name, "final")]) for s in chosen])
