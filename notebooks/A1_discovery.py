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
#
# **Claim (paper A, after Deng et al. ICLR 2022).** DNNs encode low-order and high-order
# interactions easily but under-represent middle-order ones: the relative strength $J^{(m)}$,
# plotted over the order ratio $m/n$, is U-shaped.
#
# **What is measured** (SPEC §3). For a pair of players $(i, j)$ and a context
# $S \subseteq N\setminus\{i,j\}$ of size $m$,
# $\Delta v(i,j,S) = v(S\cup\{i,j\}) - v(S\cup\{i\}) - v(S\cup\{j\}) + v(S)$ and
# $I^{(m)}(i,j) = \mathbb{E}_{|S|=m}\,\Delta v(i,j,S)$. The strength of order $m$ on a sample is
# $S^{(m)}(x) = \mathbb{E}_{i,j}|I^{(m)}(i,j\,|\,x)|$ and
# $J^{(m)} = \mathbb{E}_x S^{(m)}(x) / \mathbb{E}_{m'}\mathbb{E}_x S^{(m')}(x)$.
# The reward is the log-odds of the true label, $v = \log p(y|x)/(1-p(y|x))$ (SPEC §1). The
# x-axis of every plot is the order ratio $r = m/(n-2) \in [0, 1]$ (the reference protocol's
# $m = \lfloor (n-2) r \rfloor$).
#
# **Models and players.**
# - MLP-5 and MLP-8 (100-unit hidden layers) on two scikit-learn tables with $n = 12$ players
#   (features), computed **exactly** from the $2^{12}$ values of each sample: *wine* (13 features;
#   the 12 first are used — `proline` is dropped so that every input feature is a player) and
#   *breast cancer* (30 features; the 12 first are used: the ten "mean" features plus radius and
#   texture error). Masked features take the training mean (0 after standardisation).
# - ResNet-20 on MNIST and Fashion-MNIST with input patches as players (baseline 0 = the mean
#   pixel after standardisation): **exact** on a 3×4 grid ($n = 12$) and the reference
#   **sampled** protocol on an 8×8 grid ($n = 64$; pairs with $j$ among the 24 grid neighbours of
#   $i$, random contexts, $|\cdot|$ taken after averaging contexts).
#
# **Deviation for CPU budgets.** At `book` scale the images are down-sampled to 16×16 and the
# CNNs are trained on a few thousand images for two epochs, and the sampled protocol uses far
# fewer images, pairs and contexts than the reference (50 images, 200 pairs, 100 contexts). The
# `paper` scale restores 28-px inputs, the full training set and the reference protocol (it
# needs a GPU).
#
# **Verdict rule** (computed, `ibn.experiments.bottleneck.shape_summary`): $J_{\text{low}}$ =
# mean $J$ over $r \le 0.1$, $J_{\text{high}}$ over $r \ge 0.9$, $J_{\text{mid}}$ over
# $0.3 \le r \le 0.7$; an end is *above* the middle when $J_{\text{mid}} < 0.8\,J_{\text{end}}$.
# "U-shaped" needs both ends above the middle; "falling" means only the low end is.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
seed = 0
recompute = False

# %%
import time
import warnings

from tqdm import TqdmWarning

warnings.filterwarnings("ignore", category=TqdmWarning)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ibn import multiorder as mo
from ibn.book import scale_params, show_provenance
from ibn.data import load_tabular
from ibn.experiments import bottleneck as bn
from ibn.maskers import PatchMasker, TabularMasker
from ibn.models import build
from ibn.results import cached, load_provenance

torch.set_num_threads(2)
P = scale_params(scale, {
    "smoke": {"tab_sets": ["wine"], "tab_models": ["mlp5"], "tab_epochs": 1,
              "tab_snapshots": [0, 1], "tab_per_class": 2, "agree_pairs": 10,
              "agree_contexts": 20, "cnn_sets": []},
    "book": {"tab_sets": ["wine", "breast_cancer"], "tab_models": ["mlp5", "mlp8"],
             "tab_epochs": 100, "tab_snapshots": [0, 1, 3, 10, 30, 100], "tab_per_class": 8,
             "agree_pairs": 50, "agree_contexts": 100,
             "cnn_sets": ["mnist", "fashion-mnist"], "cnn_size": 16, "cnn_train": 3000,
             "cnn_test": 1000, "cnn_epochs": 2, "cnn_snapshots": [0, 1, 2], "cnn_exact": 4,
             "cnn_sampled": 3, "cnn_grid": 8, "cnn_pairs": 16, "cnn_contexts": 16},
    "paper": {"tab_sets": ["wine", "breast_cancer"], "tab_models": ["mlp5", "mlp8"],
              "tab_epochs": 300, "tab_snapshots": [0, 1, 3, 10, 30, 100, 300],
              "tab_per_class": 20, "agree_pairs": 200, "agree_contexts": 100,
              "cnn_sets": ["mnist", "fashion-mnist"], "cnn_size": 28, "cnn_train": None,
              "cnn_test": None, "cnn_epochs": 10, "cnn_snapshots": [0, 1, 3, 10],
              "cnn_exact": 10, "cnn_sampled": 50, "cnn_grid": 8, "cnn_pairs": 200,
              "cnn_contexts": 100},
})
P

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
def run_tabular(dataset, model_name):
    params = {"experiment": "A1_tabular", "dataset": dataset, "model": model_name,
              "features": list(range(12)), "epochs": P["tab_epochs"],
              "snapshots": P["tab_snapshots"], "per_class": P["tab_per_class"],
              "optimizer": "adam", "lr": 1e-3, "batch_size": 32, "seed": seed,
              "agree_pairs": P["agree_pairs"], "agree_contexts": P["agree_contexts"],
              "scale": scale, "version": 1}

    def compute():
        tab = bn.select_features(load_tabular(dataset, seed=seed), params["features"])
        model = build(model_name, in_features=12, num_classes=tab.n_classes, seed=seed)
        hist, snaps = bn.train_snapshots(
            model, (tab.x_train, tab.y_train), test_set=(tab.x_test, tab.y_test),
            epochs=params["epochs"], batch_size=32, optimizer="adam", lr=1e-3, seed=seed,
            snapshot_epochs=params["snapshots"], device="cpu")
        masker = TabularMasker(torch.zeros(12))
        idx = bn.pick_samples(model, tab.x_test, tab.y_test, per_class=params["per_class"],
                              seed=seed)
        xs, ys = tab.x_test[idx], tab.y_test[idx]
        out = {"epochs": np.array(sorted(snaps)), "sample_index": idx.numpy(),
               "train_loss": np.array([r["train_loss"] for r in hist.records]),
               "train_acc": np.array([r["train_acc"] for r in hist.records]),
               "test_acc": np.array([r["test_acc"] for r in hist.records])}
        strengths = []
        for e in sorted(snaps):
            model.load_state_dict(snaps[e])
            values = bn.game_values(model, xs, ys, masker)
            strengths.append(bn.exact_profile(values)["strength"])
        out["strength"] = np.stack(strengths)  # (snapshots, samples, n−1)
        # exact vs sampled on the final model (values of the last snapshot)
        samp = bn.sampled_from_values(values, n_pairs=params["agree_pairs"],
                                      contexts=params["agree_contexts"], seed=seed)
        inter = mo.exact(values).numpy()
        k = np.arange(len(ys))[:, None, None]
        pr = samp["pairs"]
        out["agree_exact"] = inter[k, samp["orders"][None, None, :], pr[..., 0:1], pr[..., 1:2]]
        for key in ("orders", "strength", "mean", "sem", "pairs"):
            out[f"agree_{key}"] = samp[key]
        return out

    return params, cached("A1_tabular", params, compute, recompute=recompute)


t0 = time.perf_counter()
tab_results = {(d, m): run_tabular(d, m) for d in P["tab_sets"] for m in P["tab_models"]}
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
    ax.set_ylabel("J(m)")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
tab_summary = pd.DataFrame(rows)
tab_summary.round(3)

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
    ax.set_ylabel("J(m)")
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
tab_epochs = pd.DataFrame(rows)
tab_epochs.round(3)

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
def agreement(res, label):
    mean, sem, ex = res["agree_mean"], res["agree_sem"], res["agree_exact"]
    single = sem == 0
    z = (mean[~single] - ex[~single]) / sem[~single]
    ex_strength = np.abs(ex).mean(1)  # (samples, K): exact |I| on the sampled pairs
    Je = ex_strength.mean(0) / ex_strength.mean()
    Js = res["agree_strength"].mean(0) / res["agree_strength"].mean()
    return {"model": label, "pairs × orders": int(mean.shape[1] * mean.shape[2]),
            "max |diff| (single context)": float(np.abs(mean[single] - ex[single]).max())
            if single.any() else np.nan,
            "corr(sampled, exact)": float(np.corrcoef(mean.ravel(), ex.ravel())[0, 1]),
            "mean z": float(z.mean()), "sd z": float(z.std()),
            "share |z| < 2": float((np.abs(z) < 2).mean()),
            "max |J_sampled − J_exact|": float(np.abs(Js - Je).max())}, Je, Js


rows = []
for (d, m), (params, res) in tab_results.items():
    row, Je, Js = agreement(res, f"{m.upper()} {d}")
    rows.append(row)
pd.DataFrame(rows).round(4)

# %% [markdown]
# ## ResNet-20 on MNIST and Fashion-MNIST: input patches as players
#
# ResNet-20 (Adam, learning rate $2\cdot 10^{-3}$, batch 128) is trained on a seeded subset of the
# training images; weights are kept after the epochs in `cnn_snapshots`. The images are
# correctly classified test images, one per class (the first `cnn_exact` classes for the exact
# curves, the first `cnn_sampled` for the 8×8 protocol).

# %%
def run_cnn(dataset):
    params = {"experiment": "A1_cnn", "dataset": dataset, "model": "resnet20",
              "size": P["cnn_size"], "n_train": P["cnn_train"], "n_test": P["cnn_test"],
              "epochs": P["cnn_epochs"], "snapshots": P["cnn_snapshots"],
              "optimizer": "adam", "lr": 2e-3, "batch_size": 128, "seed": seed,
              "exact_grid": [3, 4], "n_exact": P["cnn_exact"], "n_sampled": P["cnn_sampled"],
              "grid": P["cnn_grid"], "pairs": P["cnn_pairs"], "contexts": P["cnn_contexts"],
              "agree_pairs": P["agree_pairs"], "agree_contexts": P["agree_contexts"],
              "scale": scale, "version": 1}

    def compute():
        timing = {}
        t = time.perf_counter()
        data = bn.image_data(dataset, size=params["size"], n_train=params["n_train"],
                             n_test=params["n_test"], seed=seed)
        model = build("resnet20", in_channels=1, num_classes=10, seed=seed)
        hist, snaps = bn.train_snapshots(
            model, (data["x_train"], data["y_train"]),
            test_set=(data["x_test"], data["y_test"]), epochs=params["epochs"],
            batch_size=128, optimizer="adam", lr=2e-3, seed=seed,
            snapshot_epochs=params["snapshots"], device="cpu")
        timing["train_s"] = time.perf_counter() - t
        idx = bn.pick_samples(model, data["x_test"], data["y_test"], per_class=1, seed=seed)
        xs, ys = data["x_test"][idx], data["y_test"][idx]
        masker = PatchMasker(grid=(3, 4), baseline=0.0, batch_size=1024)
        out = {"epochs": np.array(sorted(snaps)), "sample_index": idx.numpy(),
               "train_loss": np.array([r["train_loss"] for r in hist.records]),
               "test_acc": np.array([r["test_acc"] for r in hist.records])}
        t = time.perf_counter()
        strengths = []
        ne = params["n_exact"]
        for e in sorted(snaps):
            model.load_state_dict(snaps[e])
            values = bn.game_values(model, xs[:ne], ys[:ne], masker)
            strengths.append(bn.exact_profile(values)["strength"])
        out["strength"] = np.stack(strengths)
        timing["exact_s"] = time.perf_counter() - t
        samp = bn.sampled_from_values(values, grid=(3, 4), n_pairs=params["agree_pairs"],
                                      contexts=params["agree_contexts"], seed=seed)
        inter = mo.exact(values).numpy()
        k = np.arange(ne)[:, None, None]
        pr = samp["pairs"]
        out["agree_exact"] = inter[k, samp["orders"][None, None, :], pr[..., 0:1], pr[..., 1:2]]
        for key in ("orders", "strength", "mean", "sem", "pairs"):
            out[f"agree_{key}"] = samp[key]
        t = time.perf_counter()
        g = params["grid"]
        fine = PatchMasker(grid=(g, g), baseline=0.0, batch_size=1024)
        ns = params["n_sampled"]
        big = bn.sampled_profile(model, xs[:ns], ys[:ns], fine, grid=(g, g),
                                 n_pairs=params["pairs"], contexts=params["contexts"], seed=seed)
        timing["sampled_s"] = time.perf_counter() - t
        for key in ("orders", "ratios", "strength", "sem", "mean"):
            out[f"fine_{key}"] = big[key]
        out["timing"] = timing
        return out

    return params, cached("A1_cnn", params, compute, recompute=recompute)


t0 = time.perf_counter()
cnn_results = {d: run_cnn(d) for d in P.get("cnn_sets", [])}
print(f"CNN results ready in {time.perf_counter() - t0:.1f} s"
      + ("" if cnn_results else " (no CNN at this scale)"))
for d, (params, res) in cnn_results.items():
    print(f"{d}: test accuracy after each epoch {np.round(res['test_acc'], 4).tolist()}, "
          f"timings {({k: round(v, 1) for k, v in res['timing'].items()})}")

# %% [markdown]
# ### Exact $J^{(m)}$ on the 3×4 grid, over training, and the sampled 8×8 protocol
#
# Left of each row: the exact curve (12 patches) after each kept epoch. Right: the sampled
# protocol on the 8×8 grid of the final model, with the *noise floor* of the sampled strength —
# the value $\mathbb{E}|\bar X|$ that pure sampling noise would give,
# $\sqrt{2/\pi}\cdot\text{sem}$ averaged over pairs — relative to the same normaliser. Where the
# sampled strength is close to its noise floor, the estimate of that order is dominated by the
# noise of averaging `cnn_contexts` contexts.

# %%
rows = []
if cnn_results:
    fig, axes = plt.subplots(len(cnn_results), 2, figsize=(10, 3.4 * len(cnn_results)),
                             squeeze=False)
    for k, (d, (params, res)) in enumerate(cnn_results.items()):
        ax = axes[k, 0]
        cmap = plt.get_cmap("viridis")
        for s, e in enumerate(res["epochs"]):
            J = mo.relative_strength(torch.as_tensor(res["strength"][s])).numpy()
            r = bn.order_ratios(np.arange(len(J)), 12)
            ax.plot(r, J, marker=".", color=cmap(s / max(len(res["epochs"]) - 1, 1)),
                    label=f"epoch {e}")
            summ = bn.shape_summary(r, J)
            rows.append({"dataset": d, "players": "3×4 exact", "epoch": int(e),
                         "test acc": res["test_acc"][e - 1] if e else np.nan,
                         "mid/low": summ["mid_over_low"], "mid/high": summ["mid_over_high"],
                         "verdict": summ["verdict"]})
        ax.set_title(f"ResNet-20 {d}: exact, 3×4 patches", fontsize=10)
        ax.set_xlabel("order ratio r")
        ax.set_ylabel("J(m)")
        ax.legend(fontsize=7)
        ax = axes[k, 1]
        S = res["fine_strength"]
        norm = S.mean()
        floor = (np.sqrt(2 / np.pi) * res["fine_sem"]).mean(1).mean(0) / norm
        Jf = S.mean(0) / norm
        r = res["fine_ratios"]
        ax.plot(r, Jf, marker="o", label="sampled J(m)")
        ax.plot(r, floor, ls="--", color="0.4", label="noise floor")
        ax.set_title(f"{d}: sampled, {params['grid']}×{params['grid']} patches "
                     f"({len(S)} images, {params['pairs']} pairs, {params['contexts']} contexts)",
                     fontsize=9)
        ax.set_xlabel("order ratio r")
        ax.legend(fontsize=7)
        summ = bn.shape_summary(r, Jf)
        rows.append({"dataset": d, "players": f"{params['grid']}×{params['grid']} sampled",
                     "epoch": int(res["epochs"][-1]), "test acc": res["test_acc"][-1],
                     "mid/low": summ["mid_over_low"], "mid/high": summ["mid_over_high"],
                     "verdict": summ["verdict"],
                     "mid noise floor / mid J": float(np.mean(floor[(r >= 0.3) & (r <= 0.7)])
                                                      / summ["J_mid"])})
    fig.tight_layout()
    plt.show()
cnn_summary = pd.DataFrame(rows)
cnn_summary.round(3)

# %% [markdown]
# ### Exact vs sampled on the CNN (3×4 grid, grid-neighbour pairs)

# %%
rows = []
for d, (params, res) in cnn_results.items():
    row, Je, Js = agreement(res, f"ResNet-20 {d}")
    rows.append(row)
pd.DataFrame(rows).round(4) if rows else "no CNN at this scale"

# %% [markdown]
# ## Verdict per model (computed from the numbers above)

# %%
final = [{"model": f"{r['model'].upper()} {r['dataset']}", "players": "12 features, exact",
          "mid/low": r["mid_over_low"], "mid/high": r["mid_over_high"],
          "verdict": r["verdict"]} for r in tab_summary.to_dict("records")]
for r in cnn_summary.to_dict("records"):
    if r["epoch"] == max(P.get("cnn_snapshots", [0])):
        final.append({"model": f"ResNet-20 {r['dataset']}", "players": r["players"],
                      "mid/low": r["mid/low"], "mid/high": r["mid/high"],
                      "verdict": r["verdict"]})
verdicts = pd.DataFrame(final)
n_u = int((verdicts["verdict"] == "U-shaped").sum())
n_low = int((verdicts["mid/low"] < 0.8).sum())
print(f"{n_u} of {len(verdicts)} final curves are U-shaped by the rule; "
      f"in {n_low} of {len(verdicts)} the middle orders are below 0.8 × the low-order end.")
init = tab_epochs[tab_epochs["epoch"] == 0]
print(f"At initialisation (epoch 0), {int((init['verdict'] == 'U-shaped').sum())} of "
      f"{len(init)} tabular curves are U-shaped.")
verdicts.round(3)

# %% [markdown]
# ## Reading the results (book scale)
#
# The tables above are computed at the scale this page was executed with; the reading below is
# of the `book`-scale run.
#
# - **Tabular MLPs, exact, $n = 12$.** After training, the middle orders are clearly weaker
#   than the low orders (mid/low ≈ 0.48–0.53 for all four models), but *not* weaker than the
#   highest orders (mid/high ≈ 1.0–1.4): by the rule the trained curves are "falling", not
#   U-shaped. The high-order arm of the paper's U is what we do not see in these MLPs.
# - **Over training (MLPs).** All four randomly initialised MLPs already give a U-shaped curve
#   (mid/low ≈ 0.52, mid/high ≈ 0.65). Within the first 1–3 epochs the high-order end drops to
#   the level of the middle or below (mid/high > 1) and stays around or above it, while
#   mid/low remains near 0.5 apart from transients. So the weak middle relative to the low
#   orders is present from initialisation and survives training; training removes the high-order arm rather than
#   creating the bottleneck.
# - **ResNet-20, exact on 3×4 patches.** At initialisation the curve is dominated by the lowest
#   orders (mid/low ≈ 0.2). After two epochs it is a shallow bowl, both ends above the middle:
#   mid/low ≈ 0.69 (MNIST) and 0.54 (Fashion-MNIST), mid/high ≈ 0.85 and 0.75 — U-shaped by the
#   rule for Fashion-MNIST, just short of the 0.8 margin for MNIST. **Sampled on 8×8 patches**
#   ($n = 64$) the same models give mid/low ≈ 0.50 / 0.41 and mid/high ≈ 0.82 / 0.56 (Fashion-MNIST
#   U-shaped, MNIST again just short of the margin) — but at this budget (3 images, 16 pairs,
#   16 contexts) the noise floor is 40–65 % of the sampled middle-order strength, so those values
#   are inflated by sampling noise; a cleaner estimate would put the middle lower, not higher.
#   These CNNs are weak (92 % / 79 % test accuracy after 2 epochs on 3 000 16-px images), so the
#   image curves are indicative only.
# - **Exact vs sampled agree** where both apply: identical at $m = 0$ and $m = n-2$ (single
#   context), correlation ≥ 0.995 between sampled and exact $I^{(m)}(i,j)$, z-scores with mean
#   ≈ 0 and sd 1.02–1.04 (≈ 95 % within ±2), and $J$ curves within 0.03 of each other (100
#   contexts, 50 pairs per sample).
# - **Overall:** the middle orders are under-represented relative to the low orders in every
#   trained model here (8 of 8 curves); a full U with a strong high-order arm appears only for the
#   CNN on Fashion-MNIST, and weakly for MNIST, not for the tabular MLPs.

# %%
for key, (params, res) in list(tab_results.items())[:1] + list(cnn_results.items())[:1]:
    show_provenance(load_provenance(params["experiment"], params))
