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
# # Tutorial: ibn on your own model
#
# This chapter runs ibn from start to finish on a model and data that appear in neither paper:
# a **gradient-boosted tree ensemble** (scikit-learn's `HistGradientBoostingClassifier`, not a
# neural network and not a PyTorch model) on the **Wisconsin breast-cancer** table shipped with
# scikit-learn. It takes seconds on a laptop CPU.
#
# The recipe is the same for any model:
#
# 1. choose the **players** (here: 10 input features) and a **baseline** for a masked player
#    (here: the training mean of that feature);
# 2. write the **game** as a function of a boolean mask matrix (k, n) returning one value per
#    mask — the reward is the log-odds of the true class, $v = \log \frac{p}{1-p}$;
# 3. evaluate all $2^n$ masks with `ibn.games.all_values`;
# 4. extract the sparsest AND-OR interactions with `ibn.and_or.extract` and the multi-order
#    interactions with `ibn.multiorder.exact`.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
seed = 0

# %%
import time

t_start = time.perf_counter()
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier

import papers
from ibn import games, multiorder
from ibn.and_or import extract
from ibn.book import scale_params, show_provenance
from ibn.data import load_tabular
from ibn.results import provenance
from ibn.transforms import all_masks, orders
from papers.tutorial import log_odds_game, top_patterns

papers.setup(scale, threads=1)  # many small model calls: one thread is faster on a shared CPU
params = scale_params(scale, {"smoke": {"samples": 3}, "book": {"samples": 20},
                              "paper": {"samples": 50}}, seed=seed)
params

# %% [markdown]
# ## The model
# The table has 30 features, standardized with the training statistics. The ten "mean"
# features (radius, texture, ... of the cell nuclei) are the players; the other twenty stay at
# their observed values.

# %%
table = load_tabular("breast_cancer", seed=params["seed"])
model = HistGradientBoostingClassifier(random_state=params["seed"]).fit(
    table.x_train.numpy(), table.y_train.numpy())
print(f"test accuracy {model.score(table.x_test.numpy(), table.y_test.numpy()):.3f}")
players = list(range(10))
names = [table.feature_names[i] for i in players]
baseline = table.x_train.mean(0).numpy()
names

# %% [markdown]
# ## The game
# `decision_function` of a binary gradient-boosting classifier *is* the log-odds of class 1,
# so the reward of the true class $y$ is $\pm$ that value ({ref}`Conventions: notation <conventions-notation>`). A masked player takes its
# baseline value. `papers.tutorial.log_odds_game(model, x, y, players, baseline)` is that game
# for one sample: a function from a boolean mask matrix (one row per coalition, column $i$ =
# player $i$) to one value per row.

# %%
start = time.perf_counter()
samples = range(params["samples"])
values = torch.stack([
    games.all_values(log_odds_game(model, table.x_test[i].numpy(), int(table.y_test[i]), players,
                                   baseline), n=len(players))
    for i in samples
])
result = extract(values, noise_bound=0.02)
print(f"{len(samples)} samples x 2^{len(players)} model calls and the exact AND-OR "
      f"extraction in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ## Universal matching
# The extracted interactions reproduce the model's output on **every** masked input, up to the
# bounded noise $\delta_T$ the decomposition is allowed ($|\delta_T| \le 0.02\,|v(x_N)-v(x_\emptyset)|$):
# $h(x_T) = v(x_T) - \delta_T$.

# %% tags=["nbval-check-output"]
masks = all_masks(len(players))
h = result.predict(masks)
print("universal matching to 1e-9 on all samples:",
      bool((h - (values - result.delta)).abs().max() < 1e-9))
print("noise within its bound:", bool((result.delta.abs() <= result.zeta[..., None] + 1e-12).all()))

# %% [markdown]
# ## The salient interactions of one sample
# The few largest AND and OR interactions of the first test sample, named by their features.

# %%
top = top_patterns(result, names, 0)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.barh(range(len(top))[::-1], top.effect, color=["tab:blue" if k == "AND" else "tab:orange"
                                                  for k in top.kind])
ax.set_yticks(range(len(top))[::-1], [f"{k}: {p}" for k, p in zip(top.kind, top.pattern)],
              fontsize=9)
ax.set_xlabel("interaction effect (log-odds)")
ax.set_title(f"sample 0 (label {int(table.y_test[0])}): bias {float(result.bias[0]):.2f}")
fig.tight_layout()
top

# %% [markdown]
# ## Orders: AND-OR strength and multi-order interactions
# How the salient interactions spread over orders (paper B's $A^{(m),\pm}$ without the
# generalization split), and the relative strength $J^{(m)}$ of the multi-order interactions
# (paper A) of this model.

# %%
tau = 0.02 * (values[:, -1] - values[:, 0]).abs().mean()
order = orders(len(players))
effects = torch.cat([result.and_effects[:, 1:], result.or_effects[:, 1:]], dim=1)
effect_order = torch.cat([order[1:], order[1:]])
salient = effects.abs() > tau
plus = torch.stack([(effects.clamp(min=0) * salient)[:, effect_order == m].sum(1).mean()
                    for m in range(1, len(players) + 1)])
minus = torch.stack([(effects.clamp(max=0) * salient)[:, effect_order == m].sum(1).mean()
                     for m in range(1, len(players) + 1)])
J = multiorder.relative_strength(multiorder.strength(multiorder.exact(values)))
fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.2, 3.0))
m = np.arange(1, len(players) + 1)
a1.bar(m, plus.numpy(), color="tab:red", label="$A^{(m),+}$")
a1.bar(m, minus.numpy(), color="tab:blue", label="$A^{(m),-}$")
a1.set_xlabel("order m"); a1.set_ylabel("salient strength"); a1.legend()
a1.set_xticks(m)
a2.plot(np.arange(len(J)) / (len(players) - 2), J.numpy(), "o-")
a2.set_xlabel("order ratio $m/(n-2)$"); a2.set_ylabel("$J^{(m)}$")
# J is within a fraction of a percent of 1: a plain axis from 0 shows how flat it is
a2.ticklabel_format(axis="y", useOffset=False, style="plain")
a2.set_ylim(min(0.0, 1.1 * float(J.min())), max(1.2, 1.1 * float(J.max())))
fig.tight_layout()
plt.show()
print(f"J^(m) ranges from {float(J.min()):.4f} to {float(J.max()):.4f} over the orders")
strength_table = pd.DataFrame({"order": m, "A+": plus.numpy(), "A-": minus.numpy()}).set_index(
    "order").round(3)
strength_table[(strength_table != 0).any(axis=1)]  # orders with no salient interaction left out

# %% [markdown]
# **Figure T1.1**: left, the strength of the salient AND-OR interactions per order (positive
# effects up, negative down; mean over the test samples); right, the relative strength
# $J^{(m)}$ of the multi-order interactions against the order ratio, on an axis from 0: it is
# flat, within a fraction of a percent of 1 at every order. The table lists the orders that
# have salient interactions.

# %% [markdown]
# ## Your own model
# Replace `model`, `players`, `baseline` and the game above: any callable that maps a boolean
# mask matrix to one value per mask works (`papers.tutorial.log_odds_game` is a dozen lines to
# copy and adapt). For PyTorch models, `ibn.maskers` has ready maskers
# (input patches, feature-map patches after a named layer, text tokens, tabular features), and
# `ibn.games.all_values(model, x, masker, target=y)` evaluates them in chunks on the model's
# device with a progress bar.

# %%
show_provenance(provenance(params, scale=scale, elapsed_s=time.perf_counter() - t_start));
