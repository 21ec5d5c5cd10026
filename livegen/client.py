"""A live session's engine in a process of its own, and the client the panel and ``run`` use.

With the panel and the tick thread in one interpreter, every redraw held the GIL the engine
needed: with the panel open the step's p99 went from 1-3 ms to 6-16 ms and ticks were late.
Now :meth:`EngineClient.open` starts :func:`livegen.server.serve` in a child process (the
``spawn`` context: a fresh interpreter that inherits none of this one's threads) and the
client only sends commands and reads snapshots, like SuperCollider's language and server
(style.md). Nothing the client does, draw, load, crash or hang, can delay a tick.

Why a pipe (a ``multiprocessing`` socket pair), not shared memory:

- what crosses is small and infrequent: a command (a frozen value of a few fields) per key
  press, and a snapshot (a few KB pickled) pushed at most 20 times a second. Pickling one
  costs tens of microseconds in the engine's serving thread, far from a tick's budget;
  shared memory would save that and nothing else.
- the pipe frames and orders messages, so commands arrive whole and in order, and replies
  (a command's sequence number) come back on the same channel; shared memory would need a
  seqlock or a lock held across processes, and a writer that crashes holding it.
- above all, a pipe reports its peer's death: when the client exits, crashes or is
  SIGKILLed, the kernel closes its end and the engine reads end of file, then ends every
  note and exits. Shared memory would need a heartbeat to notice the same, and would say
  it late. Likewise the client sees end of file the moment the engine's process dies.

The client's reader thread keeps the latest snapshot, so :meth:`EngineClient.snapshot` never
blocks. :meth:`submit` waits for the engine's sequence number (a round trip of well under
a millisecond), so ``snapshot().applied >= seq`` tells when a command has taken effect.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import itertools
import multiprocessing
import signal
import threading
from typing import Any

from livegen.errors import EngineError, LivegenError
from livegen.server import Failure, Hello, Opener, run_engine_process

ANSWER_TIMEOUT = 2.0  # seconds a command may wait for its sequence number
CLOSE_TIMEOUT = 5.0  # seconds for the engine to end every note and exit before SIGTERM


class RemoteTraceback(Exception):
    """The engine process's traceback, chained under an error raised again in the client."""

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


class EngineClient:
    """The engine seen from another process: the surface the panel and ``livegen run`` use.

    ``submit(command) -> int``, ``snapshot()``, ``start()``, ``close()``, ``wait(timeout)``,
    ``running``, ``error``, and ``hello`` (ports, notices, model path) from the opening.
    Build it with :meth:`open`.
    """

    def __init__(self, process: Any, conn: Any, hello: Hello) -> None:
        from livegen.snapshot import Snapshot

        self.process = process
        self.hello = hello
        self._conn = conn
        self._send_lock = threading.Lock()
        self._requests = itertools.count(1)
        self._replies: dict[int, list] = {}  # request -> [event, reply]
        self._replies_lock = threading.Lock()
        self._snap: Any = Snapshot()
        self._started = False
        self._ended = threading.Event()  # the engine loop stopped (by itself, or closed)
        self._bye = threading.Event()  # the engine said goodbye: every note is off
        self._gone = threading.Event()  # the pipe is closed
        self._error: str | None = None
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="livegen-client", daemon=True)
        self._reader.start()

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, cfg: Any, *, start_jack: bool = False, opener: Opener | None = None):
        """Start the engine's process and open the session there; returns once it is open.

        An error opening the session (no port, a bad checkpoint: a
        :class:`~livegen.errors.LivegenError`) is raised here again, of the same class and
        with the same one line, so the CLI reports it as before.
        """
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe(duplex=True)
        process = ctx.Process(
            target=run_engine_process,
            args=(theirs, cfg, start_jack, opener),
            name="livegen-engine",
            daemon=True,  # a backstop: multiprocessing terminates it if this process exits
        )
        process.start()
        theirs.close()  # only the child holds its end now, so its death is our end of file
        try:
            msg = _first_message(ours, process)
        except BaseException:
            _end_process(process)
            ours.close()
            raise
        if msg[0] == "failed":
            process.join(CLOSE_TIMEOUT)
            ours.close()
            raise _raised_again(msg[1])
        return cls(process, ours, msg[1])

    # ---- the engine's surface ------------------------------------------------------------
    def submit(self, command: Any) -> int:
        """Send a command (applied at the engine's next tick); its sequence number.

        ValueError (one line) when the engine refuses it; :class:`EngineError` when the
        engine is gone or does not answer.
        """
        request = next(self._requests)
        slot = [threading.Event(), None]
        with self._replies_lock:
            self._replies[request] = slot
        try:
            self._send(("submit", request, command))
            if not slot[0].wait(ANSWER_TIMEOUT):
                raise EngineError(self._error or "the engine did not answer")
        finally:
            with self._replies_lock:
                self._replies.pop(request, None)
        kind, value = slot[1]
        if kind == "refused":
            raise ValueError(value)
        if kind == "gone":
            raise EngineError(value)
        return value

    def snapshot(self) -> Any:
        """The latest snapshot the engine pushed (never blocks)."""
        return self._snap

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._send(("start",))

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """End the session: the engine ends every note, closes its ports and exits."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(EngineError):  # gone already
            self._send(("close",))
        if not self._bye.wait(timeout):
            self._gone.wait(0.1)
        self.process.join(timeout)
        _end_process(self.process)
        self._conn.close()
        self._ended.set()
        self._reader.join(1.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the engine loop ends (or its process dies); True if it has."""
        if not self._started and not self._gone.is_set():
            return True
        return self._ended.wait(timeout)

    @property
    def running(self) -> bool:
        return self._started and not self._ended.is_set()

    @property
    def error(self) -> str | None:
        return self._error or self._snap.error

    # ---- the pipe ------------------------------------------------------------------------
    def _send(self, msg: tuple) -> None:
        try:
            with self._send_lock:
                self._conn.send(msg)
        except (OSError, ValueError):
            raise EngineError(self._error or "the engine stopped") from None

    def _read(self) -> None:
        conn = self._conn
        try:
            while True:
                msg = conn.recv()
                kind = msg[0]
                if kind == "snap":
                    self._snap = msg[1]
                elif kind in ("seq", "refused"):
                    self._answer(msg[1], (kind, msg[2]))
                elif kind == "ended":
                    self._error = msg[1] or self._error
                    self._ended.set()
                elif kind == "bye":
                    self._snap = msg[1]
                    self._bye.set()
        except (EOFError, OSError):
            pass
        finally:
            self._lost()

    def _answer(self, request: int, reply: tuple) -> None:
        with self._replies_lock:
            slot = self._replies.get(request)
        if slot is not None:
            slot[1] = reply
            slot[0].set()

    def _lost(self) -> None:
        """The pipe closed: after a goodbye that is the end; otherwise the engine died."""
        self._gone.set()
        if not self._bye.is_set() and not self._closed:
            self._error = f"the engine stopped: {_why(self.process)}"
            self._snap = dataclasses.replace(self._snap, running=False, error=self._error)
        self._ended.set()
        with self._replies_lock:
            for slot in self._replies.values():
                slot[1] = ("gone", self._error or "the engine stopped")
                slot[0].set()


def _first_message(conn: Any, process: Any) -> tuple:
    """The hello or the failure, however long the model takes to load; EOF if it died."""
    while not conn.poll(0.1):
        if not process.is_alive():
            if conn.poll(0):
                break
            raise EngineError(f"the engine could not start: {_why(process)}")
    try:
        return conn.recv()
    except EOFError:
        raise EngineError(f"the engine could not start: {_why(process)}") from None


def _why(process: Any) -> str:
    process.join(0.5)
    code = process.exitcode
    if code is None:
        return "its process closed the connection"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"its process was killed ({name})"
    return f"its process exited with status {code}"


def _raised_again(failure: Failure) -> BaseException:
    """The engine side's error as this side raises it: the same class when it can be made."""
    err: BaseException | None = None
    try:
        kind = getattr(importlib.import_module(failure.module), failure.name)
    except (ImportError, AttributeError):
        kind = None
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            err = kind(failure.line)
        except Exception:  # noqa: BLE001  a constructor that wants more than a line
            err = None
    if err is None:
        err = (
            LivegenError(failure.line)
            if failure.module.startswith("livegen")
            else EngineError(f"the engine could not start: {failure.line}")
        )
    err.__cause__ = RemoteTraceback(failure.trace)
    return err


def _end_process(process: Any) -> None:
    """SIGTERM (the engine ends every note), then SIGKILL if it does not exit."""
    if process.is_alive():
        process.terminate()
        process.join(CLOSE_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join(1.0)
