"""The style input: weights from the settings, and every CPU stepper playing a style model
exactly as the model's forward does, with the style changed mid-stream and the state kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livegen.model import LSTMModel, ModelConfig
from livegen.steppers import FusedStep, Int8Step, TorchStep, check_stepper
from livegen.style import StyleError, describe, split_style, style_weights

STYLES = ("folk", "chorales", "fiddle")


def style_model(metric: bool = False) -> LSTMModel:
    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(30, n_hidden=32, n_embd=8, metric=metric, styles=STYLES))
    with torch.no_grad():
        # Large style columns, so a stepper that ignored the style would be far off.
        model.lstm.weight_ih_l0[:, -3:].normal_(0.0, 2.0)
    return model.eval()


def test_weights_mix_two_styles() -> None:
    assert style_weights(3, 0).tolist() == [1.0, 0.0, 0.0]
    assert style_weights(3, 0, 2, 0.25).tolist() == [0.75, 0.0, 0.25]
    assert style_weights(3, 1, 1, 0.6).tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("args", [(3, 3), (3, 0, -1, 0.5), (3, 0, 1, 1.5), (0, 0)])
def test_weights_refuse_what_the_model_lacks(args) -> None:
    with pytest.raises(StyleError):
        style_weights(*args)


def test_describe_names_the_mix() -> None:
    assert describe(STYLES, 0, 2, 0.0) == "folk"
    assert describe(STYLES, 0, 2, 0.3) == "70% folk + 30% fiddle"
    assert describe(STYLES, 0, 2, 1.0) == "fiddle"
    assert describe((), 0, 0, 0.0) == "none"


def test_model_refuses_a_missing_or_wrong_style() -> None:
    model = style_model()
    x = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="style model wants style"):
        model(x)
    with pytest.raises(ValueError, match="style model wants style"):
        model(x, style=torch.zeros(2, 2))


def test_config_refuses_styles_on_frames_and_duplicates() -> None:
    with pytest.raises(ValueError, match="token model"):
        ModelConfig(10, frame_input=True, styles=("a",))
    with pytest.raises(ValueError, match="distinct"):
        ModelConfig(10, styles=("a", "a"))


def test_split_style_takes_the_last_columns() -> None:
    model = style_model()
    w = model.lstm.weight_ih_l0
    rest, cols = split_style(model, w)
    assert rest.shape == (w.shape[0], w.shape[1] - 3) and cols.shape == (w.shape[0], 3)
    assert torch.equal(cols, w[:, -3:])


def reference(model, tokens, styles, pos=None):
    """Logits of the model's own forward, one tick at a time, each with its style."""
    state = model.initial_state(1)
    out = []
    with torch.no_grad():
        for t, tok in enumerate(tokens):
            p = None if pos is None else torch.tensor([[pos[t]]])
            w = torch.as_tensor(styles[t]).reshape(1, -1)
            logits, state = model(torch.tensor([[tok]]), state, pos=p, style=w)
            out.append(logits[0, 0])
    return out


@pytest.mark.parametrize("make", [FusedStep, TorchStep, Int8Step], ids=lambda m: m.name)
@pytest.mark.parametrize("metric", [False, True], ids=["plain", "metric"])
def test_stepper_follows_a_style_change_with_its_state_kept(make, metric) -> None:
    model = style_model(metric)
    tokens = [3, 7, 0, 12, 5, 5, 0, 9, 1, 0]
    pos = [t % 16 for t in range(len(tokens))] if metric else None
    a, mix = style_weights(3, 0), style_weights(3, 1, 2, 0.4)
    styles = [a] * 5 + [mix] * 5  # the change falls between steps 4 and 5
    want = reference(model, tokens, styles, pos)
    stepper = make(model)
    state = stepper.new_state()
    tol = 0.15 if make is Int8Step else 1e-4
    for t, tok in enumerate(tokens):
        if t == 5:
            before = (state.h.clone(), state.c.clone())
            stepper.set_style(mix)
            # The state is not touched by a change of style...
            assert torch.equal(state.h, before[0]) and torch.equal(state.c, before[1])
        got = stepper(tok, state, pos[t] if metric else 0)
        # ...and the step right after it carries the new style (a late one would differ).
        assert float((got - want[t]).abs().max()) < tol, t
    assert np.allclose(stepper.style, mix)


def test_without_the_change_the_logits_differ() -> None:
    """The check above can fail: the mixed style's logits are not the first style's."""
    model = style_model()
    tokens = [3, 7, 0, 12, 5]
    a, b = style_weights(3, 0), style_weights(3, 2)
    first, other = reference(model, tokens, [a] * 5), reference(model, tokens, [b] * 5)
    assert float((first[-1] - other[-1]).abs().max()) > 0.1


def test_check_stepper_uses_the_first_style() -> None:
    model = style_model()
    assert check_stepper(FusedStep(model), model) < 1e-4


def test_set_style_on_a_model_without_styles_is_a_no_op() -> None:
    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(20, n_hidden=16, n_embd=8)).eval()
    stepper = FusedStep(model)
    stepper.set_style(np.ones(3))
    assert stepper.style is None and check_stepper(stepper, model) < 1e-4


def test_a_wrong_width_is_refused() -> None:
    stepper = FusedStep(style_model())
    with pytest.raises(StyleError, match="3 weights"):
        stepper.set_style(np.ones(2))
