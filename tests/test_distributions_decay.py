"""Oracles for the decay model of paper B Thm 3.1 (ibn.distributions.decay)."""

import math

import pytest
import torch

from ibn.distributions.decay import (
    _A,
    _B_DIAG,
    DecayModel,
    decay_and,
    decay_or,
    decay_strengths,
    retention,
)
from ibn.transforms import kron_apply, orders


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one torch thread is faster (and kinder to a shared machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def trigger(n: int, kind: str) -> torch.Tensor:
    """Dense J[T, S] (test oracle only): 1(S ⊆ T) for AND, 1(S ∩ T ≠ ∅) for OR."""
    idx = torch.arange(1 << n)
    t, s = idx[:, None], idx[None, :]
    j = ((s & t) == s) if kind == "and" else ((s & t) != 0)
    return j.double()


def dense_m(n: int, delta: float, kind: str) -> torch.Tensor:
    """Paper B Appendix I: M(δ) = (JᵀJ + 2^n diag(c))⁻¹ JᵀJ, c_S = 2^{|S|} δ (oracle)."""
    j = trigger(n, kind)
    g = j.T @ j
    c = (2.0 ** orders(n).double()) * delta
    return torch.linalg.solve(g + (2**n) * torch.diag(c), g)


def kron_power(c: torch.Tensor, n: int) -> torch.Tensor:
    """⊗ⁿ c with player i = bit i: kron(c_{n-1}, ..., c_0) (most significant bit first)."""
    out = torch.ones(1, 1, dtype=torch.float64)
    for _ in range(n):
        out = torch.kron(c, out)
    return out


@pytest.mark.parametrize("n", [3, 5])
def test_kronecker_statements_and_bit_order(n):
    # JᵀJ[S, S'] = Π_i A[s_i, s'_i] read off the bits of the masks (bit i = player i).
    j = trigger(n, "and")
    g = j.T @ j
    idx = torch.arange(1 << n)
    bits = (idx[:, None] >> torch.arange(n)) & 1
    prod = torch.ones(1 << n, 1 << n, dtype=torch.float64)
    for i in range(n):
        prod = prod * _A[bits[:, i][:, None], bits[:, i][None, :]]
    assert torch.equal(g, prod)
    assert torch.equal(g, kron_power(_A, n))
    # 2^n diag(c) = δ ⊗ diag(2, 4)
    delta = 0.37
    c = (2.0 ** orders(n).double()) * delta
    assert torch.allclose((2**n) * torch.diag(c), delta * kron_power(torch.diag(_B_DIAG), n), rtol=1e-15)
    # the butterfly applies ⊗ⁿ C in the same convention, for a non-symmetric C
    cm = torch.tensor([[0.3, -1.2], [2.0, 0.7]], dtype=torch.float64)
    x = torch.randn(4, 1 << n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    assert torch.allclose(kron_apply(x, cm), x @ kron_power(cm, n).T, atol=1e-12)


@pytest.mark.parametrize("n", [4, 5, 6, 7, 8, 9, 10])
@pytest.mark.parametrize("kind", ["and", "or"])
def test_fast_matches_dense(n, kind):
    gen = torch.Generator().manual_seed(100 * n + (kind == "or"))
    effects = torch.randn(3, 1 << n, dtype=torch.float64, generator=gen)
    for delta in (1e-4, 1e-2, 1.0, 10.0):
        ref = effects @ dense_m(n, delta, kind).T
        fast = decay_and(effects, delta) if kind == "and" else decay_or(effects, delta)
        assert fast.shape == effects.shape
        err = (fast - ref).abs().max() / effects.abs().max()
        assert err < 1e-10, (n, kind, delta, float(err))


def test_joint_model_matches_separate_calls_and_batches():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(2, 3, 64, dtype=torch.float64, generator=gen)
    o = torch.randn(2, 3, 64, dtype=torch.float64, generator=gen)
    model = DecayModel(a, o)
    for delta in (0.0, 0.05, 3.0):
        ha, ho = model(delta)
        assert ha.shape == a.shape and ho.shape == o.shape
        assert torch.allclose(ha, decay_and(a, delta), atol=1e-13)
        assert torch.allclose(ho, decay_or(o, delta), atol=1e-13)
        assert torch.allclose(ho[1, 2], decay_or(o[1, 2], delta), atol=1e-13)


def test_delta_zero_is_identity():
    gen = torch.Generator().manual_seed(4)
    a = torch.randn(5, 256, dtype=torch.float64, generator=gen)
    o = a.clone()
    o[..., 0] = 0.0
    assert torch.allclose(decay_and(a, 0.0), a, atol=1e-10)
    assert torch.allclose(decay_or(o, 0.0), o, atol=1e-9)
    assert torch.allclose(decay_and(a, 1e-14), a, atol=1e-8)
    assert torch.allclose(decay_or(o, 1e-14), o, atol=1e-8)


def test_or_ignores_empty_coalition():
    gen = torch.Generator().manual_seed(5)
    o = torch.randn(64, dtype=torch.float64, generator=gen)
    o2 = o.clone()
    o2[0] = 123.0
    h1, h2 = decay_or(o, 0.1), decay_or(o2, 0.1)
    assert h1[0] == 0.0
    assert torch.allclose(h1, h2, atol=1e-12)


@pytest.mark.parametrize("n", [5, 7])
def test_retention_closed_form_and_monotone(n):
    deltas = [10.0**k for k in range(-6, 3)]
    rets = torch.stack([retention(n, d) for d in deltas])
    for d, r in zip(deltas, rets):
        diag = dense_m(n, d, "and").diagonal()
        assert torch.allclose(r[orders(n)], diag, atol=1e-12)
    assert ((rets > 0) & (rets <= 1)).all()
    assert (rets[1:] < rets[:-1]).all()  # strictly decreasing in δ
    assert (rets[:, 1:] < rets[:, :-1]).all()  # decreasing in the order m
    assert torch.allclose(retention(n, 0.0), torch.ones(n + 1, dtype=torch.float64))


def block_energy_ratio(m_dense: torch.Tensor, n: int) -> torch.Tensor:
    """√(E‖(M I)_m‖² / E‖I_m‖²) for I with iid N(0,1) entries on order m only: ‖M_mm‖_F/√C(n,m)."""
    o = orders(n)
    out = []
    for m in range(1, n + 1):
        sel = o == m
        block = m_dense[sel][:, sel]
        out.append(block.pow(2).sum().sqrt() / math.sqrt(math.comb(n, m)))
    return torch.stack(out)


def test_per_order_energy_ratio_decreases_in_delta_and_order_and():
    # Observed (and implied for the diagonal by the retention argument): for AND the per-order
    # energy ratio ‖Î_m(δ)‖/‖I*_m‖ of an order-m random I* decreases in δ and in m.
    n = 8
    deltas = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    ratios = torch.stack([block_energy_ratio(dense_m(n, d, "and"), n) for d in deltas])
    assert (ratios[1:] < ratios[:-1]).all()
    assert (ratios[:, 1:] < ratios[:, :-1]).all()


def test_or_suppression_monotone_in_delta():
    # Observed for OR: the self-retention M_OR[S, S] depends only on |S| and decreases in δ, and
    # the order-m energy ratio decreases in δ (it is not monotone in m at large δ, unlike AND).
    n = 7
    deltas = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    mats = [dense_m(n, d, "or") for d in deltas]
    diag = torch.stack([mm.diagonal()[1:] for mm in mats])
    assert (diag[1:] < diag[:-1]).all()
    o = orders(n)[1:]
    for m in range(1, n + 1):
        vals = diag[:, o == m]
        assert (vals.max(1).values - vals.min(1).values).max() < 1e-9
    ratios = torch.stack([block_energy_ratio(mm, n) for mm in mats])
    assert (ratios[1:] < ratios[:-1]).all()


def test_decay_strengths_combine_modes():
    # n = 1: S = {0} only. AND +2, OR −1: separate gives A⁺ = 2, A⁻ = −1; elementwise gives +1.
    a = torch.tensor([5.0, 2.0], dtype=torch.float64)
    o = torch.tensor([0.0, -1.0], dtype=torch.float64)
    sep = decay_strengths(a, o, gamma=3.0)
    ele = decay_strengths(a, o, gamma=3.0, combine="elementwise")
    assert sep.plus.tolist() == [0.0, 6.0] and sep.minus.tolist() == [0.0, -3.0]
    assert ele.plus.tolist() == [0.0, 3.0] and ele.minus.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="combine"):
        decay_strengths(a, o, combine="sum")


def test_bad_input():
    with pytest.raises(ValueError, match="delta"):
        decay_and(torch.zeros(8), -1.0)
    with pytest.raises(ValueError, match="power of two"):
        decay_and(torch.zeros(6), 0.1)
    with pytest.raises(ValueError, match="same shape"):
        DecayModel(torch.zeros(2, 8), torch.zeros(3, 8))
    with pytest.raises(ValueError, match="NaN"):
        decay_or(torch.tensor([0.0, float("nan")]), 0.1)


def normal_equation_residual(kind: str, effects: torch.Tensor, hat: torch.Tensor, delta: float) -> float:
    """‖(JᵀJ + 2^n diag(c)) Î − JᵀJ I*‖ / ‖JᵀJ I*‖, matrix-free through ibn.transforms."""
    from ibn.transforms import or_zeta, zeta, zeta_transpose

    n = effects.shape[-1].bit_length() - 1
    if kind == "and":
        gram = lambda x: zeta_transpose(zeta(x))  # noqa: E731
    else:

        def gram(x):
            u = or_zeta(x)
            return u.sum(-1, keepdim=True) - torch.flip(zeta(u), dims=(-1,))

    d = delta * (2**n) * (2.0 ** orders(n).double())
    rhs = gram(effects)
    return float((gram(hat) + d * hat - rhs).norm() / rhs.norm())


@pytest.mark.parametrize("kind", ["and", "or"])
def test_normal_equations_at_n14(kind):
    # Large-n oracle without any dense matrix: Î solves the ridge normal equations of Thm 3.1.
    n = 14
    gen = torch.Generator().manual_seed(14)
    effects = torch.randn(2, 1 << n, dtype=torch.float64, generator=gen)
    for delta in (1e-3, 0.1, 10.0):
        hat = decay_and(effects, delta) if kind == "and" else decay_or(effects, delta)
        assert normal_equation_residual(kind, effects, hat, delta) < 1e-10


def test_mean_order_of_decay_curve_falls_with_delta():
    # Observed: for iid N(0,1) I* (a spindle-shaped start), the strength-weighted mean order of
    # the AND decay curve falls monotonically with δ; the OR curve's falls up to δ ≈ 0.1 and then
    # settles (it rises slightly before the large-δ limit), so only the early range is tested.
    from ibn.distributions import mean_order

    n = 8
    gen = torch.Generator().manual_seed(8)
    a = torch.randn(20, 1 << n, dtype=torch.float64, generator=gen)
    o = torch.randn(20, 1 << n, dtype=torch.float64, generator=gen)
    o[:, 0] = 0.0
    deltas = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]
    and_model, or_model = DecayModel(and_effects=a), DecayModel(or_effects=o)
    mo_and = torch.stack([mean_order(and_model.strengths(d)) for d in deltas])
    mo_or = torch.stack([mean_order(or_model.strengths(d)) for d in deltas[:5]])
    assert (mo_and[1:] < mo_and[:-1]).all()
    assert (mo_or[1:] < mo_or[:-1]).all()
