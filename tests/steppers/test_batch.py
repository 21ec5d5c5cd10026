"""The batched CPU step of the harmonize table: each row as the model's own step of that row."""

from __future__ import annotations

import pytest
import torch

from livegen.model import State
from livegen.steppers.batch import BatchStep
from tests.steppers.helpers import N_POS, TOL, V, make_model

B = 7


def start_state(model) -> State:
    """One (L, 1, H) state, reached by stepping the model over a few tokens."""
    pos = torch.arange(5).reshape(1, 5) if model.cfg.metric else None
    with torch.no_grad():
        _, state = model(torch.tensor([[3, 1, 4, 1, 5]]), pos=pos)
    return state


def reference(model, state: State, tokens, pos: int):
    """nn.LSTM at batch len(tokens), every row from ``state``."""
    b = len(tokens)
    h, c = (t.expand(-1, b, -1).contiguous() for t in state)
    p = torch.full((b,), pos) if model.cfg.metric else None
    with torch.no_grad():
        return model.step(torch.tensor(tokens), State(h, c), p)  # (b, V), (L, b, H) x2


@pytest.mark.parametrize("metric", [False, True])
@pytest.mark.parametrize("n_layer", [1, 2, 3])
def test_rows_step_like_the_model_shared_first_then_a_subset(metric, n_layer):
    model = make_model(n_layer=n_layer, metric=metric).eval()
    state = start_state(model)
    step = BatchStep(model, rows=B + 2)  # more rows than used: the first B are
    step.load(state, B)
    first = [0, 5, 9, 13, 21, 30, V - 1]
    pos = 5 % N_POS
    step.step(torch.tensor(first), None, pos, shared=True)
    logits, ref = reference(model, state, first, pos)
    assert (step.logits[:B] - logits).abs().max() <= TOL
    assert (step.h[:, :B] - ref.h).abs().max() <= TOL and (step.c[:, :B] - ref.c).abs().max() <= TOL
    # A second token for rows 1, 4 and 6 only; the others keep their state and logits.
    rows, second = [1, 4, 6], [2, 7, 11]
    kept = step.h[:, [0, 2, 3, 5]].clone(), step.logits[[0, 2, 3, 5]].clone()
    step.step(torch.tensor(second), torch.tensor(rows), pos)
    h, c = ref.h[:, rows], ref.c[:, rows]
    p = torch.full((3,), pos) if metric else None
    with torch.no_grad():
        logits2, ref2 = model.step(torch.tensor(second), State(h, c), p)
    assert (step.logits[rows] - logits2).abs().max() <= TOL
    assert (step.h[:, rows] - ref2.h).abs().max() <= TOL
    assert torch.equal(step.h[:, [0, 2, 3, 5]], kept[0])
    assert torch.equal(step.logits[[0, 2, 3, 5]], kept[1])


def test_a_shared_first_step_needs_equal_rows():
    """``shared`` uses row 0's recurrent half for all: from unequal rows it is wrong (so the
    table calls it only right after ``load``)."""
    model = make_model().eval()
    step = BatchStep(model, rows=2)
    step.load(start_state(model), 2)
    step.h[:, 1].add_(0.5)
    tokens = torch.tensor([3, 3])
    step.step(tokens, None, 0, shared=True)
    assert torch.allclose(step.logits[0], step.logits[1], atol=TOL), "row 1 was given row 0's"


def test_the_batch_step_is_a_snapshot_of_the_weights():
    model = make_model().eval()
    state = start_state(model)
    step = BatchStep(model, rows=2)
    step.load(state, 2)
    step.step(torch.tensor([4, 9]), None, 0)
    before = step.logits.clone()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    step.load(state, 2)
    step.step(torch.tensor([4, 9]), None, 0)
    assert torch.equal(step.logits, before)


def test_more_rows_than_made_for_and_frame_models_are_refused():
    model = make_model().eval()
    with pytest.raises(ValueError, match="rows"):
        BatchStep(model, rows=2).load(start_state(model), 3)
    with pytest.raises(ValueError, match="frame"):
        BatchStep(make_model(frame_input=True), rows=2)
