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


@cuda
def test_cuda_graph_follows_a_style_change_without_a_new_capture():
    """The captured graph reads layer 0's bias in place: a new style needs no new graph."""
    from livegen.style import style_weights
    from tests.test_style import reference, style_model

    model = style_model()
    tokens = [3, 7, 0, 12, 5, 5, 0, 9]
    mix = style_weights(3, 1, 2, 0.4)
    want = reference(model, tokens, [style_weights(3, 0)] * 4 + [mix] * 4)
    stepper = CudaGraphStep(model.to("cuda"), "cuda")
    state = stepper.new_state()
    for t, tok in enumerate(tokens):
        if t == 4:
            graphs = dict(stepper._graphs)
            stepper.set_style(mix)
        got = stepper(tok, state)
        assert float((got - want[t]).abs().max()) < 1e-4, t
    assert stepper._graphs.keys() == graphs.keys()


def test_the_captured_cell_step_follows_a_style_written_into_its_bias():
    """On the CPU, what the graph captures: cell_step over CellWeights whose layer-0 bias
    set_style rewrites in place (the tensor the graph reads, not a new one)."""
    from livegen.steppers.torch_step import CellWeights, cell_step
    from livegen.style import default_weights, style_weights
    from tests.test_style import reference, style_model

    model = style_model()
    tokens = [3, 7, 0, 12, 5, 5, 0, 9]
    mix = style_weights(3, 1, 2, 0.4)
    want = reference(model, tokens, [style_weights(3, 0)] * 4 + [mix] * 4)
    weights = CellWeights.of(model, "cpu")
    weights.set_style(default_weights(model))
    bias = weights.layers[0][2]
    h, c = torch.zeros(2, 1, 32), torch.zeros(2, 1, 32)
    for t, tok in enumerate(tokens):
        if t == 4:
            weights.set_style(mix)
            assert weights.layers[0][2] is bias  # written in place
        got = cell_step(weights, torch.tensor([tok]), h, c)
        assert float((got - want[t]).abs().max()) < 1e-4, t
