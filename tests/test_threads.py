"""limit_threads holds every BLAS/OpenMP pool to one thread even when NumPy came first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Run in a fresh process: this one has imported NumPy and livegen already and may hold
# limits from earlier tests. NumPy (and torch, with its OpenMP) is imported before livegen,
# the case that OPENBLAS_NUM_THREADS cannot cover; every pool is first raised to 2 threads,
# so that a limit_threads that did nothing would leave them at 2 and fail the check.
SCRIPT = """
import json
import numpy
import torch
from threadpoolctl import threadpool_info, threadpool_limits

threadpool_limits(2)
before = threadpool_info()
from livegen.threads import limit_threads

limit_threads(1)
print(json.dumps({"before": before, "after": threadpool_info(), "torch": torch.get_num_threads()}))
"""


def test_limit_threads_holds_every_pool_to_one_thread() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout.splitlines()[-1])
    before = {p["filepath"]: p["num_threads"] for p in seen["before"]}
    after = {p["filepath"]: p["num_threads"] for p in seen["after"]}
    assert any(p["user_api"] == "blas" for p in seen["after"]), seen["after"]  # NumPy's BLAS
    assert all(n == 2 for n in before.values()), before  # the check below can fail
    assert before.keys() <= after.keys()
    assert all(n == 1 for n in after.values()), after
    assert seen["torch"] == 1


def test_limit_threads_refuses_zero() -> None:
    import pytest

    from livegen.threads import limit_threads

    with pytest.raises(ValueError):
        limit_threads(0)
