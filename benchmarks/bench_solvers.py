"""Benchmark the AND-OR solvers of ibn.and_or on the same games, in one run.

For each n, on planted sparse games with noise inside the bound (ibn.and_or.synthetic.planted_game,
noise = 0.5ζ) and on "realistic" games (values of a small random ReLU MLP on masked inputs,
ibn.and_or.synthetic.mlp_game), runs

* the default solver ("fast": row and column generation seeded by a batched ADMM estimate, or
  interior point when that estimate predicts a dense optimum, + certified dual bound), with
  extract's default workers (one process per CPU for at least 4 samples at n >= 10);
* "lp": the full sparse-butterfly LP through scipy.optimize.linprog(method="highs"), sample by sample;
* "sgd": the lab's procedure (20 000 steps by default), batched over the samples of that game
  family (its per-sample time is the batch time divided by the batch size, stated in the table);
  ``--sgd-single`` also times one sample alone (batch size 1, as the lab's per-sample loop runs).

and prints: n, game, solver, seconds per sample, mean objective, max objective/LP ratio, the
certified gap (objective/lower bound − 1, max over samples), and the speed ratios vs sgd and lp.

Usage: python benchmarks/bench_solvers.py [--quick] [--ns 8 10 12] [--samples 4] [--steps 20000]
Timing is wall-clock in this process (torch limited to --threads threads, default 2).
"""

from __future__ import annotations

import argparse
import time

import torch

from ibn.and_or import extract
from ibn.and_or.synthetic import mlp_game, planted_game


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _games(n: int, samples: int, seed: int):
    planted = planted_game(n, batch=samples, n_and=6, n_or=6, noise=0.5, seed=seed).values
    realistic = mlp_game(n, batch=samples, seed=seed)
    return {"planted": planted, "mlp": realistic}


def run(ns, samples, steps, seed, sgd_single, skip_lp_above):
    rows = []
    warm = planted_game(4, batch=1).values  # imports and first calls outside the timings
    for solver in ("fast", "lp"):
        extract(warm, solver=solver)
    extract(warm, solver="sgd", steps=10)
    if max(ns) >= 10 and samples >= 4:  # extract's worker processes start once per session
        t0 = time.perf_counter()
        extract(planted_game(10, batch=samples, seed=seed).values, solver="fast")
        print(f"# worker pool start-up and a first n = 10 batch: {time.perf_counter() - t0:.1f} s "
              "(once per session, not in the timings)")
    for n in ns:
        for game, values in _games(n, samples, seed + n).items():
            b = values.shape[0]
            fast, t_fast = _timed(lambda: extract(values, solver="fast"))
            if n <= skip_lp_above:
                lp, t_lp = _timed(lambda: extract(values, solver="lp"))
            else:
                lp, t_lp = None, float("nan")
            sgd, t_sgd = _timed(lambda: extract(values, solver="sgd", steps=steps))
            per = {"fast": t_fast / b, "lp": t_lp / b, f"sgd(batch={b})": t_sgd / b}
            results = {"fast": fast, "lp": lp, f"sgd(batch={b})": sgd}
            if sgd_single:
                one, t_one = _timed(lambda: extract(values[:1], solver="sgd", steps=steps))
                per["sgd(batch=1)"] = t_one
                results["sgd(batch=1)"] = one
            ref = lp.objective if lp is not None else fast.objective
            before = len(rows)
            for name, res in results.items():
                if res is None:
                    continue
                obj = res.objective if not name.startswith("sgd(batch=1)") else res.objective
                r = ref[: obj.shape[0]]
                ratio = float((obj / r).max()) if bool((r > 0).all()) else float("nan")
                gap = float(res.gap.max()) if name in ("fast", "lp") else float("nan")
                rows.append({
                    "n": n, "game": game, "solver": name, "s/sample": per[name],
                    "objective": float(obj.mean()), "obj/LP": ratio, "cert. gap": gap,
                    "x vs sgd": per[f"sgd(batch={b})"] / per[name],
                    "x vs lp": per["lp"] / per[name],
                })
            print(_table(rows[before:], header=not any(r["n"] < n for r in rows)
                         and game == "planted"), flush=True)
    return rows


def _table(rows, header=True):
    cols = ["n", "game", "solver", "s/sample", "objective", "obj/LP", "cert. gap", "x vs sgd",
            "x vs lp"]
    fmt = {"n": "{:>3}", "game": "{:<8}", "solver": "{:<13}", "s/sample": "{:>9.3f}",
           "objective": "{:>10.4f}", "obj/LP": "{:>9.6f}", "cert. gap": "{:>9.1e}",
           "x vs sgd": "{:>8.1f}", "x vs lp": "{:>7.2f}"}
    width = {"n": 3, "game": 8, "solver": 13, "s/sample": 9, "objective": 10, "obj/LP": 9,
             "cert. gap": 9, "x vs sgd": 8, "x vs lp": 7}
    lines = []
    if header:
        lines.append(" ".join(c.rjust(width[c]) if c not in ("game", "solver") else
                              c.ljust(width[c]) for c in cols))
    for r in rows:
        lines.append(" ".join(fmt[c].format(r[c]) for c in cols))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="n = 6, 8; 2 samples; 20 000 sgd steps")
    p.add_argument("--ns", type=int, nargs="+", default=[8, 10, 12])
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--steps", type=int, default=20_000, help="sgd steps (default 20 000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sgd-single", action="store_true",
                   help="also time sgd on one sample alone (batch size 1)")
    p.add_argument("--skip-lp-above", type=int, default=12,
                   help="skip the full LP for n above this (it is the slow reference)")
    args = p.parse_args(argv)
    if args.quick:
        args.ns, args.samples = [6, 8], 2
    torch.set_num_threads(args.threads)
    print(f"# ibn.and_or solvers; {args.samples} samples per game; sgd {args.steps} steps, "
          f"batched over the samples; torch threads {args.threads}")
    run(args.ns, args.samples, args.steps, args.seed, args.sgd_single, args.skip_lp_above)


if __name__ == "__main__":
    main()
