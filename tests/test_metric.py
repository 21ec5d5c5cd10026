"""Bar positions and their features (livegen/metric.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livegen import metric
from livegen.codecs import make_codec


@given(st.integers(0, 10_000), st.sampled_from([1, 2, 3, 4, 12]), st.integers(1, 8))
def test_a_position_is_the_beat_and_sub_beat_of_the_tick(n, tpq, beats):
    p = metric.position(n, tpq, beats, metric.MAX_BEATS)
    bar = n % (beats * tpq)
    assert p == bar
    assert (p // tpq, p % tpq) == (bar // tpq, bar % tpq)
    assert metric.positions(np.array([n]), tpq, beats, metric.MAX_BEATS).tolist() == [p]


def test_positions_wrap_at_the_bar():
    got = metric.positions(np.arange(14), 2, 3, metric.MAX_BEATS).tolist()
    assert got == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1]


def test_a_bar_longer_than_the_model_knows_repeats_its_last_beat():
    # 6 beats, a model of 4: beats 5 and 6 read as beat 4, sub-beats kept.
    got = metric.positions(np.arange(12), 2, 6, 4).tolist()
    assert got == [0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 6, 7]
    assert max(got) < metric.n_positions(2, 4)


def test_features_are_a_beat_one_hot_then_a_sub_beat_one_hot():
    f = metric.features(3, 4)  # (P, F)
    assert f.shape == (12, 7) and f.dtype == np.float32
    assert np.array_equal(f.sum(1), np.full(12, 2.0))
    assert np.array_equal(f[7], [0, 0, 1, 0, 0, 1, 0])  # beat 2, sub-beat 1
    assert len({tuple(row) for row in f}) == 12


def test_a_meter_must_have_a_beat():
    with pytest.raises(ValueError, match="beats_per_bar"):
        metric.position(3, 4, 0, 8)


def test_token_positions_follow_the_codec_ticks():
    codec = make_codec("poly", ticks_per_quarter=2)
    on, step = codec.on_token, codec.step
    tokens = np.array([on[60], on[64], step, step, on[62], step, step, step, step])
    # ticks 0 0 0 1 2 2 3 4 5 in a bar of 2 beats x 2 ticks
    assert metric.token_positions(codec, tokens, 2).tolist() == [0, 0, 0, 1, 2, 2, 3, 0, 1]
