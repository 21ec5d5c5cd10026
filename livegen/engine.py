"""The live engine: one thread that keeps the clock, drives the Player and owns the output.

Each tick ``n`` (design.md, "One tick"): send what is due at ``n``, apply the controls
that arrived, drain the stamped input, quantize it to ``n``, step the Player over
everything that sounded (teacher forcing, so the state follows the whole session) and
schedule its answer for ``n + 1``. The work for ``n + 1`` is done right after ``n`` went
out, so output leaves on its deadline, not after inference. Deadlines are fixed
(``clock.deadline(n)``); a late step never moves a later tick, it is only counted.

Other threads (the CLI, the panel) change the engine only through its methods, which
queue a command applied at the start of the next tick, and read it through
:meth:`Engine.snapshot`, a frozen object swapped in once per tick.

The engine never imports the UI. Every note-on it sends goes through the
:class:`~livegen.scheduler.Scheduler`'s book, and every way out of the loop (stop,
panic, mode change, model switch, port loss, an exception, Ctrl-C) ends those notes.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mido
import numpy as np
import numpy.ma  # noqa: F401  np.percentile imports it on first use: not in the first tick
import torch

from livegen.checkpoint import Loaded
from livegen.clock import ClockSender, InternalClock, MidiClockFollower
from livegen.live_config import CC_CONTROLS, CC_RANGES, MODES, LiveConfig, key_pitches
from livegen.notes import EMPTY_TICK, Tick, notes_to_ticks
from livegen.player import Mark, Player
from livegen.sampling import Sampler
from livegen.scheduler import Scheduler

LATE = 0.002  # a tick sent more than this after its deadline counts as late
POLL = 0.001  # input is polled this often between ticks (pass-through, MIDI clock)
ALIVE_EVERY = 1.0  # seconds between port-loss checks (listing ports is not free)
WARM_BARS = 8  # a new model hears the session's last bars before it takes over
RECENT_BARS = 8  # notes kept for the panel's piano roll
STATS = 512  # step latencies kept for p50/p99
SWITCH_INTERVAL = 0.0005  # the GIL's hand-over time while a session runs (Python's: 5 ms)
CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})


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
    open_notes: tuple[tuple[int, int], ...] = ()
    recent: tuple[NoteSpan, ...] = ()
    notices: tuple[str, ...] = ()  # the latest few
    notice_count: int = 0  # notices ever given (to tell which are new)
    learning: str | None = None
    cc_map: tuple[tuple[str, int], ...] = ()
    ports: str = ""
    error: str | None = None

    @property
    def beat(self) -> float:
        """Quarter notes since the session started."""
        return max(self.tick, 0) / self.ticks_per_quarter

    def position(self) -> str:
        """``bar.beat`` (1-based) for display."""
        beat = int(self.beat)
        return f"{beat // self.beats_per_bar + 1}.{beat % self.beats_per_bar + 1}"


class EngineError(RuntimeError):
    """The session cannot go on (a port or the JACK server is gone); one line."""


class Engine:
    """The live session. ``start()`` runs it in a thread; ``close()`` ends it with all notes off.

    ``ports`` needs ``drain()``, ``send(msg)``, ``alive()``, ``panic()`` and ``dropped``
    (:class:`livegen.midi_io.Ports`; unit tests pass a fake). ``now`` and ``sleep`` are
    injectable so the tick logic can be tested on a manual clock through :meth:`tick`.
    """

    def __init__(
        self,
        loaded: Loaded,
        ports: Any,
        config: LiveConfig | None = None,
        *,
        primer: np.ndarray | None = None,
        loader: Callable[[str], Loaded] | None = None,
        now: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg = config or LiveConfig()
        self.ports = ports
        self._now, self._sleep = now, sleep
        self._loader = loader
        self.scheduler = Scheduler(self._send)
        self.sampler = Sampler(cfg.temperature, cfg.top_p, cfg.seed)
        self.device = _device(cfg.device)
        self.loaded = loaded
        self.player = Player(loaded.model, loaded.codec, self.sampler, self.device, cfg.precision)
        self.tpq = loaded.codec.ticks_per_quarter
        self.player.set_key_mask(key_pitches(cfg.key))
        self.clock = InternalClock(cfg.bpm, self.tpq, now=now, sleep=sleep)
        self.follower = MidiClockFollower(self.tpq)
        self.sender = ClockSender(self.clock) if cfg.clock_out else None
        self._primer = primer

        # Controls: written by other threads only through _commands.
        self._commands: deque[Callable[[], None]] = deque()
        self.mode = cfg.mode
        self.playing = True
        self.response_bars = cfg.response_bars
        self.channel = cfg.channel
        self.passthrough = cfg.passthrough
        self.velocity = cfg.velocity
        self.key = cfg.key
        self.latency = cfg.latency_ms / 1000.0
        self.cc_map: dict[int, str] = {num: name for name, num in cfg.cc.items()}
        self.learning: str | None = None
        self._cc_high: set[int] = set()  # trigger CCs now held at >= 64

        # The musician, as heard.
        self._held: set[int] = set()  # keys down (pitches as played)
        self._pedal = False
        self._sustained: set[int] = set()  # released while the pedal is down
        self._offs_next: set[int] = set()  # struck and released within one tick: off next tick
        self._last_velocity = cfg.fixed_velocity
        self._dropped_seen = 0
        self._inbox: list[tuple[float, mido.Message]] = []

        # Call and response.
        self.phase = "listening"
        self._call_start: int | None = None
        self._last_heard = -(10**9)  # last tick the musician struck or held a note
        self._answer_left = 0
        self._answer_mark: Mark | None = None
        self._answer_len = 0
        self._want_answer = False  # the end-of-call control came: answer at this tick
        self._next_channel = cfg.channel
        self._after_step: list[str] = []  # cancel-type actions to run after this tick's step

        # Session record (history for warming a new model; recent for the panel).
        span = WARM_BARS * cfg.beats_per_bar * self.tpq
        self._history: deque[Tick] = deque(maxlen=span)
        self._history_count = 0  # ticks ever appended (a switch catches up from its count)
        self._adopt_planned: Tick | None = None  # the old model's plan, at a switch
        self._history_lock = threading.Lock()
        self._recent: deque[list] = deque(maxlen=512)  # [pitch, start, end, source]
        self._open_recent: dict[tuple[str, int], list] = {}
        self._recent_changed = True
        self._recent_shown: tuple[NoteSpan, ...] = ()
        self._notices: deque[str] = deque(maxlen=6)
        self._notice_count = 0

        # Counters and timing.
        self.n = 0  # the next tick to run
        self.late_ticks = 0
        self.ignored_input = 0
        self._steps: deque[float] = deque(maxlen=STATS)
        self._p50 = self._p99 = 0.0
        self._next_alive = 0.0
        self._pulses: deque[tuple[float, mido.Message]] = deque()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snapshot = Snapshot()
        self._ports_text = repr(ports)
        self._describe_model()
        self._publish()

    # ---- thread -------------------------------------------------------------------------
    def start(self) -> None:
        """Run the session in its own thread (returns at once)."""
        self._thread = threading.Thread(target=self.run, name="livegen-engine", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """The session loop, in the calling thread, until :meth:`close` or a fatal error."""
        torch.set_num_threads(1)  # a second OpenMP thread collapses when the other core is busy
        # Another thread holding the GIL (loading a checkpoint, the panel drawing) would
        # make the tick wait up to the 5 ms default switch interval: 12 of 40 ticks were
        # late while models loaded beside it, 2 at 0.5 ms. Restored when the session ends.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL))
        if self.cfg.realtime:
            self._notice(_try_realtime())
        try:
            self.prime()
            # A full collection walks every object torch and the model made (~170k): 160-190 ms
            # holding the GIL on a busy 2-core machine, more than a tick, and an input flood
            # triggers one. Frozen objects are never walked again.
            gc.freeze()
            if self.cfg.clock == "midi":
                self._run_midi_clock()
            else:
                self._run_internal_clock()
        except EngineError as err:
            self.error = str(err)
        except Exception as err:  # anything else still ends every note first
            self.error = f"engine stopped: {type(err).__name__}: {err}"
            self._notice(traceback.format_exc(limit=3).strip().splitlines()[-1])
        finally:
            self.shutdown()
            sys.setswitchinterval(switch_interval)

    def close(self, timeout: float = 3.0) -> None:
        """Stop the loop and end every note (safe from any thread, and more than once)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.shutdown()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop ends; True if it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def shutdown(self) -> None:
        """All notes off, Stop to followers when leading; never raises."""
        self.scheduler.all_off()
        if self.sender is not None:
            self._send_quietly(ClockSender.STOP)
            self.sender = None
        self._publish(running=False)

    # ---- loops --------------------------------------------------------------------------
    def _run_internal_clock(self) -> None:
        clock = self.clock
        clock.start(self._now() + 0.01, tick=self.n)
        if self.sender is not None:
            self._send_quietly(ClockSender.START)
            self._schedule_pulses(self.n)
        while not self._stop.is_set():
            n = self.n
            target = clock.deadline(n) - self.latency
            self._wait_polling(target)
            if self._stop.is_set():
                break
            self._send_pulses()  # the tick's first pulse is due with its notes
            late = self._now() - target
            clock.last_tick = n
            if late > clock.period:
                # More than a whole tick behind (the machine stalled): skip to now rather
                # than rush a burst of ticks out. The skipped ticks are counted as late.
                behind = int(late // clock.period)
                self.late_ticks += behind
                self.n = n = n + behind
                clock.last_tick = n
                late -= behind * clock.period
            if late > LATE:
                self.late_ticks += 1
            self.tick(self._take_inbox())
            if self.sender is not None:
                self._schedule_pulses(n + 1)
            self._check_alive()

    def _schedule_pulses(self, n: int) -> None:
        """Queue tick ``n``'s clock pulses (they shift with the latency offset, like notes)."""
        self._pulses.extend((t - self.latency, msg) for t, msg in self.sender.schedule(n))

    def _run_midi_clock(self) -> None:
        while not self._stop.is_set():
            self._poll_input()
            self._check_alive()
            self._sleep(POLL)

    def _wait_polling(self, target: float) -> None:
        """Wait for ``target``, forwarding input and sending clock pulses on time meanwhile.

        Sleeps in slices of at most ``POLL`` (input is passed through within that), and
        spins the last half millisecond before the target or a pulse, so both leave on time.
        """
        now, pulses = self._now, self._pulses
        while not self._stop.is_set():
            self._poll_input()
            self._send_pulses()
            t = now()
            if t >= target:
                return
            nearest = min(target, pulses[0][0]) if pulses else target
            left = nearest - t
            if left > POLL + 0.0005:
                self._sleep(POLL)
            elif left > 0.0005:
                self._sleep(left - 0.0005)
            else:
                while now() < nearest:  # spin, the GIL released now and then
                    self._sleep(0)

    def _send_pulses(self) -> None:
        pulses = self._pulses
        t = self._now()
        while pulses and pulses[0][0] <= t:
            self._send_quietly(pulses.popleft()[1])

    def _poll_input(self) -> None:
        """Move stamped input to the inbox; MIDI clock and pass-through act at once."""
        for stamp, msg in self.ports.drain():
            kind = msg.type
            if kind in CLOCK_TYPES:
                if self.cfg.clock == "midi":
                    self._clock_message(stamp, msg)
                continue
            if self.passthrough and kind in ("note_on", "note_off"):
                self._pass_through(msg)
            self._inbox.append((stamp, msg))

    def _take_inbox(self) -> list[tuple[float, mido.Message]]:
        self._poll_input()
        inbox, self._inbox = self._inbox, []
        return inbox

    def _clock_message(self, stamp: float, msg: mido.Message) -> None:
        event = self.follower.feed(stamp, msg)
        if event is None:
            return
        if event.kind == "tick":
            if self.follower.bpm is not None:
                self.clock.set_tempo(self.follower.bpm)
            inbox, self._inbox = self._inbox, []
            self.tick(inbox)
        elif event.kind == "stop":
            self._apply_stop()
            self._notice("MIDI clock: Stop")
        elif event.kind in ("start", "continue"):
            self.playing = True
            self.phase = "listening"

    def _check_alive(self) -> None:
        t = self._now()
        if t < self._next_alive:
            return
        self._next_alive = t + ALIVE_EVERY
        if not self.ports.alive():
            self.scheduler.all_off()  # best effort: the port may already be gone
            raise EngineError(_lost_message(self.ports))

    # ---- one tick -----------------------------------------------------------------------
    def tick(self, inbox: list[tuple[float, mido.Message]]) -> None:
        """Run tick ``self.n``: send what is due, apply controls, hear, step, schedule n+1.

        Called by the loop at the tick's deadline; tests call it directly (manual clock).
        """
        n = self.n
        self.scheduler.send_due(n)
        while self._commands:
            self._commands.popleft()()
        heard = self._hear(inbox, n)
        play = self._decide(heard, n)
        if any(a != "mark" for a in self._after_step):
            play = False  # the answer ends (or restarts) at this tick: plan nothing more
        t0 = time.perf_counter()
        with torch.inference_mode():
            planned_now = self.player.plan.tick if self.player.plan is not None else EMPTY_TICK
            hearing = heard
            if self._adopt_planned is not None:  # a model switch at this tick
                planned_now = self._adopt_planned
                hearing = heard.merge(planned_now)
                self._adopt_planned = None
            answer = self.player.step(hearing, play)
            self._steps.append(time.perf_counter() - t0)
            if answer:
                self.scheduler.schedule(n + 1, answer, self.channel, self._velocity_override())
                self._record(answer, n + 1, "out")
            for action in self._after_step:
                self._cancel_action(action, n)
        self._after_step.clear()
        sounded = heard.merge(planned_now)
        with self._history_lock:
            self._history.append(sounded)
            self._history_count += 1
        if n % 8 == 0 and self._steps:
            p = np.percentile(np.fromiter(self._steps, float), [50, 99]) * 1e6
            self._p50, self._p99 = float(p[0]), float(p[1])
        self.n = n + 1
        self._publish()

    def _hear(self, inbox: list[tuple[float, mido.Message]], n: int) -> Tick:
        """The musician's part of tick ``n``: releases, then strikes (pedal honoured)."""
        offs = set(self._offs_next)
        self._offs_next.clear()

        ons: dict[int, int] = {}
        for _, msg in inbox:
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                p = msg.note
                self._held.add(p)
                self._sustained.discard(p)
                offs.discard(p)
                ons[p] = msg.velocity
                self._last_velocity = msg.velocity
            elif kind == "note_off" or kind == "note_on":
                p = msg.note
                self._held.discard(p)
                if self._pedal:
                    self._sustained.add(p)
                elif p in ons:
                    self._offs_next.add(p)  # struck and released within the tick: one tick long
                else:
                    offs.add(p)
            elif kind == "control_change":
                self._control_change(msg, offs)
            else:
                self.ignored_input += 1  # sysex, aftertouch, program change...: not ours
        for p in ons:
            offs.discard(p)
        dropped = self.ports.dropped
        if dropped != self._dropped_seen:
            # A flood overflowed the input queue (it drops the newest, so after everything
            # heard here): a note-off may be among the lost, and a key believed held forever
            # would keep continue mode from ever answering. Release what is held.
            self._dropped_seen = dropped
            if self._held or self._sustained:
                for p in self._held | self._sustained:
                    (self._offs_next if p in ons else offs).add(p)
                self._held.clear()
                self._sustained.clear()
                self._notice("input overflowed (messages dropped): held keys released")
        if ons or self._held or self._sustained:
            self._last_heard = n
        tick = Tick(tuple(sorted(offs)), tuple(sorted(ons.items())))
        if tick:
            self._record(tick, n, "in")
        return tick

    def _control_change(self, msg: mido.Message, offs: set[int]) -> None:
        number, value = msg.control, msg.value
        if number == 64:  # sustain pedal
            down = value >= 64
            if self._pedal and not down:
                offs.update(self._sustained - self._held)
                self._sustained.clear()
            self._pedal = down
            return
        if self.learning is not None:
            self.cc_map = {k: v for k, v in self.cc_map.items() if v != self.learning}
            self.cc_map[number] = self.learning
            self._notice(f"CC {number} now controls {self.learning}")
            self.learning = None
            return
        name = self.cc_map.get(number)
        if name is None:
            self.ignored_input += 1
            return
        if name in CC_RANGES:
            low, high = CC_RANGES[name]
            x = low + (high - low) * value / 127
            if name == "temperature":
                self._set_temperature(x)
            elif name == "bpm":
                self._set_tempo(x)
            else:
                self.response_bars = round(x * 2) / 2
            return
        was_high = number in self._cc_high
        if value >= 64:
            self._cc_high.add(number)
        else:
            self._cc_high.discard(number)
        if value < 64 or was_high:
            return  # triggers fire on the press only
        if name == "mode":
            self._set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])
        elif name == "toggle":
            self._apply_start() if not self.playing else self._after_step.append("stop")
        elif name == "end_call":
            self._end_call()
        else:
            self._after_step.append(name)  # panic, reset, regenerate

    def _decide(self, heard: Tick, n: int) -> bool:
        """Whether the Player answers tick n+1, by mode; moves the call-and-response phase."""
        if not self.playing:
            self.phase = "stopped"
            return False
        if self.mode == "free":
            self.phase = "playing"
            return True
        quiet = n - self._last_heard
        if self.mode == "accompany":
            if quiet < self.cfg.silence_ticks:
                self.phase = "accompanying"
                return True
            if self.phase == "accompanying":
                self._after_step.append("end")
            self.phase = "listening"
            return False
        # continue: call and response
        if self.phase == "answering":
            if heard.ons:  # the musician comes back in: stop answering, listen
                self._after_step.append("end")
                self._call_start = n
                self.phase = "listening"
                return False
            self._answer_left -= 1
            if self._answer_left > 0:
                return True
            self._after_step.append("end")
            self.phase = "listening"
            return False
        if heard.ons and self._call_start is None:
            self._call_start = n
        if self._call_start is not None and (quiet >= self.cfg.silence_ticks or self._want_answer):
            self._begin_answer(n)
            return True
        return False

    def _begin_answer(self, n: int) -> None:
        start = n if self._call_start is None else self._call_start
        call = max(1, self._last_heard - start + 1)
        bars = self.response_bars
        self._answer_len = call if bars == 0 else round(bars * self.cfg.beats_per_bar * self.tpq)
        self._answer_left = self._answer_len
        self._call_start = None
        self._want_answer = False
        self.phase = "answering"
        self._after_step.append("mark")

    def _cancel_action(self, action: str, n: int) -> None:
        """After the step of tick n: end the answer's notes at n+1, or stronger."""
        player = self.player
        if action == "mark":
            self._answer_mark = player.mark()
            return
        if action == "regenerate":
            if self._answer_mark is None or self.mode != "continue":
                self._notice("nothing to regenerate yet")
                return
            self._end_own_notes_now()
            answer = player.rewind(self._answer_mark)
            self.scheduler.clear_pending(("note_on",))
            self._answer_left = self._answer_len
            self.phase = "answering"
            if answer:
                self.scheduler.schedule(n + 1, answer, self.channel, self._velocity_override())
                self._record(answer, n + 1, "out")
            return
        offs = player.cancel()
        self.scheduler.clear_pending(("note_on",))
        if offs:
            self.scheduler.schedule(n + 1, offs, self.channel)
            self._record(offs, n + 1, "out")
        if action == "channel":
            self.channel = self._next_channel
        elif action == "panic":
            self.scheduler.all_off()
            self.ports.panic()
            self._close_recent(n + 1)
            self._notice("panic: all notes off")
        elif action == "reset":
            player.reset()
            self._answer_mark = None
            self._notice("state reset")
        elif action == "stop":
            self.playing = False
            self.phase = "stopped"
        if action not in ("end", "channel"):
            self._call_start = None
            if self.phase == "answering":
                self.phase = "listening"

    def _end_own_notes_now(self) -> None:
        offs = self.player.cancel()
        for p in offs.offs:  # now: the rewound state never heard these notes
            self.scheduler.note_off_now(p, self.channel)

    def _velocity_override(self) -> int | None:
        if self.velocity == "player":
            return self._last_velocity
        if self.velocity == "fixed" or not self.loaded.codec.carries_velocity:
            return self.cfg.fixed_velocity
        return None

    # ---- controls (any thread; applied at the next tick) --------------------------------
    def _do(self, fn: Callable[[], None]) -> None:
        self._commands.append(fn)

    def set_temperature(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"temperature must be >= 0, got {value}")
        self._do(lambda: self._set_temperature(value))

    def _set_temperature(self, value: float) -> None:
        self.sampler.temperature = value

    def set_tempo(self, bpm: float) -> None:
        if not 20 <= bpm <= 400:
            raise ValueError(f"tempo must be in 20..400 BPM, got {bpm}")
        self._do(lambda: self._set_tempo(bpm))

    def _set_tempo(self, bpm: float) -> None:
        if self.cfg.clock == "internal":
            self.clock.set_tempo(bpm)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._do(lambda: self._set_mode(mode))

    def _set_mode(self, mode: str) -> None:
        if mode != self.mode:
            self._after_step.append("end")
            self.mode = mode
            self.phase = "listening"
            self._call_start = None

    def set_response_bars(self, bars: float) -> None:
        if not 0 <= bars <= 64:
            raise ValueError("response length must be 0..64 bars (0: as long as the call)")
        self._do(lambda: setattr(self, "response_bars", float(bars)))

    def set_channel(self, channel: int) -> None:
        if not 0 <= channel <= 15:
            raise ValueError(f"channel must be 0..15, got {channel}")

        def apply() -> None:
            if channel != self.channel:
                self._next_channel = channel
                self._after_step.append("channel")  # old notes end on the old channel first

        self._do(apply)

    def set_latency_ms(self, ms: float) -> None:
        if abs(ms) > 100:
            raise ValueError(f"latency offset must be within +-100 ms, got {ms}")
        self._do(lambda: setattr(self, "latency", ms / 1000.0))

    def set_passthrough(self, on: bool) -> None:
        self._do(lambda: setattr(self, "passthrough", bool(on)))

    def set_velocity(self, how: str) -> None:
        if how not in ("model", "player", "fixed"):
            raise ValueError(f"velocity must be model, player or fixed, got {how!r}")
        self._do(lambda: setattr(self, "velocity", how))

    def set_key(self, key: str | None) -> None:
        pitches = key_pitches(key)  # raises ValueError on a bad key, in the caller's thread

        def apply() -> None:
            self.key = key
            self.player.set_key_mask(pitches)

        self._do(apply)

    def panic(self) -> None:
        self._do(lambda: self._after_step.append("panic"))

    def reset(self) -> None:
        self._do(lambda: self._after_step.append("reset"))

    def regenerate(self) -> None:
        self._do(lambda: self._after_step.append("regenerate"))

    def end_call(self) -> None:
        """Answer now (continue mode), without waiting for the silence."""
        self._do(self._end_call)

    def _end_call(self) -> None:
        if self.mode == "continue" and self.phase == "listening":
            if self._call_start is None:
                self._call_start = self.n
            self._want_answer = True

    def stop(self) -> None:
        """Stop answering and end livegen's notes; listening goes on."""
        self._do(lambda: self._after_step.append("stop"))

    def _apply_stop(self) -> None:
        # No tick may come (external clock stopped): end the notes now. The state hears
        # the releases at the next tick.
        self.player.cancel()
        self.scheduler.all_off()
        self.playing = False
        self.phase = "stopped"
        self._publish()

    def play(self) -> None:
        """Start (again) after stop."""
        self._do(self._apply_start)

    def _apply_start(self) -> None:
        self.playing = True
        self.phase = "listening"

    def learn(self, control: str | None) -> None:
        """Map the next CC that arrives to ``control`` (None cancels learning)."""
        if control is not None and control not in CC_CONTROLS:
            raise ValueError(f"unknown control {control!r}")
        self._do(lambda: setattr(self, "learning", control))

    def switch_model(self, name_or_loaded: str | Loaded) -> None:
        """Load (if a name), warm on the session's last bars, then take over at a tick.

        Loading and warming run in a helper thread so no tick waits for them; a model that
        cannot be used is a notice, and the session goes on with the current one.
        """
        threading.Thread(
            target=self._prepare_switch, args=(name_or_loaded,), name="livegen-switch", daemon=True
        ).start()

    def _prepare_switch(self, name_or_loaded: str | Loaded) -> None:
        try:
            if isinstance(name_or_loaded, Loaded):
                loaded = name_or_loaded
            else:
                if self._loader is None:
                    raise ValueError("this engine cannot load models by name")
                loaded = self._loader(name_or_loaded)
            tpq = loaded.codec.ticks_per_quarter
            if tpq != self.tpq:
                raise ValueError(
                    f"{loaded.path.stem} ticks {tpq} times per quarter, this session {self.tpq}: "
                    "restart livegen with it"
                )
            torch.set_num_threads(1)
            player = Player(
                loaded.model, loaded.codec, self.sampler, self.device, self.cfg.precision
            )
            player.set_key_mask(key_pitches(self.key))
            with self._history_lock:
                history = list(self._history)
                upto = self._history_count
            with torch.inference_mode():
                for sounded in history:
                    player.step(sounded, play=False)
        except Exception as err:
            message = f"cannot switch model: {_one_line(err)}"
            self._do(lambda: self._notice(message))
            return
        self._do(lambda: self._install(loaded, player, upto))

    def _install(self, loaded: Loaded, player: Player, upto: int) -> None:
        """At the start of a tick: catch the warmed Player up and hand it the session.

        The old model's plan for this tick already went out: the new Player hears it as
        part of this tick, and the old notes are released at the next tick (the new
        Player hears those releases too), so its state matches what sounded.
        """
        with self._history_lock:
            missed = list(self._history)[
                max(0, len(self._history) - (self._history_count - upto)) :
            ]
        with torch.inference_mode():
            for sounded in missed:
                player.step(sounded, play=False)
        old = self.player
        self._adopt_planned = old.plan.tick if old.plan is not None else EMPTY_TICK
        offs = old.cancel()
        self.player = player
        self.loaded = loaded
        self._describe_model()
        self._answer_mark = None  # a mark of the old model's state cannot be rewound
        if offs:
            player.release(offs.offs)
            self.scheduler.schedule(self.n + 1, offs, self.channel)
            self._record(offs, self.n + 1, "out")
        self._notice(f"switched to {loaded.path.stem}")

    # ---- record, snapshot ---------------------------------------------------------------
    def _record(self, tick: Tick, at: int, source: str) -> None:
        self._recent_changed = True
        opened = self._open_recent
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
            self._recent.append(span)

    def _close_recent(self, at: int) -> None:
        self._recent_changed = True
        for span in self._open_recent.values():
            if span[3] == "out":
                span[2] = at
        self._open_recent = {k: v for k, v in self._open_recent.items() if k[0] != "out"}

    def _describe_model(self) -> None:
        """The snapshot's model strings, made when the model changes rather than every tick."""
        self._codec_text = self.loaded.codec.describe()
        stepper = self.player.stepper
        self._step_path = getattr(stepper, "name", type(stepper).__name__)

    def _notice(self, text: str) -> None:
        self._notices.append(text)
        self._notice_count += 1

    def snapshot(self) -> Snapshot:
        """The state at the last tick (cheap: a reference read)."""
        return self._snapshot

    def _publish(self, running: bool | None = None) -> None:
        if self._recent_changed:  # most ticks change no note: keep the last tuple
            self._recent_changed = False
            horizon = self.n - RECENT_BARS * self.cfg.beats_per_bar * self.tpq
            self._recent_shown = tuple(
                NoteSpan(s[0], s[1], s[2], s[3])
                for s in self._recent
                if s[2] is None or s[2] >= horizon
            )
        recent = self._recent_shown
        self._snapshot = Snapshot(
            running=self.running if running is None else running,
            playing=self.playing,
            phase=self.phase,
            mode=self.mode,
            tick=self.n - 1,
            ticks_per_quarter=self.tpq,
            beats_per_bar=self.cfg.beats_per_bar,
            bpm=self.clock.bpm,
            clock=self.cfg.clock,
            temperature=self.sampler.temperature,
            model=self.loaded.path.stem,
            codec=self._codec_text,
            step_path=self._step_path,
            response_bars=self.response_bars,
            channel=self.channel,
            key=self.key,
            passthrough=self.passthrough,
            velocity=self.velocity,
            latency_ms=self.latency * 1000.0,
            step_p50_us=self._p50,
            step_p99_us=self._p99,
            late_ticks=self.late_ticks,
            dropped_input=self.ports.dropped,
            ignored_input=self.ignored_input,
            send_errors=self.scheduler.send_errors,
            open_notes=tuple(self.scheduler.open_notes()),
            recent=recent,
            notices=tuple(self._notices),
            notice_count=self._notice_count,
            learning=self.learning,
            cc_map=tuple(sorted((name, num) for num, name in self.cc_map.items())),
            ports=self._ports_text,
            error=self.error,
        )

    # ---- output -------------------------------------------------------------------------
    def _send(self, msg: mido.Message) -> None:
        self.ports.send(msg)

    def _send_quietly(self, msg: mido.Message) -> None:
        try:
            self.ports.send(msg)
        except Exception:
            self.scheduler.send_errors += 1

    def _pass_through(self, msg: mido.Message) -> None:
        try:
            if msg.type == "note_on" and msg.velocity > 0:
                self.scheduler.note_on_now(msg.note, msg.velocity, self.channel)
            else:
                self.scheduler.note_off_now(msg.note, self.channel)
        except ValueError:
            pass

    # ---- primer -------------------------------------------------------------------------
    def prime(self) -> None:
        """Feed the primer (free mode plays on from it; other modes only warm the state)."""
        primer, self._primer = self._primer, None
        if primer is None or len(primer) == 0:
            return
        with torch.inference_mode():
            for tick in notes_to_ticks(primer, self.tpq):
                self.player.step(tick, play=False)
                with self._history_lock:
                    self._history.append(tick)
                    self._history_count += 1
        offs = self.player.cancel()  # nothing of the primer sounds live
        del offs


def _try_realtime(priority: int = 10) -> str:
    """Put the calling thread on SCHED_FIFO where the OS allows it; says what happened."""
    if not hasattr(os, "sched_setscheduler"):
        return "real-time scheduling: not available on this OS (normal priority)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as err:
        return (
            f"real-time scheduling not permitted ({err.strerror or err}): normal priority; "
            "allow it with an rtprio limit (e.g. the 'audio' group) for tighter timing"
        )
    return f"real-time scheduling: SCHED_FIFO priority {priority} for the tick thread"


def _device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EngineError("--device cuda: no CUDA device is available here (use auto or cpu)")
    return device


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _lost_message(ports: Any) -> str:
    info = getattr(ports, "info", None)
    if info is not None and info.backend == "jack":
        from livegen import jack

        if jack.server_running(info.jack_server) is False:
            return "the JACK server stopped: livegen's ports are gone (notes were ended)"
    name = f"{info.in_name!r} / {info.out_name!r}" if info is not None else "the MIDI ports"
    return f"MIDI port lost: {name} disappeared mid-session (notes were ended where possible)"
