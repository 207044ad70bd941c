"""One process pool per session for the exact solvers, started on first use and then reused.

Starting a worker costs ~2 s (a fresh interpreter importing torch and ibn); a pool kept for the
session pays that once instead of on every ``extract`` call, which is what makes worker
processes worth it for batches of a few samples. The pool is shut down at exit, replaced if a
worker died or a different size is asked for, and killed when a call fails or is interrupted.
Workers keep the ``ibn`` code they imported: after editing the library in a running session,
call :func:`shutdown` (or restart) for the workers to see the change.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

_pool: ProcessPoolExecutor | None = None
_size = 0


def _init_worker() -> None:
    """One thread per worker, in torch and in the BLAS under numpy and scipy (the vertex
    polish's least squares): the workers already use one CPU each. Without the BLAS limit two
    workers on two CPUs solved the 50 ResNet-20 MNIST games of
    ``benchmarks/bench_mnist_extract.py`` 40 % slower each (10.2–10.8 s instead of 7.2–7.4 s
    for the 50, measured as two processes)."""
    import torch
    from threadpoolctl import threadpool_limits

    from . import fast  # noqa: F401  (loads the BLAS of numpy and of scipy, to be limited)

    torch.set_num_threads(1)
    threadpool_limits(limits=1)  # the libraries loaded now: numpy's, scipy's, torch's OpenMP


def get(workers: int) -> ProcessPoolExecutor:
    """The session's pool with ``workers`` processes (spawn context: safe with torch threads)."""
    global _pool, _size
    if _pool is None or _size != workers or getattr(_pool, "_broken", False):
        terminate()  # also replaces a pool whose worker died while idle
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                    initializer=_init_worker)
        _size = workers
    return _pool


def terminate() -> None:
    """Kill the workers now (after Ctrl-C: their current solves would otherwise run on)."""
    global _pool, _size
    if _pool is not None:
        for proc in list(getattr(_pool, "_processes", {}).values()):
            proc.kill()
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool, _size = None, 0


def shutdown() -> None:
    """Stop the pool's processes once they are idle (called at interpreter exit)."""
    global _pool, _size
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool, _size = None, 0


atexit.register(shutdown)
