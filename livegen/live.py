"""Setting up a live session (model, primer, ports, JACK) and running it headless.

The engine's process (:mod:`livegen.server`) opens every session here, for ``livegen run``
and the panel alike, so they open the same ports the same way. Every failure a user can
cause (a missing checkpoint, no MIDI backend, a port in use) raises an error with one line
that says what to do. :func:`run_headless` is ``livegen run``'s side: a client of that
process (:class:`livegen.client.EngineClient`) that prints a status line; it imports
neither torch nor the engine.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from livegen.live_config import LiveConfig
from livegen.paths import default_primer

if TYPE_CHECKING:
    from livegen import checkpoint
    from livegen.client import EngineClient
    from livegen.engine import Engine
    from livegen.snapshot import Snapshot


@dataclass
class Session:
    """An engine with its open ports, and the private JACK server if livegen started one."""

    engine: Engine
    ports: object
    jack_server: object | None = None
    notices: list[str] = field(default_factory=list)
    osc: Any = None  # livegen.osc.OscControl, with --osc
    synth: object | None = None  # livegen.synth.Synth with --synth

    def close(self) -> None:
        """Engine first (all notes off while the port is still open), OSC, synth, ports, JACK."""
        try:
            self.engine.close()
        finally:
            try:
                if self.osc is not None:
                    self.osc.close()
                if self.synth is not None:
                    self.synth.stop()  # after the note-offs: it sounds them, then goes
                self.ports.close()
            finally:
                if self.jack_server is not None:
                    self.jack_server.stop()


def load_model(name_or_path: str) -> checkpoint.Loaded:
    from livegen import checkpoint

    return checkpoint.load(checkpoint.resolve(name_or_path), device="cpu")


def primer_notes(cfg: LiveConfig, loaded: checkpoint.Loaded):
    """The notes fed before the session starts: the config's primer or the shipped one."""
    from livegen.midifile import read_midi

    path = Path(cfg.primer) if cfg.primer else default_primer(loaded.codec.name)
    return read_midi(path).notes


def open_session(cfg: LiveConfig, *, start_jack: bool = False) -> Session:
    """Load the model, open the ports (starting a private JACK server if asked), build the engine.

    ``start_jack``: when no MIDI backend is usable (a machine with no ALSA sequencer and no
    JACK server, like CI's), start ``jackd -d dummy`` privately and open the ports on it.
    """
    from livegen import jack
    from livegen.engine import Engine
    from livegen.midi_io import PortError, open_ports, resolve_backend
    from livegen.synth import start_synth

    loaded = load_model(cfg.checkpoint)
    primer = primer_notes(cfg, loaded) if cfg.mode == "free" or cfg.primer else None
    notices: list[str] = []
    server = None
    backend = cfg.backend
    if start_jack and backend in ("auto", "jack"):
        try:
            resolve_backend(backend)
        except PortError:
            server = jack.start_dummy_jack(name="livegen")
            backend = "jack"
            notices.append(
                f"no MIDI backend was running: started a private JACK server '{server.name}' "
                "(dummy driver); connect to it with JACK_DEFAULT_SERVER=livegen"
            )
    try:
        ports = open_ports(
            cfg.in_port,
            cfg.out_port,
            backend=backend,
            virtual=cfg.virtual,
            queue_size=cfg.queue_size,
        )
    except BaseException:
        if server is not None:
            server.stop()
        raise
    if ports.info.notice:
        notices.append(ports.info.notice)
    synth = None
    try:
        if cfg.synth:
            synth = start_synth(ports.info, cfg.soundfont)
            notices.append(synth.notice)
        engine = Engine(loaded, ports, cfg, primer=primer, loader=load_model)
    except BaseException:
        if synth is not None:
            synth.stop()
        ports.close()
        if server is not None:
            server.stop()
        raise
    session = Session(engine, ports, server, notices, synth=synth)
    if cfg.osc is not None:  # no listener unless asked
        from livegen.osc import open_control

        try:
            session.osc = open_control(cfg, engine)
        except BaseException:
            session.close()
            raise
        notices.append(session.osc.notice)
    return session


def status_line(s: Snapshot) -> str:
    """The one-line status of ``livegen run``."""
    clock = f"{s.bpm:5.1f} BPM" + (" (MIDI clock)" if s.clock == "midi" else "")
    if s.link_peers is not None:
        clock += f" (Link, {s.link_peers} peer{'' if s.link_peers == 1 else 's'})"
    return (
        f"{s.model} | {s.mode}: {s.phase:<12} | bar {s.position():>6} | {clock} | "
        f"T {s.temperature:.2f} | step p50 {s.step_p50_us / 1000:.2f} ms "
        f"p99 {s.step_p99_us / 1000:.2f} ms | late {s.late_ticks} | dropped {s.dropped_input} "
        f"| open {len(s.open_notes)}"
    )


def run_headless(
    engine: EngineClient, *, duration: float | None = None, out: TextIO = sys.stdout
) -> int:
    """Run until Ctrl-C, SIGTERM, ``duration`` seconds or a fatal error; 0 or 1.

    ``engine`` is the engine's process, already open; it is closed here (every note off)
    however this ends. On a terminal the status line is redrawn in place; otherwise (a log,
    a test) a line is printed when the phase changes and notices are printed as they come.
    """
    tty = out.isatty()
    seen_notices = 0
    # Both explicitly: a shell starts background jobs with SIGINT ignored, and Python then
    # leaves it ignored, so Ctrl-C (or kill -INT) would not end the session. The engine's
    # process ignores SIGINT: what Ctrl-C means is decided here.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_int = signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        hello = engine.hello
        for notice in hello.notices:
            print(notice, file=out, flush=True)
        info = hello.ports
        if info is not None:
            shown_in, shown_out = info.in_full or info.in_name, info.out_full or info.out_name
            print(f"listening on {shown_in!r}, playing on {shown_out!r}", file=out, flush=True)
        print(
            f"model {Path(hello.model_path).stem} ({hello.codec}), "
            f"step path {hello.step_path}; Ctrl-C stops with all notes off",
            file=out,
            flush=True,
        )
        engine.start()
        t0 = time.monotonic()
        phase = None
        while engine.running:
            engine.wait(0.25)
            s = engine.snapshot()
            fresh = min(s.notice_count - seen_notices, len(s.notices))
            for notice in s.notices[len(s.notices) - fresh :] if fresh > 0 else ():
                print(("\n" if tty else "") + notice, file=out, flush=True)
            seen_notices = s.notice_count
            if tty:
                print("\r" + status_line(s)[:200], end="", file=out, flush=True)
            elif s.phase != phase:
                phase = s.phase
                print(status_line(s), file=out, flush=True)
            if duration is not None and time.monotonic() - t0 >= duration:
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        engine.close()
    s = engine.snapshot()
    if tty:
        print(file=out)
    for notice in s.notices[len(s.notices) - min(s.notice_count - seen_notices, len(s.notices)) :]:
        print(notice, file=out, flush=True)  # said as the session closed (harmonize's figures)
    print(
        f"stopped after {s.tick + 1} ticks: all notes off ({len(s.open_notes)} open), "
        f"late ticks {s.late_ticks}, dropped input {s.dropped_input}, "
        f"step p50 {s.step_p50_us:.0f} us p99 {s.step_p99_us:.0f} us",
        file=out,
        flush=True,
    )
    if engine.error:
        print(f"livegen: error: {engine.error}", file=sys.stderr, flush=True)
        return 1
    return 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
