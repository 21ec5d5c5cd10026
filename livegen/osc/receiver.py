"""The OSC listener: a process of its own that parses datagrams and forwards only commands.

Parsing in the engine's process was measured to cost the tick thread its GIL: a flood of
10,000 bad datagrams a second doubled the step's p99 and made ticks late
(bench/osc_flood.py, BENCHMARKS.md "OSC"). So the socket is bound here (a taken port fails
when the session opens, in one line) and handed to a child process (``python -m
livegen.osc.receiver``) that reads it, turns each datagram into commands (addresses.py)
and sends over a pipe only the commands, and the counts of what it ignored at most
:data:`COUNTS_EVERY`. A thread of the engine's process blocks on that pipe (releasing the
GIL) and hands each command to ``engine.submit``, which only queues it: it never waits for
the engine. The child ends when the pipe closes, however the engine's process ended. It runs at a
lower priority (nice 10): under a flood it drops datagrams rather than take the core the
tick thread needs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from livegen.errors import LivegenError
from livegen.osc.addresses import Counts, commands

MAX_DATAGRAM = 65536
RCVBUF = 1 << 20
COUNTS_EVERY = 0.1  # seconds: the child's counts reach the snapshot at most this late
START_TIMEOUT = 10.0  # seconds for the child to say it listens


class OscError(LivegenError):
    """The OSC listener or reply address cannot be used (a port in use, a bad host)."""


def bind(host: str, port: int) -> socket.socket:
    """A UDP socket bound to ``host:port``; :class:`OscError` in one line when it cannot be."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise OscError(f"--osc-host {host!r}: no such address ({err}); try 127.0.0.1") from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    # Room for a burst while the GIL is elsewhere (the kernel caps it at net.core.rmem_max).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        why = err.strerror or str(err)
        raise OscError(
            f"cannot listen for OSC on {host}:{port}: {why}; choose another port with --osc PORT"
        ) from None
    return sock


class Receiver:
    """The listening child for ``sock`` and the thread that submits what it forwards.

    ``submit`` is ``engine.submit``; ``counts`` (read by the snapshot) follows the child's.
    """

    def __init__(self, sock: socket.socket, submit: Callable[[Any], Any], counts: Counts) -> None:
        self.submit, self.counts = submit, counts
        self.address = sock.getsockname()[:2]
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])  # this livegen, wherever it lives
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        fds = (sock.fileno(), theirs.fileno())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livegen.osc.receiver", *map(str, fds)],
            pass_fds=fds,
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        sock.close()  # the child holds it now: the port is freed when the child ends
        self._pipe = ours  # shut down by close(): the child and the thread read end of file
        self._conn = Connection(os.dup(ours.fileno()))
        self._thread = threading.Thread(target=self._forward, name="livegen-osc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _forward(self) -> None:
        conn, counts = self._conn, self.counts
        try:
            while True:
                kind, value = conn.recv()
                if kind == "counts":
                    counts.take(value)
                    continue
                for cmd in value:
                    try:
                        self.submit(cmd)
                        counts.received += 1
                    except Exception:  # noqa: BLE001  the engine refused it: counted
                        counts.refuse()
        except (EOFError, OSError):
            pass  # closed, or the child ended

    def close(self) -> None:
        """Stop the child and free the port (never raises)."""
        with contextlib.suppress(OSError):
            self._pipe.shutdown(socket.SHUT_RDWR)  # the child reads end of file and exits
        try:
            self.process.wait(2.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._thread.is_alive():
            self._thread.join(1.0)
        with contextlib.suppress(OSError):
            self._conn.close()
            self._pipe.close()


def listen(sock: socket.socket, conn: Connection) -> None:
    """The child's loop: datagrams in, commands and counts out, until the pipe closes."""
    counts = Counts()
    sock.setblocking(False)
    shown, next_counts = counts.ignored, 0.0  # the figures last sent, and when next
    while True:
        ready, _, _ = select.select([sock, conn], [], [], COUNTS_EVERY)
        if conn in ready:
            return  # the engine's side closed (or sent anything): the session ends
        out: list = []
        with contextlib.suppress(BlockingIOError, InterruptedError):
            for _ in range(1024):  # what has arrived, in one batch, then a look at the pipe
                out += commands(sock.recv(MAX_DATAGRAM), counts)
        if out:
            conn.send(("commands", out))
        now = time.monotonic()
        if counts.ignored != shown and now >= next_counts:
            shown, next_counts = counts.ignored, now + COUNTS_EVERY
            conn.send(("counts", shown))


def main(argv: list[str]) -> None:
    # Ctrl-C reaches the whole process group; what it means is the client's to decide.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Under a flood the listener must lose datagrams, not the tick thread its core.
    os.nice(10)
    sock_fd, conn_fd = map(int, argv)
    sock = socket.socket(fileno=sock_fd)
    conn = Connection(conn_fd)
    with contextlib.suppress(EOFError, OSError, BrokenPipeError):
        listen(sock, conn)


if __name__ == "__main__":
    main(sys.argv[1:])
