"""What every batch-1 stepper shares: the Stepper protocol, its input type, frame packing.

Kept apart from ``livegen/steppers/__init__.py`` so that each stepper module can import
these without importing the package that chooses between them (no import cycle).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from livegen import metric
from livegen.model import LSTMModel, State

StepInput = int | Tensor | np.ndarray | Sequence[int]


class Stepper(Protocol):
    """What the player steps: one token (or frame) in, logits (V,) out, state updated in place.

    ``pos`` is the token's position index in the bar (livegen/metric.py); a model
    without metric input ignores it.

    The logits returned are the stepper's own CPU buffer, overwritten by the next call:
    copy them to keep them. A stepper is a snapshot of the model's weights when it was made.
    """

    name: str

    def new_state(self) -> State: ...

    def copy_state(self, dst: State, src: State) -> None: ...

    def __call__(self, x: StepInput, state: State, pos: int = 0) -> Tensor: ...

    def set_style(self, weights) -> None:
        """A style model's style input (S,) from the next step on (others: no-op)."""


def frame_keys(x: Sequence[int], out: np.ndarray) -> None:
    """Write a pianoroll token (sorted key indices) into ``out`` as a multi-hot frame."""
    out.fill(0.0)
    if len(x):
        out[list(x)] = 1.0


def split_metric(model: LSTMModel, w_ih0: Tensor) -> tuple[Tensor, Tensor | None]:
    """Layer 0's input weights without the metric columns, and those columns as a table.

    A metric model's layer-0 input is [embedding | position features]; the features are
    one-hots fixed by the config, so their projection ``features @ W_pos^T`` is a table
    (P, 4H), PyTorch's gate order, biases not included: a step adds one row of it. For a
    model without metric input: ``(w_ih0, None)``.
    """
    cfg = model.cfg
    if not cfg.metric:
        return w_ih0, None
    feats = torch.from_numpy(metric.features(cfg.metric_tpq, cfg.metric_beats))  # (P, F)
    n_in = w_ih0.shape[1] - feats.shape[1]
    table = feats.to(w_ih0.dtype) @ w_ih0[:, n_in:].T  # (P, 4H)
    return w_ih0[:, :n_in], table


def check_pos(pos: int, n_positions: int) -> int:
    """A position index, checked: a bad one would read another row of the table."""
    p = operator.index(pos)
    if not 0 <= p < n_positions:
        raise IndexError(f"position {p} outside 0..{n_positions - 1}")
    return p


def tanh_gate_order(hidden: int) -> tuple[Tensor, Tensor]:
    """Row order i, f, o, g from PyTorch's i, f, g, o, and the scale that pre-halves the
    i, f, o rows: sigmoid(x) = (1 + tanh(x / 2)) / 2, so the fused steps take one tanh
    over all four gates. Returns ``(perm, scale)``, both (4H,), scale in float64."""
    H = hidden
    perm = torch.cat(
        [torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)]
    )
    scale = torch.ones(4 * H, dtype=torch.float64)
    scale[: 3 * H] = 0.5
    return perm, scale
