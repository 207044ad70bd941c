"""Train every image model of a scale's protocols, in order (each stored once; rerun to resume).

Usage: ``python -m papers.train_models --scale book [--only resnet20] [--k 5]``. Each model is
kept by the model store; an interrupted run resumes from its last finished epoch. One line per
model is printed: its name, seed, best epoch, validation and test accuracy, time.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from papers.reference import protocol_models, train_reference


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m papers.train_models", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="book", choices=("smoke", "book", "paper"))
    ap.add_argument("--k", type=int, default=5, help="baselines per paper-B setup (default 5)")
    ap.add_argument("--only", default=None, help="train only models whose name contains this")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for spec in protocol_models(args.scale, k=args.k):
        if args.only and args.only not in spec.name:
            continue
        t0 = time.perf_counter()
        _, info = train_reference(spec, device=args.device)
        print(f"{spec.name} seed {spec.seed}: best epoch {info['best_epoch']}/{spec.recipe.epochs}, "
              f"val {info['val_acc']:.4f}, test {info['test_acc']:.4f} "
              f"({time.perf_counter() - t0:.0f} s, torch threads {torch.get_num_threads()})",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
