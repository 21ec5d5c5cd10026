"""The generic step and the hand-written cell the CUDA graph captures, both on the CPU."""

from __future__ import annotations

import pytest
import torch

from livegen.steppers.torch_step import CellWeights, TorchStep, cell_step
from tests.steppers.helpers import (
    CASES,
    assert_key_tuples_equal_frames,
    assert_steps_like_forward,
    make_model,
    random_input,
    random_positions,
)


@pytest.mark.parametrize(("frame_input", "n_layer"), CASES)
def test_forward_equals_torch_step(frame_input: bool, n_layer: int) -> None:
    assert_steps_like_forward(TorchStep, frame_input, n_layer)


def test_frame_stepper_takes_key_tuples() -> None:
    assert_key_tuples_equal_frames(TorchStep)


@pytest.mark.parametrize("frame_input", [False, True])
def test_cell_step_by_hand_matches_forward(frame_input: bool) -> None:
    """The arithmetic the CUDA graph captures, checked on the CPU (the graph needs a GPU)."""
    model = make_model(frame_input).eval()
    x = random_input(frame_input, batch=1, length=16)
    with torch.no_grad():
        ref, _ = model(x)  # (1, T, V)
    weights = CellWeights.of(model, "cpu")
    state = model.initial_state(1)
    with torch.inference_mode():
        for t in range(x.shape[1]):
            xt = x[:, t] if frame_input else x[:, t].reshape(1)  # (1, V) or (1,)
            logits = cell_step(weights, xt, state.h, state.c)  # (V,)
            assert (logits - ref[0, t]).abs().max().item() <= 1e-5


@pytest.mark.parametrize(("frame_input", "n_layer"), CASES)
def test_torch_step_with_metric_input_equals_forward(frame_input: bool, n_layer: int) -> None:
    assert_steps_like_forward(TorchStep, frame_input, n_layer, metric=True)


@pytest.mark.parametrize("frame_input", [False, True])
def test_cell_step_with_metric_input_matches_forward(frame_input: bool) -> None:
    """What the CUDA graph captures, run on the CPU with a position per tick."""
    model = make_model(frame_input, metric=True).eval()
    x = random_input(frame_input, batch=1, length=12)
    pos = random_positions(1, 12)
    with torch.no_grad():
        ref, _ = model(x, pos=pos)  # (1, T, V)
    weights = CellWeights.of(model, "cpu")
    state = model.initial_state(1)
    with torch.inference_mode():
        for t in range(x.shape[1]):
            xt = x[:, t] if frame_input else x[:, t].reshape(1)  # (1, V) or (1,)
            logits = cell_step(weights, xt, state.h, state.c, pos[0, t : t + 1])  # (V,)
            assert (logits - ref[0, t]).abs().max().item() <= 1e-5
