"""The int8 CPU step: close to the fp32 step, chosen only where asked or where it pays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livegen.model import LSTMModel, ModelConfig
from livegen.steppers import make_stepper
from livegen.steppers.fused import FusedStep
from livegen.steppers.int8 import Int8Step, logit_error


def model(frame_input: bool = False, n_layer: int = 2, n_hidden: int = 64) -> LSTMModel:
    torch.manual_seed(0)
    return LSTMModel(
        ModelConfig(40, n_layer=n_layer, n_hidden=n_hidden, n_embd=16, frame_input=frame_input)
    ).eval()


@pytest.mark.parametrize("frame_input", [False, True])
def test_int8_logits_follow_fp32(frame_input):
    m = model(frame_input)
    assert logit_error(m, steps=32) < 0.03


def test_int8_state_is_carried_like_fp32():
    m = model()
    fp32, int8 = FusedStep(m), Int8Step(m)
    a, b = fp32.new_state(), int8.new_state()
    for tok in [1, 5, 9, 2, 2, 30]:
        fp32(tok, a)
        int8(tok, b)
    assert torch.allclose(a.h, b.h, atol=0.05) and torch.allclose(a.c, b.c, atol=0.1)
    assert not torch.equal(b.h, torch.zeros_like(b.h))


def test_make_stepper_precision():
    small = model()
    assert make_stepper(small, "cpu").name == "cpu-fused-fp32"  # small: fp32 fits in cache
    assert make_stepper(small, "cpu", "int8").name == "cpu-int8"
    assert make_stepper(small, "cpu", "fp32").name == "cpu-fused-fp32"
    with pytest.raises(ValueError, match="precision"):
        make_stepper(small, "cpu", "int4")


def test_auto_takes_int8_for_a_model_beyond_the_cache():
    big = model(n_layer=3, n_hidden=512)
    assert make_stepper(big, "cpu").name == "cpu-int8"


def test_a_token_outside_the_vocabulary_is_refused():
    step = Int8Step(model())
    with pytest.raises(IndexError):
        step(400, step.new_state())


def test_frames_accept_lists_and_arrays():
    m = model(frame_input=True)
    step = Int8Step(m)
    a = step([1, 3], step.new_state()).clone()
    frame = np.zeros(40, np.float32)
    frame[[1, 3]] = 1
    b = step(frame, step.new_state())
    assert torch.equal(a, b)


@pytest.mark.parametrize("frame_input", [False, True])
def test_int8_with_metric_input_follows_fp32(frame_input):
    """logit_error walks random positions too: the fp32 position table is added."""
    torch.manual_seed(0)
    cfg = ModelConfig(40, n_hidden=64, n_embd=16, frame_input=frame_input, metric=True)
    m = LSTMModel(cfg).eval()
    assert logit_error(m, steps=32) < 0.03
    int8 = Int8Step(m)
    x = np.zeros(40, np.float32) if frame_input else 3
    a = int8(x, int8.new_state(), 0).clone()
    assert not torch.allclose(a, int8(x, int8.new_state(), 5))
