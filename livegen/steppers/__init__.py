"""Batch-1 steppers: what the player calls once per token, and the choice between them.

Live play steps one token (or frame) at a time at batch 1, where eager ``nn.LSTM`` is
mostly dispatch overhead, so :func:`make_stepper` hands the player the fastest correct
path for the device: :class:`FusedStep` on the CPU (or :class:`Int8Step` for a model
too big for cache), :class:`CudaGraphStep` on CUDA, :class:`TorchStep` as the fallback.
Each is a snapshot of the model's weights; :func:`check_stepper` measures one against
the model's own forward pass.
"""

from __future__ import annotations

import copy
import warnings

import torch

from livegen.device import resolve_device
from livegen.model import LSTMModel
from livegen.steppers import int8
from livegen.steppers.base import StepInput, Stepper
from livegen.steppers.cuda_graph import CudaGraphStep
from livegen.steppers.fused import FusedStep
from livegen.steppers.int8 import Int8Step
from livegen.steppers.torch_step import TorchStep
from livegen.style import default_weights

__all__ = [
    "PRECISIONS",
    "CudaGraphStep",
    "FusedStep",
    "Int8Step",
    "StepInput",
    "Stepper",
    "TorchStep",
    "check_stepper",
    "make_stepper",
]

PRECISIONS = ("auto", "fp32", "int8")


def check_stepper(stepper: Stepper, model: LSTMModel, steps: int = 8, tol: float = 1e-3) -> float:
    """Largest logit difference between ``stepper`` and the model's forward on the CPU."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(0)
    if cfg.frame_input:
        x = (torch.rand(1, steps, cfg.vocab_size, generator=gen) < 0.1).float()  # (1, T, V)
    else:
        x = torch.randint(0, cfg.vocab_size, (1, steps), generator=gen)  # (1, T)
    # Positions walk the bar as ticks would, so a metric model's table rows are checked too.
    pos = torch.arange(steps).reshape(1, steps) % (cfg.metric_beats * cfg.metric_tpq)  # (1, T)
    cpu = copy.deepcopy(model).to("cpu").eval()
    # A stepper of a style model starts in its first style (livegen/style.py).
    w = default_weights(model)
    style = None if w is None else torch.as_tensor(w).reshape(1, -1)  # (1, S)
    with torch.inference_mode():
        ref, _ = cpu(x, pos=pos, style=style)  # (1, T, V)
    state = stepper.new_state()
    worst = 0.0
    for t in range(steps):
        xt = x[0, t] if cfg.frame_input else int(x[0, t])
        got = stepper(xt, state, int(pos[0, t]))
        worst = max(worst, float((got.cpu() - ref[0, t]).abs().max()))
    return worst


def make_stepper(
    model: LSTMModel, device: torch.device | str = "cpu", precision: str = "auto"
) -> Stepper:
    """The fastest correct batch-1 stepper for ``device`` ("cpu", "cuda[:n]" or "auto").

    CPU: :class:`FusedStep` ("cpu-fused-fp32"), or with ``precision`` "int8" the int8
    step ("cpu-int8", :mod:`livegen.steppers.int8`); "auto" takes int8 only for a model
    whose weights no longer fit in cache and whose int8 logits stay within 1% of fp32's.
    CUDA: :class:`CudaGraphStep` ("cuda-graph"), checked against the model's own forward
    before use; if capture fails or the check does not hold, :class:`TorchStep`
    ("torch-step") with a warning. A device name this machine cannot serve is a
    :class:`~livegen.device.DeviceError`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if isinstance(device, str):
        device = resolve_device(device)
    kind = torch.device(device).type
    if kind == "cpu":
        if precision == "int8" or (
            precision == "auto"
            and int8.weight_bytes(model) > int8.BIG
            and int8.logit_error(model, steps=16) <= int8.MAX_LOGIT_ERROR
        ):
            return Int8Step(model)
        return FusedStep(model)
    if kind == "cuda":
        try:
            stepper = CudaGraphStep(model, device)
            worst = check_stepper(stepper, model)
            if worst <= 1e-3:
                return stepper
            problem = f"its logits differ from the model's by {worst:.2g}"
        except Exception as err:  # a driver or capture problem must not stop play
            problem = f"{type(err).__name__}: {err}"
        warnings.warn(f"CUDA graph step unusable ({problem}); using torch-step", stacklevel=2)
    return TorchStep(model, device)
