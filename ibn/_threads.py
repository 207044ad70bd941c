"""One thread for the library's small-tensor work, whatever the caller's thread settings.

The solvers' tensors hold 2^n entries per sample (n ≈ 10): far too little work to share between
threads, and on a busy machine (another process running torch on every core) two thread pools
spinning on the same cores wait on each other, which made a 0.1 s solve take 6–15 s. Inside
:func:`one_thread` torch and the BLAS libraries under numpy and scipy use one thread; the
caller's settings come back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["one_thread", "limit_process"]

_limited = False


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one torch thread and one BLAS thread; restore the caller's settings."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def limit_process() -> None:
    """One thread for the rest of this process's life (a worker process of the solvers: it
    already shares the CPUs with the other workers). Cheap after the first call."""
    global _limited
    if _limited:
        return
    from threadpoolctl import threadpool_limits

    import numpy  # noqa: F401  (load the BLAS libraries of numpy and scipy, to be limited)
    import scipy.linalg  # noqa: F401

    torch.set_num_threads(1)
    threadpool_limits(limits=1)
    _limited = True
