"""Sampling guards for a parts model's part: masks on the logits that keep livegen's notes
where the musical checks (livegen/harmony_checks.py) find Bach's.

The guards only forbid tokens of my half of a tick while it is sampled, so they cost no
model pass: the batch-1 step (``PartsPlayer``) and the harmonize table (one batched step,
livegen/harmonize.py) ask :meth:`VoiceGuards.mask` for the same mask, row by row. Each is
a value of :class:`GuardChoice`; ``Settings.guards`` turns them all on or off live.

- **range**: my notes are struck only within the usual ranges of my part's voices
  (``harmony_checks.RANGES``; the voices are read from the codec's part names, e.g.
  ``alto, tenor, bass``); the lowest of my notes is the bass and keeps to the bass range.
- **key**: my notes are struck only in the key of what you have played so far (the
  Krumhansl-Schmuckler key of your part's duration-weighted pitch classes, as the checks
  estimate it; minor with its raised 6th and 7th), once you have played ``key_after``
  ticks. A key lock the user set wins: then this guard steps aside.
- **parallels**: my outer voice (my lowest note when my part is below yours, my one note
  when it is a melody above yours) may not make a parallel fifth or octave with your outer
  voice, against the previous tick and, on a beat, against the previous beat (where the
  checks count them).
- **consonance**: on a beat, each note of mine struck or held must keep every pitch class
  sounding (yours included) within one major, minor or diminished triad or dominant
  seventh (``harmony_checks.CHORDS``); notes of mine that would not are released.
- **under**: when you strike a new pitch my half may not be silence: with the other guards
  the model could otherwise find silence likelier than any note left to it.

"The lowest note of mine" is known only once my half is sampled (new notes ascending, then
held ones ascending), so the outer guards judge each token by what it can still become: a
strike that would be a bad bass is allowed only while a good held note below it can still
be kept, and then that hold must come. Where the guards and the grammar together allow no
token, the grammar's mask alone is used: a guard never makes sampling fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livegen import harmony_checks as hc
from livegen.codecs.parts import PartsCodec
from livegen.codecs.parts_stream import PartsStream


@dataclass(frozen=True)
class GuardChoice:
    """Which guards sample livegen's part (module docstring)."""

    range: bool = True
    key: bool = True
    parallels: bool = True
    consonance: bool = True
    under: bool = True  # my part sounds under each note you strike (no silence then)
    key_after: int = 16  # ticks of your part heard before the key guard trusts its estimate


ALL = GuardChoice()


def guards_for(on: bool) -> GuardChoice | None:
    """The guards a session's ``guards`` setting asks for: all of them, or none."""
    return ALL if on else None


def _chord_tables() -> tuple[np.ndarray, np.ndarray]:
    """Over the 4096 sets of pitch classes (bit i: class i): whether the set lies within a
    chord of ``CHORDS`` (4096,), and which class may join it and stay so (4096, 12)."""
    chords = np.array([sum(1 << pc for pc in c) for c in hc.CHORDS])  # (C,)
    sets = np.arange(4096)  # (4096,)
    within = ((sets[:, None] & ~chords[None, :]) == 0).any(axis=1)  # (4096,)
    joined = sets[:, None] | (1 << np.arange(12))[None, :]  # (4096, 12)
    return within, within[joined]


CONSONANT, JOINS = _chord_tables()
# JOINS as 12-bit sets of pitch classes, for the batch-1 mask in plain ints.
JOIN_SETS = [int(np.dot(row, 1 << np.arange(12))) for row in JOINS]


def _bits(pitches) -> int:
    out = 0
    for p in pitches:
        out |= 1 << (p % 12)
    return out


@dataclass(frozen=True)
class TickGuard:
    """What the guards allow at one tick, per row (a row: one yours, as the table plans)."""

    outer_ok: np.ndarray  # (b, P) my outer note may be this pitch (range, no parallel)
    key_ok: np.ndarray  # (P,) a strike of this pitch is in the key
    y_bits: np.ndarray  # (b,) your pitch classes sounding
    consonance: np.ndarray  # (b,) whether this row's beat is guarded for consonance
    struck: np.ndarray  # (b,) you strike a pitch not sounding at the last tick: I sound too
    outer_bits: int = -1  # batch 1: outer_ok[0] as an int, bit i for pitch low + i
    key_bits: int = -1  # batch 1: key_ok as an int

    def rows(self, rows: list[int]) -> TickGuard:
        return TickGuard(
            self.outer_ok[rows], self.key_ok, self.y_bits[rows], self.consonance[rows],
            self.struck[rows],
        )  # fmt: skip


class VoiceGuards:
    """The guards of one player's part, and what they remember of the session."""

    def __init__(self, codec: PartsCodec, choice: GuardChoice = ALL) -> None:
        part = codec.my_part
        self.codec, self.choice = codec, choice
        self.low = part.low
        self.pitches = np.arange(part.low, part.high + 1)  # (P,)
        self.pcs = self.pitches % 12  # (P,)
        self.on_tokens = part.on_tokens  # (P,)
        self.hold_tokens = np.array([part.hold_token[int(p)] for p in self.pitches])  # (P,)
        self.max_notes = part.max_notes
        yours = codec.your_part
        self.below = part.low + part.high < yours.low + yours.high  # my part is the lower one
        # My outer note is my lowest (below yours) or my only one (a melody above yours).
        self.outer = self.below or part.max_notes == 1
        voices = hc.parse_voices(codec.mine)
        # (P,) each: where any of my voices may strike, my outer voice, the others.
        self.range_all = np.ones(len(self.pitches), dtype=bool)
        self.range_outer = self.range_inner = self.range_all
        if choice.range and voices is not None:

            def within(vs) -> np.ndarray:
                ranges = [hc.RANGES[v] for v in vs]
                return np.logical_or.reduce(
                    [(self.pitches >= lo) & (self.pitches <= hi) for lo, hi in ranges]
                )

            outer = max(voices) if self.below else min(voices)
            self.range_all, self.range_outer = within(voices), within([outer])
            self.range_inner = within([v for v in voices if v != outer] or [outer])
        self.index = np.arange(len(self.pitches))  # (P,)
        self.anywhere = np.ones(len(self.pitches), dtype=bool)  # (P,)
        # The batch-1 mask works on ints, bit i for pitch low + i: a step samples a token at a
        # time, where NumPy's per-call cost (about 80 small arrays a token) came to 1 ms a tick.
        n = len(self.pitches)
        self.full = (1 << n) - 1
        self.pc_bits = [self._to_bits(self.pcs == pc) for pc in range(12)]
        self._pitches_of: dict[int, int] = {}  # a 12-bit set of pitch classes -> its pitches
        self.range_all_bits = self._to_bits(self.range_all)
        self.range_inner_bits = self._to_bits(self.range_inner)
        self.fallbacks = 0  # tokens at which the guards allowed nothing the grammar did
        self.key_locked = False  # the user's key lock is set: the key guard steps aside
        self.reset()

    def reset(self) -> None:
        """Forget the session (a reset, a new player)."""
        self.histogram = np.zeros(12)  # your part's pitch classes, one per tick sounding
        self.heard_ticks = 0  # ticks at which your part sounded
        self.scale: frozenset[int] | None = None  # the key estimated so far
        self.last_pair: tuple[int, int] | None = None  # (upper, lower) outer notes, last tick
        self.last_yours: set[int] = set()  # your part sounding at the last tick
        self.beat_pair: tuple[int, int] | None = None  # at the last beat
        self.key_ok = self.anywhere  # (P,) no key yet: every pitch
        self.key_bits = self.full

    # ---- after a tick ----------------------------------------------------------------------
    def heard(self, tick: int, stream: PartsStream) -> None:
        """Tick ``tick`` sounded as ``stream`` now hears it: remember its outer voices, key."""
        yours, mine = stream.yours, stream.mine
        pair = None
        if yours and mine:
            pair = (max(yours), min(mine)) if self.below else (max(mine), min(yours))
        self.last_pair = pair
        self.last_yours = set(yours)
        if tick % self.codec.ticks_per_quarter == 0:
            self.beat_pair = pair  # None too: a rest breaks the line, as the checks read it
        if yours:
            for p in yours:
                self.histogram[p % 12] += 1.0
            self.heard_ticks += 1
            if self.choice.key and self.heard_ticks >= self.choice.key_after:
                key = hc.key_of_histogram(self.histogram)
                self.scale = key.scale() if key is not None else None
                in_key = self.anywhere if key is None else np.isin(self.pcs, list(self.scale))
                self.key_ok = in_key  # (P,) my strikes' pitches the key allows
                self.key_bits = self._to_bits(in_key)

    # ---- my half of a tick -----------------------------------------------------------------
    def tick_guard(self, tick: int, yours: list[set[int]]) -> TickGuard:
        """The guards of tick ``tick`` for each row's sounding part of yours (after MID)."""
        b = len(yours)
        outer_ok = np.repeat(self.range_outer[None, :], b, axis=0)  # (b, P)
        beat = tick % self.codec.ticks_per_quarter == 0
        if self.choice.parallels and self.outer:
            refs = [self.last_pair] + ([self.beat_pair] if beat else [])
            for ref in {r for r in refs if r is not None}:
                outer_ok &= ~self._parallel(ref, yours)
        key_ok = self.key_ok if not self.key_locked else self.anywhere
        y_bits = np.array([_bits(y) for y in yours], dtype=np.int64)  # (b,)
        # A beat whose yours is itself no chord (a cluster of yours) is left alone.
        consonance = np.full(b, self.choice.consonance and beat) & CONSONANT[y_bits]
        outer_bits = self._to_bits(outer_ok[0]) if b == 1 else -1
        key_bits = self.key_bits if not self.key_locked else self.full
        # A repeated note is the same set as the held one: only new pitches count as struck.
        struck = np.array([self.choice.under and bool(y - self.last_yours) for y in yours])
        return TickGuard(outer_ok, key_ok, y_bits, consonance, struck, outer_bits, key_bits)

    def _parallel(self, ref: tuple[int, int], yours: list[set[int]]) -> np.ndarray:
        """(b, P): my outer note at this pitch makes a parallel 5th/8ve against ``ref``."""
        upper, lower = ref
        if (upper - lower) % 12 not in (0, 7):
            return np.zeros((len(yours), len(self.pitches)), dtype=bool)
        x = self.pitches[None, :]  # (1, P) my outer note
        out = [(max(y) if self.below else min(y)) if y else -1 for y in yours]
        out = np.array(out)[:, None]  # (b, 1) your outer note, -1: none
        if self.below:  # you the upper voice, me the lower
            moves = np.sign(out - upper) * np.sign(x - lower)  # (b, P)
            interval = (out - x) % 12
        else:
            moves = np.sign(x - upper) * np.sign(out - lower)
            interval = (x - out) % 12
        return (out >= 0) & (moves > 0) & (interval == (upper - lower) % 12)

    def _to_bits(self, row: np.ndarray) -> int:
        return int.from_bytes(np.packbits(row, bitorder="little").tobytes(), "little")

    def _from_bits(self, bits: int) -> np.ndarray:
        n = len(self.pitches)
        raw = np.frombuffer(bits.to_bytes((n + 7) // 8, "little"), dtype=np.uint8)
        return np.unpackbits(raw, count=n, bitorder="little").view(bool)

    def _pitches(self, classes: int) -> int:
        """The pitches (bits) of a 12-bit set of pitch classes."""
        bits = self._pitches_of.get(classes)
        if bits is None:
            bits = 0
            for pc in range(12):
                if classes >> pc & 1:
                    bits |= self.pc_bits[pc]
            self._pitches_of[classes] = bits
        return bits

    def mask(self, guard: TickGuard, streams: list[PartsStream], grammar: np.ndarray) -> np.ndarray:
        """(b, V): ``grammar`` (b, V) less what the guards forbid for each row's next token
        of my half, as far as ``streams`` (one per row, answering) have sampled it."""
        if len(streams) == 1 and guard.outer_bits >= 0:
            return self._mask_one(guard, streams[0], grammar[0])[None]
        return self._mask_rows(guard, streams, grammar)

    def _mask_one(self, guard: TickGuard, stream: PartsStream, grammar: np.ndarray) -> np.ndarray:
        """:meth:`_mask_rows` for one row, in ints (the same masks: tests/test_voice_guards.py)."""
        ons, holds = stream.sampled()
        low, full = self.low, self.full
        on_beat = bool(guard.consonance[0])
        chosen = int(guard.y_bits[0]) | _bits(ons) | _bits(holds)
        cons = self._pitches(JOIN_SETS[chosen]) if on_beat else full
        on = guard.key_bits & cons
        hold, step = cons, not (guard.struck[0] and not ons and not holds)
        if not self.outer:
            on &= self.range_all_bits
        elif not holds:
            outer = guard.outer_bits

            def fitting(q: int) -> int:
                """Strikes with which held note ``q`` may still be kept as the bass."""
                if not on_beat:
                    return full
                classes = 0
                for pc in range(12):
                    if JOIN_SETS[chosen | 1 << pc] >> (q % 12) & 1:
                        classes |= 1 << pc
                return self._pitches(classes)

            kept = [q - low for q in stream.mine if outer >> (q - low) & 1]
            if not ons:  # the next note is my lowest so far
                room = self.max_notes >= 2
                below = 0
                if room:
                    for qi in kept:
                        below |= fitting(qi + low) & full & ~((2 << qi) - 1)  # pitches above q
                on &= outer | (below & self.range_inner_bits)
                hold &= outer
            else:
                o0 = ons[0] - low
                on &= self.range_inner_bits
                if outer >> o0 & 1:  # my lowest strike is a good bass
                    hold &= outer | (full & ~((2 << o0) - 1))
                else:  # it is not: a good hold below it must come
                    below = 0
                    if self.max_notes - len(ons) >= 2:
                        for qi in kept:
                            if qi < o0:
                                below |= fitting(qi + low)
                    on &= below
                    hold &= outer & ((1 << o0) - 1)
                    step = False
        allowed = np.zeros_like(grammar)  # (V,)
        allowed[self.on_tokens] = self._from_bits(on)
        allowed[self.hold_tokens] = self._from_bits(hold)
        allowed[self.codec.step] = step
        allowed &= grammar
        if not allowed.any():
            self.fallbacks += 1
            return grammar.copy()  # guards never make sampling fail
        return allowed

    def _mask_rows(
        self, guard: TickGuard, streams: list[PartsStream], grammar: np.ndarray
    ) -> np.ndarray:
        """The batched mask (the harmonize table's rows)."""
        b, n = len(streams), len(self.pitches)
        sampled = [s.sampled() for s in streams]  # (struck, held) so far, per row
        on_beat = guard.consonance  # (b,)
        beat = bool(on_beat.any())  # off the beat (3 ticks in 4) consonance costs nothing
        if beat:
            chosen = guard.y_bits | np.array([_bits(o) | _bits(h) for o, h in sampled])  # (b,)
            cons = JOINS[chosen][:, self.pcs]  # (b, P) may sound with what sounds so far
            cons[~on_beat] = True
        else:
            cons = np.ones((b, n), dtype=bool)
        on_ok = guard.key_ok & cons  # (b, P)
        hold_ok = cons
        step_ok = True
        if not self.outer:
            on_ok &= self.range_all
        elif not all(h for _, h in sampled):  # once holds begin, my lowest note is settled
            idx = self.index  # (P,)
            o0 = np.array([o[0] - self.low if o else -1 for o, _ in sampled])[:, None]  # (b, 1)
            held = np.array([bool(h) for _, h in sampled])[:, None]
            room = np.array([self.max_notes - len(o) >= 2 for o, _ in sampled])[:, None]
            ok_o0 = np.take_along_axis(guard.outer_ok, np.maximum(o0, 0), axis=1)
            first = (o0 < 0) & ~held  # the next note is my lowest so far
            fine = (o0 >= 0) & ~held & ok_o0  # my lowest struck is a good bass
            owed = (o0 >= 0) & ~held & ~ok_o0  # it is not: a good hold below it must come
            # A strike at p with a held note q below it that may still be kept as the bass
            # (a good bass, consonant with what sounds and p), above it (first) or below my
            # lowest strike (owed).
            below_first = np.zeros((b, n), dtype=bool)
            below_owed = np.zeros((b, n), dtype=bool)
            if beat:
                with_p = JOINS[chosen[:, None] | (1 << self.pcs)[None, :]]  # (b, P, 12)
            for q in set().union(*(s.mine for s in streams)):
                qi = q - self.low
                keep = np.array([q in s.mine for s in streams]) & guard.outer_ok[:, qi]  # (b,)
                fits = keep[:, None]  # (b, 1)
                if beat:
                    fits = fits & (with_p[:, :, q % 12] | ~on_beat[:, None])  # (b, P)
                below_first |= fits & (idx > qi)
                below_owed |= fits & (qi < o0)
            inner = self.range_inner & room
            on_ok &= np.where(first, guard.outer_ok | (below_first & inner), self.range_inner)
            on_ok &= np.where(owed, below_owed & room, True)
            hold_ok &= np.where(first, guard.outer_ok, True)
            hold_ok &= np.where(fine, guard.outer_ok | (idx > o0), True)
            hold_ok &= np.where(owed, guard.outer_ok & (idx < o0), True)
            step_ok = ~owed[:, 0]
        silent = guard.struck & np.array([not o and not h for o, h in sampled])  # (b,)
        step_ok = step_ok & ~silent
        allowed = np.zeros_like(grammar)  # (b, V)
        allowed[:, self.on_tokens] = on_ok
        allowed[:, self.hold_tokens] = hold_ok
        allowed[:, self.codec.step] = step_ok
        allowed &= grammar
        dead = ~allowed.any(axis=1)
        if dead.any():
            self.fallbacks += int(dead.sum())
            allowed[dead] = grammar[dead]  # guards never make sampling fail
        return allowed


def table_guard(player, tick: int, answers: list[PartsStream]):
    """The harmonize table's mask function for ``answers`` (every row's stream, answering),
    or None when the player's guards are off: ``guard(live, masks) -> masks``."""
    guards: VoiceGuards | None = getattr(player, "guards", None)
    if guards is None:
        return None
    whole = guards.tick_guard(tick, [a.yours for a in answers])

    def guard(live: list[int], masks: np.ndarray) -> np.ndarray:
        return guards.mask(whole.rows(live), [answers[b] for b in live], masks)

    return guard
