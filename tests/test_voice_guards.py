"""The sampling guards of a parts model's part: each guard's mask on hand-made ticks, and the
guards holding over whole sessions of a tiny random model, stepped and in the harmonize table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livegen import harmony_checks as hc
from livegen.codecs import PartsCodec
from livegen.codecs.base import Accept
from livegen.harmonize import plan
from livegen.notes import EMPTY_TICK, Tick
from livegen.voice_guards import ALL, GuardChoice, VoiceGuards, guards_for
from tests.codecs.shapes import HARMONY
from tests.test_parts_player import make_player, melody_ticks

BASS = PartsCodec(
    yours="soprano", mine="bass", yours_low=60, yours_high=81, mine_low=36, mine_high=64,
    yours_max_notes=1, mine_max_notes=1,
)  # fmt: skip
TOP = PartsCodec(
    yours="alto+tenor+bass", mine="soprano", yours_low=36, yours_high=72, mine_low=60,
    mine_high=81, mine_max_notes=1,
)  # fmt: skip
BASS_RANGE, SOPRANO_RANGE = hc.RANGES[hc.B], hc.RANGES[hc.S]


class Session:
    """A stream and its guards, ticks heard by hand; ``ask`` masks my half's next token."""

    def __init__(self, codec: PartsCodec, choice: GuardChoice = ALL) -> None:
        self.codec, self.stream, self.n = codec, codec.stream(), 0
        self.guards = VoiceGuards(codec, choice)

    def tick(self, yours: Tick, mine: Tick = EMPTY_TICK) -> None:
        self.stream.listen_yours(yours)
        self.stream.listen_mine(mine)
        self.guards.heard(self.n, self.stream)
        self.n += 1

    def begin(self, yours: Tick) -> None:
        """Your half of tick ``n`` heard; my half about to be sampled."""
        self.stream.listen_yours(yours)
        self.answer = self.stream.copy()
        self.answer.begin()
        self.tick_guard = self.guards.tick_guard(self.n, [self.answer.yours])

    def ask(self) -> tuple[set[int], set[int], bool]:
        """What the next token may be: (pitches struck, pitches held, STEP)."""
        grammar = self.answer.mask()
        m = self.guards.mask(self.tick_guard, [self.answer], grammar[None])[0]
        part, table = self.codec.my_part, self.codec.table
        ons = {table[t][1] for t in part.on_tokens if m[t]}
        holds = {p for p, t in part.hold_token.items() if m[t]}
        return ons, holds, bool(m[self.codec.step])

    def take(self, kind: str, pitch: int) -> None:
        part = self.codec.my_part
        self.answer.accept((part.on_token if kind == "on" else part.hold_token)[pitch])


def on(*pitches: int, offs: tuple[int, ...] = ()) -> Tick:
    return Tick(offs, tuple((p, 90) for p in pitches))


# ---- range -----------------------------------------------------------------------------------
def test_the_bass_is_struck_only_in_the_bass_range():
    s = Session(BASS)
    s.tick(EMPTY_TICK)  # off the beat: no chord asked for
    s.begin(on(72))
    ons, _, step = s.ask()
    assert ons == set(range(BASS_RANGE[0], BASS_RANGE[1] + 1))  # 36..39 and 63, 64 forbidden
    assert not step, "you strike: livegen sounds under it (the under guard)"
    unguarded = Session(BASS, GuardChoice(range=False, key=False, parallels=False))
    unguarded.tick(EMPTY_TICK)
    unguarded.begin(on(72))
    assert unguarded.ask()[0] == set(range(36, 65))


def test_a_strike_above_the_bass_range_owes_a_held_bass_below_it():
    s = Session(HARMONY)
    s.tick(on(72), on(45))  # the bass 45 sounds
    s.begin(EMPTY_TICK)  # an off-beat tick: only range and parallels speak
    ons, holds, _ = s.ask()
    assert 66 in ons, "a tenor note above a bass that may go on"
    assert not ons & {36, 37, 38, 39}
    s.take("on", 66)
    ons, holds, step = s.ask()
    assert not step, "66 alone would be the bass: the held bass must come"
    assert holds == {45}
    assert ons, "another upper note first is fine, a voice is left for the bass"
    s.take("on", 69)
    ons, holds, step = s.ask()
    assert (ons, holds, step) == (set(), {45}, False)


def test_with_nothing_held_the_lowest_strike_is_the_bass():
    s = Session(HARMONY)
    s.tick(EMPTY_TICK)
    s.begin(on(72))
    ons, _, _ = s.ask()
    assert max(ons) == BASS_RANGE[1] and min(ons) == BASS_RANGE[0]
    s.take("on", 48)
    ons, _, _ = s.ask()
    assert ons and min(ons) >= hc.RANGES[hc.T][0]  # the voices above: tenor and alto


# ---- key -------------------------------------------------------------------------------------
def c_major(s: Session, ticks: int) -> None:
    """Your part plays C, E, G, C... one tick each."""
    last = None
    for i in range(ticks):
        p = (60, 64, 67, 72)[i % 4]
        s.tick(on(p, offs=(last,) if last else ()))
        last = p


def test_the_key_guard_waits_then_keeps_my_strikes_in_your_key():
    s = Session(BASS, GuardChoice(range=False, parallels=False, consonance=False, key_after=8))
    c_major(s, 7)
    s.begin(EMPTY_TICK)
    assert s.ask()[0] == set(range(36, 65)), "seven ticks heard: no key yet"
    s = Session(BASS, GuardChoice(range=False, parallels=False, consonance=False, key_after=8))
    c_major(s, 9)
    s.begin(EMPTY_TICK)
    ons = s.ask()[0]
    assert ons == {p for p in range(36, 65) if p % 12 in hc.MAJOR_SCALE}
    s.guards.key_locked = True  # the user set a key: it wins
    s.tick_guard = s.guards.tick_guard(s.n, [s.answer.yours])
    assert s.ask()[0] == set(range(36, 65))


def test_the_key_of_a_histogram_is_the_checks_key():
    rng = np.random.default_rng(0)
    for _ in range(200):
        h = rng.integers(0, 6, 12).astype(float)
        grid = np.full((int(h.sum()), 4), hc.REST)
        grid[:, 0] = np.repeat(np.arange(60, 72), h.astype(int))
        best, best_r = None, -np.inf
        for minor, profile in ((False, hc.MAJOR_PROFILE), (True, hc.MINOR_PROFILE)):
            for tonic in range(12):
                r = np.corrcoef(h, np.roll(profile, tonic))[0, 1]
                if r > best_r:
                    best, best_r = hc.Key(tonic, minor), r
        assert hc.key_of_histogram(h) == best == hc.estimate_key(grid, [0])


# ---- parallels -------------------------------------------------------------------------------
NO_PARALLELS = GuardChoice(range=False, key=False, consonance=False)


def test_no_parallel_octave_or_fifth_against_the_last_tick():
    s = Session(BASS, NO_PARALLELS)
    s.tick(on(72), on(48))  # an octave (two)
    s.begin(on(74, offs=(72,)))  # the soprano steps up
    ons, holds, _ = s.ask()
    assert not {50, 62} & ons, "up an octave again: parallel octaves"
    assert {47, 49, 51, 53} <= ons
    assert holds == {48}, "the bass holding is oblique motion"
    s = Session(BASS, NO_PARALLELS)
    s.tick(on(67), on(48))  # a fifth (and an octave)
    s.begin(on(69, offs=(67,)))
    ons = s.ask()[0]
    assert 50 not in ons and 62 not in ons and {38, 49} <= ons  # 38: contrary motion
    s = Session(BASS, GuardChoice(range=False, key=False, parallels=False, consonance=False))
    s.tick(on(72), on(48))
    s.begin(on(74, offs=(72,)))
    assert 50 in s.ask()[0], "without the guard the parallel is the model's to choose"


def test_on_a_beat_the_last_beat_counts_too():
    s = Session(BASS, NO_PARALLELS)
    s.tick(on(67), on(48))  # beat 0: a fifth
    for _ in range(3):  # ticks 1..3: the soprano moves, the bass holds
        s.tick(on(65 if s.n == 1 else 64, offs=tuple(s.stream.yours)), EMPTY_TICK.merge(Tick()))
    s.begin(on(69, offs=tuple(s.stream.yours)))  # tick 4, a beat: C-G then D-A
    assert 50 not in s.ask()[0]


def test_a_melody_above_you_avoids_parallels_with_your_bass():
    s = Session(TOP, NO_PARALLELS)
    s.tick(on(48, 55, 64), on(72))  # your bass 48, my soprano 72: octaves
    s.begin(on(50, 57, 65, offs=(48, 55, 64)))  # your bass steps up
    ons = s.ask()[0]
    assert 74 not in ons and {62, 73} <= ons  # 62: contrary motion


# ---- consonance ------------------------------------------------------------------------------
NO_OUTER = GuardChoice(range=False, key=False, parallels=False)


def test_on_a_beat_each_note_keeps_the_sonority_a_chord():
    s = Session(HARMONY, NO_OUTER)
    s.tick(EMPTY_TICK)
    s.tick(EMPTY_TICK)
    s.tick(EMPTY_TICK)
    s.tick(EMPTY_TICK)
    s.begin(on(72))  # tick 4, a beat: your C
    ons = s.ask()[0]
    assert 49 not in ons and 50 in ons, "C with C#: no chord; C with D: D7"
    s.take("on", 48)  # C
    s.take("on", 52)  # E
    ons = s.ask()[0]
    assert {55, 57, 58} <= ons, "C E with G, A (A minor) or Bb (C7)"
    assert not {54, 62, 59} & ons, "C E with F#, D or B is no chord of the table"


def test_off_the_beat_anything_goes_and_a_dissonant_hold_is_let_go_on_it():
    s = Session(HARMONY, NO_OUTER)
    s.tick(on(72), on(61))  # C# held against C, tick 0
    s.begin(EMPTY_TICK)  # tick 1: off the beat
    ons, holds, _ = s.ask()
    assert 49 in ons and holds == {61}
    s = Session(HARMONY, NO_OUTER)
    for _ in range(3):
        s.tick(on(72) if s.n == 0 else EMPTY_TICK, on(61) if s.n == 0 else EMPTY_TICK)
    s.tick(EMPTY_TICK)  # tick 3
    s.begin(EMPTY_TICK)  # tick 4: C is still yours, on a beat
    ons, holds, step = s.ask()
    assert holds == set() and step


# ---- under ---------------------------------------------------------------------------------
def test_under_a_note_you_strike_my_half_is_not_silence():
    s = Session(HARMONY)
    s.tick(on(72), on(48))
    s.begin(on(74, offs=(72,)))  # a new pitch of yours
    assert s.ask()[2] is False, "silence under your new note"
    s.take("on", 53)  # a good bass (50 would be octaves with you)
    assert s.ask()[2] is True, "one note of mine sounds: the half may end"
    s = Session(HARMONY)
    s.tick(on(72), on(48))
    s.begin(EMPTY_TICK)  # you hold: silence is mine to choose
    assert s.ask()[2] is True
    s = Session(HARMONY, GuardChoice(under=False))
    s.tick(on(72), on(48))
    s.begin(on(74, offs=(72,)))
    assert s.ask()[2] is True


# ---- never stuck -----------------------------------------------------------------------------
def test_where_the_guards_allow_nothing_the_grammar_decides():
    s = Session(BASS)
    s.begin(on(72))
    grammar = np.zeros(BASS.vocab_size, dtype=bool)
    grammar[BASS.my_part.on_token[64]] = True  # out of the bass range, and alone
    m = s.guards.mask(s.tick_guard, [s.answer], grammar[None])[0]
    np.testing.assert_array_equal(m, grammar)
    assert s.guards.fallbacks == 1


# ---- whole sessions, the step and the table --------------------------------------------------
def lowest_bass_ok(sounding: set[int]) -> bool:
    return not sounding or BASS_RANGE[0] <= min(sounding) <= BASS_RANGE[1]


def session(guarded: bool, seed: int) -> tuple[list[set[int]], list[set[int]], int]:
    """A tiny random model beside a melody for 96 ticks: (yours, mine) sounding at each
    tick, and the guards' fallbacks."""
    player = make_player(seed=seed)
    player.set_guards(guards_for(guarded))
    yours: list[set[int]] = []
    mine: list[set[int]] = []
    with torch.no_grad():
        for tick in melody_ticks(96):
            player.step_parts(tick, play=True)
            yours.append(set(player.stream.yours))
            mine.append(set(player.stream.mine))
    return yours, mine, player.guards.fallbacks if guarded else 0


def parallels(yours: list[set[int]], mine: list[set[int]]) -> int:
    """Parallel 5ths/8ves between your top and my bottom note from tick to tick."""
    pairs = [(max(y), min(m)) if y and m else None for y, m in zip(yours, mine, strict=True)]
    count = 0
    for a, b in zip(pairs, pairs[1:], strict=False):
        if a and b:
            moves = (b[0] - a[0]) * (b[1] - a[1]) > 0
            count += moves and (a[0] - a[1]) % 12 == (b[0] - b[1]) % 12 in (0, 7)
    return count


@pytest.mark.parametrize("seed", range(3))
def test_a_stepped_session_keeps_its_bass_in_range_and_out_of_parallels(seed):
    yours, mine, fallbacks = session(True, seed)
    assert fallbacks == 0
    assert all(lowest_bass_ok(m) for m in mine)
    assert parallels(yours, mine) == 0


def test_without_guards_the_same_sessions_stray():
    """The guarded test above can fail: the random model, unguarded, leaves the bass range
    (it seldom makes parallels: the parallel tests above are the ones that catch those)."""
    runs = [session(False, seed) for seed in range(3)]
    assert sum(not lowest_bass_ok(m) for _, mine, _ in runs for m in mine) > 0


@pytest.mark.parametrize("guarded", [True, False])
def test_the_harmonize_table_plans_every_row_under_the_same_guards(guarded):
    player = make_player(seed=6)
    player.set_guards(guards_for(guarded))
    bad = 0
    with torch.inference_mode():
        for tick in melody_ticks(40):
            table = plan(player, player.ticks)
            for row in table.rows:
                bad += not lowest_bass_ok(set(row.stream.mine))
            player.step_parts(tick, play=True)
    assert (bad == 0) is guarded
    if guarded:
        assert player.guards.fallbacks == 0


@pytest.mark.parametrize("codec", [HARMONY, BASS, TOP], ids=["harmony", "bass", "melody"])
def test_the_batch_1_mask_is_the_batched_mask(codec):
    """A step's mask (plain ints) equals the table's (NumPy rows) token for token, over
    random sessions: histories, yours, beats and every partial half the grammar allows."""
    rng = np.random.default_rng(1)
    yours_part, my_part = codec.your_part, codec.my_part
    compared = 0
    for _ in range(60):
        s = Session(codec, GuardChoice(key_after=4))
        s.guards.key_locked = rng.random() < 0.2
        for _ in range(int(rng.integers(0, 12))):
            y = rng.choice(np.arange(yours_part.low, yours_part.high + 1), size=2)
            m = rng.choice(np.arange(my_part.low, my_part.high + 1), size=3)
            s.tick(
                Tick(tuple(sorted(s.stream.yours)), tuple((int(p), 90) for p in set(y[:1]))),
                Tick(tuple(sorted(s.stream.mine)), tuple((int(p), 90) for p in set(m))),
            )
        y = int(rng.integers(yours_part.low, yours_part.high + 1))
        s.begin(on(y, offs=tuple(sorted(s.stream.yours))) if rng.random() < 0.7 else EMPTY_TICK)
        while True:
            grammar = s.answer.mask()
            one = s.guards.mask(s.tick_guard, [s.answer], grammar[None])[0]
            rows = s.guards._mask_rows(s.tick_guard, [s.answer], grammar[None])[0]
            np.testing.assert_array_equal(one, rows)
            compared += 1
            token = int(rng.choice(np.flatnonzero(one)))
            if s.answer.accept(token) is not Accept.CONTINUE:
                break
    assert compared > 100
