"""Spindle closed forms, the planted decay + spindle fit, Jaccard SIM and the plot helpers."""

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from ibn.distributions import (
    DecayModel,
    DisentangleError,
    DisentangleWarning,
    Strengths,
    disentangle,
    jaccard,
    similarity,
    spindle_curve,
    spindle_strengths,
)
from ibn.transforms import orders


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one torch thread is faster (and kinder to a shared machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("n", [1, 5, 10, 16])
def test_spindle_alpha_one_is_binomial(n):
    ref = torch.tensor([2.5 * math.comb(n, m) for m in range(n + 1)], dtype=torch.float64)
    assert torch.allclose(spindle_curve(n, 1.0, 2.5), ref, rtol=1e-12)
    s = spindle_strengths(n, 1.0, 2.5)
    assert s.plus[0] == 0 and torch.allclose(s.plus[1:], ref[1:], rtol=1e-12)
    assert torch.equal(s.minus, -s.plus)


def test_spindle_beyond_support_and_continuity():
    n = 10
    # αn = 6.5: positive for m < 7.5, exactly 0 for m ≥ 7.5 (no sign oscillation)
    c = spindle_curve(n, 0.65)
    assert (c[:8] > 0).all() and (c[8:] == 0).all()
    assert abs(float(c[3]) - math.gamma(7.5) / (math.gamma(4) * math.gamma(4.5))) < 1e-10
    # αn = 6 (a pole beyond m = 6): C(6, m), 0 for m ≥ 7
    assert torch.allclose(spindle_curve(n, 0.6), torch.tensor([math.comb(6, m) for m in range(11)], dtype=torch.float64), atol=1e-9)
    # continuity in α at the edge of the support: m = 8 switches on at αn = 7
    eps = 1e-7
    assert float(spindle_curve(n, 0.7 + eps, m=[8])[0]) < 1e-5
    assert float(spindle_curve(n, 0.7 - eps, m=[8])[0]) == 0.0
    with pytest.raises(ValueError, match="alpha"):
        spindle_curve(n, 0.0)


def planted_problem(alpha, delta, gamma, beta_ratio, seed=1, n=10):
    gen = torch.Generator().manual_seed(seed)
    scale = 0.6 ** orders(n).double()
    a = (torch.randn(6, 1 << n, generator=gen, dtype=torch.float64) + 0.3) * scale
    o = (torch.randn(6, 1 << n, generator=gen, dtype=torch.float64) - 0.2) * scale
    o[:, 0] = 0.0
    dec = DecayModel(a, o).strengths(delta, gamma=gamma)
    sp = spindle_curve(n, alpha)
    beta = beta_ratio * float(dec.plus[1:].max() / sp[1:].max())
    sp = beta * sp
    sp[0] = 0.0
    measured = Strengths(dec.plus + sp, dec.minus - sp)
    measured.plus[0] = measured.minus[0] = 0.0
    return measured, a, o, beta


@pytest.mark.parametrize(
    "alpha,delta,gamma,beta_ratio", [(0.6, 1e-3, 2.0, 0.7), (0.9, 0.05, 0.5, 0.3), (1.0, 1.0, 1.0, 0.5)]
)
def test_fit_recovers_planted_parameters(alpha, delta, gamma, beta_ratio):
    measured, a, o, beta = planted_problem(alpha, delta, gamma, beta_ratio)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DisentangleWarning)
        fit = disentangle(measured, a, o)
    # stated tolerance: 1e-3 relative on α, β, γ and 1e-3 on log10 δ
    assert fit.ok and fit.r2 > 0.999999
    assert abs(fit.alpha - alpha) < 1e-3 * alpha
    assert abs(fit.beta - beta) < 1e-3 * beta
    assert abs(fit.gamma - gamma) < 1e-3 * gamma
    assert abs(math.log10(fit.delta) - math.log10(delta)) < 1e-3
    assert torch.allclose(fit.theory.plus, measured.plus, atol=1e-4 * float(measured.plus.max()))
    assert torch.allclose(fit.residual.plus, (fit.theory.plus - measured.plus).abs())
    assert fit.decay.plus[0] == 0 and fit.spindle.plus[0] == 0


def test_fit_tolerates_one_percent_noise():
    # 1 % Gaussian noise (of the largest A⁺) on every order: stated tolerance α ± 0.02,
    # β and γ within 15 %, log10 δ within 0.5 (observed errors: 0.008, 8 %, 8 %, 0.27).
    for alpha, delta, gamma, ratio in [(0.6, 1e-3, 2.0, 0.7), (0.4, 1e-5, 1.0, 1.0)]:
        measured, a, o, beta = planted_problem(alpha, delta, gamma, ratio)
        gen = torch.Generator().manual_seed(5)
        sc = 0.01 * float(measured.plus.abs().max())
        noisy = Strengths(measured.plus + sc * torch.randn(11, generator=gen, dtype=torch.float64),
                          measured.minus + sc * torch.randn(11, generator=gen, dtype=torch.float64))
        noisy.plus[0] = noisy.minus[0] = 0.0
        fit = disentangle(noisy, a, o)
        assert fit.ok and fit.r2 > 0.99
        assert abs(fit.alpha - alpha) < 0.02
        assert abs(fit.beta / beta - 1) < 0.15 and abs(fit.gamma / gamma - 1) < 0.15
        assert abs(math.log10(fit.delta) - math.log10(delta)) < 0.5


def test_fit_is_deterministic_and_accepts_result_objects():
    from types import SimpleNamespace

    measured, a, o, _ = planted_problem(0.6, 1e-3, 2.0, 0.7)
    f1 = disentangle(measured, a, o)
    f2 = disentangle(measured, SimpleNamespace(and_effects=a, or_effects=o))
    assert (f1.alpha, f1.beta, f1.delta, f1.gamma) == (f2.alpha, f2.beta, f2.delta, f2.gamma)


def test_fit_reports_failure_on_noise():
    _, a, o, _ = planted_problem(0.6, 1e-3, 2.0, 0.7)
    gen = torch.Generator().manual_seed(11)
    plus = torch.rand(11, generator=gen, dtype=torch.float64)
    minus = -torch.rand(11, generator=gen, dtype=torch.float64)
    plus[0] = minus[0] = 0.0
    noise = Strengths(plus, minus)
    with pytest.warns(DisentangleWarning, match="R²"):
        fit = disentangle(noise, a, o)
    assert not fit.ok and fit.r2 < 0.8
    with pytest.raises(DisentangleError):
        disentangle(noise, a, o, on_failure="raise")
    with pytest.raises(ValueError, match="all zero"):
        disentangle(Strengths(torch.zeros(11), torch.zeros(11)), a, o)
    with pytest.raises(ValueError, match="players"):
        disentangle(Strengths(plus[:6], minus[:6]), a, o)


def random_curve(gen, n=6):
    return Strengths(torch.rand(n + 1, generator=gen, dtype=torch.float64),
                     -torch.rand(n + 1, generator=gen, dtype=torch.float64))


def test_similarity_properties():
    gen = torch.Generator().manual_seed(0)
    g, nn, d, s = (random_curve(gen) for _ in range(4))
    assert similarity(g, nn, g, nn) == pytest.approx(1.0)
    val = similarity(g, nn, d, s)
    assert 0.0 <= val <= 1.0 and val < 1.0
    assert similarity(d, s, g, nn) == pytest.approx(val)  # symmetric
    # hand example: |gen| = (1, 2) vs |decay| = (2, 2) → min 3 / max 4 (non/spindle all zero)
    one = Strengths(torch.tensor([1.0]), torch.tensor([-2.0]))
    two = Strengths(torch.tensor([2.0]), torch.tensor([-2.0]))
    zero = Strengths(torch.zeros(1), torch.zeros(1))
    assert similarity(one, zero, two, zero) == pytest.approx(0.75)
    assert jaccard(one, two) == pytest.approx(0.75)
    assert math.isnan(jaccard(zero, zero))
    with pytest.raises(ValueError, match="average"):
        jaccard(Strengths(torch.zeros(2, 3), torch.zeros(2, 3)), zero)


def test_plots_return_figures():
    from ibn.distributions import plots

    measured, a, o, _ = planted_problem(0.6, 1e-3, 2.0, 0.7)
    fit = disentangle(measured, a, o)
    ax = plots.plot_disentangled(measured, fit)
    assert len(ax.patches) == 20 and len(ax.lines) >= 6
    fig, (ax_g, ax_n) = plots.plot_generalization(fit.decay, fit.spindle, decay=fit.decay, spindle=fit.spindle)
    assert "2 ×" in ax_n.get_ylabel()
    heights = [p.get_height() for p in ax_n.patches[:10]]
    assert heights == pytest.approx((2 * fit.spindle.plus[1:]).tolist())
    matplotlib.pyplot.close("all")
