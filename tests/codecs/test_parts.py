"""Tests for the parts codec's table and batch coding: layout, each part's range, round trips
of both parts, the single-stream split, tick indices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.codecs import PartsCodec, PartsTick, make_codec
from livegen.notes import (
    DEFAULT_VELOCITY,
    END,
    PITCH,
    START,
    VELOCITY,
    fold_notes,
    make_notes,
    on_grid,
)
from tests.codecs.shapes import HARMONY

TPQ = HARMONY.ticks_per_quarter
SETTINGS = settings(max_examples=150, deadline=None)


def names(codec, tokens) -> list[str]:
    table = codec.token_names()
    return [table[int(t)] for t in tokens]


def expected(notes: np.ndarray, low: int, high: int) -> np.ndarray:
    """A part after a round trip: folded into its range, on the grid, at the one velocity."""
    out = on_grid(fold_notes(notes, low, high), TPQ)
    out[:, VELOCITY] = DEFAULT_VELOCITY
    return out


@st.composite
def lines(draw, max_size: int = 16) -> np.ndarray:
    """One note after another on the grid, any pitch (folding is part of the round trip)."""
    rows, t = [], 0
    steps = st.tuples(st.integers(0, 4), st.integers(1, 6), st.integers(0, 127))
    for gap, length, pitch in draw(st.lists(steps, max_size=max_size)):
        rows.append((pitch, (t + gap) / TPQ, (t + gap + length) / TPQ))
        t += gap + length
    return make_notes(rows)


chords = st.lists(
    st.tuples(st.integers(0, 127), st.floats(0, 8, allow_nan=False), st.floats(0, 3)),
    max_size=24,
).map(lambda rows: make_notes([(p, s, s + d) for p, s, d in rows]))


def test_layout_gives_each_part_its_own_range_and_tokens():
    names_ = HARMONY.token_names()
    assert names_[:2] == ["STEP", "MID"]
    assert names_[2] == "Y_ON(60)" and "Y_HOLD(81)" in names_ and "Y_ON(59)" not in names_
    assert "M_ON(36)" in names_ and "M_HOLD(72)" in names_ and "M_ON(73)" not in names_
    assert HARMONY.vocab_size == 2 + 2 * 22 + 2 * 37
    assert HARMONY.parts() == ("soprano", "alto+tenor+bass")
    rebuilt = make_codec("parts", **HARMONY.params())
    assert rebuilt.token_names() == names_ and rebuilt.params() == HARMONY.params()
    assert "yours=soprano" in HARMONY.describe() and "mine=alto+tenor+bass" in HARMONY.describe()
    # Only my part's tokens and STEP are ever sampled by livegen in the live order.
    assert {names_[i].split("(")[0] for i in HARMONY.mine_tokens} == {"M_ON", "M_HOLD", "STEP"}


def test_a_tick_is_your_part_then_mine():
    yours = make_notes([(72, 0, 0.5), (74, 0.5, 1)])
    mine = make_notes([(48, 0, 1), (55, 0, 0.5), (52, 0.25, 1)])
    tokens = HARMONY.encode_parts(yours, mine)
    assert names(HARMONY, tokens[:11]) == [
        *("Y_ON(72)", "MID", "M_ON(48)", "M_ON(55)", "STEP"),
        *("Y_HOLD(72)", "MID", "M_ON(52)", "M_HOLD(48)", "M_HOLD(55)", "STEP"),
    ]
    assert names(HARMONY, tokens[-2:]) == ["MID", "STEP"]  # the last tick only releases


def test_each_part_folds_into_its_own_range():
    yours = make_notes([(48, 0, 1)])  # too low for the soprano: up an octave
    mine = make_notes([(84, 0, 1)])  # too high for the lower voices: down an octave
    tokens = HARMONY.encode_parts(yours, mine)
    assert names(HARMONY, tokens[:4]) == ["Y_ON(60)", "MID", "M_ON(72)", "STEP"]
    y, m = HARMONY.decode_parts(tokens)
    assert y[:, PITCH].tolist() == [60] and m[:, PITCH].tolist() == [72]


def test_a_piece_whose_parts_differ_in_length_is_padded_with_silence():
    yours = make_notes([(72, 0, 4)])
    tokens = HARMONY.encode_parts(yours, make_notes([]))
    ticks = HARMONY.tick_of_tokens(tokens)
    assert ticks[-1] == 4 * TPQ  # one tick per grid step, up to the last release
    y, m = HARMONY.decode_parts(tokens)
    assert y.tolist() == [[72, 0, 4, DEFAULT_VELOCITY]] and m.shape == (0, 4)


@SETTINGS
@given(lines(), chords)
def test_round_trip_of_both_parts(yours, mine):
    y, m = HARMONY.decode_parts(HARMONY.encode_parts(yours, mine))
    assert np.array_equal(y, expected(yours, 60, 81))
    assert np.array_equal(m, expected(mine, 36, 72))


@SETTINGS
@given(chords, chords)
def test_a_monophonic_part_keeps_one_note_at_a_time(yours, mine):
    y, _ = HARMONY.decode_parts(HARMONY.encode_parts(yours, mine))
    for a, b in zip(y[:-1], y[1:], strict=True):
        assert a[END] <= b[START], "two notes of the melody part sound at once"


@SETTINGS
@given(lines(), chords)
def test_the_live_order_and_batch_encoding_give_the_same_tokens(yours, mine):
    stream = HARMONY.stream()
    live = []
    for tick in HARMONY.ticks_parts(yours, mine):
        live += stream.listen_yours(tick.yours)
        live += stream.listen_mine(tick.mine)
    assert live == HARMONY.encode_parts(yours, mine).tolist()
    other = HARMONY.stream()
    whole = [t for tick in HARMONY.ticks_parts(yours, mine) for t in other.listen(tick)]
    assert whole == live


@SETTINGS
@given(lines(), chords)
def test_tick_of_tokens_counts_the_steps_before_each_token(yours, mine):
    tokens = HARMONY.encode_parts(yours, mine)
    ticks = HARMONY.tick_of_tokens(tokens)
    assert ticks.dtype == np.int64 and ticks.shape == tokens.shape
    n_ticks = len(HARMONY.ticks_parts(yours, mine))
    for n in range(n_ticks):  # each tick is one MID and one STEP, ending with the STEP
        mine_ = tokens[ticks == n]
        assert (mine_ == HARMONY.mid).sum() == 1 and mine_[-1] == HARMONY.step
    assert set(ticks.tolist()) == set(range(n_ticks))


def test_a_single_stream_splits_into_top_voice_and_the_rest():
    codec = PartsCodec()
    notes = make_notes(
        [(72, 0, 1), (76, 1, 2)] + [(60, 0, 2), (64, 0, 2)] + [(79, 0.5, 1)]  # 79 under a held 72
    )
    tokens = codec.encode(notes)
    assert names(codec, tokens[:5]) == ["Y_ON(72)", "MID", "M_ON(60)", "M_ON(64)", "STEP"]
    assert "M_ON(79)" in names(codec, tokens)  # yours held 72: a higher strike is mine
    y, m = codec.decode_parts(tokens)
    assert y[:, PITCH].tolist() == [72, 76] and sorted(m[:, PITCH].tolist()) == [60, 64, 79]
    assert np.array_equal(codec.decode(tokens), expected(notes, 36, 84))


def test_decode_closes_a_trailing_unfinished_tick():
    tokens = [HARMONY.your_part.on_token[72], HARMONY.mid, HARMONY.my_part.on_token[48]]
    y, m = HARMONY.decode_parts(np.array(tokens))
    assert y.tolist() == [[72, 0, 0.25, DEFAULT_VELOCITY]]
    assert m.tolist() == [[48, 0, 0.25, DEFAULT_VELOCITY]]


def test_ticks_parts_are_aligned_ticks():
    ticks = HARMONY.ticks_parts(make_notes([(72, 0, 1)]), make_notes([(48, 0.5, 1.5)]))
    assert len(ticks) == int(1.5 * TPQ) + 1
    assert all(isinstance(t, PartsTick) for t in ticks)
    assert ticks[0].yours.ons == ((72, 80),) and not ticks[0].mine
    assert ticks[2].mine.ons == ((48, 80),)


@pytest.mark.parametrize(
    "params",
    [{"yours_low": 30}, {"mine_high": 90}, {"yours_low": 60, "yours_high": 65}],
)
def test_a_part_range_outside_the_codec_or_too_narrow_is_refused(params):
    from livegen.codecs import CodecError

    with pytest.raises(CodecError, match="range"):
        PartsCodec(**params)


def test_a_checkpoint_rebuilds_the_codec_with_its_parts(tmp_path):
    import torch

    from livegen import checkpoint
    from livegen.model import LSTMModel, ModelConfig

    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(vocab_size=HARMONY.vocab_size, n_hidden=8, n_embd=4))
    path = tmp_path / "harmony.pt"
    checkpoint.save(path, model, HARMONY, data={}, config={}, metrics={})
    loaded = checkpoint.load(path)
    assert isinstance(loaded.codec, PartsCodec) and loaded.codec.parts() == HARMONY.parts()
    assert loaded.codec.token_names() == HARMONY.token_names()
    shown = checkpoint.summary(loaded)["codec_params"]
    assert (shown["yours"], shown["mine"]) == ("soprano", "alto+tenor+bass")
