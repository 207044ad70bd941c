"""The notebook contract: ``papers.setup``, progress as an argument, and the chapter helpers the
notebooks call instead of defining functions (papers.bottleneck_runs, papers.chapters_b,
papers.tutorial) — their cache keys pinned, since the committed results are found by them."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import papers
from ibn import results
from ibn.and_or import extract
from papers import _setup
from papers import bottleneck_runs as bnr
from papers import chapters_b as CB
from papers import generalizable as G
from papers import generalizable_text as GT
from papers import tutorial

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ setup()


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_setup_checks_the_scale_and_sets_the_threads(threads, monkeypatch):
    monkeypatch.setattr(_setup, "_quiet_transformers", lambda: None)
    monkeypatch.setattr(_setup, "usable_cpus", lambda: 4)
    papers.setup("book")
    assert torch.get_num_threads() == 2
    papers.setup("smoke", threads=1)
    assert torch.get_num_threads() == 1
    papers.setup("paper", threads=16)  # never more than the CPUs
    assert torch.get_num_threads() == 4
    monkeypatch.setattr(_setup, "usable_cpus", lambda: 1)
    papers.setup("book")
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="smoke, book, paper"):
        papers.setup("huge")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            papers.setup("book", threads=bad)


def test_setup_quiets_transformers_imported_after_it():
    pytest.importorskip("transformers")
    code = ("import os; os.environ.pop('TRANSFORMERS_VERBOSITY', None); import papers; "
            "papers.setup('smoke'); from transformers.utils import logging as L; "
            "print(L.get_verbosity() == L.ERROR, L.is_progress_bar_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False"]


def test_progress_is_an_argument_not_a_module_switch():
    for name in ("generalizable", "dynamics", "llm", "text_models", "noise", "penalty",
                 "bottleneck", "generalizable_text"):
        assert not hasattr(importlib.import_module(f"papers.{name}"), "PROGRESS"), name
    from papers import dynamics, llm, text_models

    for fn in (G.run_games, G.interactions, dynamics.run_dynamics, llm.run_prompt,
               text_models.train_text_classifier, CB.setup_interactions):
        assert inspect.signature(fn).parameters["progress"].default is False, fn.__name__


def test_notebooks_define_no_functions_and_call_setup_once():
    for path in sorted((ROOT / "notebooks").glob("*.py")):
        code = "\n".join(line for line in path.read_text().splitlines()
                         if not line.lstrip().startswith("#"))
        assert not re.search(r"^\s*(def|class) |lambda\b", code, re.M), path.name
        assert code.count("papers.setup(scale") == 1, path.name
        assert "PROGRESS" not in code and "set_num_threads" not in code, path.name


# ------------------------------------------------------------------ paper A's chapter runs


A1_BOOK = {"tab_epochs": 100, "tab_snapshots": [0, 1, 3, 10, 30, 100], "tab_per_class": 8,
           "agree_pairs": 50, "agree_contexts": 100, "cnn_size": 28, "cnn_test": 1000,
           "cnn_batch": 64, "cnn_train": {"resnet20": [5000, 2, 2e-3],
                                          "vgg11": [2000, 3, 5e-4, 16]},
           "cnn_snapshots": [0, 1, 2], "cnn_steps": {"resnet20": [5, 20, 40]},
           "cnn_exact": 3, "cnn_exact_grid": [3, 3], "cnn_sampled": 1, "cnn_grid": 8,
           "cnn_pairs": 8, "cnn_contexts": 8,
           "text_train": {"minilm": [8454, 1]}, "text_test": 1057, "text_sentences": 4,
           "text_players": 10, "text_max_tokens": 24}


@pytest.fixture
def keys(monkeypatch):
    """The (name, params) each runner hands to ``ibn.results.cached`` (nothing is computed)."""
    seen = []

    def fake(name, params, compute, recompute=False):
        seen.append((name, params))
        return {"computed": False}

    monkeypatch.setattr(bnr, "cached", fake)
    return seen


def test_a1_cache_keys_are_pinned(keys):
    params, res = bnr.a1_tabular("wine", "mlp5", A1_BOOK, seed=0, scale="book")
    assert res == {"computed": False} and keys[-1] == ("A1_tabular", params)
    assert params == {"experiment": "A1_tabular", "dataset": "wine", "model": "mlp5",
                      "features": list(range(12)), "epochs": 100,
                      "snapshots": [0, 1, 3, 10, 30, 100], "per_class": 8, "optimizer": "adam",
                      "lr": 1e-3, "batch_size": 32, "seed": 0, "agree_pairs": 50,
                      "agree_contexts": 100, "scale": "book", "version": 1}
    params, _ = bnr.a1_cnn("mnist", "vgg11", A1_BOOK, seed=0, scale="book")
    assert keys[-1][0] == "A1_cnn"
    assert params == {"experiment": "A1_cnn", "dataset": "mnist", "model": "vgg11", "size": 28,
                      "n_train": 2000, "n_test": 1000, "epochs": 3, "snapshots": [0, 1, 2],
                      "snapshot_steps": [], "lr": 5e-4, "batch_size": 16, "seed": 0,
                      "exact_grid": [3, 3], "n_exact": 3, "n_sampled": 1, "grid": 8, "pairs": 8,
                      "contexts": 8, "agree_pairs": 50, "agree_contexts": 100, "scale": "book",
                      "version": 2}
    params, _ = bnr.a1_cnn("mnist", "resnet20", A1_BOOK, seed=0, scale="book")
    assert params["snapshots"] == [0, 1, 2] and params["snapshot_steps"] == [5, 20, 40]
    assert params["batch_size"] == 64 and params["epochs"] == 2
    params, _ = bnr.a1_text("minilm", A1_BOOK, seed=0, scale="book")
    assert keys[-1][0] == "A1_text"
    assert params == {"experiment": "A1_text", "model": "minilm", "n_train": 8454, "epochs": 1,
                      "lr": None, "seed": 0, "n_test": 1057, "n_players": 10, "n_sentences": 4,
                      "max_tokens": 24, "agree_pairs": 50, "agree_contexts": 100,
                      "scale": "book", "version": 1}


def test_a2_to_a4_cache_keys_are_pinned(keys):
    params, _ = bnr.a2_gradients("wine", "mlp5", {"epochs": 100, "snapshots": [0, 3, 100],
                                                  "samples": 4}, seed=0, scale="book")
    assert keys[-1][0] == "A2_gradients"
    assert params == {"experiment": "A2_gradients", "dataset": "wine", "model": "mlp5",
                      "features": list(range(12)), "epochs": 100, "snapshots": [0, 3, 100],
                      "samples": 4, "optimizer": "adam", "lr": 1e-3, "batch_size": 32, "seed": 0,
                      "scale": "book", "version": 1}
    a3 = {"model": "mlp5", "epochs": 100, "per_class": 8}
    normal, _ = bnr.a3_modulation("wine", "mid", 0.0, a3, seed=0, scale="book")
    high, _ = bnr.a3_modulation("wine", "high", 0.3, a3, seed=0, scale="book")
    assert keys[-1][0] == "A3_modulation"
    assert normal["preset"] == "normal" and normal["steer"] is None and normal["lam"] == 0.0
    assert high == {"experiment": "A3_modulation", "dataset": "wine", "model": "mlp5",
                    "features": list(range(12)), "epochs": 100, "preset": "high",
                    "steer": list(bnr.PRESETS["high"]), "lam": 0.3, "per_class": 8,
                    "optimizer": "adam", "lr": 1e-3, "batch_size": 32, "seed": 0,
                    "scale": "book", "version": 1}
    a4 = {"dataset": "breast_cancer", "model": "mlp8", "lam": 1.0, "epochs": 100, "per_class": 8,
          "fgsm": [0.1], "pgd": [0.25], "sigma": [1.0], "mask": [0.5]}
    low, _ = bnr.a4_consequences("low", 2, a4, scale="book")
    plain, _ = bnr.a4_consequences("normal", 2, a4, scale="book")
    assert keys[-1][0] == "A4_consequences"
    assert plain["steer"] is None and plain["lam"] == 0.0
    assert low == {"experiment": "A4_consequences", "dataset": "breast_cancer", "model": "mlp8",
                   "features": list(range(12)), "kind": "low", "steer": list(bnr.PRESETS["low"]),
                   "lam": 1.0, "epochs": 100, "per_class": 8, "optimizer": "adam", "lr": 1e-3,
                   "batch_size": 32, "seed": 2, "split_seed": 0, "fgsm": [0.1], "pgd": [0.25],
                   "pgd_steps": 20, "sigma": [1.0], "mask": [0.5], "scale": "book",
                   "version": 1}


def test_committed_book_results_are_found_by_the_runners(keys):
    """The notebooks' book presets find the committed results (A3: the normal model and two
    steered ones)."""
    if not (ROOT / "data" / "results" / "A3_modulation").is_dir():
        pytest.skip("no committed A3 results")
    a3 = {"model": "mlp5", "epochs": 100, "per_class": 8}
    for preset, lam in (("mid", 0.0), ("low", 0.1), ("high", 3.0)):
        params, _ = bnr.a3_modulation("wine", preset, lam, a3, seed=0, scale="book")
        assert results.result_path("A3_modulation", params).is_file(), (preset, lam)


def test_a3_modulation_runs_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("IBN_DATA", str(tmp_path))
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    settings = {"model": "mlp5", "epochs": 1, "per_class": 1}
    params, res = bnr.a3_modulation("wine", "mid", 0.0, settings, seed=0, scale="test")
    assert results.result_path("A3_modulation", params).is_file()
    J, r = np.asarray(res["J"]), np.asarray(res["ratios"])
    assert J.shape == r.shape == (11,) and np.isclose(J.mean(), 1.0)
    assert 0.0 <= bnr.order_centre(r, J) <= 1.0
    again = bnr.a3_modulation("wine", "mid", 0.0, settings, seed=0, scale="test")[1]
    assert np.array_equal(np.asarray(again["J"]), J) and again["train_s"] == res["train_s"]


def test_order_helpers():
    r = np.linspace(0, 1, 5)
    assert bnr.order_centre(r, np.ones(5)) == pytest.approx(0.5)
    assert bnr.order_centre(r, np.array([0, 0, 0, 0, 1.0])) == pytest.approx(1.0)
    s = pd.Series({"low": 0.3, "normal": 0.1, "high": 0.2, "mid": 0.5})
    assert bnr.order_of(s, ["low", "normal", "high", "absent"], False) == ["normal", "high", "low"]
    assert bnr.order_of(s, ["low", "normal", "high"], True) == ["low", "high", "normal"]


def test_exact_vs_sampled_and_noise_floor():
    rng = np.random.default_rng(0)
    ex = rng.normal(size=(2, 5, 4))  # samples, pairs, orders
    sem = np.full_like(ex, 0.1)
    sem[..., 0] = 0.0  # a single context: sampled == exact
    mean = ex + sem * rng.normal(size=ex.shape)
    res = {"agree_mean": mean, "agree_sem": sem, "agree_exact": ex,
           "agree_strength": np.abs(ex).mean(1)}
    row, Je, Js = bnr.exact_vs_sampled(res, "toy")
    assert row["model"] == "toy" and row["pairs × orders"] == 20
    assert row["max |diff| (single context)"] == 0.0
    assert row["max |J_sampled − J_exact|"] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(Je, Js) and np.isclose(Je.mean(), 1.0)
    S = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    J, floor = bnr.sampled_noise_floor({"fine_strength": S, "fine_sem": np.ones((2, 4, 3))})
    assert np.allclose(J, [1.0, 1.0, 1.0]) and np.allclose(floor, np.sqrt(2 / np.pi) / 2)


# ------------------------------------------------------------------ paper B's chapter helpers


def test_setup_params_dispatch_images_and_sentences():
    image = G.PRESETS["book"]
    text = GT.TEXT_PRESETS["book"]
    assert CB.setup_params("resnet20", "mnist", image, text, "book", seed=1) == \
        G.setup_of("resnet20", "mnist", image, "book", seed=1)
    assert CB.setup_params("minilm", GT.DATASET, image, text, "book") == \
        GT.text_setup("minilm", text, "book", seed=0)


def test_effects_l1_is_the_extraction_objective():
    v = torch.randn(3, 1 << 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    res = extract(v, noise_bound=0.0)
    assert torch.allclose(CB.effects_l1(res.and_effects, res.or_effects), res.objective)
    assert CB.effects_l1(res.and_effects[None], res.or_effects[None]).shape == (1, 3)


def test_solver_flips():
    df = pd.DataFrame({"setup": ["a", "a", "b", "b"], "solver": ["lp", "sgd", "lp", "sgd"],
                       "decay": [True, True, True, False]})
    assert CB.solver_flips(df, "decay") == ["b: decay lp=True sgd=False"]


# ------------------------------------------------------------------ the tutorial's helpers


def test_log_odds_game_and_top_patterns():
    from sklearn.linear_model import LogisticRegression

    from ibn import games
    from ibn.transforms import all_masks

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    baseline = x.mean(0)
    players = [0, 1, 3]
    v = tutorial.log_odds_game(model, x[0], int(y[0]), players, baseline)
    masks = all_masks(3)
    out = v(masks)
    sign = 1.0 if y[0] == 1 else -1.0
    assert out[-1] == pytest.approx(sign * model.decision_function(x[:1])[0])
    empty = x[0].copy()
    empty[players] = baseline[players]
    assert out[0] == pytest.approx(sign * model.decision_function(empty[None])[0])
    values = games.all_values(v, n=3)
    res = extract(values[None], noise_bound=0.0)
    top = tutorial.top_patterns(res, ["f0", "f1", "f3"], 0, k=4)
    assert list(top.columns) == ["kind", "pattern", "effect"] and len(top) == 4
    assert (top.effect.abs().diff().dropna() <= 1e-12).all()  # largest first
    allp = tutorial.top_patterns(res, ["f0", "f1", "f3"], 0, k=100)
    assert len(allp) == 14  # 7 AND + 7 OR patterns of 3 players
    assert "f0 & f1 & f3" in set(allp.pattern) and "f1 | f3" in set(allp.pattern)


# ------------------------------------------------------------------ paper B's tables and figures


def test_drop_empty_rows_leaves_out_rows_of_zeros_and_nans():
    df = pd.DataFrame({"name": ["a", "b", "c", "d"], "x": [1.0, 0.0, np.nan, 0.00004],
                       "y": [0.0, 0.0, 0.0, 0.0]}, index=[10, 11, 12, 13])
    assert list(CB.drop_empty_rows(df).index) == [10, 13]
    assert list(CB.drop_empty_rows(df, decimals=4).index) == [10]  # 0.00004 shows as 0.0000
    assert list(CB.drop_empty_rows(df, columns=["y"]).index) == []
    assert list(CB.drop_empty_rows(df.set_index("name")).index) == ["a", "d"]


def test_chapter_b_plot_helpers_draw_every_level():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ibn.distributions import Strengths
    from papers import noise as Nz

    n = 4
    rng = torch.Generator().manual_seed(0)
    curve = Strengths(torch.rand(n + 1, generator=rng), -torch.rand(n + 1, generator=rng))
    fig = CB.plot_k_ablation({1: (curve, curve), 3: (curve, curve)}, "title")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    plt.close(fig)

    levels = [0.0, 0.01, 0.1]
    fits = [Nz.fit_spindle(Strengths(curve.plus, -curve.plus)) for _ in levels]
    table = pd.DataFrame({"level": levels, "acc": [0.9, 0.8, 0.5], "r_gen": [0, 0.1, 0.2],
                          "r_non": [0, 0.3, 0.5], "r_decay": [0, 0.05, 0.1]})
    curves = {"dA": [Strengths(curve.plus, curve.plus)] * 3, "fit": fits,
              "gen": [curve] * 4}
    fig, axes = plt.subplots(1, 3)
    CB.plot_emerged_row(axes, table, curves, "σ", row_label="params")
    assert [ax.axison for ax in axes] == [True, True, False]  # two nonzero levels
    assert axes[0].get_title().startswith("σ = 0.01")
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    CB.plot_gen_under_noise(axes, {"params": table}, {"params": curves}, {"params": "σ"}, 0.25)
    assert len(axes[1].lines) == 4  # r_gen, r_non, r_decay and the tolerance
    plt.close(fig)


def test_book_labels_of_models_and_datasets():
    import papers

    assert papers.model_label("vgg11_plain") == "VGG-11 without BatchNorm"
    assert papers.model_label("small_cnn") == "small CNN"
    assert papers.dataset_label("fashion-mnist") == "Fashion-MNIST"
    assert papers.model_label("mystery") == "mystery" and papers.dataset_label("cub") == "cub"
