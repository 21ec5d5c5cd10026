"""The OSC listener: a UDP socket read by a thread that only parses and submits.

It runs in the engine's process, beside the tick thread. The thread blocks in ``recv``
(which releases the GIL), turns each datagram into commands (addresses.py) and hands them
to ``engine.submit``, which only queues them: it never waits for the engine, and a bad
datagram is counted, never raised. Whether parsing a flood here steals the tick thread's
GIL was measured, not assumed: bench/osc_flood.py (BENCHMARKS.md, "OSC").
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from livegen.errors import LivegenError
from livegen.osc.addresses import Counts, commands

MAX_DATAGRAM = 65536
RCVBUF = 1 << 20
POLL = 0.25  # seconds between looks at the stop flag while no datagram comes


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
    sock.settimeout(POLL)
    return sock


class Receiver:
    """Reads ``sock`` in a thread of its own until :meth:`close`; each command to ``submit``."""

    def __init__(self, sock: socket.socket, submit: Callable[[Any], Any], counts: Counts) -> None:
        self.sock, self.submit, self.counts = sock, submit, counts
        self.address = sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livegen-osc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        sock, counts, submit = self.sock, self.counts, self.submit
        while not self._stop.is_set():
            try:
                dgram = sock.recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                break  # the socket was closed under us
            for cmd in commands(dgram, counts):
                try:
                    submit(cmd)
                    counts.received += 1
                except Exception:  # noqa: BLE001  the engine refused it: counted, not fatal
                    counts.ignore("bad_value")

    def close(self) -> None:
        """Stop reading and free the port (never raises)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2 * POLL)
        with contextlib.suppress(OSError):
            self.sock.close()
