"""Following a DAW's MIDI clock: 24 pulses per quarter, Start, Stop, Continue and Song
Position turned into ticks and a tempo estimate (``MidiClockFollower``), and the tick
source that waits on them (``MidiTicks``, what ``--clock midi`` runs).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import mido

from livegen.clock import POLL, PPQN, ClockEvent, pulses_per_tick, tick_period

if TYPE_CHECKING:
    from livegen.switch import Regrid

SONGPOS_PULSES = 6  # a Song Position unit is a sixteenth note


class MidiClockFollower:
    """Ticks and tempo from MIDI clock: feed it every ``(stamp, msg)`` from the input.

    Per the MIDI spec the first pulse after Start is the downbeat (tick 0), and
    after Continue the first pulse is the stored song position. "stop" must reach
    the engine so it can silence its output.
    """

    def __init__(self, ticks_per_quarter: int = 4, *, history: int = PPQN, max_gap: float = 0.5):
        self.ticks_per_quarter = ticks_per_quarter
        self.pulses_per_tick = pulses_per_tick(ticks_per_quarter)
        self.running = False
        self.position = 0  # pulses since the song's start: the next pulse's index
        self._stamps: deque[float] = deque(maxlen=history + 1)  # arrival times of a run
        self._last_pulse: float | None = None
        self._max_gap = max_gap  # a longer pause between pulses is a gap, not a tempo
        self._bpm_key: tuple[int, float] | None = None  # the stamps the estimate is of
        self._bpm = 0.0

    @property
    def tick(self) -> int:
        """The tick the next pulse falls in."""
        return self.position // self.pulses_per_tick

    @property
    def bpm(self) -> float | None:
        """Tempo from the recent pulses' stamps; None until a few arrived.

        The median of the intervals between pulses at least half the window apart
        (Theil-Sen over long spans), per pulse:
        - not the median interval: JACK hands input over once per period, so 25 ms pulses
          arrive 21.3 or 26.7 ms apart, and a median picks one of the two (100 BPM read as
          94), while a long span's quantization errors are small;
        - not the one span from first to last: a sender late by 40 ms at the window's
          first pulse (then two pulses in one period) read 100 BPM as 107 (a CI run);
          a late pulse is in only a few of the spans, and the median ignores them.
        """
        stamps = self._stamps
        count = len(stamps)
        if count < 4:
            return None
        key = (count, stamps[-1])
        if key != self._bpm_key:
            half = (count - 1) // 2 or 1
            spans = sorted(
                (stamps[j] - stamps[i]) / (j - i)
                for i in range(count)
                for j in range(i + half, count)
            )
            self._bpm_key, self._bpm = key, 60.0 / (spans[len(spans) // 2] * PPQN)
        return self._bpm

    def feed(self, stamp: float, msg: mido.Message) -> ClockEvent | None:
        kind = msg.type
        if kind == "clock":
            return self._pulse(stamp)
        if kind == "start":
            self.position = 0
            self.running = True
            return ClockEvent("start", 0, stamp)
        if kind == "stop":
            self.running = False
            return ClockEvent("stop", self.tick, stamp)
        if kind == "continue":
            self.running = True
            return ClockEvent("continue", self.tick, stamp)
        if kind == "songpos":
            self.position = msg.pos * SONGPOS_PULSES
            # The first tick at or after the position.
            return ClockEvent("position", -(-self.position // self.pulses_per_tick), stamp)
        return None

    def _pulse(self, stamp: float) -> ClockEvent | None:
        last, self._last_pulse = self._last_pulse, stamp
        if last is None or not 0 < stamp - last <= self._max_gap:
            self._stamps.clear()  # a gap or a restart: the tempo starts again from here
        self._stamps.append(stamp)
        if not self.running:
            return None  # DAWs keep sending clock while stopped: tempo only
        position = self.position
        self.position += 1
        if position % self.pulses_per_tick == 0:
            return ClockEvent("tick", position // self.pulses_per_tick, stamp)
        return None


class MidiTicks:
    """The tick source that follows a DAW's MIDI clock (fed from the input as it arrives).

    ``wait`` returns at the next clock event: a tick (every ``24 / ticks_per_quarter``
    pulses, numbered from the song position, so livegen's bar follows the DAW's after a
    Song Position Pointer and Continue), or Start, Stop, Continue, a new position.
    """

    kind = "midi"

    def __init__(self, ticks_per_quarter: int, bpm: float = 120.0, *, sleep=time.sleep) -> None:
        self.follower = MidiClockFollower(ticks_per_quarter)
        self._bpm = bpm
        self._events: deque[ClockEvent] = deque()
        self._sleep = sleep
        self.latency = 0.0

    @property
    def bpm(self) -> float:
        bpm = self.follower.bpm
        if bpm is not None:
            self._bpm = bpm
        return self._bpm

    @property
    def period(self) -> float:
        return tick_period(self.bpm, self.follower.ticks_per_quarter)

    def start(self, n: int, at: float) -> None:
        """The DAW decides where ticks fall."""

    def stop(self) -> None:
        """Nothing to tell: the DAW leads."""

    def set_tempo(self, bpm: float) -> None:
        """The DAW's tempo rules; a tempo control changes nothing."""

    def feed(self, stamp: float, msg: mido.Message) -> None:
        event = self.follower.feed(stamp, msg)
        if event is not None:
            self._events.append(event)

    def wait(self, n: int, between: Callable[[], None], stop: threading.Event) -> ClockEvent | None:
        events = self._events
        while not stop.is_set():
            between()
            if events:
                return events.popleft()
            self._sleep(POLL)
        return None

    def regrid(self, regrid: Regrid) -> None:
        follower = self.follower
        follower.ticks_per_quarter = regrid.new
        follower.pulses_per_tick = pulses_per_tick(regrid.new)
