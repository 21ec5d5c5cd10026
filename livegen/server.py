"""The engine's process: it opens the session, plays, and serves one client over a pipe.

:func:`serve` is the target of a child process started with the ``spawn`` context (so it
inherits none of the client's threads, nor its GIL): it opens the session exactly as
``livegen run`` always did (:func:`livegen.live.open_session`: model, primer, ports, a
private JACK server), sends a :class:`Hello`, and from then on keeps time on its own.
The client (the panel, ``livegen run``'s status line, a test) only sends commands and
reads snapshots; nothing it does can hold the GIL of the tick thread.

Messages, all plain picklable values (design.md, "Layout"):

- client -> engine: ``("start",)``, ``("submit", request, command)``, ``("close",)``
- engine -> client: ``("hello", Hello)`` or ``("failed", Failure)`` once; then
  ``("snap", Snapshot)`` pushed when the engine published a new one (at most
  :data:`PUSH_EVERY`), ``("seq", request, n)`` / ``("refused", request, line)`` for each
  command, ``("ended", error)`` when the engine loop stopped by itself, and
  ``("bye", Snapshot)`` last, after every note is off.

The engine ends every note when its client is gone, however it went: ``close``, the pipe
reaching end of file (the client exited, crashed or was SIGKILLed), or SIGTERM / SIGHUP to
this process. SIGINT is ignored: Ctrl-C in a terminal reaches the whole process group, and
the client decides what it means.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PUSH_EVERY = 0.05  # seconds: snapshots go out at most this often (the panel reads at 5 Hz)
JOIN = 2.0  # seconds to wait for the serving thread at the end


@dataclass(frozen=True)
class Hello:
    """What a client needs to show before the first snapshot: where the session plays."""

    pid: int
    model_path: str  # the checkpoint file the session opened with
    codec: str  # the codec's description, e.g. melody(ticks_per_quarter=4, ...)
    ports: Any  # livegen.midi_io.PortInfo, or None for ports that have no info (fakes)
    ports_text: str  # repr(ports): shown when there is no PortInfo
    notices: tuple[str, ...]  # things to tell the user once (a private JACK server started)
    step_path: str = ""  # how the model steps (cpu-fused-fp32, ...): no snapshot has come yet

    @property
    def backend(self) -> str | None:
        return getattr(self.ports, "backend", None)


@dataclass(frozen=True)
class Failure:
    """An error opening the session, as it can cross the pipe: the client raises it again."""

    module: str  # the error class, as importable (livegen.checkpoint, CheckpointError)
    name: str
    line: str  # str(error) on one line
    trace: str  # the engine side's traceback, for errors that are bugs

    @classmethod
    def of(cls, err: BaseException) -> Failure:
        kind = type(err)
        line = " ".join(str(err).split()) or kind.__name__
        if isinstance(err, OSError) and err.filename is not None and err.strerror:
            line = f"{err.filename}: {err.strerror}"
        trace = "".join(traceback.format_exception(err))
        return cls(kind.__module__, kind.__qualname__, line, trace)


Opener = Callable[..., Any]  # (cfg, start_jack=...) -> livegen.live.Session


def serve(conn: Any, cfg: Any, start_jack: bool = False, opener: Opener | None = None) -> None:
    """The child process's main: open the session, play, serve ``conn`` until the client goes.

    ``opener`` replaces :func:`livegen.live.open_session` (tests pass a fake session); it
    must be picklable (a module-level function or a ``functools.partial`` of one).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ended = threading.Event()  # set when the session must end: close, EOF, a signal
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: ended.set())
    try:
        from livegen.threads import limit_threads

        # Before anything steps the model (the int8 check, priming): one BLAS and torch
        # thread, whatever this process imported first.
        limit_threads(1)
        if opener is None:
            from livegen.live import open_session as opener
        session = opener(cfg, start_jack=start_jack)
    except BaseException as err:  # noqa: BLE001  every failure goes back as one line
        _send_quietly(conn, ("failed", Failure.of(err)))
        conn.close()
        return
    engine = session.engine
    server = None
    try:
        conn.send(("hello", hello(session)))
        server = Server(conn, engine, ended)
        thread = threading.Thread(target=server.run, name="livegen-server", daemon=True)
        thread.start()
        # The main thread only waits: signal handlers run here, and it closes the session.
        while not ended.wait(0.5):
            pass
        thread.join(JOIN)
    except (EOFError, OSError):
        pass  # the client went before the hello: close all the same
    finally:
        session.close()  # the engine first: every note off while the port is open
        if server is None or not server.gone:
            _send_quietly(conn, ("bye", engine.snapshot()))
        conn.close()


def run_engine_process(*args: Any) -> None:
    """The child process's target: :func:`serve`, then leave at once.

    Once ``serve`` returns, every note is off, the session is closed and the goodbye has
    gone. What is left is the interpreter's own shutdown, and in about 1 of 3 full test
    runs on the reference machine, a child was still alive 30 s after it closed its session
    (tests/test_client.py; where it hung was not found). Nothing after ``serve`` matters to
    the user, so the process ends here with its output flushed.
    """
    serve(*args)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def hello(session: Any) -> Hello:
    import os

    engine = session.engine
    loaded = engine.loaded
    return Hello(
        pid=os.getpid(),
        model_path=str(loaded.path),
        codec=loaded.codec.describe(),
        ports=getattr(session.ports, "info", None),
        ports_text=repr(session.ports),
        notices=tuple(session.notices),
        step_path=getattr(engine.snapshot(), "step_path", ""),
    )


class Server:
    """Serves one client in a thread of its own: commands in, snapshots out.

    It blocks on the pipe (releasing the GIL) and wakes at most every :data:`PUSH_EVERY`
    to push the engine's latest snapshot if it changed; a snapshot is a frozen value that
    the engine swaps in once per tick, so reading it never waits for the tick thread.
    """

    def __init__(self, conn: Any, engine: Any, ended: threading.Event) -> None:
        self.conn = conn
        self.engine = engine
        self.ended = ended
        self.started = False
        self.gone = False  # the client's end of the pipe is closed

    def run(self) -> None:
        conn, engine = self.conn, self.engine
        shown = None
        stopped_told = False
        next_push = 0.0
        try:
            while not self.ended.is_set():
                if conn.poll(PUSH_EVERY):
                    self.handle(conn.recv())
                now = time.monotonic()
                if now >= next_push:
                    next_push = now + PUSH_EVERY
                    snap = engine.snapshot()
                    if snap is not shown:
                        shown = snap
                        conn.send(("snap", snap))
                if self.started and not stopped_told and not engine.running:
                    stopped_told = True  # the loop ended by itself (a port lost, an error)
                    conn.send(("snap", engine.snapshot()))
                    conn.send(("ended", engine.error))
        except (EOFError, OSError):
            self.gone = True  # the client exited, crashed or was killed
        finally:
            self.ended.set()

    def handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "submit":
            _, request, command = msg
            try:
                reply = ("seq", request, self.engine.submit(command))
            except Exception as err:  # noqa: BLE001  a refused command is a line, not a crash
                reply = ("refused", request, " ".join(str(err).split()) or type(err).__name__)
            self.conn.send(reply)
        elif kind == "start":
            if not self.started:
                self.started = True
                self.engine.start()
        elif kind == "close":
            self.ended.set()


def _send_quietly(conn: Any, msg: tuple) -> None:
    with contextlib.suppress(OSError, EOFError, ValueError):  # the client is gone
        conn.send(msg)
