"""Oracle tests of papers.dynamics (paper B Fig. 3 and Fig. 9 analysis helpers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibn import distributions as dist
from ibn import transforms as tf
from papers import dynamics as D
from _oracles import random_effects  # tests/ is on sys.path under pytest


def test_phase_boundary_is_min_test_loss():
    assert D.phase_boundary([1, 2, 3, 4, 5], [1.0, 0.5, 0.4, 0.6, 0.9]) == 3
    with pytest.raises(ValueError):
        D.phase_boundary([1, 2], [1.0])
    # one noisy dip (epoch 6) moves the raw minimum, not the smoothed one
    noisy = [1.0, 0.5, 0.4, 0.42, 0.7, 0.35, 0.9, 1.0]
    assert D.phase_boundary(range(1, 9), noisy) == 6
    assert D.phase_boundary(range(1, 9), noisy, smooth=3) == 3


def test_spearman():
    assert D.spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert D.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(D.spearman([1, 1, 1], [1, 2, 3]))


def test_rises_after():
    r = D.rises_after([0.1, 0.2, 0.5, 0.6], [1, 2, 3, 4], boundary=2)
    assert r["before"] == pytest.approx(0.15) and r["after"] == pytest.approx(0.55)
    assert r["rise"] == pytest.approx(0.4) and r["spearman_epoch"] == pytest.approx(1.0)
    assert math.isnan(D.rises_after([0.1, 0.2], [1, 2], boundary=5)["after"])


@pytest.mark.parametrize("log10_delta", [-2.0, 0.0])
def test_fit_decay_recovers_planted_delta_and_gamma(log10_delta):
    n = 5
    a, o = random_effects(n, 3, seed=0)
    model = dist.DecayModel(a, o)
    target = model.strengths(10.0 ** log10_delta, gamma=2.5)
    target.plus[0] = target.minus[0] = 0.0
    fit = D.fit_decay_to_curve(target, model)
    assert fit["rel_err"] < 1e-4
    assert fit["log10_delta"] == pytest.approx(log10_delta, abs=0.02)
    assert fit["gamma"] == pytest.approx(2.5, rel=0.02)
    assert torch.allclose(fit["pred"].plus, target.plus, atol=1e-3 * float(target.plus.abs().max()))


def test_theorem_predictions_beat_identity_on_planted_curves():
    n = 5
    a, o = random_effects(n, 3, seed=1)
    model = dist.DecayModel(a, o)
    curves = {"total": []}
    for ld in (0.0, -1.0, -6.0):  # earlier checkpoints: larger δ
        s = model.strengths(10.0 ** ld, gamma=1.0)
        s.plus[0] = s.minus[0] = 0.0
        curves["total"].append(s)
    rows = D.theorem_predictions(curves, a, o)
    assert rows[0]["rel_err"] < 1e-3 < rows[0]["rel_err_identity"]
    assert rows[0]["log10_delta"] > rows[1]["log10_delta"]


def _fake_result(n: int = 4, samples: int = 3) -> dict:
    a1, o1 = random_effects(n, samples, seed=2)
    a2, o2 = random_effects(n, samples, seed=3)
    ab, ob = random_effects(n, samples, seed=4)
    vals = torch.stack([tf.zeta(a) + tf.or_zeta(o) for a, o in ((a1, o1), (a2, o2))])
    return {"ckpt_epochs": [1, 2], "and": torch.stack([a1, a2]), "or": torch.stack([o1, o2]),
            "values": vals, "baseline_and": ab[None], "baseline_or": ob[None]}


def test_checkpoint_curves_normalised_by_z_and_gen_plus_non():
    res = _fake_result()
    raw = D.checkpoint_curves(res, normalise=False)
    cur = D.checkpoint_curves(res)
    for c in range(2):
        # after division by Z the order-1 strength of the total curve is exactly 1 (K.3)
        assert float(cur["total"][c].total()[1]) == pytest.approx(1.0)
        assert torch.allclose(cur["total"][c].plus * cur["Z"][c], raw["total"][c].plus)
        s = cur["gen"][c] + cur["non"][c]
        assert torch.allclose(s.plus, cur["total"][c].plus)
        assert torch.allclose(s.minus, cur["total"][c].minus)


def test_checkpoint_curves_all_generalizable_when_baseline_equals_target():
    res = _fake_result()
    res["baseline_and"] = res["and"][-1][None]
    res["baseline_or"] = res["or"][-1][None]
    cur = D.checkpoint_curves(res)
    assert float(cur["non"][-1].total().abs().sum()) == pytest.approx(0.0, abs=1e-12)


def test_disentangle_checkpoints_shares_in_unit_interval():
    res = _fake_result()
    cur = D.checkpoint_curves(res)
    rows = D.disentangle_checkpoints(cur, res["and"][-1], res["or"][-1])
    for r in rows:
        assert 0.0 <= r["spindle_share"] <= 1.0
        assert 0.0 <= r["non_share"] <= 1.0
        assert np.isfinite(r["r2"])
