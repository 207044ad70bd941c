"""Oracles for papers.noise (paper B eq. 19: interactions that emerge under noise)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ibn import distributions as dist
from ibn.and_or import extract
from papers import noise as Nz
from ibn.games import log_odds


class Tiny(nn.Module):
    """A small CNN on 1×8×8 images whose 8×8 post-ReLU map is the players' map."""

    masking_layer = "relu"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Linear(3 * 8 * 8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.conv(x)).flatten(1))


PLAYERS = [[9, 18, 27, 36, 45], [10, 20, 29, 38, 43]]


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 1, 8, 8, generator=g), torch.tensor([1, 3])


# ---------------------------------------------------------------- parameter noise


def test_parameter_noise_zero_sigma_is_exact_copy_and_original_untouched() -> None:
    net = Tiny()
    before = [p.detach().clone() for p in net.parameters()]
    same = Nz.perturb_parameters(net, 0.0, seed=3)
    noisy = Nz.perturb_parameters(net, 0.1, seed=3)
    for p0, p, q, r in zip(before, net.parameters(), same.parameters(), noisy.parameters()):
        assert torch.equal(p0, p)  # original untouched
        assert torch.equal(p0, q)  # σ = 0: exact copy
        assert not torch.equal(p0, r)
    assert noisy is not net


def test_parameter_noise_reproducible_and_scaled() -> None:
    net = Tiny()
    a = Nz.perturb_parameters(net, 0.05, seed=7)
    b = Nz.perturb_parameters(net, 0.05, seed=7)
    c = Nz.perturb_parameters(net, 0.05, seed=8)
    d = Nz.perturb_parameters(net, 0.10, seed=7)
    for p, pa, pb, pc, pd in zip(net.parameters(), a.parameters(), b.parameters(),
                                 c.parameters(), d.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
        # same seed = same direction: the 0.10 shift is twice the 0.05 shift
        torch.testing.assert_close(pd - p, 2 * (pa - p), atol=1e-6, rtol=1e-5)
    shift = torch.cat([(pa - p).detach().flatten() for p, pa in zip(net.parameters(), a.parameters())])
    assert shift.numel() > 700
    assert abs(float(shift.std()) / 0.05 - 1) < 0.1  # N(0, σ²): the draw's std is σ
    assert abs(float(shift.mean())) < 0.01


def test_parameter_noise_rejects_negative_sigma() -> None:
    with pytest.raises(ValueError):
        Nz.perturb_parameters(Tiny(), -1.0, seed=0)


# ---------------------------------------------------------------- FGSM


def test_fgsm_linear_model_closed_form() -> None:
    """v = z_y − logsumexp(z_others) with 2 classes is (w_y − w_o)·x + const: ∇v = w_y − w_o."""
    torch.manual_seed(0)
    lin = nn.Linear(5, 2).double()
    x = torch.randn(3, 5, dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    eps = 0.3
    w = lin.weight.detach()
    grad = torch.stack([w[int(t)] - w[1 - int(t)] for t in y])
    for direction in (1, -1):
        xa = Nz.fgsm(lin, x, y, eps, direction=direction)
        torch.testing.assert_close(xa, x + direction * eps * grad.sign())
        with torch.no_grad():
            dv = log_odds(lin(xa), y) - log_odds(lin(x), y)
        # linear reward: the change is exactly ±ε·‖∇v‖₁
        torch.testing.assert_close(dv, direction * eps * grad.abs().sum(1))
    assert lin.weight.grad is None  # parameter gradients untouched
    assert torch.equal(Nz.fgsm(lin, x, y, 0.0), x)


def test_fgsm_validates() -> None:
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError):
        Nz.fgsm(lin, torch.zeros(1, 2), torch.tensor([0]), 0.1, direction=2)
    with pytest.raises(ValueError):
        Nz.fgsm(lin, torch.zeros(1, 2), torch.tensor([0]), -0.1)


def test_accuracy_fgsm_directions_on_linear_model() -> None:
    """Raising the true class's log-odds cannot hurt a linear model; lowering it cannot help."""
    torch.manual_seed(0)
    lin = nn.Linear(4, 2)
    x = torch.randn(200, 4)
    y = (torch.randn(200) > 0).long()
    clean = Nz.accuracy(lin, x, y)
    up = Nz.accuracy(lin, x, y, epsilon=0.5, direction=1)
    down = Nz.accuracy(lin, x, y, epsilon=0.5, direction=-1)
    assert down <= clean <= up
    assert up > clean and down < clean


# ---------------------------------------------------------------- ΔI = 0 at zero noise


def test_zero_noise_gives_zero_emerged_interactions() -> None:
    net = Tiny()
    x, y = _data()
    v = Nz.game_values(net, x, y, PLAYERS)
    assert v.shape == (2, 32)
    for other in (Nz.game_values(Nz.perturb_parameters(net, 0.0, seed=5), x, y, PLAYERS),
                  Nz.game_values(net, Nz.fgsm(net, x, y, 0.0), y, PLAYERS)):
        assert torch.equal(v, other)
        r0, r1 = extract(v), extract(other)
        assert torch.equal(torch.as_tensor(r0.and_effects), torch.as_tensor(r1.and_effects))
        da = dist.emerged_strengths(r0.and_effects, r0.or_effects, r1.and_effects, r1.or_effects)
        assert float(da.total().abs().sum()) == 0.0
    # and nonzero noise does change the interactions
    vn = Nz.game_values(Nz.perturb_parameters(net, 0.2, seed=5), x, y, PLAYERS)
    rn, r0 = extract(vn), extract(v)
    da = dist.emerged_strengths(r0.and_effects, r0.or_effects, rn.and_effects, rn.or_effects)
    assert float(da.total().sum()) > 0


def _fake_result(n: int = 5) -> dict:
    """A run_noise-like result built from the Tiny model (params kind: levels 0 and 0.2)."""
    net = Tiny()
    x, y = _data()
    v = Nz.game_values(net, x, y, PLAYERS)
    r = extract(v)
    base = extract(Nz.game_values(Tiny(seed=1), x, y, PLAYERS))
    noisy = torch.stack([torch.stack([Nz.game_values(Nz.perturb_parameters(net, s, seed=d), x, y, PLAYERS)
                                      for d in range(2)]) for s in (0.0, 0.2)])
    rn = extract(noisy)
    return {"clean_and": torch.as_tensor(r.and_effects), "clean_or": torch.as_tensor(r.or_effects),
            "clean_gap": v[:, -1] - v[:, 0],
            "baseline_and": torch.as_tensor(base.and_effects)[None],
            "baseline_or": torch.as_tensor(base.or_effects)[None],
            "params_levels": torch.tensor([0.0, 0.2], dtype=torch.float64),
            "params_and": torch.as_tensor(rn.and_effects), "params_or": torch.as_tensor(rn.or_effects),
            "params_acc": torch.tensor([[0.9, 0.9], [0.5, 0.7]], dtype=torch.float64)}


def test_level_rows_zero_level_and_consistency() -> None:
    res = _fake_result()
    rows, curves = Nz.level_rows(res, 1, "params", fit_decay=True)
    assert [r["level"] for r in rows] == [0.0, 0.2]
    r0, r1 = rows
    assert r0["dA"] == 0.0
    # zero noise changes nothing: each relative change is 0, or undefined (NaN) exactly when the
    # clean part it is relative to is empty (which part is empty depends on the optimal vertex
    # the solver returns for this tiny degenerate game)
    for key, part in (("r_gen", "gen"), ("r_decay", "decay")):
        clean_empty = float(curves[part][0].total().abs().sum()) == 0.0
        assert (math.isnan(r0[key]) if clean_empty else abs(r0[key]) <= 1e-12), (key, r0[key])
    assert math.isnan(r0["r_non"]) or abs(r0["r_non"]) <= 1e-12
    assert not all(math.isnan(r0[k]) for k in ("r_gen", "r_non"))  # gen + non is the whole
    assert r1["dA"] > 0 and r1["r_total"] > 0
    assert r1["acc"] == pytest.approx(0.6)
    # ΔA of level 1 equals emerged_strengths of the flattened draws (τ of the clean model)
    tau = 0.02 * float(res["clean_gap"].abs().mean())
    ca = res["clean_and"].expand(2, -1, -1).reshape(-1, 32)
    co = res["clean_or"].expand(2, -1, -1).reshape(-1, 32)
    want = dist.emerged_strengths(ca, co, res["params_and"][1].reshape(-1, 32),
                                  res["params_or"][1].reshape(-1, 32), tau=tau)
    torch.testing.assert_close(curves["dA"][1].plus, want.plus)
    assert r1["dA"] == pytest.approx(float(want.total().sum()))


# ---------------------------------------------------------------- spindle fit and verdicts


@pytest.mark.parametrize("alpha,beta", [(0.5, 2.0), (0.8, 0.3), (1.0, 1.0)])
def test_fit_spindle_recovers_planted_spindle(alpha: float, beta: float) -> None:
    s = dist.spindle_strengths(10, alpha, beta)
    fit = Nz.fit_spindle(s)
    assert fit.alpha == pytest.approx(alpha, abs=1e-4)
    assert fit.beta == pytest.approx(beta, rel=1e-3)
    assert fit.r2 == pytest.approx(1.0, abs=1e-8)


def test_fit_spindle_poor_on_one_signed_decay_and_nan_on_zero() -> None:
    n = 8
    m = torch.arange(n + 1, dtype=torch.float64)
    plus = 0.5 ** m
    plus[0] = 0
    fit = Nz.fit_spindle(dist.Strengths(plus, torch.zeros(n + 1, dtype=torch.float64)))
    assert fit.r2 < 0.8  # a one-signed curve is no symmetric spindle
    zero = Nz.fit_spindle(dist.Strengths(torch.zeros(n + 1), torch.zeros(n + 1)))
    assert zero.beta == 0.0 and math.isnan(zero.r2)


def test_relative_change_closed_form() -> None:
    old = dist.Strengths(torch.tensor([0.0, 2.0, 1.0]), torch.tensor([0.0, -1.0, 0.0]))
    new = dist.Strengths(torch.tensor([0.0, 1.0, 1.0]), torch.tensor([0.0, -2.0, -1.0]))
    assert Nz.relative_change(new, old) == pytest.approx(3.0 / 4.0)
    assert Nz.relative_change(old, old) == 0.0
    zero = dist.Strengths(torch.zeros(3), torch.zeros(3))
    assert math.isnan(Nz.relative_change(old, zero))


def test_verdicts() -> None:
    base = {"dA": 1.0, "r2": 0.9, "peak": 3, "r_gen": 0.1, "r_non": 0.5, "acc": 0.9}
    rows = [{**base, "level": 0.0, "dA": 0.0},
            {**base, "level": 0.1}, {**base, "level": 0.2, "peak": 1},
            {**base, "level": 0.3, "r_gen": 0.6, "acc": 0.5}]
    ok, flags = Nz.spindle_verdict(rows, n=8)
    assert flags == [True, False, True] and not ok
    ok, flags, mild = Nz.stays_put_verdict(rows, clean_acc=0.92)
    assert flags == [True, True, False] and mild == [True, True, False] and ok
    ok, _, _ = Nz.stays_put_verdict(rows, clean_acc=0.55)  # then level 0.3 is mild and fails
    assert not ok
    # within the tolerance but moving more than the non-generalizable part: not "stays put"
    ok, flags, _ = Nz.stays_put_verdict([{**base, "level": 0.1, "r_non": 0.05}], clean_acc=0.9)
    assert flags == [False] and not ok
