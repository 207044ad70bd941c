"""Brute-force oracles for per-order strengths, ρ / ρ̂, Z and ΔA (ibn.distributions.strength)."""

from types import SimpleNamespace

import pytest
import torch

from ibn.distributions import (
    Strengths,
    effects_of,
    emerged_strengths,
    generalizable_strengths,
    mean_order,
    normalizer,
    peak_order,
    salient,
    strengths,
    tau_from_values,
    transfer,
    transfer_any,
)


def brute_strengths(a, o, tau, wa=None, wo=None):
    """Loop over every S of one sample: A^(m),± over salient S ≠ ∅, AND and OR together."""
    n = a.shape[-1].bit_length() - 1
    plus = [0.0] * (n + 1)
    minus = [0.0] * (n + 1)
    for effects, weights in ((a, wa), (o, wo)):
        for s in range(1, 1 << n):
            v = float(effects[s])
            if abs(v) <= tau:
                continue
            w = 1.0 if weights is None else float(weights[s])
            m = bin(s).count("1")
            if v > 0:
                plus[m] += w * v
            else:
                minus[m] += w * v
    return torch.tensor(plus, dtype=torch.float64), torch.tensor(minus, dtype=torch.float64)


def sample(seed, shape=(4, 32)):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(*shape, dtype=torch.float64, generator=gen)
    o = torch.randn(*shape, dtype=torch.float64, generator=gen)
    o[..., 0] = 0.0
    return a, o


def test_strengths_match_brute_force_per_sample_and_averaged():
    a, o = sample(0)
    tau = 0.5
    s = strengths(a, o, tau)
    assert s.plus.shape == (4, 6) and s.n == 5
    for k in range(4):
        p, m = brute_strengths(a[k], o[k], tau)
        assert torch.allclose(s.plus[k], p, atol=1e-12)
        assert torch.allclose(s.minus[k], m, atol=1e-12)
    avg = strengths(a, o, tau, average=True)
    assert torch.allclose(avg.plus, s.plus.mean(0)) and torch.allclose(avg.minus, s.minus.mean(0))
    assert (s.plus >= 0).all() and (s.minus <= 0).all()
    assert (s.plus[:, 0] == 0).all() and (s.minus[:, 0] == 0).all()  # the bias is excluded


def test_per_sample_tau_and_weights():
    a, o = sample(1)
    tau = torch.tensor([0.1, 0.5, 1.0, 2.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(9)
    wa = torch.rand(a.shape, generator=gen, dtype=torch.float64)
    wo = torch.rand(a.shape, generator=gen, dtype=torch.float64)
    s = strengths(a, o, tau, and_weights=wa, or_weights=wo)
    for k in range(4):
        p, m = brute_strengths(a[k], o[k], float(tau[k]), wa[k], wo[k])
        assert torch.allclose(s.plus[k], p, atol=1e-12) and torch.allclose(s.minus[k], m, atol=1e-12)
    with pytest.raises(ValueError, match="tau"):
        strengths(a, o, torch.ones(3))
    with pytest.raises(ValueError, match="tau"):
        strengths(a, o, -1.0)


def test_normalizer_brute_force():
    a, o = sample(2)
    tau = 0.3
    ref = 0.0
    for k in range(4):
        for s in (1, 2, 4, 8, 16):
            for e in (a, o):
                if abs(e[k, s]) > tau:
                    ref += abs(float(e[k, s]))
    assert abs(float(normalizer(a, o, tau)) - ref / 4) < 1e-12


def test_tau_from_values():
    v = torch.tensor([[1.0, 0.0, 0.0, 3.0], [2.0, 0.0, 0.0, -4.0]], dtype=torch.float64)
    assert abs(float(tau_from_values(v)) - 0.02 * (2 + 6) / 2) < 1e-15
    assert torch.allclose(tau_from_values(v, per_sample=True), torch.tensor([0.04, 0.12], dtype=torch.float64))


def test_transfer_hand_example():
    # n = 2, S = ∅, {0}, {1}, {0,1}; τ = 0.5.
    tau = 0.5
    i = torch.tensor([9.0, 1.0, -2.0, 0.1])
    b1 = torch.tensor([9.0, 0.7, 3.0, 0.9])  # {0}: salient, same sign → 1; {1}: opposite → 0
    b2 = torch.tensor([9.0, 0.4, -0.8, 0.0])  # {0}: not salient → 0; {1}: salient, same → 1
    assert transfer(i, b1, tau).tolist() == [False, True, False, True]  # {0,1}: 0.9 > τ, 0.1·0.9 > 0
    assert transfer(i, b2, tau).tolist() == [False, False, True, False]
    assert transfer_any(i, [b1, b2], tau).tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="at least one"):
        transfer_any(i, [], tau)


def test_generalizable_split():
    a, o = sample(3)
    tau = 0.4
    total, gen, non = generalizable_strengths(a, o, [(a, o)], tau)
    assert torch.allclose(gen.plus, total.plus) and torch.allclose(non.minus, torch.zeros(6, dtype=torch.float64))
    total, gen, non = generalizable_strengths(a, o, [(-a, -o)], tau)
    assert torch.allclose(gen.plus, torch.zeros(6, dtype=torch.float64))
    # random baselines: A = A_gen + A_non, and A_gen equals the brute force weighted by ρ̂
    b1, b2 = sample(4), sample(5)
    res = [SimpleNamespace(and_effects=b[0], or_effects=b[1]) for b in (b1, b2)]
    total, gen, non = generalizable_strengths(a, o, res, tau, average=False)
    ra = transfer_any(a, [b1[0], b2[0]], tau)
    ro = transfer_any(o, [b1[1], b2[1]], tau)
    for k in range(4):
        p, m = brute_strengths(a[k], o[k], tau, ra[k], ro[k])
        assert torch.allclose(gen.plus[k], p) and torch.allclose(gen.minus[k], m)
    assert torch.allclose(gen.plus + non.plus, total.plus)


def test_emerged_strengths_eq19():
    a = torch.tensor([0.0, 1.0, 2.0, 5.0], dtype=torch.float64)
    an = torch.tensor([7.0, 3.0, 0.5, 1.0], dtype=torch.float64)  # ΔI = (·, −2, 1.5, 4)
    o = torch.zeros(4, dtype=torch.float64)
    on = torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=torch.float64)  # ΔI^OR = (·, 0, −1, 0)
    d = emerged_strengths(a, o, an, on)
    assert d.plus.tolist() == [0.0, 1.5, 4.0]
    assert d.minus.tolist() == [0.0, 3.0, 0.0]  # −Σ min(ΔI, 0) ≥ 0
    d2 = emerged_strengths(a, o, an, on, tau=1.8)
    assert d2.plus.tolist() == [0.0, 0.0, 4.0] and d2.minus.tolist() == [0.0, 2.0, 0.0]


def test_mean_and_peak_order():
    s = Strengths(torch.tensor([0.0, 1.0, 3.0, 0.0]), torch.tensor([0.0, -1.0, 0.0, -2.0]))
    assert abs(float(mean_order(s)) - (1 * 2 + 2 * 3 + 3 * 2) / 7) < 1e-6
    assert int(peak_order(s)) == 2


def test_effects_of_and_errors():
    a, o = sample(6)
    ea, eo = effects_of(SimpleNamespace(and_effects=a, or_effects=o))
    assert torch.equal(ea, a) and torch.equal(eo, o)
    with pytest.raises(TypeError, match="and_effects"):
        effects_of(object())
    with pytest.raises(ValueError, match="same shape"):
        strengths(a, o[:2], 0.1)
    with pytest.raises(ValueError, match="power of two"):
        strengths(a[:, :6], o[:, :6], 0.1)
    with pytest.raises(ValueError, match="NaN"):
        strengths(a * float("nan"), o, 0.1)
    assert not salient(a, 0.0)[..., 0].any()
