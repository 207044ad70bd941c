"""Compute (and cache) the protocol runs of one paper, one setup after another.

Usage: ``python -m papers.run_protocol A --scale book [--setups resnet20:mnist,...]`` (paper A:
the order profiles at initialisation, early and final; ``A3``: the CNN trained with each
order-steering preset and its profile, :mod:`papers.steering_a`; paper B: for an image setup
each model's stage first (:func:`papers.protocol_b.model_stage`: all that needs its weights),
then the games, the misclassified samples' games (Fig. 8), the noise levels (Figs. 5 and 7),
the exact effects and the lab SGD's effects). Every stage is cached (``data/results``); a rerun
skips what is done, so an interrupted run loses at most the stage it was in (paper A's
profiles: at most the image it was in). Trains the models it needs (:mod:`papers.reference`)
when they are not stored yet.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable

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
            _run_b(s)
    return 0


def _run_b(s: PB.SetupB | PB.TextSetupB) -> None:
    """Paper B's stages of one setup: for an image setup each model's stage first, the target's
    then the baselines' (:func:`papers.protocol_b.model_stage`: all that needs its weights), so
    that the games, the misclassified samples' games, the noise levels and the extractions need
    no model."""
    def timed(label: str, fn: Callable[[], dict], summary: Callable[[dict], str]) -> None:
        t0 = time.perf_counter()
        res = fn()
        print(f"B {s.name} {label}: {time.perf_counter() - t0:.0f} s; {summary(res)}", flush=True)

    image = not isinstance(s, PB.TextSetupB)  # Figs. 5, 7 and 8 are run on the images
    for spec in [s.target(), *s.baselines()] if image else []:
        timed(f"{spec.role} {spec.seed}", functools.partial(PB.model_stage, s, spec, progress=True),
              lambda r: f"accuracy {r['test_acc']:.4f}")
    timed("games", lambda: PB.games(s, progress=True),
          lambda r: f"target test acc {r['target_test_acc']:.4f}")
    if image:
        timed("misclassified games", lambda: PB.misclassified_games(s, progress=True),
              lambda r: f"{len(r['indices'])} of {r['n_wrong']} misclassified test images")
        timed("noise", lambda: PB.noise(s, progress=True),
              lambda r: f"clean accuracy {r['clean_acc']:.4f}, values check {r['values_check']:.2g}")
    for solver in PB.SOLVERS:
        timed(solver, functools.partial(PB.effects, s, solver), lambda r: f"gate {PB.gate(r)}")
        if image:
            timed(f"misclassified {solver}", functools.partial(PB.misclassified, s, solver),
                  lambda r: f"{len(r['indices'])} samples")


if __name__ == "__main__":
    sys.exit(main())
