"""Tests for the poly codec: layout, tick grammar, folding, round trips and the answer protocol."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.codecs.base import Accept, CodecError
from livegen.codecs.poly import PolyCodec
from livegen.notes import (
    DEFAULT_VELOCITY,
    PITCH,
    VELOCITY,
    Tick,
    fold_notes,
    make_notes,
    on_grid,
    ticks_to_notes,
)

CODEC = PolyCodec()
LOW_FIRST = PolyCodec(order="low_first")  # the same range, one ascending run per tick
BOTH = pytest.mark.parametrize("codec", [CODEC, LOW_FIRST], ids=["ons_first", "low_first"])
TPQ, LOW, HIGH = CODEC.ticks_per_quarter, CODEC.low, CODEC.high
N = HIGH - LOW + 1
NAMES = CODEC.token_names()
SETTINGS = settings(max_examples=150, deadline=None)


def names(tokens) -> list[str]:
    return [NAMES[int(t)] for t in tokens]


def tokens_of(*words: str) -> list[int]:
    return [NAMES.index(w) for w in words]


def expected_notes(notes: np.ndarray) -> np.ndarray:
    """What a round trip should give: folded, on the grid, at the codec's one velocity."""
    out = on_grid(fold_notes(notes, LOW, HIGH), TPQ)
    out[:, VELOCITY] = DEFAULT_VELOCITY
    return out


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
    assert CODEC.vocab_size == 1 + 2 * N
    assert NAMES[0] == "STEP"
    assert NAMES[1 + 60 - LOW] == "ON(60)"
    assert NAMES[1 + N + 60 - LOW] == "HOLD(60)"
    strikes = CODEC.strikes()
    assert list(strikes[1 : 1 + N]) == list(range(LOW, HIGH + 1))
    assert strikes[0] == -1 and np.all(strikes[1 + N :] == -1)
    assert CODEC.max_tokens_per_tick >= 1 + N


def test_a_tick_lists_new_notes_then_held_notes_ascending_then_step():
    notes = make_notes([(64, 0, 0.5), (60, 0, 0.25), (67, 0.25, 0.5), (48, 0.25, 0.5)])
    assert names(CODEC.encode(notes)) == [
        *("ON(60)", "ON(64)", "STEP"),
        *("ON(48)", "ON(67)", "HOLD(64)", "STEP"),
        "STEP",
    ]


def test_a_restruck_note_is_an_on_not_a_hold():
    notes = make_notes([(60, 0, 0.25), (60, 0.25, 0.5), (62, 0, 0.5)])
    assert names(CODEC.encode(notes)) == [
        *("ON(60)", "ON(62)", "STEP"),
        *("ON(60)", "HOLD(62)", "STEP"),
        "STEP",
    ]
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80),)))
    # A strike of a sounding pitch without its release is a re-strike too.
    assert names(stream.listen(Tick(ons=((60, 80),)))) == ["ON(60)", "STEP"]


def test_out_of_range_notes_fold_by_octaves_and_are_never_dropped():
    notes = make_notes([(0, 0, 1), (30, 0, 1), (100, 0, 1), (127, 0, 1)])
    decoded = CODEC.decode(CODEC.encode(notes))
    assert sorted(decoded[:, PITCH]) == [36, 42, 76, 79]


def test_listen_folds_offs_like_ons():
    stream = CODEC.stream()
    assert names(stream.listen(Tick(ons=((24, 80), (100, 80))))) == ["ON(36)", "ON(76)", "STEP"]
    assert names(stream.listen(Tick(offs=(100,)))) == ["HOLD(36)", "STEP"]
    assert names(stream.listen(Tick(offs=(24, 55)))) == ["STEP"]


def test_decode_ignores_a_hold_of_nothing_and_closes_a_trailing_tick():
    tokens = tokens_of(
        *("HOLD(50)", "STEP", "ON(60)", "STEP", "HOLD(60)", "HOLD(61)", "STEP", "ON(62)")
    )
    assert CODEC.decode(np.array(tokens)).tolist() == [
        [60, 0.25, 0.75, DEFAULT_VELOCITY],
        [62, 0.75, 1.0, DEFAULT_VELOCITY],
    ]


def answer_with(stream, words: list[str]) -> tuple[Tick, list[Accept]]:
    fork = stream.copy()
    fork.begin()
    results = []
    for token in tokens_of(*words):
        assert fork.mask()[token], NAMES[token]
        results.append(fork.accept(token))
    return fork.answer(), results


def allowed(stream_or_fork) -> list[str]:
    return names(np.flatnonzero(stream_or_fork.mask()))


def test_masks_enforce_the_tick_grammar():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80), (64, 80))))
    fork = stream.copy()
    fork.begin()
    assert set(allowed(fork)) == {"STEP", "HOLD(60)", "HOLD(64)"} | {
        f"ON({p})" for p in range(LOW, HIGH + 1)
    }
    fork.accept(NAMES.index("ON(62)"))
    assert "ON(62)" not in allowed(fork) and "ON(61)" not in allowed(fork)
    assert "ON(63)" in allowed(fork)
    fork.accept(NAMES.index("ON(64)"))  # re-strike: no HOLD(64) after it
    assert "HOLD(64)" not in allowed(fork)
    fork.accept(NAMES.index("HOLD(60)"))
    assert allowed(fork) == ["STEP"]  # no ON after a HOLD, no HOLD twice
    with pytest.raises(ValueError):
        fork.accept(NAMES.index("HOLD(60)"))
    assert fork.accept(CODEC.step) is Accept.FINAL
    assert fork.answer() == Tick((64,), ((62, DEFAULT_VELOCITY), (64, DEFAULT_VELOCITY)))


def test_step_is_forced_after_the_cap_of_new_notes():
    fork = CODEC.stream()
    fork.begin()
    for p in range(60, 60 + CODEC.MAX_ONS):
        assert fork.accept(CODEC.on_token[p]) is Accept.CONTINUE
    assert allowed(fork) == ["STEP"]


def test_answers_release_every_note_they_do_not_hold():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80), (64, 80), (67, 80))))
    tick, results = answer_with(stream, ["ON(72)", "HOLD(64)", "STEP"])
    assert results == [Accept.CONTINUE, Accept.CONTINUE, Accept.FINAL]
    assert tick == Tick((60, 67), ((72, DEFAULT_VELOCITY),))
    assert names(stream.listen(tick)) == ["ON(72)", "HOLD(64)", "STEP"]


@BOTH
@SETTINGS
@given(notes=polyphonic)
def test_round_trip(codec, notes):
    assert np.array_equal(codec.decode(codec.encode(notes)), expected_notes(notes))


@BOTH
@SETTINGS
@given(notes=polyphonic)
def test_listening_tick_by_tick_equals_encode(codec, notes):
    stream = codec.stream()
    tokens = [t for tick in codec.ticks(notes) for t in stream.listen(tick)]
    assert tokens == codec.encode(notes).tolist()


@BOTH
@SETTINGS
@given(notes=polyphonic)
def test_answer_protocol_reproduces_every_tick(codec, notes):
    stream = codec.stream()
    answered = []
    for tick in codec.ticks(notes):
        tokens = stream.copy().listen(tick)
        fork = stream.copy()
        fork.begin()
        results = []
        for token in tokens:
            assert fork.mask()[token]
            results.append(fork.accept(token))
        assert results == [Accept.CONTINUE] * (len(tokens) - 1) + [Accept.FINAL]
        answer = fork.answer()
        assert answer == Tick(tick.offs, tuple((p, DEFAULT_VELOCITY) for p, _ in tick.ons))
        assert stream.listen(answer) == tokens  # the player can adopt its fork
        answered.append(answer)
    assert np.array_equal(ticks_to_notes(answered, TPQ), expected_notes(notes))


def random_tick(rng: np.random.Generator) -> Tick:
    """A musician's tick: random releases and strikes, in and out of range."""
    offs = rng.choice(128, size=rng.integers(0, 6), replace=False)
    ons = rng.choice(128, size=rng.integers(0, 4), replace=False)
    return Tick(tuple(sorted(int(p) for p in offs)), tuple((int(p), 80) for p in sorted(ons)))


@BOTH
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_masked_answer_listens_back_to_its_tokens(codec, seed):
    rng = np.random.default_rng(seed)
    stream = codec.stream()
    for _ in range(60):
        if rng.random() < 0.3:
            stream.listen(random_tick(rng))
            continue
        fork = stream.copy()
        fork.begin()
        fed = []
        while True:
            allowed_tokens = np.flatnonzero(fork.mask())
            # Lean towards STEP so that ticks stay short, but not always.
            token = codec.step if rng.random() < 0.15 else int(rng.choice(allowed_tokens))
            fed.append(token)
            if fork.accept(token) is Accept.FINAL:
                break
            assert len(fed) < codec.max_tokens_per_tick
        assert stream.listen(fork.answer()) == fed


def test_tick_of_tokens_counts_the_steps_before_each_token():
    codec = PolyCodec()
    on, hold, step = codec.on_token, codec.hold_token, codec.step
    tokens = np.array([on[60], on[64], step, hold[60], step, step, on[67], step])
    assert codec.tick_of_tokens(tokens).tolist() == [0, 0, 0, 1, 1, 2, 3, 3]


def test_low_first_lists_every_sounding_pitch_in_one_ascending_run():
    stream, names_of = LOW_FIRST.stream(), LOW_FIRST.token_names()
    first = stream.listen(Tick(ons=((60, 80), (64, 80), (67, 80))))
    tokens = stream.listen(Tick(offs=(64,), ons=((62, 80), (72, 80))))
    assert [names_of[t] for t in tokens] == ["HOLD(60)", "ON(62)", "HOLD(67)", "ON(72)", "STEP"]
    notes = LOW_FIRST.decode(np.array(first + tokens))  # 60 and 67 held on, 64 one tick
    assert sorted(notes[:, PITCH].tolist()) == [60, 62, 64, 67, 72]
    # The default order lists the same tick's struck pitches first.
    default = CODEC.stream()
    default.listen(Tick(ons=((60, 80), (64, 80), (67, 80))))
    assert names(default.listen(Tick(offs=(64,), ons=((62, 80), (72, 80))))) == [
        "ON(62)", "ON(72)", "HOLD(60)", "HOLD(67)", "STEP"
    ]  # fmt: skip


def test_low_first_masks_allow_only_pitches_above_the_last_one():
    stream, names_of = LOW_FIRST.stream(), LOW_FIRST.token_names()
    stream.listen(Tick(ons=((60, 80), (64, 80), (67, 80))))
    stream.begin()
    stream.accept(LOW_FIRST.on_token[62])
    allowed = {names_of[i] for i in np.flatnonzero(stream.mask())}
    assert "HOLD(60)" not in allowed and "ON(61)" not in allowed and "ON(62)" not in allowed
    assert {"HOLD(64)", "HOLD(67)", "ON(63)", "ON(64)", "STEP"} <= allowed
    stream.accept(LOW_FIRST.hold_token[67])
    allowed = {names_of[i] for i in np.flatnonzero(stream.mask())}
    assert "HOLD(64)" not in allowed and "ON(67)" not in allowed and "ON(68)" in allowed


def test_the_order_is_a_stored_parameter_and_a_wrong_one_is_refused():
    assert CODEC.params()["order"] == "ons_first"  # what a checkpoint without it means
    assert PolyCodec(**LOW_FIRST.params()).order == "low_first"
    assert LOW_FIRST.describe().endswith("order=low_first)")
    with pytest.raises(CodecError, match="order must be one of ons_first, low_first"):
        PolyCodec(order="high_first")
