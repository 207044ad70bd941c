"""Oracle tests of ibn.transforms: dense brute force, definitions, shapiq's ExactComputer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibn import transforms as tf


def popcount(x: int) -> int:
    return bin(x).count("1")


def dense_mobius(n: int) -> torch.Tensor:
    """M[S, T] = (−1)^{|S|−|T|} [T ⊆ S] (test oracle only)."""
    N = 1 << n
    M = torch.zeros(N, N, dtype=torch.float64)
    for S in range(N):
        for T in range(N):
            if T & S == T:
                M[S, T] = (-1) ** (popcount(S) - popcount(T))
    return M


def dense_zeta(n: int) -> torch.Tensor:
    """Z[T, S] = [S ⊆ T]."""
    N = 1 << n
    return torch.tensor([[float(S & T == S) for S in range(N)] for T in range(N)], dtype=torch.float64)


@pytest.mark.parametrize("n", range(13))
def test_mobius_zeta_round_trip(n):
    g = torch.Generator().manual_seed(n)
    u = torch.randn(3, 1 << n, generator=g, dtype=torch.float64)
    torch.testing.assert_close(tf.zeta(tf.mobius(u)), u, rtol=0, atol=1e-10)
    torch.testing.assert_close(tf.mobius(tf.zeta(u)), u, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n", range(7))
def test_mobius_equals_dense_enumeration(n):
    u = torch.randn(2, 1 << n, generator=torch.Generator().manual_seed(10 + n), dtype=torch.float64)
    M, Z = dense_mobius(n), dense_zeta(n)
    torch.testing.assert_close(tf.mobius(u), u @ M.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(tf.zeta(u), u @ Z.T, rtol=0, atol=1e-12)
    # transposes equal the dense transposes
    torch.testing.assert_close(tf.mobius_transpose(u), u @ M, rtol=0, atol=1e-12)
    torch.testing.assert_close(tf.zeta_transpose(u), u @ Z, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_or_pair_equals_definition(n):
    N = (1 << n) - 1
    u = torch.randn(1 << n, generator=torch.Generator().manual_seed(20 + n), dtype=torch.float64)
    I = tf.or_mobius(u)
    brute = torch.zeros(1 << n, dtype=torch.float64)
    for S in range(1, 1 << n):  # I_S = −Σ_{T⊆S} (−1)^{|S|−|T|} u_{N\T}, I_∅ = 0
        brute[S] = -sum((-1) ** (popcount(S) - popcount(T)) * u[N & ~T] for T in range(1 << n) if T & S == T)
    torch.testing.assert_close(I, brute, rtol=0, atol=1e-12)
    # u_T = Σ_{S∩T≠∅} I_S, by enumeration
    eff = torch.randn(1 << n, generator=torch.Generator().manual_seed(30 + n), dtype=torch.float64)
    eff[0] = 0.0
    brute_u = torch.tensor([sum(eff[S] for S in range(1 << n) if S & T) for T in range(1 << n)],
                           dtype=torch.float64)
    torch.testing.assert_close(tf.or_zeta(eff), brute_u, rtol=0, atol=1e-12)
    # round trips (the OR game has u_∅ = 0)
    u[0] = 0.0
    torch.testing.assert_close(tf.or_zeta(tf.or_mobius(u)), u, rtol=0, atol=1e-12)
    torch.testing.assert_close(tf.or_mobius(tf.or_zeta(eff)), eff, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 6, 8])
def test_mobius_equals_shapiq(n):
    from shapiq import ExactComputer

    rng = np.random.default_rng(n)
    W = rng.normal(size=(n, 5))

    def game(coalitions: np.ndarray) -> np.ndarray:  # column i = player i
        h = np.tanh(coalitions.astype(float) @ W)
        return np.sin(h.sum(1)) + h[:, 0] * h[:, 1]

    values = torch.as_tensor(game(tf.all_masks(n).numpy()))  # our order: bit i = player i
    ours = tf.mobius(values)
    theirs = ExactComputer(game, n_players=n)("Moebius").dict_values
    assert len(theirs) == 1 << n
    for players, value in theirs.items():
        S = sum(1 << i for i in players)
        assert ours[S].item() == pytest.approx(value, abs=1e-10), players


@pytest.mark.parametrize("length", [0, 3, 6, 12])
def test_bad_lengths_raise(length):
    x = torch.zeros(2, length)
    for f in (tf.mobius, tf.zeta, tf.mobius_transpose, tf.zeta_transpose, tf.or_mobius, tf.or_zeta):
        with pytest.raises(ValueError, match="power of two"):
            f(x)


def test_masks_index_round_trip():
    masks = tf.all_masks(5)
    assert torch.equal(tf.masks_to_index(masks), torch.arange(32))
    assert masks[0b00110].tolist() == [False, True, True, False, False]
    assert torch.equal(tf.orders(5), masks.sum(1))


def test_coalition_members_and_label_round_trip():
    assert tf.coalition() == 0 and tf.coalition(0, 2) == 0b101 and tf.coalition(2, 2, 0) == 0b101
    assert tf.members(0) == () and tf.members(0b1011) == (0, 1, 3)
    assert tf.coalition_label(0) == "{}" and tf.coalition_label(0b101) == "{0, 2}"
    for mask in range(1 << 6):
        assert tf.coalition(*tf.members(mask)) == mask
    # the bitmask indexes the row of all_masks that marks the same players
    masks = tf.all_masks(4)
    assert torch.nonzero(masks[tf.coalition(1, 3)]).flatten().tolist() == [1, 3]
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            tf.coalition(bad)
    with pytest.raises(ValueError):
        tf.members(-3)
