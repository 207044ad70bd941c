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
# # A1 · Discovery: the relative strength of each interaction order

# %% tags=["remove-input"]
from papers import verdicts as V

V.header(V.records_for(['A.discovery']),
         departures=('This page explores the claim at a scale that cannot decide it: small CNNs on 28 '
                     'px images with 3×3 exact and 8×8 sampled grids, tabular MLPs with n = 12 '
                     'features, trained with Adam (the MLPs also with the reference recipe). The '
                     'verdict comes from the reference protocol '
                     'chapter.'),
         reading=('J^(m) over the ratio r = m/n, one curve per model; a U shape (high ends, low '
                  'middle) is the bottleneck.'),
         link=True)

# %% [markdown]
# **Claim (paper A, after Deng et al. ICLR 2022).** DNNs encode low-order and high-order
# interactions easily but under-represent middle-order ones: the relative strength $J^{(m)}$,
# plotted over the order ratio $m/n$, is U-shaped.
#
# **What is measured** ({ref}`Conventions: multi-order interactions <conventions-multiorder>`). For a pair of players $(i, j)$ and a context
# $S \subseteq N\setminus\{i,j\}$ of size $m$,
# $\Delta v(i,j,S) = v(S\cup\{i,j\}) - v(S\cup\{i\}) - v(S\cup\{j\}) + v(S)$ and
# $I^{(m)}(i,j) = \mathbb{E}_{|S|=m}\,\Delta v(i,j,S)$. The strength of order $m$ on a sample is
# $S^{(m)}(x) = \mathbb{E}_{i,j}|I^{(m)}(i,j\,|\,x)|$ and
# $J^{(m)} = \mathbb{E}_x S^{(m)}(x) / \mathbb{E}_{m'}\mathbb{E}_x S^{(m')}(x)$.
# The reward is the log-odds of the true label, $v = \log p(y|x)/(1-p(y|x))$ ({ref}`Conventions: notation <conventions-notation>`). The
# x-axis of every plot is the order ratio $r = m/(n-2) \in [0, 1]$ (the reference protocol's
# $m = \lfloor (n-2) r \rfloor$).
#
# **Models and players.**
# - MLP-5 and MLP-8 (100-unit hidden layers) on two scikit-learn tables with $n = 12$ players
#   (features), computed **exactly** from the $2^{12}$ values of each sample: *wine* (13 features;
#   the 12 first are used — `proline` is dropped so that every input feature is a player) and
#   *breast cancer* (30 features; the 12 first are used: the ten "mean" features plus radius and
#   texture error). Masked features take the training mean (0 after standardisation).
# - ResNet-20, VGG-11 and the AlexNet variant on 28×28 MNIST and Fashion-MNIST with input
#   patches as players (baseline 0 = the mean pixel after standardisation): **exact** on a
#   coarse 3×3 grid ($n = 9$) after several training steps and epochs, and the reference
#   **sampled** protocol on an 8×8 grid ($n = 64$; pairs with $j$ among the 24 grid neighbours of
#   $i$, random contexts, $|\cdot|$ taken after averaging contexts) on the final model.
# - The pretrained MiniLM-L6 classifier fine-tuned on the Rotten Tomatoes sentences and
#   BERT-Medium trained on them from scratch, with $n = 10$ words as players, **exact**.
#
# **Departures from the paper (CPU budget: 2 shared cores).** At `book` scale the CNNs see a few
# thousand training images for one or two epochs (`cnn_train`), so they are weaker than the
# paper's; the exact curves use 9 patches and 3 images per model; the sampled protocol uses a
# single image, 8 pairs and 8 contexts (the reference: 50 images, 200 pairs, 100 contexts), so
# its noise floor is reported beside it; the text curves use 4 sentences of at most 24 tokens.
# BERT-Medium is trained from scratch because pretrained BERT-Medium weights are not available
# here (DATA.md). The `paper` scale restores the full training sets, the 3×4 exact grid and the
# reference protocol (it needs a GPU).
#
# **Verdict rule** (computed, `papers.bottleneck.shape_summary`): $J_{\text{low}}$ =
# mean $J$ over $r \le 0.1$, $J_{\text{high}}$ over $r \ge 0.9$, $J_{\text{mid}}$ over
# $0.3 \le r \le 0.7$; an end is *above* the middle when $J_{\text{mid}} < 0.8\,J_{\text{end}}$.
# "U-shaped" needs both ends above the middle; "falling" means only the low end is.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
seed = 0
recompute = False

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import papers
from ibn import multiorder as mo
from ibn.book import scale_params, show_provenance
from ibn.results import load_provenance
from papers import bottleneck as bn
from papers import bottleneck_runs as bnr

papers.setup(scale)
P = scale_params(scale, bnr.A1_PRESETS)
P.key()  # the settings of this scale

# %% [markdown]
# ## Tabular MLPs: exact $J^{(m)}$ with $n = 12$ features
#
# Each model is trained with Adam (learning rate $10^{-3}$, batch 32) on the stratified 80 %
# training split; its weights are kept after the epochs listed in `tab_snapshots` (0 = the
# initialisation). The samples are `tab_per_class` correctly classified test samples per class
# (chosen with the final model; the same samples for every snapshot). The exact values also feed
# the sampled protocol (random pairs, `agree_contexts` contexts with replacement), run on the
# recorded values by table lookup — the same model and players — to check that the two estimates
# agree.

# %%
t0 = time.perf_counter()
tab_results = {(d, m): bnr.a1_tabular(d, m, P, seed=seed, scale=scale, recompute=recompute)
               for d in P["tab_sets"] for m in P["tab_models"]}
print(f"tabular models ready in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ### The final models

# %%
rows = []
fig, axes = plt.subplots(1, len(P["tab_sets"]), figsize=(5 * len(P["tab_sets"]), 3.6),
                         squeeze=False)
for (d, m), (params, res) in tab_results.items():
    S = res["strength"][-1]
    J = mo.relative_strength(torch.as_tensor(S)).numpy()
    r = bn.order_ratios(np.arange(S.shape[1]), 12)
    sem = S.std(0, ddof=1) / np.sqrt(len(S)) / S.mean(0).mean() if len(S) > 1 else 0 * J
    ax = axes[0, P["tab_sets"].index(d)]
    ax.errorbar(r, J, yerr=sem, marker="o", ms=4, capsize=2, label=m.upper())
    ax.set_title(f"{d} (n = 12, {len(S)} test samples)", fontsize=10)
    summ = bn.shape_summary(r, J)
    rows.append({"dataset": d, "model": m, "epochs": int(res["epochs"][-1]),
                 "train acc": res["train_acc"][-1], "test acc": res["test_acc"][-1],
                 **{k: summ[k] for k in ("J_low", "J_mid", "J_high", "mid_over_low",
                                         "mid_over_high", "verdict")}})
for ax in axes[0]:
    ax.axvspan(0.3, 0.7, color="0.9", zorder=0)
    ax.set_xlabel("order ratio r = m/(n−2)")
    ax.set_ylabel(r"$J^{(m)}$")
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
tab_summary = pd.DataFrame(rows)
tab_summary.round(3)

# %% [markdown]
# **Figure A1.1** (paper A, Fig. 1, tabular): exact $J^{(m)}$ of the trained MLPs ($n = 12$),
# mean over the chosen test samples with standard errors.

# %% [markdown]
# The error bars are the standard error over samples (relative to the curve's mean). The shaded
# band is the middle range used by the verdict.
#
# ### When does the shape appear? $J^{(m)}$ over training

# %%
n_models = len(tab_results)
fig, axes = plt.subplots(1, n_models, figsize=(4.2 * n_models, 3.4), squeeze=False)
rows = []
for k, ((d, m), (params, res)) in enumerate(tab_results.items()):
    ax = axes[0, k]
    cmap = plt.get_cmap("viridis")
    for s, e in enumerate(res["epochs"]):
        J = mo.relative_strength(torch.as_tensor(res["strength"][s])).numpy()
        r = bn.order_ratios(np.arange(len(J)), 12)
        ax.plot(r, J, color=cmap(s / max(len(res["epochs"]) - 1, 1)), marker=".",
                label=f"epoch {e}")
        summ = bn.shape_summary(r, J)
        rows.append({"dataset": d, "model": m, "epoch": int(e),
                     "train loss": res["train_loss"][e - 1] if e else np.nan,
                     "test acc": res["test_acc"][e - 1] if e else np.nan,
                     "mid/low": summ["mid_over_low"], "mid/high": summ["mid_over_high"],
                     "verdict": summ["verdict"]})
    ax.set_title(f"{m.upper()} on {d}", fontsize=10)
    ax.set_xlabel("order ratio r")
    ax.set_ylabel(r"$J^{(m)}$")
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
tab_epochs = pd.DataFrame(rows)
tab_epochs.round(3)

# %% [markdown]
# **Figure A1.2** (paper A, Fig. 1, over training): exact $J^{(m)}$ of each MLP after each kept
# epoch (0 = initialisation).

# %% [markdown]
# ### Exact and sampled estimates agree (same model, same players)
#
# On the final models, the reference sampling protocol is run on the recorded values: for each
# sample, random pairs and `agree_contexts` random contexts per pair and order (with
# replacement). For every sampled pair and order, the sampled mean of $\Delta v$ is compared with
# the exact $I^{(m)}(i,j)$ through the z-score (sampled − exact)/sem, which should be roughly
# standard normal where the contexts differ (at $m = 0$ and $m = n-2$ there is a single context
# and the two must be equal). The strengths are compared order by order (the sampled strength
# takes $|\cdot|$ after averaging, so it is biased upwards by the sampling noise where the
# exact $I^{(m)}$ is small).


# %%
rows = []
for (d, m), (params, res) in tab_results.items():
    row, Je, Js = bnr.exact_vs_sampled(res, f"{m.upper()} {d}")
    rows.append(row)
pd.DataFrame(rows).round(4)

# %% [markdown]
# ### The same MLPs with paper A's reference recipe
#
# The Adam runs above keep the last epoch. Paper A's reference code trains with SGD (rate
# 0.01, momentum 0.9, weight decay $5\cdot10^{-4}$, the rate decayed log-linearly to a tenth) and
# keeps the epoch of best validation accuracy. Here 20 % of the training split (stratified) is
# held out for that choice, for the same number of epochs; the test samples are picked by the
# kept model. Grey: the network at initialisation; colours: the kept model of each recipe.

# %%
recipe_runs = {(d, m, rec): bnr.a1_tabular(d, m, P, seed=seed, scale=scale, recipe=rec,
                                           recompute=recompute)
               for d in P["tab_sets"] for m in P["tab_models"] for rec in P["tab_recipes"]}
pairs = list(dict.fromkeys((d, m) for d, m, _ in recipe_runs))
fig, axes = plt.subplots(1, len(pairs), figsize=(papers.PAGE_WIDTH, 2.6), squeeze=False,
                         sharey=True)
for k, (d, m) in enumerate(pairs):
    ax = axes[0, k]
    for rec in P["tab_recipes"]:
        params, res = recipe_runs[(d, m, rec)]
        r = bn.order_ratios(np.arange(res["strength"].shape[2]), 12)
        if rec == P["tab_recipes"][0]:
            ax.plot(r, mo.relative_strength(torch.as_tensor(res["strength"][0])).numpy(),
                    color="0.6", ls="--", label="init")
        ax.plot(r, mo.relative_strength(torch.as_tensor(res["strength"][-1])).numpy(),
                marker=".", label=f"{rec}, kept epoch")
    ax.axvspan(0.3, 0.7, color="0.9", zorder=0)
    ax.set_title(f"{m.upper()}, {d}", fontsize=9)
    ax.set_xlabel("order ratio r")
axes[0, 0].set_ylabel(r"$J^{(m)}$")
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9,
           frameon=False)
fig.tight_layout(rect=(0, 0.1, 1, 1))
plt.show()
pd.DataFrame(bnr.tabular_recipe_rows(recipe_runs)).round(3)

# %% [markdown]
# **Figure A1.3**: the same MLPs trained with paper A's reference recipe (kept: best-validation
# epoch) beside Adam and the initial network.

# %% [markdown]
# ## Image CNNs on MNIST and Fashion-MNIST: input patches as players
#
# ResNet-20, VGG-11 (BatchNorm) and the AlexNet variant of Deng et al. take 1-channel
# **28×28** images (standardised with the training subset's mean and std). Each is trained with
# Adam (constant learning rate; `cnn_train` = [training images, epochs, rate, and the batch
# size when it differs from `cnn_batch`]) on a seeded subset of the training images, by
# `papers.bottleneck.train_image_model`, which keeps the weights of the epochs in
# `cnn_snapshots` and the global steps in `cnn_steps` under `data/models/A1/` (git-ignored; a
# rerun only loads them). Test accuracy is measured on `cnn_test` test images.
#
# The images for the games are correctly classified test images, one per class (classes 0, 1,
# 2, … in turn). Players are input patches; a masked patch takes the value 0 (the mean pixel).
# - **Exact** $J^{(m)}$ on a coarse `cnn_exact_grid` grid (all $2^n$ values of `cnn_exact`
#   images) after every kept epoch and step.
# - **Sampled** $J^{(m)}$ with the reference protocol (`ibn.multiorder.sample`: pairs with $j$
#   among the 24 grid neighbours of $i$, random contexts per pair and order, $|\cdot|$ after
#   averaging) on the finer `cnn_grid`×`cnn_grid` grid of the final model (`cnn_sampled` images,
#   `cnn_pairs` pairs, `cnn_contexts` contexts).
# - **Agreement**: the same sampled protocol run on the recorded exact values (the same model and
#   players), compared with the exact $I^{(m)}(i,j)$.


# %%
t0 = time.perf_counter()
cnn_results = {(d, m): bnr.a1_cnn(d, m, P, seed=seed, scale=scale, recompute=recompute)
               for d in P["cnn_sets"] for m in P["cnn_models"]}
print(f"CNN results ready in {time.perf_counter() - t0:.1f} s")
names = {"resnet20": "ResNet-20", "vgg11": "VGG-11", "vgg16": "VGG-16", "alexnet": "AlexNet"}
cnn_train = pd.DataFrame([
    {"dataset": d, "model": names[m], "training images": params["n_train"],
     "epochs": params["epochs"], "lr": f"{params['lr']:g}",
     "batch": params["batch_size"], "test acc": res["test_acc"][-1],
     "test acc per epoch": np.round(res["test_acc"], 4).tolist(),
     "train time (s)": res["timing"]["train_s"], "exact games (s)": res["timing"]["exact_s"],
     "sampled games (s)": res["timing"]["sampled_s"]}
    for (d, m), (params, res) in cnn_results.items()])
cnn_train.round(3)

# %% [markdown]
# ### Exact $J^{(m)}$ on the coarse grid over training, and the sampled fine-grid protocol
#
# Left: the exact curve after each kept step and epoch (epochs as real numbers; step $k$ is
# epoch $k$ / steps per epoch). Right: the sampled protocol on the fine grid of the final model,
# with the *noise floor* of the sampled strength — the value $\mathbb{E}|\bar X|$ that pure
# sampling noise would give, $\sqrt{2/\pi}\cdot\text{sem}$ averaged over pairs — relative to the
# same normaliser. Where the sampled strength is close to its noise floor, that order's estimate
# is dominated by the noise of averaging `cnn_contexts` contexts.

# %%
rows = []
n_ex = int(np.prod(P["cnn_exact_grid"]))
fig, axes = plt.subplots(len(cnn_results), 2, figsize=(papers.PAGE_WIDTH, 2.6 * len(cnn_results)),
                         squeeze=False)
for k, ((d, m), (params, res)) in enumerate(cnn_results.items()):
    ax = axes[k, 0]
    cmap = plt.get_cmap("viridis")
    ep = res["snapshot_epoch"]
    for s, e in enumerate(ep):
        J = mo.relative_strength(torch.as_tensor(res["strength"][s])).numpy()
        r = bn.order_ratios(np.arange(len(J)), n_ex)
        ax.plot(r, J, marker=".", color=cmap(s / max(len(ep) - 1, 1)), label=f"epoch {e:.2f}")
        summ = bn.shape_summary(r, J)
        whole = float(e).is_integer() and e > 0
        rows.append({"dataset": d, "model": names[m], "players": f"{n_ex} exact",
                     "epoch": float(e),
                     "test acc": res["test_acc"][int(e) - 1] if whole else np.nan,
                     "mid/low": summ["mid_over_low"], "mid/high": summ["mid_over_high"],
                     "verdict": summ["verdict"]})
    ax.set_title(f"{names[m]} {d}: exact, {'×'.join(map(str, P['cnn_exact_grid']))} patches",
                 fontsize=9)
    ax.set_xlabel("order ratio r")
    ax.set_ylabel(r"$J^{(m)}$")
    ax.legend(fontsize=9)
    ax = axes[k, 1]
    Jf, floor = bnr.sampled_noise_floor(res)
    r = res["fine_ratios"]
    ax.plot(r, Jf, marker="o", label=r"sampled $J^{(m)}$")
    ax.plot(r, floor, ls="--", color="0.4", label="noise floor")
    ax.set_title(f"{names[m]} {d}: sampled, {params['grid']}×{params['grid']} patches "
                 f"({len(res['fine_strength'])} image(s), {params['pairs']} pairs, "
                 f"{params['contexts']} contexts)", fontsize=9)
    ax.set_xlabel("order ratio r")
    ax.legend(fontsize=9)
    summ = bn.shape_summary(r, Jf)
    mid = (r >= 0.3) & (r <= 0.7)
    rows.append({"dataset": d, "model": names[m],
                 "players": f"{params['grid'] ** 2} sampled", "epoch": float(ep[-1]),
                 "test acc": res["test_acc"][-1], "mid/low": summ["mid_over_low"],
                 "mid/high": summ["mid_over_high"], "verdict": summ["verdict"],
                 "mid noise floor / mid J": float(np.mean(floor[mid]) / summ["J_mid"])})
fig.tight_layout()
plt.show()
cnn_summary = pd.DataFrame(rows)
cnn_summary.round(3)

# %% [markdown]
# **Figure A1.4** (paper A, Fig. 1, images): exact $J^{(m)}$ of the CNNs on the 3×3 grid over
# training and the sampled protocol on the 8×8 grid.

# %% [markdown]
# ### Exact vs sampled on the CNNs (same players, grid-neighbour pairs)

# %%
rows = []
for (d, m), (params, res) in cnn_results.items():
    row, Je, Js = bnr.exact_vs_sampled(res, f"{names[m]} {d}")
    rows.append(row)
pd.DataFrame(rows).round(4)

# %% [markdown]
# ## BERT models on the Rotten Tomatoes sentences: words as players
#
# Two classifiers of `papers.text_models` (the same cached training as paper B's text
# experiments), trained with Adam on the first `text_train[model][0]` sentences of the train split
# for `text_train[model][1]` epoch(s) (batch 32, sentences truncated at 64 tokens):
# - **MiniLM-L6** (pretrained sentence encoder, a fresh linear head on [CLS], fine-tuned with
#   learning rate $5\cdot 10^{-5}$);
# - **BERT-Medium** (8 layers, hidden 512) **from scratch** (random weights, MiniLM's tokenizer,
#   learning rate $10^{-4}$); paper A uses pretrained BERT models, which are not available here.
#
# Players: `text_players` meaningful words of a sentence (not stop words, drawn with the seed,
# every word-piece of a word masked together with [MASK]); the values of all $2^{n}$ coalitions
# give the exact $J^{(m)}$. The sentences are the first test sentences with at least
# `text_players` meaningful words and at most `text_max_tokens` tokens — the same for both
# models, correctly classified or not (column "correct").

# %%
t0 = time.perf_counter()
text_results = {m: bnr.a1_text(m, P, seed=seed, scale=scale, recompute=recompute)
                for m in P["text_models"]}
print(f"text results ready in {time.perf_counter() - t0:.1f} s")
tnames = {"minilm": "MiniLM-L6 (fine-tuned)", "bert_medium": "BERT-Medium (from scratch)"}
rows = []
fig, ax = plt.subplots(figsize=(5.5, 3.4))
n_t = P["text_players"]
for m, (params, res) in text_results.items():
    S = res["strength"]
    J = mo.relative_strength(torch.as_tensor(S)).numpy()
    r = bn.order_ratios(np.arange(S.shape[1]), n_t)
    ax.plot(r, J, marker="o", label=tnames[m])
    summ = bn.shape_summary(r, J)
    rows.append({"model": tnames[m], "training sentences": params["n_train"],
                 "epochs": params["epochs"], "train acc": res["train_acc"],
                 "test acc": res["test_acc"], "sentences": len(S),
                 "correct": int(res["correct"].sum()), "mid/low": summ["mid_over_low"],
                 "mid/high": summ["mid_over_high"], "verdict": summ["verdict"],
                 "train time (s)": res["train_time_s"], "games (s)": res["timing"]["exact_s"]})
ax.axvspan(0.3, 0.7, color="0.9", zorder=0)
ax.set_xlabel("order ratio r = m/(n−2)")
ax.set_ylabel(r"$J^{(m)}$")
ax.set_title(f"Rotten Tomatoes, n = {n_t} words, exact", fontsize=10)
ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
text_summary = pd.DataFrame(rows)
text_summary.round(3)

# %% [markdown]
# **Figure A1.5** (paper A, Fig. 1, text): exact $J^{(m)}$ of the text classifiers with 10 words
# as players.

# %%
first = next(iter(text_results.values()))[1]
print("players of the first sentences:")
for words in first["words"][:3]:
    print("  ", " · ".join(words))
rows = []
for m, (params, res) in text_results.items():
    row, Je, Js = bnr.exact_vs_sampled(res, tnames[m])
    rows.append(row)
pd.DataFrame(rows).round(4)

# %% [markdown]
# ## Verdict per model (computed from the numbers above)

# %%
final = [{"model": f"{r['model'].upper()} {r['dataset']}", "players": "12 features, exact",
          "mid/low": r["mid_over_low"], "mid/high": r["mid_over_high"],
          "verdict": r["verdict"]} for r in tab_summary.to_dict("records")]
for (d, m), (params, res) in cnn_results.items():
    last = cnn_summary[(cnn_summary["dataset"] == d) & (cnn_summary["model"] == names[m])
                       & (cnn_summary["epoch"] == res["snapshot_epoch"][-1])]
    for r in last.to_dict("records"):
        final.append({"model": f"{names[m]} {d}", "players": r["players"],
                      "mid/low": r["mid/low"], "mid/high": r["mid/high"],
                      "verdict": r["verdict"]})
for r in text_summary.to_dict("records"):
    final.append({"model": r["model"], "players": f"{n_t} words, exact",
                  "mid/low": r["mid/low"], "mid/high": r["mid/high"], "verdict": r["verdict"]})
verdicts = pd.DataFrame(final)
n_u = int((verdicts["verdict"] == "U-shaped").sum())
n_low = int((verdicts["mid/low"] < 0.8).sum())
print(f"{n_u} of {len(verdicts)} final curves are U-shaped by the rule; "
      f"in {n_low} of {len(verdicts)} the middle orders are below 0.8 × the low-order end.")
init = tab_epochs[tab_epochs["epoch"] == 0]
print(f"At initialisation (epoch 0), {int((init['verdict'] == 'U-shaped').sum())} of "
      f"{len(init)} tabular curves are U-shaped.")
exact_cnn = cnn_summary[cnn_summary["players"].str.endswith("exact")]
print("Exact CNN curves over training (epoch: mid/low, verdict):")
for (d, mname), g in exact_cnn.groupby(["dataset", "model"], sort=False):
    print(f"  {mname} {d}: " + "; ".join(f"{e:.2f}: {v:.2f} {w}" for e, v, w in
                                        zip(g["epoch"], g["mid/low"], g["verdict"])))
verdicts.round(3)

# %% tags=["nbval-check-output"]
# deterministic from the cached results: the verdict of every final curve
print(n_u, n_low, len(verdicts))
print(verdicts["verdict"].tolist())

# %% [markdown]
# ## Reading the results (book scale)
#
# The tables above are computed at the scale this page was executed with; the reading below is
# of the `book`-scale run.
#
# - **Tabular MLPs, exact, $n = 12$.** After training, the middle orders are clearly weaker
#   than the low orders (mid/low ≈ 0.48–0.53 for all four models), but *not* weaker than the
#   highest orders (mid/high ≈ 1.0–1.4): by the rule the trained curves are "falling", not
#   U-shaped. All four randomly initialised MLPs already give a U-shaped curve (mid/low ≈ 0.52,
#   mid/high ≈ 0.65); within 1–3 epochs the high-order end drops to the level of the middle
#   while mid/low stays near 0.5. Training removes the high-order arm rather than creating the
#   bottleneck.
# - **The reference recipe does not change this.** With SGD, weight decay, the log-decayed rate
#   and the best-validation epoch, three of the four MLPs train (test 94–100 %) and their kept
#   curves are again falling (mid/high ≈ 1.1–1.5, mid/low ≈ 0.4–0.6); MLP-8 on wine does not
#   train in 100 epochs at rate 0.01 (test 39 %) and keeps its initial U. The optimiser is not
#   why the tabular curves lack the high-order arm.
# - **The CNNs are weak at this budget.** Test accuracy (1 000 test images): ResNet-20 90.4 %
#   on MNIST (95.3 % after its first epoch; the second epoch at a constant rate lowered it) and
#   74.0 % on Fashion-MNIST; VGG-11 91.1 % / 74.9 %; AlexNet 88.0 % / 70.1 % — below the 97 % /
#   85 % we aimed for. Training took 4–7 min per model on the shared 2-core CPU (2 000–5 000
#   images, 2–3 epochs); more was not affordable. Read the CNN curves as those of
#   partly trained networks.
# - **When does the bottleneck appear? (exact, 3×3 patches, $n = 9$).** It does not appear
#   during training: it is there at initialisation. Every randomly initialised CNN is dominated
#   by the lowest orders (mid/low 0.14–0.51; U-shaped for VGG-11 and AlexNet, "falling" for
#   ResNet-20). Training then *fills* the middle: ResNet-20's mid/low goes 0.14 → 0.26 → 0.33 →
#   0.83 → 1.00 → 0.88 on MNIST (epochs 0, 0.06, 0.25, 0.5, 1, 2) and 0.16 → 0.63 → 1.07 → 0.61
#   → 0.47 → 0.85 on Fashion-MNIST, ending "rising" (mid/high ≈ 0.70: the highest orders are the
#   strongest). VGG-11 and AlexNet end with mid/low 0.62–0.91 and mid/high 0.94–1.13 ("falling"
#   or "flat"). No trained CNN is U-shaped on 9 patches.
# - **Sampled, 8×8 patches ($n = 64$).** On the finer grid the middle orders of every trained
#   CNN are far below the low orders (mid/low 0.20–0.44); by the rule two of the six curves are
#   U-shaped (VGG-11 MNIST, ResNet-20 Fashion-MNIST) and four "falling". The budget (1 image,
#   8 pairs, 8 contexts, against 50 images, 200 pairs, 100 contexts in the reference) leaves a
#   noise floor of 32–92 % of the sampled middle-order strength, so those middle values are
#   mostly sampling noise and overestimate the middle: a cleaner estimate would put it lower, not
#   higher. With many players ($n = 64$) the middle is much weaker than with 9, as contextual
#   variability predicts (the number of contexts, $\binom{n-2}{m}$, grows with $n$).
# - **Exact vs sampled agree** where both apply (same model, same players): identical at
#   $m = 0$ and $m = n-2$ (single context; differences ≤ 1e-13), correlation ≥ 0.995 between
#   sampled and exact $I^{(m)}(i,j)$, z-scores with mean within ±0.05 and sd 1.00–1.03 (≈ 95 %
#   within ±2), and $J$ curves within 0.031 of each other (50 pairs × 100 contexts per sample) —
#   for the MLPs, the six CNNs and the two text models alike.
# - **Text, exact, $n = 10$ words.** MiniLM-L6 fine-tuned for one epoch on the 8 454 training
#   sentences reaches 85.5 % test accuracy (47 min of training); on 4 sentences (all correctly
#   classified) its curve is "rising": mid/low ≈ 1.04, mid/high ≈ 0.68 — no bottleneck; the
#   highest orders are the strongest. **BERT-Medium from scratch learned nothing**: 48.4 % test
#   accuracy (chance) after one epoch on 2 000 sentences (29 min); its flat curve (mid/low ≈ 1.00,
#   mid/high ≈ 0.99) is that of an untrained network and says nothing about the claim.
# - **Overall:** 2 of 18 final curves are U-shaped by the rule; the middle is below 0.8 × the
#   low end in 12 of 18 (the 4 MLPs, the 6 sampled CNN curves, and 2 of the 6 exact CNN curves).
#   The paper's U is **not reproduced** at this scale. What is robust is a weak middle relative
#   to the low orders in the MLPs and in the 64-patch CNN curves; it is present at initialisation
#   and training weakens it (CNNs) or keeps it (MLPs) rather than creating it.

# %%
for key, (params, res) in (list(tab_results.items())[:1] + list(cnn_results.items())[:1]
                           + list(text_results.items())[:1]):
    show_provenance(load_provenance(params["experiment"], params))
