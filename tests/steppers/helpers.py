"""Small seeded models and inputs shared by the stepper tests, and the checks they share."""

from __future__ import annotations

import pytest
import torch

from livegen.model import LSTMModel, ModelConfig

V = 40  # vocabulary (keys for the frame model)
TOL = 1e-5

CASES = [
    pytest.param(False, 2, id="embedding-2layer"),
    pytest.param(True, 2, id="frame-2layer"),
    pytest.param(False, 1, id="embedding-1layer"),
    pytest.param(True, 3, id="frame-3layer"),
]

# Metric input (livegen/metric.py): 3 ticks per quarter, bars of up to 4 beats.
METRIC_TPQ, METRIC_BEATS = 3, 4
N_POS = METRIC_TPQ * METRIC_BEATS

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def make_model(
    frame_input: bool = False, n_layer: int = 2, dropout: float = 0.0, metric: bool = False
) -> LSTMModel:
    torch.manual_seed(0)
    cfg = ModelConfig(
        V,
        n_layer=n_layer,
        n_hidden=48,
        n_embd=16,
        dropout=dropout,
        frame_input=frame_input,
        metric=metric,
        metric_tpq=METRIC_TPQ,
        metric_beats=METRIC_BEATS,
    )
    return LSTMModel(cfg)


def random_positions(batch: int, length: int) -> torch.Tensor:
    """Position indices (B, T) that jump about the bar (as a song position jump may)."""
    g = torch.Generator().manual_seed(2)
    return torch.randint(0, N_POS, (batch, length), generator=g)


def random_input(frame_input: bool, batch: int, length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if frame_input:
        return (torch.rand(batch, length, V, generator=g) < 0.15).float()  # (B, T, V)
    return torch.randint(0, V, (batch, length), generator=g)  # (B, T)


def step_input(x: torch.Tensor, t: int, frame_input: bool):
    """What the player hands a stepper at tick t of stream 0: an int, or a frame."""
    return x[0, t] if frame_input else int(x[0, t])


def assert_steps_like_forward(
    stepper_cls, frame_input: bool, n_layer: int, metric: bool = False, tol: float = TOL
) -> None:
    """Stepping 24 ticks gives the forward pass's logits and final state, within ``tol``."""
    model = make_model(frame_input, n_layer, metric=metric).eval()
    x = random_input(frame_input, batch=1, length=24)
    pos = random_positions(1, 24)  # (1, T)
    with torch.no_grad():
        ref, ref_state = model(x, pos=pos)  # (1, T, V)
    stepper = stepper_cls(model)
    state = stepper.new_state()
    for t in range(x.shape[1]):
        logits = stepper(step_input(x, t, frame_input), state, int(pos[0, t]))  # (V,)
        assert logits.shape == (V,)
        assert (logits - ref[0, t]).abs().max().item() <= tol
    assert (state.h - ref_state.h).abs().max().item() <= tol
    assert (state.c - ref_state.c).abs().max().item() <= tol


def assert_key_tuples_equal_frames(stepper_cls) -> None:
    """A pianoroll token (a tuple of keys) steps exactly like its dense frame."""
    model = make_model(frame_input=True).eval()
    x = random_input(True, batch=1, length=10)
    stepper = stepper_cls(model)
    dense, keys = stepper.new_state(), stepper.new_state()
    for t in range(x.shape[1]):
        a = stepper(x[0, t], dense).clone()
        token = tuple(torch.nonzero(x[0, t]).flatten().tolist())
        b = stepper(token, keys)
        assert torch.equal(a, b)
