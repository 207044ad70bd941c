"""Compute (and cache) the protocol runs of one paper, one setup after another.

Usage: ``python -m papers.run_protocol A --scale book [--setups resnet20:mnist,...]`` (paper A:
the order profiles at initialisation, early and final; ``A3``: the CNN trained with each
order-steering preset and its profile, :mod:`papers.steering_a`; paper B: the games, the exact effects
and the lab SGD's effects, and for the image setups the misclassified samples' (Fig. 8) and the
noise levels' (Figs. 5 and 7)). Every stage is cached (``data/results``); a rerun skips what is
done, so an interrupted run loses at most the stage it was in (paper A's profiles: at most the
image it was in). Trains the models it needs
(:mod:`papers.reference`) when they are not stored yet.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from papers import protocol_a as PA
from papers import protocol_b as PB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m papers.run_protocol",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("paper", choices=("A", "A3", "B"))
    ap.add_argument("--scale", default="book", choices=("smoke", "book", "paper"))
    ap.add_argument("--setups", default=None, help="model:dataset,... (default: all of the scale)")
    ap.add_argument("--stages", default="final,init,early",
                    help="paper A: the stages to compute, in order (default: final,init,early)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.paper == "A3":
        from papers import steering_a as SA

        for s, lam in SA.runs(args.scale):
            t0 = time.perf_counter()
            _, res = SA.steered_run(s, lam, args.scale, progress=True)
            print(f"A3 {s or 'normal'} λ={lam:g}: {time.perf_counter() - t0:.0f} s; test acc "
                  f"{res['test_acc']:.4f}; J {np.round(res['J'], 2).tolist()}", flush=True)
    elif args.paper == "A":
        for s in PA.chosen_setups(args.scale, args.setups):
            for stage in args.stages.split(","):
                t0 = time.perf_counter()
                p = PA.profile(s, stage, progress=True)
                ok, why = PA.u_rule(p["ratios"], p["strength"], p["floor"])
                print(f"A {s.name} {stage}: {time.perf_counter() - t0:.0f} s; U rule {ok}: {why}",
                      flush=True)
    else:
        for s in PB.chosen_setups(args.scale, args.setups):
            for solver in PB.SOLVERS:
                t0 = time.perf_counter()
                res = PB.effects(s, solver)
                print(f"B {s.name} {solver}: {time.perf_counter() - t0:.0f} s; "
                      f"target test acc {res['target_test_acc']:.4f}; gate {PB.gate(res)}", flush=True)
            if isinstance(s, PB.TextSetupB):  # Figs. 5, 7 and 8 are run on the images
                continue
            for solver in PB.SOLVERS:
                t0 = time.perf_counter()
                res = PB.misclassified(s, solver)
                print(f"B {s.name} misclassified {solver}: {time.perf_counter() - t0:.0f} s; "
                      f"{len(res['indices'])} of {res['n_wrong']} misclassified test images",
                      flush=True)
            t0 = time.perf_counter()
            res = PB.noise(s)
            print(f"B {s.name} noise: {time.perf_counter() - t0:.0f} s; clean accuracy "
                  f"{res['clean_acc']:.4f}, values check {res['values_check']:.2g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
