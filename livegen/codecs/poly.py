"""The ``poly`` codec: per tick, ON(p) for each note struck, HOLD(p) for each held, then STEP.

This is the note-and-chord encoding of Magenta's Polyphony RNN on a fixed grid: a tick
lists its new notes in ascending order, then the notes still held from before (ascending),
and ends with STEP. A note struck again while held is an ON, not a HOLD. The answer grammar
allows HOLD only of a sounding pitch, no pitch twice, and at most ``MAX_ONS`` new notes.

``order="low_first"`` lists every sounding pitch of the tick in one ascending run instead,
each as ON or HOLD (RNN-NADE's low-to-high order over the keys): the model chooses each
pitch knowing everything below it, held or struck. The grammar is then one ascending run.
A checkpoint stores its codec's order, so a model is always read as it was trained.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from livegen.codecs.base import (
    Accept,
    Codec,
    CodecError,
    CodecStream,
    Token,
    int_param,
    pitch_range,
)
from livegen.notes import DEFAULT_VELOCITY, Tick, fold_pitch, ticks_to_notes

STEP, ON, HOLD = "STEP", "ON", "HOLD"
ORDERS = ("ons_first", "low_first")  # the first is the default: what every older model uses


class PolyCodec(Codec):
    """STEP=0, ON(p)=1+(p-low), HOLD(p)=1+n+(p-low) with n = high-low+1 pitches."""

    name: ClassVar[str] = "poly"
    # A tick holds each pitch at most once (as ON or as HOLD) plus its STEP; 129 bounds that
    # for any pitch range inside MIDI's 128 pitches (the default range needs 1 + 49).
    max_tokens_per_tick: ClassVar[int] = 1 + 128
    MAX_ONS: ClassVar[int] = 12  # new notes per answered tick; then only HOLD or STEP

    def __init__(
        self, *, ticks_per_quarter: int = 4, low: int = 36, high: int = 84, order: str = ORDERS[0]
    ) -> None:
        self.ticks_per_quarter = int_param(
            self.name, "ticks_per_quarter", ticks_per_quarter, 1, 960
        )
        self.low, self.high = pitch_range(self.name, low, high)
        if order not in ORDERS:
            raise CodecError(
                f"codec 'poly': order must be one of {', '.join(ORDERS)}, got {order!r}"
            )
        self.order = order
        pitches = range(self.low, self.high + 1)
        # The vocabulary table: (kind, pitch or -1) per token index. Everything below derives
        # from it: names, strikes, the token of each event and the meaning of each token.
        self.table: tuple[tuple[str, int], ...] = (
            (STEP, -1),
            *((ON, p) for p in pitches),
            *((HOLD, p) for p in pitches),
        )
        index = {entry: i for i, entry in enumerate(self.table)}
        self.step = index[(STEP, -1)]
        self.on_token = {p: index[(ON, p)] for p in pitches}
        self.hold_token = {p: index[(HOLD, p)] for p in pitches}
        self.on_tokens = np.array([self.on_token[p] for p in pitches])  # by p - low

    def params(self) -> dict:
        return {**super().params(), "order": self.order}  # a checkpoint without it: ons_first

    def stream(self) -> PolyStream:
        return PolyStream(self)

    def tick_of_tokens(self, tokens: np.ndarray) -> np.ndarray:
        # A tick's tokens end with its STEP: count the STEPs before each token.
        steps = np.asarray(tokens, dtype=np.int64) == self.step
        return (np.cumsum(steps) - steps).astype(np.int64)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        table = self.table
        ticks: list[Tick] = []
        sounding: set[int] = set()
        ons: list[int] = []
        holds: set[int] = set()
        # A last STEP closes a trailing unfinished tick; after a complete tick it only ends
        # what sounds, exactly where ticks_to_notes would end it.
        for token in [*np.asarray(tokens, dtype=np.int64).tolist(), self.step]:
            kind, pitch = table[token]
            if kind == ON:
                ons.append(pitch)
            elif kind == HOLD:
                holds.add(pitch)
            else:
                # A HOLD of a pitch not sounding (never encoded) is ignored; a struck pitch
                # that was sounding is released first (re-strike).
                holds &= sounding
                offs = tuple(sorted(sounding - holds))
                ticks.append(Tick(offs, tuple((p, DEFAULT_VELOCITY) for p in sorted(set(ons)))))
                sounding = holds | set(ons)
                ons, holds = [], set()
        return ticks_to_notes(ticks, self.ticks_per_quarter)


class PolyStream(CodecStream):
    """What sounds (folded pitches), and the answer being built."""

    def __init__(self, codec: PolyCodec) -> None:
        self.codec = codec
        self.sounding: set[int] = set()
        self._ons: list[int] = []  # answer: pitches struck, ascending
        self._holds: list[int] = []  # answer: pitches held, ascending
        self._done = False
        self._mask: np.ndarray | None = None  # cached until the next accept

    def copy(self) -> PolyStream:
        new = PolyStream(self.codec)
        new.sounding = set(self.sounding)
        new._ons, new._holds, new._done = list(self._ons), list(self._holds), self._done
        return new

    def listen(self, tick: Tick) -> list[Token]:
        codec = self.codec
        low, high = codec.low, codec.high
        sounding = self.sounding
        for p in tick.offs:
            sounding.discard(p if low <= p <= high else fold_pitch(p, low, high))
        if tick.ons:
            new = sorted({p if low <= p <= high else fold_pitch(p, low, high) for p, _ in tick.ons})
            held = sorted(sounding.difference(new))
            sounding.update(new)
        else:
            new, held = [], sorted(sounding)
        on, hold = codec.on_token, codec.hold_token
        if codec.order == "low_first":
            struck = set(new)
            run = sorted(struck.union(held))
            return [*(on[p] if p in struck else hold[p] for p in run), codec.step]
        return [*(on[p] for p in new), *(hold[p] for p in held), codec.step]

    def hears(self) -> set[int]:
        return set(self.sounding)

    def begin(self) -> None:
        self._ons, self._holds, self._done, self._mask = [], [], False, None

    def mask(self) -> np.ndarray | None:
        if self._mask is None:
            self._mask = self._build_mask()
        return self._mask

    def _build_mask(self) -> np.ndarray:
        codec = self.codec
        mask = np.zeros(codec.vocab_size, dtype=bool)
        if self._done:
            mask.flags.writeable = False
            return mask
        mask[codec.step] = True
        if codec.order == "low_first":  # one ascending run: anything above the last pitch
            last = max(self._ons[-1:] + self._holds[-1:], default=codec.low - 1)
            if len(self._ons) < codec.MAX_ONS:
                mask[codec.on_tokens[last + 1 - codec.low :]] = True
            for p in self.sounding:
                if p > last:
                    mask[codec.hold_token[p]] = True
            mask.flags.writeable = False
            return mask
        if not self._holds:  # still striking: ascending ONs up to the cap
            if len(self._ons) < codec.MAX_ONS:
                first = self._ons[-1] + 1 if self._ons else codec.low
                mask[codec.on_tokens[first - codec.low :]] = True
            last_hold = -1
        else:
            last_hold = self._holds[-1]
        struck = set(self._ons)
        for p in self.sounding:
            if p > last_hold and p not in struck:
                mask[codec.hold_token[p]] = True
        mask.flags.writeable = False
        return mask

    def accept(self, token: Token) -> Accept:
        codec = self.codec
        tok = self.allowed(token)
        self._mask = None
        kind, pitch = codec.table[tok]
        if kind == ON:
            self._ons.append(pitch)
        elif kind == HOLD:
            self._holds.append(pitch)
        else:
            self._done = True
            return Accept.FINAL
        return Accept.CONTINUE

    def answer(self) -> Tick:
        if not self._done:
            raise ValueError("poly: answer() before STEP was accepted")
        # Everything sounding that is not held ends, re-struck pitches included.
        offs = tuple(sorted(self.sounding.difference(self._holds)))
        return Tick(offs, tuple((p, DEFAULT_VELOCITY) for p in self._ons))
