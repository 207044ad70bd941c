"""Benchmark: a study on a Dask LocalCluster against the serial ``ibn.explain``, at n = 10.

Usage: python benchmarks/bench_study.py [--samples S] [--workers W] [--repeats R] [--threads T]

A small CNN (random weights: only the cost matters) on 1×28×28 inputs; players are 10 input
patches of a 7×7 grid (ibn.maskers.PatchMasker, zero baseline), as in bench_explain.py. The
serial path is ``ibn.explain(model, inputs, masker)`` in this process (values sample by sample,
then one batched ``extract``, which spreads the samples over its joblib worker processes); the
study is ``ibn.study.study({"cnn": model}, inputs, masker, client=...)`` on a LocalCluster of W
single-threaded worker processes (one task per sample: values and extraction of that sample).
Both are warmed up first (the cluster's start, its workers' imports and extract's worker
processes are not timed) and run in alternating rounds; the best round of each is compared.
Target: study / serial ≤ 1.3, and the effects identical bit for bit.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _models import small_cnn  # noqa: E402  (benchmarks/ is the script's folder)
import ibn  # noqa: E402
from ibn.maskers import PatchMasker  # noqa: E402
from ibn.study import study  # noqa: E402


def identical(a, b) -> bool:
    return all(torch.equal(getattr(a.result, k), getattr(b.result, k))
               for k in ("and_effects", "or_effects", "gamma", "delta", "objective", "zeta",
                         "lower_bound")) and torch.equal(a.targets, b.targets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--repeats", type=int, default=2, help="alternating rounds (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the serial path")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from distributed import Client, LocalCluster

    model = small_cnn()
    masker = PatchMasker(grid=7, n_players=10, central=5, seed=0)
    xs = torch.randn(args.samples, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as client:
        start = time.perf_counter() - t0
        ibn.explain(model, xs[:4], masker)  # warm: extract's worker processes
        study({"cnn": model}, xs[:4], masker, client=client)  # warm: the workers' imports
        serial_s, study_s = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            serial = ibn.explain(model, xs, masker)
            serial_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            out = study({"cnn": model}, xs, masker, client=client)
            study_s.append(time.perf_counter() - t)
    same = identical(out["cnn"], serial)
    b = args.samples
    s, d = min(serial_s) / b, min(study_s) / b
    print(f"{b} samples at n = 10, LocalCluster of {args.workers} single-threaded workers "
          f"(started in {start:.1f} s, not timed); best of {args.repeats} rounds")
    print(f"{'path':34s} {'s / sample':>10s}")
    print(f"{'serial ibn.explain':34s} {s:10.3f}")
    print(f"{'study on the cluster':34s} {d:10.3f}")
    print(f"ratio study / serial: {d / s:.2f} (target <= 1.3)")
    print(f"identical effects, delta, objective, bounds, targets: {same}")


if __name__ == "__main__":
    main()
