"""``--osc-reply HOST:PORT``: the session's main figures sent back over OSC a few times a second.

A thread of the engine's process reads the latest snapshot (a reference read; it never
waits for the tick thread) and sends one bundle of messages on the same addresses as the
controls where there is one (``/livegen/temperature``, ``/livegen/mode``...), so a
TouchOSC fader follows a change made on the panel or by a knob.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import build_msg

from livegen.live_config import host_port
from livegen.osc.addresses import PREFIX
from livegen.osc.receiver import OscError

EVERY = 0.25  # seconds between replies: 4 a second, as fast as the panel redraws


def figures(snap: Any) -> list[tuple[str, Any]]:
    """The figures sent, as (name, value); the address is ``/livegen/<name>``."""
    return [
        ("tick", int(snap.tick)),
        ("bar", snap.position()),
        ("bpm", float(snap.bpm)),
        ("mode", snap.mode),
        ("phase", snap.phase),
        ("temperature", float(snap.temperature)),
        ("model", snap.model),
        ("open_notes", len(snap.open_notes)),
        ("late_ticks", int(snap.late_ticks)),
        ("osc_ignored", sum(n for _, n in snap.osc_ignored)),
    ]


def bundle(snap: Any) -> bytes:
    builder = OscBundleBuilder(IMMEDIATELY)
    for name, value in figures(snap):
        builder.add_content(build_msg(PREFIX + name, value))
    return builder.build().dgram


class Reply:
    """Sends :func:`bundle` of ``snapshot()`` to ``host:port`` every :data:`EVERY` seconds."""

    def __init__(self, target: str, snapshot: Callable[[], Any]) -> None:
        host, port = host_port(target)
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as err:
            raise OscError(f"--osc-reply {target!r}: no such host ({err})") from None
        self.target = info[4]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.snapshot = snapshot
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livegen-osc-reply", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(EVERY):
            # Nobody listening is no error (UDP): the figures are simply lost.
            with contextlib.suppress(OSError):
                self.sock.sendto(bundle(self.snapshot()), self.target)
                self.sent += 1

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2 * EVERY)
        with contextlib.suppress(OSError):
            self.sock.close()
