"""The LSTM: forward over a sequence equals stepping it; TBPTT pieces (steppers: tests/steppers)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

import livegen.model as model_module
from livegen.model import LSTMModel, ModelConfig, State
from tests.steppers.helpers import V, make_model, random_input, random_positions

TOL = 1e-5


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


def test_model_knows_nothing_of_steppers() -> None:
    """Steppers import the model, never the reverse: no import cycle between the two."""
    tree = ast.parse(Path(model_module.__file__).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    assert not [m for m in imported if m.startswith("livegen.steppers")], imported


# ---- metric position input (livegen/metric.py) -----------------------------------------
FIXTURE = Path(__file__).parent / "fixtures" / "pre_metric"


@pytest.mark.parametrize("frame_input", [False, True])
def test_metric_forward_equals_generic_step(frame_input: bool) -> None:
    model = make_model(frame_input, metric=True).eval()
    x = random_input(frame_input, batch=2, length=12)
    pos = random_positions(2, 12)  # (B, T)
    with torch.no_grad():
        ref, _ = model(x, pos=pos)  # (B, T, V)
        state = model.initial_state(2)
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state, pos[:, t])  # (B, V)
            assert (logits - ref[:, t]).abs().max().item() <= TOL


@pytest.mark.parametrize("frame_input", [False, True])
def test_metric_model_hears_the_position(frame_input: bool) -> None:
    model = make_model(frame_input, metric=True).eval()
    x = random_input(frame_input, batch=1, length=8)
    with torch.no_grad():
        a, _ = model(x, pos=torch.zeros(1, 8, dtype=torch.long))
        b, _ = model(x, pos=torch.arange(8).reshape(1, 8))
    assert torch.equal(a[0, 0], b[0, 0])  # same position, same start
    assert not torch.allclose(a[0, 1:], b[0, 1:])


def test_metric_model_wants_positions_of_the_input_shape() -> None:
    model = make_model(metric=True)
    x = random_input(False, batch=1, length=5)
    with pytest.raises(ValueError, match="pos"):
        model(x)
    with pytest.raises(ValueError, match="pos"):
        model(x, pos=torch.zeros(1, 4, dtype=torch.long))


def test_metric_checkpoint_segments_same_output() -> None:
    model = make_model(metric=True)
    x = random_input(False, batch=2, length=12)
    pos = random_positions(2, 12)
    a, _ = model(x, pos=pos)
    b, _ = model(x, pos=pos, checkpoint_segments=3)
    assert torch.allclose(a, b, atol=TOL)


def test_a_model_without_metric_input_is_as_before() -> None:
    """Same weights, same shapes as a pre-metric model; positions change nothing."""
    model = make_model().eval()
    assert model.lstm.weight_ih_l0.shape[1] == model.cfg.n_embd
    assert "metric_features" not in model.state_dict()
    x = random_input(False, batch=1, length=8)
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(x, pos=random_positions(1, 8))
    assert torch.equal(a, b)


def test_metric_features_are_not_saved_weights() -> None:
    """The one-hots follow from the config: a checkpoint holds only learnt weights."""
    model = make_model(metric=True)
    assert "metric_features" not in model.state_dict()
    assert model.lstm.weight_ih_l0.shape[1] == model.cfg.n_embd + 3 + 4  # E + tpq + beats


def test_a_pre_metric_checkpoint_loads_and_steps_as_before() -> None:
    """A file saved by livegen before metric input (tests/fixtures/pre_metric/make.py)."""
    from livegen import checkpoint
    from livegen.steppers.fused import FusedStep

    loaded = checkpoint.load(FIXTURE / "melody_tiny.pt")
    assert loaded.model.cfg.metric is False
    ref = json.loads((FIXTURE / "melody_tiny.logits.json").read_text())
    tokens = ref["tokens"]
    with torch.no_grad():
        forward, _ = loaded.model(torch.tensor([tokens]))  # (1, T, V)
    assert torch.allclose(forward[0], torch.tensor(ref["forward"]), atol=1e-6)
    stepper = FusedStep(loaded.model)
    state = stepper.new_state()
    for t, token in enumerate(tokens):
        got = stepper(token, state, t % 16)  # any position: the model has no metric input
        assert torch.allclose(got, torch.tensor(ref["fused"][t]), atol=1e-6)
