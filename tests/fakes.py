"""Fakes for unit tests of the live engine: ports that record, a manual clock.

These are not the real thing: integration tests under tests/integration use real ports.
"""

from __future__ import annotations

from collections import deque

import mido


class FakePorts:
    """Records what is sent; input is pushed with ``feed``; ``lose()`` makes it vanish.

    Input waits in a bounded queue that drops the newest when full and counts each loss
    in ``dropped`` (the real ports can only tell that their queue was found full: any
    change of ``dropped`` means input was lost, which is all the engine relies on).
    """

    def __init__(self, queue_size: int = 4096):
        self.queue_size = max(1, queue_size)
        self._queue: deque[tuple[float, mido.Message]] = deque()
        self.dropped = 0
        self.sent: list[mido.Message] = []
        self.panics = 0
        self.is_alive = True
        self.fail_sends = False
        self.info = None

    def feed(self, msg: mido.Message, stamp: float = 0.0) -> None:
        if len(self._queue) < self.queue_size:
            self._queue.append((stamp, msg))
        else:
            self.dropped += 1

    def drain(self):
        out = list(self._queue)
        self._queue.clear()
        return out

    def send(self, msg: mido.Message) -> None:
        if self.fail_sends:
            raise OSError("port gone")
        self.sent.append(msg)

    def panic(self) -> int:
        self.panics += 1
        return 32

    def alive(self) -> bool:
        return self.is_alive

    def lose(self) -> None:
        self.is_alive = False
        self.fail_sends = True

    def __repr__(self) -> str:
        return "FakePorts()"


def sounding(messages) -> set[tuple[int, int]]:
    """(channel, pitch) left on after replaying ``messages`` (note-on count must match)."""
    on: dict[tuple[int, int], int] = {}
    for m in messages:
        if m.type == "note_on" and m.velocity > 0:
            on[(m.channel, m.note)] = on.get((m.channel, m.note), 0) + 1
        elif m.type in ("note_on", "note_off"):
            key = (m.channel, m.note)
            if on.get(key):
                on[key] -= 1
                if not on[key]:
                    del on[key]
    return set(on)
