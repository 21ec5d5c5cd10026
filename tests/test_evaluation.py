"""The validation score alone: batching pieces by length changes nothing, and a model
that needs positions or styles says so."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from livegen.evaluation import evaluate
from livegen.model import LSTMModel, ModelConfig


def tiny_model(**kw) -> LSTMModel:
    torch.manual_seed(0)
    return LSTMModel(ModelConfig(vocab_size=7, n_layer=1, n_hidden=8, n_embd=4, **kw))


def pieces() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 7, n) for n in (5, 9, 1, 3, 12)]  # one too short to score


def test_each_piece_is_scored_from_zero_state_whatever_it_is_batched_with():
    model, seqs = tiny_model(), pieces()
    nll, steps = 0.0, 0
    with torch.no_grad():
        for s in seqs:
            if len(s) < 2:
                continue
            logits, _ = model(torch.as_tensor(s[None, :-1]))  # (1, T, V)
            nll += F.cross_entropy(logits[0], torch.as_tensor(s[1:]), reduction="sum").item()
            steps += len(s) - 1
    one = evaluate(model, seqs, "cpu", batch_size=1)
    all_at_once = evaluate(model, seqs, "cpu", batch_size=32)
    assert one["steps"] == all_at_once["steps"] == steps == 25
    assert one["nll"] == pytest.approx(nll / steps, rel=1e-5)
    assert all_at_once["nll"] == pytest.approx(nll / steps, rel=1e-5)  # padding is no step
    assert model.training  # handed back in training mode


def test_nothing_to_score_is_nan_and_a_metric_or_style_model_needs_its_inputs():
    assert np.isnan(evaluate(tiny_model(), [np.array([3])], "cpu")["nll"])
    with pytest.raises(ValueError, match="positions"):
        evaluate(tiny_model(metric=True, metric_tpq=4), pieces(), "cpu")
    with pytest.raises(ValueError, match="style"):
        evaluate(tiny_model(styles=("folk", "chorales")), pieces(), "cpu")
