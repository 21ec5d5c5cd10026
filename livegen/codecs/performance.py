"""The ``performance`` codec: Performance RNN events (ON, OFF, VEL, SHIFT) on a fine tick grid.

After Oore et al. (2018): notes start and end with ON(p) and OFF(p), VEL(b) sets the
velocity bin of the ONs after it, SHIFT(k) moves time on by k ticks. Shifts are lazy: a
tick with events emits one group, SHIFT(ticks since the last group) then its OFFs
(ascending), then its ONs (ascending) each preceded by VEL(b) when its bin changes. A
silent tick emits nothing, unless ``max_shift`` ticks have passed since the last group,
when it emits SHIFT(max_shift) so that a gap never needs more than one SHIFT. Every group,
the first included (time starts at tick -1), begins with a SHIFT.

Answering the next tick: the first token must be SHIFT(j) with j >= need, where need is
the shift that puts a group at that tick. SHIFT(need) opens the group (CONTINUE); a longer
SHIFT means silence now and is not fed (DROP): it will be sampled again at a later tick.
After the group's events, any SHIFT closes it (DROP).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from livegen.codecs.base import (
    Accept,
    Codec,
    CodecStream,
    Token,
    int_param,
    pitch_range,
)
from livegen.notes import DEFAULT_VELOCITY, Tick, fold_pitch, ticks_to_notes

ON, OFF, VEL, SHIFT = "ON", "OFF", "VEL", "SHIFT"

# Answer phases.
_START, _OFFS, _ONS, _DONE = 0, 1, 2, 3


class PerformanceCodec(Codec):
    """ON(p)=p-low, OFF(p)=n+(p-low), VEL(b)=2n+b, SHIFT(k)=2n+bins+(k-1), n = high-low+1."""

    name: ClassVar[str] = "performance"
    carries_velocity: ClassVar[bool] = True
    # A listened tick: one SHIFT, an OFF per pitch, a VEL and an ON per pitch; 1 + 3*128
    # bounds that for any pitch range inside MIDI. Answers stop far sooner (MAX_EVENTS).
    max_tokens_per_tick: ClassVar[int] = 1 + 3 * 128
    MAX_EVENTS: ClassVar[int] = 16  # ONs + OFFs per answered tick; then only SHIFT

    def __init__(
        self,
        *,
        ticks_per_quarter: int = 12,
        low: int = 21,
        high: int = 108,
        velocity_bins: int = 32,
        max_shift: int = 24,
    ) -> None:
        self.ticks_per_quarter = int_param(
            self.name, "ticks_per_quarter", ticks_per_quarter, 1, 960
        )
        self.low, self.high = pitch_range(self.name, low, high)
        self.velocity_bins = int_param(self.name, "velocity_bins", velocity_bins, 1, 127)
        self.max_shift = int_param(self.name, "max_shift", max_shift, 1, 10_000)
        pitches = range(self.low, self.high + 1)
        # The vocabulary table: (kind, value) per token index, value = pitch, bin or ticks.
        # Everything below derives from it: names, strikes, tokens of events, meanings.
        self.table: tuple[tuple[str, int], ...] = (
            *((ON, p) for p in pitches),
            *((OFF, p) for p in pitches),
            *((VEL, b) for b in range(self.velocity_bins)),
            *((SHIFT, k) for k in range(1, self.max_shift + 1)),
        )
        index = {entry: i for i, entry in enumerate(self.table)}
        self.on_token = {p: index[(ON, p)] for p in pitches}
        self.off_token = {p: index[(OFF, p)] for p in pitches}
        self.vel_token = [index[(VEL, b)] for b in range(self.velocity_bins)]
        self.shift_token = [-1] + [index[(SHIFT, k)] for k in range(1, self.max_shift + 1)]
        self.on_tokens = np.array([self.on_token[p] for p in pitches])  # by p - low
        self.vel_tokens = np.array(self.vel_token)
        self.shift_tokens = np.array(self.shift_token[1:])  # by k - 1
        # The velocity table: bin b covers MIDI velocities bin_low[b]..bin_low[b+1]-1 (1..127
        # split as evenly as integers allow) and sounds at its middle, bin_velocity[b].
        bins = self.velocity_bins
        bin_low = [1 + b * 127 // bins for b in range(bins + 1)]
        self.bin_velocity = tuple((bin_low[b] + bin_low[b + 1] - 1) // 2 for b in range(bins))
        self.velocity_bin = tuple(
            next(b for b in range(bins) if v < bin_low[b + 1]) for v in [1, *range(1, 128)]
        )  # by velocity 0..127; 0 (not a note-on) reads as 1
        self.start_bin = self.velocity_bin[DEFAULT_VELOCITY]  # the bin before any VEL

    def params(self) -> dict[str, Any]:
        return {
            "ticks_per_quarter": self.ticks_per_quarter,
            "low": self.low,
            "high": self.high,
            "velocity_bins": self.velocity_bins,
            "max_shift": self.max_shift,
        }

    def stream(self) -> PerformanceStream:
        return PerformanceStream(self)

    def tick_of_tokens(self, tokens: np.ndarray) -> np.ndarray:
        # Time starts at tick -1 and each SHIFT(k) moves it k ticks on: every token, the
        # SHIFT that opens its group included, sits at the tick its group sounds at (the
        # tick whose listen gave it). Events before any SHIFT (never encoded) fall on 0.
        tokens = np.asarray(tokens, dtype=np.int64)
        shift = np.array([v if kind == SHIFT else 0 for kind, v in self.table], dtype=np.int64)
        return np.maximum(np.cumsum(shift[tokens]) - 1, 0) if len(tokens) else tokens.copy()

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        table, bin_velocity = self.table, self.bin_velocity
        groups: dict[int, tuple[list[int], dict[int, int]]] = {}
        time, vbin = -1, self.start_bin
        for token in np.asarray(tokens, dtype=np.int64).tolist():
            kind, value = table[token]
            if kind == SHIFT:
                time += value
            elif kind == VEL:
                vbin = value
            else:  # events before any SHIFT (never encoded) fall on tick 0
                offs, ons = groups.setdefault(max(time, 0), ([], {}))
                if kind == OFF:
                    offs.append(value)
                else:
                    ons[value] = bin_velocity[vbin]
        if not groups:
            return ticks_to_notes([], self.ticks_per_quarter)
        empty: tuple[list[int], dict[int, int]] = ([], {})
        ticks = [
            Tick(tuple(offs), tuple(ons.items()))
            for offs, ons in (groups.get(t, empty) for t in range(max(groups) + 1))
        ]
        return ticks_to_notes(ticks, self.ticks_per_quarter)


class PerformanceStream(CodecStream):
    """Where time stands (ticks since the last group), what sounds, the current velocity bin."""

    def __init__(self, codec: PerformanceCodec) -> None:
        self.codec = codec
        self.t = 0  # index of the next tick to listen to
        self.last = -1  # tick of the last emitted group
        self.sounding: set[int] = set()
        self.vbin = codec.start_bin
        # The answer being built (after begin()).
        self._need = 0
        self._phase = _DONE
        self._events = 0
        self._offs: list[int] = []
        self._ons: list[tuple[int, int]] = []
        self._abin = self.vbin
        self._vel_pending = False  # a VEL was taken: an ON must follow
        self._mask: np.ndarray | None = None  # cached until the next accept

    def copy(self) -> PerformanceStream:
        new = PerformanceStream(self.codec)
        new.t, new.last, new.sounding, new.vbin = self.t, self.last, set(self.sounding), self.vbin
        new._need, new._phase, new._events = self._need, self._phase, self._events
        new._offs, new._ons = list(self._offs), list(self._ons)
        new._abin, new._vel_pending = self._abin, self._vel_pending
        return new

    def listen(self, tick: Tick) -> list[Token]:
        codec = self.codec
        low, high = codec.low, codec.high
        sounding = self.sounding
        t = self.t
        self.t = t + 1
        offs: set[int] = set()
        for p in tick.offs:
            folded = p if low <= p <= high else fold_pitch(p, low, high)
            if folded in sounding:  # releasing what does not sound is no event
                offs.add(folded)
        ons: dict[int, int] = {}
        for p, v in tick.ons:
            ons.setdefault(p if low <= p <= high else fold_pitch(p, low, high), v)
        # Striking a sounding pitch ends it first, so an ON never meets a sounding pitch.
        offs.update(p for p in ons if p in sounding)
        gap = t - self.last
        if not offs and not ons:
            if gap < codec.max_shift:
                return []
            self.last = t
            return [codec.shift_token[codec.max_shift]]
        self.last = t
        # The silent-tick rule above keeps every gap within max_shift: one SHIFT suffices.
        tokens: list[Token] = [codec.shift_token[gap]]
        off_token, on_token, vel_token = codec.off_token, codec.on_token, codec.vel_token
        velocity_bin = codec.velocity_bin
        for p in sorted(offs):
            tokens.append(off_token[p])
            sounding.discard(p)
        vbin = self.vbin
        for p in sorted(ons):
            b = velocity_bin[min(max(int(ons[p]), 0), 127)]
            if b != vbin:
                tokens.append(vel_token[b])
                vbin = b
            tokens.append(on_token[p])
            sounding.add(p)
        self.vbin = vbin
        return tokens

    def hears(self) -> set[int]:
        return set(self.sounding)

    def begin(self) -> None:
        self._need = self.t - self.last  # in 1..max_shift: listen never lets a gap grow past it
        self._phase, self._events, self._offs, self._ons = _START, 0, [], []
        self._abin, self._vel_pending, self._mask = self.vbin, False, None

    def mask(self) -> np.ndarray | None:
        if self._mask is None:
            self._mask = self._build_mask()
        return self._mask

    def _build_mask(self) -> np.ndarray:
        codec = self.codec
        mask = np.zeros(codec.vocab_size, dtype=bool)
        phase = self._phase
        if phase == _START:
            mask[codec.shift_tokens[self._need - 1 :]] = True
        elif phase != _DONE:
            # A SHIFT closes the group once it has an event, or at once when the opening
            # SHIFT(max_shift) is all that a silent tick would emit.
            if not self._vel_pending and (self._events or self._need == codec.max_shift):
                mask[codec.shift_tokens] = True
            if self._events < codec.MAX_EVENTS:
                # ON candidates: ascending after the last ON, not sounding unless just released.
                first = self._ons[-1][0] + 1 if self._ons else codec.low
                free = np.ones(codec.high - first + 1, dtype=bool)
                for p in self.sounding:
                    if p >= first:
                        free[p - first] = False
                for p in self._offs:
                    if p >= first:
                        free[p - first] = True
                mask[codec.on_tokens[first - codec.low :][free]] = True
                if not self._vel_pending:
                    if phase == _OFFS:
                        last_off = self._offs[-1] if self._offs else -1
                        for p in self.sounding:
                            if p > last_off:
                                mask[codec.off_token[p]] = True
                    if free.any():  # a VEL must be followed by an ON
                        mask[codec.vel_tokens] = True
                        mask[codec.vel_token[self._abin]] = False
        mask.flags.writeable = False
        return mask

    def accept(self, token: Token) -> Accept:
        codec = self.codec
        tok = self.allowed(token)
        self._mask = None
        kind, value = codec.table[tok]
        if self._phase == _START:
            if value == self._need:
                self._phase = _OFFS
                return Accept.CONTINUE
            self._phase = _DONE  # silent tick: the shift is sampled again later
            return Accept.DROP
        if kind == SHIFT:
            self._phase = _DONE
            return Accept.DROP
        if kind == OFF:
            self._offs.append(value)
            self._events += 1
        elif kind == VEL:
            self._abin, self._vel_pending, self._phase = value, True, _ONS
        else:
            self._ons.append((value, codec.bin_velocity[self._abin]))
            self._events += 1
            self._vel_pending, self._phase = False, _ONS
        return Accept.CONTINUE

    def answer(self) -> Tick:
        if self._phase != _DONE:
            raise ValueError("performance: answer() before a SHIFT closed the tick")
        return Tick(tuple(self._offs), tuple(self._ons))
