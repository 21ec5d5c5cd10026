"""The NumPy CPU step: equal to the forward pass, a snapshot of the weights, strict on input."""

from __future__ import annotations

import pytest
import torch

from livegen.steppers.fused import FusedStep
from tests.steppers.helpers import (
    CASES,
    N_POS,
    V,
    assert_key_tuples_equal_frames,
    assert_steps_like_forward,
    make_model,
)


@pytest.mark.parametrize(("frame_input", "n_layer"), CASES)
def test_forward_equals_fused_step(frame_input: bool, n_layer: int) -> None:
    assert_steps_like_forward(FusedStep, frame_input, n_layer)


def test_frame_stepper_takes_key_tuples() -> None:
    assert_key_tuples_equal_frames(FusedStep)


def test_fused_step_is_a_snapshot_and_forks() -> None:
    model = make_model()
    stepper = FusedStep(model)
    state = stepper.new_state()
    for tok in (3, 1, 4):
        stepper(tok, state)
    fork = stepper.new_state()
    stepper.copy_state(fork, state)
    a = stepper(5, state).clone()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the stepper must not see later changes to the model
    b = stepper(5, fork)
    assert torch.equal(a, b)
    assert torch.equal(state.h, fork.h) and torch.equal(state.c, fork.c)


def test_fused_step_rejects_out_of_vocabulary_tokens() -> None:
    stepper = FusedStep(make_model())
    with pytest.raises(IndexError):
        stepper(V, stepper.new_state())
    with pytest.raises(IndexError):
        stepper(-1, stepper.new_state())


@pytest.mark.parametrize(("frame_input", "n_layer"), CASES)
def test_fused_step_with_metric_input_equals_forward(frame_input: bool, n_layer: int) -> None:
    assert_steps_like_forward(FusedStep, frame_input, n_layer, metric=True)


def test_fused_step_position_changes_the_logits_and_is_checked() -> None:
    """The position row is really added (so the test above could fail), and bounded."""
    stepper = FusedStep(make_model(metric=True))
    a = stepper(3, stepper.new_state(), 0).clone()
    b = stepper(3, stepper.new_state(), 1)
    assert not torch.allclose(a, b)
    with pytest.raises(IndexError):
        stepper(3, stepper.new_state(), N_POS)
