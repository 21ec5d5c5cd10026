"""The codec contract: one representation of music, for training and for live play.

A codec owns a vocabulary table. Its :class:`CodecStream` turns the music of one
tick into tokens (``listen``) and, when livegen answers, checks sampled tokens
against the tick's grammar (``mask`` / ``accept``) and turns them back into note
events (``answer``). Batch encoding for training is nothing but ``listen`` run over
every tick of a piece, so training and live play cannot disagree.

Tokens are ints for the softmax codecs. For ``pianoroll`` a token is one frame:
the sorted tuple of the key indices (0..87) that sound at the tick.
"""

from __future__ import annotations

import copy
import enum
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from livegen.errors import LivegenError
from livegen.notes import Tick, fold_notes, notes_to_ticks

Token = int | tuple[int, ...]


class CodecError(LivegenError, ValueError):
    """A codec name or parameter that this version does not know."""


def int_param(codec: str, key: str, value: Any, lo: int, hi: int) -> int:
    """One integer constructor parameter, checked, or a CodecError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise CodecError(
            f"codec {codec!r}: {key} must be an integer in [{lo}, {hi}], got {value!r}"
        )
    return int(value)


def pitch_range(codec: str, low: Any, high: Any) -> tuple[int, int]:
    """The checked ``low``..``high`` pitch range of a codec (at least an octave wide)."""
    low, high = int_param(codec, "low", low, 0, 127), int_param(codec, "high", high, 0, 127)
    if high - low < 11:  # folding by octaves needs at least one octave of room
        raise CodecError(f"codec {codec!r}: high - low must be at least 11, got {low}..{high}")
    return low, high


class Accept(enum.Enum):
    """What a sampled token does to the tick being answered."""

    CONTINUE = "continue"  # feed it to the model; the tick's answer goes on
    FINAL = "final"  # feed it; the tick's answer is complete
    DROP = "drop"  # do not feed it; the tick's answer is complete without it


class CodecStream(ABC):
    """One session's streaming state of a codec: what sounds, where time stands.

    ``listen`` is called once per tick with everything that sounded at that tick
    (the musician's notes merged with livegen's own). To answer the next tick the
    player takes a ``copy()``, calls ``begin()``, then for each sampled token asks
    ``mask()`` (which tokens the grammar allows) and ``accept(token)``, and at the
    end ``answer()`` gives the tick's note events.
    """

    @abstractmethod
    def listen(self, tick: Tick) -> list[Token]:
        """Tokens for what sounded at this tick; advances the stream by one tick."""

    @abstractmethod
    def begin(self) -> None:
        """Start answering the next tick (call on a copy of the listening stream)."""

    @abstractmethod
    def mask(self) -> np.ndarray | None:
        """Boolean mask over the vocabulary (keys for pianoroll) of what may come next.

        None means everything is allowed.
        """

    @abstractmethod
    def accept(self, token: Token) -> Accept:
        """Take one sampled token into the answer being built."""

    @abstractmethod
    def answer(self) -> Tick:
        """The note events of the answered tick (after ``accept`` said FINAL or DROP)."""

    @abstractmethod
    def hears(self) -> set[int]:
        """The pitches the stream takes as sounding now (folded into the codec's range).

        A note struck but no longer here (the melody codec keeps only the top note; a
        musician's release of the same pitch ends it) is one the model will never release.
        """

    def copy(self) -> CodecStream:
        return copy.deepcopy(self)

    def allowed(self, token: Token) -> int:
        """``token`` as an index, if the tick's grammar allows it here; else a ValueError."""
        codec = self.codec  # type: ignore[attr-defined]  (every softmax codec's stream has one)
        tok = int(token)  # type: ignore[arg-type]
        if not (0 <= tok < codec.vocab_size and self.mask()[tok]):
            name = codec.token_names()[tok] if 0 <= tok < codec.vocab_size else str(tok)
            raise ValueError(f"{codec.name}: token {name} breaks the tick grammar here")
        return tok


class Codec(ABC):
    """A representation of music: a vocabulary table plus batch and streaming codings."""

    name: ClassVar[str]
    head: ClassVar[str] = "softmax"  # "softmax" over tokens, or "sigmoid" per key (pianoroll)
    max_tokens_per_tick: ClassVar[int] = 1

    ticks_per_quarter: int
    low: int  # lowest pitch, inclusive
    high: int  # highest pitch, inclusive

    # ---- the table -------------------------------------------------------------------
    # Every codec keeps one table, ``(kind, pitch or value)`` per token index (per key for
    # pianoroll); size, names and strikes derive from it here.
    table: tuple[tuple[str, int], ...]
    carries_velocity: ClassVar[bool] = False  # tokens say how loud (performance's VEL)

    @property
    def vocab_size(self) -> int:
        """Number of tokens (for pianoroll: number of keys, the frame width)."""
        return len(self.table)

    def token_names(self) -> list[str]:
        """A readable name for every token index, e.g. ``ON(60)``, ``HOLD``, ``STEP``."""
        return [f"{kind}({v})" if v >= 0 else kind for kind, v in self.table]

    def strikes(self) -> np.ndarray:
        """int64 per token: the pitch the token strikes, or -1 (used for key/scale masks)."""
        return np.array([v if kind == "ON" else -1 for kind, v in self.table], dtype=np.int64)

    def params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able) that rebuild this codec: ``type(c)(**c.params())``."""
        return {"ticks_per_quarter": self.ticks_per_quarter, "low": self.low, "high": self.high}

    # ---- streaming --------------------------------------------------------------------
    @abstractmethod
    def stream(self) -> CodecStream:
        """A fresh streaming state at tick 0 with nothing sounding."""

    # ---- batch (training) ----------------------------------------------------------------
    def ticks(self, notes: np.ndarray) -> list[Tick]:
        """A piece as this codec's ticks: pitches folded into range, quantized to the grid."""
        return notes_to_ticks(fold_notes(notes, self.low, self.high), self.ticks_per_quarter)

    def encode(self, notes: np.ndarray) -> np.ndarray:
        """A whole piece as tokens: int64 (N,), or uint8 frames (T, 88) for pianoroll."""
        stream = self.stream()
        tokens = [t for tick in self.ticks(notes) for t in stream.listen(tick)]
        return np.asarray(tokens, dtype=np.int64)

    def tick_of_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """int64 (N,): the tick each token of a batch encoding belongs to (0 = the first).

        This is the tick whose ``listen`` gave the token, so live play and training put
        every token at the same position in the bar. Here: one token (or frame) per tick;
        codecs with several tokens per tick override it.
        """
        return np.arange(len(tokens), dtype=np.int64)

    @abstractmethod
    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """Tokens (as ``encode`` returns them) back to a notes array in quarter notes."""

    def pitch_mask(self, allowed_pitches) -> np.ndarray:
        """Mask over the vocabulary that forbids striking any pitch not in ``allowed_pitches``."""
        strikes = self.strikes()
        allowed = np.zeros(128, dtype=bool)
        allowed[list(allowed_pitches)] = True
        return (strikes < 0) | allowed[np.clip(strikes, 0, 127)]

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{self.name}({args})"
