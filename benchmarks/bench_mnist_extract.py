"""Benchmark: AND-OR interactions of N MNIST test samples on the trained ResNet-20, n = 10.

Usage: python benchmarks/bench_mnist_extract.py [--samples 50] [--solver auto] [--threads 2]

Needs the weights written by ``benchmarks/bench_mnist_resnet20.py`` (data/models/resnet20_mnist.pt).
Players: 10 input patches drawn (seed 0) from the central 6×6 of an 8×8 grid, zero baseline
(after standardisation); reward: log-odds of the true label. Prints the time spent in
``ibn.games.all_values`` (forward passes), in ``ibn.and_or.extract`` (solver), and their shares;
the start-up of extract's worker processes (once per session) is timed first and reported
apart, with the share it would give if counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ibn import games  # noqa: E402
from ibn.and_or import extract  # noqa: E402
from ibn.and_or.synthetic import planted_game  # noqa: E402
from ibn.data import load_mnist, to_float_images  # noqa: E402
from ibn.models import build  # noqa: E402
from ibn.maskers import PatchMasker  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--solver", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-jobs", type=int, default=None,
                    help="solver processes (default: extract's own choice)")
    ap.add_argument("--weights", default="data/models/resnet20_mnist.pt")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    saved = torch.load(args.weights, weights_only=False)
    model = build(saved["model"], **saved["kwargs"])
    model.load_state_dict(saved["state_dict"])
    model.eval()
    pre = saved["preprocess"]
    images, labels = load_mnist("test")
    x = to_float_images(images[: args.samples], size=pre["size"], mean=pre["mean"], std=pre["std"])
    masker = PatchMasker(grid=8, n_players=10, central=6, seed=0)

    # extract's worker processes start once per session (a fresh interpreter importing torch):
    # timed here on a first small batch, reported apart from the per-sample costs
    t0 = time.perf_counter()
    extract(planted_game(10, batch=4, seed=1).values, solver=args.solver)
    t_start = time.perf_counter() - t0

    t0 = time.perf_counter()
    values = torch.stack([
        games.all_values(model, x[i], masker, target=int(labels[i]), progress=False)
        for i in range(args.samples)
    ])
    t_forward = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = extract(values, solver=args.solver, n_jobs=args.n_jobs)
    t_solver = time.perf_counter() - t0
    total = t_forward + t_solver
    print(f"samples={args.samples} n=10 solver={args.solver} threads={args.threads} "
          f"n_jobs={args.n_jobs or 'default'}")
    methods = Counter(i.get("method", "?") for i in result.info)
    print("methods:", dict(methods), "fallbacks at samples:",
          [k for k, i in enumerate(result.info) if i.get("method") in ("sparse-lp", "linprog")])
    print(f"{'stage':<28}{'seconds':>10}{'per sample':>12}{'share':>8}")
    for name, t in (("all_values (forward passes)", t_forward), ("extract (solver)", t_solver),
                    ("total", total)):
        print(f"{name:<28}{t:>10.1f}{t / args.samples:>12.2f}{t / total:>8.1%}")
    cold = total + t_start
    print(f"worker start-up and a first batch of 4 (once per session, not above): {t_start:.1f} s; "
          f"with it the forward share is {t_forward / cold:.1%}")
    print(f"mean objective {result.objective.mean():.4f}; max certified gap "
          f"{float(result.gap.max()) if result.gap is not None else float('nan'):.2e}")


if __name__ == "__main__":
    main()
