"""Benchmark: ibn.transforms.mobius vs shapiq's exact Möbius transform, and mobius at n = 20.

Usage: python benchmarks/bench_transforms.py [--quick] [--threads T]

shapiq 1.4.1 (``ExactComputer(game, n)("Moebius")``) loops over all pairs T ⊆ S in Python
(3^n steps); ibn's butterfly does n·2^n vectorised adds. Game values are computed once
beforehand and not timed for either library. If shapiq would take more than --shapiq-limit
seconds at some n (predicted from the previous n by the 3^n law), it is not run and the
extrapolated time is printed, marked "(extrap.)".
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ibn import transforms as tf  # noqa: E402


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def make_game(n: int, seed: int = 0):
    W = np.random.default_rng(seed).normal(size=(n, 8))
    return lambda coalitions: np.tanh(coalitions.astype(float) @ W).sum(1)


def shapiq_moebius(n: int):
    from shapiq import ExactComputer

    computer = ExactComputer(make_game(n), n_players=n, evaluate_game=True)  # values: untimed
    t = time.perf_counter()
    result = computer("Moebius")
    return time.perf_counter() - t, result.dict_values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 10, 12 only for shapiq (14 extrapolated), n = 18 instead of 20")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--shapiq-limit", type=float, default=120.0, help="max seconds for one shapiq run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from importlib.metadata import version

    print(f"torch {torch.__version__} ({args.threads} thread(s)), shapiq {version('shapiq')}\n")
    print(f"{'n':>3} {'shapiq Moebius [s]':>20} {'ibn mobius [s]':>15} {'speed-up':>10} {'max |diff|':>11}")
    prev = None
    for n in (10, 12, 14):
        values = torch.as_tensor(make_game(n)(tf.all_masks(n).numpy()))
        ours = best_time(lambda: tf.mobius(values), 20)
        predicted = None if prev is None else prev * 3 ** (n - prev_n)
        skip = predicted is not None and (predicted > args.shapiq_limit or (args.quick and n == 14))
        if skip:
            theirs, label, diff = predicted, " (extrap.)", float("nan")
        else:
            theirs, ref = shapiq_moebius(n)
            I = tf.mobius(values)
            diff = max(abs(I[sum(1 << i for i in S)].item() - x) for S, x in ref.items())
            label = ""
            prev, prev_n = theirs, n
        shown = f"{theirs:.4f}{label}"
        print(f"{n:>3} {shown:>20} {ours:>15.6f} {theirs / ours:>9.0f}x {diff:>11.1e}")

    n = 18 if args.quick else 20
    values = torch.randn(1 << n, dtype=torch.float64)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = best_time(lambda: tf.mobius(values), 5)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vec = (1 << n) * 8 / 2**20
    print(f"\nibn mobius at n = {n}: {t * 1e3:.1f} ms (best of 5); one 2^{n} float64 vector = {vec:.0f} MiB, "
          f"output = 1 vector (input copied once); peak-RSS growth during the run {(rss1 - rss0) / 1024:.0f} MiB")
    print("target: >= 1000x faster than shapiq at n = 12")


if __name__ == "__main__":
    main()
