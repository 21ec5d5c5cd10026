"""Tests for the parts stream: the live order of a tick, a chord into a melody part, what each
part sounds, and the answer grammar of livegen's part (sampled tokens never make a bad tick)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.codecs import Accept, PartsCodec
from livegen.notes import DEFAULT_VELOCITY, Tick
from tests.codecs.shapes import HARMONY

NAMES = HARMONY.token_names()


def names(tokens) -> list[str]:
    return [NAMES[int(t)] for t in tokens]


def strike(*pitches: int) -> Tick:
    return Tick(ons=tuple((p, 90) for p in pitches))


def allowed(fork) -> list[str]:
    return names(np.flatnonzero(fork.mask()))


def test_a_chord_into_a_melody_part_keeps_the_highest_and_is_counted():
    stream = HARMONY.stream()
    assert names(stream.listen_yours(strike(64, 67, 72))) == ["Y_ON(72)", "MID"]
    assert stream.chords == 1
    stream.listen_mine(Tick())
    assert names(stream.listen_yours(Tick())) == ["Y_HOLD(72)", "MID"]  # one note: no count
    stream.listen_mine(Tick())
    assert stream.chords == 1
    # Struck higher while the old note is held (a legato overlap): the new note is the melody.
    assert names(stream.listen_yours(strike(76))) == ["Y_ON(76)", "MID"]
    assert stream.chords == 2 and stream.hears_parts() == ({76}, set())
    stream.listen_mine(Tick())
    # The dropped note's release changes nothing.
    assert names(stream.listen_yours(Tick(offs=(72,)))) == ["Y_HOLD(76)", "MID"]


def test_a_polyphonic_part_hears_every_note():
    codec = PartsCodec(yours="chords", mine="melody")
    stream = codec.stream()
    tokens = stream.listen_yours(strike(48, 52, 55))
    assert [codec.token_names()[t] for t in tokens] == ["Y_ON(48)", "Y_ON(52)", "Y_ON(55)", "MID"]
    assert stream.chords == 0


def test_the_halves_of_a_tick_come_in_order():
    stream = HARMONY.stream()
    with pytest.raises(ValueError, match="listen_mine before listen_yours"):
        stream.listen_mine(Tick())
    stream.listen_yours(Tick())
    with pytest.raises(ValueError, match="listen_yours twice"):
        stream.listen_yours(Tick())


def test_hears_says_what_each_part_sounds():
    stream = HARMONY.stream()
    stream.listen_yours(strike(72))
    stream.listen_mine(strike(48, 60))
    assert stream.hears_parts() == ({72}, {48, 60})
    assert stream.hears() == {48, 60, 72}
    stream.release_mine([60])
    assert stream.hears_parts() == ({72}, {48})


def answer_mine(stream, words: list[str]) -> tuple[Tick, list[Accept]]:
    fork = stream.copy()
    fork.begin()
    results = [fork.accept(NAMES.index(w)) for w in words]
    return fork.answer(), results


def test_my_answer_comes_after_your_half_of_the_same_tick():
    stream = HARMONY.stream()
    stream.listen_yours(strike(72))
    stream.listen_mine(strike(48, 55, 64))
    stream.listen_yours(strike(74))
    fork = stream.copy()
    fork.begin()
    # Only my tokens: your half of this tick is heard, not sampled.
    assert set(allowed(fork)) == {"STEP", "M_HOLD(48)", "M_HOLD(55)", "M_HOLD(64)"} | {
        f"M_ON({p})" for p in range(36, 73)
    }
    tick, results = answer_mine(stream, ["M_ON(50)", "M_HOLD(55)", "M_HOLD(64)", "STEP"])
    assert results == [Accept.CONTINUE] * 3 + [Accept.FINAL]
    assert tick == Tick((48,), ((50, DEFAULT_VELOCITY),))
    assert names(stream.listen_mine(tick)) == ["M_ON(50)", "M_HOLD(55)", "M_HOLD(64)", "STEP"]


def test_my_part_never_sounds_more_than_its_cap():
    stream = HARMONY.stream()
    stream.listen_yours(Tick())
    fork = stream.copy()
    fork.begin()
    for word in ["M_ON(40)", "M_ON(50)", "M_ON(60)"]:
        assert word in allowed(fork)
        fork.accept(NAMES.index(word))
    assert allowed(fork) == ["STEP"]


def random_tick(rng: np.random.Generator) -> Tick:
    """A tick from outside: random releases and strikes, in and out of range."""
    offs = rng.choice(128, size=rng.integers(0, 6), replace=False)
    ons = rng.choice(128, size=rng.integers(0, 5), replace=False)
    return Tick(tuple(sorted(int(p) for p in offs)), tuple((int(p), 80) for p in sorted(ons)))


def sample(stream, rng: np.random.Generator, codec) -> tuple[list[int], object]:
    """Random tokens among those the mask allows, until the tick is final."""
    fork = stream.copy()
    fork.begin()
    fed = []
    while True:
        mask = fork.mask()
        allowed_tokens = np.flatnonzero(mask)
        assert allowed_tokens.size
        # Lean towards ending the half (MID, STEP) so that ticks stay short, but not always.
        end = codec.step if mask[codec.step] else codec.mid
        token = end if rng.random() < 0.1 else int(rng.choice(allowed_tokens))
        fed.append(token)
        if fork.accept(token) is Accept.FINAL:
            return fed, fork
        assert len(fed) < codec.max_tokens_per_tick


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([HARMONY, PartsCodec()]))
def test_any_masked_answer_of_my_part_is_a_valid_tick(seed, codec):
    rng = np.random.default_rng(seed)
    stream = codec.stream()
    part = codec.my_part
    for _ in range(60):
        stream.listen_yours(random_tick(rng))
        if rng.random() < 0.3:  # teacher forced, as while priming
            stream.listen_mine(random_tick(rng))
            continue
        before = set(stream.mine)
        fed, fork = sample(stream, rng, codec)
        assert all(codec.table[t][0] in ("M_ON", "M_HOLD", "STEP") for t in fed)
        tick = fork.answer()
        struck = [p for p, _ in tick.ons]
        assert len(struck) == len(set(struck)) <= codec.MAX_ONS  # no pitch twice
        assert all(part.low <= p <= part.high for p in struck)
        assert set(tick.offs) <= before  # only my sounding notes end (or go on: HOLD)
        after = (before - set(tick.offs)) | set(struck)
        assert len(after) <= part.max_notes
        assert stream.listen_mine(tick) == fed  # the player can adopt its fork
        assert stream.mine == after


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([HARMONY, PartsCodec()]))
def test_a_whole_answer_listens_back_through_the_split_to_its_tokens(seed, codec):
    """The single-stream Player answers whole ticks and hears them merged: the fork stays good."""
    rng = np.random.default_rng(seed)
    stream = codec.stream()
    for _ in range(60):
        if rng.random() < 0.3:
            stream.listen(random_tick(rng))
            continue
        fed, fork = sample(stream, rng, codec)
        tick = fork.answer()
        halves = fork.answer_parts()
        assert len({p for p, _ in tick.ons}) == len(tick.ons)
        assert tick.ons == tuple(sorted(halves.yours.ons + halves.mine.ons))
        assert stream.listen(tick) == fed
