"""Clocks: when each tick happens, behind one small protocol the engine's loop waits on.

Both tick sources answer ``wait(n, between, stop)``: block until tick ``n`` is due, calling
``between()`` about every millisecond meanwhile (the engine drains input there, so
pass-through and MIDI clock messages act at once), and return a :class:`ClockEvent`.

``InternalClock`` keeps fixed deadlines ``anchor + (n - anchor_tick) * period``
on ``time.perf_counter`` and sleeps then spins to each one, so lateness never
accumulates; a tempo change re-anchors at the last tick reached. ``ClockSender`` gives
the pulse times for livegen to lead with its own MIDI clock. Following a DAW's MIDI
clock is livegen/midi_clock.py; joining Ableton Link, livegen/link.py. Time and sleep
are injectable so the tests run on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mido

if TYPE_CHECKING:
    from livegen.link import LinkTicks
    from livegen.midi_clock import MidiTicks
    from livegen.switch import Regrid

PPQN = 24  # MIDI clock pulses per quarter note
SPIN = 0.001  # sleep until this long before a deadline, then spin
POLL = 0.001  # between() is called this often while a clock waits


def tick_period(bpm: float, ticks_per_quarter: int) -> float:
    """Seconds per tick."""
    if not bpm > 0:
        raise ValueError(f"tempo must be positive, got {bpm} BPM")
    return 60.0 / (bpm * ticks_per_quarter)


def pulses_per_tick(ticks_per_quarter: int) -> int:
    if ticks_per_quarter <= 0 or PPQN % ticks_per_quarter:
        raise ValueError(
            f"ticks_per_quarter must divide {PPQN} to follow MIDI clock, got {ticks_per_quarter}"
        )
    return PPQN // ticks_per_quarter


class InternalClock:
    """Tick deadlines at a tempo, from ``perf_counter``; never drifting.

    ``start()`` puts tick 0 (or a given tick) at now; ``wait(n)`` returns at
    tick n's deadline. A tempo set between ticks n and n+1 takes effect for
    tick n+1: its deadline is tick n's deadline plus the new period.
    """

    def __init__(
        self,
        bpm: float = 120.0,
        ticks_per_quarter: int = 4,
        *,
        now: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        spin: float = SPIN,
    ):
        self.ticks_per_quarter = ticks_per_quarter
        self._bpm = float(bpm)
        self._period = tick_period(bpm, ticks_per_quarter)
        self._now = now
        self._sleep = sleep
        self._spin = spin
        self._anchor_time = 0.0  # deadline of _anchor_tick
        self._anchor_tick = 0
        self.last_tick = -1  # the last tick waited for (where a tempo change anchors)
        self.started = False

    @property
    def bpm(self) -> float:
        return self._bpm

    @property
    def period(self) -> float:
        """Seconds per tick at the current tempo."""
        return self._period

    def start(self, at: float | None = None, tick: int = 0) -> None:
        """Put ``tick``'s deadline at ``at`` (default: now)."""
        self._anchor_time = self._now() if at is None else at
        self._anchor_tick = tick
        self.last_tick = tick - 1
        self.started = True

    def set_tempo(self, bpm: float) -> None:
        """Change tempo from the next tick on (the deadlines up to the last tick stay).

        Call it from the thread that waits (the engine applies controls between ticks).
        """
        period = tick_period(bpm, self.ticks_per_quarter)
        if self.started and self.last_tick >= self._anchor_tick:
            self._anchor_time = self.deadline(self.last_tick)
            self._anchor_tick = self.last_tick
        self._bpm = float(bpm)
        self._period = period

    def regrid(self, regrid: Regrid) -> None:
        """Tick ``regrid.n`` of this grid is tick ``regrid.m`` of the new one (a switch).

        The time of the boundary stays where it was, so the beat does not move.
        """
        at = self.deadline(regrid.n)
        self.ticks_per_quarter = regrid.new
        self._period = tick_period(self._bpm, regrid.new)
        self._anchor_time, self._anchor_tick = at, regrid.m
        self.last_tick = regrid.m - 1

    def deadline(self, n: int) -> float:
        """When tick ``n`` is due (perf_counter seconds)."""
        return self._anchor_time + (n - self._anchor_tick) * self._period

    def tick_at(self, t: float) -> int:
        """The last tick whose deadline is at or before ``t``."""
        return self._anchor_tick + int((t - self._anchor_time) // self._period)

    def wait(self, n: int) -> float:
        """Return at tick ``n``'s deadline; the result is how late (seconds, >= 0)."""
        if not self.started:
            self.start()
        late = self.wait_until(self.deadline(n))
        self.last_tick = n
        return late

    def wait_until(self, t: float) -> float:
        """Sleep until ``spin`` before ``t``, then spin to it; returns lateness (>= 0).

        Each sleep is computed from the deadline, so an oversleep is never carried on.
        """
        now, sleep, spin = self._now, self._sleep, self._spin
        while True:
            left = t - now()
            if left <= 0:
                return -left
            if left > spin:
                sleep(left - spin)
            else:
                sleep(0)  # yields the GIL to the MIDI input thread while spinning


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """What a MIDI clock message meant.

    kind: "tick" (``tick`` is due now), "start", "stop", "continue" or "position"
    (``tick`` is where playback will resume). ``time`` is the message's stamp.
    """

    kind: str
    tick: int
    time: float
    late: float = 0.0  # internal clock: seconds after the deadline the tick was reached


class ClockSender:
    """The MIDI clock pulses livegen sends when it leads, from an InternalClock's deadlines.

    The pulses of tick ``n`` fall at ``deadline(n) + k * period / pulses_per_tick``,
    so they follow tempo changes at the same tick as the notes.
    """

    CLOCK = mido.Message("clock")
    START = mido.Message("start")
    STOP = mido.Message("stop")

    def __init__(self, clock: InternalClock):
        self.clock = clock
        self.pulses_per_tick = pulses_per_tick(clock.ticks_per_quarter)

    def pulse_times(self, n: int) -> list[float]:
        """perf_counter times of the pulses in tick ``n`` (the first is on the deadline)."""
        start = self.clock.deadline(n)
        step = self.clock.period / self.pulses_per_tick
        return [start + k * step for k in range(self.pulses_per_tick)]

    def schedule(self, n: int, *, start: bool = False) -> list[tuple[float, mido.Message]]:
        """``(time, message)`` pairs for tick ``n``; ``start`` adds a Start before the pulses."""
        times = self.pulse_times(n)
        out = [(t, self.CLOCK) for t in times]
        if start:
            out.insert(0, (times[0], self.START))
        return out


class InternalTicks:
    """The internal tick source: :class:`InternalClock` deadlines, led MIDI clock pulses.

    ``wait`` sleeps in slices of at most ``POLL`` (calling ``between`` each time), spins
    the last half millisecond before the deadline or a pulse, so both leave on time, and
    never waits for a tick more than a period overdue: when the machine stalled it jumps
    to now and reports the ticks it skipped as late, rather than rush a burst out.
    """

    kind = "internal"

    def __init__(
        self,
        clock: InternalClock,
        send: Callable[[mido.Message], None] | None = None,
    ) -> None:
        self.clock = clock
        self.latency = 0.0  # seconds: everything leaves this much before its deadline
        self._send = send  # set when livegen leads with its own MIDI clock
        self._sender = ClockSender(clock) if send is not None else None
        self._pulses: deque[tuple[float, mido.Message]] = deque()
        self._scheduled = -1  # the last tick whose pulses are queued

    @property
    def bpm(self) -> float:
        return self.clock.bpm

    @property
    def period(self) -> float:
        return self.clock.period

    def start(self, n: int, at: float) -> None:
        self.clock.start(at, tick=n)
        if self._sender is not None:
            self._pulses.append((at - self.latency, ClockSender.START))

    def feed(self, stamp: float, msg: mido.Message) -> None:
        """MIDI clock on the input means nothing to the internal clock."""

    def stop(self) -> None:
        """Stop to the followers when leading."""
        if self._send is not None:
            self._pulses.clear()
            self._send(ClockSender.STOP)

    def wait(self, n: int, between: Callable[[], None], stop: threading.Event) -> ClockEvent | None:
        clock = self.clock
        now, sleep = clock._now, clock._sleep
        if self._sender is not None and self._scheduled < n:
            for t, msg in self._sender.schedule(n):
                self._pulses.append((t - self.latency, msg))
            self._scheduled = n
        target = clock.deadline(n) - self.latency
        pulses = self._pulses
        while not stop.is_set():
            between()
            t = now()
            while pulses and pulses[0][0] <= t:
                self._send(pulses.popleft()[1])
            if t >= target:
                break
            nearest = min(target, pulses[0][0]) if pulses else target
            left = nearest - t
            if left > POLL + 0.0005:
                sleep(POLL)
            elif left > 0.0005:
                sleep(left - 0.0005)
            else:
                while now() < nearest:  # spin, the GIL released now and then
                    sleep(0)
        else:
            return None
        late = now() - target
        skipped = 0
        if late > clock.period:
            skipped = int(late // clock.period)
            n += skipped
            late -= skipped * clock.period
        clock.last_tick = n
        return ClockEvent("tick", n, target, late + skipped * clock.period)

    def set_tempo(self, bpm: float) -> None:
        self.clock.set_tempo(bpm)

    def deadline(self, n: int) -> float:
        return self.clock.deadline(n)

    def regrid(self, regrid: Regrid) -> None:
        """A switch at tick ``regrid.n``, whose first pulse has left: the rest of that tick's
        pulses are the new grid's tick ``m``, so 24 a quarter go on through the switch."""
        self.clock.regrid(regrid)
        if self._sender is not None:
            self._sender = ClockSender(self.clock)
            self._pulses = deque(p for p in self._pulses if p[1] is not ClockSender.CLOCK)
            rest = self._sender.schedule(regrid.m)[1:]
            self._pulses.extend((t - self.latency, msg) for t, msg in rest)
            self._scheduled = regrid.m


def tick_source(
    kind: str,
    bpm: float,
    ticks_per_quarter: int,
    *,
    latency_ms: float = 0.0,
    lead: Callable[[mido.Message], None] | None = None,
    beats_per_bar: int = 4,
    now: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> InternalTicks | MidiTicks | LinkTicks:
    """The tick source a session asks for: ``"midi"`` follows a DAW's clock, ``"link"`` joins
    Ableton Link (livegen/link.py); otherwise internal deadlines. ``lead`` sends MIDI clock."""
    if kind == "midi":
        from livegen.midi_clock import MidiTicks

        ticks: InternalTicks | MidiTicks | LinkTicks = MidiTicks(
            ticks_per_quarter, bpm, sleep=sleep
        )
    elif kind == "link":
        from livegen.link import LinkTicks

        ticks = LinkTicks.open(bpm, ticks_per_quarter, beats_per_bar, lead, now=now, sleep=sleep)
    else:
        ticks = InternalTicks(InternalClock(bpm, ticks_per_quarter, now=now, sleep=sleep), lead)
    ticks.latency = latency_ms / 1000.0
    return ticks
