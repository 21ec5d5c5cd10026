"""What every batch-1 stepper shares: the Stepper protocol, its input type, frame packing.

Kept apart from ``livegen/steppers/__init__.py`` so that each stepper module can import
these without importing the package that chooses between them (no import cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from torch import Tensor

from livegen.model import State

StepInput = int | Tensor | np.ndarray | Sequence[int]


class Stepper(Protocol):
    """What the player steps: one token (or frame) in, logits (V,) out, state updated in place.

    The logits returned are the stepper's own CPU buffer, overwritten by the next call:
    copy them to keep them. A stepper is a snapshot of the model's weights when it was made.
    """

    name: str

    def new_state(self) -> State: ...

    def copy_state(self, dst: State, src: State) -> None: ...

    def __call__(self, x: StepInput, state: State) -> Tensor: ...


def frame_keys(x: Sequence[int], out: np.ndarray) -> None:
    """Write a pianoroll token (sorted key indices) into ``out`` as a multi-hot frame."""
    out.fill(0.0)
    if len(x):
        out[list(x)] = 1.0
