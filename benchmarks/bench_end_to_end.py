"""Benchmark: model → 2^n values → AND-OR interactions, end to end, at n = 10 players.

Usage: python benchmarks/bench_end_to_end.py [--quick] [--threads T] [--samples S] [--batched]

A small CNN (random weights: only the cost matters) on a 1×28×28 input; players are 10 input
patches of a 7×7 grid (ibn.maskers.PatchMasker, zero baseline). Per sample we time
``ibn.games.all_values`` (2^10 = 1024 masked forward passes) and ``ibn.and_or.extract`` on the
values, and report the share of the total spent inside the model's forward calls.
``--batched``: the values of all samples first, then one ``extract`` call on the batch (how a
study of many samples runs; extract's worker processes start once per session, timed apart).
Target: ≥ 90 % of the time in forward passes (the interaction maths should be negligible).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _models import small_cnn  # noqa: E402  (benchmarks/ is the script's folder)
from ibn import games  # noqa: E402
from ibn.maskers import PatchMasker  # noqa: E402


class Timed(nn.Module):
    """Wraps a model and accumulates the wall time of its forward calls."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.seconds, self.calls = inner, 0.0, 0

    def forward(self, x):
        t = time.perf_counter()
        out = self.inner(x)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out


def load_extract():
    try:
        from ibn.and_or import extract
    except ImportError as err:
        print(f"ibn.and_or.extract not available ({err}); timing all_values only\n")
        return None
    return extract


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one sample")
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--solver", default="auto", help="ibn.and_or.extract solver (auto, fast, lp, sgd)")
    ap.add_argument("--batched", action="store_true",
                    help="one extract call on all samples' values instead of one per sample")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = 1 if args.quick else args.samples

    model = Timed(small_cnn()).eval()
    masker = PatchMasker(grid=7, n_players=10, central=5, seed=0, batch_size=args.batch_size)
    extract = load_extract()
    g = torch.Generator().manual_seed(1)
    # warm-up (first-call allocations, kernel selection)
    x = torch.rand(1, 28, 28, generator=g)
    v0 = games.all_values(model, x, masker, target=0, batch_size=args.batch_size, progress=False)
    if extract is not None:
        t = time.perf_counter()
        extract(v0, solver=args.solver)
        print(f"warm-up extract (imports, LP structure caches): {time.perf_counter() - t:.2f} s, not counted")

    print(f"torch {torch.__version__}, {args.threads} thread(s), n = {masker.n_players} players, "
          f"batch size {args.batch_size}, extract solver {args.solver!r}\n")
    if args.batched and extract is not None:
        batched(model, masker, extract, args, samples, g)
        return
    print(f"{'sample':>6} {'all_values [s]':>15} {'forward [s]':>12} {'extract [s]':>12} {'total [s]':>10} {'forward share':>14}")
    tot = {"values": 0.0, "fwd": 0.0, "extract": 0.0}
    for s in range(samples):
        x = torch.rand(1, 28, 28, generator=g)
        model.seconds = 0.0
        t0 = time.perf_counter()
        values = games.all_values(model, x, masker, target=s % 10, batch_size=args.batch_size, progress=False)
        t1 = time.perf_counter()
        if extract is not None:
            extract(values, solver=args.solver)
        t2 = time.perf_counter()
        total = t2 - t0
        print(f"{s:>6} {t1 - t0:>15.4f} {model.seconds:>12.4f} {t2 - t1:>12.4f} {total:>10.4f} "
              f"{100 * model.seconds / total:>13.1f}%")
        tot["values"] += t1 - t0
        tot["fwd"] += model.seconds
        tot["extract"] += t2 - t1
    total = tot["values"] + tot["extract"]
    print(f"{'all':>6} {tot['values']:>15.4f} {tot['fwd']:>12.4f} {tot['extract']:>12.4f} {total:>10.4f} "
          f"{100 * tot['fwd'] / total:>13.1f}%")
    if extract is None:
        print("(extract not timed: ibn.and_or.extract missing)")
    print("target: forward share >= 90 %")


def batched(model, masker, extract, args, samples: int, g: torch.Generator) -> None:
    """All samples' values, then one extract call on the batch (worker start-up timed apart)."""
    from ibn.and_or.synthetic import planted_game

    t0 = time.perf_counter()
    extract(planted_game(10, batch=4, seed=1).values, solver=args.solver)
    t_start = time.perf_counter() - t0
    model.seconds = 0.0
    t0 = time.perf_counter()
    values = torch.stack([
        games.all_values(model, torch.rand(1, 28, 28, generator=g), masker, target=s % 10,
                         batch_size=args.batch_size, progress=False)
        for s in range(samples)])
    t_values = time.perf_counter() - t0
    t0 = time.perf_counter()
    extract(values, solver=args.solver)
    t_extract = time.perf_counter() - t0
    total = t_values + t_extract
    print(f"{'stage':<30}{'seconds':>9}{'per sample':>12}{'share':>8}")
    for name, t in (("all_values (forward calls)", model.seconds),
                    ("all_values (masking, rest)", t_values - model.seconds),
                    ("extract (one batched call)", t_extract), ("total", total)):
        print(f"{name:<30}{t:>9.2f}{t / samples:>12.3f}{t / total:>8.1%}")
    print(f"extract's worker start-up and a first batch of 4 (once per session, not above): "
          f"{t_start:.1f} s; with it the forward share is {model.seconds / (total + t_start):.1%}")
    print("target: forward share >= 90 %")


if __name__ == "__main__":
    main()
