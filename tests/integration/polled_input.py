"""Record a MIDI input by polling rtmidi's queue from a thread, never with a Python callback.

A callback runs on JACK's process thread and must take the GIL first; while another thread
of the same process holds it (the peer's main thread spinning to send on time, a busy
machine), jackd misses cycles and their events are lost: 2,607-3,360 of 6,000 received with
two busy threads, against all 6,000 by polling (see test_ports.py). A harness that loses a
note-off reports a note livegen left sounding when it did not.

Stamps (``time.perf_counter``, CLOCK_MONOTONIC, comparable across processes): rtmidi's delta
times summed, kept within what the polls prove (after the last empty poll, before the poll
that returned the message), as livegen's own input does.
"""

from __future__ import annotations

import threading
import time

POLL = 0.0005  # seconds between polls of an empty queue


class PolledInput:
    """``received``: ``(stamp, bytes)`` of every message, in order; ``stop()`` takes the rest."""

    def __init__(self, midi_in) -> None:
        self.midi_in = midi_in
        self.received: list[tuple[float, list[int]]] = []
        self._stop = threading.Event()
        self._last: float | None = None
        self._floor = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="polled-input", daemon=True)

    def start(self) -> PolledInput:
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, list[int]]]:
        self._stop.set()
        self._thread.join(2.0)
        self._drain()
        return self.received

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._drain():
                time.sleep(POLL)

    def _drain(self) -> int:
        get, stamp, append = self.midi_in.get_message, time.perf_counter, self.received.append
        count = 0
        while True:
            before = stamp()
            item = get()
            if item is None:
                self._floor = before
                return count
            data, delta = item
            now = stamp()
            last = self._last
            est = now if last is None else min(max(last + delta, self._floor), now)
            self._last = est
            append((est, data))
            count += 1
