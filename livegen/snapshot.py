"""The frozen picture of a live session that the panel and every client read.

The engine swaps in a new :class:`Snapshot` once per tick; it is a plain frozen value (no
references into the engine), so it can be read from any thread and sent across a pipe to
another process as it is. :class:`PianoRoll` keeps the notes of the last bars (yours and
livegen's) that the snapshot shows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from livegen.notes import Tick

if TYPE_CHECKING:
    from livegen.switch import Regrid

YOU, LIVEGEN = "in", "out"  # the two sources of notes on the piano roll


@dataclass(frozen=True, slots=True)
class NoteSpan:
    """A note for the piano roll: ``end`` is None while it sounds; source "in" or "out"."""

    pitch: int
    start: int
    end: int | None
    source: str


@dataclass(frozen=True)
class Snapshot:
    """The engine's state at its last tick; immutable, so any thread may read it."""

    running: bool = False
    playing: bool = True  # False after stop (no output until start)
    phase: str = "starting"  # listening, answering, accompanying, playing, stopped, ...
    mode: str = "continue"
    tick: int = -1
    ticks_per_quarter: int = 4
    beats_per_bar: int = 4
    bar_tick: int = 0  # the tick at which bar 1 begins (a Song Position moves it)
    bpm: float = 120.0
    clock: str = "internal"
    temperature: float = 0.9
    model: str = ""
    codec: str = ""
    step_path: str = ""
    response_bars: float = 2.0
    channel: int = 0
    key: str | None = None
    passthrough: bool = False
    velocity: str = "model"
    latency_ms: float = 0.0
    step_p50_us: float = 0.0
    step_p99_us: float = 0.0
    late_ticks: int = 0
    dropped_input: int = 0
    ignored_input: int = 0
    send_errors: int = 0
    held: tuple[int, ...] = ()  # the musician's keys livegen believes are down (pedal too)
    open_notes: tuple[tuple[int, int], ...] = ()
    recent: tuple[NoteSpan, ...] = ()
    notices: tuple[str, ...] = ()  # the latest few
    notice_count: int = 0  # notices ever given (to tell which are new)
    learning: str | None = None
    cc_map: tuple[tuple[str, int], ...] = ()
    ports: str = ""
    error: str | None = None
    applied: int = 0  # the sequence number of the last command applied (see Engine.submit)

    @property
    def beat(self) -> float:
        """Quarter notes since bar 1 began."""
        return max(self.tick - self.bar_tick, 0) / self.ticks_per_quarter

    def position(self) -> str:
        """``bar.beat`` (1-based) for display."""
        beat = int(self.beat)
        return f"{beat // self.beats_per_bar + 1}.{beat % self.beats_per_bar + 1}"


class PianoRoll:
    """The notes of the last bars, yours and livegen's, as spans from tick to tick.

    ``record`` is called with every tick's events as they sound; ``spans(n)`` gives the
    spans still in view at tick ``n``, rebuilt only when a note changed (most ticks change
    none, and the snapshot then keeps the same tuple).
    """

    def __init__(self, horizon_ticks: int, capacity: int = 512) -> None:
        self.horizon = horizon_ticks
        self._spans: deque[list] = deque(maxlen=capacity)  # [pitch, start, end, source]
        self._open: dict[tuple[str, int], list] = {}
        self._changed = True
        self._shown: tuple[NoteSpan, ...] = ()

    def record(self, tick: Tick, at: int, source: str) -> None:
        if not tick:
            return
        self._changed = True
        opened = self._open
        for p in tick.offs:
            span = opened.pop((source, p), None)
            if span is not None:
                span[2] = at
        for p, _ in tick.ons:
            span = opened.pop((source, p), None)
            if span is not None:
                span[2] = at
            span = [p, at, None, source]
            opened[(source, p)] = span
            self._spans.append(span)

    def close(self, source: str, at: int) -> None:
        """Every open note of ``source`` ends at ``at`` (panic, all notes off)."""
        self._changed = True
        for key in [k for k in self._open if k[0] == source]:
            self._open.pop(key)[2] = at

    def regrid(self, regrid: Regrid) -> None:
        """The ticks are renumbered (a model of another grid): spans move with them."""
        self._changed = True
        self.horizon = regrid.length(self.horizon)
        for span in self._spans:
            span[1] = regrid(span[1])
            if span[2] is not None:
                span[2] = regrid(span[2])

    def spans(self, n: int) -> tuple[NoteSpan, ...]:
        if self._changed:
            self._changed = False
            horizon = n - self.horizon
            self._shown = tuple(
                NoteSpan(s[0], s[1], s[2], s[3])
                for s in self._spans
                if s[2] is None or s[2] >= horizon
            )
        return self._shown
