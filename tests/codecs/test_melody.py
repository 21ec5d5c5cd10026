"""Tests for the melody codec: layout, skyline, folding, round trips and the answer protocol."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.codecs.base import Accept
from livegen.codecs.melody import MelodyCodec
from livegen.notes import (
    DEFAULT_VELOCITY,
    END,
    PITCH,
    START,
    VELOCITY,
    Tick,
    fold_notes,
    make_notes,
    on_grid,
    quantize,
    ticks_to_notes,
)

CODEC = MelodyCodec()
TPQ, LOW, HIGH = CODEC.ticks_per_quarter, CODEC.low, CODEC.high
NAMES = CODEC.token_names()
SETTINGS = settings(max_examples=150, deadline=None)


def names(tokens) -> list[str]:
    return [NAMES[int(t)] for t in tokens]


def expected_notes(notes: np.ndarray) -> np.ndarray:
    """What a round trip should give: folded, on the grid, at the codec's one velocity."""
    out = on_grid(fold_notes(notes, LOW, HIGH), TPQ)
    out[:, VELOCITY] = DEFAULT_VELOCITY
    return out


@st.composite
def monophonic(draw) -> np.ndarray:
    """Non-overlapping notes on the grid, any MIDI pitch (most fold)."""
    rows, t = [], 0
    steps = st.tuples(st.integers(0, 6), st.integers(1, 8), st.integers(0, 127))
    for gap, length, pitch in draw(st.lists(steps, max_size=24)):
        start = t + gap
        rows.append((pitch, start / TPQ, (start + length) / TPQ))
        t = start + length
    return make_notes(rows)


polyphonic = st.lists(
    st.tuples(
        st.integers(0, 127),
        st.floats(0, 8, allow_nan=False),
        st.floats(0, 3, allow_nan=False),
        st.integers(1, 127),
    ),
    max_size=24,
).map(lambda rows: make_notes([(p, s, s + d, v) for p, s, d, v in rows]))


def test_layout():
    n = HIGH - LOW + 1
    assert CODEC.vocab_size == 2 + n
    assert NAMES[:3] == ["REST", "HOLD", f"ON({LOW})"]
    assert NAMES[2 + 60 - LOW] == "ON(60)"
    strikes = CODEC.strikes()
    assert strikes[0] == strikes[1] == -1
    assert list(strikes[2:]) == list(range(LOW, HIGH + 1))
    assert CODEC.max_tokens_per_tick == 1


def test_chord_keeps_its_top_note():
    notes = make_notes([(60, 0, 1), (64, 0, 1), (67, 0, 1)])
    assert names(CODEC.encode(notes)) == ["ON(67)", "HOLD", "HOLD", "HOLD", "REST"]


def test_lower_note_under_a_held_melody_note_holds():
    notes = make_notes([(72, 0, 1), (60, 0.5, 1.5)])
    # The 60 never becomes melody, even after the 72 ends under it.
    assert names(CODEC.encode(notes)) == ["ON(72)", "HOLD", "HOLD", "HOLD", "REST", "REST", "REST"]


def test_higher_note_takes_over_and_equal_note_restrikes():
    notes = make_notes([(60, 0, 1), (67, 0.25, 0.5), (67, 0.5, 0.75)])
    # The 60 sounds on under the 67s but is no longer melody.
    assert names(CODEC.encode(notes)) == ["ON(60)", "ON(67)", "ON(67)", "REST", "REST"]


def test_out_of_range_notes_fold_by_octaves_and_are_never_dropped():
    notes = make_notes([(20, 0, 1), (110, 1, 2), (127, 2, 3), (0, 3, 4)])
    decoded = CODEC.decode(CODEC.encode(notes))
    assert list(decoded[:, PITCH]) == [56, 74, 79, 48]
    assert list(decoded[:, START]) == [0, 1, 2, 3]


def test_listen_folds_offs_like_ons():
    stream = CODEC.stream()
    assert names(stream.listen(Tick(ons=((100, 90),)))) == ["ON(76)"]
    assert names(stream.listen(Tick())) == ["HOLD"]
    assert names(stream.listen(Tick(offs=(100,)))) == ["REST"]


def test_off_of_a_note_that_is_not_the_melody_changes_nothing():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((72, 80), (60, 80))))
    assert names(stream.listen(Tick(offs=(60, 61)))) == ["HOLD"]


def test_decode_reads_a_hold_of_nothing_as_rest():
    tokens = [CODEC.hold, CODEC.on_token[60], CODEC.hold, CODEC.rest, CODEC.hold]
    assert CODEC.decode(np.array(tokens)).tolist() == [[60, 0.25, 0.75, DEFAULT_VELOCITY]]


def test_mask_forbids_hold_only_while_silent():
    stream = CODEC.stream()
    stream.begin()
    mask = stream.mask()
    assert mask is not None and not mask[CODEC.hold] and mask.sum() == CODEC.vocab_size - 1
    with pytest.raises(ValueError):
        stream.accept(CODEC.hold)
    stream.listen(Tick(ons=((60, 80),)))
    stream.begin()
    assert stream.mask() is None


def test_answers_release_the_melody_note_they_replace():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((72, 80),)))
    cases = {
        CODEC.rest: Tick(offs=(72,)),
        CODEC.hold: Tick(),
        CODEC.on_token[60]: Tick((72,), ((60, DEFAULT_VELOCITY),)),
        CODEC.on_token[72]: Tick((72,), ((72, DEFAULT_VELOCITY),)),
    }
    for token, tick in cases.items():
        fork = stream.copy()
        fork.begin()
        assert fork.accept(token) is Accept.FINAL
        assert fork.answer() == tick
        assert stream.copy().listen(tick) == [token]


@SETTINGS
@given(monophonic())
def test_monophonic_round_trip(notes):
    assert np.array_equal(CODEC.decode(CODEC.encode(notes)), expected_notes(notes))


@SETTINGS
@given(polyphonic)
def test_polyphonic_input_decodes_to_its_skyline(notes):
    decoded = CODEC.decode(CODEC.encode(notes))
    grid = quantize(fold_notes(notes, LOW, HIGH), TPQ)
    starts = np.rint(decoded[:, START] * TPQ).astype(int)
    ends = np.rint(decoded[:, END] * TPQ).astype(int)
    assert np.all(starts[1:] >= ends[:-1])  # one line
    lines = list(zip(decoded[:, PITCH].astype(int), starts, ends, strict=True))
    for p, s, e in lines:
        # Each melody note is the top onset of its tick, cut short at most.
        assert any(q == p and qs == s and qe >= e for q, qs, qe, _ in grid)
        assert p == max(q for q, qs, _, _ in grid if qs == s)
    for q, qs, _, _ in grid:
        # Every onset is covered by a melody note at least as high.
        assert any(s <= qs < e and p >= q for p, s, e in lines)


@SETTINGS
@given(polyphonic)
def test_listening_tick_by_tick_equals_encode(notes):
    stream = CODEC.stream()
    tokens = [t for tick in CODEC.ticks(notes) for t in stream.listen(tick)]
    assert tokens == CODEC.encode(notes).tolist()


@SETTINGS
@given(polyphonic)
def test_answer_protocol_reproduces_every_tick(notes):
    stream = CODEC.stream()
    answered = []
    for tick in CODEC.ticks(notes):
        (token,) = stream.copy().listen(tick)
        fork = stream.copy()
        fork.begin()
        mask = fork.mask()
        assert mask is None or mask[token]
        assert fork.accept(token) is Accept.FINAL
        answer = fork.answer()
        assert stream.listen(answer) == [token]  # the player can adopt its fork
        answered.append(answer)
    assert np.array_equal(ticks_to_notes(answered, TPQ), CODEC.decode(CODEC.encode(notes)))


def random_tick(rng: np.random.Generator) -> Tick:
    """A musician's tick: random releases and strikes, in and out of range."""
    offs = rng.choice(128, size=rng.integers(0, 4), replace=False)
    ons = rng.choice(128, size=rng.integers(0, 3), replace=False)
    return Tick(tuple(sorted(int(p) for p in offs)), tuple((int(p), 80) for p in sorted(ons)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_any_masked_answer_listens_back_to_its_tokens(seed):
    rng = np.random.default_rng(seed)
    stream = CODEC.stream()
    for _ in range(80):
        if rng.random() < 0.3:
            stream.listen(random_tick(rng))
            continue
        fork = stream.copy()
        fork.begin()
        mask = fork.mask()
        allowed = np.arange(CODEC.vocab_size) if mask is None else np.flatnonzero(mask)
        token = int(rng.choice(allowed))
        assert fork.accept(token) is Accept.FINAL
        assert stream.listen(fork.answer()) == [token]
