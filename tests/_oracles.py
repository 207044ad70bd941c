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
