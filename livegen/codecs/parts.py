"""The ``parts`` codec: every tick carries two parts, *yours* (heard) then *mine* (livegen's).

Per tick: ``Y_ON(p)... Y_HOLD(p)... MID M_ON(p)... M_HOLD(p)... STEP``. Each part follows the
``poly`` grammar (new notes ascending, then held notes ascending) in its own pitch range, and
your part comes first, so that livegen's notes at tick n are conditioned on what you play at
tick n as well as on everything before.

Each part has its own tokens rather than sharing pitch tokens told apart by position: a
mask, a key lock or a loss over "what livegen plays" is then a plain set of token indices,
and a part's range can be narrow (a melody) or low (a bass) without widening the other.
``strikes()`` covers both parts' ONs, so a key lock holds whichever part is sampled.

Streams know which part they hear in three ways:

- ``listen_yours(tick)`` then ``listen_mine(tick)``: the live order of one tick. Your part is
  always teacher forced; between the two calls ``begin()`` / ``mask()`` / ``accept()`` /
  ``answer()`` sample *my* part of the same tick (``answer()`` is then my part alone).
- ``listen(PartsTick(yours, mine))``: both halves of one tick at once (batch encoding).
- ``listen(tick)`` with a plain :class:`Tick` (generic tools, single-stream history): the top
  voice is yours and the rest mine. Your part takes the highest note struck at a tick when it
  has nothing sounding after the tick's releases; every other note is mine. ``begin()`` at a
  tick boundary answers the whole next tick, both parts, under a grammar that listens back
  to the same tokens through this split (``answer()`` is then both parts merged).
  ``encode(notes)`` is this split over a piece, ``decode(tokens)`` both parts merged.

A part declared monophonic (``yours_max_notes=1``) keeps the highest notes when it hears more
(a chord where it expects one melody note) and counts it in ``stream.chords``, so the engine
can say so once. Only your part is capped when heard: my part is capped by the grammar when
livegen plays it, and teacher forced as it is otherwise.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from livegen.codecs.base import Codec, CodecError, int_param
from livegen.codecs.parts_stream import Part, PartsStream, PartsTick
from livegen.notes import (
    DEFAULT_VELOCITY,
    EMPTY_TICK,
    Tick,
    fold_notes,
    notes_to_ticks,
    sort_notes,
    ticks_to_notes,
)

Y_ON, Y_HOLD, MID, M_ON, M_HOLD, STEP = "Y_ON", "Y_HOLD", "MID", "M_ON", "M_HOLD", "STEP"


def _role(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value or len(value) > 40:
        raise CodecError(f"codec 'parts': {key} must be a one-line name (e.g. 'soprano')")
    return value.strip()


class PartsCodec(Codec):
    """STEP=0, MID=1, then Y_ON, Y_HOLD over your range and M_ON, M_HOLD over mine."""

    name: ClassVar[str] = "parts"
    # Each part lists each of its pitches at most once, plus MID and STEP.
    max_tokens_per_tick: ClassVar[int] = 2 + 2 * 128
    MAX_ONS: ClassVar[int] = 12  # new notes of my part per answered tick

    def __init__(
        self,
        *,
        ticks_per_quarter: int = 4,
        low: int = 36,
        high: int = 84,
        yours: str = "melody",
        mine: str = "accompaniment",
        yours_low: int | None = None,
        yours_high: int | None = None,
        mine_low: int | None = None,
        mine_high: int | None = None,
        yours_max_notes: int = 128,
        mine_max_notes: int = 128,
    ) -> None:
        self.ticks_per_quarter = int_param(
            self.name, "ticks_per_quarter", ticks_per_quarter, 1, 960
        )
        self.low = int_param(self.name, "low", low, 0, 127)
        self.high = int_param(self.name, "high", high, 0, 127)
        if self.high - self.low < 11:  # folding by octaves needs an octave of room
            raise CodecError(f"codec 'parts': high - low must be at least 11, got {low}..{high}")
        self.yours, self.mine = _role("yours", yours), _role("mine", mine)
        # None: the part spans the codec's range (kept as None so params() rebuilds it).
        self._ranges = (yours_low, yours_high, mine_low, mine_high)
        y_lo, y_hi = self._part_range("yours", yours_low, yours_high)
        m_lo, m_hi = self._part_range("mine", mine_low, mine_high)
        y_max = int_param(self.name, "yours_max_notes", yours_max_notes, 1, 128)
        m_max = int_param(self.name, "mine_max_notes", mine_max_notes, 1, 128)
        # The vocabulary table: (kind, pitch or -1) per token index. Everything below derives
        # from it: names, strikes, the token of each event and the meaning of each token.
        self.table: tuple[tuple[str, int], ...] = (
            (STEP, -1),
            (MID, -1),
            *((Y_ON, p) for p in range(y_lo, y_hi + 1)),
            *((Y_HOLD, p) for p in range(y_lo, y_hi + 1)),
            *((M_ON, p) for p in range(m_lo, m_hi + 1)),
            *((M_HOLD, p) for p in range(m_lo, m_hi + 1)),
        )
        index = {entry: i for i, entry in enumerate(self.table)}
        self.step, self.mid = index[(STEP, -1)], index[(MID, -1)]

        def part(lo: int, hi: int, cap: int, on: str, hold: str) -> Part:
            pitches = range(lo, hi + 1)
            ons = {p: index[(on, p)] for p in pitches}
            holds = {p: index[(hold, p)] for p in pitches}
            return Part(lo, hi, cap, ons, holds, np.array([ons[p] for p in pitches]))

        self.your_part = part(y_lo, y_hi, y_max, Y_ON, Y_HOLD)
        self.my_part = part(m_lo, m_hi, m_max, M_ON, M_HOLD)
        kinds = np.array([kind for kind, _ in self.table])
        self.mine_tokens = np.flatnonzero((kinds == M_ON) | (kinds == M_HOLD) | (kinds == STEP))
        # The answer grammar's masks by the stream's state (parts_stream.PartsStream.mask):
        # a pure function of it, and the harmonize table asks the same few dozen every tick.
        self.masks: dict[tuple, np.ndarray] = {}

    def _part_range(self, part: str, low: int | None, high: int | None) -> tuple[int, int]:
        lo = self.low if low is None else int_param(self.name, f"{part}_low", low, 0, 127)
        hi = self.high if high is None else int_param(self.name, f"{part}_high", high, 0, 127)
        if not (self.low <= lo and hi <= self.high) or hi - lo < 11:
            raise CodecError(
                f"codec 'parts': {part}'s range {lo}..{hi} must lie in {self.low}..{self.high}"
                " and span at least 11 semitones"
            )
        return lo, hi

    def params(self) -> dict[str, Any]:
        y_lo, y_hi, m_lo, m_hi = self._ranges
        return {
            "ticks_per_quarter": self.ticks_per_quarter,
            "low": self.low,
            "high": self.high,
            "yours": self.yours,
            "mine": self.mine,
            "yours_low": y_lo,
            "yours_high": y_hi,
            "mine_low": m_lo,
            "mine_high": m_hi,
            "yours_max_notes": self.your_part.max_notes,
            "mine_max_notes": self.my_part.max_notes,
        }

    def parts(self) -> tuple[str, str]:
        """The parts' roles, yours then mine, as a model list shows them."""
        return self.yours, self.mine

    def strikes(self) -> np.ndarray:
        return np.array(
            [v if kind in (Y_ON, M_ON) else -1 for kind, v in self.table], dtype=np.int64
        )

    def stream(self) -> PartsStream:
        return PartsStream(self)

    # ---- batch ---------------------------------------------------------------------------
    def ticks_parts(self, yours: np.ndarray, mine: np.ndarray) -> list[PartsTick]:
        """A piece with parts as ticks: each part folded into its range, on the grid."""
        tpq, y, m = self.ticks_per_quarter, self.your_part, self.my_part
        y_ticks = notes_to_ticks(fold_notes(yours, y.low, y.high), tpq)
        m_ticks = notes_to_ticks(fold_notes(mine, m.low, m.high), tpq)
        n = max(len(y_ticks), len(m_ticks))
        y_ticks += [EMPTY_TICK] * (n - len(y_ticks))
        m_ticks += [EMPTY_TICK] * (n - len(m_ticks))
        return [PartsTick(a, b) for a, b in zip(y_ticks, m_ticks, strict=True)]

    def encode_parts(self, yours: np.ndarray, mine: np.ndarray) -> np.ndarray:
        """A piece with parts as int64 tokens: per tick your part, MID, my part, STEP."""
        stream = self.stream()
        ticks = self.ticks_parts(yours, mine)
        return np.asarray([t for tick in ticks for t in stream.listen(tick)], dtype=np.int64)

    def decode_parts(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tokens back to ``(yours, mine)`` notes arrays; a trailing unfinished tick closes."""
        parts: tuple[list[Tick], list[Tick]] = ([], [])
        sounding: list[set[int]] = [set(), set()]
        ons: list[int] = []
        holds: set[int] = set()

        def close(which: int) -> None:
            # A HOLD of a pitch not sounding (never encoded) is ignored; a re-struck pitch ends.
            now = sounding[which]
            held = holds & now
            struck = tuple((p, DEFAULT_VELOCITY) for p in sorted(set(ons)))
            parts[which].append(Tick(tuple(sorted(now - held)), struck))
            sounding[which] = held | set(ons)
            ons.clear()
            holds.clear()

        which = 0  # the part being read: 0 yours, 1 mine
        for token in np.asarray(tokens, dtype=np.int64).tolist():
            kind, pitch = self.table[token]
            if kind in (Y_ON, M_ON):
                ons.append(pitch)
            elif kind in (Y_HOLD, M_HOLD):
                holds.add(pitch)
            elif kind == MID and which == 0:
                close(0)
                which = 1
            elif kind == STEP:
                if which == 0:  # a tick without MID (never encoded): my half lists nothing
                    close(0)
                close(1)
                which = 0
        if which == 1 or ons or holds:
            if which == 0:
                close(0)
            close(1)
        tpq = self.ticks_per_quarter
        return ticks_to_notes(parts[0], tpq), ticks_to_notes(parts[1], tpq)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """Both parts merged into one notes array (for generic tools: generate, plots)."""
        yours, mine = self.decode_parts(tokens)
        return sort_notes(np.concatenate([yours, mine]))

    def tick_of_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """int64 per token: the index of the tick it belongs to (a STEP closes its tick)."""
        steps = np.asarray(tokens, dtype=np.int64) == self.step
        return (np.cumsum(steps) - steps).astype(np.int64)
