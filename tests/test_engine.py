"""The engine in a user's hands: plain scripts, worker processes, threads, batch invariance,
bad options and checked results of :func:`ibn.and_or.extract` and its neighbours."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ibn import games, multiorder
from ibn import transforms as tf
from ibn.and_or import extract, n_jobs_for
from ibn.and_or.synthetic import mlp_game, planted_game

ROOT = Path(__file__).resolve().parents[1]


def _run_script(code: str, tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` as a plain script file (no main guard), as a user would."""
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _noisy_planted(seeds, n: int = 10) -> torch.Tensor:
    return torch.cat([planted_game(n, n_and=15, n_or=15, noise_sd=0.01, seed=s).values
                      for s in seeds])


# ------------------------------------------------------------------------------ plain scripts
@pytest.mark.slow
def test_plain_script_without_main_guard_runs_batches(tmp_path):
    """Worker processes must not re-run the user's script (it has no main guard)."""
    out = _run_script("""
        import torch
        from ibn.and_or import extract
        from ibn.and_or.synthetic import planted_game

        print("script body runs")
        for batch in (1, 4, 16):
            v = planted_game(10, batch=batch, n_and=6, n_or=6, seed=batch).values
            r = extract(v, n_jobs=2)
            print("batch", batch, r.objective.shape, float(r.gap.max()) < 1e-6)
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("script body runs") == 1  # not re-run by any worker
    assert "batch 16 torch.Size([16]) True" in out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_readme_quick_use_runs_as_a_script(tmp_path):
    """The README's "Quick use" block, copied into a file as it stands, runs."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick use\n\n```python\n(.*?)```", readme, re.S)
    assert block, "README has no Quick use python block"
    explain = re.search(r"Or in one call.*?```python\n(.*?)```", readme, re.S)
    assert explain, "README has no explain block after Quick use"
    code = (block.group(1) + "\nprint('objective', result.objective)\n" + explain.group(1)
            + "\nprint('top', len(expl.top(5)), (tmp := ibn.load('x.ibn')).n)\n")
    out = _run_script("import matplotlib\nmatplotlib.use('Agg')\n" + code, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "objective" in out.stdout and "top 5 10" in out.stdout


@pytest.mark.slow
def test_ctrl_c_leaves_no_worker_behind(tmp_path):
    import psutil

    script = tmp_path / "long.py"
    script.write_text(textwrap.dedent("""
        import sys
        from ibn.and_or import extract
        from ibn.and_or.synthetic import mlp_game

        v = mlp_game(11, batch=40, seed=1)
        print("start", flush=True)
        extract(v, n_jobs=2, dense_method="simplex")
    """))
    # Ctrl-C with its default meaning in the child, even when the tests run as a background
    # job of a non-interactive shell (started with SIGINT ignored, which a child inherits)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == "start"
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [c for c in parent.children(recursive=True)
                       if "python" in " ".join(c.cmdline())]
            time.sleep(0.2)
        assert workers, "no worker process started"
        time.sleep(3)  # the workers are solving
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"workers left running: {[p.pid for p in alive]}"


# ------------------------------------------------------------------- processes and threads
def test_n_jobs_default_and_joblib_context():
    import joblib

    cpus = joblib.cpu_count()
    assert n_jobs_for(None, 1, 10) == 1
    assert n_jobs_for(None, 3, 10) == 1  # too few samples to repay the workers' start-up
    assert n_jobs_for(None, 64, 8) == 1
    assert n_jobs_for(None, 64, 10) == min(cpus, 64)
    assert n_jobs_for(None, 2, 10) <= 2  # never more processes than samples
    assert n_jobs_for(-1, 64, 10) == min(cpus, 64)
    assert n_jobs_for(3, 2, 10) == 2
    with joblib.parallel_config(n_jobs=1):
        assert n_jobs_for(None, 64, 10) == 1
    with joblib.parallel_config(n_jobs=3):
        assert n_jobs_for(None, 64, 8) == 3


@pytest.mark.slow
def test_workers_are_reused_and_give_the_same_bits():
    import joblib

    def worker_pids() -> set[int]:  # through the same reusable joblib executor as extract's
        return set(joblib.Parallel(n_jobs=2)(joblib.delayed(_pid_after)(0.2) for _ in range(8)))

    v = _noisy_planted(range(6))
    one = extract(v, n_jobs=1)
    two = extract(v, n_jobs=2)
    pids = worker_pids()
    again = extract(v, n_jobs=2, progress=True)
    assert len(pids) == 2 and worker_pids() == pids  # started once, reused
    for r in (two, again):
        assert torch.equal(r.and_effects, one.and_effects)
        assert torch.equal(r.or_effects, one.or_effects)


@pytest.mark.slow
def test_a_dead_idle_worker_does_not_break_the_next_call():
    import joblib

    v = _noisy_planted(range(4))
    first = extract(v, n_jobs=2)
    pids = set(joblib.Parallel(n_jobs=2)(joblib.delayed(_pid_after)(0.2) for _ in range(8)))
    os.kill(next(iter(pids)), signal.SIGKILL)
    time.sleep(0.5)
    again = extract(v, n_jobs=2)
    assert torch.equal(again.and_effects, first.and_effects)


def test_worker_threads_are_limited():
    """Inside a worker the library's work runs on one torch and one BLAS thread, even where
    joblib would give each worker several."""
    import joblib
    from threadpoolctl import threadpool_info

    from ibn.and_or import _in_worker

    def probe():
        return torch.get_num_threads(), [lib["num_threads"] for lib in threadpool_info()]

    with joblib.parallel_config(backend="loky", inner_max_num_threads=2):
        seen = joblib.Parallel(n_jobs=2)(joblib.delayed(_in_worker)(probe) for _ in range(2))
    for torch_threads, blas in seen:
        assert torch_threads == 1 and blas and all(t == 1 for t in blas)


def test_estimate_runs_on_one_thread_and_the_setting_comes_back(monkeypatch):
    import ibn.and_or.fast as fast

    seen = []
    real = fast.admm_estimate

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(fast, "admm_estimate", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        extract(_noisy_planted([1]), n_jobs=1)
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# -------------------------------------------------------------------------- batch invariance
@pytest.mark.slow
def test_effects_do_not_depend_on_the_batch():
    """A game alone and in batches of 8 and 16 with other games: the same vertex, bit for bit."""
    games_ = torch.cat([_noisy_planted(range(8)),
                        planted_game(10, batch=8, n_and=6, n_or=6, seed=5).values])
    whole = extract(games_)  # 16 samples, worker processes
    eight = extract(games_[[3, 9, 0, 12, 5, 15, 1, 7]], n_jobs=1)
    for k, i in enumerate([3, 9, 0, 12, 5, 15, 1, 7]):
        alone = extract(games_[i])
        assert torch.equal(alone.and_effects, whole.and_effects[i])
        assert torch.equal(alone.or_effects, whole.or_effects[i])
        assert torch.equal(alone.and_effects, eight.and_effects[k])
        assert torch.equal(alone.delta, eight.delta[k])


# ------------------------------------------------------------------------------ bad options
_BAD_EXACT = [
    (dict(tol=float("nan")), "tol must be a number in"),
    (dict(tol=1.0), "tol must be a number in"),
    (dict(tol=float("inf")), "tol must be a number in"),
    (dict(tol=1e-3), "tol must be a number in"),
    (dict(tol=-1e-9), "tol must be a number in"),
    (dict(time_limit=0), "time_limit must be a number in"),
    (dict(time_limit=-1.0), "time_limit must be a number in"),
    (dict(time_limit=float("nan")), "time_limit must be a number in"),
    (dict(n_jobs=0), "n_jobs must be a non-zero integer"),
    (dict(n_jobs=1.5), "n_jobs must be a non-zero integer"),
    (dict(n_jobs="auto"), "n_jobs must be a non-zero integer"),
]
_BAD_FAST = [
    (dict(dense_fraction=0.0), "dense_fraction must be a number in"),
    (dict(max_rounds=0), "max_rounds must be an integer in"),
]


@pytest.mark.parametrize("solver, options, match",
                         [("auto", o, m) for o, m in _BAD_EXACT + _BAD_FAST]
                         + [("lp", o, m) for o, m in _BAD_EXACT])
def test_bad_exact_options_name_the_argument(solver, options, match):
    with pytest.raises((ValueError, TypeError), match=match):
        extract(torch.randn(2, 16, dtype=torch.float64), solver=solver, **options)


@pytest.mark.parametrize("options, match", [
    (dict(steps=0), "steps must be an integer in"),
    (dict(steps=2.5), "steps must be an integer in"),
    (dict(lr=float("nan")), "lr must be a number in"),
    (dict(lr=0.0), "lr must be a number in"),
    (dict(momentum=1.0), "momentum must be a number in"),
    (dict(momentum=-0.1), "momentum must be a number in"),
    (dict(progress="yes"), "progress must be True or False"),
    (dict(preset="nope"), "preset must be one of"),
])
def test_bad_sgd_options_name_the_argument(options, match):
    with pytest.raises((ValueError, TypeError), match=match):
        extract(torch.randn(2, 16, dtype=torch.float64), solver="sgd", **options)


def test_bad_values_for_every_entry_point():
    empty = torch.zeros(0, 16, dtype=torch.float64)
    nan = torch.zeros(16, dtype=torch.float64)
    nan[5] = float("nan")
    for fn in (extract, multiorder.exact):
        with pytest.raises(ValueError, match="empty batch"):
            fn(empty)
        with pytest.raises(ValueError, match="scalar"):
            fn(torch.tensor(1.0))
        with pytest.raises(ValueError, match=r"finite; non-finite entries at coalition mask indices \[5\]"):
            fn(nan)
    with pytest.raises(ValueError, match="finite"):
        multiorder.exact(torch.full((2, 8), float("inf")))


def test_bad_options_of_sample_and_all_values():
    f = lambda masks: masks.sum(-1).double()  # noqa: E731
    for kwargs, match in [(dict(contexts=0), "contexts must be an integer in"),
                          (dict(contexts=2.5), "contexts must be an integer in"),
                          (dict(n_pairs=0), "n_pairs must be an integer in"),
                          (dict(ratios=[0.0, 1.5]), "ratios must be a number in"),
                          (dict(ratios=[float("nan")]), "ratios must be a number in")]:
        with pytest.raises((ValueError, TypeError), match=match):
            multiorder.sample(f, 6, **kwargs)
    with pytest.raises(ValueError, match="at least n = 2"):
        multiorder.sample(f, 1)
    with pytest.raises(TypeError, match="evaluate must be a function"):
        multiorder.sample("model", 6)
    for kwargs, match in [(dict(n=-1), "n must be an integer in"),
                          (dict(n=2.5), "n must be an integer in"),
                          (dict(n=3, batch_size=0), "batch_size must be an integer in"),
                          (dict(n=3, batch_size=1.5), "batch_size must be an integer in"),
                          (dict(n=3, progress="no"), "progress must be True or False")]:
        with pytest.raises((ValueError, TypeError), match=match):
            games.all_values(f, **kwargs)


# ---------------------------------------------------------------------------- checked results
def test_a_result_that_fails_its_checks_is_not_returned(monkeypatch):
    """If the solver hands back a point off universal matching (as HiGHS did at loose
    tolerances), extract raises instead of calling it optimal."""
    import ibn.and_or.fast as fast

    real = fast.solve_fast

    def broken(r, zeta, n, **kwargs):
        out = real(r, zeta, n, **kwargs)
        out["and_eff"] = out["and_eff"].copy()
        out["and_eff"][3] += 0.5  # the effects no longer reproduce v − δ
        return out

    v = planted_game(6, batch=1, seed=2).values[0]
    monkeypatch.setattr(fast, "solve_fast", broken)
    with pytest.raises(RuntimeError, match="universal matching off by .*not returned as optimal"):
        extract(v, n_jobs=1)


def test_results_are_checked_on_real_games():
    """Universal matching and the certificate hold for every returned sample."""
    v = torch.cat([_noisy_planted([0, 3]), mlp_game(10, batch=2, seed=4)])
    r = extract(v, n_jobs=1)
    masks = tf.all_masks(10)
    h = r.predict(masks)
    assert torch.allclose(h, v - r.delta, rtol=0, atol=1e-9)
    assert bool((r.delta.abs() <= r.zeta[:, None] * (1 + 1e-12) + 1e-12).all())
    assert bool((r.gap.abs() <= 1e-6).all())
    assert np.all([i["method"] in ("rowgen", "ipm", "trivial", "sparse-lp", "linprog")
                   for i in r.info])
