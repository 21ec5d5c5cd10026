"""Choosing a stepper: the fused CPU path by default, device names checked, check_stepper."""

from __future__ import annotations

import pytest
import torch

from livegen.device import DeviceError
from livegen.steppers import check_stepper, make_stepper
from livegen.steppers.fused import FusedStep
from tests.steppers.helpers import make_model


def test_make_stepper_picks_fused_on_cpu() -> None:
    model = make_model()
    assert make_stepper(model, "cpu").name == "cpu-fused-fp32"
    assert isinstance(make_stepper(model, torch.device("cpu")), FusedStep)
    # On CUDA "auto" is CUDA, where the graph step is taken when it passes its check.
    expected = "cuda-graph" if torch.cuda.is_available() else "cpu-fused-fp32"
    assert make_stepper(model, "auto").name == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_make_stepper_refuses_cuda_without_a_gpu() -> None:
    with pytest.raises(DeviceError, match="auto or cpu"):
        make_stepper(make_model(), "cuda")


@pytest.mark.parametrize("frame_input", [False, True])
def test_check_stepper_measures_the_difference(frame_input: bool) -> None:
    model = make_model(frame_input).eval()
    assert check_stepper(FusedStep(model), model) <= 1e-5
    other = make_model(frame_input).eval()
    with torch.no_grad():
        other.head.bias.add_(0.5)  # every logit off by exactly 0.5
    assert check_stepper(FusedStep(other), model) == pytest.approx(0.5, abs=1e-4)
