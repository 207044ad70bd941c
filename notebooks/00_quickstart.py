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
# # Quickstart: AND and OR interactions of a hand-made game
#
# A *game* gives a value $v(x_T)$ to every coalition $T \subseteq N$ of $n$ players. Here we
# plant a few AND and OR interactions in a game with $n = 4$ players, compute the game's values
# on all $2^n = 16$ coalitions, and recover the planted interactions exactly with the
# Möbius butterflies of `ibn.transforms`:
#
# - AND (Harsanyi): $I^{\text{AND}}_S = \sum_{T\subseteq S} (-1)^{|S|-|T|}\, u^{\text{AND}}_T$
#   (`mobius`), inverted by $u_T = \sum_{S \subseteq T} I_S$ (`zeta`);
# - OR: $I^{\text{OR}}_S = -\sum_{T\subseteq S} (-1)^{|S|-|T|}\, u^{\text{OR}}_{N\setminus T}$
#   (`or_mobius`), inverted by $u_T = \sum_{S\cap T\neq\emptyset} I_S$ (`or_zeta`).
#
# Coalitions are bitmasks: **player $i$ is bit $i$**, so coalition `0b0101` $=\{0, 2\}$
# (`ibn.transforms.coalition(0, 2)`; `coalition_label` writes it back as a set).

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import ibn
import papers
from ibn import transforms as tf
from ibn.book import scale_params, show_provenance
from ibn.distributions import order_sums
from ibn.maskers import PatchMasker
from ibn.results import provenance
from papers.tutorial import PlantedPatches
from ibn.transforms import coalition, coalition_label

papers.setup(scale, threads=1)  # small tensors: one thread is faster on a shared CPU

# The planted game is the same at every scale; only the timing demo grows.
presets = {
    "smoke": {"n_timing": 12},
    "book": {"n_timing": 18},
    "paper": {"n_timing": 22},
}
params = scale_params(scale, presets)
params

# %%
n = 4
N = (1 << n) - 1

# Planted effects, indexed by coalition bitmask; I_and[0] is the bias v(x_∅).
I_and = torch.zeros(1 << n, dtype=torch.float64)
I_and[0] = 0.5                       # bias
I_and[coalition(0)] = 1.0            # player 0 alone
I_and[coalition(0, 1)] = 2.0         # "0 AND 1"
I_and[coalition(1, 2, 3)] = -1.0     # "1 AND 2 AND 3", a negative effect
I_or = torch.zeros(1 << n, dtype=torch.float64)
I_or[coalition(2, 3)] = 1.5          # "2 OR 3"
I_or[coalition(0, 3)] = -0.5         # "0 OR 3"

# The game: v(x_T) = u_AND(T) + u_OR(T),
# with u_AND = zeta(I_and) and u_OR = or_zeta(I_or).
v = tf.zeta(I_and) + tf.or_zeta(I_or)
for T in range(1 << n):
    print(f"v(x_{coalition_label(T):<12}) = {v[T]: .2f}")

# %% [markdown]
# ## Recovering the planted interactions
#
# The AND part and the OR part of the value are recovered exactly by the Möbius butterflies.
# (In a real network only $v$ is observed; `ibn.and_or` finds the sparsest split
# $v = u^{\text{AND}} + u^{\text{OR}}$, {ref}`Conventions: AND-OR interactions <conventions-and-or>`.)

# %%
u_and, u_or = tf.zeta(I_and), tf.or_zeta(I_or)
rec_and, rec_or = tf.mobius(u_and), tf.or_mobius(u_or)
for name, effects in (("AND", rec_and), ("OR", rec_or)):
    for S in torch.nonzero(effects.abs() > 1e-12).flatten().tolist():
        print(f"I^{name}_{coalition_label(S):<12} = {effects[S]: .2f}")

# %% [markdown]
# ## Universal matching
#
# With the bias $b = v(x_\emptyset)$, the interactions reproduce every masked output:
#
# $$h(x_T) = b + \sum_{\emptyset \neq S \subseteq T} I^{\text{AND}}_S
#   + \sum_{S \cap T \neq \emptyset} I^{\text{OR}}_S = v(x_T) \quad \text{for all } T \subseteq N.$$
#
# The next cell is checked by `pytest --nbval-lax` (tag `nbval-check-output`): its output
# must stay exactly as committed.

# %% tags=["nbval-check-output"]
b = v[0]
h = torch.empty_like(v)
for T in range(1 << n):
    and_part = sum(rec_and[S] for S in range(1, 1 << n) if S & T == S)
    or_part = sum(rec_or[S] for S in range(1, 1 << n) if S & T)
    h[T] = b + and_part + or_part
exact = (torch.allclose(rec_and, I_and, atol=1e-12)
         and torch.allclose(rec_or, I_or, atol=1e-12))
print("exact recovery of the planted effects:", bool(exact))
print("universal matching h(x_T) == v(x_T) for all 16 coalitions:",
      bool(torch.allclose(h, v, rtol=0, atol=1e-12)))
n_and_or = int((rec_and[1:].abs() > 1e-12).sum() + (rec_or.abs() > 1e-12).sum())
n_and_only = int((tf.mobius(v)[1:].abs() > 1e-12).sum())
print(f"AND-only effects of v are denser: {n_and_only} non-zero effects "
      f"instead of {n_and_or}")

# %% [markdown]
# ## Finding the split from $v$ alone: `ibn.and_or.extract`
#
# Above we knew $u^{\text{AND}}$ and $u^{\text{OR}}$. Given only $v$, `ibn.and_or.extract` solves
# the linear program of {ref}`Conventions: AND-OR interactions <conventions-and-or>` for the split $v = u^{\text{AND}} + u^{\text{OR}}$ (here with no
# noise allowance, $\zeta = 0$) whose effects have the smallest
# $\sum_{S\neq\emptyset} |I^{\text{AND}}_S| + |I^{\text{OR}}_S|$, with a certified lower bound
# on that optimum. The planted effects are one split; the solver may return another one with the
# same total, since sparsest splits need not be unique.

# %%
from ibn.and_or import extract

res = extract(v, noise_bound=0.0)
planted_l1 = float(I_and[1:].abs().sum() + I_or.abs().sum())
print(f"planted effects:   sum |I| = {planted_l1:.4f}")
print(f"sparsest split:    sum |I| = {float(res.objective):.4f} "
      f"(certified lower bound {float(res.lower_bound):.4f}, solver {res.solver})")
for name, effects in (("AND", res.and_effects), ("OR", res.or_effects)):
    for S in torch.nonzero(effects.abs() > 1e-9).flatten().tolist():
        print(f"  I^{name}_{coalition_label(S):<12} = {effects[S]: .2f}")
all_T = tf.all_masks(n)
print("universal matching of the extracted effects:",
      bool(torch.allclose(res.predict(all_T), v, atol=1e-9)))

# %% [markdown]
# ## Effects per order
#
# Explaining the same game with AND interactions only (`mobius(v)`) turns each OR interaction
# into AND interactions of several orders with alternating signs: the AND-OR explanation is
# sparser. The plot sums the positive and the negative effects at each order $m = |S|$
# (`ibn.distributions.order_sums`), the quantities $A^{(m),+}$ and $A^{(m),-}$ of
# {ref}`Conventions: generalizable interactions <conventions-generalizable>`.

# %%
order = tf.orders(n)
ms = np.arange(1, n + 1)
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
panels = [
    ("AND + OR (planted, sparse)",
     [("AND", rec_and * (order > 0), "tab:blue"),
      ("OR", rec_or, "tab:orange")]),
    ("AND only: mobius(v)", [("AND", tf.mobius(v) * (order > 0), "tab:blue")]),
]
for ax, (title, parts) in zip(axes, panels):
    width = 0.8 / len(parts)
    for k, (label, eff, color) in enumerate(parts):
        pos = order_sums(eff.clamp(min=0))[1:].numpy()  # orders m = 1..n
        neg = order_sums(eff.clamp(max=0))[1:].numpy()
        x = ms - 0.4 + width * (k + 0.5)
        ax.bar(x, pos, width, color=color, label=label)
        ax.bar(x, neg, width, color=color, alpha=0.5)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(ms)
    ax.set_xlabel("order m = |S|")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=9)
axes[0].set_ylabel("sum of effects (positive / negative)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## One call on a model, and a shapiq plot
#
# `ibn.explain(model, inputs, masker)` does all of the above for a model: it evaluates the
# $2^n$ masked inputs, finds the sparsest AND-OR effects and names the players. Here the
# "model" is a two-class network whose log-odds we planted: $3$ when cells 0 and 1 of a 2×2
# grid are both present (an AND) plus $2$ when cell 2 or cell 3 is (an OR). `to_shapiq()`
# hands the result to [shapiq](https://github.com/mmschlk/shapiq), whose plots then apply:
# the AND part as shapiq's Möbius values (below, as an upset plot: each column a coalition,
# its bar the effect).

# %%
expl = ibn.explain(PlantedPatches(), torch.ones(1, 4, 4), PatchMasker(grid=2), targets=1,
                   noise_bound=0.0)
expl.top(4)

# %%
expl.to_shapiq()["and"].plot_upset(show=False)
plt.show()

# %% [markdown]
# ## The butterflies are fast
#
# `mobius` and `zeta` cost $O(n\,2^n)$ (one pass per player), never a $2^n\times 2^n$ matrix.
# The size of this check depends on the `scale` parameter.

# %%
m = params["n_timing"]
gen = torch.Generator().manual_seed(0)
x = torch.randn(1 << m, dtype=torch.float64, generator=gen)
t0 = time.perf_counter()
y = tf.zeta(tf.mobius(x))
elapsed = time.perf_counter() - t0
print(f"n = {m}: mobius + zeta on 2^{m} = {1 << m} values "
      f"in {elapsed * 1e3:.1f} ms, round trip error {(y - x).abs().max():.1e}")

# %%
show_provenance(provenance(params, scale=scale, elapsed_s=elapsed));
