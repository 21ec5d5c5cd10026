"""The frozen picture of a live session that the panel and every client read.

The engine swaps in a new :class:`Snapshot` once per tick; it is a plain frozen value (no
references into the engine), so it can be read from any thread and sent across a pipe to
another process as it is. :class:`PianoRoll` keeps the notes of the last bars (yours and
livegen's) that the snapshot shows. :class:`Picture` makes the snapshot from the session's
parts once per tick, and keeps what only the snapshot shows (notices, the model's strings).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livegen.notes import Tick
from livegen.roles import ONE_STREAM, Roles, roles_of

if TYPE_CHECKING:
    from livegen.controls import Settings
    from livegen.recording import RecordState
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
    link_peers: int | None = None  # peers in the Ableton Link session (None: not on Link)
    temperature: float = 0.9
    model: str = ""
    codec: str = ""
    roles: Roles = ONE_STREAM  # whose part is whose: yours and livegen's, or one shared stream
    step_path: str = ""
    response_bars: float = 2.0
    channel: int = 0
    key: str | None = None
    passthrough: bool = False
    velocity: str = "model"
    latency_ms: float = 0.0
    styles: tuple[str, ...] = ()  # the model's style names; () for a model without styles
    style: int = 0  # style A, B and the mix as set (livegen/style.py)
    style_b: int = 0
    style_mix: float = 0.0
    step_p50_us: float = 0.0
    step_p99_us: float = 0.0
    late_ticks: int = 0
    dropped_input: int = 0
    ignored_input: int = 0
    send_errors: int = 0
    held: tuple[int, ...] = ()  # the musician's keys livegen believes are down (pedal too)
    open_notes: tuple[tuple[int, int], ...] = ()
    recent: tuple[NoteSpan, ...] = ()
    # livegen's plan: the pitches it will strike at each coming tick, (tick, pitches), as
    # scheduled after this tick (it plans one tick ahead, so usually the next tick only)
    plan: tuple[tuple[int, tuple[int, ...]], ...] = ()
    notices: tuple[str, ...] = ()  # the latest few
    notice_count: int = 0  # notices ever given (to tell which are new)
    learning: str | None = None
    cc_map: tuple[tuple[str, int], ...] = ()
    ports: str = ""
    error: str | None = None
    applied: int = 0  # the sequence number of the last command applied (see Engine.submit)
    osc_received: int = 0  # commands that came by OSC (livegen.osc); 0 without --osc
    osc_ignored: tuple[tuple[str, int], ...] = ()  # OSC messages ignored, (kind, count)
    recording: RecordState | None = None  # the take recording or last recorded; None: none

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


class Picture:
    """The engine's :class:`Snapshot`, made from the session's parts it was handed.

    It reads those parts (modes, tick source, sampler, scheduler, hearing, piano roll, CC
    map, ports) and is told the rest at each :meth:`take`; it never reads the engine. The
    notices and the model's strings (made once per model, not every tick) live here.
    """

    def __init__(
        self,
        *,
        clock_kind: str,
        beats_per_bar: int,
        modes: Any,
        clock: Any,
        sampler: Any,
        scheduler: Any,
        hearing: Any,
        roll: PianoRoll,
        cc: Any,
        ports: Any,
        recording: Any = None,
    ) -> None:
        self.clock_kind, self.beats_per_bar = clock_kind, beats_per_bar
        self.modes, self.clock, self.sampler, self.scheduler = modes, clock, sampler, scheduler
        self.hearing, self.roll, self.cc, self.ports = hearing, roll, cc, ports
        self.recording = recording
        self.ports_text = repr(self.ports)
        self.notices: deque[str] = deque(maxlen=6)
        self.notice_count = 0  # notices ever given
        self.model = self.codec = self.step_path = ""
        self.roles = ONE_STREAM
        self.styles: tuple[str, ...] = ()
        self.osc: Any = None  # livegen.osc's Counts, when the session listens for OSC

    def notice(self, text: str) -> None:
        self.notices.append(text)
        self.notice_count += 1

    def describe(self, loaded: Any, player: Any) -> None:
        """The model's strings and whose part is whose, when the model changes."""
        self.model, self.codec = loaded.path.stem, loaded.codec.describe()
        self.roles = roles_of(loaded.codec)
        self.styles = tuple(loaded.model.cfg.styles)
        stepper = player.stepper
        self.step_path = getattr(stepper, "name", type(stepper).__name__)

    def take(
        self,
        *,
        running: bool,
        n: int,
        tpq: int,
        settings: Settings,
        channel: int,
        step_us: tuple[float, float],
        late_ticks: int,
        ignored_input: int,
        error: str | None,
        applied: int,
    ) -> Snapshot:
        """The picture after tick ``n - 1``; ``step_us`` is the step latency's p50 and p99."""
        modes, clock = self.modes, self.clock
        said = getattr(clock, "notices", None)  # the Link tick source has things to say
        while said:
            self.notice(said.popleft())
        return Snapshot(
            running=running,
            playing=modes.playing,
            phase=modes.phase.value,
            mode=modes.mode.value,
            tick=n - 1,
            ticks_per_quarter=tpq,
            beats_per_bar=self.beats_per_bar,
            bpm=clock.bpm,
            clock=self.clock_kind,
            link_peers=getattr(clock, "peers", None),
            temperature=self.sampler.temperature,
            model=self.model,
            codec=self.codec,
            roles=self.roles,
            step_path=self.step_path,
            response_bars=settings.response_bars,
            key=settings.key,
            passthrough=settings.passthrough,
            velocity=settings.velocity,
            styles=self.styles,
            style=settings.style,
            style_b=settings.style_b,
            style_mix=settings.style_mix,
            latency_ms=clock.latency * 1000.0,
            dropped_input=self.ports.dropped,
            send_errors=self.scheduler.send_errors,
            held=self.hearing.keys(),
            open_notes=tuple(self.scheduler.open_notes()),
            recent=self.roll.spans(n),
            plan=self.scheduler.planned(n - 1),
            notices=tuple(self.notices),
            notice_count=self.notice_count,
            learning=self.cc.learning,
            cc_map=self.cc.pairs(),
            ports=self.ports_text,
            channel=channel,
            step_p50_us=step_us[0],
            step_p99_us=step_us[1],
            late_ticks=late_ticks,
            ignored_input=ignored_input,
            error=error,
            applied=applied,
            osc_received=self.osc.received if self.osc else 0,
            osc_ignored=self.osc.ignored if self.osc else (),
            recording=self.recording.state if self.recording is not None else None,
        )
