"""Tests of papers.bottleneck (paper A's experiment logic) against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from ibn import multiorder as mo
from papers import bottleneck as bn
from ibn.maskers import PatchMasker, TabularMasker
from ibn.transforms import all_masks, masks_to_index


def _mlp(d: int, classes: int = 3, seed: int = 0, width: int = 8) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.Tanh(),
                         nn.Linear(width, classes)).double()


def _random_values(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1 << n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------ closed forms, shapes


@pytest.mark.parametrize("n", [3, 5, 7])
def test_efficiency_weights_decompose_the_game(n):
    v = _random_values(n, n)
    inter = mo.exact(v)  # (n−1, n, n)
    R = torch.as_tensor(bn.efficiency_weights(n))
    full, empty = v[(1 << n) - 1], v[0]
    singles = sum(v[1 << i] - empty for i in range(n))
    pair_part = (R[:, None, None] * inter).sum()  # ordered pairs i ≠ j (diagonal is zero)
    assert torch.allclose(full - empty - singles, pair_part, atol=1e-12)


def test_predicted_signal_matches_integer_formula_and_fit_recovers_n():
    n = 12
    ratios = bn.order_ratios(np.arange(n - 1), n)
    direct = np.array([(n - m - 1) / (n * (n - 1) * math.sqrt(math.comb(n - 2, m)))
                       for m in range(n - 1)])
    assert np.allclose(bn.predicted_signal(n, ratios), direct / direct[0], rtol=1e-12)
    fit = bn.fit_effective_n(ratios, bn.predicted_signal(7.3, ratios), grid=20000)
    assert abs(fit["n_eff"] - 7.3) < 0.01 and fit["rmse_log"] < 1e-3


def test_shape_summary_verdicts_and_peaks():
    r = np.linspace(0, 1, 11)
    assert bn.shape_summary(r, 1 + 4 * (r - 0.5) ** 2)["verdict"] == "U-shaped"
    assert bn.shape_summary(r, 2 - r)["verdict"] == "falling"
    assert bn.shape_summary(r, 1 + r)["verdict"] == "rising"
    assert bn.shape_summary(r, np.ones_like(r))["verdict"] == "flat"
    assert bn.shape_summary(r, 2 - 4 * (r - 0.5) ** 2)["verdict"] == "mid peak"
    J = np.array([3, 2, 1, 1.5, 2.2, 1.4, 1, 0.9, 0.9, 1.2, 2.0])
    peaks = bn.interior_peaks(r, J)
    assert [p["index"] for p in peaks] == [4]
    assert peaks[0]["prominence"] == pytest.approx(1.2)
    assert bn.interior_peaks(r, 2 - r) == []


# ------------------------------------------------------------------------ profiles


def test_exact_profile_strength_over_all_and_given_pairs():
    n = 5
    V = torch.stack([_random_values(n, s) for s in range(3)])
    prof = bn.exact_profile(V)
    inter = mo.exact(V)
    iu = [(i, j) for i in range(n) for j in range(i + 1, n)]
    brute = np.array([[np.mean([abs(float(inter[s, m, i, j])) for i, j in iu])
                       for m in range(n - 1)] for s in range(3)])
    assert np.allclose(prof["strength"], brute)
    assert np.allclose(prof["J"], brute.mean(0) / brute.mean(0).mean())
    assert np.allclose(prof["ratios"], np.arange(n - 1) / (n - 2))
    sub = bn.exact_profile(V, pairs=[[0, 1], [3, 2]])
    expect = (inter[:, :, 0, 1].abs() + inter[:, :, 3, 2].abs()) / 2
    assert np.allclose(sub["strength"], expect.numpy())


def test_sampled_from_values_equals_model_sampling_and_converges_to_exact():
    d = 6
    model = _mlp(d, seed=1)
    masker = TabularMasker(torch.zeros(d, dtype=torch.float64))
    xs = torch.randn(2, d, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ys = torch.tensor([0, 2])
    V = bn.game_values(model, xs, ys, masker)
    kw = dict(grid=(2, 3), n_pairs=6, contexts=30, orders=[0, 1, 2, 3, 4], seed=5)
    looked = bn.sampled_from_values(V, **kw)
    direct = bn.sampled_profile(model, xs, ys, masker, **kw)
    assert np.allclose(looked["mean"], direct["mean"], atol=1e-10)
    assert np.allclose(looked["J"], direct["J"], atol=1e-9)
    # m = 0 and m = n−2 have a single context: the estimate is exact there
    inter = mo.exact(V).numpy()
    P = looked["pairs"]
    for s in range(2):
        for col, m in ((0, 0), (4, 4)):
            assert np.allclose(looked["mean"][s, :, col], inter[s, m, P[s, :, 0], P[s, :, 1]])
    # with many contexts the sampled means approach the exact I^(m)(i,j)
    many = bn.sampled_from_values(V, grid=(2, 3), n_pairs=4, contexts=4000, orders=[2], seed=0)
    exact_vals = inter[np.arange(2)[:, None], 2, many["pairs"][..., 0], many["pairs"][..., 1]]
    z = (many["mean"][..., 0] - exact_vals) / many["sem"][..., 0]
    assert np.all(np.abs(z) < 5)


def test_pick_samples_balanced_and_correct():
    torch.manual_seed(0)
    x = torch.randn(60, 4, dtype=torch.float64)
    y = torch.arange(60) % 3
    model = _mlp(4, seed=0)
    pred = model(x).argmax(1)
    idx = bn.pick_samples(model, x, y, per_class=2, seed=1)
    assert bool((pred[idx] == y[idx]).all())
    counts = torch.bincount(y[idx], minlength=3)
    ok_per_class = torch.bincount(y[pred == y], minlength=3)
    assert torch.equal(counts, torch.minimum(ok_per_class, torch.tensor(2)))


# ------------------------------------------------------------------------ gradients


def _per_mask_grads(model, x, y, masker):
    masks = all_masks(masker.n_players)
    rows = []
    for inp in bn.masked_inputs(masker, x, masks):
        model.zero_grad()
        from ibn.games import log_odds

        log_odds(model(inp[None]), y)[0].backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone())
    return torch.stack(rows)


def test_gradient_gram_linear_and_explicit_match_autograd():
    d, n = 6, 5
    model = _mlp(d, seed=2)
    masker = TabularMasker(torch.randn(d), features=[0, 1, 2, 4, 5])
    x = torch.randn(d, dtype=torch.float64)
    G = _per_mask_grads(model, x, 1, masker)
    K_ref = G @ G.T
    K_lin = bn.gradient_gram(model, x, 1, masker, method="linear")
    K_exp = bn.gradient_gram(model, x, 1, masker, method="explicit")
    assert K_lin.shape == (1 << n, 1 << n)
    assert torch.allclose(K_lin, K_ref, rtol=1e-10, atol=1e-12)
    assert torch.allclose(K_exp, K_ref, rtol=1e-10, atol=1e-12)


def test_gradient_gram_explicit_on_a_cnn_with_patches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                          nn.Flatten(), nn.Linear(8, 3)).double()
    masker = PatchMasker(grid=(2, 2))
    x = torch.randn(1, 6, 6, dtype=torch.float64)
    G = _per_mask_grads(model, x, 2, masker)
    assert torch.allclose(bn.gradient_gram(model, x, 2, masker), G @ G.T, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError):
        bn.gradient_gram(model, x, 2, masker, method="linear")


def test_context_gradient_stats_against_per_context_gradients():
    d = n = 5
    model = _mlp(d, seed=4)
    masker = TabularMasker(torch.zeros(d))
    x = torch.randn(d, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    G = _per_mask_grads(model, x, 0, masker)
    st = bn.context_gradient_stats(bn.gradient_gram(model, x, 0, masker))
    assert st["mean_sq"].shape == (n - 1, n * (n - 1) // 2)
    for p, (i, j) in enumerate(st["pairs"].tolist()):
        others = [k for k in range(n) if k not in (i, j)]
        for m in range(n - 1):
            gs = []
            for S in itertools.combinations(others, m):
                s = sum(1 << k for k in S)
                gs.append(G[s | 1 << i | 1 << j] - G[s | 1 << i] - G[s | 1 << j] + G[s])
            gs = torch.stack(gs)
            assert st["mean_sq"][m, p] == pytest.approx(float(gs.mean(0).square().sum()), rel=1e-9)
            assert st["ctx_sq"][m, p] == pytest.approx(float(gs.square().sum(1).mean()), rel=1e-9)
    assert np.allclose(st["contexts"], [math.comb(n - 2, m) for m in range(n - 1)])


def test_gradient_statistics_invariants():
    d = 6
    model = _mlp(d, seed=5)
    masker = TabularMasker(torch.zeros(d))
    xs = torch.randn(2, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    st = bn.gradient_statistics(model, xs, torch.tensor([0, 1]), masker)
    assert np.all(st["mean_sq"] <= st["ctx_sq"] * (1 + 1e-12))
    assert st["mean_sq"][-1] == pytest.approx(st["ctx_sq"][-1])  # C = 1 at m = n−2
    assert st["mean_sq"][0] == pytest.approx(st["ctx_sq"][0])  # and at m = 0
    assert st["signal"][0] == pytest.approx(1.0) and st["predicted"][0] == pytest.approx(1.0)
    assert np.isnan(st["rho"][0]) and np.all(np.isfinite(st["rho"][1:-1]))


# ------------------------------------------------------------------------ training, robustness


def test_train_snapshots_and_steering_loss():
    from ibn.data import load_tabular

    tab = bn.select_features(load_tabular("wine"), range(6))
    assert tab.x_train.shape[1] == 6 and len(tab.feature_names) == 6
    masker = TabularMasker(torch.zeros(6))
    assert bn.steering_loss("normal", 1.0, masker) is None
    loss = bn.steering_loss("mid", 0.5, masker)
    assert (loss.mode, loss.r1, loss.r2, loss.lam) == ("boost", 0.3, 0.7, 0.5)
    assert bn.steering_loss(("suppress", 0.1, 0.4), 1.0, masker).r2 == 0.4
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    hist, snaps = bn.train_snapshots(model, (tab.x_train, tab.y_train), epochs=2, batch_size=32,
                                     lr=0.05, snapshot_epochs=[0, 2], extra_loss=loss,
                                     device="cpu")
    assert sorted(snaps) == [0, 2] and len(hist.records) == 2
    assert torch.equal(snaps[2]["0.weight"], model.state_dict()["0.weight"])
    assert not torch.equal(snaps[0]["0.weight"], snaps[2]["0.weight"])


def test_attacks_and_corruptions():
    torch.manual_seed(0)
    x = torch.randn(200, 4)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, -1, 0, 0], [1.0, 1, 0, 0]]))
        model.bias.zero_()
    assert bn.accuracy(model, x, y) == 1.0
    adv = bn.pgd(model, x, y, 0.3, steps=10)
    assert float((adv - x).abs().max()) <= 0.3 + 1e-6
    assert bn.accuracy(model, bn.fgsm(model, x, y, 0.3), y) < 1.0
    assert bn.accuracy(model, adv, y) <= bn.accuracy(model, bn.fgsm(model, x, y, 0.3), y) + 1e-9
    masker = TabularMasker(torch.full((4,), 7.0))
    xm = bn.random_mask(x, 0.5, masker, seed=1)
    assert torch.equal((xm == 7.0).sum(1), torch.full((200,), 2))
    rep = bn.robustness(model, x, y, masker, eps=[0.1], pgd_eps=[0.1], sigma=[0.5],
                        mask_fraction=[0.25])
    assert set(rep) == {"clean", "fgsm@0.1", "pgd@0.1", "noise@0.5", "mask@0.25"}
    assert torch.allclose(bn.gaussian_noise(x, 0.0), x)


def test_train_tabular_keeps_snapshots_and_is_seeded():
    tab, model, hist, snaps = bn.train_tabular("wine", "mlp5", features=range(12), epochs=2,
                                               snapshots=[0, 2], seed=3)
    assert sorted(snaps) == [0, 2] and tab.x_train.shape[1] == 12
    assert len(hist.records) == 2
    final = model.state_dict()
    assert all(torch.equal(final[k], snaps[2][k]) for k in final)
    assert not all(torch.equal(snaps[0][k], snaps[2][k]) for k in final)
    _, _, _, again = bn.train_tabular("wine", "mlp5", features=range(12), epochs=2,
                                      snapshots=[2], seed=3)
    assert all(torch.equal(again[2][k], snaps[2][k]) for k in final)


def test_train_tabular_reference_recipe_keeps_the_best_validation_epoch():
    from ibn.train import evaluate

    tab, model, hist, snaps = bn.train_tabular("breast_cancer", "mlp5", features=range(12),
                                               epochs=6, snapshots=[0, 2, 4, 6], seed=1,
                                               recipe="reference")
    val = [(r["val_acc"], -r["val_loss"]) for r in hist.records]
    best = 1 + max(range(6), key=lambda i: (val[i], -i))
    assert max(snaps) == best and sorted(snaps) == [e for e in (0, 2, 4, 6) if e < best] + [best]
    kept = model.state_dict()
    assert all(torch.equal(kept[k], snaps[best][k]) for k in kept)
    test = evaluate(model, (tab.x_test, tab.y_test), device="cpu")
    assert hist.records[best - 1]["test_acc"] == pytest.approx(test["acc"])
    with pytest.raises(ValueError, match="recipe"):
        bn.train_tabular("wine", "mlp5", features=range(12), epochs=1, snapshots=[1], seed=0,
                         recipe="sgd")


def test_fgsm_is_the_cross_entropy_step():
    """The adversarial direction of the one fgsm (on the log-odds) equals the usual FGSM on the
    cross-entropy, sign for sign: both are monotone in p(y|x), in opposite directions."""
    import torch.nn.functional as F

    from ibn.train.robustness import fgsm

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    x, y = torch.randn(32, 6), torch.randint(0, 4, (32,))
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xx), y), xx)
    assert torch.equal(fgsm(model, x, y, 0.1), (x + 0.1 * g.sign()).detach())
    assert torch.equal(fgsm(model, x, y, 0.1, direction=1), (x - 0.1 * g.sign()).detach())


def test_sampled_orders_resume_from_checkpoints_to_the_same_estimate(tmp_path):
    from ibn import results
    from ibn.multiorder.profiles import sampled_orders

    V = bn.game_values(_mlp(6, seed=2), torch.randn(3, 6, dtype=torch.float64,
                                                    generator=torch.Generator().manual_seed(1)),
                       torch.tensor([0, 1, 2]), TabularMasker(torch.zeros(6, dtype=torch.float64)))
    kw = dict(grid=(2, 3), pairs=None, n_pairs=5, radius=2, contexts=20,
              ratios=mo.REFERENCE_RATIOS, orders=None, seed=4)
    whole = bn.sampled_from_values(V, **kw)
    calls: list[int] = []

    def evaluators(fail_at=None):
        def ev(k):
            def f(masks):
                if k == fail_at:
                    raise KeyboardInterrupt
                calls.append(k)
                return V[k][masks_to_index(masks)]
            return f
        return [ev(k) for k in range(3)]

    parts = results.Parts("resume", {"x": 1}, root=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        sampled_orders(evaluators(fail_at=2), 6, unique=False, checkpoint=parts.get, **kw)
    assert parts.done() == ["0", "1"]
    calls.clear()
    again = sampled_orders(evaluators(), 6, unique=False, checkpoint=parts.get, **kw)
    assert set(calls) == {2}  # samples 0 and 1 came from their checkpoints
    for key in ("strength", "J", "mean", "sem", "pairs"):
        assert np.allclose(again[key], whole[key], rtol=0, atol=1e-12)
