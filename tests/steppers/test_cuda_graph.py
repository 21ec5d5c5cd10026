"""The CUDA graph step against the CPU forward; these skip on a machine without CUDA."""

from __future__ import annotations

import pytest
import torch

from livegen.steppers import make_stepper
from livegen.steppers.cuda_graph import CudaGraphStep
from tests.steppers.helpers import cuda, make_model, random_input, random_positions, step_input


@cuda
@pytest.mark.parametrize("frame_input", [False, True])
def test_cuda_stepper_matches_cpu_forward(frame_input: bool) -> None:
    model = make_model(frame_input).eval()
    x = random_input(frame_input, batch=1, length=16)
    with torch.no_grad():
        ref, _ = model(x)  # (1, T, V) on the CPU
    stepper = make_stepper(model, "cuda")
    assert stepper.name == "cuda-graph"
    state = stepper.new_state()
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        for t in range(x.shape[1]):
            logits = stepper(step_input(x, t, frame_input), state)  # (V,) on the CPU
            assert (logits - ref[0, t]).abs().max().item() <= 1e-4


@cuda
def test_cuda_graph_step_keeps_two_states_apart() -> None:
    """The Player steps its state and its plan's fork alternately: one graph each."""
    model = make_model(False).eval()
    x = random_input(False, batch=1, length=12)
    with torch.no_grad():
        ref, _ = model(x)  # (1, T, V)
    stepper = CudaGraphStep(model, "cuda")
    a, b = stepper.new_state(), stepper.new_state()
    for t in range(x.shape[1]):
        got_a = stepper(int(x[0, t]), a).clone()
        got_b = stepper(int(x[0, t]), b).clone()
        assert (got_a - ref[0, t]).abs().max().item() <= 1e-4
        assert torch.equal(got_a, got_b)


@cuda
@pytest.mark.parametrize("frame_input", [False, True])
def test_cuda_stepper_with_metric_input_matches_cpu_forward(frame_input: bool) -> None:
    model = make_model(frame_input, metric=True).eval()
    x = random_input(frame_input, batch=1, length=16)
    pos = random_positions(1, 16)
    with torch.no_grad():
        ref, _ = model(x, pos=pos)  # (1, T, V) on the CPU
    stepper = make_stepper(model, "cuda")
    assert stepper.name == "cuda-graph"
    state = stepper.new_state()
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        for t in range(x.shape[1]):
            logits = stepper(step_input(x, t, frame_input), state, int(pos[0, t]))
            assert (logits - ref[0, t]).abs().max().item() <= 1e-4
