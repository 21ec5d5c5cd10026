"""Ableton Link as a tick source: tempo, beat phase and Start/Stop from the Link session.

:class:`LinkTicks` answers the same ``wait(n, between, stop)`` as the other tick sources
(clock.py). Tick ``n`` is Link beat ``base + n / ticks_per_quarter``, where ``base`` is a
multiple of the quantum (livegen's ``beats_per_bar``), so livegen's bar lines fall on
Link's bar lines. Link gives the beat at *now* and the tempo; a tick's deadline on
``perf_counter`` is read off that pair (``now + (beat(n) - beat_now) * 60 / tempo``),
sampled again every poll, so a peer's tempo change moves the next deadline at once.

The Link timeline may jump (joining a session aligns it to the session's phase; a peer can
force a beat): a jump ahead renumbers to the tick due now, a jump back moves ``base`` by
whole bars so ticks never go back. Start/Stop sync is on, but only transitions count: a
session stopping is a "stop" event, a session starting a "start" with tick 0 on the next
bar, so livegen plays whether or not any peer uses Start/Stop. livegen's own Start/Stop (the
panel, OSC, a pad) is proposed to the session (``propose_transport``) and then followed like a
peer's, so every peer that syncs stops with it, or starts on the same next bar. With ``send``
(``--clock-out``) livegen leads MIDI clock from Link's timeline: Start on a bar (again after a
jump), pulses, Stop.

``aalink`` wraps Link for asyncio; its properties (``beat``, ``tempo``, ``num_peers``,
``playing``) are synchronous, which is all a tick thread needs, and no event loop runs.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mido

from livegen.clock import POLL, ClockEvent, ClockSender, tick_period
from livegen.errors import LivegenError

if TYPE_CHECKING:
    from livegen.switch import Regrid

SPIN_LEFT = 0.0005  # spin the last half millisecond before a deadline or a pulse
JUMP_TICKS = 0.5  # a Link beat this far (in ticks) from the one predicted is a jump
SURE = 0.0005  # seconds: a beat read between two stamps further apart is read again
# A peer's tempo change reaches this Link up to 50 ms late (Link sends its state at most
# every 50 ms), more on a busy network: the line bent that long ago, not a jump.
TEMPO_LAG = 0.25  # seconds
INSTALL = "pip install aalink"


class LinkError(LivegenError):
    """Link cannot be joined (aalink missing)."""


def open_link(bpm: float) -> Any:
    """A new ``aalink.Link`` at ``bpm``, not yet enabled.

    aalink's constructor takes the running asyncio loop to deliver its callbacks; it is made
    inside a loop that then closes, so the (unused) callbacks are dropped, never queued.
    """
    try:
        import aalink
    except ImportError:
        raise LinkError(f"--clock link needs the aalink package: {INSTALL}") from None

    async def make() -> Any:
        return aalink.Link(bpm)

    return asyncio.run(make())


def late_tempo_change(moved: float, old: float, new: float) -> bool:
    """Whether a beat ``moved`` beats off the old tempo's line is a tempo change heard late.

    A change from ``old`` to ``new`` BPM made ``lag`` seconds ago puts the beat
    ``(new - old) / 60 * lag`` off the line the old tempo predicts. Taken for a jump, it
    renumbered the ticks and restarted led MIDI clock with a new Start (a DAW following
    restarted) at every large change, 600 -> 120 BPM for one.
    """
    if new == old:
        return False
    lag = moved * 60.0 / (new - old)
    return -0.005 <= lag <= TEMPO_LAG


class LinkTicks:
    """The tick source that keeps Ableton Link's time (see the module docstring).

    ``link`` is an ``aalink.Link`` (or, in unit tests, an object with the same properties).
    ``peers`` is the session's peer count at the last tick; ``notices`` holds what the user
    should be told (the snapshot takes them).
    """

    kind = "link"

    def __init__(
        self,
        link: Any,
        ticks_per_quarter: int,
        beats_per_bar: int = 4,
        send: Callable[[mido.Message], None] | None = None,
        *,
        now: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.link = link
        self.ticks_per_quarter = ticks_per_quarter
        self.quantum = float(beats_per_bar)
        link.quantum = self.quantum
        link.start_stop_sync_enabled = True
        link.enabled = True
        self.latency = 0.0
        self.peers = 0
        self.notices: deque[str] = deque()
        self.last_tick = -1
        self._now, self._sleep = now, sleep
        self._base = 0.0  # Link beat of tick 0: a multiple of the quantum
        self._t, self._beat, self._tempo = now(), link.beat, link.tempo  # the last sample
        self._playing = bool(link.playing)
        self._events: deque[ClockEvent] = deque()
        self._send = send
        self._sender = ClockSender(self) if send is not None else None  # type: ignore[arg-type]
        # (time, message, tick, pulse in the tick): a tempo change moves the queued ones.
        self._pulses: deque[tuple[float, mido.Message, int, int]] = deque()
        self._scheduled: int | None = None  # the tick whose pulses are queued
        self._start_midi = False  # MIDI Start goes with the next bar's first pulse
        self._proposed: bool | None = None  # the transport livegen asked the session for

    @classmethod
    def open(cls, bpm: float, ticks_per_quarter: int, beats_per_bar: int = 4, *args, **kw):
        """Join Link at ``bpm`` (the session's tempo wins once a peer is found)."""
        return cls(open_link(bpm), ticks_per_quarter, beats_per_bar, *args, **kw)

    # ---- the timeline -----------------------------------------------------------------
    @property
    def bpm(self) -> float:
        return self._tempo

    @property
    def period(self) -> float:
        return tick_period(self._tempo, self.ticks_per_quarter)

    def beat_of(self, n: int) -> float:
        """The Link beat of tick ``n``."""
        return self._base + n / self.ticks_per_quarter

    def deadline(self, n: int) -> float:
        """When tick ``n`` is due (perf_counter seconds), from the last sample of Link."""
        return self._t + (self.beat_of(n) - self._beat) * 60.0 / self._tempo

    def _beat_at(self, t: float) -> float:
        return self._beat + (t - self._t) * self._tempo / 60.0

    def _sample(self, check: bool = True) -> None:
        """Read Link's beat and tempo now; a beat off the predicted line is a jump."""
        link, now = self.link, self._now
        for _ in range(3):  # preempted between the stamps: the beat's time is unsure, again
            t0 = now()
            beat = link.beat
            t1 = now()
            if t1 - t0 < SURE:
                break
        t = (t0 + t1) / 2  # the beat was read between the two stamps
        moved = beat - self._beat_at(t)
        tempo, old = link.tempo, self._tempo
        retime = tempo != old and self._pulses
        self._t, self._beat, self._tempo = t, beat, tempo
        if retime:
            self._retime()
        off = abs(moved) * self.ticks_per_quarter > JUMP_TICKS
        if check and off and not late_tempo_change(moved, old, tempo):
            self._jumped(moved)

    def _jumped(self, moved: float) -> None:
        """The timeline moved by ``moved`` beats: whole bars move ``base`` with it (nothing
        changes for livegen); what is left renumbers to the tick due now, never to one
        already sent."""
        q, tpq = self.quantum, self.ticks_per_quarter
        bars = round(moved / q) * q
        self._base += bars
        if abs(moved - bars) * tpq <= JUMP_TICKS:
            return
        now_tick = (self._beat - self._base) * tpq
        if now_tick < self.last_tick:  # back: whole bars later, so the bar lines stay
            self._base -= math.ceil((self.last_tick - now_tick) / (q * tpq)) * q
            now_tick = (self._beat - self._base) * tpq
        m = max(math.ceil(now_tick - 1e-9), self.last_tick + 1)
        self._renumber(ClockEvent("position", m, self._t))

    def _renumber(self, event: ClockEvent) -> None:
        self.last_tick = event.tick - 1
        self._events.append(event)
        self._pulses.clear()
        self._scheduled = None
        self._start_midi = True  # led MIDI clock starts again on the next bar, re-aligned

    # ---- the protocol -----------------------------------------------------------------
    def start(self, n: int, at: float) -> None:
        """Tick ``n`` goes where Link's bar puts it: the first tick at or after ``at`` is
        numbered so that ticks on livegen's bar lines fall on Link's."""
        self._sample()
        self._events.clear()
        tpq = self.ticks_per_quarter
        beat = self._beat_at(at)
        self._base = math.floor((beat - n / tpq) / self.quantum) * self.quantum
        m = math.ceil((beat - self._base) * tpq - 1e-9)
        self.last_tick = n - 1
        if m != n:
            self._renumber(ClockEvent("position", m, at))
        self._start_midi = True
        self._playing = bool(self.link.playing)  # only what changes from here on counts
        self.peers = self.link.num_peers
        self._say_peers()

    def feed(self, stamp: float, msg: mido.Message) -> None:
        """MIDI clock on the input means nothing: Link keeps the time."""

    def set_tempo(self, bpm: float) -> None:
        """The panel's tempo goes to every peer (Link keeps the beat where it is now)."""
        self._sample()
        self.link.tempo = float(bpm)
        self._sample(check=False)  # the line bends at now: not a jump

    def propose_transport(self, playing: bool) -> None:
        """livegen's own Start/Stop (the panel, OSC, a pad) goes to the session when Start/Stop
        sync is on: every peer that syncs stops, or starts on the next bar. livegen then
        follows the session's transition as it follows a peer's (``_transport``), so a start
        puts tick 0 on Link's next bar, for livegen and its MIDI followers alike."""
        link = self.link
        if not link.start_stop_sync_enabled or bool(link.playing) == playing:
            return  # nothing to share, or the session is there already
        self._proposed = playing
        link.playing = playing

    def stop(self) -> None:
        """Leave the session (peers see one fewer); Stop to MIDI followers when leading."""
        if not self.link.enabled:
            return  # left already (shutdown may come twice)
        if self._send is not None:
            self._pulses.clear()
            self._send(ClockSender.STOP)
        self.link.enabled = False

    def regrid(self, regrid: Regrid) -> None:
        """Tick ``regrid.n`` of this grid is tick ``regrid.m`` of the new one: same beat."""
        beat = self.beat_of(regrid.n)
        self.ticks_per_quarter = regrid.new
        self._base = beat - regrid.m / regrid.new
        self.last_tick = regrid.m - 1
        self._scheduled = None
        if self._sender is not None:
            self._sender = ClockSender(self)  # type: ignore[arg-type]
            self._keep(lambda msg: msg is not ClockSender.CLOCK)
            # Tick m's first pulse left with tick n; its others follow on the new grid.
            m, times = regrid.m, self._sender.pulse_times(regrid.m)
            rest = [(t - self.latency, ClockSender.CLOCK, m, k) for k, t in enumerate(times)]
            self._pulses.extend(rest[1:])
            self._scheduled = m

    def wait(self, n: int, between: Callable[[], None], stop: threading.Event) -> ClockEvent | None:
        """Tick ``n`` at its Link deadline, or a Start / Stop / renumbering first."""
        self._count_peers()
        now, sleep, events = self._now, self._sleep, self._events
        pulses = self._pulses
        while not stop.is_set():
            between()
            if not events:
                self._sample()
                self._transport(n)
            if events:
                return events.popleft()
            if self._sender is not None and self._scheduled != n:
                self._schedule(n)
            target = self.deadline(n) - self.latency
            t = now()
            while pulses and pulses[0][0] <= t:
                self._send(pulses.popleft()[1])  # type: ignore[misc]
            if t >= target:
                break
            nearest = min(target, pulses[0][0]) if pulses else target
            left = nearest - t
            if left > POLL + SPIN_LEFT:
                sleep(POLL)
            elif left > SPIN_LEFT:
                sleep(left - SPIN_LEFT)
            else:
                while now() < nearest:  # spin, the GIL released now and then
                    sleep(0)
        else:
            return None
        late = now() - target
        period = self.period
        if late > period:  # stalled: the tick due now, the skipped ones are not rushed out
            n += int(late // period)
        self.last_tick = n
        return ClockEvent("tick", n, target, late)

    def _schedule(self, n: int) -> None:
        """Queue tick ``n``'s pulses; MIDI Start before the first pulse of a bar, when due."""
        bar = round(self.quantum) * self.ticks_per_quarter
        if self._start_midi and n % bar == 0:
            self._start_midi = False
            self._pulses.append((self.deadline(n) - self.latency, ClockSender.START, n, 0))
        for k, t in enumerate(self._sender.pulse_times(n)):  # type: ignore[union-attr]
            self._pulses.append((t - self.latency, ClockSender.CLOCK, n, k))
        self._scheduled = n

    def _retime(self) -> None:
        """The tempo changed: the queued pulses move to where the new tempo puts them, so
        their count is kept and none bunch up with the next tick's."""
        step = self.period / self._sender.pulses_per_tick  # type: ignore[union-attr]
        moved = [
            (self.deadline(n) - self.latency + k * step, msg, n, k) for _, msg, n, k in self._pulses
        ]
        self._pulses.clear()  # in place: the waiting loop holds this deque
        self._pulses.extend(moved)

    def _keep(self, wanted: Callable[[mido.Message], bool]) -> None:
        """Keep the queued messages ``wanted`` takes, in place (the waiting loop holds it)."""
        kept = [p for p in self._pulses if wanted(p[1])]
        self._pulses.clear()
        self._pulses.extend(kept)

    def _count_peers(self) -> None:
        """Once a tick: the session's peer count, said when it changes."""
        peers = self.link.num_peers
        if peers != self.peers:
            self.peers = peers
            self._say_peers()

    def _transport(self, n: int) -> None:
        """Every poll (a bar line may be a millisecond away): Start/Stop when the session's
        transport moved."""
        playing = bool(self.link.playing)
        if playing == self._playing:
            return
        self._playing = playing
        ours, self._proposed = self._proposed == playing, None
        who = "livegen started the session" if ours else "the session started"
        if playing:  # tick 0 on the next bar, where Link apps start
            self._sample()
            self._events.clear()
            self._base = math.ceil(self._beat / self.quantum - 1e-9) * self.quantum
            self._renumber(ClockEvent("start", 0, self._t))
            self._start_midi = True
            self.notices.append(f"Link: {who}; livegen starts on the next bar")
        else:
            self._events.append(ClockEvent("stop", n, self._now()))
            if self._send is not None:
                self._keep(lambda msg: msg is ClockSender.CLOCK)
                self._send(ClockSender.STOP)
            self.notices.append(
                "Link: livegen stopped the session" if ours else "Link: the session stopped"
            )

    def _say_peers(self) -> None:
        peers = self.peers
        if peers:
            plural = "s" if peers != 1 else ""
            self.notices.append(f"Link: {peers} peer{plural} at {self.bpm:.1f} BPM")
        else:
            self.notices.append(
                f"Link: no peers; keeping time alone at {self.bpm:.1f} BPM until one joins"
            )
