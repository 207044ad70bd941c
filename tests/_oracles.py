"""Brute-force oracles shared by the tests."""

import itertools

import torch


def brute_force(v: torch.Tensor, n: int) -> torch.Tensor:
    """I^(m)(i,j) = E_{S⊆N\\{i,j}, |S|=m} Δv(i,j,S) by enumeration."""
    out = torch.zeros(n - 1, n, n, dtype=torch.float64)
    for i, j in itertools.permutations(range(n), 2):
        others = [k for k in range(n) if k not in (i, j)]
        for m in range(n - 1):
            deltas = []
            for S in itertools.combinations(others, m):
                s = sum(1 << k for k in S)
                deltas.append(v[s | 1 << i | 1 << j] - v[s | 1 << i] - v[s | 1 << j] + v[s])
            out[m, i, j] = sum(deltas) / len(deltas)
    return out


def random_effects(n: int, samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded N(0, 1) AND and OR effects (samples, 2^n), the OR bias I_∅ set to 0."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(samples, 1 << n, generator=g, dtype=torch.float64)
    o = torch.randn(samples, 1 << n, generator=g, dtype=torch.float64)
    o[:, 0] = 0.0
    return a, o


def square_images(n_train: int, n_test: int):
    """A stand-in for ``ibn.data.load_images``: class c = a bright 8×8 square at one of 10
    places of a 32×32 image, plus noise (learnable in a few steps); ``n_train``/``n_test``
    images in the training/test split."""

    def load(dataset: str, split: str, size: int = 32):
        n = n_train if split == "train" else n_test
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        y = torch.arange(n) % 10
        x = 0.3 * torch.randn(n, 1, 32, 32, generator=g)
        for i, c in enumerate(y.tolist()):
            r, col = 4 + 12 * (c // 5), 2 + 6 * (c % 5)
            x[i, 0, r:r + 8, col:col + 4] += 2.0
        return x, y

    return load
