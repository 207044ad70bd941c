"""Oracle tests of papers.generalizable (paper B §2.2-3; Conventions page,
conventions-and-or, conventions-generalizable, conventions-distributions)."""

from __future__ import annotations

import math

import pytest
import torch

from ibn import distributions as dist
from ibn import transforms as tf
from ibn.and_or.synthetic import planted_game
from ibn.and_or import extract
from ibn.distributions import Strengths
from papers import generalizable as G


def _l1(a: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
    return a[..., 1:].abs().sum(-1) + o[..., 1:].abs().sum(-1)


def _check_decomposition(values, a, o, noise_bound=0.02):
    """Universal matching h(x_T) = v(x_T) − δ_T with |δ_T| ≤ ζ, and the bias I^AND_∅ = v_∅."""
    v = torch.as_tensor(values, dtype=torch.float64)
    zeta = noise_bound * (v[..., -1] - v[..., 0]).abs()
    h = tf.zeta(a) + tf.or_zeta(o)  # a[..., 0] = v_∅ is the bias, o[..., 0] = 0
    assert torch.allclose(a[..., 0], v[..., 0])
    assert torch.all(o[..., 0].abs() < 1e-12)
    assert torch.all((h - v).abs() <= zeta.unsqueeze(-1) * (1 + 1e-6) + 1e-9)


def test_cancellation_hand_example():
    s = Strengths(torch.tensor([0.0, 2.0, 1.0, 0.0]), torch.tensor([0.0, -2.0, 0.0, 0.0]))
    r = G.cancellation(s)
    assert math.isnan(r[0]) and math.isnan(r[3])
    assert r[1] == 0.0 and r[2] == 1.0
    assert float(G.cancellation_total(s)) == pytest.approx(1.0 / 5.0)
    # batched over samples, one empty sample gives NaN
    sb = Strengths(torch.stack([s.plus, torch.zeros(4)]), torch.stack([s.minus, torch.zeros(4)]))
    tot = G.cancellation_total(sb)
    assert tot[0] == pytest.approx(0.2) and math.isnan(tot[1])


def test_lp_extraction_matches_and_is_no_worse_than_sgd():
    g = planted_game(5, batch=2, n_and=4, n_or=3, min_order=2, seed=3)
    res = extract(g.values, noise_bound=0.02, solver="lp")
    lp = {"and_effects": res.and_effects, "or_effects": res.or_effects}
    _check_decomposition(g.values, lp["and_effects"], lp["or_effects"])
    sgd = G.sgd_best_rate(g.values, steps=1500, lrs=(1e-3,))
    _check_decomposition(g.values, sgd["and_effects"], sgd["or_effects"])
    assert torch.all(sgd["delta"].abs() <= 0.02 * (g.values[:, -1:] - g.values[:, :1]).abs() + 1e-12)
    l_lp, l_sgd = _l1(lp["and_effects"], lp["or_effects"]), _l1(sgd["and_effects"], sgd["or_effects"])
    # the LP is the optimum of eq. 17, the planted effects one feasible point
    assert torch.all(l_lp <= l_sgd + 1e-7)
    assert torch.all(l_lp <= _l1(g.and_effects, g.or_effects) + 1e-7)
    # SGD does lower the objective below the all-AND (Möbius) starting point
    l_start = _l1(tf.mobius(g.values), torch.zeros_like(g.values))
    assert torch.all(l_sgd < l_start)
    with pytest.raises(ValueError, match="solver"):
        G.with_effects({}, {}, "B_effects_x", "adam")


def _fake_run(n=4, samples=3, k=2, seed=0, sign=1.0):
    gen = torch.Generator().manual_seed(seed)
    m = 1 << n
    a = torch.randn(samples, m, generator=gen, dtype=torch.float64)
    o = torch.randn(samples, m, generator=gen, dtype=torch.float64)
    o[:, 0] = 0.0
    v = tf.zeta(a) + tf.or_zeta(o)
    return {"values": v, "and": a, "or": o,
            "baseline_and": torch.stack([sign * a] * k), "baseline_or": torch.stack([sign * o] * k)}


def test_split_strengths_all_or_nothing_generalizable():
    same = _fake_run()
    tot, gen, non = G.split_strengths(same)
    assert torch.allclose(gen.plus, tot.plus) and torch.allclose(gen.minus, tot.minus)
    assert torch.all(non.total() == 0)
    opposite = _fake_run(sign=-1.0)
    tot, gen, non = G.split_strengths(opposite, 1)
    assert torch.all(gen.total() == 0)
    assert torch.allclose(non.plus, tot.plus)
    with pytest.raises(ValueError, match="baselines"):
        G.split_strengths(same, 3)


def _decay_like(n):
    w = torch.tensor([0.0] + [2.0 ** -m for m in range(1, n + 1)], dtype=torch.float64)
    return Strengths(w, -0.2 * w)  # mostly positive, low orders


def test_verdicts_on_planted_shapes():
    n = 10
    gen = _decay_like(n)
    non = dist.spindle_strengths(n, 0.8, 0.01)  # spindle: symmetric ±, peak at 4
    s = G.shape_summary(Strengths(gen.plus[None], gen.minus[None]) + Strengths(non.plus[None], non.minus[None]),
                        Strengths(gen.plus[None], gen.minus[None]), Strengths(non.plus[None], non.minus[None]))
    assert s["peak_gen"] == 1 and s["peak_non"] == 4
    assert s["cancel_non"] == pytest.approx(0.0) and s["cancel_gen"] == pytest.approx(0.8 / 1.2)
    assert G.decay_verdict(s)[0] and G.spindle_verdict(s)[0]
    swapped = G.shape_summary(Strengths(gen.plus[None] + non.plus[None], gen.minus[None] + non.minus[None]),
                              Strengths(non.plus[None], non.minus[None]),
                              Strengths(gen.plus[None], gen.minus[None]))
    assert not G.decay_verdict(swapped)[0] and not G.spindle_verdict(swapped)[0]


def test_fit_theory_recovers_planted_decay_plus_spindle():
    n = 6
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 1 << n, generator=g, dtype=torch.float64)
    o = torch.randn(4, 1 << n, generator=g, dtype=torch.float64)
    o[:, 0] = 0.0
    decay = dist.DecayModel(a, o).strengths(0.05, gamma=1.0)
    spindle = dist.spindle_strengths(n, 0.7, 0.2)
    measured = decay + spindle
    fit = G.fit_theory(Strengths(measured.plus[None], measured.minus[None]), a, o)
    assert fit.r2 > 0.99
    sim = G.cross_similarity(Strengths(decay.plus[None], decay.minus[None]),
                             Strengths(spindle.plus[None], spindle.minus[None]), fit)
    assert sim["sim"] > 0.95 and sim["sim"] > sim["sim_swapped"]
    assert sim["gen_vs_decay"] > sim["gen_vs_spindle"]


def test_setup_params_and_effects_key():
    settings = {"n_players": 6, "n_samples": 2, "n_heldout": 2, "n_eval": 10, "k": 3,
                "target": {"n_train": 8}, "baseline": {"n_train": 8}, "unused": 1}
    p = G.setup_params("vgg11", "mnist", settings, k_max=5, scale="smoke")
    assert p["k_max"] == 5 and p["model"] == "vgg11" and "unused" not in p
    assert G.setup_params("vgg11", "mnist", settings)["k_max"] == 3
    over = {**settings, "training": {"vgg11": {"target": {"lr": 0.5}}}}
    assert G.setup_params("vgg11", "mnist", over)["target"] == {"n_train": 8, "lr": 0.5}
    assert G.setup_params("vgg11", "mnist", over)["baseline"] == {"n_train": 8}
    assert G.setup_params("resnet20", "mnist", over)["target"] == {"n_train": 8}
    assert settings["target"] == {"n_train": 8}  # the preset itself is untouched
    key = G.effects_key(p, "sgd")
    assert key["solver"] == "sgd" and key["games"] == p and key["scale"] == "smoke"
    with pytest.raises(ValueError, match="dataset"):
        G.load_images("cifar100", "train")


def test_heldout_groups_and_shares():
    run = _fake_run(n=4, samples=4, k=1)
    run = {f"heldout_{key}": val for key, val in run.items()}
    run["heldout_correct"] = torch.tensor([True, False, True, False])
    gr = G.heldout_groups(run)
    assert gr["correct"][3].tolist() == [0, 2] and gr["misclassified"][3].tolist() == [1, 3]
    tot, gen, non, _ = gr["correct"]
    # the baseline equals the target: everything generalizes, non share 0, gen share 1
    assert torch.all(G.per_sample_share(non, tot) == 0)
    assert torch.allclose(G.per_sample_share(gen, tot), torch.ones(2, dtype=torch.float64))
    run["heldout_correct"] = torch.ones(4, dtype=torch.bool)
    assert set(G.heldout_groups(run)) == {"correct"}


def test_sgd_several_rates_keeps_the_best_per_sample():
    from ibn.and_or import extract

    g = planted_game(4, batch=3, n_and=3, n_or=2, min_order=2, seed=7)
    runs = [extract(g.values, solver="sgd", steps=300, lr=r) for r in (1e-4, 1e-2)]
    best = G.sgd_best_rate(g.values, steps=300, lrs=(1e-4, 1e-2))
    objs = torch.stack([r.objective for r in runs])
    assert torch.allclose(_l1(best["and_effects"], best["or_effects"]), objs.min(0).values)
    assert torch.allclose(best["objective"], objs.min(0).values)
    assert torch.equal(best["lr"], torch.tensor([1e-4, 1e-2], dtype=torch.float64)[objs.argmin(0)])
    for j in range(3):  # each game's effects are those of the run with its chosen rate
        r = runs[int(objs[:, j].argmin())]
        assert torch.equal(best["and_effects"][j], r.and_effects[j])
        assert torch.equal(best["or_effects"][j], r.or_effects[j])
    with pytest.raises(ValueError, match="lrs"):
        G.sgd_best_rate(g.values, lrs=())


def test_setup_of_trains_the_largest_k_everywhere():
    p = G.setup_of("vgg11", "fashion_mnist", G.PRESETS["book"], "book", seed=1)
    assert p["k_max"] == 5 and p["seed"] == 1 and p["scale"] == "book"
    assert G.setup_of("resnet20", "mnist", G.PRESETS["smoke"], "smoke")["k_max"] == 1


def _tiny_images(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    y = torch.arange(48) % 10
    x = torch.randn(48, 1, 32, 32, generator=g) + y.float()[:, None, None, None] / 3
    return x, y


def test_games_with_more_baselines_extend_the_cached_ones(tmp_path, monkeypatch):
    """Games with k baselines computed from a cache with fewer equal a full computation."""
    monkeypatch.setenv("IBN_DATA", str(tmp_path))
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    monkeypatch.setattr(G, "load_images", _tiny_images)
    small = {"model": "resnet20", "dataset": "mnist", "n_players": 3, "n_samples": 2,
             "n_heldout": 2, "n_eval": 10, "k_max": 1, "seed": 0, "scale": "test",
             "target": {"n_train": 16, "epochs": 1, "lr": 1e-3, "batch_size": 8, "label_noise": 0.0},
             "baseline": {"n_train": 16, "epochs": 1, "lr": 1e-3, "batch_size": 8, "label_noise": 0.0}}
    one = G.run_games(small)
    n_s = one["values"].shape[0]
    assert one["baselines_reused"] == 0 and n_s >= 1 and one["baseline_values"].shape == (1, n_s, 8)
    ext = G.run_games({**small, "k_max": 3})
    assert ext["baselines_reused"] == 1 and ext["baseline_values"].shape == (3, n_s, 8)
    assert ext["heldout_baseline_values"].shape == (3, 2, 8)
    assert torch.equal(ext["values"], one["values"])
    assert torch.equal(ext["baseline_values"][:1], one["baseline_values"])
    full = G.run_games({**small, "k_max": 3}, recompute=True)
    assert full["baselines_reused"] == 0
    for key in ("values", "baseline_values", "heldout_values", "heldout_baseline_values"):
        assert torch.allclose(ext[key], full[key], atol=1e-10), key
    assert ext["accuracy"] == full["accuracy"]
    assert [list(map(int, pl)) for pl in ext["players"]] == [list(map(int, pl)) for pl in full["players"]]
