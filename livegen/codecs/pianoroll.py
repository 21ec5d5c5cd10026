"""The ``pianoroll`` codec: one multi-hot frame of keys per tick, for a sigmoid head.

As in the piano-roll LSTMs of the Boulanger-Lewandowski et al. (2012) benchmarks: a tick
is the set of keys sounding at it, a token is that set as a sorted tuple of key indices
(0 = ``low``), and a whole piece encodes to a uint8 (T, keys) array. A key struck again
while held cannot be told from a key held on: both read as one longer note.
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
from livegen.notes import (
    DEFAULT_VELOCITY,
    Tick,
    empty_notes,
    fold_notes,
    fold_pitch,
    quantize,
    sort_notes,
)

KEY = "KEY"


class PianorollCodec(Codec):
    """Key k (0..n-1) is pitch low+k; a token is the sorted tuple of the keys sounding."""

    name: ClassVar[str] = "pianoroll"
    head: ClassVar[str] = "sigmoid"
    max_tokens_per_tick: ClassVar[int] = 1

    def __init__(self, *, ticks_per_quarter: int = 4, low: int = 21, high: int = 108) -> None:
        self.ticks_per_quarter = int_param(
            self.name, "ticks_per_quarter", ticks_per_quarter, 1, 960
        )
        self.low, self.high = pitch_range(self.name, low, high)
        # The vocabulary table: (kind, pitch) per key index; names and strikes derive from it.
        self.table: tuple[tuple[str, int], ...] = tuple(
            (KEY, p) for p in range(self.low, self.high + 1)
        )

    def strikes(self) -> np.ndarray:
        # A key "strikes" its pitch: a pitch mask keeps the roll to the allowed keys.
        return np.array([p for _, p in self.table], dtype=np.int64)

    def stream(self) -> PianorollStream:
        return PianorollStream(self)

    def encode(self, notes: np.ndarray) -> np.ndarray:
        """uint8 (T, keys) frames: one row per tick from 0 until the last note ends.

        Unlike the streaming ``listen``, no silent frame follows the last note: the frame
        rows are then exactly the piano rolls of the BL2012 benchmarks, and ``decode``
        ends the notes still sounding after the last frame anyway.
        """
        grid = quantize(fold_notes(notes, self.low, self.high), self.ticks_per_quarter)
        n_ticks = max((end for _, _, end, _ in grid), default=0)
        frames = np.zeros((n_ticks, self.vocab_size), dtype=np.uint8)  # (T, K)
        # quantize leaves no overlap within a pitch, so painting each note equals listening.
        for pitch, start, end, _ in grid:
            frames[start:end, pitch - self.low] = 1
        return frames

    def decode(self, tokens: np.ndarray | list[tuple[int, ...]]) -> np.ndarray:
        """Frames (T, keys), or a list of key tuples, back to notes (velocity 80)."""
        if isinstance(tokens, np.ndarray) and tokens.ndim == 2:
            frames = tokens.astype(bool)  # (T, K)
        else:
            frames = np.zeros((len(tokens), self.vocab_size), dtype=bool)
            for t, keys in enumerate(tokens):
                frames[t, list(keys)] = True
        if not frames.any():
            return empty_notes()
        edge = np.zeros((1, frames.shape[1]), dtype=np.int8)
        change = np.diff(np.vstack([edge, frames.astype(np.int8), edge]), axis=0)  # (T+1, K)
        on_t, on_k = np.nonzero(change == 1)
        off_t, off_k = np.nonzero(change == -1)
        # Per key, onsets and releases alternate: pair them in key-then-time order.
        on = np.lexsort((on_t, on_k))
        off = np.lexsort((off_t, off_k))
        notes = np.empty((len(on), 4), dtype=np.float64)
        notes[:, 0] = on_k[on] + self.low
        notes[:, 1] = on_t[on] / self.ticks_per_quarter
        notes[:, 2] = off_t[off] / self.ticks_per_quarter
        notes[:, 3] = DEFAULT_VELOCITY
        return sort_notes(notes)


class PianorollStream(CodecStream):
    """The keys sounding (as folded pitches), and the frame being answered."""

    def __init__(self, codec: PianorollCodec) -> None:
        self.codec = codec
        self.sounding: set[int] = set()
        self._frame: tuple[int, ...] | None = None

    def copy(self) -> PianorollStream:
        new = PianorollStream(self.codec)
        new.sounding, new._frame = set(self.sounding), self._frame
        return new

    def listen(self, tick: Tick) -> list[Token]:
        low, high = self.codec.low, self.codec.high
        sounding = self.sounding
        for p in tick.offs:
            sounding.discard(p if low <= p <= high else fold_pitch(p, low, high))
        for p, _ in tick.ons:
            sounding.add(p if low <= p <= high else fold_pitch(p, low, high))
        return [tuple(sorted(p - low for p in sounding))]

    def hears(self) -> set[int]:
        return set(self.sounding)

    def begin(self) -> None:
        self._frame = None

    def mask(self) -> np.ndarray | None:
        return None  # any set of keys is a valid frame

    def accept(self, token: Token) -> Accept:
        """Take a frame (key indices, in any order); the fed token is its sorted tuple."""
        keys = (token,) if isinstance(token, int | np.integer) else token
        frame = tuple(sorted({int(k) for k in keys}))
        if frame and not (frame[0] >= 0 and frame[-1] < self.codec.vocab_size):
            raise ValueError(
                f"pianoroll: frame {frame} has keys outside 0..{self.codec.vocab_size - 1}"
            )
        self._frame = frame
        return Accept.FINAL

    def answer(self) -> Tick:
        if self._frame is None:
            raise ValueError("pianoroll: answer() before a frame was accepted")
        low = self.codec.low
        keys = {low + k for k in self._frame}
        offs = tuple(sorted(self.sounding - keys))
        ons = tuple((p, DEFAULT_VELOCITY) for p in sorted(keys - self.sounding))
        return Tick(offs, ons)
