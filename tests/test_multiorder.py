"""Oracle tests of ibn.multiorder: brute-force Δv enumeration, planted games, shapiq's SII."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ibn import multiorder as mo
from ibn import transforms as tf
from _oracles import brute_force  # tests/ is on sys.path under pytest


def mlp_game(n: int, seed: int):
    """A smooth random game: a small tanh MLP of the 0/1 mask."""
    g = torch.Generator().manual_seed(seed)
    W1 = torch.randn(n, 16, generator=g, dtype=torch.float64) / math.sqrt(n)
    W2 = torch.randn(16, generator=g, dtype=torch.float64)

    def evaluate(masks: torch.Tensor) -> torch.Tensor:
        return torch.tanh(masks.to(torch.float64) @ W1 * 3.0) @ W2

    return evaluate


@pytest.mark.parametrize("n", range(2, 8))
def test_exact_equals_brute_force(n):
    v = torch.randn(1 << n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    E = mo.exact(v)
    assert E.shape == (n - 1, n, n)
    torch.testing.assert_close(E, brute_force(v, n), rtol=0, atol=1e-12)
    torch.testing.assert_close(E, E.transpose(-1, -2), rtol=0, atol=0)
    assert torch.all(E.diagonal(dim1=-2, dim2=-1) == 0)
    # the Harsanyi identity (Conventions page, eq-multiorder-harsanyi) gives the same numbers
    torch.testing.assert_close(mo.from_effects(tf.mobius(v)), E, rtol=0, atol=1e-11)
    torch.testing.assert_close(mo.exact(v, method="harsanyi"), E, rtol=0, atol=1e-11)


def test_exact_batched():
    v = torch.randn(2, 3, 1 << 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    E = mo.exact(v)
    assert E.shape == (2, 3, 4, 5, 5)
    torch.testing.assert_close(E[1, 2], mo.exact(v[1, 2]), rtol=0, atol=1e-14)
    assert mo.strength(E).shape == (2, 3, 4)


def test_planted_games():
    n = 8
    masks = tf.all_masks(n)
    # pure pair AND: I^(m)(0,1) = 1 at every order, all other pairs 0
    E = mo.exact(masks[:, 0] & masks[:, 1])
    assert torch.allclose(E[:, 0, 1], torch.ones(n - 1, dtype=torch.float64), atol=1e-12)
    E[:, [0, 1], [1, 0]] = 0
    assert E.abs().max() < 1e-12
    # triple AND {0,1,2}: I^(m)(0,1) = P(2 ∈ S) = m/(n−2)
    E = mo.exact(masks[:, 0] & masks[:, 1] & masks[:, 2])
    expected = torch.arange(n - 1, dtype=torch.float64) / (n - 2)
    torch.testing.assert_close(E[:, 0, 1], expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(E[:, 1, 2], expected, rtol=0, atol=1e-12)
    assert E[:, 0, 5].abs().max() < 1e-12


def test_order_average_equals_shapiq_sii():
    from shapiq import ExactComputer

    n = 7
    rng = np.random.default_rng(3)
    W = rng.normal(size=(n, 6))

    def game(coalitions):
        return np.tanh(coalitions.astype(float) @ W).sum(1) ** 2

    v = torch.as_tensor(game(tf.all_masks(n).numpy()))
    average = mo.exact(v).mean(0)  # mean over orders m = 0..n−2
    sii = ExactComputer(game, n_players=n)("SII", order=2).dict_values
    for i, j in itertools.combinations(range(n), 2):
        assert average[i, j].item() == pytest.approx(sii[(i, j)], abs=1e-10)


def test_sampled_within_confidence_interval_of_exact():
    n = 12
    evaluate = mlp_game(n, seed=5)
    E = mo.exact(evaluate(tf.all_masks(n)))
    res = mo.sample(evaluate, n, grid=(3, 4), n_pairs=15, contexts=100, seed=7, progress=False)
    m = res.orders
    assert m.tolist() == [int((n - 2) * r) for r in mo.REFERENCE_RATIOS]
    i, j = res.pairs[:, 0], res.pairs[:, 1]
    truth = E[m[None, :], i[:, None], j[:, None]]  # (P, K)
    err = (res.mean - truth).abs()
    assert torch.all(err <= 4 * res.sem + 1e-10), (err / res.sem).max()
    # m = 0 and m = n−2 have a single context: exact
    ends = (m == 0) | (m == n - 2)
    torch.testing.assert_close(res.mean[:, ends], truth[:, ends], rtol=0, atol=1e-12)
    # the estimator actually varies at middle orders (the test can fail)
    assert (res.sem[:, ~ends] > 0).all()
    torch.testing.assert_close(res.strength, res.mean.abs().mean(0))
    # pairs are grid neighbours at L∞ distance ≤ 2 on the 3×4 grid (row-major)
    ri, ci, rj, cj = i // 4, i % 4, j // 4, j % 4
    assert torch.all(torch.maximum((ri - rj).abs(), (ci - cj).abs()).le(2) & (i != j))


def test_sample_deterministic_and_explicit_pairs():
    n = 9
    evaluate = mlp_game(n, seed=1)
    a = mo.sample(evaluate, n, pairs=[(0, 1), (3, 8)], contexts=5, orders=[0, 3, 7], seed=2)
    b = mo.sample(evaluate, n, pairs=[(0, 1), (3, 8)], contexts=5, orders=[0, 3, 7],
                  generator=torch.Generator().manual_seed(2))
    assert torch.equal(a.mean, b.mean) and torch.equal(a.pairs, torch.tensor([[0, 1], [3, 8]]))
    c = mo.sample(evaluate, n, pairs=[(0, 1), (3, 8)], contexts=5, orders=[0, 3, 7], seed=2, unique=False)
    torch.testing.assert_close(a.mean, c.mean, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="orders"):
        mo.sample(evaluate, n, pairs=[(0, 1)], orders=[8])
    with pytest.raises(ValueError, match="pairs"):
        mo.sample(evaluate, n, pairs=[(2, 2)])
    with pytest.raises(ValueError, match="grid"):
        mo.sample(evaluate, n, grid=(2, 4))


def test_grid_pairs_neighbourhood():
    P = mo.grid_pairs((16, 16), 2000, generator=torch.Generator().manual_seed(0))
    i, j = P[:, 0], P[:, 1]
    d = torch.maximum((i // 16 - j // 16).abs(), (i % 16 - j % 16).abs())
    assert d.min() == 1 and d.max() == 2
    # an interior player has 24 neighbours, and all of them appear
    interior = P[i == 8 * 16 + 8]
    assert 0 < len(set(interior[:, 1].tolist())) <= 24


def test_reference_orders():
    rs = mo.REFERENCE_RATIOS
    assert mo.reference_orders(256) == [int(254 * r) for r in rs]
    assert mo.reference_orders(2) == [0] * len(rs)
    assert mo.reference_orders(92)[rs.index(0.7)] == 63  # plain int(90*0.7) gives 62


def test_strength_and_relative_strength():
    I = torch.zeros(3, 4, 4, dtype=torch.float64)
    I[0, 0, 1] = I[0, 1, 0] = -3.0
    I[2, 2, 3] = I[2, 3, 2] = 6.0
    torch.testing.assert_close(mo.strength(I), torch.tensor([0.5, 0.0, 1.0], dtype=torch.float64))
    S = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    torch.testing.assert_close(mo.relative_strength(S), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(mo.relative_strength(torch.tensor([1.0, 0.0, 2.0])),
                               torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="normalise"):
        mo.relative_strength(torch.zeros(2, 3))


@pytest.mark.parametrize("length", [1, 2])
def test_too_few_players(length):
    with pytest.raises(ValueError, match="n = 2"):
        mo.exact(torch.zeros(length))
    with pytest.raises(ValueError, match="power of two"):
        mo.exact(torch.zeros(3))
