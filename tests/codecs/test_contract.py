"""The contract every codec in the registry keeps (base.py), run against each of them.

A new codec joins CODECS and must pass this file unchanged. Only what base.py promises
is checked here; each codec's own grammar lives in its own test file.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livegen.codecs import CODECS, Codec, make_codec
from livegen.notes import END, PITCH, START, VELOCITY, Tick, make_notes

CASES = [
    pytest.param(name, params, id=f"{name}-{tag}")
    for name in sorted(CODECS)
    for tag, params in (("default", {}), ("small", {"ticks_per_quarter": 3, "low": 40, "high": 60}))
] + [pytest.param("poly", {"order": "low_first"}, id="poly-low_first")]


def build(name: str, params: dict) -> Codec:
    return make_codec(name, **params)


@st.composite
def melodies(draw, codec: Codec) -> np.ndarray:
    """On-grid, in-range notes one after another; a pitch repeats only after a rest.

    What every codec represents exactly (a roll joins a note to the same pitch after it).
    """
    tpq, rows, t, last = codec.ticks_per_quarter, [], 0, None
    pitches, velocities = st.integers(codec.low, codec.high), st.integers(1, 127)
    steps = st.tuples(st.integers(0, 6), st.integers(1, 8), pitches, velocities)
    for gap, length, pitch, velocity in draw(st.lists(steps, max_size=20)):
        if pitch == last and gap == 0:
            gap = 1
        start = t + gap
        rows.append((pitch, start / tpq, (start + length) / tpq, velocity))
        t, last = start + length, pitch
    return make_notes(rows)


def listened(codec: Codec, ticks: list[Tick]) -> list:
    stream = codec.stream()
    return [token for tick in ticks for token in stream.listen(tick)]


def as_tokens(codec: Codec, tokens: list):
    return np.asarray(tokens, dtype=np.int64) if codec.head == "softmax" else tokens


@pytest.mark.parametrize(("name", "params"), CASES)
def test_the_vocabulary_table_is_consistent(name, params):
    codec = build(name, params)
    names = codec.token_names()
    assert codec.vocab_size == len(codec.table) == len(names) == len(set(names)) > 0
    assert codec.strikes().shape == (codec.vocab_size,)
    assert codec.head in ("softmax", "sigmoid") and codec.max_tokens_per_tick >= 1
    assert type(codec)(**codec.params()).token_names() == names


@pytest.mark.parametrize(("name", "params"), CASES)
def test_encode_then_decode_gives_the_same_notes(name, params):
    codec = build(name, params)

    @given(melodies(codec))
    def check(notes):
        decoded = codec.decode(codec.encode(notes))
        assert decoded.shape == notes.shape
        columns = [PITCH, START, END]
        assert np.allclose(decoded[:, columns], notes[:, columns], rtol=0, atol=1e-9)
        velocities = decoded[:, VELOCITY]
        assert np.all((velocities >= 1) & (velocities <= 127))

    check()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_listening_tick_by_tick_is_what_encode_does(name, params):
    codec = build(name, params)

    @given(melodies(codec))
    def check(notes):
        tokens = listened(codec, codec.ticks(notes))
        assert len(tokens) <= codec.max_tokens_per_tick * max(1, len(codec.ticks(notes)))
        batch = codec.encode(notes)
        if codec.head == "softmax":
            assert tokens == batch.tolist()
        # Whatever the token shape, both read back as the same music.
        assert np.array_equal(codec.decode(as_tokens(codec, tokens)), codec.decode(batch))

    check()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_a_copy_of_a_stream_is_independent(name, params):
    codec = build(name, params)
    low = codec.low

    @given(melodies(codec), st.integers(0, 40))
    def check(notes, cut):
        ticks = codec.ticks(notes) + [Tick()] * 3
        cut = min(cut, len(ticks))
        stream, twin = codec.stream(), codec.stream()
        for tick in ticks[:cut]:
            stream.listen(tick)
            twin.listen(tick)
        fork = stream.copy()
        for pitch in range(low, low + 12):  # the fork goes elsewhere
            fork.listen(Tick(ons=((pitch, 100),)))
        rest = ticks[cut:]
        assert [stream.listen(t) for t in rest] == [twin.listen(t) for t in rest]

    check()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_a_copy_goes_on_like_the_original(name, params):
    codec = build(name, params)

    @given(melodies(codec), st.integers(0, 40))
    def check(notes, cut):
        ticks = codec.ticks(notes) + [Tick()] * 3
        cut = min(cut, len(ticks))
        stream = codec.stream()
        for tick in ticks[:cut]:
            stream.listen(tick)
        copy = stream.copy()
        rest = ticks[cut:]
        assert [copy.listen(t) for t in rest] == [stream.listen(t) for t in rest]

    check()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_a_mask_covers_the_vocabulary(name, params):
    codec = build(name, params)
    stream = codec.stream()
    stream.listen(Tick(ons=((codec.low, 90),)))
    answering = stream.copy()
    answering.begin()
    mask = answering.mask()
    assert mask is None or (mask.dtype == bool and mask.shape == (codec.vocab_size,))
    assert mask is None or mask.any()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_a_pitch_mask_of_every_pitch_allows_every_token(name, params):
    codec = build(name, params)
    mask = codec.pitch_mask(range(128))
    assert mask.dtype == bool and mask.shape == (codec.vocab_size,) and mask.all()
    none = codec.pitch_mask([])
    assert not none[codec.strikes() >= 0].any() and none[codec.strikes() < 0].all()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_describe_is_one_line_naming_the_codec(name, params):
    text = build(name, params).describe()
    assert "\n" not in text and text.startswith(f"{name}(") and text.endswith(")")
    for key, value in build(name, params).params().items():
        assert f"{key}={value}" in text


@st.composite
def pieces(draw, codec: Codec) -> np.ndarray:
    """Any notes on the grid: overlapping, chords, any MIDI pitch (some fold), long gaps."""
    tpq = codec.ticks_per_quarter
    note = st.tuples(
        st.integers(0, 127), st.integers(0, 40 * tpq), st.integers(1, 8 * tpq), st.integers(1, 127)
    )
    rows = [(p, s / tpq, (s + d) / tpq, v) for p, s, d, v in draw(st.lists(note, max_size=30))]
    return make_notes(rows)


def listened_ticks(codec: Codec, ticks: list[Tick]) -> list[int]:
    """The tick whose ``listen`` gave each token: what tick_of_tokens must say."""
    stream = codec.stream()
    return [n for n, tick in enumerate(ticks) for _ in stream.listen(tick)]


@pytest.mark.parametrize(("name", "params"), CASES)
def test_each_token_belongs_to_the_tick_that_listened_it(name, params):
    codec = build(name, params)

    @given(st.one_of(melodies(codec), pieces(codec)))
    def check(notes):
        batch = codec.encode(notes)
        ticks = codec.tick_of_tokens(batch)
        assert ticks.dtype == np.int64 and ticks.shape == (len(batch),)
        expected = listened_ticks(codec, codec.ticks(notes))
        if codec.head == "softmax":
            assert ticks.tolist() == expected
        else:  # frames: encode stops at the last note's end, listen one tick later
            assert ticks.tolist() == expected[: len(batch)]

    check()
