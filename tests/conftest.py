"""Shared by every test directory: the hypothesis profiles and a seeded random generator.

The fixtures of tests/tui, tests/data and tests/integration stay where they are: each
sets up something only its own directory needs (a private config dir, a private cache,
a JACK server), so none is moved here.

``HYPOTHESIS_PROFILE`` picks a profile; the default, ``ci``, is derandomized (the same
examples on every run and machine) and has no deadline (two shared cores make timings
meaningless). ``dev`` searches anew on every run.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SEED = 20240601


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator seeded the same in every test, so a failure reproduces."""
    return np.random.default_rng(SEED)
