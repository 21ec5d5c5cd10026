"""The ``melody`` codec: exactly one token per tick for a single line, REST, HOLD or ON(p).

This is the grid encoding of the folk-melody LSTMs: at each tick the melody is silent
(REST), goes on (HOLD) or strikes a new note (ON(p)). Polyphonic input keeps its top
line (skyline): the highest note struck at a tick becomes the melody unless a higher
melody note is still held, in which case the melody holds. Notes under the melody never
take it over when it ends; the line rests until the next strike.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from livegen.codecs.base import (
    Accept,
    Codec,
    CodecStream,
    Token,
    int_param,
    pitch_range,
)
from livegen.notes import DEFAULT_VELOCITY, EMPTY_TICK, Tick, fold_pitch, ticks_to_notes

REST, HOLD, ON = "REST", "HOLD", "ON"


class MelodyCodec(Codec):
    """One token per tick: REST=0, HOLD=1, ON(p)=2+(p-low)."""

    name: ClassVar[str] = "melody"
    max_tokens_per_tick: ClassVar[int] = 1

    def __init__(self, *, ticks_per_quarter: int = 4, low: int = 48, high: int = 84) -> None:
        self.ticks_per_quarter = int_param(
            self.name, "ticks_per_quarter", ticks_per_quarter, 1, 960
        )
        self.low, self.high = pitch_range(self.name, low, high)
        # The vocabulary table: (kind, pitch or -1) per token index. Everything below derives
        # from it: names, strikes, the token of each event and the meaning of each token.
        self.table: tuple[tuple[str, int], ...] = (
            (REST, -1),
            (HOLD, -1),
            *((ON, p) for p in range(self.low, self.high + 1)),
        )
        index = {entry: i for i, entry in enumerate(self.table)}
        self.rest = index[(REST, -1)]
        self.hold = index[(HOLD, -1)]
        self.on_token = {p: index[(ON, p)] for p in range(self.low, self.high + 1)}
        # While no melody note sounds, HOLD is the one token the grammar forbids.
        self.silent_mask = np.array([kind != HOLD for kind, _ in self.table])
        self.silent_mask.flags.writeable = False

    def stream(self) -> MelodyStream:
        return MelodyStream(self)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        table = self.table
        ticks: list[Tick] = []
        melody: int | None = None
        for token in np.asarray(tokens, dtype=np.int64).tolist():
            kind, pitch = table[token]
            offs = () if melody is None else (melody,)
            if kind == ON:
                ticks.append(Tick(offs, ((pitch, DEFAULT_VELOCITY),)))
                melody = pitch
            elif kind == REST or melody is None:  # a HOLD of nothing (never encoded) rests
                ticks.append(Tick(offs))
                melody = None
            else:
                ticks.append(EMPTY_TICK)
        return ticks_to_notes(ticks, self.ticks_per_quarter)


class MelodyStream(CodecStream):
    """Streaming skyline: only the sounding melody note matters to the next token."""

    def __init__(self, codec: MelodyCodec) -> None:
        self.codec = codec
        self.melody: int | None = None  # pitch of the sounding melody note
        self._token: int | None = None  # the answer's token, once accepted

    def copy(self) -> MelodyStream:
        new = MelodyStream(self.codec)
        new.melody, new._token = self.melody, self._token
        return new

    def listen(self, tick: Tick) -> list[Token]:
        codec = self.codec
        low, high = codec.low, codec.high
        melody = self.melody
        if melody is not None:
            for p in tick.offs:
                if (p if low <= p <= high else fold_pitch(p, low, high)) == melody:
                    melody = None
                    break
        if tick.ons:
            top = max(p if low <= p <= high else fold_pitch(p, low, high) for p, _ in tick.ons)
            if melody is None or top >= melody:  # equal: the melody note is struck again
                self.melody = top
                return [codec.on_token[top]]
        self.melody = melody
        return [codec.rest if melody is None else codec.hold]

    def begin(self) -> None:
        self._token = None

    def hears(self) -> set[int]:
        return set() if self.melody is None else {self.melody}

    def mask(self) -> np.ndarray | None:
        return None if self.melody is not None else self.codec.silent_mask

    def accept(self, token: Token) -> Accept:
        codec = self.codec
        tok = int(token)  # type: ignore[arg-type]
        if not 0 <= tok < codec.vocab_size or (tok == codec.hold and self.melody is None):
            raise ValueError(
                f"melody: token {tok} is not allowed here (HOLD needs a sounding note)"
            )
        self._token = tok
        return Accept.FINAL

    def answer(self) -> Tick:
        if self._token is None:
            raise ValueError("melody: answer() before a token was accepted")
        kind, pitch = self.codec.table[self._token]
        # The answer always releases the current melody note when it strikes or rests, so that
        # listening to it gives back the same token.
        offs = () if self.melody is None else (self.melody,)
        if kind == ON:
            return Tick(offs, ((pitch, DEFAULT_VELOCITY),))
        if kind == REST:
            return Tick(offs)
        return EMPTY_TICK
