"""The live engine: a tick source, the ports and the scheduler around livegen's voice.

Each tick ``n`` (design.md, "One tick") runs :meth:`Engine.tick`: send what is due; take in
a model that finished warming (switch.py); hear the musician (hearing.py); apply the
controls that came (control_path.py); decide by mode (modes.py), step, and schedule livegen's
answer for ``n + 1`` (voice.py); record what sounded and publish the snapshot. The work for
``n + 1`` is done right after ``n`` went out, so output leaves on its deadline. The loop
only waits on the tick source (clock.py), draining input meanwhile.

Clients change the engine only with :meth:`submit` and read it with :meth:`snapshot`; it
never imports the UI. Every way out of the loop (stop, panic, mode change, model switch,
port loss, an exception, Ctrl-C) ends livegen's notes.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import mido
import numpy as np
import torch

from livegen.checkpoint import Loaded
from livegen.clock import ClockEvent, tick_source
from livegen.control_path import ControlPath
from livegen.controls import CcMap, Command, Settings
from livegen.device import resolve_device
from livegen.errors import EngineError
from livegen.hearing import Hearing
from livegen.live_config import LiveConfig
from livegen.midi_io import lost_message
from livegen.modes import End, Modes
from livegen.notes import Tick, notes_to_ticks
from livegen.parts_player import make_player
from livegen.player import Player
from livegen.realtime import Realtime, StepTimes
from livegen.recording import Recording
from livegen.sampling import Sampler
from livegen.scales import key_pitches
from livegen.scheduler import Scheduler
from livegen.snapshot import YOU, PianoRoll, Picture, Snapshot
from livegen.switch import WARM_BARS, History, Switcher, install
from livegen.voice import Voice
from livegen.voice_guards import guards_for
from livegen.voice_step import VoiceStep

LATE = 0.002  # a tick sent more than this after its deadline counts as late
ALIVE_EVERY = 1.0  # seconds between port-loss checks (listing ports is not free)
RECENT_BARS = 8  # notes kept for the panel's piano roll
CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})


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
        self._now = now
        self.device = resolve_device(cfg.device)
        self.sampler = Sampler(cfg.temperature, cfg.top_p, cfg.seed)
        # Everything sent goes through the recording, which keeps what left (recording.py).
        self.recording = Recording(
            cfg.record, ports.send, bpm=cfg.bpm, beats_per_bar=cfg.beats_per_bar, now=now,
            notice=lambda text: self.picture.notice(text),
        )  # fmt: skip
        self.scheduler = Scheduler(self.recording.send)
        self.loaded = loaded
        self.roll = PianoRoll(RECENT_BARS * cfg.beats_per_bar * loaded.codec.ticks_per_quarter)
        self.voice = Voice(self._player(loaded, cfg.key), self.scheduler, self.roll, cfg.channel)
        self.tpq = tpq = loaded.codec.ticks_per_quarter
        lead = self.scheduler.send_now if cfg.clock_out else None
        self.clock = tick_source(
            cfg.clock,
            cfg.bpm,
            tpq,
            latency_ms=cfg.latency_ms,
            lead=lead,
            beats_per_bar=cfg.beats_per_bar,
            now=now,
            sleep=sleep,
        )
        self.hearing = Hearing(cfg.fixed_velocity)
        self.modes = Modes(
            cfg.mode, silence_ticks=cfg.silence_ticks, ticks_per_bar=cfg.beats_per_bar * tpq
        )
        self.history = History(tpq, WARM_BARS * cfg.beats_per_bar)
        # The worker builds Players from values, never from the engine itself.
        sampler, device, precision = self.sampler, self.device, cfg.precision
        bpb = cfg.beats_per_bar
        build = lambda ld: make_player(ld.model, ld.codec, sampler, device, precision, bpb)  # noqa: E731
        self.switcher = Switcher(self.history, build, loader)
        self._primer = primer

        self._inbox: list[tuple[float, mido.Message]] = []
        self._adopt: Tick | None = None  # the old model's plan for this tick, at a switch
        self.voice_step = VoiceStep(lambda text: self.picture.notice(text))  # voice_step.py
        self.n = 0  # the next tick to run
        self.late_ticks = 0
        self.ignored_input = 0
        self.steps = StepTimes()
        self._next_alive = 0.0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cc = cc = CcMap(cfg.cc)
        self.picture = picture = Picture(
            clock_kind=cfg.clock,
            beats_per_bar=cfg.beats_per_bar,
            modes=self.modes,
            clock=self.clock,
            sampler=self.sampler,
            scheduler=self.scheduler,
            hearing=self.hearing,
            roll=self.roll,
            cc=cc,
            ports=ports,
            recording=self.recording,
        )
        self.controls = ControlPath(
            Settings.of(cfg),
            cc=cc,
            sampler=self.sampler,
            clock=self.clock,
            modes=self.modes,
            voice=self.voice,
            switcher=self.switcher,
            ports=ports,
            picture=picture,
            fixed_velocity=cfg.fixed_velocity,
            recording=self.recording,
        )
        self.picture.describe(loaded, self.player)
        self._publish(running=False)

    # ---- the boundary: commands in, snapshots out ---------------------------------------
    def submit(self, command: Command) -> int:
        """Queue a command for the next tick (any thread); returns its sequence number.

        ``snapshot().applied`` reaches that number once a tick has applied it.
        """
        return self.controls.submit(command)

    def snapshot(self) -> Snapshot:
        """The state at the last tick (cheap: a reference read)."""
        return self._snapshot

    @property
    def settings(self) -> Settings:
        return self.controls.settings

    @property
    def player(self) -> Player:
        return self.voice.player

    @property
    def channel(self) -> int:
        return self.voice.channel

    # ---- thread -------------------------------------------------------------------------
    def start(self) -> None:
        """Run the session in its own thread (returns at once)."""
        self._thread = threading.Thread(target=self.run, name="livegen-engine", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """The session loop, in the calling thread, until :meth:`close` or a fatal error."""
        from livegen.threads import limit_threads

        limit_threads(1)  # a second OpenMP thread collapses when the other core is busy
        with Realtime(self.cfg.realtime) as realtime:
            if realtime.notice:
                self.picture.notice(realtime.notice)
            try:
                self.prime()
                realtime.primed()
                self._publish(running=True)
                self._loop()
            except EngineError as err:
                self.error = str(err)
            except Exception as err:  # anything else still ends every note first
                self.error = f"engine stopped: {type(err).__name__}: {err}"
                self.picture.notice(traceback.format_exc(limit=3).strip().splitlines()[-1])
            finally:
                self.shutdown()

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
        self.clock.stop()
        self.switcher.close()
        self.recording.close()  # after all_off: the take ends with livegen's note-offs
        self.voice_step.close()  # the harmonize table's worker, if one runs
        self._publish(running=False)

    # ---- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        clock = self.clock
        self.voice_step.background = True  # tables off this thread (table_worker.py)
        clock.start(self.n, self._now() + 0.01)
        while not self._stop.is_set():
            event = clock.wait(self.n, self._between, self._stop)
            if event is None:
                break
            self.on_clock(event)
            self._check_alive()

    def on_clock(self, event: ClockEvent) -> None:
        """A tick is due, or the external clock's transport moved."""
        clock = self.clock
        if event.kind == "tick":
            if event.tick != self.n:
                if clock.kind == "internal":  # it stalled: the ticks it skipped were late
                    self.late_ticks += event.tick - self.n
                    self.n = event.tick
                else:
                    self._jump(event.tick)
            if event.late > LATE:
                self.late_ticks += 1
            self.tick(self._take_inbox())
        elif event.kind == "stop":
            self._stop_now()
            self.picture.notice("MIDI clock: Stop" if clock.kind == "midi" else "clock: Stop")
        elif event.kind in ("start", "continue"):
            self.modes.play()
            if event.kind == "start":
                self._jump(0)
        elif event.kind == "position":  # the DAW moved: livegen's bar follows it
            self._jump(event.tick)

    def _between(self) -> None:
        """Between ticks: stamped input to the inbox; clock messages and pass-through at once."""
        for stamp, msg in self.ports.drain():
            kind = msg.type
            if kind in CLOCK_TYPES:
                self.clock.feed(stamp, msg)
                continue
            if self.settings.passthrough and kind in ("note_on", "note_off"):
                self.scheduler.pass_through(msg, self.channel)
            self.voice_step.between(msg, self.n, self.voice)  # harmonize: answered at once
            self._inbox.append((stamp, msg))
        self.voice_step.poll(self.n, self.voice)  # harmonize: note-ons that waited for a table

    def _take_inbox(self) -> list[tuple[float, mido.Message]]:
        self._between()
        inbox, self._inbox = self._inbox, []
        return inbox

    def _jump(self, n: int) -> None:
        """The DAW moved the song position: the count goes on from tick ``n``.

        Events scheduled for ticks skipped must not all leave at once, nor wait for ticks
        that come back later: livegen's notes end, and it plans afresh from ``n``.
        """
        if n != self.n:
            self.voice.end_now(self.n)
            self.n = n

    def _check_alive(self) -> None:
        t = self._now()
        if t < self._next_alive:
            return
        self._next_alive = t + ALIVE_EVERY
        if not self.ports.alive():
            self.scheduler.all_off()  # best effort: the port may already be gone
            raise EngineError(lost_message(self.ports))

    # ---- one tick -----------------------------------------------------------------------
    def tick(self, inbox: list[tuple[float, mido.Message]] | None = None) -> None:
        """Run tick ``self.n``: send, switch, hear, control, step, record (module docstring).

        Called by the loop at the tick's deadline; tests call it directly (manual clock).
        """
        n = self.n
        self.scheduler.send_due(n)
        self._take_switch(n)
        n = self.n  # a switch to another grid renumbers the ticks
        inbox = inbox if inbox is not None else self._take_inbox()
        self.recording.hear(inbox, self.clock.bpm)
        heard = self.hearing.hear(inbox, self.ports.dropped)
        self.ignored_input += heard.ignored
        if heard.released_all:
            self.picture.notice(f"{heard.released_all}: the musician's keys released")
        self.roll.record(heard.tick, n, YOU)
        applied = self.controls.apply(n, heard.ccs)
        bars = self.settings.response_bars
        decision = self.modes.decide(n, heard.struck, self.hearing.sounding, bars)
        play = decision.play and not (applied.ending or applied.after)
        voice = self.voice
        t0 = time.perf_counter()
        with torch.inference_mode():
            adopt, self._adopt = self._adopt, None  # a switch at this tick: the old plan
            velocity = self.controls.velocity(self.hearing)
            self.voice_step.step(voice, heard.tick, adopt, play, n, velocity)
            self.steps.add(time.perf_counter() - t0, n)
            if applied.ending or decision.end is End.NOTES:
                voice.end(n, self.settings.channel)
            for action in applied.after:
                self.controls.finish(action, n, self.hearing)
            if decision.end is End.BEGIN and play:
                voice.begin_answer()
            self.voice_step.plan(voice, n + 1, self.settings, self.modes.playing, velocity)
        self.history.record(n, voice.player.heard)
        self.n = n + 1
        self._publish()

    def _stop_now(self) -> None:
        """Stop without waiting for a tick (an external clock stopped: none may come)."""
        self.voice.end_now(self.n)
        self.scheduler.all_off()
        self.modes.stop()
        self._publish()

    # ---- model switch -------------------------------------------------------------------
    def _player(self, loaded: Loaded, key: str | None) -> Player:
        """A player for ``loaded``, locked to ``key`` (None: no key lock)."""
        cfg = self.cfg  # beats_per_bar: the bar a metric model counts in
        player = make_player(
            loaded.model, loaded.codec, self.sampler, self.device, cfg.precision, cfg.beats_per_bar
        )
        player.set_key_mask(key_pitches(key))
        player.set_guards(guards_for(cfg.guards))
        return player

    def _take_switch(self, n: int) -> None:
        """At the start of tick ``n``: install a model the worker has warmed, if one is ready."""
        prepared = self.switcher.take(n, self.tpq)
        if isinstance(prepared, str):
            self.picture.notice(prepared)
        elif prepared is not None:
            prepared.player.set_key_mask(self.controls.key_pitches())  # as it is now
            prepared.player.set_guards(guards_for(self.controls.settings.guards))
            self.controls.fit_style(prepared.player)  # the style set since it was warmed
            parts = (self.clock, self.scheduler, self.roll, self.history, self.modes)
            regrid, self._adopt = install(prepared, self.history, n, self.tpq, parts, self.voice)
            self.tpq, self.n, self.loaded = regrid.new, regrid.m, prepared.loaded
            self.picture.describe(prepared.loaded, prepared.player)
            self.picture.notice(f"switched to {prepared.loaded.path.stem}")

    def _publish(self, running: bool | None = None) -> None:
        self._snapshot = self.picture.take(
            running=self.running if running is None else running,
            n=self.n,
            tpq=self.tpq,
            settings=self.settings,
            channel=self.channel,
            step_us=(self.steps.p50, self.steps.p99),
            late_ticks=self.late_ticks,
            ignored_input=self.ignored_input + self.controls.stray_ccs,
            error=self.error,
            applied=self.controls.applied,
        )

    # ---- primer -------------------------------------------------------------------------
    def prime(self) -> None:
        """Feed the primer (free mode plays on from it; other modes only warm the state)."""
        primer, self._primer = self._primer, None
        if primer is None or len(primer) == 0:
            return
        with torch.inference_mode():
            for tick in notes_to_ticks(primer, self.tpq):
                self.player.step(tick, play=False, tick=self.n)
                self.history.record(self.n, self.player.heard)
                self.n += 1
        self.player.cancel()  # nothing of the primer sounds live
