"""Tests for the pianoroll codec: frames, folding, round trips and the answer protocol."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.codecs.base import Accept
from livegen.codecs.pianoroll import PianorollCodec
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
    sort_notes,
    ticks_to_notes,
)

CODEC = PianorollCodec()
TPQ, LOW, HIGH = CODEC.ticks_per_quarter, CODEC.low, CODEC.high
SETTINGS = settings(max_examples=150, deadline=None)


def merged(notes: np.ndarray) -> np.ndarray:
    """Notes as a roll sees them: a note struck as its pitch's last one ends joins it."""
    rows: list[list[float]] = []
    last: dict[float, list[float]] = {}
    for row in notes.tolist():
        before = last.get(row[PITCH])
        if before is not None and before[END] == row[START]:
            before[END] = row[END]
        else:
            rows.append(row)
            last[row[PITCH]] = row
    out = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    out[:, VELOCITY] = DEFAULT_VELOCITY
    return sort_notes(out)


def expected_notes(notes: np.ndarray) -> np.ndarray:
    return merged(on_grid(fold_notes(notes, LOW, HIGH), TPQ))


polyphonic = st.lists(
    st.tuples(
        st.integers(0, 127),
        st.floats(0, 8, allow_nan=False),
        st.floats(0, 3, allow_nan=False),
        st.integers(1, 127),
    ),
    max_size=30,
).map(lambda rows: make_notes([(p, s, s + d, v) for p, s, d, v in rows]))


def test_layout():
    assert CODEC.head == "sigmoid" and CODEC.vocab_size == 88
    assert CODEC.token_names()[0] == "KEY(21)" and CODEC.token_names()[-1] == "KEY(108)"
    assert list(CODEC.strikes()) == list(range(21, 109))


def test_encode_gives_uint8_frames_until_the_last_note_ends():
    notes = make_notes([(60, 0, 0.5), (64, 0.25, 0.75)])
    frames = CODEC.encode(notes)
    # No silent frame after the last note: frames match the BL2012 piano rolls.
    assert frames.dtype == np.uint8 and frames.shape == (3, 88)
    assert [tuple(np.flatnonzero(f)) for f in frames] == [(39,), (39, 43), (43,)]
    assert CODEC.encode(make_notes([])).shape == (0, 88)
    assert len(CODEC.decode(CODEC.encode(make_notes([])))) == 0


def test_a_restrike_of_a_held_key_reads_as_one_note():
    notes = make_notes([(60, 0, 0.5), (60, 0.5, 1), (60, 1.25, 1.5)])
    assert CODEC.decode(CODEC.encode(notes)).tolist() == [
        [60, 0, 1, DEFAULT_VELOCITY],
        [60, 1.25, 1.5, DEFAULT_VELOCITY],
    ]


def test_out_of_range_notes_fold_by_octaves_and_are_never_dropped():
    notes = make_notes([(0, 0, 1), (20, 1, 2), (109, 2, 3), (127, 3, 4)])
    assert CODEC.decode(CODEC.encode(notes))[:, PITCH].tolist() == [24, 32, 97, 103]


def test_listen_folds_offs_like_ons():
    stream = CODEC.stream()
    assert stream.listen(Tick(ons=((10, 80), (60, 80)))) == [(1, 39)]
    assert stream.listen(Tick(offs=(10,))) == [(39,)]


def test_decode_takes_key_tuples_too():
    frames = CODEC.encode(make_notes([(60, 0, 0.5), (64, 0.25, 0.75)]))
    keys = [(39,), (39, 43), (43,)]
    assert np.array_equal(CODEC.decode(keys), CODEC.decode(frames))


def test_answers_move_from_what_sounds_to_the_frame():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80), (64, 80))))
    fork = stream.copy()
    fork.begin()
    assert fork.mask() is None
    assert fork.accept((46, 39, 46)) is Accept.FINAL  # any order, repeats ignored
    tick = fork.answer()
    assert tick == Tick((64,), ((67, DEFAULT_VELOCITY),))
    assert stream.listen(tick) == [(39, 46)]


@SETTINGS
@given(polyphonic)
def test_round_trip(notes):
    assert np.array_equal(CODEC.decode(CODEC.encode(notes)), expected_notes(notes))


@SETTINGS
@given(polyphonic)
def test_listening_tick_by_tick_equals_encode(notes):
    stream = CODEC.stream()
    frames = np.zeros((0, 88), dtype=np.uint8)
    rows = []
    for tick in CODEC.ticks(notes):
        (keys,) = stream.listen(tick)
        row = np.zeros(88, dtype=np.uint8)
        row[list(keys)] = 1
        rows.append(row)
    if rows:
        # The last tick only releases notes: its silent frame is what encode leaves out.
        assert not rows[-1].any()
        frames = np.stack(rows[:-1])
    assert np.array_equal(frames, CODEC.encode(notes))


@SETTINGS
@given(polyphonic)
def test_answer_protocol_reproduces_every_tick(notes):
    stream = CODEC.stream()
    answered = []
    for tick in CODEC.ticks(notes):
        tokens = stream.copy().listen(tick)
        fork = stream.copy()
        fork.begin()
        assert fork.accept(tokens[0]) is Accept.FINAL
        answer = fork.answer()
        assert stream.listen(answer) == tokens  # the player can adopt its fork
        answered.append(answer)
    assert np.array_equal(ticks_to_notes(answered, TPQ), expected_notes(notes))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_any_frame_answer_listens_back_to_its_frame(seed):
    rng = np.random.default_rng(seed)
    stream = CODEC.stream()
    for _ in range(60):
        fork = stream.copy()
        fork.begin()
        frame = rng.choice(88, size=rng.integers(0, 8), replace=False)
        assert fork.accept(tuple(int(k) for k in frame)) is Accept.FINAL
        assert stream.listen(fork.answer()) == [tuple(sorted(int(k) for k in frame))]
