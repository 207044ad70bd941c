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
# # Paper B, Fig. 6: the AND-OR logical model of a language model
#
# Paper B shows that a large language model's next-token prediction on a prompt can be rewritten
# as a small logical model: a bias plus a few AND and OR interactions between the prompt's words
# that reproduce the model's output on every masked prompt. At `book` scale this chapter judges
# the claim on SmolLM2-135M-Instruct (the paper uses larger LLMs) with four prompts of the
# paper's kind but not its own, $n = 8$ words per prompt.
#
# The box below is the verdict; the evidence follows.

# %% tags=["parameters"]
scale = "smoke"  # smoke | book | paper
n_players = None  # override the preset's number of players

# %% tags=["remove-input"]
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import papers
from ibn.book import scale_params, show_provenance
from papers import claims_b_chapters as CC
from papers import llm as L
from papers import verdicts as V

papers.setup(scale)
t_start = time.perf_counter()
PROMPTS = {
    "factual (paper-like)": {
        "text": "The Eiffel Tower, the famous iron landmark built for the World Fair, stands in "
                "the capital city of",
        "target": " Paris",
        "players": ["Eiffel", "Tower", "capital", "city", "landmark", "famous", "iron", "built",
                    "World", "Fair"]},
    "sentiment (paper-like)": {
        "text": "I watched this movie last night: the acting was wonderful, the story moving, and "
                "overall it was truly",
        "target": " amazing",
        "players": ["wonderful", "movie", "acting", "moving", "story", "truly", "overall",
                    "watched", "night", "last"]},
    "factual (ours)": {
        "text": "Japan is a large island country in East Asia, and its famous capital and largest "
                "city is",
        "target": " Tokyo",
        "players": ["Japan", "capital", "city", "largest", "island", "Asia", "East", "country",
                    "large", "famous"]},
    "arithmetic (ours)": {
        "text": "Tom has three red apples and Mary gives him two more apples, so now Tom has a "
                "total of",
        "target": " five",
        "players": ["three", "two", "total", "apples", "apples", "Tom", "Mary", "gives", "red",
                    "more"]},
}
PRESETS = {
    "smoke": {"n_players": 4, "prompts": ["factual (paper-like)", "sentiment (paper-like)"],
              "n_check": 16, "top": 8},
    "book": {"n_players": 8, "prompts": list(PROMPTS), "n_check": 48, "top": 12},
    "paper": {"n_players": 10, "prompts": list(PROMPTS), "n_check": 128, "top": 15},
}
params = scale_params(scale, PRESETS, n_players=n_players)
runs = {name: L.run_prompt(PROMPTS[name], n_players=params["n_players"],
                           n_check=params["n_check"], scale=scale)
        for name in params["prompts"]}
judged = {name: CC.judge_fig6(r) for name, r in runs.items()}
ctl = CC.fig6_control(params["n_players"])
setups = {name: CC.fig6_setup(name, PROMPTS[name], r, n_players=params["n_players"],
                              n_check=params["n_check"]) for name, r in runs.items()}
verdicts = CC.fig6_records(judged, ctl, setups, scale=scale, chapter="notebooks/B6_llm_logic.py")
path = V.write(verdicts, elapsed_s=time.perf_counter() - t_start)
V.header(verdicts,
         departures=("SmolLM2-135M-Instruct (the paper uses larger LLMs), four prompts of the paper's "
                     'kind but not its own, n = 8 words per prompt.'),
         reading=('Per prompt, the few strongest AND and OR patterns of the logical model and how '
                  'much of the output over all masked prompts they reproduce.'))

# %% [markdown]
# ## Setup
#
# The **logical model** of a prompt is a bias plus AND and OR interactions between its words
# ({ref}`Conventions: AND-OR interactions <conventions-and-or>`),
#
# $$h(x_T) = b + \sum_{\emptyset\neq S\subseteq T} I^{\text{AND}}_S
#   + \sum_{S\cap T\neq\emptyset} I^{\text{OR}}_S ,$$
#
# which reproduces the model's output $v(x_T) - \delta_T$ on **every** masked prompt $x_T$
# (universal matching; $|\delta_T| \le \zeta = 0.02\,|v(x_N)-v(x_\emptyset)|$).
#
# **Setup.** The LM is SmolLM2-135M-Instruct (the only LM available offline here; the paper
# uses larger LLMs). Players are $n$ content words of a prompt; the value is the log-odds of a
# target next token, $v = \log p(y^*)/(1-p(y^*))$ ({ref}`Conventions: notation <conventions-notation>`). The sparsest AND-OR decomposition
# (eq. 17) is the exact linear-programming optimum.
#
# **Masking (a decision of this project).** SmolLM2 has no [MASK] token, so a masked word is
# **removed** from the prompt: the LM reads the prompt without that word. Any replacement token
# would be a word with its own meaning that would interact with the remaining words (and a
# causal LM never saw [MASK]-like placeholders in training); removal is the closest a causal LM
# comes to "this word is absent". Words that are not players (stop words, punctuation) always
# stay.
#
# **Prompts.** We could not find the paper's two prompts in the offline sources, so we use
# prompts of the same kind — a factual completion and a sentiment completion — plus two of our
# own (a second factual one and a small arithmetic "reasoning" one). The player words are
# listed per prompt, most important first; the first $n$ are used.
#
# Reading the figure: each bar is one salient interaction (|I_S| > τ, τ = 0.02·|v(x_N) −
# v(x_∅)|), labelled with its words: "a ∧ b" = AND (blue, it fires only when all its words are
# present), "a ∨ b" = OR (orange, it fires when any of its words is present).
#
# The prompts and the setting of this run:

# %% tags=["remove-input"]
pd.set_option("display.max_colwidth", None)
pd.DataFrame([{"prompt": name, **PROMPTS[name]} for name in params["prompts"]]).set_index("prompt")

# %% tags=["remove-input"]
params

# %% [markdown]
# ## Values of all $2^n$ masked prompts and their AND-OR decomposition
#
# Cached under `data/results/B6_llm/` (the LM is loaded only when a result is missing).

# %%
rows = []
for name, r in runs.items():
    v = r["values"]
    tau = 0.02 * float(abs(v[-1] - v[0]))
    pats = L.salient_patterns(r["and_effects"], r["or_effects"], tau)
    rows.append({"prompt": name, "target": repr(PROMPTS[name]["target"]),
                 "p(target | full prompt)": round(r["p_target"], 3),
                 "LM's top-5": ", ".join(repr(t) for t in r["top5"]),
                 "v(x_N)": round(float(v[-1]), 3), "v(x_∅)": round(float(v[0]), 3),
                 "salient AND": sum(p["kind"] == "AND" for p in pats),
                 "salient OR": sum(p["kind"] == "OR" for p in pats),
                 "possible": 2 * (2 ** len(r["players"]) - 1),
                 "extractor": r["extractor"]})
pd.DataFrame(rows)

# %% [markdown]
# Players of each prompt (player $i$ = bit $i$, in sentence order) and one masked prompt
# (every other player removed) as the LM reads it:

# %%
for name, r in runs.items():
    print(f"{name}: players {r['players']}")
    print(f"    example x_T: {r['masked_example']!r}")

# %% [markdown]
# ## The logical models (Fig. 6)
#
# The most salient AND and OR patterns of each prompt, largest |I_S| first; the bias
# $b = v(x_\emptyset)$ is in the title.

# %%
fig, axes = plt.subplots(len(runs), 1, figsize=(7.2, 3.4 * len(runs)), squeeze=False)
colors = {"AND": "tab:blue", "OR": "tab:orange"}
pattern_rows = []
for ax, (name, r) in zip(axes.flat, runs.items()):
    v = r["values"]
    tau = 0.02 * float(abs(v[-1] - v[0]))
    pats = L.salient_patterns(r["and_effects"], r["or_effects"], tau, top=params["top"])
    labels = [L.pattern_label(p["mask"], r["players"], p["kind"]) for p in pats]
    y = np.arange(len(pats))[::-1]
    ax.barh(y, [p["effect"] for p in pats], color=[colors[p["kind"]] for p in pats])
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("interaction effect $I_S$ (log-odds)", fontsize=10)
    ax.tick_params(axis="x", labelsize=9)
    ax.set_title(f"{name}: next token {PROMPTS[name]['target']!r}\n"
                 f"$b = v(x_\\emptyset) = {float(v[0]):.2f}$, $v(x_N) = {float(v[-1]):.2f}$",
                 fontsize=10)
    for p, lab in zip(pats, labels):
        pattern_rows.append({"prompt": name, "kind": p["kind"], "pattern": lab,
                             "order": bin(p["mask"]).count("1"), "effect": round(p["effect"], 3)})
for ax in list(axes.flat)[len(runs):]:
    ax.axis("off")
handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
fig.legend(handles, ["AND (all words present)", "OR (any word present)"], loc="lower center",
           ncol=2, fontsize=10)
fig.tight_layout(rect=(0, 0.025, 1, 1))
plt.show()

# %% [markdown]
# **Figure B6.1** (paper B, Fig. 6): the AND-OR logical model of the language model's
# log-odds of the expected next token, one panel per prompt: its most salient AND patterns
# (blue: the words must all be present) and OR patterns (orange: any one of them suffices),
# with their effects. The same patterns as a table:

# %%
pd.set_option("display.max_rows", 200)
pd.set_option("display.max_colwidth", None)
pd.DataFrame(pattern_rows).set_index(["prompt", "kind"])

# %% [markdown]
# ## Universal matching on random masked prompts
#
# For random coalitions $T$ (each word kept with probability ½) the LM is run **again** (fresh
# forward passes, other batch sizes) and compared with the logical model's prediction
# $h(x_T)$: `err h vs v−δ` = max |h(x_T) − (v(x_T) − δ_T)|, `err h vs v` = max |h(x_T) − v(x_T)|
# (bounded by ζ), `rerun noise` = max |v_fresh − v_first| (float32 batch effects of the LM).

# %%
match_rows = []
for name, r in runs.items():
    rep = L.matching_report(r)
    match_rows.append({"prompt": name, "masks checked": len(r["check_values"]), **rep})
match = pd.DataFrame(match_rows)
match

# %% [markdown]
# ## How much of the output do the top-$k$ patterns explain?
#
# Keeping only the bias and the $k$ interactions with the largest |I_S|, $h_k(x_T)$ is compared
# with $v(x_T)$ over all $2^n$ masked prompts: $R^2 = 1 - \sum_T (v_T - h_k(T))^2 /
# \sum_T (v_T - \bar v)^2$.

# %%
n = params["n_players"]
ks = sorted({1, 2, 3, 5, 8, 12, 20, 30, 50, 2 * (2 ** n - 1)})
ks = [k for k in ks if k <= 2 * (2 ** n - 1)]
exp_rows = []
for name, r in runs.items():
    for row in L.topk_explained(r["values"], r["and_effects"], r["or_effects"], ks):
        exp_rows.append({"prompt": name, **row})
explained = pd.DataFrame(exp_rows)
# the axis stops at R² = -0.5 (or the lowest value, if higher): far below it a truncated model
# is simply wrong, and the interesting part is the approach to the 0.9 threshold
floor = max(float(explained["r2"].min()), -0.5)
fig, ax = plt.subplots(figsize=(7.2, 3.8))
for name, grp in explained.groupby("prompt", sort=False):
    line, = ax.plot(grp["k"], grp["r2"].clip(lower=floor), "o-", label=name)
    low = grp[grp["r2"] < floor]
    ax.plot(low["k"], [floor] * len(low), "v", ms=8, color=line.get_color())
ax.set_xscale("log")
ax.set_ylim(floor - 0.05, 1.05)
ax.set_xlabel("k (most salient interactions kept)", fontsize=10)
ax.set_ylabel("$R^2$ of $h_k$ vs $v$ over all $2^n$ masks", fontsize=10)
ax.tick_params(labelsize=9)
ax.axhline(0.9, color="gray", ls="--", lw=1)
ax.text(ax.get_xlim()[0] * 1.1, 0.92, "$R^2 = 0.9$", color="gray", fontsize=9, va="bottom")
if (explained["r2"] < floor).any():
    ax.set_title(f"▼: $R^2$ below {floor:g} (lowest {explained['r2'].min():.1f}), drawn at "
                 "the bottom of the axis", fontsize=9, loc="left")
ax.legend(fontsize=9, loc="center right")
fig.tight_layout()
plt.show()
explained.pivot(index="k", columns="prompt", values="r2").round(4)

# %% [markdown]
# **Figure B6.2**: how much of the LM's output the bias and the $k$ most salient interactions
# explain ($R^2$ over all $2^n$ masked prompts; dashed line: the 0.9 of the verdict rule). The
# axis is cut at $R^2 = -0.5$; the table gives every value.

# %% [markdown]
# ## The rule and its control
#
# Paper B's claim behind Fig. 6: the LM's output on all masked prompts is explained by a
# **sparse** set of AND-OR patterns (universal matching with few salient interactions). Rule
# (fixed in code, `papers.claims_b_chapters.judge_fig6`): a prompt passes when universal
# matching holds up to the LM's re-run noise **and** the $k$ most salient interactions reach
# $R^2 \ge 0.9$ with $k$ at most 10 % of the $2(2^n-1)$ possible ones. (With very few players —
# the smoke scale's $n = 4$ — 10 % is 3 interactions and the rule is too strict to be
# informative.) For comparison, the same count for the AND-only (Harsanyi) explanation
# $I^{\text{AND}} = \text{mobius}(v)$, which has no noise term and no OR patterns. The control
# runs the same extraction and rule on a game that is a sparse logical model by construction
# (a bias, 3 AND and 3 OR interactions of orders 1–3, plus i.i.d. value noise of sd
# $0.005\,|v(x_N) - v(x_\emptyset)|$), with $n$ players as the prompts.

# %%
pd.DataFrame([{"case": name, "universal matching": j["matched"],
               "k for R² ≥ 0.9 (AND-OR)": j["k90"], "k (AND only)": j["k90_and"],
               "of possible": j["possible"], "sparse (k ≤ 10%)": j["sparse"],
               "passes": j["passed"]}
              for name, j in [*judged.items(), ("control: planted sparse model", ctl)]]
             ).set_index("case")

# %% [markdown]
# How to read these numbers: the $R^2$ of a truncated model is not monotone in $k$, because the
# sparsest decomposition often pairs large effects of opposite signs (for instance an OR pattern
# and an AND pattern over overlapping words) that cancel on most masked prompts; keeping one of
# them without the other overshoots. A prompt whose log-odds barely moves between $x_\emptyset$
# and $x_N$ (small $|v(x_N) - v(x_\emptyset)|$, hence a small τ) has many salient interactions
# relative to its output range. The column "k (AND only)" shows whether adding OR patterns made
# the explanation sparser than the plain Harsanyi (AND-only) one for that prompt.

# %% [markdown]
# ## Provenance

# %%
for name in runs:
    print(f"-- {name}")
    show_provenance("B6_llm", L.prompt_params(PROMPTS[name], n_players=params["n_players"],
                                              n_check=params["n_check"], scale=scale))
