"""Benchmark: ``ibn.explain`` end to end against the sum of its parts timed alone, at n = 10.

Usage: python benchmarks/bench_explain.py [--samples S] [--repeats R] [--threads T]

A small CNN (random weights: only the cost matters) on 1×28×28 inputs; players are 10 input
patches of a 7×7 grid (ibn.maskers.PatchMasker, zero baseline). The parts are what ``explain``
does: ``ibn.games.all_values`` per sample (2^10 = 1024 masked forward passes each, the same target
classes), then one batched ``ibn.and_or.extract`` call. ``explain`` adds one forward pass per
sample (the predicted class), the players' names and the result object. Both are warmed up first
(extract's worker processes start once per session) and run in alternating rounds; the best
round of each is compared. Target: explain / parts ≤ 1.1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _models import small_cnn  # noqa: E402  (benchmarks/ is the script's folder)
import ibn  # noqa: E402
from ibn import games  # noqa: E402
from ibn.and_or import extract  # noqa: E402
from ibn.maskers import PatchMasker  # noqa: E402


def parts(model, xs, masker, targets, batch_size: int) -> tuple[float, float, torch.Tensor]:
    """Seconds of all_values (every sample) and of one batched extract, and the AND effects."""
    t0 = time.perf_counter()
    values = torch.stack([games.all_values(model, x, masker, target=int(t), batch_size=batch_size,
                                           progress=False) for x, t in zip(xs, targets)])
    t1 = time.perf_counter()
    res = extract(values)
    return t1 - t0, time.perf_counter() - t1, res.and_effects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model = small_cnn()
    masker = PatchMasker(grid=7, n_players=10, central=5, seed=0, batch_size=args.batch_size)
    xs = torch.rand(args.samples, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    print(f"torch {torch.__version__}, {args.threads} thread(s), n = {masker.n_players} players, "
          f"{args.samples} samples, batch size {args.batch_size}")

    t0 = time.perf_counter()  # warm-up: imports, kernels, extract's worker processes
    warm = ibn.explain(model, xs[:4], masker, batch_size=args.batch_size)
    parts(model, xs[:4], masker, warm.targets, args.batch_size)
    print(f"warm-up (not counted): {time.perf_counter() - t0:.1f} s\n")

    rows = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        expl = ibn.explain(model, xs, masker, batch_size=args.batch_size)
        t_explain = time.perf_counter() - t0
        targets = expl.targets
        t_values, t_extract, and_effects = parts(model, xs, masker, targets, args.batch_size)
        same = torch.equal(and_effects, expl.result.and_effects)
        rows.append((t_explain, t_values, t_extract, same))
        print(f"round {r}: explain {t_explain:6.2f} s | all_values {t_values:6.2f} s + extract "
              f"{t_extract:6.2f} s = {t_values + t_extract:6.2f} s | ratio "
              f"{t_explain / (t_values + t_extract):.3f} | same effects: {same}")
    best_explain = min(r[0] for r in rows)
    best_parts = min(r[1] + r[2] for r in rows)
    print(f"\nbest of {args.repeats}: explain {best_explain:.2f} s, parts {best_parts:.2f} s "
          f"(all_values {min(r[1] for r in rows):.2f} s, extract {min(r[2] for r in rows):.2f} s), "
          f"ratio {best_explain / best_parts:.3f} (target <= 1.1)")
    if not all(r[3] for r in rows):
        print("WARNING: explain's effects differ from the parts'")


if __name__ == "__main__":
    main()
