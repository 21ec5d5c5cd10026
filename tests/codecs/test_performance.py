"""Tests for the performance codec: layout, velocity bins, lazy shifts, answers, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.codecs.base import Accept
from livegen.codecs.performance import PerformanceCodec
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

CODEC = PerformanceCodec()
SMALL = PerformanceCodec(ticks_per_quarter=4, low=48, high=72, velocity_bins=7, max_shift=3)
TPQ, LOW, HIGH = CODEC.ticks_per_quarter, CODEC.low, CODEC.high
N, BINS, MAX_SHIFT = HIGH - LOW + 1, CODEC.velocity_bins, CODEC.max_shift
NAMES = CODEC.token_names()
SETTINGS = settings(max_examples=120, deadline=None)


def names(tokens, codec: PerformanceCodec = CODEC) -> list[str]:
    table = codec.token_names()
    return [table[int(t)] for t in tokens]


def token(word: str, codec: PerformanceCodec = CODEC) -> int:
    return codec.token_names().index(word)


def binned(velocity: int, codec: PerformanceCodec = CODEC) -> int:
    return codec.bin_velocity[codec.velocity_bin[velocity]]


def expected_notes(notes: np.ndarray, codec: PerformanceCodec) -> np.ndarray:
    """What a round trip should give: folded, on the grid, velocities binned."""
    out = on_grid(fold_notes(notes, codec.low, codec.high), codec.ticks_per_quarter)
    out[:, VELOCITY] = [binned(int(v), codec) for v in out[:, VELOCITY]]
    return out


polyphonic = st.lists(
    st.tuples(
        st.integers(0, 127),
        # Up to 10 quarters: gaps longer than max_shift ticks at 12 per quarter.
        st.floats(0, 10, allow_nan=False),
        st.floats(0, 3, allow_nan=False),
        st.integers(1, 127),
    ),
    max_size=24,
).map(lambda rows: make_notes([(p, s, s + d, v) for p, s, d, v in rows]))
codecs = st.sampled_from([CODEC, SMALL])


def test_layout():
    assert CODEC.vocab_size == 2 * N + BINS + MAX_SHIFT == 232
    assert NAMES[0] == f"ON({LOW})" and NAMES[60 - LOW] == "ON(60)"
    assert NAMES[N + 60 - LOW] == "OFF(60)"
    assert NAMES[2 * N] == "VEL(0)" and NAMES[2 * N + BINS - 1] == f"VEL({BINS - 1})"
    assert NAMES[2 * N + BINS] == "SHIFT(1)" and NAMES[-1] == f"SHIFT({MAX_SHIFT})"
    strikes = CODEC.strikes()
    assert list(strikes[:N]) == list(range(LOW, HIGH + 1)) and np.all(strikes[N:] == -1)


@pytest.mark.parametrize("bins", [1, 7, 32, 100, 127])
def test_velocity_table(bins):
    codec = PerformanceCodec(velocity_bins=bins)
    of = np.array(codec.velocity_bin[1:])  # bins of velocities 1..127
    assert of[0] == 0 and of[-1] == bins - 1 and np.all(np.diff(of) >= 0)
    assert set(of.tolist()) == set(range(bins))  # no empty bin
    for b, v in enumerate(codec.bin_velocity):
        assert 1 <= v <= 127 and codec.velocity_bin[v] == b  # a bin sounds inside itself


def test_a_group_is_shift_offs_then_ons_with_vel_on_bin_changes():
    notes = make_notes([(64, 0, 1, 80), (60, 0, 1, 100), (67, 0, 1, 100), (62, 1, 2, 80)])
    b80, b100 = CODEC.velocity_bin[80], CODEC.velocity_bin[100]
    assert b80 == CODEC.start_bin != b100
    assert names(CODEC.encode(notes)) == [
        *("SHIFT(1)", f"VEL({b100})", "ON(60)", f"VEL({b80})", "ON(64)", f"VEL({b100})"),
        "ON(67)",
        *("SHIFT(12)", "OFF(60)", "OFF(64)", "OFF(67)", f"VEL({b80})", "ON(62)"),
        *("SHIFT(12)", "OFF(62)"),
    ]


def test_shifts_are_lazy_and_never_exceed_max_shift():
    notes = make_notes([(60, 0, 1 / 12), (62, 61 / 12, 62 / 12)])
    assert names(CODEC.encode(notes)) == [
        *("SHIFT(1)", "ON(60)", "SHIFT(1)", "OFF(60)"),
        *("SHIFT(24)", "SHIFT(24)", "SHIFT(12)", "ON(62)", "SHIFT(1)", "OFF(62)"),
    ]


def test_restrikes_release_first():
    notes = make_notes([(60, 0, 1), (60, 1, 2)])
    assert names(CODEC.encode(notes))[2:5] == ["SHIFT(12)", "OFF(60)", "ON(60)"]
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80),)))
    assert names(stream.listen(Tick(ons=((60, 80),)))) == ["SHIFT(1)", "OFF(60)", "ON(60)"]


def test_out_of_range_notes_fold_by_octaves_and_are_never_dropped():
    notes = make_notes([(0, 0, 1), (20, 0, 1), (109, 0, 1), (127, 0, 1)])
    decoded = CODEC.decode(CODEC.encode(notes))
    assert sorted(decoded[:, PITCH]) == [24, 32, 97, 103]


def test_listen_folds_offs_like_ons_and_ignores_offs_of_silent_pitches():
    stream = CODEC.stream()
    assert names(stream.listen(Tick(ons=((120, 80),)))) == ["SHIFT(1)", "ON(108)"]
    assert stream.listen(Tick(offs=(50,))) == []  # nothing to release: a silent tick
    assert names(stream.listen(Tick(offs=(120,)))) == ["SHIFT(2)", "OFF(108)"]


def test_decode_uses_the_bin_velocity():
    tokens = [token("SHIFT(1)"), token("ON(60)"), token("VEL(31)"), token("ON(61)")]
    tokens += [token("SHIFT(3)"), token("OFF(60)"), token("OFF(61)")]
    assert CODEC.decode(np.array(tokens)).tolist() == [
        [60, 0.0, 0.25, binned(DEFAULT_VELOCITY)],
        [61, 0.0, 0.25, CODEC.bin_velocity[31]],
    ]


def begun(stream):
    fork = stream.copy()
    fork.begin()
    return fork


def allowed(fork) -> set[str]:
    return set(names(np.flatnonzero(fork.mask())))


SHIFTS = {f"SHIFT({k})" for k in range(1, MAX_SHIFT + 1)}


def test_an_answer_opens_with_a_shift_of_at_least_need():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80),)))
    stream.listen(Tick())
    fork = begun(stream)  # the last group was 2 ticks ago: need is 2
    assert allowed(fork) == SHIFTS - {"SHIFT(1)"}
    assert fork.accept(token("SHIFT(5)")) is Accept.DROP  # silent tick
    assert fork.answer() == Tick()
    assert stream.copy().listen(Tick()) == []
    fork = begun(stream)
    assert fork.accept(token("SHIFT(2)")) is Accept.CONTINUE
    # An opened group needs an event before a SHIFT may close it.
    assert not allowed(fork) & SHIFTS
    assert fork.accept(token("OFF(60)")) is Accept.CONTINUE
    assert allowed(fork) >= SHIFTS
    assert fork.accept(token("SHIFT(7)")) is Accept.DROP
    assert fork.answer() == Tick(offs=(60,))


def test_a_silent_tick_at_max_shift_feeds_its_shift():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80),)))
    for _ in range(MAX_SHIFT - 1):
        assert stream.listen(Tick()) == []
    fork = begun(stream)
    assert allowed(fork) == {f"SHIFT({MAX_SHIFT})"}
    assert fork.accept(token(f"SHIFT({MAX_SHIFT})")) is Accept.CONTINUE
    assert allowed(fork) >= SHIFTS  # silence is allowed now
    assert fork.accept(token("SHIFT(1)")) is Accept.DROP
    assert fork.answer() == Tick()
    assert names(stream.listen(Tick())) == [f"SHIFT({MAX_SHIFT})"]


def test_offs_ons_and_vels_follow_the_grammar():
    stream = CODEC.stream()
    stream.listen(Tick(ons=((60, 80), (64, 80))))
    fork = begun(stream)
    fork.accept(token("SHIFT(1)"))
    ok = allowed(fork)
    assert {w for w in ok if w.startswith("OFF")} == {"OFF(60)", "OFF(64)"}
    assert "ON(60)" not in ok and "ON(64)" not in ok and "ON(61)" in ok
    assert f"VEL({CODEC.start_bin})" not in ok and "VEL(0)" in ok
    fork.accept(token("OFF(60)"))
    ok = allowed(fork)
    assert "OFF(60)" not in ok and "OFF(64)" in ok and "ON(60)" in ok  # re-strike allowed
    fork.accept(token("VEL(3)"))
    ok = allowed(fork)  # after a VEL only an ON
    assert ok == {f"ON({p})" for p in range(LOW, HIGH + 1) if p != 64}
    fork.accept(token("ON(62)"))
    ok = allowed(fork)  # no OFF after an ON; ONs ascending
    assert not {w for w in ok if w.startswith(("OFF", "ON(60)", "ON(62)"))}
    assert "ON(63)" in ok and "VEL(3)" not in ok and "VEL(4)" in ok and ok >= SHIFTS
    with pytest.raises(ValueError):
        fork.accept(token("OFF(64)"))
    fork.accept(token("SHIFT(1)"))
    tick = fork.answer()
    assert tick == Tick((60,), ((62, CODEC.bin_velocity[3]),))
    assert names(stream.listen(tick)) == ["SHIFT(1)", "OFF(60)", "VEL(3)", "ON(62)"]


def test_only_shift_after_the_cap_of_events():
    fork = begun(CODEC.stream())
    fork.accept(token("SHIFT(1)"))
    for p in range(40, 40 + CODEC.MAX_EVENTS):
        fork.accept(CODEC.on_token[p])
    assert allowed(fork) == SHIFTS


@SETTINGS
@given(polyphonic, codecs)
def test_round_trip(notes, codec):
    assert np.array_equal(codec.decode(codec.encode(notes)), expected_notes(notes, codec))


@SETTINGS
@given(polyphonic, codecs)
def test_listening_tick_by_tick_equals_encode(notes, codec):
    stream = codec.stream()
    tokens = [t for tick in codec.ticks(notes) for t in stream.listen(tick)]
    assert tokens == codec.encode(notes).tolist()


@SETTINGS
@given(polyphonic, codecs)
def test_answer_protocol_reproduces_every_tick(notes, codec):
    stream = codec.stream()
    close = codec.shift_token[codec.max_shift]  # any SHIFT not fed ends the answer
    answered = []
    for tick in codec.ticks(notes):
        tokens = stream.copy().listen(tick)
        fork = begun(stream)
        for t in tokens:
            assert fork.mask()[t]
            assert fork.accept(t) is Accept.CONTINUE
        assert fork.mask()[close]
        assert fork.accept(close) is Accept.DROP
        answer = fork.answer()
        assert stream.listen(answer) == tokens  # the player can adopt its fork
        answered.append(answer)
    decoded = ticks_to_notes(answered, codec.ticks_per_quarter)
    assert np.array_equal(decoded, expected_notes(notes, codec))


def random_tick(rng: np.random.Generator) -> Tick:
    """A musician's tick: random releases and strikes, in and out of range."""
    offs = rng.choice(128, size=rng.integers(0, 6), replace=False)
    ons = rng.choice(128, size=rng.integers(0, 4), replace=False)
    velocities = rng.integers(1, 128, size=len(ons))
    ons_ = tuple((int(p), int(v)) for p, v in sorted(zip(ons, velocities, strict=True)))
    return Tick(tuple(sorted(int(p) for p in offs)), ons_)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), codecs)
def test_any_masked_answer_listens_back_to_its_tokens(seed, codec):
    rng = np.random.default_rng(seed)
    stream = codec.stream()
    is_shift = np.array([kind == "SHIFT" for kind, _ in codec.table])
    for _ in range(80):
        if rng.random() < 0.3:
            stream.listen(random_tick(rng))
            continue
        fork = begun(stream)
        fed = []
        while True:
            mask = fork.mask()
            choices = np.flatnonzero(mask)
            # Lean towards opening the group (SHIFT(need) is the first allowed token) and
            # towards events, so that restrikes, VELs and the cap all come up.
            if not fed and rng.random() < 0.5:
                choices = choices[:1]
            elif rng.random() < 0.9 and (mask & ~is_shift).any():
                choices = np.flatnonzero(mask & ~is_shift)
            t = int(rng.choice(choices))
            result = fork.accept(t)
            if result is Accept.DROP:
                break
            fed.append(t)
            assert len(fed) <= 2 * codec.MAX_EVENTS + 1
        assert stream.listen(fork.answer()) == fed


def test_tick_of_tokens_puts_each_event_at_the_tick_it_sounds():
    codec = PerformanceCodec()
    shift, on, off = codec.shift_token, codec.on_token, codec.off_token
    # Time starts at tick -1: SHIFT(1) opens tick 0, SHIFT(3) then opens tick 3.
    tokens = np.array([shift[1], on[60], shift[3], off[60], on[62], shift[24], shift[2]])
    assert codec.tick_of_tokens(tokens).tolist() == [0, 0, 3, 3, 3, 27, 29]
    assert codec.tick_of_tokens(np.array([], dtype=np.int64)).tolist() == []
