"""The LSTM: forward over a sequence equals stepping it, by every step path; TBPTT pieces."""

from __future__ import annotations

import pytest
import torch

from livegen.model import (
    FusedStep,
    LSTMModel,
    ModelConfig,
    State,
    TorchStep,
    make_stepper,
)

V = 40  # vocabulary (keys for the frame model)
TOL = 1e-5


def make_model(frame_input: bool = False, n_layer: int = 2, dropout: float = 0.0) -> LSTMModel:
    torch.manual_seed(0)
    cfg = ModelConfig(
        V, n_layer=n_layer, n_hidden=48, n_embd=16, dropout=dropout, frame_input=frame_input
    )
    return LSTMModel(cfg)


def random_input(frame_input: bool, batch: int, length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if frame_input:
        return (torch.rand(batch, length, V, generator=g) < 0.15).float()  # (B, T, V)
    return torch.randint(0, V, (batch, length), generator=g)  # (B, T)


def step_input(x: torch.Tensor, t: int, frame_input: bool):
    """What the player hands a stepper at tick t of stream 0: an int, or a frame."""
    return x[0, t] if frame_input else int(x[0, t])


CASES = [
    pytest.param(False, 2, id="embedding-2layer"),
    pytest.param(True, 2, id="frame-2layer"),
    pytest.param(False, 1, id="embedding-1layer"),
    pytest.param(True, 3, id="frame-3layer"),
]


@pytest.mark.parametrize(("frame_input", "n_layer"), CASES)
def test_forward_equals_generic_step(frame_input: bool, n_layer: int) -> None:
    model = make_model(frame_input, n_layer).eval()
    x = random_input(frame_input, batch=2, length=16)
    with torch.no_grad():
        ref, ref_state = model(x)  # (B, T, V)
        state = model.initial_state(2)
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)  # (B, V)
            assert (logits - ref[:, t]).abs().max().item() <= TOL
    assert (state.h - ref_state.h).abs().max().item() <= TOL
    assert (state.c - ref_state.c).abs().max().item() <= TOL


@pytest.mark.parametrize(("frame_input", "n_layer"), CASES)
@pytest.mark.parametrize("stepper_cls", [FusedStep, TorchStep])
def test_forward_equals_batch1_steppers(frame_input: bool, n_layer: int, stepper_cls) -> None:
    model = make_model(frame_input, n_layer).eval()
    x = random_input(frame_input, batch=1, length=24)
    with torch.no_grad():
        ref, ref_state = model(x)  # (1, T, V)
    stepper = stepper_cls(model)
    state = stepper.new_state()
    for t in range(x.shape[1]):
        logits = stepper(step_input(x, t, frame_input), state)  # (V,)
        assert logits.shape == (V,)
        assert (logits - ref[0, t]).abs().max().item() <= TOL
    assert (state.h - ref_state.h).abs().max().item() <= TOL
    assert (state.c - ref_state.c).abs().max().item() <= TOL


def test_frame_stepper_takes_key_tuples() -> None:
    model = make_model(frame_input=True).eval()
    x = random_input(True, batch=1, length=10)
    for cls in (FusedStep, TorchStep):
        stepper = cls(model)
        dense, keys = stepper.new_state(), stepper.new_state()
        for t in range(x.shape[1]):
            a = stepper(x[0, t], dense).clone()
            token = tuple(torch.nonzero(x[0, t]).flatten().tolist())
            b = stepper(token, keys)
            assert torch.equal(a, b)


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


def test_make_stepper_picks_fused_on_cpu() -> None:
    model = make_model()
    assert make_stepper(model, "cpu").name == "cpu-fused-fp32"
    assert isinstance(make_stepper(model, torch.device("cpu")), FusedStep)
    expected = "torch-step" if torch.cuda.is_available() else "cpu-fused-fp32"
    assert make_stepper(model, "auto").name == expected


@pytest.mark.parametrize("frame_input", [False, True])
def test_state_carries_across_forward_calls(frame_input: bool) -> None:
    model = make_model(frame_input).eval()
    x = random_input(frame_input, batch=3, length=24)
    with torch.no_grad():
        whole, whole_state = model(x)
        first, state = model(x[:, :10])
        second, state = model(x[:, 10:], state)
    assert (torch.cat([first, second], 1) - whole).abs().max().item() <= TOL
    assert (state.h - whole_state.h).abs().max().item() <= TOL
    assert (state.c - whole_state.c).abs().max().item() <= TOL


def grads(model: LSTMModel, x: torch.Tensor, state: State, **kw) -> tuple[torch.Tensor, dict]:
    model.zero_grad()
    logits, new = model(x, state, **kw)
    (logits.square().mean() + new.h.sum() + new.c.sum()).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("frame_input", [False, True])
def test_checkpoint_segments_same_output_and_gradients(frame_input: bool) -> None:
    model = make_model(frame_input).train()  # dropout 0: training mode, deterministic
    x = random_input(frame_input, batch=2, length=10)
    state = model.initial_state(2)
    ref, ref_grads = grads(model, x, state)
    for segments in (1, 3, 20):  # 3 does not divide 10; 20 > T: one tick per segment
        out, seg_grads = grads(model, x, state, checkpoint_segments=segments)
        assert (out - ref).abs().max().item() <= TOL
        for name, g in ref_grads.items():
            assert (seg_grads[name] - g).abs().max().item() <= TOL, name


def test_checkpoint_replays_dropout_masks() -> None:
    # The recomputed segments must see the masks the forward pass drew, so the gradients
    # equal those of the same segments run without checkpointing from the same seed.
    model = make_model(dropout=0.3).train()
    x = random_input(False, batch=2, length=12)
    torch.manual_seed(5)
    out, seg_grads = grads(model, x, model.initial_state(2), checkpoint_segments=3)

    model.zero_grad()
    torch.manual_seed(5)
    state, outs = model.initial_state(2), []
    for xs in torch.tensor_split(x, 3, dim=1):
        logits, state = model(xs, state)
        outs.append(logits)
    ref = torch.cat(outs, 1)
    (ref.square().mean() + state.h.sum() + state.c.sum()).backward()
    assert (out - ref.detach()).abs().max().item() <= TOL
    for name, p in model.named_parameters():
        assert (seg_grads[name] - p.grad).abs().max().item() <= TOL, name


def test_dropout_only_in_training() -> None:
    model = make_model(dropout=0.5)
    x = random_input(False, batch=2, length=8)
    model.eval()
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(x)
    assert torch.equal(a, b)
    model.train()
    with torch.no_grad():
        c, _ = model(x)
        d, _ = model(x)
    assert not torch.equal(c, d)


def test_state_detach_cuts_the_graph() -> None:
    model = make_model()
    _, state = model(random_input(False, batch=1, length=4))
    assert state.h.requires_grad
    cut = state.detach()
    assert not cut.h.requires_grad and not cut.c.requires_grad
    assert torch.equal(cut.h, state.h)


def test_config_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="n_layer"):
        ModelConfig(V, n_layer=0)
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(V, dropout=1.0)


def test_forward_rejects_wrong_input_rank() -> None:
    with pytest.raises(ValueError):
        make_model()(torch.zeros(2, 3, V))
    with pytest.raises(ValueError):
        make_model(frame_input=True)(torch.zeros(2, 3, dtype=torch.long))


def test_frame_model_accepts_uint8_frames() -> None:
    model = make_model(frame_input=True).eval()
    x = random_input(True, batch=1, length=5)
    with torch.no_grad():
        assert torch.equal(model(x)[0], model(x.to(torch.uint8))[0])


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


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
def test_cuda_checkpoint_replays_dropout_masks() -> None:
    model = make_model(dropout=0.3).cuda().train()
    x = random_input(False, batch=2, length=12).cuda()
    torch.manual_seed(5)
    with pytest.warns(UserWarning, match="non-cuDNN"):
        out, seg_grads = grads(model, x, model.initial_state(2), checkpoint_segments=3)

    model.zero_grad()
    torch.manual_seed(5)
    state, outs = model.initial_state(2), []
    with torch.backends.cudnn.flags(enabled=False):  # the kernel the checkpointed path uses
        for xs in torch.tensor_split(x, 3, dim=1):
            logits, state = model(xs, state)
            outs.append(logits)
        ref = torch.cat(outs, 1)
        (ref.square().mean() + state.h.sum() + state.c.sum()).backward()
    assert (out - ref.detach()).abs().max().item() <= 1e-4
    for name, p in model.named_parameters():
        assert (seg_grads[name] - p.grad).abs().max().item() <= 1e-4, name


@pytest.mark.parametrize("frame_input", [False, True])
def test_cell_step_by_hand_matches_forward(frame_input: bool) -> None:
    """The arithmetic the CUDA graph captures, checked on the CPU (the graph needs a GPU)."""
    from livegen.model import CellWeights, cell_step

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


@cuda
def test_cuda_graph_step_keeps_two_states_apart() -> None:
    """The Player steps its state and its plan's fork alternately: one graph each."""
    from livegen.model import CudaGraphStep

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
