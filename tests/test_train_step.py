"""One step's parts, alone: the learning-rate schedule and where the head starts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from livegen.config import TrainSection
from livegen.model import LSTMModel, ModelConfig
from livegen.train_step import init_head_bias, lr_at


def test_the_rate_warms_up_linearly_then_decays_by_cosine_to_a_twentieth():
    cfg = TrainSection(lr=1e-3, warmup_steps=10, schedule="cosine")
    total = 200
    assert [lr_at(s, total, cfg) for s in (0, 4, 9)] == pytest.approx([1e-4, 5e-4, 1e-3])
    assert lr_at(10, total, cfg) == pytest.approx(1e-3)  # the peak, where warm-up ends
    assert lr_at(total, total, cfg) == pytest.approx(1e-3 / 20)
    assert lr_at(10 * total, total, cfg) == pytest.approx(1e-3 / 20)  # and no lower after
    rates = [lr_at(s, total, cfg) for s in range(10, total)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_a_short_run_warms_up_for_a_tenth_of_it_and_constant_stays_at_the_peak():
    cfg = TrainSection(lr=1e-3, warmup_steps=100, schedule="constant")
    assert lr_at(0, 20, cfg) == pytest.approx(5e-4)  # warm-up cut to 20 // 10 = 2 steps
    assert [lr_at(s, 20, cfg) for s in (2, 10, 19)] == pytest.approx([1e-3] * 3)


def test_the_token_head_starts_at_the_training_datas_frequencies():
    model = LSTMModel(ModelConfig(vocab_size=4, n_layer=1, n_hidden=8, n_embd=4))
    init_head_bias(model, [np.array([0, 0, 0, 1]), np.array([0, 1, 2])])
    p = torch.softmax(model.head.bias.detach(), 0).numpy()
    counts = np.array([4, 2, 1, 0]) + 1  # add-one: an unseen token keeps some mass
    assert p == pytest.approx(counts / counts.sum(), rel=1e-5)


def test_the_frame_head_starts_at_each_keys_odds_of_sounding():
    model = LSTMModel(ModelConfig(vocab_size=3, n_layer=1, n_hidden=8, n_embd=4, frame_input=True))
    frames = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]], np.float32)  # (T, K)
    init_head_bias(model, [frames])
    p = torch.sigmoid(model.head.bias.detach()).numpy()
    assert p[:2] == pytest.approx([0.75, 0.25], rel=1e-5)
    assert math.isclose(p[2], 1e-4, rel_tol=1e-3)  # never sounding: clipped, not -inf
