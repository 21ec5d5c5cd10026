"""One call that holds torch and every BLAS/OpenMP thread pool in the process to n threads.

livegen's live step is a chain of small GEMVs at batch 1: extra threads only add
hand-offs, and on a shared machine a second thread waiting for a busy core collapses
the step (OpenBLAS's default pool ran 75x slower, p50 11.7 ms against 0.16 ms a tick).
``OPENBLAS_NUM_THREADS`` only takes effect if set before NumPy is first imported;
threadpoolctl sets the limit inside the libraries already loaded, whatever came first.
"""

from __future__ import annotations

import numpy  # noqa: F401  (loads its BLAS, so that threadpoolctl finds and limits it)
import torch
from threadpoolctl import threadpool_limits

# The limiter stays referenced so the limit is never undone by collecting it (a limiter
# can restore the original counts); one process-wide limit at a time.
_limiter: threadpool_limits | None = None


def limit_threads(n: int = 1) -> None:
    """Limit torch's intra-op threads and every loaded BLAS/OpenMP pool to ``n`` threads.

    BLAS pools are process-wide; torch re-applies its count in each thread that runs an
    op. A library loaded after this call is not limited: call it after the imports.
    """
    global _limiter
    if n < 1:
        raise ValueError(f"thread limit must be >= 1, got {n}")
    torch.set_num_threads(n)
    _limiter = threadpool_limits(limits=n)
