"""Benchmark: the decay model M(δ)·I* (paper B Thm 3.1) and the decay + spindle fit (eq. 10).

Usage: python benchmarks/bench_distributions.py [--quick] [--threads T]

Targets: M(δ)·I at n = 16 in under 1 s on 2 CPU cores (the dense M(δ) would be a 2^16 × 2^16
float64 matrix, 32 GiB, and its solve O(8^n)); one disentangling fit at n = 10 (50 samples of
I*, AND + OR) in under 5 s. The dense Appendix-I formula is timed at small n for reference.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ibn.distributions import DecayModel, Strengths, decay_and, decay_or, disentangle, spindle_curve  # noqa: E402
from ibn.transforms import orders  # noqa: E402


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def dense_m(n: int, delta: float, kind: str) -> torch.Tensor:
    idx = torch.arange(1 << n)
    t, s = idx[:, None], idx[None, :]
    j = (((s & t) == s) if kind == "and" else ((s & t) != 0)).double()
    g = j.T @ j
    return torch.linalg.solve(g + (2**n) * torch.diag((2.0 ** orders(n).double()) * delta), g)


def normal_residual(kind: str, x: torch.Tensor, hat: torch.Tensor, delta: float) -> float:
    """‖(JᵀJ + 2^n diag(c)) Î − JᵀJ I*‖ / ‖JᵀJ I*‖, matrix-free (J via ibn.transforms)."""
    from ibn.transforms import or_zeta, zeta, zeta_transpose

    n = x.shape[-1].bit_length() - 1
    if kind == "and":
        gram = lambda v: zeta_transpose(zeta(v))  # noqa: E731
    else:
        def gram(v):
            u = or_zeta(v)
            return u.sum(-1, keepdim=True) - torch.flip(zeta(u), dims=(-1,))
    d = delta * (2**n) * (2.0 ** orders(n).double())
    rhs = gram(x)
    return float((gram(hat) + d * hat - rhs).norm() / rhs.norm())


def effects(n: int, batch: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    scale = 0.6 ** orders(n).double()
    a = (torch.randn(batch, 1 << n, generator=gen, dtype=torch.float64) + 0.3) * scale
    o = (torch.randn(batch, 1 << n, generator=gen, dtype=torch.float64) - 0.2) * scale
    o[:, 0] = 0.0
    return a, o


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, dense reference at n = 8 only")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the small per-δ tensors do not gain from more, and a loaded 2-core machine loses)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reps = 1 if args.quick else 3
    print(f"torch {torch.__version__} ({args.threads} thread(s))\n")

    print("M(δ)·I*, δ = 0.01 (one sample unless stated; 'normal-eq res' checks Î against the ridge")
    print("normal equations of Thm 3.1 matrix-free, 'max rel diff' against the dense Appendix-I formula)")
    print(f"{'n':>3} {'kind':>4} {'batch':>5} {'fast [s]':>10} {'dense [s]':>10} {'dense M size':>13} {'max rel diff':>13} {'normal-eq res':>13}")
    ns = [8, 16] if args.quick else [8, 10, 12, 14, 16, 18]
    for n in ns:
        for kind in ("and", "or"):
            a, o = effects(n, 1)
            x = a if kind == "and" else o
            fn = (lambda: decay_and(x, 0.01)) if kind == "and" else (lambda: decay_or(x, 0.01))
            fast = best_time(fn, reps)
            size = (1 << n) ** 2 * 8
            size_s = f"{size / 2**30:.3g} GiB" if size >= 2**30 else f"{size / 2**20:.3g} MiB"
            dense_s = diff_s = "-"
            if n <= (8 if args.quick else 10):
                t = time.perf_counter()
                ref = x @ dense_m(n, 0.01, kind).T
                dense_s = f"{time.perf_counter() - t:.3f}"
                diff_s = f"{float((fn() - ref).abs().max() / x.abs().max()):.1e}"
            res = normal_residual(kind, x, fn(), 0.01)
            print(f"{n:>3} {kind:>4} {1:>5} {fast:>10.4f} {dense_s:>10} {size_s:>13} {diff_s:>13} {res:>13.1e}")
    for n, batch in ((10, 50), (16, 8)):
        a, o = effects(n, batch)
        t = best_time(lambda: DecayModel(a, o)(0.01), reps)
        print(f"{n:>3} {'both':>4} {batch:>5} {t:>10.4f} {'-':>10} {'-':>13} {'-':>13} {'-':>13}")
    target = best_time(lambda: DecayModel(*effects(16, 1))(0.01), reps)
    print(f"\nTARGET M(δ)·I at n = 16 (AND + OR, incl. setup): {target:.3f} s  (target < 1 s)"
          f"  {'OK' if target < 1 else 'MISSED'}")

    print("\nDisentangling fit (eq. 10), n = 10, 50 samples of I* (AND + OR), planted parameters")
    n = 10
    a, o = effects(n, 50, seed=1)
    alpha, delta, gamma = 0.6, 1e-3, 2.0
    dec = DecayModel(a, o).strengths(delta, gamma=gamma)
    sp = spindle_curve(n, alpha)
    beta = 0.7 * float(dec.plus[1:].max() / sp[1:].max())
    sp = beta * sp
    sp[0] = 0.0
    measured = Strengths(dec.plus + sp, dec.minus - sp)
    measured.plus[0] = measured.minus[0] = 0.0
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = disentangle(measured, a, o)
        times.append(time.perf_counter() - t)
    print(f"{'':>10} {'alpha':>8} {'beta':>10} {'delta':>10} {'gamma':>8}")
    print(f"{'planted':>10} {alpha:>8.4f} {beta:>10.4f} {delta:>10.3e} {gamma:>8.4f}")
    print(f"{'fitted':>10} {fit.alpha:>8.4f} {fit.beta:>10.4f} {fit.delta:>10.3e} {fit.gamma:>8.4f}"
          f"   R² = {fit.r2:.6f}, ok = {fit.ok}")
    print(f"\nTARGET one fit at n = 10: {min(times):.3f} s  (target < 5 s)"
          f"  {'OK' if min(times) < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
